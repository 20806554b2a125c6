"""HTTP handlers of the media API: parse the request, call one use case, map its result to HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import structlog
from aiohttp import BodyPartReader, web

from media import service
from media.config import Settings
from media.domain import EmptyFile, FileTooLarge, MediaNotFound, UnsupportedMediaType
from media.storage import ObjectStore, StorageUnavailable
from paht_shared.runtime import DB_POOL
from paht_shared.web import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, json_error

STORE: web.AppKey[ObjectStore] = web.AppKey("store", ObjectStore)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)

READ_CHUNK = 64 * 1024

log = structlog.get_logger("media.handlers")


class MalformedMultipart(Exception):
    """The body is not well-formed multipart, or the file part ends without its closing boundary."""


async def upload(request: web.Request) -> web.Response:
    if not request.content_type.startswith("multipart/"):
        return json_error(415, "multipart_required", "Vui lòng gửi tệp dưới dạng multipart/form-data (trường file).")
    limit = request.app[SETTINGS].max_upload_bytes
    try:
        part = await _file_part(request)
        if part is None:
            return json_error(422, "missing", "Vui lòng chọn tệp cần tải lên.", "file")
        stored = await service.store_upload(_chunks(part), request.app[STORE], request.app[DB_POOL], limit)
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


async def download(request: web.Request) -> web.StreamResponse:
    try:
        media_id = uuid.UUID(request.match_info["media_id"])
    except ValueError:
        return _not_found()
    try:
        found = await service.open_download(media_id, request.app[STORE], request.app[DB_POOL])
    except MediaNotFound:
        return _not_found()
    except StorageUnavailable:
        return _storage_unavailable()
    response = web.StreamResponse(
        headers={
            "Content-Type": found.media.content_type,
            # never rendered inline by a browser: uploaded bytes are untrusted
            "Content-Disposition": f'attachment; filename="{media_id}"',
            "X-Content-Type-Options": "nosniff",
        }
    )
    if found.body.length is not None:
        response.content_length = found.body.length
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


async def _file_part(request: web.Request) -> BodyPartReader | None:
    """The form's `file` part, positioned at its first byte; the parts before it are skipped."""
    try:
        async for part in await request.multipart():
            if isinstance(part, BodyPartReader) and part.name == "file":
                return part
    except ValueError as exc:  # aiohttp's word for a missing or broken boundary
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
