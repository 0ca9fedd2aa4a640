"""Runs (analysts): launch the exhibit pipeline for an exhibit or the whole case through Dagster's GraphQL
API, watch progress, and read failures with their coded errors. The Dagster UI has the full event logs."""

from __future__ import annotations

import streamlit as st

from review_app import components
from review_app.runs import RunsClient
from review_app.services import current, dagster_url

actor, case_ref = components.actor(), components.case_ref()
services = current()
client = RunsClient(dagster_url())
st.title("Runs")
st.link_button("Open the Dagster UI", dagster_url())
if not client.answers():
    st.error(f"**EX-DAGSTER-UNAVAILABLE** — the Dagster webserver does not answer at {dagster_url()}")
    st.stop()

with st.form("runs.launch"):
    scope = st.radio("Analyse", ["the whole case", "one exhibit"], horizontal=True, key="runs.scope")
    exhibit = st.text_input("Exhibit (reference such as JS/1, for one exhibit)", key="runs.exhibit")
    launch = st.form_submit_button("Launch")
if launch:
    chosen = f"{case_ref}:{exhibit.strip()}" if scope == "one exhibit" else None
    uids = services.uids(actor, None if chosen else case_ref, chosen)
    launched = client.launch(uids, launched_by=actor.name)
    st.success(f"{len(launched)} run(s) submitted")
    st.session_state["runs.uids"] = uids

watched = st.session_state.get("runs.uids") or services.uids(actor, case_ref, None)
references = services.references(watched)
st.subheader("Recent runs of this case")


@st.fragment(run_every=5)
def progress() -> None:
    """Redrawn every few seconds while the page is open: runs move from QUEUED to SUCCESS or FAILURE."""
    runs = client.recent_runs(limit=50, uids=watched)
    st.dataframe(
        [
            {
                "run": r.run_id[:8],
                "exhibit": references.get(r.uid or "", r.uid or ""),
                "status": r.status,
                "started": r.started_at.isoformat(timespec="seconds") if r.started_at else "",
                "ended": r.ended_at.isoformat(timespec="seconds") if r.ended_at else "",
                "by": r.launched_by or (f"sensor {r.sensor}" if r.sensor else ""),
                "link": client.dagster_run_url(r.run_id),
            }
            for r in runs
        ],
        hide_index=True,
        width="stretch",
        column_config={"link": st.column_config.LinkColumn("Dagster", display_text="open")},
    )
    for r in runs:
        if r.status == "FAILURE":
            for failure in client.run_failures(r.run_id):
                step = failure.step_key or "the run"
                st.error(f"Run {r.run_id[:8]} · {step}: **{failure.code or 'EX-STEP-FAILED'}** — {failure.message}")


progress()
