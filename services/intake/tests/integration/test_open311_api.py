"""Open311 GeoReport v2 at /open311/v2/ over HTTP against the real PostgreSQL: api keys, the JSON and XML
answers of every endpoint (JSON checked against the GeoReport v2 schemas), the error lists, what GET may show
(public reports, masked, never the reporter), the 90-day window and paging, and a POST ending as a
report.submitted event with channel open311."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema  # type: ignore[import-untyped]  # no type information shipped
import pytest
from intake_helpers import Client, connect, outbox_events, routing_says

from intake.config import Settings
from paht_shared.auth import Role, mint_token
from paht_shared.contracts import ReportStatus, topics
from paht_shared.envelope import utc_now
from paht_shared.testing import pii

BASE = "/open311/v2"
KEYS = "/api/v1/admin/open311-keys"
SCHEMA = json.loads((Path(__file__).parents[1] / "open311_schema" / "georeport-v2.schema.json").read_text())
DESCRIPTION = "Rác thải tồn đọng nhiều ngày trước cổng chợ. Bốc mùi hôi, ảnh hưởng người dân xung quanh."


def valid(kind: str, document: Any) -> None:
    """Raises if `document` is not a GeoReport v2 answer of `kind` (a $defs entry of the schema)."""
    jsonschema.Draft202012Validator({"$ref": f"#/$defs/{kind}", "$defs": SCHEMA["$defs"]}).validate(document)


def xml_of(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(text)  # noqa: S314 - our own server's answer, in a test


@pytest.fixture
def admin(signing_key: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(signing_key, "quan.tri", Role.ADMIN)}


@pytest.fixture
async def api_key(staff_client: Client, admin: dict[str, str]) -> str:
    resp = await staff_client.post(KEYS, json={"client": "Ứng dụng Cần Thơ 311"}, headers=admin)
    assert resp.status == 201, await resp.text()
    key: str = (await resp.json())["key"]
    return key


def form(api_key: str | None, **changes: str | None) -> dict[str, str]:
    """A POST requests form (a public report with a map point); a change to None drops the field."""
    fields: dict[str, str | None] = {
        "api_key": api_key,
        "service_code": "moi-truong",
        "lat": "9.6025",
        "long": "105.9739",
        "address_string": "Cổng chợ Sóc Trăng",
        "description": DESCRIPTION,
        "email": pii.EMAIL,
        "phone": pii.PHONE,
        "public": "true",
        **changes,
    }
    return {k: v for k, v in fields.items() if v is not None}


async def post(staff_client: Client, fields: dict[str, str], fmt: str = "json", **headers: str) -> Any:
    return await staff_client.post(f"{BASE}/requests.{fmt}", data=fields, headers=headers)


async def created(staff_client: Client, fields: dict[str, str]) -> dict[str, Any]:
    resp = await post(staff_client, fields)
    assert resp.status == 201, await resp.text()
    answer: list[dict[str, Any]] = await resp.json()
    valid("created", answer)
    return answer[0]


async def get_json(staff_client: Client, path: str, **params: str) -> Any:
    resp = await staff_client.get(f"{BASE}/{path}.json", params=params)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json"
    return await resp.json()


async def get_xml(staff_client: Client, path: str, **params: str) -> ET.Element:
    resp = await staff_client.get(f"{BASE}/{path}.xml", params=params)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/xml"
    assert resp.charset == "utf-8"
    return xml_of(await resp.text())


# --- api keys ---------------------------------------------------------------------------------------------


async def test_an_admin_issues_lists_and_revokes_keys_and_the_list_never_holds_key_material(
    staff_client: Client, admin: dict[str, str], signing_key: str
) -> None:
    """The key is shown once (no-store); the list shows its hint, never the key or its hash; revoking twice
    keeps the first time; other roles and anonymous callers are refused."""
    resp = await staff_client.post(KEYS, json={"client": "Zalo mini app"}, headers=admin)
    assert resp.status == 201
    assert resp.headers["Cache-Control"] == "no-store"
    issued = await resp.json()
    assert issued["key"].startswith("o311_")
    assert len(issued["key"]) > 40
    assert issued["created_by"] == "quan.tri"

    listing = await staff_client.get(KEYS, headers=admin)
    text = await listing.text()
    assert issued["key"] not in text
    assert "sha256" not in text
    (listed,) = [k for k in await listing.json() if k["id"] == issued["id"]]
    assert listed["client"] == "Zalo mini app"
    assert issued["key"].startswith(listed["key_hint"])
    assert listed["revoked_at"] is None

    first = await (await staff_client.delete(f"{KEYS}/{issued['id']}", headers=admin)).json()
    again = await (await staff_client.delete(f"{KEYS}/{issued['id']}", headers=admin)).json()
    assert first["revoked_at"] is not None
    assert again["revoked_at"] == first["revoked_at"]
    assert (await staff_client.delete(f"{KEYS}/{uuid.uuid4()}", headers=admin)).status == 404

    officer = {"Authorization": "Bearer " + mint_token(signing_key, "can.bo", Role.OFFICER, agency="SNNMT")}
    assert (await staff_client.get(KEYS, headers=officer)).status == 403
    assert (await staff_client.post(KEYS, json={"client": "x y"}, headers=officer)).status == 403
    assert (await staff_client.get(KEYS)).status == 401


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_missing_or_unknown_api_key_is_a_403_error_list(staff_client: Client, fmt: str) -> None:
    """No key, an empty one, a wrong one, an absurd one: 403 with the spec's error list, in the format asked."""
    for fields in (form(None), form(""), form("o311_" + "x" * 43), form("\x00" * 5000)):
        resp = await post(staff_client, fields, fmt)
        assert resp.status == 403
        if fmt == "json":
            errors = await resp.json()
            valid("errors", errors)
            assert errors[0]["code"] == 403
            assert "api_key" in errors[0]["description"]
        else:
            root = xml_of(await resp.text())
            assert root.tag == "errors"
            assert root.findtext("error/code") == "403"
            assert "api_key" in (root.findtext("error/description") or "")


