"""A hotline 1022 emergency call through the running platform: the call recording uploaded to media, the
operator's report on the real broker as report.submitted.v1 (channel hotline, emergency, operator id),
routed with the emergency deadline, and the recording claimed for the report and shown to the agency."""

from __future__ import annotations

import array
import io
import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import av
import pytest
from av.audio.stream import AudioStream

from paht_shared.auth import Role
from paht_shared.contracts import topics
from paht_shared.testing import pii
from paht_shared.testing.kafka import records_for, until

pytestmark = pytest.mark.e2e


def call_recording(seconds: float = 2.0) -> bytes:
    """A real AAC recording in an M4A file, as a call-centre system exports it (a tone stands in for voices)."""
    out = io.BytesIO()
    with av.open(out, "w", format="ipod") as container:
        sound = container.add_stream("aac", rate=16_000)
        assert isinstance(sound, AudioStream)
        rate = 16_000
        total = int(rate * seconds)
        for start in range(0, total, 1024):
            count = min(1024, total - start)
            tone = array.array(
                "h", (int(5000 * math.sin(2 * math.pi * 440 * (start + i) / rate)) for i in range(count))
            )
            frame = av.AudioFrame(format="s16", layout="mono", samples=count)
            frame.planes[0].update(tone.tobytes())
            frame.sample_rate = rate
            frame.pts = start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return out.getvalue()


async def test_an_emergency_call_with_its_recording_reaches_the_agency(
    platform: dict[str, Any], staff_token: Callable[..., str]
) -> None:
    media = f"http://127.0.0.1:{platform['http_ports']['media']}"
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    bootstrap = platform["kafka_bootstrap"]
    operator = {"Authorization": f"Bearer {staff_token(Role.OPERATOR)}"}
    form = aiohttp.FormData()
    form.add_field("file", call_recording(), filename="cuoc-goi.m4a", content_type="audio/mp4")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{media}/api/v1/media", data=form) as resp:
            assert resp.status == 201, await resp.text()
            recording = await resp.json()
        body = pii.sample_report(category="giao-thong", caller=31)
        body.pop("channel")
        body["reporter"] = {"full_name": pii.FULL_NAME, "phone": pii.caller_phone(31)}
        body |= {"emergency": True, "media": [{"id": recording["id"], "upload_token": recording["upload_token"]}]}
        async with http.post(
            f"{intake}/api/v1/operator/reports", json=body, headers=operator | {"Idempotency-Key": str(uuid.uuid4())}
        ) as resp:
            assert resp.status == 201, await resp.text()
            created = await resp.json()
        report_id = created["id"]
        [submitted] = await until(
            lambda: records_for(bootstrap, topics.REPORT_SUBMITTED, report_id), "report.submitted.v1 on the broker"
        )
        assert submitted.data["channel"] == "hotline"
        assert submitted.data["emergency"] is True
        assert submitted.data["operator_id"] == "e2e-operator"
        assert submitted.data["media_ids"] == [recording["id"]]
        assert datetime.fromisoformat(submitted.data["received_at"]) == datetime.fromisoformat(
            submitted.data["submitted_at"]
        )  # received at once, whatever the hour

        async def assigned() -> dict[str, Any] | None:
            changes = await records_for(bootstrap, topics.REPORT_STATUS_CHANGED, report_id)
            return next((c.data for c in changes if c.data["status"] == "assigned"), None)

        change = await until(assigned, "routing's assignment")
        due = datetime.fromisoformat(change["due_at"]) - datetime.fromisoformat(submitted.data["submitted_at"])
        assert due <= timedelta(hours=4, seconds=5)  # the emergency deadline, not working days
        officer_check = {"Authorization": f"Bearer {staff_token(Role.OFFICER, change['agency_code'])}"}

        async def recording_for_the_agency() -> dict[str, Any] | None:
            async with http.get(f"{media}/api/v1/media/{recording['id']}", headers=officer_check) as resp:
                shown: dict[str, Any] = await resp.json()
                return shown if resp.status == 200 and shown["status"] == "ready" else None

        shown = await until(recording_for_the_agency, "the recording, sanitised and shown to the agency")
        assert "audio" in shown["derivatives"]
