"""The faults. Each one proves it happened before it counts (the pid is gone from /proc, the port is closed,
PostgreSQL refuses connections, the relay's transaction held claimed outbox rows, the consumer had committed to
the database and not to Kafka), then restores what it broke and measures how long the platform took to recover.

Catching a process mid-transaction: SIGSTOP freezes it, PostgreSQL's catalogue says what its own backends
(matched by their client ports, from /proc) hold at that instant; if it is the moment we want, SIGKILL, else
SIGCONT and try again a few milliseconds later. There is no race: a stopped process cannot commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from chaos.load import Answers, MediaLoad, ReportLoad
from chaos.stack import Stack, port_open, tcp_ports_to
from paht_shared.contracts import topics
from paht_shared.envelope import Envelope
from paht_shared.kafka import describe_partitions, make_producer
from paht_shared.testing.pii import caller_headers, sample_report

RECOVERY_LIMIT_SECONDS = 120.0
CATCH_LIMIT_SECONDS = 30.0  # how long a fault may try to catch its moment before it gives up (and fails)
POISON_TOPIC = topics.REPORT_SUBMITTED
ROUTING_GROUP = "routing.assign"  # routing's consumer group and inbox handler for report.submitted.v1
PG_PORT_QUERY = "SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])"


class FaultNotProved(AssertionError):
    """The fault could not be shown to have happened: the run proves nothing about it."""


@dataclass
class Fault:
    """One injected fault: what it was, the evidence that it happened, and how the platform took it."""

    name: str
    proof: str
    began: float  # time.monotonic()
    restored: float  # the process or server is back (restart done)
    recovered_in: float | None = None  # restored -> healthy and caught up; None: not within the limit
    same_processes: bool | None = None  # dependency faults: no service process died or was restarted
    answers: dict[str, int] = field(default_factory=dict)  # report submissions answered between began and restored


class Injector:
    def __init__(self, stack: Stack, http: aiohttp.ClientSession, reports: ReportLoad, media: MediaLoad) -> None:
        self.stack = stack
        self.http = http
        self.reports = reports
        self.media = media
        self.faults: list[Fault] = []
        self.poison_values: list[bytes] = []  # the record values injected as poison
        self.burst_size = 20
        self.same_key_bursts: list[tuple[int, int]] = []  # per burst: 201 answers, distinct report ids they named
        self.same_key_answers: Answers = Answers()
        self.lost_brokers: set[int] = set()  # node ids killed by broker_loss: the next one kills another

    # ------------------------------------------------------------------ helpers

    @contextlib.asynccontextmanager
    async def db(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(self.stack.admin_dsn, timeout=5)
        try:
            yield conn
        finally:
            await conn.close()

    async def _finish(
        self, name: str, proof: str, began: float, restored: float, pids: dict[str, int | None] | None = None
    ) -> Fault:
        fault = Fault(name, proof, began, restored)
        fault.answers = dict(
            sorted(
                Answers([a for a in self.reports.answers.log if began <= a.answered <= restored]).by_status().items()
            )
        )
        fault.recovered_in = await self._recovery(restored)
        if pids is not None:
            fault.same_processes = self.stack.service_pids() == pids
        self.faults.append(fault)
        print(
            f"  {name:<34} recovered in {fault.recovered_in if fault.recovered_in is not None else 'never':>6} s  "
            f"{proof}",
            flush=True,
        )
        return fault

    async def _recovery(self, restored: float) -> float | None:
        """Seconds from `restored` until every /readyz is green, a report asked after it got its 201, and every
        report acknowledged before it is `assigned` on intake's tracking model (the whole loop works again)."""
        before = [uuid.UUID(i) for i in self.reports.acknowledged]
        while time.monotonic() - restored < RECOVERY_LIMIT_SECONDS:
            with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
                if (
                    not await self.stack.unready(self.http)
                    and self.reports.answers.first_after(restored) is not None
                    and await self._all_assigned(before)
                ):
                    return round(time.monotonic() - restored, 1)
            await asyncio.sleep(0.25)
        return None

    async def _all_assigned(self, ids: list[uuid.UUID]) -> bool:
        async with self.db() as conn:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM unnest($1::uuid[]) AS i(id) LEFT JOIN intake.reports r USING (id) "
                "WHERE r.status IS DISTINCT FROM 'assigned'",
                ids,
            )
        return bool(waiting == 0)

    async def _restart(self, name: str) -> None:
        await self.stack.services_up()

    # ------------------------------------------------------------------ process kills

    async def kill_intake(self) -> Fault:
        """kill -9 intake's API while citizens submit: their clients retry with the same key."""
        name = "intake-api"
        began = time.monotonic()
        pid = await asyncio.to_thread(self.stack.kill, name)  # returns once /proc has no such process
        if _pid_alive(pid):
            raise FaultNotProved(f"{name} pid {pid} still alive")
        await asyncio.sleep(1.0)  # clients meet a closed port meanwhile
        refused = sum(1 for a in self.reports.answers.log if a.asked >= began and a.status == 0)
        await self._restart(name)
        return await self._finish(
            "kill -9 intake-api", f"pid {pid} gone; {refused} submissions refused, retried", began, time.monotonic()
        )

    async def kill_relay_mid_batch(self, name: str = "intake-relay", schema: str = "intake") -> Fault:
        """kill -9 the outbox relay while its transaction holds claimed, unpublished rows."""
        began = time.monotonic()
        async with self.db() as conn:
            pid, xid, detail = await self._catch(
                conn,
                name,
                f"SELECT a.backend_xid::text AS xid, (SELECT count(*) FROM {schema}.outbox o "
                "WHERE o.published_at IS NULL AND o.parked_at IS NULL AND o.xmax::text = a.backend_xid::text) AS n "
                "FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                f"WHERE a.client_port = ANY($1::int[]) AND l.relation = '{schema}.outbox'::regclass "
                "AND l.mode = 'RowShareLock' AND l.granted AND a.backend_xid IS NOT NULL",
            )
            outcome = await _xact_outcome(conn, xid)
        await self._restart(name)
        return await self._finish(
            f"kill -9 {name} mid-batch",
            f"pid {pid} killed holding {detail} claimed unpublished outbox rows in xact {xid} ({outcome})",
            began,
            time.monotonic(),
        )

    async def kill_consumer_before_commit(self, name: str = "routing-consume") -> Fault:
        """kill -9 routing's consumer inside a handler's transaction: inbox row inserted, not committed."""
        began = time.monotonic()
        async with self.db() as conn:
            pid, xid, _ = await self._catch(
                conn,
                name,
                "SELECT a.backend_xid::text AS xid, 1 AS n FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "WHERE a.client_port = ANY($1::int[]) AND l.relation = 'routing.inbox'::regclass "
                "AND l.mode = 'RowExclusiveLock' AND l.granted AND a.backend_xid IS NOT NULL",
            )
            outcome = await _xact_outcome(conn, xid)
        await self._restart(name)
        return await self._finish(
            "kill -9 routing-consume before commit",
            f"pid {pid} killed inside handler xact {xid} ({outcome})",
            began,
            time.monotonic(),
        )

    async def _catch(self, conn: asyncpg.Connection, name: str, sql: str) -> tuple[int, str, int]:
        """Freeze `name` until `sql` (given its backends' client ports) finds the moment; kill it then.

        Returns the pid, the transaction id the query found and its count column."""
        deadline = time.monotonic() + CATCH_LIMIT_SECONDS
        tries = 0
        while time.monotonic() < deadline:
            pid = self.stack.pid(name)
            if pid is None:
                raise FaultNotProved(f"{name} is not running")
            tries += 1
            os.kill(pid, signal.SIGSTOP)
            try:
                row = await conn.fetchrow(sql, list(tcp_ports_to(pid, self.stack.cfg.pg_port)))
                if row is not None and row["n"] > 0:
                    await asyncio.to_thread(self.stack.kill, name)
                    return pid, str(row["xid"]), int(row["n"])
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            await asyncio.sleep(random.uniform(0.002, 0.03))  # noqa: S311 - jitter, not cryptography
        raise FaultNotProved(f"{name}: the moment was not caught in {tries} tries")

    async def kill_consumer_after_commit(self, name: str = "routing-consume") -> Fault:
        """kill -9 routing's consumer after handlers committed to the database and before the offset commit.

        It is first frozen for a moment so that a backlog builds up and the next poll brings a batch; then frozen
        again and again until routing's inbox holds an event handled since the thaw whose offset the group has not
        committed."""
        began = time.monotonic()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.stack.bootstrap, client_id="chaos-offsets")
        reader = AIOKafkaConsumer(bootstrap_servers=self.stack.bootstrap, enable_auto_commit=False, group_id=None)
        await admin.start()
        await reader.start()
        try:
            async with self.db() as conn:
                _, proof = await self._catch_uncommitted(conn, name, admin, reader)
        finally:
            await admin.close()
            await reader.stop()
        await self._restart(name)
        return await self._finish("kill -9 routing-consume after commit", proof, began, time.monotonic())

    async def _catch_uncommitted(
        self, conn: asyncpg.Connection, name: str, admin: AIOKafkaAdminClient, reader: AIOKafkaConsumer
    ) -> tuple[int, str]:
        deadline = time.monotonic() + CATCH_LIMIT_SECONDS
        tries = 0
        while time.monotonic() < deadline:
            pid = self.stack.pid(name)
            if pid is None:
                raise FaultNotProved(f"{name} is not running")
            os.kill(pid, signal.SIGSTOP)
            await asyncio.sleep(1.5)  # a backlog for the next poll
            thawed = await conn.fetchval("SELECT clock_timestamp()")
            os.kill(pid, signal.SIGCONT)
            for _ in range(6):
                tries += 1
                await asyncio.sleep(random.uniform(0.01, 0.06))  # noqa: S311 - jitter, not cryptography
                os.kill(pid, signal.SIGSTOP)
                try:
                    found = await _handled_not_committed(conn, admin, reader, thawed)
                    if found:
                        await asyncio.to_thread(self.stack.kill, name)
                        where = ", ".join(f"p{p}: {n} past offset {o}" for p, (n, o) in sorted(found.items()))
                        total = sum(n for n, _ in found.values())
                        return pid, f"pid {pid} killed with {total} events in the inbox, offsets uncommitted ({where})"
                finally:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGCONT)
        raise FaultNotProved(f"{name}: no kill between database and offset commit in {tries} tries")

    # ------------------------------------------------------------------ dependency outages

    async def kafka_outage(self, how: str, down: float) -> Fault:
        """Stop the broker (SIGTERM: a clean shutdown, or SIGKILL) for `down` seconds, then start it again."""
        pids = self.stack.service_pids()
        began = time.monotonic()
        killed = await asyncio.to_thread(self.stack.stop_kafka if how == "SIGTERM" else self.stack.kill_kafka)
        # after SIGKILL the JVM's main thread is a zombie at once; its other threads and listening socket go
        # while the kernel unmaps the heap, a moment later
        for pid in killed:
            await _until_gone(pid, self.stack.kafka_port_open)
        alive = [pid for pid in killed if _pid_alive(pid)]
        if self.stack.kafka_port_open() or alive:
            raise FaultNotProved(f"Kafka pids alive: {alive}, a port open: {self.stack.kafka_port_open()}")
        await asyncio.sleep(down)
        await asyncio.to_thread(self.stack.start_kafka)
        return await self._finish(
            f"Kafka {how}, down {down:.0f} s",
            f"pid {', '.join(map(str, killed))} gone, port {', '.join(str(n.port) for n in self.stack.kafka_nodes)} "
            "closed",
            began,
            time.monotonic(),
            pids,
        )

    async def broker_loss(self, down: float) -> Fault:
        """kill -9 one broker of the three-broker cluster under load (the one leading most partitions of the
        report stream, and not one killed before), keep it away `down` seconds, start it again and wait until it
        is back in every in-sync replica set. Proof: the partitions it led moved to the other brokers."""
        nodes = {n.node_id: n for n in self.stack.kafka_nodes}
        if len(nodes) < 3:
            raise FaultNotProved(f"a broker loss needs the three-broker cluster, this one has {len(nodes)}")
        pids = self.stack.service_pids()
        led = await _leaders(self.stack.bootstrap)
        candidates = [i for i in nodes if i not in self.lost_brokers] or list(nodes)
        victim = max(candidates, key=lambda i: sum(1 for leader in led.values() if leader == i))
        was_led = sorted(p for p, leader in led.items() if leader == victim)
        began = time.monotonic()
        pid = await asyncio.to_thread(self.stack.kill_broker, nodes[victim])
        await _until_gone(pid, lambda: port_open(nodes[victim].port))
        if _pid_alive(pid) or port_open(nodes[victim].port):
            raise FaultNotProved(f"broker {victim} pid {pid} or its port still there")
        self.lost_brokers.add(victim)
        moved: dict[int, int] = {}
        deadline = time.monotonic() + CATCH_LIMIT_SECONDS
        while time.monotonic() < deadline and len(moved) < len(was_led):
            # the admin client may still pick the dead broker for a request: ask again
            with contextlib.suppress(Exception):
                now_led = await _leaders(self.stack.bootstrap)
                moved = {p: now_led[p] for p in was_led if now_led.get(p, victim) not in (victim, -1)}
            await asyncio.sleep(0.2)
        if len(moved) < len(was_led):
            raise FaultNotProved(f"partitions {was_led} led by broker {victim}: only {moved} got a new leader")
        await asyncio.sleep(down)
        await asyncio.to_thread(self.stack.start_kafka)
        await _until_in_sync(self.stack.bootstrap, len(nodes))
        where = ", ".join(f"p{p}->{leader}" for p, leader in sorted(moved.items()))
        return await self._finish(
            f"kill -9 broker {victim} of 3, away {down:.0f} s",
            f"pid {pid} gone; its partitions of {topics.REPORT_SUBMITTED} moved ({where}); back in every ISR",
            began,
            time.monotonic(),
            pids,
        )

    async def postgres_outage(self, down: float) -> Fault:
        """Stop PostgreSQL in immediate mode (a crash, for clients and recovery) for `down` seconds."""
        pids = self.stack.service_pids()
        began = time.monotonic()
        await asyncio.to_thread(self.stack.stop_postgres, "immediate")
        try:
            await asyncpg.connect(self.stack.admin_dsn, timeout=2)
        except OSError as exc:
            refused = type(exc).__name__
        else:
            raise FaultNotProved("PostgreSQL still accepts connections after the stop")
        await asyncio.sleep(down)
        await asyncio.to_thread(self.stack.start_postgres)
        restored = time.monotonic()
        window = Answers([a for a in self.reports.answers.log if began <= a.answered <= restored])
        return await self._finish(
            f"PostgreSQL immediate, down {down:.0f} s",
            f"connect: {refused}; intake answered {window.count(503)} × 503 (slowest {window.slowest(503):.1f} s)",
            began,
            restored,
            pids,
        )

    async def s3_outage(self, down: float) -> Fault:
        """Stop SeaweedFS while photos are uploaded; the media API must answer 503, not 500."""
        pids = self.stack.service_pids()
        began = time.monotonic()
        pid = await asyncio.to_thread(self.stack.stop_s3)
        await _until_gone(pid, self.stack.s3_port_open)
        if self.stack.s3_port_open() or _pid_alive(pid):
            raise FaultNotProved(f"S3 pid {pid} alive: {_pid_alive(pid)}, port open: {self.stack.s3_port_open()}")
        await asyncio.sleep(down)
        await asyncio.to_thread(self.stack.start_s3)
        restored = time.monotonic()
        window = Answers([a for a in self.media.answers.log if began <= a.answered <= restored])
        return await self._finish(
            f"S3 stopped, down {down:.0f} s",
            f"pid {pid} gone; uploads answered {dict(window.by_status())}",
            began,
            restored,
            pids,
        )

    async def stop_everything(self) -> Fault:
        """What `make stop` does, mid-stream (services, Kafka, S3, PostgreSQL), then everything started again."""
        began = time.monotonic()
        await asyncio.to_thread(self.stack.stop_everything)
        closed = {
            "intake": not port_open(self.stack.apis["intake"]),
            "kafka": not self.stack.kafka_port_open(),
            "postgres": not self.stack.pg_port_open(),
            "s3": not self.stack.s3_port_open(),
        }
        if not all(closed.values()):
            raise FaultNotProved(f"still open after the stop: {[k for k, v in closed.items() if not v]}")
        await asyncio.sleep(2.0)
        await asyncio.to_thread(self.stack.start_servers)
        await self.stack.services_up()
        return await self._finish(
            "stop everything, start again", "intake, Kafka, PostgreSQL, S3 ports all closed", began, time.monotonic()
        )

    # ------------------------------------------------------------------ bad input

    async def poison(self, count: int = 10) -> Fault:
        """Put `count` records on report.submitted.v1 that no consumer can read: half not an envelope at all, half
        an envelope of a type nobody knows. Each must end in the DLQ, once per subscribed handler."""
        began = time.monotonic()
        producer = make_producer(self.stack.bootstrap, "chaos-poison")
        await producer.start()
        try:
            for n in range(count):
                marker = uuid.uuid4().hex
                if n % 2 == 0:
                    value = f"chaos poison {marker}: not an envelope".encode()
                else:
                    value = Envelope(
                        event_type="chaos.poison", producer="chaos", correlation_id=marker, data={"marker": marker}
                    ).to_bytes()
                await producer.send_and_wait(POISON_TOPIC, value, key=marker.encode())
                self.poison_values.append(value)
        finally:
            await producer.stop()
        return await self._finish(
            f"{count} poison records", f"{count} acknowledged by the broker on {POISON_TOPIC}", began, time.monotonic()
        )

    async def same_key_burst(self) -> Fault:
        """`burst_size` submissions of one body with one Idempotency-Key at once: one report, one answer."""
        began = time.monotonic()
        caller = 9_500_000 + random.randrange(400_000)  # noqa: S311 - a test caller number
        headers = caller_headers(caller)
        body = sample_report(caller=caller)
        url = f"{self.stack.url('intake')}/api/v1/reports"
        ids: list[str] = []

        async def one() -> None:
            asked = time.monotonic()
            try:
                async with self.http.post(url, json=body, headers=headers) as resp:
                    payload = await resp.read()
                    self.same_key_answers.record(asked, resp.status)
                    if resp.status == 201:
                        ids.append(str(json.loads(payload)["id"]))
            except (aiohttp.ClientError, TimeoutError):
                self.same_key_answers.record(asked, 0)

        await asyncio.gather(*(one() for _ in range(self.burst_size)))
        self.same_key_bursts.append((len(ids), len(set(ids))))
        self.reports.acknowledged.update(dict.fromkeys(ids, headers["Idempotency-Key"]))
        return await self._finish(
            f"{self.burst_size} concurrent, one key",
            f"{len(ids)} × 201 naming {len(set(ids))} report(s)",
            began,
            time.monotonic(),
        )


