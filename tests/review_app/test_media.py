"""Media links and ranged reads: tokens that cannot be forged or reused after expiry, and byte ranges as
browsers ask for them when a video is played and seeked."""

from __future__ import annotations

import time

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
