from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from paht_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore")

    service_name: str = "routing"
    db_schema: str = "routing"
    database_url: str = "postgresql://routing:paht-routing-dev@127.0.0.1:5432/paht"
    http_port: int = 8083
    # Office hours in Vietnam (UTC+7); the answer deadline ends at close of business on its last working day.
    timezone: str = "Asia/Ho_Chi_Minh"
    office_close_hour: int = 17
    # Where unmatched reports go (the 1022 coordinator's triage queue).
    coordinator_agency: str = "VP-UBND"
    # Deadlines (paht_shared.calendar): working days per category, counted on the province's calendar within
    # office hours; urgent reports get fewer days; emergencies (hotline) are counted in clock hours.
    office_hours: str = "07:00-11:30,13:30-17:00"
    extra_days_off: str = ""
    extra_working_days: str = ""
    urgent_working_days: int = 2
    emergency_hours: int = 4
    # The deadline watch: how often it looks, and how close to the deadline an agency is reminded.
    deadline_check_seconds: float = 30.0
    due_soon_working_days: int = 1
    max_extension_working_days: int = 15
    # Agency queue topics routing creates when it loads agencies (a production cluster: replication 3).
    kafka_partitions: int = 6
    kafka_replication: int = 1
    # Staff accounts: routing issues the staff tokens every service verifies. The private JWK (EdDSA) whose
    # public half the services' AUTH_JWKS holds; None: login answers 503 auth_not_configured.
    auth_signing_key: str | None = None
    token_ttl_seconds: int = 900
    # Consecutive failed logins that lock an account, and for how long (password guessing, not a user's typo).
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    # A province's OpenID Connect provider: its ID tokens are exchanged for our token when all three are set.
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    # The ID token claim matched against staff_accounts.oidc_subject ("email", "sub", "preferred_username").
    oidc_claim: str = "email"
