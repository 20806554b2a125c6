"""The media pipeline on the real PostgreSQL and S3, each event applied through its handler with its inbox
(paht_shared.consumer.handle_once), as the worker process applies it: sanitising with the real sanitiser,
signed links, who may see what, claims by upload token, retention, and an S3 outage during the work."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from minio import Minio
from PIL import Image

from media.app import build_app
from media.config import Settings
from media.domain import sign_link
from media.retention import MediaRetention
from media.storage import ObjectStore, StorageUnavailable
from media.worker import CLAIMS, REPLIES, REPORTS, SANITISE, subscriptions
from paht_shared.auth import Role, generate_signing_key, mint_token, public_jwks
from paht_shared.consumer import Subscription, handle_once
from paht_shared.contracts import (
    InformationProvidedV1,
    MediaRef,
    ReportStatus,
    ReportStatusChangedV1,
    ReportSubmittedV1,
    topics,
)
from paht_shared.envelope import Envelope

Client = TestClient[Any, Any]


def photo_with_gps() -> bytes:
    """A real JPEG whose EXIF says where it was taken (Cần Thơ), as a phone writes it."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (10.0, 2.0, 0.0), "E", (105.0, 47.0, 0.0)
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def form(data: bytes) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("file", data, filename="anh.jpg", content_type="application/octet-stream")
    return body


@pytest.fixture
def signing_key() -> str:
    return generate_signing_key()


@pytest.fixture
def staffed(settings: Settings, signing_key: str) -> Settings:
    return settings.model_copy(update={"auth_jwks": json.dumps(public_jwks(signing_key))})


@pytest.fixture
async def client(staffed: Settings) -> Any:
    async with TestClient(TestServer(build_app(staffed))) as test_client:
        yield test_client


@pytest.fixture
def store(settings: Settings) -> Any:
    store = ObjectStore(settings)
    yield store
    store.close()


def subscription(settings: Settings, store: ObjectStore, name: str) -> Subscription:
    return next(s for s in subscriptions(settings, store) if s.name == name)


async def upload(client: Client, data: bytes | None = None) -> dict[str, Any]:
    resp = await client.post("/api/v1/media", data=form(photo_with_gps() if data is None else data))
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def outbox(pool: asyncpg.Pool, topic: str) -> list[Envelope]:
    rows = await pool.fetch("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id", topic)
    return [Envelope.from_bytes(bytes(r["payload"])) for r in rows]


async def uploaded_event(pool: asyncpg.Pool, media_id: str) -> Envelope:
    return next(e for e in await outbox(pool, topics.MEDIA_UPLOADED) if e.data["media_id"] == media_id)


async def sanitise(pool: asyncpg.Pool, settings: Settings, store: ObjectStore, media_id: str) -> bool:
    """media.uploaded through the worker's handler, as its consumer applies it."""
    event = await uploaded_event(pool, media_id)
    handler = subscription(settings, store, SANITISE).handle
    return await handle_once(pool, SANITISE, event, topics.MEDIA_UPLOADED, handler)


async def submit(
    pool: asyncpg.Pool, settings: Settings, store: ObjectStore, refs: list[MediaRef], public: bool
) -> uuid.UUID:
    """report.submitted, as intake publishes it, through the claims handler."""
    report = ReportSubmittedV1(
        report_id=uuid.uuid4(),
        tracking_code="PA-" + uuid.uuid4().hex[:8].upper(),
        channel="web",
        category="moi-truong",
        title="Rác thải tồn đọng",
        submitted_at=datetime.now(UTC),
        public=public,
        anonymous=False,
        media_ids=tuple(r.media_id for r in refs),
        media=tuple(refs),
    )
    handler = subscription(settings, store, CLAIMS).handle
    assert await handle_once(pool, CLAIMS, Envelope.of(report, "intake", "c"), topics.REPORT_SUBMITTED, handler)
    return report.report_id


def proof(created: dict[str, Any], token: str | None = None) -> MediaRef:
    digest = hashlib.sha256((token or created["upload_token"]).encode()).hexdigest()
    return MediaRef(media_id=uuid.UUID(created["id"]), token_sha256=digest)


