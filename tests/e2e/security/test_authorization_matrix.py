"""Who may call what: every route of intake, routing, notify and media × every kind of caller, against the
running platform.

The routes come from the services' own application factories (`build_app(settings).router.routes()`), so a
route added to a service and forgotten here fails `test_every_route_has_a_declared_access` at once. The
intended access is declared in ONE table, `ACCESS`: for each route, who may get through and what request
the test sends. Every pair is then sent to the running services about one report created for the run
(private, with one photo attached, assigned by routing), so that a 404 means "hidden" and not "no such
report":

- an identity the table allows must get 2xx, or the route's documented 4xx for a request the test does not
  bother to make complete (`ok`: 422 for an invalid body, 409 for an action the report's state refuses);
- every other identity must be refused for who it is: 401 or 403, or 404 on routes that hide existence
  (`hides`). A 422 or 409 for a refused identity is a failure: the service looked at the request before it
  looked at the caller.

Requests that would change the report for good (return, reject, answer, reassign, …) are sent with an
invalid body, so an allowed caller gets the 422 and nothing happens; routing checks the caller and its scope
before it reads a body. Accepting needs no body: the agency's officer accepts (200); only the lead agency may.
"""

from __future__ import annotations

import importlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from PIL import Image

from paht_devstack.config import Config
from paht_devstack.services import find, service_env
from paht_shared.auth import Role
from paht_shared.testing import pii
from paht_shared.testing.kafka import until

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "routing", "notify", "media")

ANONYMOUS, CITIZEN, WRONG_SECRET = "anonymous", "citizen", "citizen_wrong_secret"
OFFICER, OTHER_OFFICER, OPERATOR = "officer_of_agency", "officer_of_other_agency", "operator"
COORDINATOR, ADMIN = "coordinator", "admin"
# The order the pairs are sent in: the right secret before the wrong one (wrong secrets lock a code after
# `wrong_secrets_per_code`, 10; the wrong one is tried on 6 routes), the agency's officer first (it accepts).
IDENTITIES = (OFFICER, CITIZEN, ANONYMOUS, OTHER_OFFICER, OPERATOR, COORDINATOR, ADMIN, WRONG_SECRET)

EVERYONE = frozenset(IDENTITIES)
NOBODY: frozenset[str] = frozenset()
STAFF = frozenset({OFFICER, OTHER_OFFICER, OPERATOR, COORDINATOR, ADMIN})
AGENCY_WORK = frozenset({OFFICER, COORDINATOR, ADMIN})  # the report's agency, and who sees every agency
AGENCY_QUEUES = frozenset({OFFICER, OTHER_OFFICER, COORDINATOR, ADMIN})  # each officer their own queue
EVERY_AGENCY = frozenset({COORDINATOR, ADMIN})
HOTLINE = frozenset({OPERATOR, COORDINATOR})
ONLY_ADMIN = frozenset({ADMIN})
ONLY_CITIZEN = frozenset({CITIZEN})

REASON = "Kiểm tra phân quyền truy cập (kiểm thử tự động)"
INVALID: dict[str, Any] = {}  # a body every write endpoint refuses with 422
UNKNOWN_FIELD = {"e2e_unknown_field": 1}  # for PATCHes, where {} may be a valid no-op


@dataclass(frozen=True)
class Access:
    """Who may get through a route, and the request sent to find out.

    `path`: the route's path with its placeholders filled from the run's context (`{report_id}`, …);
    `ok`: the statuses that count as "got through" besides 2xx; `ok_codes`: error codes that mean the caller
    got through to the use case (checked only together with `ok`); `hides`: refusals may be 404."""

    allowed: frozenset[str]
    path: str = ""
    body: Any = None
    form: dict[str, str] | None = None
    multipart: bool = False
    ok: frozenset[int] = frozenset()
    ok_codes: frozenset[str] = frozenset()
    hides: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def public(path: str = "") -> Access:
    return Access(EVERYONE, path)


