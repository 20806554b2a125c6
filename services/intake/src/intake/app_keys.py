"""Typed application state (aiohttp AppKey)."""

from __future__ import annotations

from aiohttp import web

from intake.config import Settings
from intake.service import PersonalDataVault

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
VAULT: web.AppKey[PersonalDataVault] = web.AppKey("vault", PersonalDataVault)
