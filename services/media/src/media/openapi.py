"""Media's API as an OpenAPI document: uploads, what became of them, and signed downloads."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

from media.domain import Kind, Status, StoredMedia, Suggestion
from paht_shared.auth import Role
from paht_shared.openapi import STAFF, UPLOAD_TOKEN, ApiDescription, Operation, Reply

MEDIA_ID = {"media_id": {"type": "string", "format": "uuid"}}


class UploadForm(BaseModel):
    file: bytes = Field(json_schema_extra={"format": "binary"}, description="An image, a video or a sound.")


class MediaView(BaseModel):
    """What became of an upload, with short-lived links to its sanitised files (`suggestion`: the uploader's)."""

    id: uuid.UUID
    status: Status
    kind: Kind
    derivatives: dict[str, str]
    reason: str | None = None
    suggestion: Suggestion | None = None


class SignedLink(BaseModel):
    expires: int
    sig: str


def _file() -> dict[int, Any]:
    return {200: Reply(None, "The sanitised file.", ("image/*", "video/*", "audio/*"))}


OPERATIONS = (
    Operation(
        "POST",
        "/api/v1/media",
        "Upload a file (multipart/form-data, field `file`).",
        {201: StoredMedia},
        body=UploadForm,
        body_media=("multipart/form-data",),
        tags=("media",),
    ),
    Operation(
        "GET",
        "/api/v1/media/{media_id}",
        "An upload's state and links, for its uploader (X-Upload-Token) or staff who may see it.",
        {200: MediaView},
        auth=(UPLOAD_TOKEN, STAFF),
        roles=(Role.OFFICER, Role.COORDINATOR, Role.ADMIN),
        path_params=MEDIA_ID,
        tags=("media",),
    ),
    Operation(
        "GET",
        "/api/v1/media/{media_id}/files/{name}",
        "One sanitised file, by a signed link.",
        _file(),
        query=SignedLink,
        path_params=MEDIA_ID,
        tags=("media",),
    ),
)

API = ApiDescription(
    title="PAHT media",
    version="1",
    description="Citizens' and officers' files: upload, sanitise, serve signed links.",
    operations=OPERATIONS,
)
