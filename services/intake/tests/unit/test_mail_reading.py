"""Mail -> report fields: loops, HTML, signatures, structured lines, titles, the sender, refusal causes."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from intake import domain
from intake.mail.loops import SenderLimiter, automatic_reason
from intake.mail.reading import UnreadableMail, html_to_text, parse_message, read_mail, trim_reply
from intake.mail.structured import category_code, read_structured
from intake.mail.submission import refusal_cause, submission
from paht_shared import reference

OURS = ("paht@soctrang.gov.vn",)
BODY = "Cống thoát nước trước nhà bị vỡ nhiều ngày, nước tràn ra đường gây ngập."


def message(headers: dict[str, str] | None = None, body: str = BODY, subtype: str = "plain") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Nguyễn Văn An <an@example.vn>"
    msg["To"] = OURS[0]
    msg["Subject"] = "Cống bị vỡ trên đường Lê Lợi"
    msg["Message-ID"] = "<m1@example.vn>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, subtype=subtype)
    return msg


def reread(msg: EmailMessage) -> EmailMessage:
    return parse_message(msg.as_bytes())


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto_submitted"),
        ({"Auto-Submitted": "auto-generated; owner-email=x"}, "auto_submitted"),
        ({"X-Autoreply": "yes"}, "autoresponder_header"),
        ({"X-Autorespond": "1"}, "autoresponder_header"),
        ({"X-Auto-Response-Suppress": "All"}, "autoresponder_header"),
        ({"Precedence": "bulk"}, "bulk_precedence"),
        ({"Precedence": "auto_reply"}, "bulk_precedence"),
        ({"List-Id": "<tin-tuc.example.vn>"}, "mailing_list"),
        ({"List-Unsubscribe": "<mailto:x@example.vn>"}, "mailing_list"),
    ],
)
def test_automatic_messages_are_recognised(headers: dict[str, str], reason: str) -> None:
    """Each marker of an automatic or list message is a reason not to answer."""
    assert automatic_reason("an@example.vn", reread(message(headers)), OURS) == reason


def test_a_person_s_mail_is_not_automatic() -> None:
    """Auto-Submitted: no, and an ordinary sender, pass."""
    assert automatic_reason("an@example.vn", reread(message({"Auto-Submitted": "no"})), OURS) is None


def test_bounces_robots_and_our_own_mail_are_automatic() -> None:
    """Null sender, a DSN, mailer-daemon/noreply senders, and mail from our own address."""
    assert automatic_reason("", reread(message()), OURS) == "null_sender"
    dsn = message()
    dsn.make_mixed()
    dsn.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    assert automatic_reason("a@example.vn", dsn, OURS) == "delivery_report"
    assert automatic_reason("MAILER-DAEMON@mx.example.vn", reread(message()), OURS) == "robot_sender"
    assert automatic_reason("no-reply@bank.example.vn", reread(message()), OURS) == "robot_sender"
    assert automatic_reason("PAHT@soctrang.gov.vn", reread(message()), OURS) == "own_address"


def test_sender_limit_per_hour() -> None:
    """Three an hour: the fourth waits until the first is an hour old; a given-back count frees a place."""
    now = [0.0]
    limiter = SenderLimiter(3, clock=lambda: now[0])
    assert [limiter.allow("A@example.vn") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b@example.vn")
    limiter.forget_last("a@example.vn")
    assert limiter.allow("a@example.vn")
    now[0] = 3600.5
    assert limiter.allow("a@example.vn")


def test_html_to_text_keeps_text_and_drops_markup_and_scripts() -> None:
    """Blocks become lines; script, style and head vanish; entities are decoded; nothing is rendered."""
    html = (
        "<html><head><title>x</title><style>p{color:red}</style></head><body>"
        "<p>Cống bị <b>vỡ</b>&nbsp;&amp; ngập</p><script>alert(1)</script><div>Dòng hai<br>Dòng ba</div>"
        "</body></html>"
    )
    assert html_to_text(html) == "Cống bị vỡ & ngập\n\nDòng hai\nDòng ba"


def test_signatures_and_quoted_replies_are_trimmed() -> None:
    """The sender's words only: not the signature, the quoted message or "> " lines."""
    text = "Nội dung phản ánh.\n> trích dẫn\nThêm ý.\n-- \nNguyễn Văn An\n0912345678"
    assert trim_reply(text) == "Nội dung phản ánh.\nThêm ý."
    reply = "Bổ sung thông tin.\n\nOn Mon, 1 Jun 2026 at 08:00, PAHT <paht@soctrang.gov.vn> wrote:\nold"
    assert trim_reply(reply) == "Bổ sung thông tin."