# (service, method, route path as the service declares it) -> access. HEAD routes answer as their GET.
ACCESS: dict[tuple[str, str, str], Access] = {
    **{(s, "GET", p): public() for s in SERVICES for p in ("/healthz", "/readyz", "/metrics", "/openapi.json")},
    # --- intake: pick lists, submission, tracking, public views
    ("intake", "GET", "/api/v1/categories"): public(),
    ("intake", "GET", "/api/v1/wards"): public(),
    ("intake", "GET", "/api/v1/areas"): public(),
    ("intake", "POST", "/api/v1/reports"): Access(
        EVERYONE, body=INVALID, ok=frozenset({422}), headers={"X-Forwarded-For": "{address}"}
    ),
    ("intake", "GET", "/api/v1/reports/{tracking_code}"): Access(ONLY_CITIZEN, hides=True),
    # Complete bodies: intake reads the body before the secret, so the wrong secret must meet a valid one to
    # show its 404. None of them changes the report: it has no question pending and no answer yet.
    ("intake", "POST", "/api/v1/reports/{tracking_code}/information"): Access(
        ONLY_CITIZEN, body={"text": "Bổ sung thông tin cho phản ánh này."}, ok=frozenset({409}), hides=True
    ),
    ("intake", "POST", "/api/v1/reports/{tracking_code}/rating"): Access(
        ONLY_CITIZEN, body={"rating": "hai_long"}, ok=frozenset({409}), hides=True
    ),
    ("intake", "POST", "/api/v1/reports/{tracking_code}/reopen"): Access(
        ONLY_CITIZEN, body={"reason": "Vấn đề vẫn chưa được giải quyết."}, ok=frozenset({409}), hides=True
    ),
    ("intake", "POST", "/api/v1/reports/{tracking_code}/notifications"): Access(
        ONLY_CITIZEN,
        body={"email": True, "sms": True, "push": False},
        hides=True,  # what it was already
    ),
    ("intake", "GET", "/api/v1/public/reports"): public(),
    # The run's report is private: no door of the public views opens it, whoever asks.
    ("intake", "GET", "/api/v1/public/reports/{tracking_code}"): Access(NOBODY, hides=True),
    ("intake", "GET", "/api/v1/public/stats"): public(),
    ("intake", "GET", "/api/v1/staff/reports/{report_id}/reporter"): Access(
        AGENCY_WORK, path=f"/api/v1/staff/reports/{{report_id}}/reporter?reason={REASON}", hides=True
    ),
    ("intake", "POST", "/api/v1/operator/reports"): Access(HOTLINE, body=INVALID, ok=frozenset({422})),
    ("intake", "POST", "/api/v1/operator/caller-lookups"): Access(HOTLINE, body=INVALID, ok=frozenset({422})),
    # --- intake: Open311 (an integrator's api_key is the credential of a POST; none of our callers has one)
    ("intake", "GET", "/open311/v2/discovery.{fmt}"): public(),
    ("intake", "GET", "/open311/v2/services.{fmt}"): public(),
    ("intake", "GET", "/open311/v2/services/{service_code}.{fmt}"): public(),
    ("intake", "POST", "/open311/v2/requests.{fmt}"): Access(NOBODY, form={"service_code": "moi-truong"}),
    ("intake", "GET", "/open311/v2/requests.{fmt}"): public(),
    ("intake", "GET", "/open311/v2/requests/{service_request_id}.{fmt}"): Access(NOBODY, hides=True),
    ("intake", "GET", "/open311/v2/tokens/{token}.{fmt}"): Access(NOBODY, hides=True),  # Open311's reports only
    ("intake", "POST", "/api/v1/admin/open311-keys"): Access(ONLY_ADMIN, body=INVALID, ok=frozenset({422})),
    ("intake", "GET", "/api/v1/admin/open311-keys"): Access(ONLY_ADMIN),
    ("intake", "DELETE", "/api/v1/admin/open311-keys/{key_id}"): Access(ONLY_ADMIN),  # a key made for the run
    # --- routing: the agencies' work
    ("routing", "GET", "/api/v1/agencies"): public(),
    ("routing", "GET", "/api/v1/categories"): public(),
    ("routing", "GET", "/api/v1/agencies/{code}/assignments"): Access(AGENCY_WORK),
    ("routing", "GET", "/api/v1/work/reports"): Access(AGENCY_QUEUES),
    ("routing", "GET", "/api/v1/work/reports/{report_id}"): Access(AGENCY_WORK, hides=True),
    # Only the lead agency accepts: coordinators and admins, who see the report, are refused (403 not_lead_agency).
    ("routing", "POST", "/api/v1/work/reports/{report_id}/accept"): Access(
        frozenset({OFFICER}), ok=frozenset({409}), hides=True
    ),
    **{
        ("routing", "POST", f"/api/v1/work/reports/{{report_id}}/{action}"): Access(
            AGENCY_WORK, body=INVALID, ok=frozenset({422}), hides=True
        )
        for action in (
            "return",
            "information-requests",
            "extension-requests",
            "updates",
            "contributions",
            "answer",
            "reject",
        )
    },
    ("routing", "GET", "/api/v1/coordination/triage"): Access(EVERY_AGENCY),
    ("routing", "GET", "/api/v1/coordination/overdue"): Access(EVERY_AGENCY),
    ("routing", "GET", "/api/v1/coordination/load"): Access(EVERY_AGENCY),
    **{
        ("routing", "POST", f"/api/v1/coordination/reports/{{report_id}}/{action}"): Access(
            EVERY_AGENCY, body=INVALID, ok=frozenset({422})
        )
        for action in ("reassign", "merge", "extension")
    },
    # --- routing: reference data and staff accounts (admins)
    ("routing", "GET", "/api/v1/admin/agencies"): Access(ONLY_ADMIN),
    ("routing", "POST", "/api/v1/admin/agencies"): Access(ONLY_ADMIN, body=INVALID, ok=frozenset({422})),
    ("routing", "PATCH", "/api/v1/admin/agencies/{code}"): Access(ONLY_ADMIN, body=UNKNOWN_FIELD, ok=frozenset({422})),
    ("routing", "GET", "/api/v1/admin/rules"): Access(ONLY_ADMIN),
    ("routing", "POST", "/api/v1/admin/rules"): Access(ONLY_ADMIN, body=INVALID, ok=frozenset({422})),
    ("routing", "PATCH", "/api/v1/admin/rules/{rule_id}"): Access(ONLY_ADMIN, body=UNKNOWN_FIELD, ok=frozenset({422})),
    ("routing", "GET", "/api/v1/admin/categories"): Access(ONLY_ADMIN),
    ("routing", "PATCH", "/api/v1/admin/categories/{code}"): Access(
        ONLY_ADMIN, path="/api/v1/admin/categories/moi-truong", body=UNKNOWN_FIELD, ok=frozenset({422})
    ),
    ("routing", "GET", "/api/v1/admin/staff"): Access(ONLY_ADMIN),
    ("routing", "POST", "/api/v1/admin/staff"): Access(ONLY_ADMIN, body=INVALID, ok=frozenset({422})),
    ("routing", "PATCH", "/api/v1/admin/staff/{id}"): Access(ONLY_ADMIN, body=UNKNOWN_FIELD, ok=frozenset({422})),
    # Login takes credentials, not a caller: everyone reaches the check of an (invalid) body.
    ("routing", "POST", "/api/v1/auth/login"): Access(EVERYONE, body=INVALID, ok=frozenset({422})),
    ("routing", "POST", "/api/v1/auth/oidc"): Access(EVERYONE, body=INVALID, ok=frozenset({404, 422})),
    # Any staff token; the test's tokens name no real account, so the allowed end at invalid_credentials.
    ("routing", "POST", "/api/v1/auth/refresh"): Access(
        STAFF, ok=frozenset({401}), ok_codes=frozenset({"invalid_credentials"})
    ),
    # --- notify
    ("notify", "GET", "/api/v1/deliveries"): Access(EVERY_AGENCY, path="/api/v1/deliveries?report_id={report_id}"),
    ("notify", "PUT", "/api/v1/agencies/{code}/notification-mode"): Access(
        AGENCY_WORK, body=INVALID, ok=frozenset({422})
    ),
    # --- media: anyone may upload (the upload token is the uploader's credential); the run's photo belongs to a
    # private report, so only its agency and those who see every agency see it; a signed link is its own
    # credential, whoever holds it.
    ("media", "POST", "/api/v1/media"): Access(EVERYONE, multipart=True, ok=frozenset({422})),
    ("media", "GET", "/api/v1/media/{media_id}"): Access(AGENCY_WORK, hides=True),
    ("media", "GET", "/api/v1/media/{media_id}/files/{name}"): Access(EVERYONE, path="{signed_link}"),
}