async def test_a_revoked_key_is_refused(staff_client: Client, admin: dict[str, str], api_key: str) -> None:
    await created(staff_client, form(api_key))
    listed = await (await staff_client.get(KEYS, headers=admin)).json()
    (key,) = [k for k in listed if api_key.startswith(k["key_hint"])]
    await staff_client.delete(f"{KEYS}/{key['id']}", headers=admin)
    resp = await post(staff_client, form(api_key))
    assert resp.status == 403
    assert (await resp.json())[0]["code"] == 403


# --- what a POST becomes ----------------------------------------------------------------------------------


async def test_a_post_is_one_report_submitted_event_with_the_open311_channel(
    staff_client: Client, staff_settings: Settings, api_key: str
) -> None:
    """service_code -> category, the description's first sentence -> title, lat/long -> the map point; the
    event carries masked text and no contact in clear; the report remembers the key that sent it."""
    fields = form(api_key, first_name="Nguyễn Văn", last_name="An")
    answer = await created(staff_client, fields)
    events = [
        e
        for e in await outbox_events(staff_settings, topics.REPORT_SUBMITTED)
        if e.data["report_id"] == answer["token"]
    ]
    assert len(events) == 1
    data = events[0].data
    assert data["channel"] == "open311"
    assert data["tracking_code"] == answer["service_request_id"]
    assert data["category"] == "moi-truong"
    assert data["title"] == "Rác thải tồn đọng nhiều ngày trước cổng chợ"
    assert data["content"] == DESCRIPTION
    assert (data["lat"], data["lon"]) == (9.6025, 105.9739)
    assert data["public"] is True
    assert data["identity_shared"] is False  # Open311 cannot ask for consent, so it is never assumed
    assert pii.find_leaks(events[0].model_dump_json()) == []
    conn = await connect(staff_settings)
    try:
        key_id = await conn.fetchval(
            "SELECT s.key_id FROM open311_submissions s WHERE s.report_id = $1", uuid.UUID(answer["token"])
        )
        hint = await conn.fetchval("SELECT key_hint FROM open311_keys WHERE id = $1", key_id)
    finally:
        await conn.close()
    assert api_key.startswith(hint)