def test_structured_lines_fill_category_ward_address_and_phone() -> None:
    """Key lines in any spelling; an unknown category or ward, or a wrong phone, is left out."""
    wards = domain.ward_lookup(reference.wards(92))
    body = "Lĩnh vực: Thoát nước, ngập úng\nPhường/Xã: Phú Lợi\nĐịa chỉ: 12 Lê Lợi\nĐiện thoại: 0912 345 678\n"
    lines = read_structured(body, wards)
    assert (lines.category, lines.ward_name, lines.address_text, lines.phone) == (
        "thoat-nuoc-ngap",
        "Phú Lợi",
        "12 Lê Lợi",
        "+84912345678",
    )
    bad = read_structured("loai: khong co\nphuong xa: Nơi Không Có\nsdt: 12345\n", wards)
    assert (bad.category, bad.ward_name, bad.phone) == (None, None, None)
    assert category_code("moi truong") == "moi-truong"  # "Môi trường (khác)" without the parenthesis
    assert category_code("rac-thai") == "rac-thai"


def test_read_mail_takes_sender_name_title_and_content() -> None:
    """From's address is the contact, its display name the reporter's name; subject -> title."""
    mail = read_mail(reread(message()), "bounce-1@example.vn")
    assert (mail.sender, mail.display_name, mail.title, mail.content) == (
        "an@example.vn",
        "Nguyễn Văn An",
        "Cống bị vỡ trên đường Lê Lợi",
        BODY,
    )
    assert mail.message_id == "<m1@example.vn>"


def test_a_display_name_that_is_not_a_name_is_dropped() -> None:
    """ "Phòng KT 3 <...>" has digits: no name, the report still goes on."""
    msg = message()
    msg.replace_header("From", "Phong KT 3 <kt3@example.vn>")
    assert read_mail(reread(msg), "kt3@example.vn").display_name is None


def test_short_subject_gives_way_to_the_body_s_first_line() -> None:
    """A subject like "Re:" or "gấp" says nothing: the first line of the body is the title."""
    msg = message(body="Đèn đường hỏng ở hẻm 12\nTối om nhiều ngày rồi, rất nguy hiểm cho người đi đường.")
    msg.replace_header("Subject", "Re: gấp")
    assert read_mail(reread(msg), "an@example.vn").title == "Đèn đường hỏng ở hẻm 12"


def test_html_only_mail_and_attachments() -> None:
    """No text/plain: the HTML's text; images are attachments, other files are skipped."""
    msg = message(body="<p>Cống <i>vỡ</i> gây ngập nặng trước số 12</p>", subtype="html")
    msg.add_attachment(b"\xff\xd8\xff\xe0fake-jpeg", maintype="image", subtype="jpeg", filename="a.jpg")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="don.pdf")
    mail = read_mail(reread(msg), "an@example.vn")
    assert mail.content == "Cống vỡ gây ngập nặng trước số 12"
    assert [(a.content_type, a.data) for a in mail.attachments] == [("image/jpeg", b"\xff\xd8\xff\xe0fake-jpeg")]
    assert mail.skipped_attachments == 1


def test_a_mail_without_any_text_cannot_be_a_report() -> None:
    """No subject and no body: refused with a cause."""
    msg = EmailMessage()
    msg["From"] = "an@example.vn"
    msg.set_content("")
    with pytest.raises(UnreadableMail) as caught:
        read_mail(reread(msg), "an@example.vn")
    assert caught.value.code == "no_text"


def test_raw_8bit_tcvn3_subject_is_read() -> None:
    """A legacy mailer's Subject in raw TCVN3 bytes, without any encoding declared."""
    raw = (
        b"From: an@example.vn\r\nTo: paht@soctrang.gov.vn\r\nSubject: C\xe8ng tho\xb8t n\xad\xedc b\xde v\xec\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n" + "Cống bị vỡ gây ngập cả đoạn đường.".encode()
    )
    assert read_mail(parse_message(raw), "an@example.vn").title == "Cống thoát nước bị vỡ"


def test_submission_and_refusal_causes() -> None:
    """The raw body in intake's field names; validation errors become a plain-ASCII cause without values."""
    mail = read_mail(reread(message()), "an@example.vn")
    wards = domain.ward_lookup(reference.wards(92))
    raw = submission(mail, read_structured("Phường: Phú Lợi", wards), [])
    assert raw["channel"] == "email"
    assert raw["reporter"] == {"email": "an@example.vn", "full_name": "Nguyễn Văn An"}
    assert raw["location"] == {"ward_name": "Phú Lợi"}
    assert "full_name" not in submission(mail, read_structured("", wards), [], with_name=False)["reporter"]
    cause = refusal_cause(
        [
            {"field": "content", "code": "too_short", "message": "x"},
            {"field": "reporter.email", "code": "invalid_email", "message": "x"},
        ]
    )
    assert cause.isascii()
    assert "at least 20 characters" in cause
    assert "not a valid email address" in cause
