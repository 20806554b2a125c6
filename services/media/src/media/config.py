from __future__ import annotations

import secrets

from pydantic import Field, SecretStr, field_validator
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
    # The ceiling of any upload; each kind has its own, lower or equal (the kind is known from the first bytes).
    max_upload_bytes: int = 100 * 1024 * 1024
    max_image_bytes: int = 15 * 1024 * 1024
    max_video_bytes: int = 100 * 1024 * 1024
    max_audio_bytes: int = 20 * 1024 * 1024
    # An upload is sent to S3 in parts of this size (S3's minimum is 5 MiB); each upload in flight
    # holds about three parts in memory (see README).
    s3_part_size_bytes: int = Field(default=5 * 1024 * 1024, ge=5 * 1024 * 1024, le=64 * 1024 * 1024)
    # Uploads streaming to S3 at once (each holds a thread while its client sends); more wait their turn.
    s3_upload_threads: int = Field(default=16, ge=1)
    # Signed links to sanitised files: the HMAC key and how long a link works. Empty: a random key per process,
    # so links work only on the api process that made them (enough for one api process; set it for more).
    url_signing_key: SecretStr = SecretStr("")
    url_ttl_seconds: int = Field(default=300, ge=10, le=24 * 3600)
    # The worker: unclaimed uploads are deleted after this long (a report is submitted minutes after its
    # photos); originals in quarantine are kept this long after upload (for an appeal), derivatives stay.
    unattached_retention_minutes: int = Field(default=60, ge=0)
    quarantine_retention_days: int = Field(default=30, ge=0)
    retention_check_seconds: float = Field(default=60.0, gt=0)
    # Where the worker unpacks an original while it sanitises it (None: the system's temporary folder).
    work_dir: str | None = None

    @field_validator("url_signing_key")
    @classmethod
    def _key_or_random(cls, value: SecretStr) -> SecretStr:
        return value if value.get_secret_value() else SecretStr(secrets.token_urlsafe(32))
