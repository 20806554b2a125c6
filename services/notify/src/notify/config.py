from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from paht_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    service_name: str = "notify"
    db_schema: str = "notify"
    database_url: str = "postgresql://notify:paht-notify-dev@127.0.0.1:5432/paht"
    http_port: int = 8084
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2526
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "PAHT Cần Thơ <no-reply@paht.example>"
    # Where a citizen's reply to our email goes: the province's PAHT address, which intake's SMTP listener
    # receives (a reply naming a report awaiting information completes it). Empty: no Reply-To.
    reply_to: str = "PAHT Cần Thơ <paht@soctrang.gov.vn>"
    portal_url: str = "http://127.0.0.1:8080"
    # The private half of the key intake seals citizens' contacts with (paht_shared.sealing); without it
    # notify tells agencies only.
    contact_private_key: str | None = None
    # A delivery that kept failing this many times (the gateway or mail server away) is marked failed for a
    # person to see (`python -m notify deliveries`); the pause between attempts doubles, with jitter.
    max_attempts: int = 10
    smtp_pool_size: int = 4
    # SMS gateway and push webhook (the defaults point at `python -m notify gateway`, the development recorder)
    sms_url: str = "http://127.0.0.1:2527/sms"
    sms_api_key: str = "paht-sms-dev"
    sms_sender_id: str = "PAHT"
    # What the gateway contract allows. At 5/s, 2 reports a second (4 SMS/s: received, assigned) left a backlog
    # after any outage almost nothing to drain with: the SMS of a 20 s outage were still going out 2 minutes later.
    sms_rate_per_second: float = 30.0
    push_url: str = "http://127.0.0.1:2527/push"
    push_secret: str = "paht-push-dev"  # noqa: S105 - the development recorder's own secret
    push_rate_per_second: float = 20.0
    channel_timeout_seconds: float = 10.0
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 2527
    gateway_dir: str = ".infra/gateway"
    gateway_fail_next: int = 0
    # The sender (runs in the consume process): how often it looks for due deliveries, how many it claims at
    # once, the first pause after the mail server was away (doubling), and after how long a row a sender
    # left `sending` counts as abandoned (far beyond smtp_timeout_seconds: a live sender is never that slow).
    sender_poll_seconds: float = 0.5
    sender_batch_size: int = 20
    sender_retry_backoff_seconds: float = 1.0
    sender_abandoned_seconds: float = 300.0
    # The development SMTP sink (python -m notify sink): where it listens and where it keeps messages.
    sink_host: str = "127.0.0.1"
    sink_port: int = 2526
    sink_dir: str = ".infra/mail"
