"""Playing stored media in the browser without handing the browser the store, and without holding a video in
memory: the page mints a short-lived signed link for one object (after authorising the user and recording the
view), and the `/api/media/<token>` route answers the browser's range requests by decrypting only the chunks
each range needs (`ObjectStore.read_range`), so seeking in a 2 GiB recording reads a few megabytes.

A link names the object's SHA-256, its media type, the user and an expiry, signed with a key that lives only in
this server process: links are useless to another process, to another user's session after expiry, or once
edited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

LINK_SECONDS = 4 * 3600
_PROCESS_KEY = secrets.token_bytes(32)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class MediaGrant:
    sha256: str
    media_type: str
    user: str
    expires: int
    file_name: str | None = None  # set: served as an attachment (a download), not played


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(sha256: str, media_type: str, user: str, seconds: int = LINK_SECONDS, file_name: str | None = None) -> str:
    """A token for one object (call only after authorising `user` and recording the view or download)."""
    fields = {"s": sha256, "t": media_type, "u": user, "e": int(time.time()) + seconds, "f": file_name}
    body = json.dumps(fields).encode()
    mac = hmac.new(_PROCESS_KEY, body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def check(token: str, now: float | None = None) -> MediaGrant | None:
    """The grant a token carries, or None if it is forged, edited or expired."""
    try:
        body_text, mac_text = token.split(".", 1)
        body = _unb64(body_text)
        if not hmac.compare_digest(hmac.new(_PROCESS_KEY, body, hashlib.sha256).digest(), _unb64(mac_text)):
            return None
        fields = json.loads(body)
        grant = MediaGrant(
            str(fields["s"]), str(fields["t"]), str(fields["u"]), int(fields["e"]), fields.get("f") or None
        )
    except (ValueError, KeyError, TypeError):
        return None
    return grant if grant.expires > (now if now is not None else time.time()) else None


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `Range: bytes=a-b` request, clamped to the object; None for no range.

    Raises:
        ValueError: a range that cannot be satisfied (416).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        raise ValueError(header)
    first_text, last_text = match.groups()
    if first_text == "":
        if not last_text:
            raise ValueError(header)
        length = min(int(last_text), size)
        return size - length, size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or last < first:
        raise ValueError(header)
    return first, last


def media_route(read_range: Callable[[str, int, int], bytes], size_of: Callable[[str], int]) -> Any:
    """The Starlette endpoint serving `/api/media/{token}` from a store's ranged reads."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse

    async def endpoint(request: Request) -> Response:
        grant = check(request.path_params["token"])
        if grant is None:
            return Response("[EX-MEDIA-LINK] this media link is not valid or has expired", status_code=403)
        size = await run_in_threadpool(size_of, grant.sha256)
        try:
            wanted = parse_range(request.headers.get("range"), size)
        except ValueError:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        first, last = wanted if wanted is not None else (0, size - 1)

        async def body() -> AsyncIterator[bytes]:
            position = first
            while position <= last:
                length = min(CHUNK, last - position + 1)
                yield await run_in_threadpool(read_range, grant.sha256, position, length)
                position += length

        headers = {
            "Accept-Ranges": "bytes",
            "Content-Length": str(last - first + 1 if size else 0),
            "Cache-Control": "private, no-store",
        }
        if grant.file_name:
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(grant.file_name)}"
        if wanted is not None:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return StreamingResponse(
            body() if size else _empty(),
            status_code=206 if wanted else 200,
            media_type=grant.media_type,
            headers=headers,
        )

    return endpoint


_BUNDLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def bundle_route(folder: Callable[[], Path]) -> Any:
    """The Starlette endpoint serving `/api/bundle/{token}`: a case bundle the page exported, as a download.

    The token names a file in the exports folder (no path: `_BUNDLE_NAME`), minted by the page after the export
    was authorised and recorded; the file is streamed from disk (Range requests answered), never read whole.
    """
    from starlette.requests import Request
    from starlette.responses import FileResponse, Response

    async def endpoint(request: Request) -> Response:
        grant = check(request.path_params["token"])
        if grant is None or not _BUNDLE_NAME.fullmatch(grant.sha256):
            return Response("[EX-MEDIA-LINK] this download link is not valid or has expired", status_code=403)
        path = folder() / grant.sha256
        if not path.is_file():
            return Response("[EX-NOT-FOUND] this bundle is no longer on the server", status_code=404)
        return FileResponse(
            path,
            media_type=grant.media_type,
            filename=grant.file_name or grant.sha256,
            headers={"Cache-Control": "private, no-store"},
        )

    return endpoint


async def _empty() -> AsyncIterator[bytes]:
    if False:  # an async generator that yields nothing
        yield b""
