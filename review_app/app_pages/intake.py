"""Intake: upload files with their exhibit details into a case. They go through the same intake as the
command line and the drop folders (hash, encrypt, store, custody), as the signed-in officer."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from evidence_store.intake import IngestRequest
from review_app import components
from review_app.services import current

actor, case_ref = components.actor(), components.case_ref()
services = current()
st.title("Intake")
st.caption("Uploads up to 256 MB a file. Larger originals (device images, long recordings) go through a drop folder.")
with st.form("intake.form", clear_on_submit=True):
    files = st.file_uploader("Files", accept_multiple_files=True, key="intake.files")
    left, right = st.columns(2)
    producer = left.text_input("Produced or seized by (name)", key="intake.by")
    kind = right.selectbox("Kind", ["auto", "bwv", "photo", "audio", "device_image", "document", "other"])
    reference = left.text_input("Exhibit reference (optional, e.g. JS/12)", key="intake.ref")
    seized_from = right.text_input("Seized from (optional)", key="intake.from")
    description = st.text_area("Description", key="intake.description")
    submitted = st.form_submit_button("Ingest")
if submitted:
    if not files or not producer.strip():
        st.error("**EX-INPUT** — choose at least one file and say who produced it")
        st.stop()
    request = IngestRequest(
        case_ref=case_ref,
        by=producer.strip(),
        kind=kind,
        exhibit_ref=reference.strip() or None,
        description=description.strip() or None,
        seized_from=seized_from.strip() or None,
    )
    outcomes = services.intake(actor, case_ref, [(f.name, f.getvalue()) for f in files], request)
    for outcome in outcomes:
        name = Path(outcome.path).name
        if outcome.error is not None:
            st.error(f"{name}: **{outcome.error['code']}** — {outcome.error['message']}")
        elif outcome.duplicate_of is not None:
            st.info(f"{name}: the case already holds these bytes as {outcome.exhibit_ref}; receipt recorded")
        else:
            st.success(f"{outcome.exhibit_ref}: {name} stored (SHA-256 {outcome.sha256})")
        for warning in outcome.warnings:
            st.warning(f"{name}: **{warning['code']}** — {warning['message']}")
    st.caption("The pipeline picks new exhibits up on its own; the Runs page shows their progress.")
