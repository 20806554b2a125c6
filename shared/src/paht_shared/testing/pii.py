"""Personal data used by tests. The log and Kafka scans look for exactly these values."""

from __future__ import annotations

FULL_NAME = "Nguyễn Văn An"
ADDRESS = "12 Lê Lợi, Phường Sóc Trăng"
CCCD = "094090001234"
PHONE = "0912345678"
EMAIL = "nguyen.van.an@example.vn"

# Values specific enough that finding one in a log can only be a leak.
SCANNED_VALUES = (FULL_NAME, ADDRESS, CCCD, PHONE, "912345678", EMAIL)


def sample_report(category: str = "moi-truong", ward_code: str = "31507") -> dict[str, object]:
    """The contract body from the walking-skeleton issue."""
    return {
        "channel": "web",
        "reporter": {"full_name": FULL_NAME, "address": ADDRESS, "cccd": CCCD, "phone": PHONE, "email": EMAIL},
        "title": "Rác thải tồn đọng trước chợ",
        "category": category,
        "content": "Rác thải tồn đọng nhiều ngày trước cổng chợ, bốc mùi hôi, ảnh hưởng người dân.",
        "location": {"ward_code": ward_code, "address_text": "Cổng chợ Sóc Trăng", "lat": 9.6025, "lon": 105.9739},
        "occurred_at": "2026-11-27T08:30:00+07:00",
        "public": True,
        "anonymous": False,
        "consent": {"use_personal_data": True, "publish": True},
        "media_ids": [],
    }


def find_leaks(text: str) -> list[str]:
    return [value for value in SCANNED_VALUES if value in text]