# The shapes of refusals: who is refused gets one of these, never a 422 or 409 about their request.
REFUSED = frozenset({401, 403})
HIDDEN = frozenset({401, 403, 404})


def service_settings(name: str) -> Any:
    """The settings the running service got (devstack's declaration), to build its application offline."""
    env = service_env(Config.from_env(os.environ), find(name))
    prefix = find(name).prefix + "_"
    settings_class = importlib.import_module(f"{name}.config").Settings
    return settings_class(**{key[len(prefix) :].lower(): value for key, value in env.items()})


def declared_routes() -> Iterator[tuple[str, str, str]]:
    """(service, method, path) of every route the services' application factories add."""
    for name in SERVICES:
        app = importlib.import_module(f"{name}.app").build_app(service_settings(name))
        for route in app.router.routes():
            info = route.resource.get_info() if route.resource is not None else {}
            yield name, route.method, str(info.get("formatter") or info.get("path"))


def access_of(service: str, method: str, path: str) -> Access | None:
    return ACCESS.get((service, "GET" if method == "HEAD" else method, path))


def test_every_route_has_a_declared_access() -> None:
    """A route nobody declared fails here (a new endpoint cannot be forgotten), and so does a stale entry."""
    routes = set(declared_routes())
    undeclared = sorted(r for r in routes if access_of(*r) is None)
    assert undeclared == [], f"routes without an entry in ACCESS: {undeclared}"
    stale = sorted(key for key in ACCESS if key not in routes)
    assert stale == [], f"ACCESS entries for routes that do not exist: {stale}"


