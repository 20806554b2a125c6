"""An Open311 round trip with a real client library from PyPI: `georeport` (Apache-2.0), which reads services,
definitions and requests in JSON and XML over `requests`. It cannot create a request nor resolve a token, so
`Open311Client` below adds those two calls in the library's own style (same root address, api key, format and
parsing). The library is synchronous: its calls run in a thread while the test server answers on the loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
import xmltodict  # type: ignore[import-untyped]  # no type information shipped
from georeport import GeoReport  # type: ignore[import-untyped]  # no type information shipped
from intake_helpers import Client

from paht_shared.auth import Role, mint_token
from paht_shared.testing import pii

TIMEOUT = 10


class Open311Client(GeoReport):  # type: ignore[misc]  # the library's class is untyped
    """georeport's GeoReport plus POST requests and GET tokens (GeoReport v2), which the library lacks."""

    def post_service_request(self, **fields: str) -> Any:
        response = requests.post(
            f"{self.root_address}/requests.{self.output_format}",
            data={"api_key": self.api_key, **fields},
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        if self.output_format == "json":
            return response.json()[0]
        return xmltodict.parse(response.content)["service_requests"]["request"]

    def get_request_id_from_token(self, token: str) -> Any:
        response = requests.get(f"{self.root_address}/tokens/{token}.{self.output_format}", timeout=TIMEOUT)
        response.raise_for_status()
        if self.output_format == "json":
            return response.json()[0]
        return xmltodict.parse(response.content)["service_requests"]["request"]


@pytest.fixture
async def api_key(staff_client: Client, signing_key: str) -> str:
    """A key issued by an admin through the admin endpoint."""
    token = mint_token(signing_key, "quan.tri", Role.ADMIN)
    resp = await staff_client.post(
        "/api/v1/admin/open311-keys", json={"client": "georeport"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 201
    key: str = (await resp.json())["key"]
    return key


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_report_sent_with_the_georeport_library_is_found_again(
    staff_client: Client, api_key: str, fmt: str
) -> None:
    """Services and a definition, a POST with an api key, the request in GET requests (it is public), by id,
    and its token, all through the library in one format."""
    open311 = Open311Client(str(staff_client.make_url("/open311/v2")), api_key=api_key, output_format=fmt)

    services = await asyncio.to_thread(open311.get_service_list)
    assert "rac-thai" in [s["service_code"] for s in services]
    definition = await asyncio.to_thread(open311.get_service_definition, "rac-thai")
    assert definition["service_code"] == "rac-thai"

    created = await asyncio.to_thread(
        open311.post_service_request,
        service_code="rac-thai",
        lat="9.6025",
        long="105.9739",
        address_string="Cổng chợ Sóc Trăng",
        description="Rác thải tồn đọng nhiều ngày trước cổng chợ, bốc mùi hôi, ảnh hưởng người dân.",
        first_name="Nguyễn Văn",
        last_name="An",
        phone=pii.PHONE,
        public="true",
    )
    code = created["service_request_id"]
    assert code.startswith("PA-")

    listed = await asyncio.to_thread(open311.get_service_requests, service_code="rac-thai", status="open")
    listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one element is not a list
    assert code in [r["service_request_id"] for r in listed]
    found = await asyncio.to_thread(open311.get_service_request, code)
    assert found["service_request_id"] == code
    assert found["status"] == "open"
    assert found["service_code"] == "rac-thai"
    assert found["requested_datetime"].endswith("+07:00")

    resolved = await asyncio.to_thread(open311.get_request_id_from_token, created["token"])
    assert resolved["service_request_id"] == code
