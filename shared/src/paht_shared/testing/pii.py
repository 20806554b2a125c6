"""Personal data for tests, drawn fresh for each test session, and the scans that look for it.

Fixed values let a scan pass on data that never reached the code under test, or fail on a leak an
earlier run left behind; values drawn per session can only be found where this session put them.
The pytest plugin writes them to `<infra>/run/pii-values.json` (outside the scanned logs), where
`deploy/scan_personal_data.py` reads them after the tests.

Scans report *which kind* of personal data they found and where, never the value itself: a scan's own
output ends up in a log too.
"""

from __future__ import annotations

import json
import secrets
import time
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

VALUES_FILE = "run/pii-values.json"  # relative to the infra folder (.infra)

_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô")
_MIDDLE = ("Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Quốc", "Đức", "Kim", "Hoài")
_GIVEN: tuple[str, ...] = ("An", "Bảo", "Châu", "Dũng", "Giang", "Hạnh", "Hiếu", "Hòa", "Khánh", "Lan", "Linh", "Lộc")
_GIVEN += ("Mai", "Nhung", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến", "Xuân")
_STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Hai Bà Trưng", "Phú Lợi", "Mạc Đĩnh Chi", "Nguyễn Văn Cừ", "Lý Tự Trọng")
_WARDS = ("Phường Sóc Trăng", "Phường Phú Lợi", "Phường Ninh Kiều", "Phường Cái Khế", "Xã Kế Sách")
# Viettel, Vinaphone, Mobifone, Vietnamobile prefixes (0 + one of these + 7 digits)
_MOBILE_PREFIXES = ("32", "33", "35", "37", "39", "56", "70", "77", "79", "81", "83", "86", "88", "91", "94", "97")
# CCCD: province of registration (092 Cần Thơ, 093 Hậu Giang, 094 Sóc Trăng), then century and sex, birth year
_CCCD_PROVINCES = ("092", "093", "094")


def _digits(count: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(count))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in folded if c.isascii()).lower()


@dataclass(frozen=True)
class PersonalData:
    full_name: str
    address: str
    cccd: str
    phone: str
    email: str

    @classmethod
    def generate(cls) -> PersonalData:
        """A plausible reporter nobody else uses: four-part name, real province code, valid mobile number."""
        given = [secrets.choice(_GIVEN) for _ in range(2)]
        full_name = " ".join([secrets.choice(_FAMILY), secrets.choice(_MIDDLE), *given])
        address = (
            f"{secrets.randbelow(400) + 1}/{secrets.randbelow(60) + 1} {secrets.choice(_STREETS)}, "
            f"{secrets.choice(_WARDS)}"
        )
        century_sex = secrets.choice("0123")  # 0/1: born 19xx (male/female), 2/3: born 20xx
        year = f"{secrets.randbelow(50) + 50:02d}" if century_sex in "01" else f"{secrets.randbelow(8):02d}"
        cccd = secrets.choice(_CCCD_PROVINCES) + century_sex + year + _digits(6)
        phone = "0" + secrets.choice(_MOBILE_PREFIXES) + _digits(7)
        email = f"{_ascii(given[0])}.{_ascii(given[1])}.{_digits(5)}@example.vn"
        return cls(full_name, address, cccd, phone, email)

    def needles(self) -> dict[str, str]:
        """Each text that would betray a value, mapped to the kind of data it betrays.

        Names and addresses also in their JSON-escaped and decomposed (NFD) spellings; the phone as
        0xxxxxxxxx and 84xxxxxxxxx (+84…). The bare nine-digit number is left out: in megabytes of
        broker logs it would turn up by chance.
        """
        found: dict[str, str] = {}
        for kind in ("full_name", "address"):
            value = getattr(self, kind)
            for spelling in {value, unicodedata.normalize("NFD", value)}:
                found[spelling] = kind
                found[json.dumps(spelling)[1:-1]] = kind  # "Nguy\u1ec5n", as ensure_ascii JSON writes it
        found[self.cccd] = "cccd"
        found[self.phone] = "phone"
        found["84" + self.phone[1:]] = "phone"
        found[self.email] = "email"
        return found

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), ensure_ascii=False))
        path.chmod(0o600)

    @classmethod
    def load(cls, path: Path) -> PersonalData:
        return cls(**json.loads(path.read_text()))


# This session's reporter: every test that submits a report uses these values.
PERSON = PersonalData.generate()
FULL_NAME = PERSON.full_name
ADDRESS = PERSON.address
CCCD = PERSON.cccd
PHONE = PERSON.phone
EMAIL = PERSON.email


