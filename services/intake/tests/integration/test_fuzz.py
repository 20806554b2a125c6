"""Hypothesis over the submission endpoint, against the real PostgreSQL: whatever a client sends, the answer
is never a 5xx and never repeats what was sent."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake_helpers import Client

from intake.messages import BY_CODE, MISSING
from paht_shared.testing import pii

CLIENT_ANSWERS = {201, 400, 409, 413, 415, 422, 429}
# Texts the service itself says: an input that happens to be one of their words is not an echo.
OWN_WORDS = " ".join([*BY_CODE.values(), *MISSING.values()])
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300)
    | st.sampled_from(["", " ", "0912345678", "+84", "094085012345", "<script>", "\u0000", "💥" * 50, "a" * 6000])
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
)


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """The contract body with each field kept, dropped or replaced by anything JSON can hold; sometimes
    extra keys; sometimes not an object at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    body: dict[str, Any] = copy.deepcopy(pii.sample_report())
    body["reporter"]["phone"] = "09" + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=8, max_size=8)))
    if draw(st.integers(0, 4)) == 0:
        return body  # some stay valid: the accepting path is fuzzed too (and must not echo either)
    for parent in (body, body["reporter"], body["location"], body["consent"]):
        for key in list(parent):
            choice = draw(st.integers(0, 11))
            if choice == 0:
                del parent[key]
            elif choice == 1:
                parent[key] = draw(json_values)
        if draw(st.integers(0, 4)) == 0:
            parent[draw(st.text(max_size=20))] = draw(json_values)
    return body


def strings_in(value: Any) -> set[str]:
    """Every string of the input long enough to recognise, keys included (unless they look like field names)."""
    found: set[str] = set()
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, list):
        for item in value:
            found |= strings_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not IDENTIFIER.fullmatch(key):
                found.add(key)
            found |= strings_in(item)
    return {s for s in found if len(s.strip()) >= 6 and s not in OWN_WORDS}


def post(url: str, data: bytes, content_type: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 - the test's own server on loopback
        url, data=data, method="POST", headers={"Content-Type": content_type, "Idempotency-Key": str(uuid.uuid4())}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def check_answer(status: int, text: str, sent: Any) -> None:
    assert status in CLIENT_ANSWERS, (status, text)
    for value in strings_in(sent):
        assert value not in text, "the answer repeats part of the request"
    if status >= 400:
        assert json.loads(text)["errors"], text


async def test_no_body_gets_a_5xx_or_an_echo(client: Client) -> None:
    """300 generated bodies (and 100 raw byte strings) against the running app: only client answers, with
    errors that never contain the sent values."""
    url = str(client.make_url("/api/v1/reports"))
    answered: dict[int, int] = {}

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(body=bodies())
    def json_bodies(body: Any) -> None:
        status, text = post(url, json.dumps(body, ensure_ascii=False).encode())
        answered[status] = answered.get(status, 0) + 1
        check_answer(status, text, body)

    @settings(max_examples=100, deadline=None, database=None)
    @given(data=st.binary(max_size=2000), content_type=st.sampled_from(["application/json", "text/plain", ""]))
    def raw_bodies(data: bytes, content_type: str) -> None:
        status, text = post(url, data, content_type)
        assert status in {400, 413, 415, 422}, (status, text)

    await asyncio.to_thread(json_bodies)
    await asyncio.to_thread(raw_bodies)
    # the generator reached both sides: accepted reports and refusals
    assert answered.get(201, 0) > 0
    assert answered.get(422, 0) > 0


async def test_no_query_or_citizen_action_gets_a_5xx(client: Client) -> None:
    """Generated query strings on the public list and stats, and generated bodies on rating, reopening and
    information replies (with a real code and secret): only client answers."""
    created = await (await client.post("/api/v1/reports", json=pii.sample_report())).json()
    base = str(client.make_url(""))
    secret = {"X-Tracking-Secret": created["tracking_secret"]}

    def get(path: str) -> int:
        try:
            with urllib.request.urlopen(base.rstrip("/") + path, timeout=30) as resp:  # noqa: S310 - loopback
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    params = st.sampled_from(["category", "ward_code", "status", "since", "until", "q", "page", "per_page", "x"])

    @settings(max_examples=150, deadline=None, database=None)
    @given(query=st.dictionaries(params, st.text(max_size=40), max_size=4), stats=st.booleans())
    def queries(query: dict[str, str], stats: bool) -> None:
        path = "/api/v1/public/stats" if stats else "/api/v1/public/reports"
        assert get(f"{path}?{urllib.parse.urlencode(query)}") in {200, 400, 422}

    @settings(max_examples=150, deadline=None, database=None)
    @given(action=st.sampled_from(["rating", "reopen", "information"]), body=json_values)
    def actions(action: str, body: Any) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{base.rstrip('/')}/api/v1/reports/{created['tracking_code']}/{action}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", **secret},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        check_answer(status, text, body)

    await asyncio.to_thread(queries)
    await asyncio.to_thread(actions)