# --------------------------------------------------------------------------------------------- the run's report


def small_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


@dataclass
class Run:
    urls: dict[str, str]
    context: dict[str, str]
    headers: dict[str, dict[str, str]]


async def prepare(http: aiohttp.ClientSession, ports: dict[str, int], mint: Callable[..., str]) -> Run:
    """One private report with one photo, routed to an agency; tokens for every kind of caller."""
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES}
    form = aiohttp.FormData()
    form.add_field("file", small_photo(), filename="anh.png", content_type="image/png")
    async with http.post(f"{urls['media']}/api/v1/media", data=form) as resp:
        assert resp.status == 201, await resp.text()
        uploaded = await resp.json()
    caller = 4_000_000 + uuid.uuid4().int % 1_000_000  # a phone and an address of its own: no limit in the way
    body = pii.sample_report(category="dien-chieu-sang", caller=caller)
    body["public"] = False
    body["consent"] = {"use_personal_data": True, "publish": False}
    body["media"] = [{"id": uploaded["id"], "upload_token": uploaded["upload_token"]}]
    async with http.post(f"{urls['intake']}/api/v1/reports", json=body, headers=pii.caller_headers(caller)) as resp:
        assert resp.status == 201, await resp.text()
        created = await resp.json()
    secret = {"X-Tracking-Secret": created["tracking_secret"]}

    async def agency() -> str | None:
        async with http.get(f"{urls['intake']}/api/v1/reports/{created['tracking_code']}", headers=secret) as resp:
            tracked = await resp.json()
        return tracked["agency"]["code"] if tracked["agency"] and tracked["status"] == "assigned" else None

    code = await until(agency, "the report assigned to an agency")
    async with http.get(f"{urls['routing']}/api/v1/agencies") as resp:
        agencies = [a["code"] for a in await resp.json()]
    other = next(a for a in agencies if a not in (code, "VP-UBND"))

    def bearer(role: Role, agency: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(role, agency)}"}

    headers = {
        ANONYMOUS: {},
        CITIZEN: secret,
        WRONG_SECRET: {"X-Tracking-Secret": "sai-" + created["tracking_secret"][4:]},
        OFFICER: bearer(Role.OFFICER, code),
        OTHER_OFFICER: bearer(Role.OFFICER, other),
        OPERATOR: bearer(Role.OPERATOR),
        COORDINATOR: bearer(Role.COORDINATOR),
        ADMIN: bearer(Role.ADMIN),
    }
    media_url = f"{urls['media']}/api/v1/media/{uploaded['id']}"

    async def ready_for_the_agency() -> dict[str, Any] | None:
        async with http.get(media_url, headers=headers[OFFICER]) as resp:
            shown: dict[str, Any] = await resp.json()
        return shown if resp.status == 200 and shown["status"] == "ready" else None

    photo = await until(ready_for_the_agency, "the photo ready for the agency's officer")
    async with http.post(
        f"{urls['intake']}/api/v1/admin/open311-keys", json={"client": "Kiểm thử phân quyền"}, headers=headers[ADMIN]
    ) as resp:
        assert resp.status == 201, await resp.text()
        key_id = (await resp.json())["id"]
    async with http.get(f"{urls['routing']}/api/v1/admin/rules", headers=headers[ADMIN]) as resp:
        assert resp.status == 200, await resp.text()
        rule_id = (await resp.json())[0]["id"]
    context = {
        "tracking_code": created["tracking_code"],
        "report_id": created["id"],
        "code": code,
        "media_id": uploaded["id"],
        "name": "display",
        "signed_link": photo["derivatives"]["display"],
        "key_id": key_id,
        "rule_id": str(rule_id),
        "id": str(uuid.uuid4()),
        "service_code": "moi-truong",
        "fmt": "json",
        "service_request_id": created["tracking_code"],
        "token": created["id"],
        "address": f"10.251.{caller % 250}.{caller // 250 % 250 + 1}",
    }
    return Run(urls, context, headers)


