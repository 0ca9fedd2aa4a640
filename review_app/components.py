"""Panels shared by the pages: coded errors, the current user and case, links between pages."""

from __future__ import annotations

from typing import Any

import streamlit as st

from evidence_store.access import Actor
from schemas.errors import ExhibitError

EXHIBIT_PAGE = "app_pages/exhibit.py"


def coded_error(exc: ExhibitError) -> None:
    """The code and the message, never a traceback."""
    st.error(f"**{exc.code}** — {exc.message}")


def actor() -> Actor:
    found: Actor = st.session_state["actor"]
    return found


def case_ref() -> str:
    """The case chosen in the sidebar; a page without one says so and stops."""
    chosen = st.session_state.get("case")
    if not chosen:
        st.info("Choose a case in the sidebar.")
        st.stop()
    return str(chosen)


def open_exhibit(exhibit_id: int, seek_s: float | None = None) -> None:
    """Goes to the exhibit page, playing from `seek_s` where the exhibit is a recording."""
    st.session_state["exhibit.id"] = int(exhibit_id)
    st.session_state["exhibit.seek"] = seek_s
    st.switch_page(EXHIBIT_PAGE)


def size_text(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes)}:{secs:04.1f}"


def selected_row(event: Any) -> int | None:
    """The index of the row chosen in a `st.dataframe(on_select=...)`, if any."""
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    return int(rows[0]) if rows else None
