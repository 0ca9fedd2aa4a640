"""Case overview: exhibits by kind and status, warnings, quick filters, one page of exhibits at a time."""

from __future__ import annotations

import streamlit as st

from evidence_store.review import KINDS, ExhibitFilter
from review_app import components
from review_app.services import current

PAGE_ROWS = 50
actor, case_ref = components.actor(), components.case_ref()
services = current()
overview = services.overview(actor, case_ref)

st.title(f"{overview.reference} — {overview.title}")
st.caption(
    f"Officer in charge: {overview.officer_in_charge or 'not recorded'} · status {overview.status} · "
    f"{overview.exhibits:,} exhibit(s)"
)
columns = st.columns(len(KINDS) + 1)
for column, kind in zip(columns, KINDS, strict=False):
    column.metric(kind.replace("_", " "), f"{overview.by_kind.get(kind, 0):,}")
columns[-1].metric("with warnings", f"{overview.with_warnings:,}")
if overview.by_status:
    st.caption("By status: " + ", ".join(f"{k} {v:,}" for k, v in sorted(overview.by_status.items())))

left, middle, right, last = st.columns([2, 2, 3, 1])
kind = left.selectbox("Kind", ["all", *KINDS], key="cases.kind")
status = middle.selectbox("Status", ["all", *sorted(overview.by_status)], key="cases.status")
text = right.text_input("Filter by reference, description, file name or producer", key="cases.text")
warnings_only = last.checkbox("Warnings only", key="cases.warnings")
chosen = ExhibitFilter(
    kind=None if kind == "all" else kind,
    status=None if status == "all" else status,
    warnings_only=warnings_only,
    text=text or None,
)
if st.session_state.get("cases.filter") != chosen:
    st.session_state["cases.filter"] = chosen
    st.session_state["cases.page"] = 0
page_number = int(st.session_state.get("cases.page", 0))
page = services.exhibits(actor, case_ref, chosen, page_number * PAGE_ROWS, PAGE_ROWS)
pages = max(1, -(-page.total // PAGE_ROWS))

runs = services.run_states([r["uid"] for r in page.rows])
rows = [
    {
        "exhibit": r["exhibit_ref"],
        "kind": r["kind"],
        "file": r["source_name"],
        "size": components.size_text(r["size"]),
        "status": r["status"],
        "analysed": ", ".join(r["analyses"]) or "not yet",
        "last run": runs.get(r["uid"], "—" if runs else "Dagster not reachable"),
        "warnings": ", ".join(r["warnings"]),
        "from": r["parent_ref"] or "",
        "received": r["received_at"],
    }
    for r in page.rows
]
event = st.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="cases.table",
)
back, label, forward = st.columns([1, 3, 1])
if back.button("◀ Previous", disabled=page_number == 0, key="cases.previous"):
    st.session_state["cases.page"] = page_number - 1
    st.rerun()
label.caption(f"Page {page_number + 1} of {pages:,} · {page.total:,} exhibit(s) match")
if forward.button("Next ▶", disabled=page_number + 1 >= pages, key="cases.next"):
    st.session_state["cases.page"] = page_number + 1
    st.rerun()
picked = components.selected_row(event)
if picked is not None and picked < len(page.rows):
    components.open_exhibit(page.rows[picked]["exhibit_id"])
