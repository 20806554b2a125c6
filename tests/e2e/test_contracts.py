"""Contract tests: what each producer really put on the broker fits every consumer's model.

One report goes through the running platform (submitted, routed, notified, answered, rated, closed); its
records are read back from the real topics (by key, so other reports' records do not count) and each
producer/consumer pair is checked on them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from intake.app import make_vault
from intake.config import Settings as IntakeSettings
from intake.consumers import subscriptions as intake_subscriptions
from notify.config import Settings as NotifySettings
from notify.consumers import subscriptions as notify_subscriptions
from paht_shared.auth import Role, mint_token
from paht_shared.consumer import Subscription
from paht_shared.contracts import (
    CONTRACTS,
    AgencyAssignmentV1,
    EventData,
    NotificationSentV1,
    ReportRoutedV1,
    topics,
)
from paht_shared.contracts.dispatch import Dispatch
from paht_shared.envelope import Envelope
from paht_shared.testing import pii
from paht_shared.testing.kafka import read_all, until
from routing.config import Settings as RoutingSettings
from routing.consumers import subscriptions as routing_subscriptions

AGENCY = "SXD"  # giao-thong goes to Sở Xây dựng
# Throwaway keys: the test reads which models the consumers handle, it decrypts nothing.
INTAKE_SETTINGS = IntakeSettings(pii_keys="k1:" + "A" * 43 + "=", blind_index_key="A" * 43 + "=")


def consumer_models(subscriptions: list[Subscription], topic: str) -> list[type[EventData]]:
    """The models the consumers of `topic` read (their typed dispatch says which)."""
    models: list[type[EventData]] = []
    for sub in subscriptions:
        if topic in sub.topics:
            assert isinstance(sub.handle, Dispatch), sub.name
            models.extend(sub.handle.models)
    assert models, f"no consumer of {topic}"
    return models


# (producer -> consumer, topic, the models that consumer reads)
PAIRS: list[tuple[str, str, list[type[EventData]]]] = [
    (
        "intake -> routing",
        topics.REPORT_SUBMITTED,
        consumer_models(routing_subscriptions(RoutingSettings()), topics.REPORT_SUBMITTED),
    ),
    (
        "routing -> intake",
        topics.REPORT_STATUS_CHANGED,
        consumer_models(intake_subscriptions(make_vault(INTAKE_SETTINGS)), topics.REPORT_STATUS_CHANGED),
    ),
    (
        "routing -> notify",
        topics.REPORT_STATUS_CHANGED,
        consumer_models(notify_subscriptions(NotifySettings()), topics.REPORT_STATUS_CHANGED),
    ),
    (
        "intake -> routing (citizen actions)",
        topics.REPORT_CITIZEN_ACTIONS,
        consumer_models(routing_subscriptions(RoutingSettings()), topics.REPORT_CITIZEN_ACTIONS),
    ),
    # Consumed outside the platform (an agency's own system, reporting): the contract model is the consumer's.
    ("routing -> agency system", topics.agency_inbox(AGENCY), [AgencyAssignmentV1]),
    ("routing -> report.routed readers", topics.REPORT_ROUTED, [ReportRoutedV1]),
    ("notify -> notification.sent readers", topics.NOTIFICATION_SENT, [NotificationSentV1]),
]


@pytest.fixture(scope="module")
def report_id(platform: dict[str, Any], infra_dir: Path) -> str:
    """One report submitted over HTTP and followed until notify has emailed the agency, then answered by the
    agency and rated by the citizen until routing closes it (shared by the pairs)."""
    signing_key = json.loads((infra_dir / "secrets.json").read_text())["auth_signing_key"]
    return asyncio.run(submit_and_follow(platform, signing_key))


async def submit_and_follow(platform: dict[str, Any], signing_key: str) -> str:
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{intake}/api/v1/reports",
            json=pii.sample_report(category="giao-thong"),
            headers=pii.caller_headers(2),
        ) as resp,
    ):
        assert resp.status == 201
        created = await resp.json()
    bootstrap = platform["kafka_bootstrap"]
    await until(lambda: records_of(bootstrap, topics.NOTIFICATION_SENT, str(created["id"])), "notification.sent")
    routing = f"http://127.0.0.1:{platform['http_ports']['routing']}/api/v1/work/reports/{created['id']}"
    officer = {"Authorization": "Bearer " + mint_token(signing_key, "e2e-contracts", Role.OFFICER, AGENCY)}
    tracking = f"{intake}/api/v1/reports/{created['tracking_code']}"
    secret = {"X-Tracking-Secret": created["tracking_secret"]}
    async with aiohttp.ClientSession() as http:
        for action, body in (("accept", None), ("answer", {"text": "Đã vá ổ gà trên tuyến đường này."})):
            async with http.post(f"{routing}/{action}", json=body, headers=officer) as resp:
                assert resp.status == 200, await resp.text()

        async def answered() -> bool:
            async with http.get(tracking, headers=secret) as resp:
                return bool((await resp.json())["status"] == "answered")

        await until(answered, "the answer on the tracking page")
        async with http.post(f"{tracking}/rating", json={"rating": "hai_long"}, headers=secret) as resp:
            assert resp.status == 200, await resp.text()

    async def closed() -> bool:
        changes = await records_of(bootstrap, topics.REPORT_STATUS_CHANGED, str(created["id"]))
        return any(envelope.data.get("status") == "closed" for envelope, _ in changes)

    await until(closed, "routing closing the rated report")
    return str(created["id"])


async def records_of(bootstrap: str, topic: str, report_id: str) -> list[tuple[Envelope, dict[str, bytes]]]:
    """The report's records on `topic` (the key is the report id): envelope and Kafka headers."""
    return [
        (Envelope.from_bytes(r.value or b""), dict(r.headers))
        for r in await read_all(bootstrap, topic)
        if r.key == report_id.encode()
    ]


@pytest.mark.parametrize(("pair", "topic", "models"), PAIRS, ids=[p[0] for p in PAIRS])
async def test_what_the_producer_emitted_fits_the_consumer(
    platform: dict[str, Any], report_id: str, pair: str, topic: str, models: list[type[EventData]]
) -> None:
    """Every record of the report on the topic reads as a model its consumer handles (same type and version)."""
    emitted = await records_of(platform["kafka_bootstrap"], topic, report_id)
    assert emitted, f"{pair}: nothing on {topic}"
    for envelope, headers in emitted:
        model = next((m for m in models if m.event_type == envelope.event_type), None)
        assert model is not None, f"{pair}: {envelope.event_type} has no consumer model"
        data = CONTRACTS.read(envelope, model)  # raises UnreadableEvent if it does not fit
        assert str(getattr(data, "report_id", "")) == report_id
        assert headers["event_type"] == envelope.event_type.encode()
        assert headers["event_id"] == str(envelope.event_id).encode()
