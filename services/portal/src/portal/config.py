from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from paht_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    service_name: str = "portal"
    db_schema: str = "portal"
    database_url: str = "postgresql://portal:paht-portal-dev@127.0.0.1:5432/paht"
    http_port: int = 8080
    # The services' public HTTP APIs: the portal is a channel frontend and reads or writes nothing else.
    intake_url: str = "http://127.0.0.1:8081"
    routing_url: str = "http://127.0.0.1:8083"
    media_url: str = "http://127.0.0.1:8082"
    backend_timeout_seconds: float = 15.0
    # Session cookies: Secure (HTTPS only) everywhere but a development machine on http://127.0.0.1.
    cookie_secure: bool = True
    session_hours: int = 8  # a staff session ends after a working day; a citizen's form state sooner
    # "k1:<base64 32 bytes>[,k0:...]": sessions are encrypted at rest (the first key encrypts, all decrypt). They
    # hold a staff token, a tracking secret, a hotline call's draft with the caller's name. No default.
    session_keys: str
    max_upload_bytes: int = 200 * 1024 * 1024  # a phone video; media applies its own limits per kind
    # The public map's frame (south,west,north,east): the tenant's box, as intake's INTAKE_AREA_BBOX.
    area_bbox: str = "9.15,105.20,10.40,106.35"
