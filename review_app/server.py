"""The review app's server: Streamlit plus the `/api/media/<token>` route that streams stored media by range, and
`/api/bundle/<token>` that hands over a case bundle the Disclosure page exported.

`streamlit run review_app/server.py` (what `exhibit serve` does) finds `app` here and serves both.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.routing import Route

from evidence_store.objects import ObjectStore
from review_app.media import bundle_route, media_route
from review_app.services import exports_folder, shared


def _store() -> ObjectStore:
    return shared().system.store


def _size(sha256: str) -> int:
    return _store().plaintext_size(sha256)


def _read(sha256: str, start: int, length: int) -> bytes:
    return _store().read_range(sha256, start, length)


app = st.App(
    Path(__file__).parent / "streamlit_app.py",
    routes=[
        Route("/api/media/{token}", media_route(_read, _size)),
        Route("/api/bundle/{token}", bundle_route(lambda: exports_folder(shared().system))),
    ],
)