async def _xact_outcome(conn: asyncpg.Connection, xid: str) -> str:
    """What became of the killed process's transaction: it must be aborted (never committed)."""
    deadline = time.monotonic() + 10
    status = "in progress"
    while time.monotonic() < deadline:
        # the cluster is young: the epoch is 0, so the 32-bit xid is the 64-bit one
        status = str(await conn.fetchval("SELECT pg_xact_status($1::text::xid8)", xid))
        if status != "in progress":
            break
        await asyncio.sleep(0.05)
    if status != "aborted":
        raise FaultNotProved(f"the killed process's transaction {xid} is {status}, not aborted")
    return status


async def _handled_not_committed(
    conn: asyncpg.Connection, admin: AIOKafkaAdminClient, reader: AIOKafkaConsumer, since: object
) -> dict[int, tuple[int, int]]:
    """Partitions of report.submitted.v1 with events routing handled (inbox, since `since`) at offsets its
    group has not committed: partition -> (how many, committed offset)."""
    committed = await admin.list_consumer_group_offsets(ROUTING_GROUP)
    parts = {tp: max(meta.offset, 0) for tp, meta in committed.items() if tp.topic == topics.REPORT_SUBMITTED}
    if not parts:
        return {}
    ends = await reader.end_offsets(list(parts))
    pending = {tp: (start, ends[tp]) for tp, start in parts.items() if ends[tp] > start}
    if not pending:
        return {}
    reader.assign(list(pending))
    for tp, (start, _) in pending.items():
        reader.seek(tp, start)
    by_event: dict[uuid.UUID, int] = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and [tp for tp, (_, end) in pending.items() if await reader.position(tp) < end]:
        for tp, records in (await reader.getmany(timeout_ms=200)).items():
            for record in records:
                if record.offset < pending[tp][1]:
                    with contextlib.suppress(ValueError):
                        by_event[Envelope.from_bytes(record.value or b"").event_id] = tp.partition
    if not by_event:
        return {}
    handled = await conn.fetch(
        "SELECT event_id FROM routing.inbox WHERE handler = $1 AND event_id = ANY($2::uuid[]) AND processed_at >= $3",
        ROUTING_GROUP,
        list(by_event),
        since,
    )
    found: dict[int, tuple[int, int]] = {}
    for row in handled:
        partition = by_event[row["event_id"]]
        count, _ = found.get(partition, (0, 0))
        found[partition] = (count + 1, parts[TopicPartition(topics.REPORT_SUBMITTED, partition)])
    return found


async def _leaders(bootstrap: str) -> dict[int, int]:
    """partition -> leader node id (-1: none) of the report stream, as the cluster sees it now."""
    return {p["partition"]: p["leader"] for p in await describe_partitions(bootstrap, POISON_TOPIC, 5000)}


async def _until_in_sync(bootstrap: str, replicas: int, limit: float = RECOVERY_LIMIT_SECONDS) -> None:
    """Wait until every partition of the report stream has all `replicas` in sync again (the returned broker
    caught up): only then may another broker die without taking a partition below min.insync.replicas."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if all(len(p["isr"]) >= replicas for p in await describe_partitions(bootstrap, POISON_TOPIC, 5000)):
                return
        await asyncio.sleep(0.5)
    raise FaultNotProved(f"the returned broker was not back in every ISR within {limit:.0f} s")


async def _until_gone(pid: int, port_open: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait (up to `limit` s) until the process and its listening port are both gone."""
    deadline = time.monotonic() + limit
    while (port_open() or _pid_alive(pid)) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling another process
        await asyncio.sleep(0.1)


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie is dead
