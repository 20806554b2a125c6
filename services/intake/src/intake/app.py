"""build_app(settings) -> the intake web application."""

from __future__ import annotations

import base64
from datetime import timedelta

import structlog
from aiohttp import web

from intake import handlers, hotline_handlers, staff_handlers
from intake.app_keys import CITIZEN_POLICY, RECEPTION, SETTINGS, SUBMISSION_LIMITER, TENANT, VAULT
from intake.config import Settings
from intake.limits import AddressLimiter
from intake.open311 import handlers as open311_handlers
from intake.openapi import API
from intake.service import PersonalDataVault, Reception
from intake.tracking import CitizenPolicy
from intake.validation import TenantArea
from paht_shared.calendar import OfficeCalendar
from paht_shared.crypto import FieldCipher, Keyring
from paht_shared.openapi import serve_openapi
from paht_shared.runtime import service_app
from paht_shared.sealing import check_public_key

log = structlog.get_logger("intake.app")


def make_vault(settings: Settings) -> PersonalDataVault:
    notify_key = settings.notify_public_key or None
    if notify_key is not None:
        check_public_key(notify_key)  # a wrong key fails the start, not every submission
    return PersonalDataVault(
        FieldCipher(Keyring.parse(settings.pii_keys)), base64.b64decode(settings.blind_index_key), notify_key
    )


def tenant_area(settings: Settings) -> TenantArea:
    south, west, north, east = (float(x) for x in settings.area_bbox.split(","))
    return TenantArea.of(
        settings.province_code,
        (south, west, north, east),
        max_report_age=timedelta(days=settings.max_report_age_days),
        clock_skew=timedelta(minutes=settings.clock_skew_minutes),
    )


def reception(settings: Settings) -> Reception:
    calendar = OfficeCalendar.from_settings(
        office_hours=settings.reception_hours,
        extra_days_off=settings.extra_days_off,
        extra_working_days=settings.extra_working_days,
    )
    return Reception(calendar, settings.submissions_per_phone_per_hour)


def citizen_policy(settings: Settings) -> CitizenPolicy:
    return CitizenPolicy(
        answer_window=timedelta(days=settings.answer_window_days),
        max_reopens=settings.max_reopens,
        wrong_secrets_per_code=settings.wrong_secrets_per_code,
        lock_window=timedelta(minutes=settings.tracking_lock_minutes),
    )


def build_app(settings: Settings) -> web.Application:
    app = service_app(settings, client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[VAULT] = make_vault(settings)
    if app[VAULT].notify_public_key is None:
        # Said once per process: without the key no contact is sealed and notify cannot tell any citizen.
        log.warning("citizen_notifications_off", reason="INTAKE_NOTIFY_PUBLIC_KEY not set")
    app[TENANT] = tenant_area(settings)
    app[RECEPTION] = reception(settings)
    app[CITIZEN_POLICY] = citizen_policy(settings)
    app[SUBMISSION_LIMITER] = AddressLimiter(
        settings.submissions_per_ip_per_minute, frozenset(settings.trusted_proxies.split(","))
    )

    app.router.add_get("/api/v1/categories", handlers.list_categories)
    app.router.add_get("/api/v1/wards", handlers.list_wards)
    app.router.add_get("/api/v1/areas", handlers.list_areas)
    app.router.add_post("/api/v1/reports", handlers.post_report)
    app.router.add_get("/api/v1/reports/{tracking_code}", handlers.get_report)
    app.router.add_post("/api/v1/reports/{tracking_code}/information", handlers.post_information)
    app.router.add_post("/api/v1/reports/{tracking_code}/rating", handlers.post_rating)
    app.router.add_post("/api/v1/reports/{tracking_code}/reopen", handlers.post_reopen)
    app.router.add_post("/api/v1/reports/{tracking_code}/notifications", handlers.post_notifications)
    app.router.add_get("/api/v1/public/reports", handlers.list_public_reports)
    app.router.add_get("/api/v1/public/reports/{tracking_code}", handlers.get_public_report)
    app.router.add_get("/api/v1/public/stats", handlers.get_public_stats)
    staff_handlers.add_staff_routes(app)
    open311_handlers.add_open311_routes(app)
    hotline_handlers.add_hotline_routes(app)
    serve_openapi(app, API)
    return app
