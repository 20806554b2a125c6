"""Development keys: made once into <infra>/secrets.json (outside the repository), then reused.

Keys for personal data live outside the database. A production deployment sets the same variables from its own
secret store; these exist only so that `make run` works on a fresh machine.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable

from paht_devstack.config import Config
from paht_shared.auth import generate_signing_key
from paht_shared.sealing import generate_keypair


def _random_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


# name in secrets.json -> how to make it. A key added here is generated on the next run, and the keys an existing
# secrets.json already holds stay as they are (data encrypted with them stays readable).
GENERATORS: dict[str, Callable[[], str]] = {
    "pii_keys": lambda: "k1:" + _random_key(),  # intake: personal data, AES-256-GCM, key id k1
    "blind_index_key": _random_key,  # intake: keyed lookups of phone and CCCD
    # Staff tokens: the private Ed25519 JWK that signs development tokens (`devstack token`); every service
    # verifies against its public half (<NAME>_AUTH_JWKS). A province points that variable at its own OIDC
    # provider's JWKS instead.
    "auth_signing_key": generate_signing_key,
    # The development stack's first admin account (routing's staff accounts; `make run` creates it).
    "admin_password": lambda: secrets.token_urlsafe(18),
    "media_url_key": lambda: secrets.token_urlsafe(32),  # media: HMAC key of its signed file links
    # notify: the private X25519 key that opens the reporters' contacts; intake seals with its public half
    # (derived from it with sealing.public_key_of, so one stored value keeps the halves matched).
    "notify_contact_key": lambda: generate_keypair()[0],
    # portal: AES-256-GCM keys of the browser sessions at rest (a hotline call's draft holds the caller's name)
    "portal_session_keys": lambda: "k1:" + _random_key(),
}


def dev_secret(cfg: Config, name: str) -> str:
    """The development value of `name`, generated and saved the first time it is asked for."""
    path = cfg.infra / "secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if name not in values:
        values[name] = GENERATORS[name]()
        cfg.infra.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
        path.chmod(0o600)
    return values[name]
