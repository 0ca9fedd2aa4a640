"""Media links and ranged reads: tokens that cannot be forged or reused after expiry, and byte ranges as
browsers ask for them when a video is played and seeked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from review_app.media import check, mint, parse_range


def test_a_link_carries_its_grant_and_expires() -> None:
    token = mint("ab" * 32, "video/mp4", "dc.brown", seconds=60)
    grant = check(token)
    assert grant is not None
    assert (grant.sha256, grant.media_type, grant.user, grant.file_name) == ("ab" * 32, "video/mp4", "dc.brown", None)
    assert check(token, now=time.time() + 61) is None


def test_an_edited_or_forged_link_is_refused() -> None:
    token = mint("ab" * 32, "video/mp4", "dc.brown")
    body, mac = token.split(".")
    other = mint("cd" * 32, "video/mp4", "dc.brown")
    assert check(f"{other.split('.')[0]}.{mac}") is None  # another object's body with this signature
    assert check(f"{body}.{mac[:-2]}AA") is None
    assert check("not-a-token") is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-", (0, 999)),
        ("bytes=0-1", (0, 1)),
        ("bytes=500-2000", (500, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=999-999", (999, 999)),
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-", "items=0-1", "bytes=0-1,5-6"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(ValueError):
        parse_range(header, 1000)


def _get(app: object, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET through the ASGI app, as a server would make it (no HTTP client needed)."""
    import asyncio

    sent: list[dict[str, object]] = []
    requested = False

    async def receive() -> dict[str, object]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while not any(m["type"] == "http.response.body" and not m.get("more_body") for m in sent):
            await asyncio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("test", 80),
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}  # type: ignore[attr-defined]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")  # type: ignore[misc]
    return int(start["status"]), headers, body  # type: ignore[call-overload]


def test_the_bundle_route_hands_over_only_a_minted_file(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    from review_app.media import bundle_route

    (tmp_path / "OP-1-bundle.zip").write_bytes(b"PK zip bytes")
    (tmp_path.parent / "secret.txt").write_text("not in the exports folder")
    app = Starlette(routes=[Route("/api/bundle/{token}", bundle_route(lambda: tmp_path))])
    token = mint("OP-1-bundle.zip", "application/zip", "do.patel", file_name="OP-1.zip")
    status, headers, body = _get(app, f"/api/bundle/{token}")
    assert (status, body) == (200, b"PK zip bytes")
    assert 'filename="OP-1.zip"' in headers["content-disposition"]
    assert _get(app, "/api/bundle/forged.token")[0] == 403
    climbing = mint("../secret.txt", "text/plain", "do.patel")
    assert _get(app, f"/api/bundle/{climbing}")[0] == 403
    gone = mint("removed.zip", "application/zip", "do.patel")
    assert _get(app, f"/api/bundle/{gone}")[0] == 404


def test_expired_exports_are_swept(tmp_path: Path) -> None:
    import os

    from review_app.services import sweep_exports

    old, fresh = tmp_path / "old.zip", tmp_path / "fresh.zip.enc"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (time.time() - 3 * 3600, time.time() - 3 * 3600))
    assert sweep_exports(tmp_path) == ["old.zip"]
    assert fresh.exists() and not old.exists()
