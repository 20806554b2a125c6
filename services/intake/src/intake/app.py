"""build_app(settings) -> the intake web application."""

from __future__ import annotations

import base64

from aiohttp import web

from intake import handlers
from intake.app_keys import SETTINGS, VAULT
from intake.config import Settings
from intake.service import PersonalDataVault
from paht_shared.crypto import FieldCipher, Keyring
from paht_shared.runtime import service_app


def make_vault(settings: Settings) -> PersonalDataVault:
    return PersonalDataVault(FieldCipher(Keyring.parse(settings.pii_keys)), base64.b64decode(settings.blind_index_key))


def build_app(settings: Settings) -> web.Application:
    app = service_app(settings, client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[VAULT] = make_vault(settings)

    app.router.add_get("/api/v1/categories", handlers.list_categories)
    app.router.add_get("/api/v1/wards", handlers.list_wards)
    app.router.add_post("/api/v1/reports", handlers.post_report)
    app.router.add_get("/api/v1/reports/{tracking_code}", handlers.get_report)
    return app
