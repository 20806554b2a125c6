"""A reply to our automatic email: the tracking code in its subject, and the information text it becomes."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from intake import domain
from intake.mail.reading import parse_message, read_mail
from intake.mail.replies import REPLY_MAX, TRACKING_CODE, reply_text, tracking_code_in
from intake.mail.structured import StructuredLines, read_structured
from intake.validation import TenantArea
from notify.notices import Contact, Links, for_citizen

TENANT = TenantArea.of(92, (9.0, 105.0, 10.5, 106.5), max_report_age=timedelta(days=30), clock_skew=timedelta(0))


def test_the_code_is_found_in_a_reply_subject_in_any_case() -> None:
    """ "Re:"/"TL:" and our own subject around it, or retyped in lower case: the stored spelling."""
    assert tracking_code_in("Re: [PAHT] Đã tiếp nhận phản ánh — PA-7KQ2M9XA") == "PA-7KQ2M9XA"
    assert tracking_code_in("TL: bổ sung cho pa-7kq2m9xa nhé") == "PA-7KQ2M9XA"
    assert tracking_code_in("Re: Re: PA-7KQ2M9XA (địa chỉ)") == "PA-7KQ2M9XA"


def test_what_is_not_a_code_is_not_taken_for_one() -> None:
    """Letters the alphabet leaves out (0/O/1/I/L), a code too short or too long, no code at all."""
    for subject in ("PA-0KQ2M9XA", "PA-IKQ2M9XA", "PA-7KQ2M9X", "PA-7KQ2M9XA2", "XPA-7KQ2M9XA", "Cống bị vỡ"):
        assert tracking_code_in(subject) is None, subject


def test_every_code_intake_draws_is_recognised() -> None:
    """The pattern keeps up with domain.new_tracking_code (its alphabet is written out twice)."""
    for _ in range(500):
        code = domain.new_tracking_code()
        assert TRACKING_CODE.fullmatch(code), code
    assert set(TRACKING_CODE.pattern.split("[")[1].split("]")[0]) == set(domain._CODE_ALPHABET)


def test_a_reply_keeps_its_subject_and_its_own_words_apart() -> None:
    """The subject as sent (for the code), the body without the quoted reception email; an empty body stays
    empty there, while the report's content would take the subject."""
    msg = EmailMessage()
    msg["From"] = "an@example.vn"
    msg["Subject"] = "Re: [PAHT] Đã tiếp nhận phản ánh — PA-7KQ2M9XA"
    msg.set_content("Phường/Xã: Phú Lợi\n\nVào Thứ Hai, PAHT đã viết:\n> Kính gửi Quý ông/bà,\n")
    mail = read_mail(parse_message(msg.as_bytes()), "an@example.vn")
    assert mail.subject == "Re: [PAHT] Đã tiếp nhận phản ánh — PA-7KQ2M9XA"
    assert mail.body == "Phường/Xã: Phú Lợi"
    empty = EmailMessage()
    empty["From"] = "an@example.vn"
    empty["Subject"] = "Re: [PAHT] Đã tiếp nhận phản ánh — PA-7KQ2M9XA"
    empty.set_content("> Kính gửi Quý ông/bà,\n")
    bare = read_mail(parse_message(empty.as_bytes()), "an@example.vn")
    assert (bare.body, bare.content) == ("", "Re: [PAHT] Đã tiếp nhận phản ánh — PA-7KQ2M9XA")


def test_the_key_lines_are_restated_in_the_names_the_coordinator_uses() -> None:
    """Ward and category by their reference names, the address as typed; the citizen's words first."""
    body = "Chỗ đó ở gần chợ.\nphuong xa: phu loi\nDia chi: 12 Lê Lợi\nLinh vuc: rac thai"
    text = reply_text(body, read_structured(body, TENANT.ward_names), TENANT, attachments=0)
    assert text.startswith(body + "\n\nThông tin đọc được từ thư trả lời:\n")
    assert "Phường/Xã: Phường Phú Lợi" in text
    assert "Địa chỉ: 12 Lê Lợi" in text
    assert "Lĩnh vực: Rác thải" in text


def test_a_reply_without_key_lines_is_its_words_and_attachments_are_mentioned() -> None:
    """Nothing is added to a plain reply; files that were not attached are named for the coordinator; the text
    never exceeds what an information reply may hold."""
    assert reply_text("Số nhà 12 đường Lê Lợi.", StructuredLines(), TENANT, 0) == "Số nhà 12 đường Lê Lợi."
    noted = reply_text("Số nhà 12 đường Lê Lợi.", StructuredLines(), TENANT, 2)
    assert (
        noted
        == "Số nhà 12 đường Lê Lợi.\n\nThư trả lời có 2 tệp đính kèm chưa được nhận; có thể cần hỏi lại người phản ánh."
    )
    long = reply_text("x" * 6000, StructuredLines(ward_name="Phú Lợi"), TENANT, 1)
    assert len(long) <= REPLY_MAX
    assert long.endswith("có thể cần hỏi lại người phản ánh.")


def test_notify_s_reception_notice_is_a_message_a_reply_to_finds_its_report() -> None:
    """The contract with notify: the reception email's subject carries the code this module reads back from
    "Re: <subject>", and only the notice of an incomplete report invites a reply (the others still say not to
    answer)."""
    contact = Contact("dan@example.vn", None, None, email_on=True, sms_on=False, push_on=False)
    code = domain.new_tracking_code()
    facts = {"tracking_code": code, "title": "Đèn đường hỏng", "missing": ["địa điểm xảy ra"], "emailed_secret": "s"}
    [incomplete] = for_citizen("citizen.received", facts, contact, Links("http://127.0.0.1:8080"))
    assert incomplete.subject is not None
    assert tracking_code_in(f"Re: {incomplete.subject}") == code
    assert "trả lời thư này" in incomplete.text
    assert "vui lòng không trả lời" not in incomplete.text
    assert "Bổ sung thông tin" in incomplete.text  # the tracking page stays the other way
    [complete] = for_citizen("citizen.received", {**facts, "missing": []}, contact, Links("http://127.0.0.1:8080"))
    assert "vui lòng không trả lời thư này" in complete.text
