from __future__ import annotations

from pydantic import Field
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
    # Every key starts with this (e.g. "staging/"), so that several environments can share one bucket.
    s3_key_prefix: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9._-]*/)*$")
    max_upload_bytes: int = 50 * 1024 * 1024
    # An upload is sent to S3 in parts of this size (S3's minimum is 5 MiB); each upload in flight
    # holds about three parts in memory (see README).
    s3_part_size_bytes: int = Field(default=5 * 1024 * 1024, ge=5 * 1024 * 1024, le=64 * 1024 * 1024)
    # Uploads streaming to S3 at once (each holds a thread while its client sends); more wait their turn.
    s3_upload_threads: int = Field(default=16, ge=1)
