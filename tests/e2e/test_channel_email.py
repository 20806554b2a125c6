"""An email to the province's PAHT address through the running platform (intake's SMTP listener on 2525):
a message without a place becomes a report on the real broker (channel email, missing location), routing
holds it in triage as needs_info, and notify sends the sender exactly one automatic reply listing what is
missing with the tracking code and secret; that reply, bounced back to us by an autoresponder, creates
nothing and is not answered."""

from __future__ import annotations

import asyncio
import io
import mailbox
import os
import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from paht_shared.contracts import topics
from paht_shared.envelope import Envelope
from paht_shared.testing.kafka import read_all, until
from paht_shared.testing.mail import recent_mail

pytestmark = pytest.mark.e2e

PAHT_ADDRESS = "paht@soctrang.gov.vn"
SMTP_PORT = int(os.environ.get("PAHT_INTAKE_SMTP_PORT") or 2525)


def photo(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, "JPEG")
    return out.getvalue()


def send(message: EmailMessage, sender: str) -> None:
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=30) as smtp:
        smtp.send_message(message, from_addr=sender, to_addrs=[PAHT_ADDRESS])


def replies_to(mail_dir: str, address: str) -> list[mailbox.MaildirMessage]:
    return [m for m in recent_mail(mail_dir) if m["To"] == address]


async def email_reports(bootstrap: str) -> list[Envelope]:
    """The topic's emailed reports. Other suites put poison records on it on purpose (chaos, dead-letter
    tests): those are not reports and are skipped."""
    found = []
    for record in await read_all(bootstrap, topics.REPORT_SUBMITTED):
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValueError:
            continue
        if isinstance(envelope.data, dict) and envelope.data.get("channel") == "email":
            found.append(envelope)
    return found


async def test_an_email_without_a_place_gets_one_reply_and_the_bounce_of_it_creates_nothing(
    platform: dict[str, Any], infra_dir: Path
) -> None:
    bootstrap = platform["kafka_bootstrap"]
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    sender = f"nguoi.dan.{uuid.uuid4().hex[:10]}@example.vn"
    message = EmailMessage()
    message["From"] = f"Trần Văn Bình <{sender}>"
    message["To"] = PAHT_ADDRESS
    title = f"Cống thoát nước bị tắc gây ngập ở khu {uuid.uuid4().hex[:6]}"  # this run's report on the topic
    message["Subject"] = title
    message["Message-ID"] = f"<{uuid.uuid4()}@example.vn>"
    message.set_content(
        "Kính gửi Ban tiếp nhận,\n\nCống thoát nước bị tắc nhiều ngày, mỗi khi mưa nước ngập cả đoạn đường, "
        "xe máy chết máy giữa đường.\nLĩnh vực: Thoát nước, ngập úng\n"
    )
    for i, colour in enumerate([(40, 90, 160), (160, 90, 40)]):
        message.add_attachment(photo(colour), maintype="image", subtype="jpeg", filename=f"anh-{i}.jpg")
    send(message, sender)

    async def new_report() -> Envelope | None:
        return next((e for e in await email_reports(bootstrap) if e.data["title"] == title), None)

    submitted = await until(new_report, "report.submitted.v1 with channel email")
    report_id = str(submitted.data["report_id"])
    assert submitted.data["missing"] == ["location"]
    assert submitted.data["category"] == "thoat-nuoc-ngap"
    assert len(submitted.data["media_ids"]) == 2
    raw = [r.value or b"" for r in await read_all(bootstrap, topics.REPORT_SUBMITTED) if r.key == report_id.encode()]
    assert raw
    assert all(sender.encode() not in value and "Bình".encode() not in value for value in raw)

    async def needs_info() -> dict[str, Any] | None:
        records = await read_all(bootstrap, topics.REPORT_STATUS_CHANGED)
        changes = [Envelope.from_bytes(r.value or b"").data for r in records if r.key == report_id.encode()]
        return next((c for c in changes if c["status"] == "needs_info"), None)

    change = await until(needs_info, "routing holding the report in triage as needs_info")
    assert (change["triage"], change["reason_code"]) == (True, "missing_fields")

    async def one_reply() -> list[mailbox.MaildirMessage]:
        return replies_to(platform["mail_dir"], sender)

    [reply] = await until(one_reply, "the automatic reply to the sender")
    text = bytes(reply.get_payload(decode=True)).decode()
    assert submitted.data["tracking_code"] in text
    assert "địa điểm xảy ra" in text
    assert reply["Auto-Submitted"] == "auto-generated"
    assert PAHT_ADDRESS in str(reply["Reply-To"])  # the citizen's answer comes back to the listener
    secret = text.split("Mã bí mật để tra cứu và bổ sung thông tin: ")[1].split()[0]
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{intake}/api/v1/reports/{submitted.data['tracking_code']}", headers={"X-Tracking-Secret": secret}
        ) as resp,
    ):
        assert resp.status == 200  # the secret in the reply opens the tracking page
        tracked = await resp.json()
    assert tracked["status"] == "needs_info"

    # The sender's autoresponder answers our reply: nothing is created, nothing is answered.
    bounce = EmailMessage()
    bounce["From"] = sender
    bounce["To"] = PAHT_ADDRESS
    bounce["Subject"] = "Tự động trả lời: [PAHT] Đã tiếp nhận phản ánh"
    bounce["Auto-Submitted"] = "auto-replied"
    bounce["In-Reply-To"] = "".join(str(reply["Message-ID"]).split())
    bounce["Message-ID"] = f"<{uuid.uuid4()}@example.vn>"
    bounce.set_content("Tôi đang đi công tác đến hết tuần, sẽ trả lời thư khi trở về. Xin cảm ơn.")
    count = len(await email_reports(bootstrap))
    smtp_log = infra_dir / "logs" / "intake-smtp.log"
    ignored_before = smtp_log.read_text().count('"mail_ignored"')
    send(bounce, sender)

    async def judged() -> bool:
        return smtp_log.read_text().count('"mail_ignored"') > ignored_before

    await until(judged, "the listener ignoring the auto-reply")  # it arrived and was judged a robot's
    await asyncio.sleep(5)  # what a report would have taken to reach the broker and its reply the sink
    assert len(await email_reports(bootstrap)) == count
    assert len(replies_to(platform["mail_dir"], sender)) == 1