async def test_a_retry_with_the_same_idempotency_key_is_the_same_request(
    staff_client: Client, staff_settings: Settings, api_key: str
) -> None:
    first = await post(staff_client, form(api_key), **{"Idempotency-Key": "retry-1"})
    second = await post(staff_client, form(api_key), **{"Idempotency-Key": "retry-1"})
    assert (first.status, second.status) == (201, 201)
    one, two = (await first.json())[0], (await second.json())[0]
    assert one["service_request_id"] == two["service_request_id"]
    assert one["token"] == two["token"]
    events = [
        e for e in await outbox_events(staff_settings, topics.REPORT_SUBMITTED) if e.data["report_id"] == one["token"]
    ]
    assert len(events) == 1
    changed = await post(
        staff_client, form(api_key, description=DESCRIPTION + " Thêm."), **{"Idempotency-Key": "retry-1"}
    )
    assert changed.status == 409


async def test_an_address_naming_a_ward_or_a_ward_code_locates_the_report(
    staff_client: Client, staff_settings: Settings, api_key: str
) -> None:
    by_name = await created(
        staff_client, form(api_key, lat=None, long=None, address_string="Phường Phú Lợi, đường Lê Lợi")
    )
    by_code = await created(staff_client, form(api_key, lat=None, long=None, address_string=None, address_id="31507"))
    events = {e.data["report_id"]: e.data for e in await outbox_events(staff_settings, topics.REPORT_SUBMITTED)}
    assert events[by_name["token"]]["ward_code"] is not None
    assert events[by_code["token"]]["ward_code"] == "31507"


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"service_code": "khong-co"}, ["service_code"]),
        ({"service_code": None}, ["service_code"]),
        ({"description": None}, ["description"]),
        ({"lat": "bắc"}, ["lat"]),
        ({"lat": None, "long": None, "address_string": None}, ["lat/long"]),
        ({"long": None}, ["long"]),
        ({"lat": "21.03", "long": "105.85"}, ["lat/long"]),  # Hà Nội: outside the province
        ({"email": None, "phone": None}, ["email hoặc phone"]),
        ({"phone": "12345"}, ["phone"]),
        ({"attribute[size]": "big"}, ["attribute[size]"]),
        ({"public": "maybe"}, ["public"]),
        ({"service_code": "an-ninh-trat-tu"}, ["public"]),  # a category that may not be published
    ],
)
async def test_bad_parameters_are_a_400_naming_the_open311_parameter(
    staff_client: Client, api_key: str, changes: dict[str, str | None], names: list[str]
) -> None:
    resp = await post(staff_client, form(api_key, **changes))
    assert resp.status == 400, await resp.text()
    errors = await resp.json()
    valid("errors", errors)
    assert all(e["code"] == 400 for e in errors)
    for name in names:
        assert any(e["description"].startswith(name) for e in errors), errors


async def test_a_media_url_is_never_fetched_and_the_notice_says_so(staff_client: Client, api_key: str) -> None:
    answer = await created(staff_client, form(api_key, media_url="http://169.254.169.254/latest/meta-data/"))
    assert "media_url" in answer["service_notice"]


async def test_a_form_that_is_not_a_form_is_refused(staff_client: Client, api_key: str) -> None:
    resp = await staff_client.post(f"{BASE}/requests.json", json=form(api_key))
    assert resp.status == 400
    valid("errors", await resp.json())


