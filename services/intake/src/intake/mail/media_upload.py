"""A mail's attachments -> files of the media service, through its public upload API (as the app uploads).

Each upload answers {id, upload_token}; the report carries both, and media attaches a file only for the
token's holder. Media's worker sanitises the files afterwards. Uploads of a message that then fails are never
attached to anything, and media's retention deletes unattached files (unattached_retention_minutes).
"""

from __future__ import annotations

import aiohttp
import structlog

from intake.mail.reading import MailAttachment

log = structlog.get_logger("intake.mail")

# Media refuses the file itself (not an image/audio/video it accepts, too large, empty): the report goes on
# without it. Anything else from media is an outage, and the whole message is retried later.
_FILE_REFUSED = frozenset({413, 415, 422})


class MediaUnavailable(Exception):
    """The media service did not take an upload for a reason of its own (down, 5xx, timeout)."""


async def upload_attachments(
    session: aiohttp.ClientSession, media_url: str, attachments: tuple[MailAttachment, ...], correlation_id: str
) -> list[dict[str, str]]:
    """[{id, upload_token}] of the attachments media accepted, in the mail's order."""
    uploaded: list[dict[str, str]] = []
    for attachment in attachments:
        form = aiohttp.FormData()
        # The file name is the sender's; media ignores it and sniffs the bytes. Not passed: it may hold a name.
        form.add_field("file", attachment.data, filename="attachment", content_type=attachment.content_type)
        try:
            async with session.post(
                f"{media_url.rstrip('/')}/api/v1/media", data=form, headers={"X-Correlation-Id": correlation_id}
            ) as resp:
                if resp.status in _FILE_REFUSED:
                    log.info("mail_attachment_refused", status=resp.status, content_type=attachment.content_type)
                    continue
                if resp.status != 201:
                    raise MediaUnavailable(f"media answered {resp.status}")
                created = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaUnavailable(type(exc).__name__) from exc
        uploaded.append({"id": str(created["id"]), "upload_token": str(created["upload_token"])})
    return uploaded
