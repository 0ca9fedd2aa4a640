"""Retention: each exhibit's class and when it is due, the case outcome, legal holds, and two-person disposal
(a request here, a supervisor's approval by someone else, then a signed certificate to keep)."""

from __future__ import annotations

from datetime import date

import streamlit as st

from evidence_store.retention import OUTCOMES, RETENTION_CLASSES
from review_app import components
from review_app.services import current

actor, case_ref = components.actor(), components.case_ref()
services = current()
st.title("Retention")
supervisor = actor.role == "supervisor"

states = services.retention_status(actor, case_ref)
live = [s.exhibit_ref for s in states if not s.disposed]
today = date.today()
st.dataframe(
    [
        {
            "exhibit": s.exhibit_ref,
            "class": s.retention_class + (" (own)" if s.class_from == "exhibit" else ""),
            "due": s.due_text(),
            "legal holds": ", ".join(map(str, s.holds)),
            "request": s.open_request or "",
            "state": s.state_text(today),
        }
        for s in states
    ],
    hide_index=True,
    width="stretch",
)

with st.expander("Retention class and case outcome"):
    with st.form("retention.class"):
        name = st.selectbox(
            "Class", list(RETENTION_CLASSES), format_func=lambda n: RETENTION_CLASSES[n].title, key="retention.cls"
        )
        target = st.selectbox("For", ["the whole case", *live], key="retention.for")
        reason = st.text_input("Why (recorded)", key="retention.cls.reason")
        if st.form_submit_button("Set class"):
            services.set_retention(actor, case_ref, name, None if target == "the whole case" else target, reason)
            st.rerun()
    with st.form("retention.outcome"):
        outcome = st.selectbox("Outcome", OUTCOMES, key="retention.outcome.kind")
        decided = st.date_input("Date of the decision or verdict", key="retention.outcome.date")
        released = st.date_input("Released from custody (after a conviction)", value=None, key="retention.outcome.rel")
        if st.form_submit_button("Record outcome"):
            services.record_outcome(
                actor, case_ref, outcome, decided.isoformat(), released.isoformat() if released else None
            )
            st.rerun()

st.subheader("Legal holds")
holds = services.holds(actor, case_ref)
if holds:
    st.dataframe(holds, hide_index=True, width="stretch")
with st.form("retention.hold", clear_on_submit=True):
    on = st.selectbox("Hold", ["the whole case", *live], key="retention.hold.on")
    reason = st.text_input("Reason", key="retention.hold.reason")
    authority = st.text_input("Authority (who asked for it)", key="retention.hold.authority")
    if st.form_submit_button("Place hold"):
        services.place_hold(actor, case_ref, None if on == "the whole case" else on, reason, authority)
        st.rerun()
active = [h for h in holds if h["active"]]
if supervisor and active:
    with st.form("retention.release", clear_on_submit=True):
        hold_id = st.selectbox("Release hold", [h["id"] for h in active], key="retention.release.id")
        reason = st.text_input("Why it can go (recorded)", key="retention.release.reason")
        if st.form_submit_button("Release"):
            services.release_hold(actor, case_ref, int(hold_id), reason)
            st.rerun()

st.subheader("Disposal")
with st.form("retention.request", clear_on_submit=True):
    exhibit = st.selectbox("Exhibit (and the files extracted from it)", live, key="retention.request.ex")
    reason = st.text_input("Reason", key="retention.request.reason")
    early = st.checkbox("Before its retention period ends", key="retention.request.early")
    if st.form_submit_button("Request disposal"):
        services.request_disposal(actor, case_ref, exhibit, reason, early)
        st.rerun()
for request in services.disposals(actor, case_ref):
    title = f"Disposal {request.id}: {request.exhibit_ref} · {request.status} · requested by {request.requested_by}"
    with st.expander(title, expanded=request.status == "requested"):
        st.write(f"Reason: {request.reason}" + (" (before it was due)" if request.before_due else ""))
        if request.decided_by:
            st.write(f"{request.status.capitalize()} by {request.decided_by} at {request.decided_at}")
        if request.status == "requested" and supervisor and request.requested_by != actor.name:
            with st.form(f"retention.decide.{request.id}"):
                why = st.text_input("What you checked (recorded)", key=f"retention.decide.why.{request.id}")
                approve, reject = st.columns(2)
                if approve.form_submit_button("Approve and dispose", type="primary"):
                    services.decide_disposal(actor, request.id, True, why)
                    st.rerun()
                if reject.form_submit_button("Reject"):
                    services.decide_disposal(actor, request.id, False, why)
                    st.rerun()
        if request.status == "approved" and supervisor and request.requested_by != actor.name:
            st.warning("Approved, but deleting did not finish (the store may have been unavailable).")
            if st.button("Finish the disposal", key=f"retention.finish.{request.id}"):
                services.decide_disposal(actor, request.id, True, "finishing an approved disposal")
                st.rerun()
        if request.status == "disposed":
            pdf, signed = st.columns(2)
            pdf.download_button(
                "Certificate (PDF)",
                services.certificate_pdf(actor, request.id),
                file_name=f"{case_ref}-disposal-{request.id}.pdf",
                mime="application/pdf",
                key=f"retention.cert.pdf.{request.id}",
            )
            signed.download_button(
                "Certificate (signed JSON)",
                services.certificate_json(actor, request.id),
                file_name=f"{case_ref}-disposal-{request.id}.json",
                mime="application/json",
                key=f"retention.cert.json.{request.id}",
            )
