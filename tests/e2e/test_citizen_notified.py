"""The citizen hears back through the running platform: submitted with an email and a phone, they get the
'received' email (with the tracking code) and SMS, and once the agency answers, the answer by email."""

from __future__ import annotations

import asyncio
import json
import mailbox
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from paht_shared.auth import Role
from paht_shared.testing import pii
from paht_shared.testing.kafka import until
from paht_shared.testing.mail import recent_mail

pytestmark = pytest.mark.e2e


def citizen_emails(mail_dir: str, tracking_code: str) -> list[mailbox.MaildirMessage]:
    return [m for m in recent_mail(mail_dir) if m["To"] == pii.EMAIL and tracking_code in text_of(m)]


def text_of(message: mailbox.MaildirMessage) -> str:
    return bytes(message.get_payload(decode=True)).decode()


async def test_the_citizen_is_told_received_and_answered(
    platform: dict[str, Any], infra_dir: Path, staff_token: Callable[..., str]
) -> None:
    """One 'received' email and SMS, then one email with the agency's answer; each exactly once."""
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    routing = f"http://127.0.0.1:{platform['http_ports']['routing']}"
    body = pii.sample_report(category="dien-chieu-sang", caller=21)
    phone = body["reporter"]["phone"]  # type: ignore[index]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{intake}/api/v1/reports", json=body, headers=pii.caller_headers(21)) as resp:
            assert resp.status == 201, await resp.text()
            created = await resp.json()
        code = created["tracking_code"]

        async def received() -> list[mailbox.MaildirMessage]:
            return citizen_emails(platform["mail_dir"], code)

        first = (await until(received, "the 'received' email"))[0]
        assert ".citizen.received.email@" in first["Message-ID"] or ".citizen.assigned.email@" in first["Message-ID"]
        sms_file = infra_dir / "gateway" / "sms.jsonl"

        async def texted() -> list[dict[str, Any]]:
            if not sms_file.exists():
                return []
            lines = [json.loads(line) for line in sms_file.read_text().splitlines() if line.strip()]
            return [m for m in lines if code in m["text"]]

        sms = (await until(texted, "the 'received' SMS"))[0]
        assert sms["to"] == "+84" + str(phone)[1:]

        async def agency() -> str | None:
            headers = {"X-Tracking-Secret": created["tracking_secret"]}
            async with http.get(f"{intake}/api/v1/reports/{code}", headers=headers) as resp:
                tracked = await resp.json()
            return tracked["agency"]["code"] if tracked["status"] == "assigned" else None

        officer = {"Authorization": f"Bearer {staff_token(Role.OFFICER, await until(agency, 'the assignment'))}"}
        work = f"{routing}/api/v1/work/reports/{created['id']}"
        answer = "Điện lực đã thay bóng đèn đường trước chợ, kính báo người phản ánh."
        for action, payload in (("accept", None), ("answer", {"text": answer})):
            async with http.post(f"{work}/{action}", json=payload, headers=officer) as resp:
                assert resp.status == 200, await resp.text()

        async def answered() -> list[mailbox.MaildirMessage]:
            return [m for m in citizen_emails(platform["mail_dir"], code) if answer in text_of(m)]

        await until(answered, "the answer by email")

        async def three_texts() -> bool:
            return len(await texted()) >= 3

        await until(three_texts, "the answer's SMS")
        await asyncio.sleep(2)  # a duplicate would have arrived by now
        texts = await texted()
    # received, assigned, answered: each once by email and once by SMS (in_progress tells the citizen nothing)
    emails = citizen_emails(platform["mail_dir"], code)
    kinds = sorted(str(m["Message-ID"]).split(".citizen.")[1].split(".")[0] for m in emails)
    assert kinds == ["answered", "assigned", "received"]
    assert len({str(m["Message-ID"]) for m in emails}) == len(emails) == 3
    assert len([m for m in emails if answer in text_of(m)]) == 1
    assert len(texts) == 3
    assert all(answer not in t["text"] for t in texts)  # the SMS carries the link, not the answer