@dataclass(frozen=True)
class Outcome:
    route: tuple[str, str, str]
    identity: str
    status: int
    code: str | None

    def __str__(self) -> str:
        service, method, path = self.route
        return f"{service} {method} {path} as {self.identity}: {self.status} {self.code or ''}".rstrip()


async def probe(http: aiohttp.ClientSession, run: Run, route: tuple[str, str, str], identity: str) -> Outcome:
    service, method, path = route
    access = access_of(*route)
    assert access is not None
    target = (access.path or path).format(**run.context)
    headers = {**run.headers[identity], **{k: v.format(**run.context) for k, v in access.headers.items()}}
    kwargs: dict[str, Any] = {}
    if access.body is not None:
        kwargs["json"] = access.body
    elif access.form is not None:
        kwargs["data"] = access.form
    elif access.multipart:
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("note", "no file in this form")
        kwargs["data"] = form
    async with http.request(method, run.urls[service] + target, headers=headers, **kwargs) as resp:
        code = None
        if resp.status >= 400 and method != "HEAD" and resp.content_type == "application/json":
            answer = await resp.json()  # Open311 answers a bare list of errors, without codes
            code = (answer.get("errors") or [{}])[0].get("code") if isinstance(answer, dict) else None
        return Outcome(route, identity, resp.status, code)


def verdict(outcome: Outcome) -> str | None:
    """Why this outcome breaks the table, or None."""
    access = access_of(*outcome.route)
    assert access is not None
    allowed = outcome.identity in access.allowed
    through = 200 <= outcome.status < 300 or (
        outcome.status in access.ok and (not access.ok_codes or outcome.code in access.ok_codes)
    )
    if allowed:
        return None if through else "should get through"
    if through:
        return "should be refused"
    refusals = HIDDEN if access.hides else REFUSED
    return None if outcome.status in refusals else f"should be refused with one of {sorted(refusals)}"


async def test_every_route_by_every_identity(platform: dict[str, Any], staff_token: Callable[..., str]) -> None:
    """Each (route, identity) pair answers as ACCESS says; all the wrong answers are listed at once."""
    routes = sorted(set(declared_routes()), key=lambda r: (r[0], r[2], r[1] != "GET", r[1]))
    async with aiohttp.ClientSession() as http:
        run = await prepare(http, platform["http_ports"], staff_token)
        outcomes = [await probe(http, run, route, identity) for identity in IDENTITIES for route in routes]
    wrong = [f"{o}: {why}" for o in outcomes if (why := verdict(o)) is not None]
    assert wrong == [], f"{len(wrong)} of {len(outcomes)} pairs answer against the table:\n" + "\n".join(wrong)
