"""An Open311 GeoReport v2 request through the running platform: an admin issues an api key, a partner
system POSTs a request with it, the report reaches the real broker as report.submitted.v1 with channel
open311, routing assigns it, and the public GET shows it (open, with its agency) without personal data."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from paht_shared.auth import Role
from paht_shared.contracts import topics
from paht_shared.testing import pii
from paht_shared.testing.kafka import records_for, until

pytestmark = pytest.mark.e2e


async def test_an_open311_request_is_routed_and_shown_publicly(
    platform: dict[str, Any], staff_token: Callable[..., str]
) -> None:
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    bootstrap = platform["kafka_bootstrap"]
    admin = {"Authorization": f"Bearer {staff_token(Role.ADMIN)}"}
    phone = pii.caller_phone(4_100_000 + secrets.randbelow(900_000))  # its own: intake limits a phone per hour
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{intake}/api/v1/admin/open311-keys", json={"client": "e2e partner"}, headers=admin) as r:
            assert r.status == 201, await r.text()
            key = (await r.json())["key"]
        form = {
            "api_key": key,
            "service_code": "chieu-sang",
            "description": f"Đèn đường trước số 12 hỏng cả tuần, tối om. Gọi {pii.PHONE} nếu cần.",
            "lat": "9.6025",
            "long": "105.9739",
            "address_string": "Trước số 12 đường Trần Hưng Đạo",
            "first_name": "Lâm Thị",
            "last_name": "Sa Rết",
            "phone": phone,
            "public": "true",
        }
        async with http.post(f"{intake}/open311/v2/requests.json", data=form) as r:
            assert r.status == 201, await r.text()
            [answer] = await r.json()
        code, token = answer["service_request_id"], answer["token"]

        [submitted] = await until(
            lambda: records_for(bootstrap, topics.REPORT_SUBMITTED, token), "report.submitted.v1 on the broker"
        )
        assert submitted.data["channel"] == "open311"
        assert submitted.data["tracking_code"] == code
        assert submitted.data["category"] == "chieu-sang"

        async def assigned() -> dict[str, Any] | None:
            changes = await records_for(bootstrap, topics.REPORT_STATUS_CHANGED, token)
            return next((c.data for c in changes if c.data["status"] == "assigned"), None)

        change = await until(assigned, "routing's assignment")

        async def shown() -> dict[str, Any] | None:
            async with http.get(f"{intake}/open311/v2/requests/{code}.json") as r:
                if r.status != 200:
                    return None
                [request] = await r.json()
                return request if request.get("agency_responsible") else None

        request = await until(shown, "the request with its agency in GET requests")
        assert request["status"] == "open"
        assert request["agency_responsible"] == change["agency_name"]
        async with http.get(f"{intake}/open311/v2/tokens/{token}.xml") as r:
            assert r.status == 200
            assert f"<service_request_id>{code}</service_request_id>" in await r.text()
        async with http.get(f"{intake}/open311/v2/requests.json", params={"service_request_id": code}) as r:
            listed = await r.text()
    assert code in listed
    assert pii.find_leaks(listed) == []
    assert "Sa Rết" not in listed
    assert phone not in listed
