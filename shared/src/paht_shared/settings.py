"""Settings base: every service reads its environment once, in __main__, with its own prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Infrastructure every service process needs; defaults fit the embedded dev stack.

    Subclasses set ``model_config = SettingsConfigDict(env_prefix="INTAKE_")`` and a default DSN.
    """

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/paht"
    # The schema this service owns; tests point it at a throwaway schema.
    db_schema: str = "public"
    db_pool_min: int = 1
    db_pool_max: int = 10
    # With the database down or saturated a request fails fast (503) instead of hanging: opening a connection
    # and waiting for a pooled one (that wait includes opening it) are bounded.
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    db_acquire_timeout_seconds: float = Field(default=5.0, gt=0)
    kafka_bootstrap: str = "127.0.0.1:9092"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # relay and consumer processes: /healthz, /readyz and /metrics on this port (0: none)
    worker_http_port: int = 0
    log_level: str = "info"
    log_json: bool = True
    # outbox relay
    outbox_batch_size: int = Field(default=200, ge=1, le=5000)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    kafka_send_timeout_seconds: float = Field(default=30.0, gt=0)
    # A row Kafka refuses (topic missing, record too large) is retried with growing pauses (backoff, doubled
    # per attempt, at most 5 minutes) and parked after this many attempts (~8.5 minutes with the defaults),
    # so later events of its bucket keep going; `python -m paht_shared outbox retry` unparks it.
    outbox_max_attempts: int = Field(default=10, ge=1)
    outbox_retry_backoff_seconds: float = Field(default=1.0, ge=0)
    # Published outbox rows are kept for inspection; inbox rows must outlive Kafka's retention (7 days).
    outbox_retention_days: int = Field(default=7, ge=1)
    inbox_retention_days: int = Field(default=14, ge=8)
    # consumers
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_retry_backoff_seconds: float = Field(default=0.5, ge=0)
    # A consumer retrying one record's dependency failure for longer than this fails /readyz: its partition
    # is stuck, even though the loop is alive.
    consumer_stuck_seconds: float = Field(default=120.0, gt=0)
    # Staff bearer tokens (paht_shared.auth): the JWKS as inline JSON, a file path or an http(s) URL (an
    # OpenID Connect provider's jwks_uri). Empty: no token can be verified and staff endpoints refuse all.
    auth_jwks: str = ""
    auth_issuer: str = "paht"
    auth_audience: str = "paht"
    # Comma-separated signature algorithms accepted (asymmetric only; e.g. "EdDSA,RS256" for a provider using RSA).
    auth_algorithms: str = "EdDSA"
