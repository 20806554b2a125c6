"""Relay and consumer processes: their /metrics show their own work, their /readyz reflects their own trouble.

Every worker process exposes the same metric names and the same readiness checks, so the mere presence of
a name proves nothing: these tests follow one report through the workers and read the counts each process
added, and make one consumer's dependency fail to see its /readyz, and only its, turn red.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import subprocess
from typing import Any

import aiohttp
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from paht_shared.testing import pii
from paht_shared.testing.kafka import wait_until
from paht_shared.testing.mail import recent_mail

from .conftest import ROOT, devstack

# What one report in category giao-thong (routed to Sở Xây dựng, SXD) with one photo makes each relay publish.
RELAY_TOPICS = {
    "intake-relay": {"report.submitted.v1"},
    "routing-relay": {"report.routed.v1", "report.status_changed.v1", "agency.sxd.inbox.v1"},
    "notify-relay": {"notification.sent.v1"},
    "media-relay": {"media.uploaded.v1", "media.stored.v1"},
}
CONSUMER_SERVICES = {
    "intake-consume": "intake",
    "routing-consume": "routing",
    "notify-consume": "notify",
    "media-worker": "media",
}

Counts = dict[tuple[str, str], float]  # (metric, label that says what) -> value


async def scrape(http: aiohttp.ClientSession, port: int) -> Counts:
    """Published rows by topic and handled events by handler, as one worker process counts them."""
    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    counts: Counts = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "paht_outbox_published_total":
                counts["published", sample.labels["topic"]] = sample.value
            elif sample.name == "paht_events_handled_total" and sample.labels["outcome"] == "handled":
                counts["handled", sample.labels["handler"]] = sample.value
    return counts


async def readiness(http: aiohttp.ClientSession, port: int) -> tuple[int, dict[str, str]]:
    async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
        return resp.status, dict((await resp.json())["checks"])


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 90, 200)).save(out, "JPEG")
    return out.getvalue()


async def submit(http: aiohttp.ClientSession, intake_port: int, media_port: int | None = None) -> str:
    """A report in giao-thong; with `media_port`, with a photo uploaded first and attached."""
    caller = 100_000 + secrets.randbelow(900_000)  # a citizen of its own: intake limits reports per phone and hour
    body = pii.sample_report(category="giao-thong", caller=caller)
    if media_port is not None:
        form = aiohttp.FormData()
        form.add_field("file", photo(), filename="anh.jpg", content_type="image/jpeg")
        async with http.post(f"http://127.0.0.1:{media_port}/api/v1/media", data=form) as resp:
            assert resp.status == 201
            uploaded = await resp.json()
        body["media"] = [{"id": uploaded["id"], "upload_token": uploaded["upload_token"]}]
    async with http.post(
        f"http://127.0.0.1:{intake_port}/api/v1/reports", json=body, headers=pii.caller_headers(caller)
    ) as resp:
        assert resp.status == 201
        return str((await resp.json())["id"])


def emails_for(mail_dir: str, report_id: str) -> int:
    return sum(
        1
        for m in recent_mail(mail_dir)
        if m["X-PAHT-Report-Id"] == report_id
        and str(m["To"]).endswith("@paht.example")  # the agency's, not the citizen's
    )


async def test_each_worker_process_counts_its_own_part_of_a_report(platform: dict[str, Any]) -> None:
    """One report later, each relay counts its own topics and each consumer its own handler; neither the other's."""
    workers: dict[str, int] = platform["worker_ports"]
    assert set(workers) == set(RELAY_TOPICS) | set(CONSUMER_SERVICES)
    async with aiohttp.ClientSession() as http:
        before = {name: await scrape(http, port) for name, port in workers.items()}
        report_id = await submit(http, platform["http_ports"]["intake"], platform["http_ports"]["media"])

        def grew(name: str, after: Counts) -> set[str]:
            """What this process counted more of since `before`: topics for a relay, handlers for a consumer."""
            return {key[1] for key, value in after.items() if value > before[name].get(key, 0)}

        async def every_part_counted() -> bool:
            for name, port in workers.items():
                done = grew(name, await scrape(http, port))
                if not (RELAY_TOPICS[name] <= done if name in RELAY_TOPICS else done):
                    return False
            return True

        with contextlib.suppress(TimeoutError):  # the assertions below say which process fell short
            await wait_until(every_part_counted, 60)
        for name, port in workers.items():
            after = await scrape(http, port)
            kinds = {kind for kind, _ in after}
            if name in RELAY_TOPICS:
                assert RELAY_TOPICS[name] <= grew(name, after), f"{name} did not publish the report's events"
                assert kinds == {"published"}, f"{name}: a relay publishes and handles nothing"
            else:
                assert grew(name, after), f"{name} handled none of the report's events"
                assert kinds == {"handled"}, f"{name}: a consumer handles and publishes nothing itself"
                prefix = CONSUMER_SERVICES[name] + "."
                assert all(handler.startswith(prefix) for _, handler in after), (name, sorted(after))
            status, checks = await readiness(http, port)
            assert status == 200, (name, checks)
            assert "workers" in checks, (name, checks)
            assert set(checks.values()) == {"ok"}, (name, checks)

    async def emailed() -> bool:
        return emails_for(platform["mail_dir"], report_id) > 0

    # notify's consumer only queued the agency's email; its sender (another loop) sends it a moment later
    await wait_until(emailed, 30)
    assert emails_for(platform["mail_dir"], report_id) == 1


def devstack_with(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "deploy/devstack.py", *args],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **env},
    )


async def test_a_consumer_stuck_on_its_mail_server_fails_its_own_readyz_only(platform: dict[str, Any]) -> None:
    """notify's consumer, with a 1 s stuck limit, goes unready while the SMTP server is down; the others stay ready."""
    workers: dict[str, int] = platform["worker_ports"]
    notify_port = workers["notify-consume"]
    devstack("stop", "notify-consume")
    devstack_with({"NOTIFY_CONSUMER_STUCK_SECONDS": "1"}, "services-up")  # starts only what is not running
    try:
        async with aiohttp.ClientSession() as http:

            async def notify_ready() -> bool:
                try:
                    return (await readiness(http, notify_port))[0] == 200
                except aiohttp.ClientConnectionError:
                    return False  # (re)starting: not listening yet

            await wait_until(notify_ready, 60)
            devstack("stop", "notify-sink")  # the mail server notify's sender hands messages to
            try:
                report_id = await submit(http, platform["http_ports"]["intake"])

                async def notify_unready() -> bool:
                    return (await readiness(http, notify_port))[0] == 503

                await wait_until(notify_unready, 60)
                _, checks = await readiness(http, notify_port)
                assert checks["workers"] == "ok", "its loop still turns: it waits on purpose"
                assert checks["consumers"].startswith("unavailable"), checks
                for name, port in workers.items():
                    if name != "notify-consume":
                        status, others = await readiness(http, port)
                        assert (status, set(others.values())) == (200, {"ok"}), (name, others)
            finally:
                devstack("services-up")  # the mail server comes back
            await wait_until(notify_ready, 90)
            await wait_until(lambda: _emailed(platform["mail_dir"], report_id), 60)
            assert emails_for(platform["mail_dir"], report_id) == 1
    finally:
        devstack("stop", "notify-consume")  # back to its normal settings
        devstack("services-up")


async def _emailed(mail_dir: str, report_id: str) -> bool:
    return emails_for(mail_dir, report_id) > 0
