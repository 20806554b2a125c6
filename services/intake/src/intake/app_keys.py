"""Typed application state (aiohttp AppKey)."""

from __future__ import annotations

from aiohttp import web

from intake.config import Settings
from intake.limits import AddressLimiter
from intake.service import PersonalDataVault, Reception
from intake.tracking import CitizenPolicy
from intake.validation import TenantArea

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
VAULT: web.AppKey[PersonalDataVault] = web.AppKey("vault", PersonalDataVault)
TENANT: web.AppKey[TenantArea] = web.AppKey("tenant", TenantArea)
RECEPTION: web.AppKey[Reception] = web.AppKey("reception", Reception)
CITIZEN_POLICY: web.AppKey[CitizenPolicy] = web.AppKey("citizen_policy", CitizenPolicy)
SUBMISSION_LIMITER: web.AppKey[AddressLimiter] = web.AppKey("submission_limiter", AddressLimiter)
