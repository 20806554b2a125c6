"""The reference connector an agency runs against its own queue: `python -m routing connector`.

It consumes `agency.<code>.inbox.v1` in the agency's own consumer group, hands each assignment to the
agency's case system as a file (`<case_dir>/inbox/<report_id>.json`) and accepts it through the agency API.
The offset is committed only once the file is on disk and the accept is settled, so a crash or an API outage
redelivers the record instead of losing the case. Answers go the other way: the case system drops
`<case_dir>/answers/<report_id>.json`, the connector posts it and files it under `sent/` or `refused/`.

It needs nothing of the platform but the agency API and read access to one topic, which is what a
province's Kafka ACLs grant an agency (services/routing/README.md, "Agency connector and Kafka ACLs").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    GroupAuthorizationFailedError,
    IllegalStateError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from aiokafka.helpers import create_ssl_context
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paht_shared.contracts import CONTRACTS, AgencyAssignmentV1, UnreadableEvent
from paht_shared.envelope import Envelope
from paht_shared.logging import configure_logging
from paht_shared.runtime import Stoppable, run_until_signalled
from routing.connector_config import ConnectorSettings

log = structlog.get_logger("routing.connector")

LOGIN_PATH = "/api/v1/auth/login"
WORK_PATH = "/api/v1/work/reports"
MAX_ANSWER_FILE_BYTES = 256 * 1024  # an answer is at most 10,000 characters; anything far bigger is not one
# How long before its expiry a token is renewed: a minute, or a fifth of a short-lived token's lifetime.
RENEW_MARGIN_SECONDS = 60.0


# --- the agency API -----------------------------------------------------------------------------------


class ApiUnavailable(Exception):
    """The API, or the way to it, failed (5xx, 429, no connection, timeout): the same call may work later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class AccessRefused(Exception):
    """The agency's credentials do not work. No retry can fix that: the connector stops, the operator acts."""


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: Any  # the JSON answer; None when it was not JSON

    @property
    def code(self) -> str | None:
        """The first error code of our error shape {"errors": [{"field", "code", "message"}]}."""
        if isinstance(self.body, dict) and isinstance(errors := self.body.get("errors"), list) and errors:
            first = errors[0]
            return str(first.get("code")) if isinstance(first, dict) else None
        return None


class LoginAnswer(BaseModel):
    """What `POST /api/v1/auth/login` answers (only the fields the connector needs)."""

    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(min_length=1, repr=False)
    expires_in: int = Field(gt=0)
    agency: str | None = None


