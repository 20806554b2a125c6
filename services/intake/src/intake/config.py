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
    # The tenant: Thành phố Cần Thơ (includes the former Sóc Trăng province).
    province_code: int = 92
    max_body_bytes: int = 256 * 1024
