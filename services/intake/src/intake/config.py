from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from paht_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service_name: str = "intake"
    db_schema: str = "intake"
    database_url: str = "postgresql://intake:paht-intake-dev@127.0.0.1:5432/paht"
    http_port: int = 8081
    # "k1:<base64 32 bytes>[,k0:...]": the first key encrypts, all decrypt. No default: keys live outside the repo.
    pii_keys: str
    blind_index_key: str
    # The tenant: Thành phố Cần Thơ (includes the former Sóc Trăng province), and its map bounds as
    # "south,west,north,east" (a box around the city's 103 wards and communes; boundary data can refine it).
    province_code: int = 92
    area_bbox: str = "9.15,105.20,10.40,106.35"
    max_body_bytes: int = 256 * 1024

    # A report's time of occurrence: not in the future beyond a phone's clock drift, not older than this.
    clock_skew_minutes: int = 10
    max_report_age_days: int = 365

    # The reception desk's hours (Bộ phận tiếp nhận): a report counts as received at the next moment inside
    # them; deadlines count from it. The desk closes half an hour before the offices (17:00) so that what it
    # receives is registered the same day. Public holidays and Tết come from the `holidays` package.
    reception_hours: str = "07:00-11:30,13:30-16:30"
    extra_days_off: str = ""  # "YYYY-MM-DD,..." the government's extra days off (Tết bridges)
    extra_working_days: str = ""  # make-up Saturdays

    # After an answer the citizen may rate it and reopen the report within this window, this many times.
    answer_window_days: int = 30
    max_reopens: int = 2

    # Abuse limits (429 with Retry-After; nothing is written beyond them).
    submissions_per_phone_per_hour: int = 10
    submissions_per_ip_per_minute: int = 20
    # Requests from these addresses carry the citizen's address in X-Forwarded-For (the portal, the proxy).
    trusted_proxies: str = "127.0.0.1,::1"
    wrong_secrets_per_code: int = 10  # then the code is locked for tracking_lock_minutes
    tracking_lock_minutes: int = 15

    # Notify's X25519 public key (paht_shared.sealing, urlsafe base64): the reporter's contact travels in
    # report.submitted sealed with it, readable by notify alone. Unset: no contact leaves intake, and the
    # citizen gets no notifications.
    notify_public_key: str | None = None

    # Inbound email (python -m intake smtp): an SMTP server that turns mail to the province's PAHT address(es)
    # into reports (EMAIL.md). Mail to any other address is refused (no relaying).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    mail_addresses: str = "paht@soctrang.gov.vn"  # comma-separated; also "our own" senders, never answered
    # Whole message as sent (SIZE); base64 makes attachments a third larger. Beyond it: 552.
    mail_max_bytes: int = 30 * 1024 * 1024
    # Reports from one sender address per hour (a robot that marks nothing cannot loop); beyond it: 450.
    mail_per_sender_per_hour: int = 10
    # The media service's upload API, which takes the attachments; and how long one upload may take.
    media_url: str = "http://127.0.0.1:8082"
    media_timeout_seconds: float = 60.0
