"""Settings of the agency connector (`python -m routing connector`), read from `CONNECTOR_*` variables.

The connector runs on the agency's side with the agency's own credentials: a staff account for the agency
API and, on a production cluster, a Kafka principal that may read only the agency's queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paht_shared.contracts import topics


class ConnectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", extra="ignore")

    agency: str = Field(min_length=1, max_length=40)  # the agency code, e.g. SXD
    api_url: str = "http://127.0.0.1:8083"  # routing's base URL
    # Either the agency's staff account (the connector logs in and renews its token itself) or a token given
    # directly (development and tests: when it expires the connector stops, it cannot renew it).
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    kafka_bootstrap: str = "127.0.0.1:9092"
    group_id: str = ""  # empty: agency-<code>-connector, the group the province's ACL names
    topic: str = ""  # empty: agency.<code>.inbox.v1
    case_dir: Path  # the case system's hand-off folder: inbox/ (written here), answers/ (read here)
    auto_accept: bool = True
    answer_poll_seconds: float = Field(default=5.0, gt=0)
    # API outages: the first retry after this, doubling up to the maximum.
    retry_backoff_seconds: float = Field(default=1.0, gt=0)
    max_backoff_seconds: float = Field(default=60.0, gt=0)
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    # Kafka security, passed to aiokafka as they are (a production cluster: SASL_SSL with SCRAM).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_plain_username: str | None = None
    sasl_plain_password: SecretStr | None = None
    ssl_cafile: Path | None = None  # the cluster's CA; None: the system's trust store
    log_level: str = "info"
    log_json: bool = True

    @field_validator("agency")
    @classmethod
    def _upper(cls, code: str) -> str:
        return code.strip().upper()  # tokens and events carry upper-case codes

    @field_validator("api_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> ConnectorSettings:
        if self.token is None and (not self.username or self.password is None):
            raise ValueError("set CONNECTOR_USERNAME and CONNECTOR_PASSWORD (or CONNECTOR_TOKEN)")
        if self.security_protocol.startswith("SASL_") and (
            not self.sasl_plain_username or self.sasl_plain_password is None
        ):
            raise ValueError("SASL needs CONNECTOR_SASL_PLAIN_USERNAME and CONNECTOR_SASL_PLAIN_PASSWORD")
        self.group_id = self.group_id or f"agency-{self.agency.lower()}-connector"
        self.topic = self.topic or topics.agency_inbox(self.agency)
        return self