def sample_report(
    category: str = "moi-truong", ward_code: str = "31507", caller: int | None = None
) -> dict[str, object]:
    """The contract body from the walking-skeleton issue, with this session's reporter.

    `caller`: the n-th simulated citizen of a load run gets a phone of its own (intake limits the reports
    one phone may send in an hour); everything else is this session's reporter."""
    phone = PHONE if caller is None else caller_phone(caller)
    return {
        "channel": "web",
        "reporter": {"full_name": FULL_NAME, "address": ADDRESS, "cccd": CCCD, "phone": phone, "email": EMAIL},
        "title": "Rác thải tồn đọng trước chợ",
        "category": category,
        "content": "Rác thải tồn đọng nhiều ngày trước cổng chợ, bốc mùi hôi, ảnh hưởng người dân.",
        "location": {"ward_code": ward_code, "address_text": "Cổng chợ Sóc Trăng", "lat": 9.6025, "lon": 105.9739},
        "occurred_at": "2026-11-27T08:30:00+07:00",
        "public": True,
        "anonymous": False,
        "consent": {"use_personal_data": True, "publish": True},
        "media": [],
    }


def caller_phone(n: int) -> str:
    """A valid mobile number of the n-th simulated caller (039 + 7 digits; PHONE is drawn elsewhere)."""
    return f"039{n % 10_000_000:07d}"


def caller_headers(n: int) -> dict[str, str]:
    """Headers of the n-th simulated citizen's submission: its own Idempotency-Key and its own address, as
    the local proxy (a trusted one) forwards it; intake limits submissions per address."""
    return {
        "Idempotency-Key": str(uuid.uuid4()),
        "X-Forwarded-For": f"10.{n // 62_500 % 250}.{n // 250 % 250}.{n % 250 + 1}",
    }


def find_leaks(text: str, person: PersonalData = PERSON) -> list[str]:
    """The kinds of `person`'s data (full_name, phone, …) that appear in `text`, sorted; [] when clean."""
    return _kinds(text, person.needles())


def _kinds(text: str, needles: dict[str, str]) -> list[str]:
    return sorted({kind for needle, kind in needles.items() if needle in text})


@dataclass(frozen=True)
class Leak:
    """Where personal data was found: a file, or a topic/partition/offset and the part of the record."""

    where: str
    kinds: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {', '.join(self.kinds)}"


@dataclass
class ScanReport:
    scanned: int = 0  # files or records read
    leaks: list[Leak] = field(default_factory=list)


def scan_files(paths: Iterable[Path], person: PersonalData) -> ScanReport:
    report, needles = ScanReport(), person.needles()
    for path in paths:
        report.scanned += 1
        kinds = _kinds(path.read_text(encoding="utf-8", errors="replace"), needles)
        if kinds:
            report.leaks.append(Leak(str(path), tuple(kinds)))
    return report


async def scan_kafka(
    bootstrap: str, person: PersonalData, topics: Sequence[str] | None = None, timeout: float = 120.0
) -> ScanReport:
    """Read keys, values and header names and values of every record of `topics` (default: every topic on
    the broker except Kafka's own `__…` topics), from each partition's start to its current end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="paht-pii-scan")
    await admin.start()
    try:
        names = list(topics) if topics is not None else [t for t in await admin.list_topics() if not t.startswith("__")]
        described = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    missing = [d["topic"] for d in described if d["error_code"]]
    if missing and topics is not None:
        raise LookupError(f"cannot read topic(s) {missing}")
    described = [d for d in described if not d["error_code"]]  # listed, then deleted before we got there
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    report, needles = ScanReport(), person.needles()
    if not partitions:
        return report
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, client_id="paht-pii-scan", group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        unread = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        deadline = time.monotonic() + timeout
        while unread:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {len(unread)} partition(s) to their end")
            for tp, records in (await consumer.getmany(*unread, timeout_ms=500, max_records=5000)).items():
                for record in records:
                    report.scanned += 1
                    for part, text in _record_parts(record):
                        kinds = _kinds(text, needles)
                        if kinds:
                            where = f"{tp.topic}[{tp.partition}]@{record.offset} {part}"
                            report.leaks.append(Leak(where, tuple(kinds)))
            unread = {tp for tp in unread if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return report


def _record_parts(record: ConsumerRecord[bytes, bytes]) -> list[tuple[str, str]]:
    """(part, text) for the key, the value and each header (its name and value together)."""
    parts = [("key", _text(record.key)), ("value", _text(record.value))]
    for index, (name, value) in enumerate(record.headers or ()):
        parts.append((f"header #{index}", f"{name}={_text(value)}"))
    return parts


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", errors="replace")