async def test_a_form_part_with_malformed_headers_is_refused(staff_client: Client, api_key: str) -> None:
    """A control character in a part's field name (found by Schemathesis) is a 400 in the spec's format, not a
    500."""
    body = f'--b\r\nContent-Disposition: form-data; name="api_key"\r\n\r\n{api_key}\r\n'.encode()
    body += b'--b\r\nContent-Disposition: form-data; name="\x16"\r\n\r\nx\r\n--b--\r\n'
    resp = await staff_client.post(
        f"{BASE}/requests.json", data=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert resp.status == 400
    valid("errors", await resp.json())


# --- what GET shows ---------------------------------------------------------------------------------------


async def test_discovery_services_and_definitions_in_json_and_xml(staff_client: Client) -> None:
    discovery = await get_json(staff_client, "discovery")
    valid("discovery", discovery)
    assert discovery["endpoints"][0]["url"].endswith("/open311/v2")
    root = await get_xml(staff_client, "discovery")
    assert root.tag == "discovery"
    assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == ["application/json", "text/xml"]

    services = await get_json(staff_client, "services")
    valid("services", services)
    codes = [s["service_code"] for s in services]
    assert "moi-truong" in codes
    environment = next(s for s in services if s["service_code"] == "moi-truong")
    assert environment["group"] == "Vệ sinh môi trường"
    assert environment["metadata"] is False
    assert environment["type"] == "realtime"
    root = await get_xml(staff_client, "services")
    assert [s.findtext("service_code") for s in root.iterfind("service")] == codes
    assert root.findtext("service/metadata") == "false"

    definition = await get_json(staff_client, "services/moi-truong")
    valid("service_definition", definition)
    assert definition == {"service_code": "moi-truong", "attributes": []}
    root = await get_xml(staff_client, "services/moi-truong")
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "moi-truong"
    missing = await staff_client.get(f"{BASE}/services/khong-co.xml")
    assert missing.status == 404
    assert xml_of(await missing.text()).findtext("error/code") == "404"


async def test_a_public_request_in_json_and_xml_with_its_status_mapped(
    staff_client: Client, staff_settings: Settings, api_key: str
) -> None:
    """open while routing works on it; closed with the agency's answer as status_notes once answered."""
    answer = await created(staff_client, form(api_key))
    code = answer["service_request_id"]
    report = {"id": answer["token"], "tracking_code": code}
    due = utc_now() + timedelta(days=10)
    await routing_says(staff_settings, report, 1, ReportStatus.ASSIGNED, due_at=due)

    (found,) = await get_json(staff_client, f"requests/{code}")
    valid("requests", [found])
    assert found["status"] == "open"
    assert found["status_notes"] is None
    assert found["agency_responsible"] == "Sở Nông nghiệp và Môi trường"
    assert found["expected_datetime"].endswith("+07:00")
    assert found["requested_datetime"].endswith("+07:00")
    assert found["address"] == "Cổng chợ Sóc Trăng"
    assert (found["lat"], found["long"]) == (9.6025, 105.9739)

    await routing_says(staff_settings, report, 2, ReportStatus.ANSWERED, message="Đã thu gom rác và vệ sinh khu vực.")
    (found,) = await get_json(staff_client, f"requests/{code}")
    assert found["status"] == "closed"
    assert found["status_notes"] == "Đã thu gom rác và vệ sinh khu vực."
    root = await get_xml(staff_client, f"requests/{code}")
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == code
    assert root.findtext("request/status") == "closed"
    assert root.findtext("request/status_notes") == "Đã thu gom rác và vệ sinh khu vực."
    assert root.findtext("request/lat") == "9.6025"

    closed = await get_json(staff_client, "requests", status="closed", service_code="moi-truong")
    valid("requests", closed)
    assert code in [r["service_request_id"] for r in closed]
    assert code not in [r["service_request_id"] for r in await get_json(staff_client, "requests", status="open")]


async def test_a_token_resolves_to_its_request_in_json_and_xml(staff_client: Client, api_key: str) -> None:
    """Also for a report that is not public: only its sender has the token, and the code opens nothing."""
    answer = await created(staff_client, form(api_key, public="false"))
    found = await get_json(staff_client, f"tokens/{answer['token']}")
    valid("token", found)
    assert found == [{"service_request_id": answer["service_request_id"], "token": answer["token"]}]
    root = await get_xml(staff_client, f"tokens/{answer['token']}")
    assert root.findtext("request/service_request_id") == answer["service_request_id"]
    for token in (str(uuid.uuid4()), "not-a-token"):
        resp = await staff_client.get(f"{BASE}/tokens/{token}.json")
        assert resp.status == 404
        valid("errors", await resp.json())


async def test_the_post_answer_in_xml(staff_client: Client, api_key: str) -> None:
    resp = await post(staff_client, form(api_key), "xml")
    assert resp.status == 201
    root = xml_of(await resp.text())
    assert root.tag == "service_requests"
    assert (root.findtext("request/service_request_id") or "").startswith("PA-")
    assert root.find("request/token") is not None
    assert root.find("request/account_id") is not None


async def test_get_never_shows_a_private_report_nor_personal_data(staff_client: Client, api_key: str) -> None:
    """A private report is in no answer; a public one written with the reporter's name, phone, email and CCCD
    in its text shows them masked, and the reporter's own fields appear nowhere."""
    private = await created(staff_client, form(api_key, public="false"))
    leaky = (
        f"Tôi là {pii.FULL_NAME}, số điện thoại {pii.PHONE}, email {pii.EMAIL}, CCCD {pii.CCCD}. "
        "Rác thải tồn đọng nhiều ngày trước cổng chợ."
    )
    family_and_middle, given = pii.FULL_NAME.rsplit(" ", 1)
    fields = form(api_key, description=leaky, first_name=family_and_middle, last_name=given)
    public = await created(staff_client, {**fields, "address_string": f"Nhà {pii.FULL_NAME}, {pii.PHONE}"})
    resp = await staff_client.get(f"{BASE}/requests/{private['service_request_id']}.json")
    assert resp.status == 404
    valid("errors", await resp.json())
    answers = []
    for fmt in ("json", "xml"):
        for path, params in (
            ("requests", {}),
            ("requests", {"service_request_id": f"{private['service_request_id']},{public['service_request_id']}"}),
            (f"requests/{public['service_request_id']}", {}),
        ):
            resp = await staff_client.get(f"{BASE}/{path}.{fmt}", params=params)
            assert resp.status == 200
            answers.append(await resp.text())
    for text in answers:
        assert private["service_request_id"] not in text
        assert public["service_request_id"] in text
        assert pii.find_leaks(text) == [], text
        assert "[đã ẩn]" in text


async def test_the_default_window_is_the_last_90_days_and_wider_ranges_are_refused(
    staff_client: Client, staff_settings: Settings, api_key: str
) -> None:
    recent = await created(staff_client, form(api_key))
    old = await created(staff_client, form(api_key))
    conn = await connect(staff_settings)
    try:
        await conn.execute(
            "UPDATE reports SET submitted_at = now() - interval '100 days' WHERE id = $1", uuid.UUID(old["token"])
        )
    finally:
        await conn.close()

    def codes(found: list[dict[str, Any]]) -> list[str]:
        return [r["service_request_id"] for r in found]

    default = codes(await get_json(staff_client, "requests"))
    assert recent["service_request_id"] in default
    assert old["service_request_id"] not in default
    now = utc_now()
    back_then = codes(
        await get_json(
            staff_client,
            "requests",
            start_date=(now - timedelta(days=120)).isoformat(),
            end_date=(now - timedelta(days=60)).isoformat(),
        )
    )
    assert old["service_request_id"] in back_then
    assert recent["service_request_id"] not in back_then
    only_start = codes(await get_json(staff_client, "requests", start_date=(now - timedelta(days=101)).isoformat()))
    assert old["service_request_id"] in only_start
    by_id = codes(await get_json(staff_client, "requests", service_request_id=old["service_request_id"]))
    assert by_id == [old["service_request_id"]]  # ids override the window
    for params in (
        {"start_date": (now - timedelta(days=91)).isoformat(), "end_date": now.isoformat()},
        {"start_date": now.isoformat(), "end_date": (now - timedelta(days=1)).isoformat()},
        {"start_date": "hôm qua"},
    ):
        resp = await staff_client.get(f"{BASE}/requests.json", params=params)
        assert resp.status == 400
        valid("errors", await resp.json())


async def test_paging_with_page_and_page_size(staff_client: Client, api_key: str) -> None:
    sent = [(await created(staff_client, form(api_key)))["service_request_id"] for _ in range(3)]
    ids = ",".join(sent)
    first = await get_json(staff_client, "requests", service_request_id=ids, page_size="2")
    second = await get_json(staff_client, "requests", service_request_id=ids, page_size="2", page="2")
    assert len(first) == 2
    assert len(second) == 1
    assert sorted(r["service_request_id"] for r in first + second) == sorted(sent)
    root = await get_xml(staff_client, "requests", service_request_id=ids, page_size="2", page="2")
    assert len(root.findall("request")) == 1
    for params in ({"page_size": "1001"}, {"page": "0"}, {"page_size": "mười"}, {"status": "pending"}, {"q": "x"}):
        resp = await staff_client.get(f"{BASE}/requests.xml", params=params)
        assert resp.status == 400
        assert xml_of(await resp.text()).findtext("error/code") == "400"


async def test_unknown_formats_and_requests_are_404s(staff_client: Client) -> None:
    resp = await staff_client.get(f"{BASE}/services.yaml")
    assert resp.status == 404
    valid("errors", await resp.json())
    resp = await staff_client.get(f"{BASE}/requests/PA-ZZZZZZZZ.xml")
    assert resp.status == 404
    assert xml_of(await resp.text()).findtext("error/code") == "404"
