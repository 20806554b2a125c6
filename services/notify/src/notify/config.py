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
    # The development SMTP sink (python -m notify sink): where it listens and where it keeps messages.
    sink_host: str = "127.0.0.1"
    sink_port: int = 2526
    sink_dir: str = ".infra/mail"