class AgencyApi:
    """The agency API under the agency's own token: logs in, and again before the token expires or after a 401."""

    def __init__(self, settings: ConnectorSettings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._session = session
        self._static = settings.token is not None
        self._token = settings.token.get_secret_value() if settings.token is not None else None
        self._renew_at = float("inf") if self._static else 0.0
        self._login_lock = asyncio.Lock()  # both workers share one token: one login, not one each

    async def post(self, path: str, body: dict[str, Any] | None = None) -> ApiAnswer:
        return await self._call("POST", path, body)

    async def get(self, path: str) -> ApiAnswer:
        return await self._call("GET", path, None)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> ApiAnswer:
        token = await self._current_token()
        answer = await self._send(method, path, body, token)
        if answer.status != 401:
            return answer
        if self._static:
            raise AccessRefused("the configured token was refused (401) and cannot be renewed")
        log.info("token_refused_logging_in_again")  # revoked, or the API's keys rotated
        answer = await self._send(method, path, body, await self._current_token(refused=token))
        if answer.status == 401:
            raise AccessRefused("a token fresh from login was refused (401)")
        return answer

    async def _current_token(self, refused: str | None = None) -> str:
        async with self._login_lock:
            if self._token is not None and self._token != refused and time.monotonic() < self._renew_at:
                return self._token
            issued = await self._login()
            margin = min(RENEW_MARGIN_SECONDS, issued.expires_in / 5)
            self._token = issued.access_token
            self._renew_at = time.monotonic() + issued.expires_in - margin
            return self._token

    async def _login(self) -> LoginAnswer:
        settings = self._settings
        if settings.username is None or settings.password is None:
            raise AccessRefused("no username and password to log in with")
        credentials = {"username": settings.username, "password": settings.password.get_secret_value()}
        status, body = await self._exchange("POST", LOGIN_PATH, credentials, None)
        if status != 200:
            # invalid_credentials, a disabled account: trying again would only count towards a lock
            raise AccessRefused(f"login refused: {status} {ApiAnswer(status, body).code}")
        try:
            issued = LoginAnswer.model_validate(body)
        except ValidationError:
            raise AccessRefused("login answered without a usable token") from None
        if issued.agency is not None and issued.agency.upper() != settings.agency:
            # every accept would answer 404: refuse to run rather than mark a whole queue as not ours
            raise AccessRefused(f"the account belongs to agency {issued.agency}, not {settings.agency}")
        log.info("logged_in", expires_in=issued.expires_in)
        return issued

    async def _send(self, method: str, path: str, body: dict[str, Any] | None, token: str) -> ApiAnswer:
        status, payload = await self._exchange(method, path, body, token)
        return ApiAnswer(status, payload)

    async def _exchange(
        self, method: str, path: str, body: dict[str, Any] | None, token: str | None
    ) -> tuple[int, Any]:
        """One HTTP call; outages and overload become ApiUnavailable, every other answer is returned."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with self._session.request(
                method, self._settings.api_url + path, json=body, headers=headers
            ) as response:
                status = response.status
                retry_after = _seconds(response.headers.get("Retry-After"))
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiUnavailable(type(exc).__name__) from None
        if status >= 500 or status == 429:
            raise ApiUnavailable(f"http_{status}", retry_after)
        return status, payload


def _seconds(header: str | None) -> float | None:
    return float(header) if header is not None and header.strip().isdigit() else None


@contextlib.asynccontextmanager
async def agency_api(settings: ConnectorSettings) -> AsyncIterator[AgencyApi]:
    timeout = aiohttp.ClientTimeout(total=settings.http_timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout, raise_for_status=False) as session:
        yield AgencyApi(settings, session)


# --- the case system's folder ---------------------------------------------------------------------------


class CaseFolder:
    """The hand-off folder: inbox/ (cases we write), answers/ (answers the case system drops), and the
    answers' outcome folders answers/sent/ and answers/refused/.

    Every file appears whole (written beside, then renamed) and is on disk (fsync) before the connector
    relies on it: an offset is committed only after its case file exists.
    """

    def __init__(self, root: Path) -> None:
        self.inbox = root / "inbox"
        self.answers = root / "answers"
        self.sent = self.answers / "sent"
        self.refused = self.answers / "refused"

    def prepare(self) -> None:
        for folder in (self.inbox, self.sent, self.refused):
            folder.mkdir(parents=True, exist_ok=True)

    def case_path(self, report_id: uuid.UUID) -> Path:
        return self.inbox / f"{report_id}.json"

    def write_case(self, report_id: uuid.UUID, document: dict[str, Any]) -> bool:
        """Write (or replace) the case; False when it is already there, or a newer assignment of it is."""
        target = self.case_path(report_id)
        content = _json_bytes(document)
        try:
            existing = target.read_bytes()
        except FileNotFoundError:
            existing = None
        if existing == content:
            return False  # a redelivered record
        if existing is not None and _assigned_at(existing) > datetime.fromisoformat(document["assigned_at"]):
            return False  # an older assignment replayed (a group reset): the newer one stays
        _atomic_write(target, content)
        return True

    def pending_answers(self) -> list[Path]:
        """Answer files ready to send; a name starting with a dot, or not ending in .json, is still being written."""
        return sorted(p for p in self.answers.glob("*.json") if not p.name.startswith(".") and p.is_file())

    def file_answer(self, path: Path, folder: Path, outcome: dict[str, Any] | None = None) -> Path:
        """Move an answer to `folder`, with `outcome` (the API's refusal) beside it as <name>.error.json."""
        destination = _free_name(folder, path.name)
        if outcome is not None:
            _atomic_write(destination.with_suffix(".error.json"), _json_bytes(outcome))
        os.replace(path, destination)
        _sync_folder(folder)
        _sync_folder(path.parent)
        return destination


def _json_bytes(document: dict[str, Any]) -> bytes:
    # sorted keys: the same case gives the same bytes, so a redelivery is recognised and not rewritten
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _assigned_at(content: bytes) -> datetime:
    try:
        return datetime.fromisoformat(json.loads(content)["assigned_at"])
    except (ValueError, TypeError, KeyError):
        return datetime.min.replace(tzinfo=UTC)  # unreadable: the case we have now is better


def _atomic_write(target: Path, content: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename durable: without it a power cut can forget a file whose offset was committed."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _free_name(folder: Path, name: str) -> Path:
    """`name` in `folder`, or `<stem>.<n>.json` when an earlier answer of the same report is already there."""
    candidate = folder / name
    stem = Path(name).stem
    n = 1
    while candidate.exists() or candidate.with_suffix(".error.json").exists():
        candidate = folder / f"{stem}.{n}.json"
        n += 1
    return candidate


def case_document(envelope: Envelope, assignment: AgencyAssignmentV1, api_url: str) -> dict[str, Any]:
    """What the case system receives: the assignment as published, its event id, and where to read the report
    in full (the agency API, with the agency's token)."""
    return {
        **assignment.model_dump(mode="json"),
        "event_id": str(envelope.event_id),
        "report_url": f"{api_url}{WORK_PATH}/{assignment.report_id}",
    }


# --- the workers ------------------------------------------------------------------------------------------


class _Worker:
    """Stop handling shared by the two workers (paht_shared.runtime.Stoppable)."""

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self.last_progress = time.monotonic()
        # Since when the current step has been failing on the API or the disk; None while nothing is retried.
        self.retrying_since: float | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()

    def _waiting(self) -> None:
        self.last_progress = time.monotonic()  # alive, and waiting on purpose
        self.retrying_since = self.retrying_since or self.last_progress


def make_agency_consumer(settings: ConnectorSettings) -> AIOKafkaConsumer:
    """The agency's consumer: its own group, manual commits, the cluster's security settings."""
    ssl_context = None
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        ssl_context = create_ssl_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
    password = settings.sasl_plain_password.get_secret_value() if settings.sasl_plain_password else None
    return AIOKafkaConsumer(
        settings.topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.group_id,
        client_id=f"{settings.group_id}-{os.getpid()}",
        enable_auto_commit=False,  # committed once the case file exists and the accept is settled
        auto_offset_reset="earliest",  # a new connector starts with the agency's whole backlog
        isolation_level="read_committed",
        max_poll_records=100,
        session_timeout_ms=10000,
        heartbeat_interval_ms=3000,
        # A record retried through a long API outage keeps the loop from polling: past this the consumer
        # leaves the group, its commit is refused, and the record is redelivered to it on rejoining (the case
        # file and the accept are both idempotent).
        max_poll_interval_ms=300000,
        security_protocol=settings.security_protocol,
        sasl_mechanism=settings.sasl_mechanism,
        sasl_plain_username=settings.sasl_plain_username,
        sasl_plain_password=password,
        ssl_context=ssl_context,
    )


class AssignmentIntake(_Worker):
    """Consumes the agency's queue: for each assignment the case file, then the accept, then the offset."""

    def __init__(self, settings: ConnectorSettings, api: AgencyApi, cases: CaseFolder) -> None:
        super().__init__()
        self._settings = settings
        self._api = api
        self._cases = cases

    async def run(self) -> None:
        await asyncio.to_thread(self._cases.prepare)
        consumer = await self._connect()
        if consumer is None:
            return  # stopped before Kafka could be reached
        log.info("connector_consuming", topic=self._settings.topic, group=self._settings.group_id)
        try:
            while not self._stopping.is_set():
                self.last_progress = time.monotonic()
                batches = await consumer.getmany(timeout_ms=500, max_records=100)
                for tp, records in batches.items():
                    last: int | None = None
                    for record in records:
                        if self._stopping.is_set() or not await self._handle(record):
                            break
                        last = record.offset
                    if last is not None:
                        await self._commit(consumer, tp, last + 1)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()  # leaves the group; handled offsets are already committed
            log.info("connector_stopped", topic=self._settings.topic)

    async def _connect(self) -> AIOKafkaConsumer | None:
        """Start the consumer, waiting out a broker that is not reachable yet."""
        delay = self._settings.retry_backoff_seconds
        while not self._stopping.is_set():
            self.last_progress = time.monotonic()
            consumer = make_agency_consumer(self._settings)
            try:
                await consumer.start()
            except (TopicAuthorizationFailedError, GroupAuthorizationFailedError) as exc:
                # the cluster's ACLs refuse this topic or group: a setting to fix, not an outage to wait out
                with contextlib.suppress(Exception):
                    await consumer.stop()
                log.error(
                    "kafka_access_refused",
                    error=type(exc).__name__,
                    topic=self._settings.topic,
                    group=self._settings.group_id,
                )
                raise
            except (KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                log.warning("kafka_unreachable", error=type(exc).__name__, retry_in=delay)
                if await self._stopped_within(delay):
                    break
                delay = min(self._settings.max_backoff_seconds, delay * 2)
                continue
            return consumer
        return None

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        """A commit refused because a rebalance moved the partition is harmless: its new owner redelivers."""
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("offset_commit_refused", error=type(exc).__name__)

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """One record; False only when stopping interrupted it (its offset must not be committed)."""
        read = self._read(record)
        if read is None:
            return True  # refused and logged: committing it moves the queue on
        envelope, assignment = read
        report_id = assignment.report_id
        document = case_document(envelope, assignment, self._settings.api_url)

        async def write_case() -> None:
            written = await asyncio.to_thread(self._cases.write_case, report_id, document)
            log.info("case_written" if written else "case_already_written", report_id=str(report_id))

        if not await self._until_done(write_case, "write_case", report_id):
            return False
        if self._settings.auto_accept:
            return await self._until_done(lambda: self._accept(report_id), "accept", report_id)
        return True

    def _read(self, record: ConsumerRecord[bytes, bytes]) -> tuple[Envelope, AgencyAssignmentV1] | None:
        where = {"partition": record.partition, "offset": record.offset}
        try:
            envelope = Envelope.from_bytes(record.value or b"")
            assignment = CONTRACTS.read(envelope, AgencyAssignmentV1)
        except ValueError:
            log.error("record_unreadable_skipped", reason="not an event envelope", **where)
            return None
        except UnreadableEvent as exc:
            log.error("record_unreadable_skipped", reason=exc.reason, **where)
            return None
        if assignment.agency_code.upper() != self._settings.agency:
            # a misrouted record (or a topic setting pointing at another queue): never another agency's case
            log.error(
                "foreign_assignment_refused",
                agency=assignment.agency_code,
                report_id=str(assignment.report_id),
                **where,
            )
            return None
        return envelope, assignment

    async def _accept(self, report_id: uuid.UUID) -> None:
        """Settled on any answer but an outage (ApiUnavailable, raised): a refusal cannot change by retrying."""
        answer = await self._api.post(f"{WORK_PATH}/{report_id}/accept")
        fields = {"report_id": str(report_id), "status": answer.status, "code": answer.code}
        if answer.status == 200:
            log.info("case_accepted", **fields)
        elif answer.status == 409 and answer.code == "already_accepted":
            log.info("case_already_accepted", **fields)
        elif answer.status in (403, 404):
            log.warning("case_moved_to_another_agency", **fields)  # returned, reassigned or merged since
        else:
            log.warning("case_accept_refused", **fields)  # e.g. 409 report_closed: a replay of an old assignment

    async def _until_done(self, step: Callable[[], Awaitable[None]], name: str, report_id: uuid.UUID) -> bool:
        """Run `step` until it succeeds, waiting longer after each outage; False if stopped first."""
        delay = self._settings.retry_backoff_seconds
        while True:
            try:
                await step()
            except (ApiUnavailable, OSError) as exc:
                self._waiting()
                hint = exc.retry_after if isinstance(exc, ApiUnavailable) else None
                wait = min(self._settings.max_backoff_seconds, max(delay, hint or 0.0))
                reason = exc.reason if isinstance(exc, ApiUnavailable) else type(exc).__name__
                log.warning("connector_step_retrying", step=name, report_id=str(report_id), error=reason, retry_in=wait)
                if await self._stopped_within(wait):
                    return False
                delay = min(self._settings.max_backoff_seconds, delay * 2)
                continue
            self.retrying_since = None
            return True


@dataclass(frozen=True)
class AnswerFile:
    report_id: uuid.UUID
    body: dict[str, Any]


class AnswerSender(_Worker):
    """Posts the answers the case system drops into answers/, one pass every `answer_poll_seconds`."""

    def __init__(self, settings: ConnectorSettings, api: AgencyApi, cases: CaseFolder) -> None:
        super().__init__()
        self._settings = settings
        self._api = api
        self._cases = cases
        self._waiting_for_accept: set[Path] = set()  # logged once, not on every pass

    async def run(self) -> None:
        await asyncio.to_thread(self._cases.prepare)
        while not self._stopping.is_set():
            try:
                await self.send_pending()
                self.retrying_since = None
            except ApiUnavailable as exc:
                self._waiting()
                log.warning("answers_waiting_for_api", error=exc.reason)  # the files stay for the next pass
            except OSError as exc:
                self._waiting()
                log.warning("answers_folder_failed", error=type(exc).__name__)  # a full disk, a lost mount
            self.last_progress = time.monotonic()
            if await self._stopped_within(self._settings.answer_poll_seconds):
                break

    async def send_pending(self) -> None:
        """One pass; an outage (ApiUnavailable) ends it: the remaining files wait for the next."""
        for path in await asyncio.to_thread(self._cases.pending_answers):
            if self._stopping.is_set():
                return
            await self._send(path)

    async def _send(self, path: Path) -> None:
        parsed = await asyncio.to_thread(read_answer_file, path)
        if isinstance(parsed, str):
            await self._refuse(path, {"errors": [{"field": None, "code": parsed, "message": _FILE_PROBLEMS[parsed]}]})
            return
        report_id = str(parsed.report_id)
        answer = await self._api.post(f"{WORK_PATH}/{report_id}/answer", parsed.body)
        if answer.status == 200:
            await self._file(path, self._cases.sent)
            log.info("answer_sent", report_id=report_id)
        elif answer.status == 409 and answer.code == "report_closed" and await self._already_ours(parsed):
            # our own earlier post went through, and we stopped before filing it
            await self._file(path, self._cases.sent)
            log.info("answer_already_sent", report_id=report_id)
        elif answer.status == 409 and answer.code == "not_accepted":
            # an officer has not accepted it yet (auto_accept off), or our accept of a reopened report is
            # still on its way: that changes by itself, so the file waits
            if path not in self._waiting_for_accept:
                self._waiting_for_accept.add(path)
                log.info("answer_waiting_for_accept", report_id=report_id)
        else:
            # 422 (the text or the media), 404/403 (the report is not this agency's any more), other 409s
            await self._refuse(path, {"status": answer.status, **_as_dict(answer.body)})
            log.warning("answer_refused", report_id=report_id, status=answer.status, code=answer.code)

    async def _already_ours(self, answer: AnswerFile) -> bool:
        """A closed report counts as answered by this file only if it carries this file's text: a rejected
        report, or one answered otherwise, must not hide this answer in sent/."""
        shown = await self._api.get(f"{WORK_PATH}/{answer.report_id}")
        text = answer.body.get("text")
        return (
            shown.status == 200
            and isinstance(shown.body, dict)
            and isinstance(text, str)
            and shown.body.get("answer_text") == text.strip()
        )

    async def _file(self, path: Path, folder: Path, outcome: dict[str, Any] | None = None) -> None:
        await asyncio.to_thread(self._cases.file_answer, path, folder, outcome)
        self._waiting_for_accept.discard(path)

    async def _refuse(self, path: Path, outcome: dict[str, Any]) -> None:
        await self._file(path, self._cases.refused, outcome)


_FILE_PROBLEMS = {
    "name_not_a_report_id": "The file name must be <report_id>.json.",
    "too_large": f"An answer file is at most {MAX_ANSWER_FILE_BYTES} bytes.",
    "invalid_json": 'The file must be a JSON object {"text": "...", "media_ids": []} in UTF-8.',
}


def read_answer_file(path: Path) -> AnswerFile | str:
    """The answer in a file, or the code of what is wrong with the file itself (the API judges the content)."""
    try:
        report_id = uuid.UUID(path.stem)
    except ValueError:
        return "name_not_a_report_id"
    with path.open("rb") as file:
        raw = file.read(MAX_ANSWER_FILE_BYTES + 1)
    if len(raw) > MAX_ANSWER_FILE_BYTES:
        return "too_large"
    try:
        body = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        return "invalid_json"
    if not isinstance(body, dict):
        return "invalid_json"
    return AnswerFile(report_id, body)


def _as_dict(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {"body": body}


# --- the process -------------------------------------------------------------------------------------------


def connector_workers(settings: ConnectorSettings, api: AgencyApi) -> list[Stoppable]:
    cases = CaseFolder(settings.case_dir)
    return [AssignmentIntake(settings, api, cases), AnswerSender(settings, api, cases)]


async def run_connector(settings: ConnectorSettings) -> None:
    """Both workers until SIGTERM/SIGINT; a refused credential stops the process (non-zero exit)."""
    async with agency_api(settings) as api:
        await run_until_signalled(connector_workers(settings, api))


def main() -> None:
    settings = ConnectorSettings()  # agency, case_dir and the credentials come from the environment
    configure_logging("routing-connector", settings.log_level, settings.log_json)
    log.info("connector_starting", agency=settings.agency, topic=settings.topic, group=settings.group_id)
    asyncio.run(run_connector(settings))
