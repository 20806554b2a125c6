from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from paht_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIA_", extra="ignore")

    service_name: str = "media"
    db_schema: str = "media"
    database_url: str = "postgresql://media:paht-media-dev@127.0.0.1:5432/paht"
    http_port: int = 8082
    s3_endpoint: str = "127.0.0.1:8333"
    s3_access_key: str = "paht-dev-access"
    s3_secret_key: str = "paht-dev-secret-key"  # noqa: S105 - the embedded dev stack's own credential
    s3_bucket: str = "paht-media"
    s3_secure: bool = False
    max_upload_bytes: int = 50 * 1024 * 1024
