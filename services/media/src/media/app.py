"""build_app(settings) -> the media web application: upload and download."""

from __future__ import annotations

import hashlib
import uuid

import structlog
from aiohttp import BodyPartReader, web

from media import repository
from media.config import Settings
from media.domain import sniff
from media.storage import ObjectStore
from paht_shared.runtime import DB_POOL, service_app
from paht_shared.web import READINESS_CHECKS, json_error

STORE: web.AppKey[ObjectStore] = web.AppKey("store", ObjectStore)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)

log = structlog.get_logger("media.app")


async def upload(request: web.Request) -> web.Response:
    if not request.content_type.startswith("multipart/"):
        return json_error(415, "multipart_required", "Vui lòng gửi tệp dưới dạng multipart/form-data (trường file).")
    limit = request.app[SETTINGS].max_upload_bytes
    reader = await request.multipart()
    data: bytes | None = None
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.name == "file":
            chunks, size = [], 0
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > limit:
                    return json_error(
                        413, "file_too_large", f"Tệp vượt quá dung lượng cho phép ({limit // 1024 // 1024} MB).", "file"
                    )
                chunks.append(chunk)
            data = b"".join(chunks)
            break
    if data is None:
        return json_error(422, "missing", "Vui lòng chọn tệp cần tải lên.", "file")
    if not data:
        return json_error(422, "empty_file", "Tệp tải lên rỗng.", "file")
    media_type = sniff(data[:64])
    if media_type is None:
        return json_error(
            415,
            "unsupported_media_type",
            "Chỉ chấp nhận ảnh (JPEG, PNG, WebP, HEIC), video (MP4, MOV, WebM) và âm thanh.",
            "file",
        )
    media_id = uuid.uuid4()
    key = f"quarantine/{media_id}"
    store = request.app[STORE]
    await store.put(key, data, media_type.content_type)
    await repository.insert_media(
        request.app[DB_POOL], media_id, store.bucket, key, media_type, len(data), hashlib.sha256(data).digest()
    )
    log.info("media_stored", media_id=str(media_id), kind=media_type.kind, size=len(data))
    return web.json_response(
        {"id": str(media_id), "kind": media_type.kind, "content_type": media_type.content_type, "size": len(data)},
        status=201,
    )


async def download(request: web.Request) -> web.StreamResponse:
    try:
        media_id = uuid.UUID(request.match_info["media_id"])
    except ValueError:
        return json_error(404, "media_not_found", "Không tìm thấy tệp.")
    row = await repository.find_media(request.app[DB_POOL], media_id)
    if row is None:
        return json_error(404, "media_not_found", "Không tìm thấy tệp.")
    body = await request.app[STORE].get(row["object_key"])
    return web.Response(
        body=body,
        content_type=row["content_type"],
        headers={
            # never rendered inline by a browser: uploaded bytes are untrusted
            "Content-Disposition": f'attachment; filename="{media_id}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def build_app(settings: Settings) -> web.Application:
    # The multipart reader enforces the file limit; leave headroom for the form's own bytes.
    app = service_app(
        settings, client_max_size=settings.max_upload_bytes + 1024 * 1024, uses_kafka=False, has_outbox=False
    )
    app[SETTINGS] = settings
    app[STORE] = ObjectStore(settings)

    app[READINESS_CHECKS]["s3"] = app[STORE].check
    app.router.add_post("/api/v1/media", upload)
    app.router.add_get("/api/v1/media/{media_id}", download)
    return app
