"""HTTP handlers of the media API: parse the request, call one use case, map its result to HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from media import service
from media.config import Settings
from media.domain import (
    EmptyFile,
    FileTooLarge,
    LinkRefused,
    MediaNotFound,
    UnsupportedMediaType,
    check_link,
    download_name,
    is_uploader,
    may_see,
    sign_link,
)
from media.storage import ObjectStore, StorageUnavailable
from paht_shared.auth import identity_of
from paht_shared.runtime import DB_POOL
from paht_shared.web import CORRELATION_ID, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, json_error

STORE: web.AppKey[ObjectStore] = web.AppKey("store", ObjectStore)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)

READ_CHUNK = 64 * 1024
UPLOAD_TOKEN_HEADER = "X-Upload-Token"  # noqa: S105 - a header name, not a secret

log = structlog.get_logger("media.handlers")


class MalformedMultipart(Exception):
    """The body is not well-formed multipart, or the file part ends without its closing boundary."""


async def upload(request: web.Request) -> web.Response:
    if not request.content_type.startswith("multipart/"):
        return json_error(415, "multipart_required", "Vui lòng gửi tệp dưới dạng multipart/form-data (trường file).")
    settings = request.app[SETTINGS]
    try:
        part = await _file_part(request)
        if part is None:
            return json_error(422, "missing", "Vui lòng chọn tệp cần tải lên.", "file")
        stored = await service.store_upload(
            _chunks(part), request.app[STORE], request.app[DB_POOL], settings, request[CORRELATION_ID]
        )
    except MalformedMultipart:
        return json_error(400, "invalid_multipart", "Dữ liệu multipart không hợp lệ hoặc bị cắt ngang.", "file")
    except EmptyFile:
        return json_error(422, "empty_file", "Tệp tải lên rỗng.", "file")
    except UnsupportedMediaType:
        return json_error(
            415,
            "unsupported_media_type",
            "Chỉ chấp nhận ảnh (JPEG, PNG, WebP, HEIC), video (MP4, MOV, WebM) và âm thanh.",
            "file",
        )
    except FileTooLarge as exc:
        return json_error(
            413, "file_too_large", f"Tệp vượt quá dung lượng cho phép ({exc.limit // 1024 // 1024} MB).", "file"
        )
    except StorageUnavailable:
        return _storage_unavailable()
    return web.json_response(stored.model_dump(mode="json"), status=201)


async def show(request: web.Request) -> web.Response:
    """What became of an upload and short-lived links to its sanitised files, for those who may see it."""
    media_id = _media_id(request)
    if media_id is None:
        return _not_found()
    try:
        media = await service.find_media(media_id, request.app[DB_POOL])
    except MediaNotFound:
        return _not_found()
    uploader = is_uploader(media, request.headers.get(UPLOAD_TOKEN_HEADER))
    if not may_see(media, uploader, identity_of(request)):
        return _not_found()  # not 403: a stranger must not learn that the id exists
    settings = request.app[SETTINGS]
    key = settings.url_signing_key.get_secret_value().encode()
    expires = int(time.time()) + settings.url_ttl_seconds
    body: dict[str, Any] = {
        "id": str(media.id),
        "status": media.status,
        "kind": media.kind,
        "derivatives": {
            d.name: sign_link(key, media.id, d.name, expires) for d in media.derivatives if media.status == "ready"
        },
    }
    if media.status == "rejected":
        body["reason"] = media.reject_reason
    if uploader:
        # Where and when the original says it was taken: a hint for the uploader's own report form only.
        body["suggestion"] = None if media.suggestion is None else media.suggestion.model_dump(mode="json")
    response = web.json_response(body)
    response.headers["Cache-Control"] = "private, no-store"  # the links inside expire
    return response


async def download_file(request: web.Request) -> web.StreamResponse:
    """One sanitised file, by a signed link; never the original."""
    media_id = _media_id(request)
    if media_id is None:
        return _not_found()
    name = request.match_info["name"]
    settings = request.app[SETTINGS]
    try:
        check_link(
            settings.url_signing_key.get_secret_value().encode(),
            media_id,
            name,
            request.query.get("expires", ""),
            request.query.get("sig", ""),
            time.time(),
        )
    except LinkRefused as exc:
        expired = exc.code == "link_expired"
        message = "Liên kết đã hết hạn, vui lòng tải lại trang." if expired else "Liên kết không hợp lệ."
        return json_error(403, exc.code, message)
    try:
        found = await service.open_derivative(media_id, name, request.app[STORE], request.app[DB_POOL])
    except MediaNotFound:
        return _not_found()
    except StorageUnavailable:
        return _storage_unavailable()
    response = web.StreamResponse(
        headers={
            "Content-Type": found.content_type,
            # never rendered as a page by a browser, even though the bytes are our own re-encoding
            "Content-Disposition": f'attachment; filename="{download_name(media_id, name, found.content_type)}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private",  # a file of a private report must not sit in a shared cache
        }
    )
    if found.body.length is not None:
        response.content_length = found.body.length
    if request.method == "HEAD":
        # Headers only: a body written after a HEAD's headers would be read as the next response on the
        # same keep-alive connection (aiohttp does not drop what a StreamResponse writes).
        found.body.close()
        await response.prepare(request)
        await response.write_eof()
        return response
    try:
        await response.prepare(request)
        async for chunk in found.body.chunks():
            await response.write(chunk)
    except StorageUnavailable:
        # The status line is gone already: closing the connection early is the only way left to tell
        # the client that the body is incomplete.
        log.warning("media_download_interrupted", media_id=str(media_id))
        response.force_close()
        return response
    except ConnectionResetError:
        log.info("media_download_abandoned", media_id=str(media_id))
        return response
    finally:
        found.body.close()
    await response.write_eof()
    return response


def _media_id(request: web.Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.match_info["media_id"])
    except ValueError:
        return None


async def _file_part(request: web.Request) -> BodyPartReader | None:
    """The form's `file` part, positioned at its first byte; the parts before it are skipped."""
    try:
        async for part in await request.multipart():
            if isinstance(part, BodyPartReader) and part.name == "file":
                return part
    # ValueError: aiohttp's word for a missing or broken boundary; BadHttpMessage: a part's malformed headers
    except (ValueError, BadHttpMessage) as exc:
        raise MalformedMultipart from exc
    return None


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    """The file's bytes as they arrive. A part cut off before its boundary is an error, not a shorter file."""
    try:
        while chunk := await part.read_chunk(READ_CHUNK):
            yield chunk
    except ValueError as exc:
        raise MalformedMultipart from exc
    if not part.at_eof():
        raise MalformedMultipart


def _not_found() -> web.Response:
    return json_error(404, "media_not_found", "Không tìm thấy tệp.")


def _storage_unavailable() -> web.Response:
    """The answer the shared middleware gives for a database outage (minio's errors are not ones it knows)."""
    response = json_error(503, "service_unavailable", UNAVAILABLE_MESSAGE)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