async def show(client: Client, media_id: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    resp = await client.get(f"/api/v1/media/{media_id}", headers=headers or {})
    return resp.status, await resp.json()


def as_uploader(created: dict[str, Any]) -> dict[str, str]:
    return {"X-Upload-Token": created["upload_token"]}


async def test_upload_records_a_token_hash_and_queues_the_worker(client: Client, pool: asyncpg.Pool) -> None:
    """201 processing with a token; the row keeps only its SHA-256; media.uploaded waits in the outbox."""
    created = await upload(client)
    assert created["status"] == "processing"
    row = await pool.fetchrow("SELECT status, token_sha256 FROM media_objects WHERE id = $1", uuid.UUID(created["id"]))
    assert row is not None
    assert (row["status"], row["token_sha256"]) == (
        "processing",
        hashlib.sha256(created["upload_token"].encode()).hexdigest(),
    )
    event = await uploaded_event(pool, created["id"])
    assert (event.event_type, event.data["kind"], event.data["size_bytes"]) == (
        "media.uploaded",
        "image",
        created["size"],
    )


async def test_worker_makes_derivatives_served_only_by_signed_links(
    client: Client, pool: asyncpg.Pool, settings: Settings, store: ObjectStore, s3: Minio, staffed: Settings
) -> None:
    """Sanitised files in S3, row ready, media.stored; links work with the safe headers, until they expire."""
    created = await upload(client)
    media_id = created["id"]
    assert await sanitise(pool, settings, store, media_id)
    assert not await sanitise(pool, settings, store, media_id)  # redelivered: the inbox skips it
    keys = {
        str(o.object_name) for o in s3.list_objects(settings.s3_bucket, prefix=settings.s3_key_prefix, recursive=True)
    }
    prefix = settings.s3_key_prefix
    assert keys == {
        f"{prefix}quarantine/{media_id}",
        f"{prefix}media/{media_id}/display",
        f"{prefix}media/{media_id}/thumbnail",
    }
    [stored] = await outbox(pool, topics.MEDIA_STORED)
    assert (stored.data["media_id"], sorted(stored.data["derivatives"])) == (media_id, ["display", "thumbnail"])
    status, body = await show(client, media_id, as_uploader(created))
    assert (status, body["status"], set(body["derivatives"])) == (200, "ready", {"display", "thumbnail"})
    assert body["suggestion"]["lat"] == pytest.approx(10.0333, abs=1e-3)
    got = await client.get(body["derivatives"]["display"])
    assert got.status == 200
    content = await got.read()
    assert content.startswith(b"\xff\xd8\xff")
    assert b"PhoneMaker" not in content  # the EXIF stayed behind
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Cache-Control"] == "private"
    assert got.headers["Content-Type"] == "image/jpeg"
    head = await client.head(body["derivatives"]["display"])  # headers only, and the connection stays sound
    assert (head.status, head.headers["Content-Type"], await head.read()) == (200, "image/jpeg", b"")
    again = await client.get(body["derivatives"]["display"])
    assert (again.status, await again.read()) == (200, content)
    key = staffed.url_signing_key.get_secret_value().encode()
    expired = await client.get(sign_link(key, uuid.UUID(media_id), "display", int(time.time()) - 1))
    assert (expired.status, (await expired.json())["errors"][0]["code"]) == (403, "link_expired")
    forged = await client.get(body["derivatives"]["display"].replace("sig=", "sig=0"))
    assert (forged.status, (await forged.json())["errors"][0]["code"]) == (403, "invalid_link")
    original = await client.get(sign_link(key, uuid.UUID(media_id), "original", int(time.time()) + 60))
    assert original.status == 404  # the quarantined original is no derivative: never served


async def test_a_file_the_sanitiser_refuses_is_rejected(
    client: Client, pool: asyncpg.Pool, settings: Settings, store: ObjectStore
) -> None:
    """JPEG magic over garbage: rejected with the sanitiser's code, media.rejected, nothing to serve."""
    created = await upload(client, b"\xff\xd8\xff\xe0" + b"\x00garbage" * 500)
    assert await sanitise(pool, settings, store, created["id"])
    status, body = await show(client, created["id"], as_uploader(created))
    assert (status, body["status"], body["derivatives"]) == (200, "rejected", {})
    [rejected] = await outbox(pool, topics.MEDIA_REJECTED)
    assert rejected.data["reason"] == body["reason"] == "undecodable"


async def test_only_the_uploader_staff_or_a_public_report_see_a_file(
    client: Client, pool: asyncpg.Pool, settings: Settings, store: ObjectStore, signing_key: str
) -> None:
    """Strangers get 404; the uploader 200 with the suggestion; an officer of the report's agency and coordinators
    200 without it; an officer of another agency 404; once a public report claims it, everyone."""
    private, public = await upload(client), await upload(client)
    for created in (private, public):
        assert await sanitise(pool, settings, store, created["id"])
    assert (await show(client, private["id"]))[0] == 404
    assert (await show(client, private["id"], {"X-Upload-Token": public["upload_token"]}))[0] == 404
    report_id = await submit(pool, settings, store, [proof(private)], public=False)
    change = ReportStatusChangedV1(
        report_id=report_id,
        sequence=1,
        status="assigned",
        changed_at=datetime.now(UTC),
        tracking_code="PA-1",
        category="moi-truong",
        title="Rác",
        agency_code="SXD",
    )
    handler = subscription(settings, store, REPORTS).handle
    assert await handle_once(pool, REPORTS, Envelope.of(change, "routing", "c"), topics.REPORT_STATUS_CHANGED, handler)

    def bearer(role: Role, agency: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(signing_key, 'can.bo', role, agency=agency)}"}

    status, body = await show(client, private["id"], bearer(Role.OFFICER, "SXD"))
    assert (status, "suggestion" in body, set(body["derivatives"])) == (200, False, {"display", "thumbnail"})
    assert (await show(client, private["id"], bearer(Role.COORDINATOR)))[0] == 200
    assert (await show(client, private["id"], bearer(Role.OFFICER, "SYT")))[0] == 404
    assert (await show(client, private["id"]))[0] == 404
    await submit(pool, settings, store, [proof(public)], public=True)
    status, body = await show(client, public["id"])
    assert (status, "suggestion" in body) == (200, False)
    assert (await client.get(body["derivatives"]["thumbnail"])).status == 200


async def test_a_report_claims_a_file_only_with_its_upload_token(
    client: Client, pool: asyncpg.Pool, settings: Settings, store: ObjectStore
) -> None:
    """Right hash: claimed. Wrong hash, a file already claimed, or an id with no proof: not claimed, not_owner."""
    mine, theirs, bare = await upload(client), await upload(client), await upload(client)
    report_id = await submit(pool, settings, store, [proof(mine), proof(theirs, token="guessed")], public=True)  # noqa: S106 - a wrong token on purpose
    claims = {
        str(r["id"]): r["report_id"]
        for r in await pool.fetch(
            "SELECT id, report_id FROM media_objects WHERE id = ANY($1::uuid[])",
            [
                uuid.UUID(mine["id"]),
                uuid.UUID(theirs["id"]),
            ],
        )
    }
    assert claims == {mine["id"]: report_id, theirs["id"]: None}
    second = ReportSubmittedV1.model_validate(
        {
            "report_id": uuid.uuid4(),
            "tracking_code": "PA-2",
            "channel": "web",
            "category": "moi-truong",
            "title": "Khác",
            "submitted_at": datetime.now(UTC),
            "public": True,
            "anonymous": False,
            "media_ids": [mine["id"], bare["id"]],
            "media": [proof(mine).model_dump()],
        }
    )
    handler = subscription(settings, store, CLAIMS).handle
    assert await handle_once(pool, CLAIMS, Envelope.of(second, "intake", "c"), topics.REPORT_SUBMITTED, handler)
    owner = await pool.fetchval("SELECT report_id FROM media_objects WHERE id = $1", uuid.UUID(mine["id"]))
    assert owner == report_id  # the first claim stands
    refused = [(e.data["media_id"], e.data["reason"]) for e in await outbox(pool, topics.MEDIA_REJECTED)]
    assert refused == [(theirs["id"], "not_owner"), (mine["id"], "not_owner"), (bare["id"], "not_owner")]
    assert (await show(client, theirs["id"]))[0] == 404  # a refused claim never published it


async def owner_and_public(pool: asyncpg.Pool, created: dict[str, Any]) -> tuple[uuid.UUID | None, bool]:
    row = await pool.fetchrow("SELECT report_id, public FROM media_objects WHERE id = $1", uuid.UUID(created["id"]))
    assert row is not None
    return row["report_id"], row["public"]


async def test_the_agencys_answer_files_are_claimed_public_with_a_public_report(
    client: Client, pool: asyncpg.Pool, settings: Settings, store: ObjectStore
) -> None:
    """Files the officer uploaded and attached to the answer with their proofs belong to the report from then
    on (public, as the report is); a file shown without its proof is refused (not_owner), never claimed."""
    public_report = await submit(pool, settings, store, [], public=True)
    private_report = await submit(pool, settings, store, [], public=False)
    shown, private_file, unproven = await upload(client), await upload(client), await upload(client)

    async def answered(report_id: uuid.UUID, refs: list[MediaRef], sequence: int) -> None:
        change = ReportStatusChangedV1(
            report_id=report_id, sequence=sequence, status=ReportStatus.ANSWERED, changed_at=datetime.now(UTC),
            tracking_code="PA-ANSWERED", category="moi-truong", title="Rác", agency_code="SNNMT",
            media_ids=tuple(r.media_id for r in refs), media=tuple(refs),
        )  # fmt: skip
        handler = subscription(settings, store, REPORTS).handle
        envelope = Envelope.of(change, "routing", "c")
        assert await handle_once(pool, REPORTS, envelope, topics.REPORT_STATUS_CHANGED, handler)

    await answered(public_report, [proof(shown), proof(unproven, token="guessed")], 5)  # noqa: S106 - wrong on purpose
    await answered(private_report, [proof(private_file)], 5)

    assert await owner_and_public(pool, shown) == (public_report, True)
    assert await owner_and_public(pool, private_file) == (private_report, False)
    assert await owner_and_public(pool, unproven) == (None, False)
    refused = [(e.data["media_id"], e.data["reason"]) for e in await outbox(pool, topics.MEDIA_REJECTED)]
    assert refused == [(unproven["id"], "not_owner")]


async def test_a_citizens_reply_files_are_claimed_for_the_agency_never_public(
    client: Client, pool: asyncpg.Pool, settings: Settings, store: ObjectStore
) -> None:
    """The files of an information reply are kept with the report (retention no longer deletes them) and are
    not public even on a public report: what a citizen adds when asked is for the agency."""
    report_id = await submit(pool, settings, store, [], public=True)
    photo = await upload(client)
    reply = InformationProvidedV1(
        report_id=report_id, tracking_code="PA-REPLY", text="Ảnh chụp thêm.", provided_at=datetime.now(UTC),
        media_ids=(uuid.UUID(photo["id"]),), media=(proof(photo),),
    )  # fmt: skip
    handler = subscription(settings, store, REPLIES).handle

    assert await handle_once(pool, REPLIES, Envelope.of(reply, "intake", "c"), topics.REPORT_CITIZEN_ACTIONS, handler)

    assert await owner_and_public(pool, photo) == (report_id, False)
    assert (await show(client, photo["id"]))[0] == 404  # nobody but staff and the uploader


async def test_retention_deletes_unclaimed_uploads_and_old_originals(
    client: Client, pool: asyncpg.Pool, settings: Settings, store: ObjectStore, s3: Minio
) -> None:
    """With 0 minutes and 0 days: the unclaimed upload loses its objects and becomes deleted; the claimed one
    keeps its derivatives and loses only its original."""
    kept, dropped = await upload(client), await upload(client)
    for created in (kept, dropped):
        assert await sanitise(pool, settings, store, created["id"])
    await submit(pool, settings, store, [proof(kept)], public=False)
    swept = settings.model_copy(update={"unattached_retention_minutes": 0, "quarantine_retention_days": 0})
    assert await MediaRetention(pool, store, swept).sweep_once() == (1, 1)
    assert await MediaRetention(pool, store, swept).sweep_once() == (0, 0)
    prefix = settings.s3_key_prefix
    keys = {str(o.object_name) for o in s3.list_objects(settings.s3_bucket, prefix=prefix, recursive=True)}
    assert keys == {f"{prefix}media/{kept['id']}/display", f"{prefix}media/{kept['id']}/thumbnail"}
    statuses = dict(await pool.fetch("SELECT id::text, status FROM media_objects"))
    assert statuses == {kept["id"]: "ready", dropped["id"]: "deleted"}
    assert (await show(client, dropped["id"], as_uploader(dropped)))[0] == 404
    status, body = await show(client, kept["id"], as_uploader(kept))
    assert (status, (await client.get(body["derivatives"]["display"])).status) == (200, 200)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_s3_down_during_the_work_is_retried_and_completes_when_it_returns(
    client: Client, pool: asyncpg.Pool, settings: Settings, store: ObjectStore
) -> None:
    """The worker's S3 unreachable: a dependency failure (retried, never dead-lettered), nothing recorded; the
    same event completes once S3 is back."""
    created = await upload(client)
    down = ObjectStore(settings.model_copy(update={"s3_endpoint": f"127.0.0.1:{closed_port()}"}))
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - first proof that this S3 is unreachable at all
            await down.check()
        sub = subscription(settings, down, SANITISE)
        with pytest.raises(StorageUnavailable) as failed:
            await handle_once(
                pool, SANITISE, await uploaded_event(pool, created["id"]), topics.MEDIA_UPLOADED, sub.handle
            )
        assert sub.is_transient(failed.value)
    finally:
        down.close()
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 0
    assert await pool.fetchval("SELECT status FROM media_objects") == "processing"
    assert await sanitise(pool, settings, store, created["id"])
    assert await pool.fetchval("SELECT status FROM media_objects") == "ready"
