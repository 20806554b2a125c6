"""The agency connector against the real broker and a fake agency API.

The connector's contract with the platform is the agency's queue topic and a handful of HTTP calls (login,
accept, answer, the report view). The fake API below answers those calls the way routing does (same paths,
status codes and error codes) and records them, and can be told to fail: the real routing API would need
the whole assignment workflow behind every test, and the fake lets a test say exactly which call fails
when. What is under test is what the connector does with Kafka, the case folder and those answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer

from paht_shared.auth import Role, generate_signing_key, mint_token
from paht_shared.contracts import AgencyAssignmentV1
from paht_shared.envelope import Envelope
from paht_shared.kafka import topic_partitions
from paht_shared.testing.kafka import publish, running, wait_until
from paht_shared.web import error_body
from routing.connector import AccessRefused, AnswerSender, CaseFolder, agency_api, connector_workers
from routing.connector_config import ConnectorSettings

AGENCY = "SXD"
USERNAME = "sxd.ketnoi"
PASSWORD = "mat-khau-ket-noi-sxd-2026"  # noqa: S105 - the fake API's test account
WRONG_PASSWORD = "sai-mat-khau"  # noqa: S105 - what the test logs in with to be refused
NewTopic = Callable[..., Awaitable[str]]


class FakeAgencyApi:
    """Routing's agency API as far as the connector uses it, recording every call."""

    def __init__(self) -> None:
        self.signing_key = generate_signing_key()
        self.expires_in = 900
        self.tokens: dict[str, float] = {}  # token -> when it expires (time.monotonic())
        self.logins = 0
        self.failed_logins = 0
        self.refused_tokens = 0  # 401s answered to a call with a token
        self.accept_outage = 0  # the next N accepts answer 503
        self.answer_outage: Counter[str] = Counter()  # report id -> the next N answers of it answer 503
        self.accept_calls: list[str] = []
        self.accepted: Counter[str] = Counter()  # 200s, by report id
        self.answer_calls: list[str] = []
        self.answered: dict[str, str] = {}  # report id -> answer text
        self.app = web.Application()
        self.app.router.add_post("/api/v1/auth/login", self.login)
        self.app.router.add_post("/api/v1/work/reports/{id}/accept", self.accept)
        self.app.router.add_post("/api/v1/work/reports/{id}/answer", self.answer)
        self.app.router.add_get("/api/v1/work/reports/{id}", self.show)

    def static_token(self) -> str:
        """A token handed to the connector directly (CONNECTOR_TOKEN), valid for the test."""
        token = mint_token(self.signing_key, "sxd-dev", Role.OFFICER, AGENCY)
        self.tokens[token] = time.monotonic() + 3600
        return token

    def revoke_all(self) -> None:
        self.tokens.clear()

    async def login(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body != {"username": USERNAME, "password": PASSWORD}:
            self.failed_logins += 1
            return web.json_response(error_body("invalid_credentials", "Sai mật khẩu."), status=401)
        self.logins += 1
        token = mint_token(self.signing_key, USERNAME, Role.OFFICER, AGENCY, ttl_seconds=self.expires_in)
        self.tokens[token] = time.monotonic() + self.expires_in
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in, "role": "officer",
             "agency": AGENCY}
        )  # fmt: skip

    def _refused(self, request: web.Request) -> web.Response | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.tokens.get(token, 0.0) > time.monotonic():
            return None
        self.refused_tokens += 1
        return web.json_response(error_body("invalid_token", "Hết hạn."), status=401)

    async def accept(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        report_id = request.match_info["id"]
        self.accept_calls.append(report_id)
        if self.accept_outage > 0:
            self.accept_outage -= 1
            return web.json_response(error_body("unavailable", "Bảo trì."), status=503)
        if self.accepted[report_id]:
            return web.json_response(error_body("already_accepted", "Đã tiếp nhận."), status=409)
        self.accepted[report_id] += 1
        return web.json_response({"report_id": report_id, "status": "in_progress"})

    async def answer(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        report_id = request.match_info["id"]
        self.answer_calls.append(report_id)
        if self.answer_outage[report_id] > 0:
            self.answer_outage[report_id] -= 1
            return web.json_response(error_body("unavailable", "Bảo trì."), status=503)
        body = await request.json()
        if len(str(body.get("text", "")).strip()) < 20:
            return web.json_response(error_body("invalid", "Giá trị không hợp lệ.", "text"), status=422)
        if report_id in self.answered:
            return web.json_response(error_body("report_closed", "Đã kết thúc."), status=409)
        self.answered[report_id] = body["text"].strip()
        return web.json_response({"report_id": report_id, "status": "answered"})

    async def show(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        report_id = request.match_info["id"]
        return web.json_response({"report_id": report_id, "answer_text": self.answered.get(report_id)})


@pytest.fixture
async def fake_api() -> AsyncIterator[tuple[FakeAgencyApi, str]]:
    fake = FakeAgencyApi()
    server = TestServer(fake.app)
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


def settings_for(
    api_url: str, bootstrap: str, topic: str, case_dir: Path, group_id: str, **credentials: Any
) -> ConnectorSettings:
    return ConnectorSettings(
        agency=AGENCY.lower(),  # the code is upper-cased, as tokens and events carry it
        api_url=api_url,
        kafka_bootstrap=bootstrap,
        topic=topic,
        group_id=group_id,
        case_dir=case_dir,
        retry_backoff_seconds=0.05,
        max_backoff_seconds=0.2,
        answer_poll_seconds=0.1,
        **credentials,
    )


def assignment(agency: str = AGENCY) -> Envelope:
    now = datetime.now(UTC)
    return Envelope.of(
        AgencyAssignmentV1(
            report_id=uuid.uuid4(),
            tracking_code="PA-7K3M9Q2X",
            category="giao-thong",
            ward_code="31507",
            title="Ổ gà lớn trên đường Lê Lợi",
            agency_code=agency,
            agency_name="Sở Xây dựng",
            due_at=now + timedelta(days=14),
            triage=False,
            assigned_at=now,
        ),
        "routing",
        f"c-{uuid.uuid4().hex[:8]}",
    )


def report_id(envelope: Envelope) -> str:
    return str(envelope.data["report_id"])


async def put(bootstrap: str, topic: str, *envelopes: Envelope) -> None:
    for envelope in envelopes:  # keyed by report, as routing publishes them
        await publish(bootstrap, topic, [envelope.to_bytes()], key=report_id(envelope).encode())


@contextlib.asynccontextmanager
async def connector(settings: ConnectorSettings) -> AsyncIterator[None]:
    """The connector's two workers, as `python -m routing connector` runs them, for the block."""
    async with agency_api(settings) as api:
        intake, sender = connector_workers(settings, api)
        async with running(intake), running(sender):
            yield


async def offsets(bootstrap: str, topic: str, group_id: str) -> tuple[dict[int, int | None], dict[int, int]]:
    """The group's committed offset of each partition, and each partition's end offset."""
    partitions = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        committed = {tp.partition: await consumer.committed(tp) for tp in partitions}
        ends = {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()
    return committed, ends


async def all_committed(bootstrap: str, topic: str, group_id: str) -> bool:
    committed, ends = await offsets(bootstrap, topic, group_id)
    return all(committed[p] == end for p, end in ends.items() if end > 0)


def group() -> str:
    return f"agency-sxd-connector-{uuid.uuid4().hex[:8]}"


async def test_assignments_become_case_files_and_accepts_and_their_offsets_are_committed(
    fake_api: tuple[FakeAgencyApi, str], kafka_bootstrap: str, new_topic: NewTopic, tmp_path: Path
) -> None:
    """Three assignments: three case files, three accepts, offsets committed; then only new work."""
    fake, url = fake_api
    topic = await new_topic("agency.sxd", partitions=3)
    settings = settings_for(url, kafka_bootstrap, topic, tmp_path, group(), token=fake.static_token())
    first = [assignment() for _ in range(3)]
    await put(kafka_bootstrap, topic, *first)

    async with connector(settings):
        await wait_until(lambda: _true(len(fake.accepted) == 3), 30)
        await wait_until(lambda: all_committed(kafka_bootstrap, topic, settings.group_id), 10)

    cases = CaseFolder(tmp_path)
    for envelope in first:
        case = json.loads(cases.case_path(uuid.UUID(report_id(envelope))).read_text(encoding="utf-8"))
        assert case["report_id"] == report_id(envelope)
        assert case["title"] == "Ổ gà lớn trên đường Lê Lợi"
        assert case["event_id"] == str(envelope.event_id)
        assert case["report_url"] == f"{url}/api/v1/work/reports/{report_id(envelope)}"
    assert not [p for p in cases.inbox.iterdir() if p.name.startswith(".")]  # no temporary file left behind
    assert sorted(fake.accept_calls) == sorted(report_id(e) for e in first)

    later = assignment()
    await put(kafka_bootstrap, topic, later)
    async with connector(settings):  # the same group: it starts after the committed offsets
        await wait_until(lambda: _true(fake.accepted[report_id(later)] == 1), 30)
    assert sorted(fake.accept_calls) == sorted(report_id(e) for e in [*first, later])  # nothing delivered twice


async def test_an_accept_that_fails_with_503_is_retried_and_the_case_is_accepted_once(
    fake_api: tuple[FakeAgencyApi, str], kafka_bootstrap: str, new_topic: NewTopic, tmp_path: Path
) -> None:
    """A 503 on the first accept: the connector retries the same record; one accept, then the offset."""
    fake, url = fake_api
    topic = await new_topic("agency.sxd", partitions=1)
    settings = settings_for(url, kafka_bootstrap, topic, tmp_path, group(), token=fake.static_token())
    fake.accept_outage = 1
    item = assignment()
    await put(kafka_bootstrap, topic, item)

    async with connector(settings):
        await wait_until(lambda: _true(fake.accepted[report_id(item)] == 1), 30)
        await wait_until(lambda: all_committed(kafka_bootstrap, topic, settings.group_id), 10)
    assert fake.accept_calls == [report_id(item)] * 2
    assert fake.accepted == Counter({report_id(item): 1})


async def test_while_the_accept_fails_the_offset_stays_and_the_next_connector_gets_the_record_again(
    fake_api: tuple[FakeAgencyApi, str], kafka_bootstrap: str, new_topic: NewTopic, tmp_path: Path
) -> None:
    """Stopped during an API outage: nothing committed; a new connector in the group receives and accepts it."""
    fake, url = fake_api
    topic = await new_topic("agency.sxd", partitions=1)
    settings = settings_for(url, kafka_bootstrap, topic, tmp_path, group(), token=fake.static_token())
    fake.accept_outage = 1_000_000  # down until the test says otherwise
    item = assignment()
    await put(kafka_bootstrap, topic, item)
    case_file = CaseFolder(tmp_path).case_path(uuid.UUID(report_id(item)))

    async with connector(settings):
        await wait_until(lambda: _true(len(fake.accept_calls) >= 3), 30)  # failing, and retrying
        assert case_file.exists()  # the case is handed over before the accept
        committed, _ = await offsets(kafka_bootstrap, topic, settings.group_id)
        assert committed == {0: None}
    committed, _ = await offsets(kafka_bootstrap, topic, settings.group_id)
    assert committed == {0: None}  # stopping did not commit it either
    assert not fake.accepted

    fake.accept_outage = 0
    calls_before = len(fake.accept_calls)
    async with connector(settings):
        await wait_until(lambda: _true(fake.accepted[report_id(item)] == 1), 30)
        await wait_until(lambda: all_committed(kafka_bootstrap, topic, settings.group_id), 10)
    assert fake.accept_calls[calls_before:] == [report_id(item)]  # the new connector received the record
    assert fake.accepted == Counter({report_id(item): 1})


async def test_records_for_another_agency_and_unreadable_records_are_skipped(
    fake_api: tuple[FakeAgencyApi, str], kafka_bootstrap: str, new_topic: NewTopic, tmp_path: Path
) -> None:
    """Another agency's assignment and a non-event are refused: no case file, no accept; the queue moves on."""
    fake, url = fake_api
    topic = await new_topic("agency.sxd", partitions=1)  # one partition: ours really is behind the others
    settings = settings_for(url, kafka_bootstrap, topic, tmp_path, group(), token=fake.static_token())
    foreign, ours = assignment("SNNMT"), assignment()
    await publish(kafka_bootstrap, topic, [foreign.to_bytes(), b"{not an envelope", ours.to_bytes()])

    async with connector(settings):
        await wait_until(lambda: _true(fake.accepted[report_id(ours)] == 1), 30)
        await wait_until(lambda: all_committed(kafka_bootstrap, topic, settings.group_id), 10)
    assert fake.accept_calls == [report_id(ours)]
    assert [p.name for p in CaseFolder(tmp_path).inbox.iterdir()] == [f"{report_id(ours)}.json"]


async def test_answer_files_are_posted_and_filed_as_sent_or_refused(
    fake_api: tuple[FakeAgencyApi, str], tmp_path: Path
) -> None:
    """Answers: sent after a 503; a 422 refused with its reason; a re-post of a sent one sent; another text refused."""
    fake, url = fake_api
    settings = settings_for(url, "unused:9092", "unused", tmp_path, group(), token=fake.static_token())
    cases = CaseFolder(tmp_path)
    cases.prepare()
    good, short, replayed, other = (str(uuid.uuid4()) for _ in range(4))
    text = "Đã vá ổ gà trên đường Lê Lợi ngày 02/12, mặt đường đã thông thoáng."
    fake.answer_outage[good] = 1
    fake.answered[replayed] = text  # we posted it, and stopped before filing it
    fake.answered[other] = "Phản ánh đã được trả lời qua cổng dịch vụ công."
    for name, body in ((good, text), (short, "Đã xử lý."), (replayed, text), (other, text)):
        (cases.answers / f"{name}.json").write_text(json.dumps({"text": body, "media_ids": []}), encoding="utf-8")
    (cases.answers / ".draft.json").write_text("{", encoding="utf-8")  # still being written: not touched

    async with agency_api(settings) as api, running(AnswerSender(settings, api, cases)):
        await wait_until(lambda: _true(len(cases.pending_answers()) == 0), 10)

    assert sorted(p.name for p in cases.sent.iterdir()) == sorted([f"{good}.json", f"{replayed}.json"])
    assert sorted(p.name for p in cases.refused.iterdir()) == sorted(
        [f"{short}.json", f"{short}.error.json", f"{other}.json", f"{other}.error.json"]
    )
    refusal = json.loads((cases.refused / f"{short}.error.json").read_text(encoding="utf-8"))
    assert refusal["status"] == 422
    assert refusal["errors"][0]["field"] == "text"
    conflict = json.loads((cases.refused / f"{other}.error.json").read_text(encoding="utf-8"))
    assert (conflict["status"], conflict["errors"][0]["code"]) == (409, "report_closed")
    assert fake.answer_calls.count(good) == 2  # the 503 left it for the next pass
    assert fake.answered[good] == text
    assert (cases.answers / ".draft.json").exists()


async def test_the_connector_logs_in_and_logs_in_again_after_a_401_and_before_expiry(
    fake_api: tuple[FakeAgencyApi, str], kafka_bootstrap: str, new_topic: NewTopic, tmp_path: Path
) -> None:
    """Username and password: one login; a revoked token gets one 401 and a new login; a short token is renewed."""
    fake, url = fake_api
    topic = await new_topic("agency.sxd", partitions=1)
    settings = settings_for(url, kafka_bootstrap, topic, tmp_path, group(), username=USERNAME, password=PASSWORD)
    items = [assignment() for _ in range(3)]

    async with connector(settings):
        await put(kafka_bootstrap, topic, items[0])
        await wait_until(lambda: _true(fake.accepted[report_id(items[0])] == 1), 30)
        assert (fake.logins, fake.refused_tokens) == (1, 0)

        fake.revoke_all()
        fake.expires_in = 1  # the next token: renewed 0.2 s before it expires
        await put(kafka_bootstrap, topic, items[1])
        await wait_until(lambda: _true(fake.accepted[report_id(items[1])] == 1), 30)
        assert (fake.logins, fake.refused_tokens) == (2, 1)

        await asyncio.sleep(1.1)  # the fake would refuse that token now
        await put(kafka_bootstrap, topic, items[2])
        await wait_until(lambda: _true(fake.accepted[report_id(items[2])] == 1), 30)
        assert (fake.logins, fake.refused_tokens) == (3, 1)  # logged in again without being refused first
    assert fake.accept_calls == [report_id(i) for i in items]


async def test_a_refused_login_stops_the_connector_without_committing(
    fake_api: tuple[FakeAgencyApi, str], kafka_bootstrap: str, new_topic: NewTopic, tmp_path: Path
) -> None:
    """A wrong password: one login attempt (no retries towards a lock), the connector stops, the record stays."""
    fake, url = fake_api
    topic = await new_topic("agency.sxd", partitions=1)
    settings = settings_for(url, kafka_bootstrap, topic, tmp_path, group(), username=USERNAME, password=WRONG_PASSWORD)
    await put(kafka_bootstrap, topic, assignment())

    async def run_until_refused() -> None:
        async with connector(settings):
            await wait_until(lambda: _true(fake.failed_logins == 1), 30)
            await asyncio.sleep(0.5)  # time enough for a retry, were there one

    with pytest.raises(AccessRefused):
        await run_until_refused()
    assert fake.failed_logins == 1
    committed, _ = await offsets(kafka_bootstrap, topic, settings.group_id)
    assert committed == {0: None}


async def _true(value: bool) -> bool:
    return value
