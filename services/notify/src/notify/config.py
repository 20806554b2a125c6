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
    portal_url: str = "http://127.0.0.1:8080"
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
