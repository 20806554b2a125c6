"""Development SMS gateway and push webhook: a real HTTP server that records every accepted message.

`python -m notify gateway` stands in for the SMS provider and the app backend the way `notify sink` stands in
for the mail server: it checks what they check (the bearer token, the HMAC signature, the payload) and
answers like them, and appends each accepted message as one JSON line to `<dir>/sms.jsonl` or
`<dir>/push.jsonl`. A repeated idempotency key is answered 200 again but recorded once, also after a
restart. `fail_next` makes it answer 503 that many times, for tests of the retry path.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from aiohttp import web

from notify import sms

log = structlog.get_logger("notify.gateway")

Kind = Literal["sms", "push"]
E164 = re.compile(r"\+[1-9]\d{7,14}")


class Gateway:
    def __init__(self, folder: Path, api_key: str, push_secret: str, fail_next: int = 0) -> None:
        self._folder = folder
        self._api_key = api_key
        self._push_secret = push_secret.encode()
        self.fail_next = fail_next  # answer 503 to this many requests before working again
        folder.mkdir(parents=True, exist_ok=True)
        self._seen: dict[Kind, set[str]] = {kind: self._keys_in(self._file(kind)) for kind in ("sms", "push")}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/sms", self.post_sms)
        app.router.add_post("/push", self.post_push)
        app.router.add_get("/sms", self.get_sms)
        app.router.add_get("/push", self.get_push)
        return app

    async def post_sms(self, request: web.Request) -> web.Response:
        if (outage := self._outage()) is not None:
            return outage
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(token.encode(), self._api_key.encode()):
            return _error(401, "bad api key")
        payload = await _json_object(request)
        if isinstance(payload, web.Response):
            return payload
        problem = _sms_problem(payload)
        if problem:
            return _error(400, problem)
        return self._accept("sms", payload)

    async def post_push(self, request: web.Request) -> web.Response:
        if (outage := self._outage()) is not None:
            return outage
        raw = await request.read()
        expected = "sha256=" + hmac.new(self._push_secret, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-PAHT-Signature", "").encode(), expected.encode()):
            return _error(401, "bad signature")
        payload = await _json_object(request)
        if isinstance(payload, web.Response):
            return payload
        problem = _push_problem(payload)
        if problem:
            return _error(400, problem)
        return self._accept("push", payload)

    async def get_sms(self, _request: web.Request) -> web.Response:
        return web.json_response(self.recorded("sms"))

    async def get_push(self, _request: web.Request) -> web.Response:
        return web.json_response(self.recorded("push"))

    def recorded(self, kind: Kind) -> list[dict[str, Any]]:
        """Every message of `kind` recorded so far, oldest first."""
        return list(_lines(self._file(kind)))

    def _outage(self) -> web.Response | None:
        if self.fail_next <= 0:
            return None
        self.fail_next -= 1
        return web.json_response({"error": "unavailable"}, status=503, headers={"Retry-After": "1"})

    def _accept(self, kind: Kind, payload: dict[str, Any]) -> web.Response:
        # No await between the check and the append (a small local write, done in place): two concurrent
        # requests with one key cannot both be recorded.
        key = payload["idempotency_key"]
        if key in self._seen[kind]:
            log.info("gateway_duplicate", kind=kind)
            return web.json_response({"status": "duplicate"})
        line = {"received_at": datetime.now(UTC).isoformat(), **payload}
        with self._file(kind).open("a", encoding="utf-8") as file:
            file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._seen[kind].add(key)
        log.info("gateway_recorded", kind=kind)
        return web.json_response({"status": "accepted"})

    def _file(self, kind: Kind) -> Path:
        return self._folder / f"{kind}.jsonl"

    @staticmethod
    def _keys_in(path: Path) -> set[str]:
        return {str(line["idempotency_key"]) for line in _lines(path) if "idempotency_key" in line}


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            continue  # a line torn by a crash mid-write: the message was never answered 200
    return lines


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        payload = await request.json()
    except ValueError:
        return _error(400, "body is not JSON")
    if not isinstance(payload, dict):
        return _error(400, "body is not a JSON object")
    return payload


def _sms_problem(payload: dict[str, Any]) -> str | None:
    """What a provider would refuse in an SMS request (400), or None."""
    text, to = payload.get("text"), payload.get("to")
    if not isinstance(to, str) or not E164.fullmatch(to):
        return "to must be an E.164 number"
    if not isinstance(text, str) or not text:
        return "text must be a non-empty string"
    if not isinstance(payload.get("idempotency_key"), str) or not payload["idempotency_key"]:
        return "idempotency_key is required"
    # A client that counts segments wrongly would be billed differently from what it expects.
    encoding, count = sms.segments(text)
    if payload.get("encoding") != encoding or payload.get("segments") != count:
        return f"text is {encoding} in {count} segments"
    return None


def _push_problem(payload: dict[str, Any]) -> str | None:
    """What the app backend would refuse in a push request (400), or None."""
    for field in ("device_token", "title", "body", "idempotency_key"):
        if not isinstance(payload.get(field), str) or not payload[field]:
            return f"{field} must be a non-empty string"
    if not isinstance(payload.get("data"), dict):
        return "data must be an object"
    return None


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def serve(host: str, port: int, folder: Path, api_key: str, push_secret: str, fail_next: int = 0) -> None:
    runner = web.AppRunner(Gateway(folder, api_key, push_secret, fail_next).app())
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("gateway_listening", port=port, folder=str(folder))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
