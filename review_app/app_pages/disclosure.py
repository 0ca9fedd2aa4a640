"""Disclosure (CPIA): decide what goes on the MG6C and MG6D schedules, MG6E notes, the prosecutor's marks, the
schedules as generated from those decisions, and the review of redacted copies before anything is shared."""

from __future__ import annotations

import streamlit as st

from review_app import components
from review_app.services import current

actor, case_ref = components.actor(), components.case_ref()
services = current()
st.title("Disclosure")
deciding = actor.role in ("disclosure_officer", "supervisor")

undecided = services.undecided(actor, case_ref)
st.caption(f"Not yet decided: {', '.join(undecided) or 'none'}")
if deciding:
    with st.form("disclosure.decide", clear_on_submit=True):
        exhibits = st.multiselect("Exhibits (several make a block of similar items)", undecided, key="disclosure.ex")
        schedule = st.radio("Schedule", ["MG6C", "MG6D", "not_relevant"], horizontal=True, key="disclosure.sch")
        description = st.text_area("Description: what the item is and what it shows", key="disclosure.desc")
        sensitivity = st.text_input("MG6D: why it is sensitive", key="disclosure.sens")
        undermines = st.text_input(
            "MG6E: why it might undermine the prosecution or assist the defence", key="disclosure.e"
        )
        copy_supplied = st.checkbox("MG6E: copy supplied to the prosecutor", key="disclosure.copy")
        if st.form_submit_button("Record decision"):
            item = services.decide(
                actor,
                case_ref,
                exhibits,
                schedule,
                description=description,
                sensitivity=sensitivity or None,
                undermines=undermines or None,
                copy_supplied=copy_supplied,
            )
            st.success(f"{item.schedule} item {item.number or ''}: {', '.join(item.exhibits)}")
            for warning in item.warnings:
                st.warning(warning)

for schedule in ("MG6C", "MG6D", "MG6E"):
    items = services.disclosure_items(actor, case_ref, schedule)
    st.subheader(schedule)
    if schedule == "MG6D" and not items:
        st.caption("Nothing sensitive is scheduled: the MG6D is a nil return.")
    st.dataframe(
        [
            {
                "no.": item.number,
                "schedule": item.schedule,
                "exhibits": ", ".join(item.exhibits),
                "description": item.description,
                "sensitivity": item.sensitivity or "",
                "might undermine or assist": item.undermines or "",
                "CPS mark": item.cps_mark or "",
                "CPS comment": item.cps_comment or "",
                "revision": item.revision,
                "decided by": item.decided_by,
            }
            for item in items
        ],
        hide_index=True,
        width="stretch",
    )
    as_csv, as_pdf = st.columns(2)
    as_csv.download_button(
        f"{schedule} as CSV",
        services.schedule_csv(actor, case_ref, schedule),
        file_name=f"{case_ref}-{schedule}.csv",
        mime="text/csv",
        key=f"disclosure.csv.{schedule}",
    )
    as_pdf.download_button(
        f"{schedule} as PDF",
        services.schedule_pdf(actor, case_ref, schedule),
        file_name=f"{case_ref}-{schedule}.pdf",
        mime="application/pdf",
        key=f"disclosure.pdf.{schedule}",
    )

if deciding:
    with st.form("disclosure.mark", clear_on_submit=True):
        st.markdown("**The prosecutor's marks, as the schedule came back**")
        left, middle, right = st.columns(3)
        schedule = left.selectbox("Schedule", ["MG6C", "MG6D"], key="disclosure.mark.sch")
        number = middle.number_input("Item no.", min_value=1, step=1, key="disclosure.mark.no")
        mark = right.selectbox("Mark", ["D", "CND", "I"], key="disclosure.mark.mark")
        comment = st.text_input("Comment", key="disclosure.mark.comment")
        if st.form_submit_button("Record mark"):
            services.mark(actor, case_ref, schedule, int(number), mark, comment)
            st.rerun()

if deciding:
    st.subheader("Case bundle")
    with st.form("disclosure.export", clear_on_submit=True):
        recipient = st.text_input("Recipient (recorded)", key="disclosure.export.recipient")
        reason = st.text_input("Reason (recorded)", key="disclosure.export.reason")
        scope = st.radio("Exhibits", ["every exhibit", "MG6C", "MG6D"], horizontal=True, key="disclosure.export.scope")
        redacted = st.checkbox("Approved redacted copies instead of originals", key="disclosure.export.redacted")
        passphrase = st.text_input(
            "Passphrase to encrypt it for transfer (optional, at least 12 characters; never stored: send it "
            "by another channel)",
            type="password",
            key="disclosure.export.passphrase",
        )
        if st.form_submit_button("Export bundle"):
            outcome, url = services.export_bundle(
                actor,
                case_ref,
                recipient=recipient,
                reason=reason,
                schedule=None if scope == "every exhibit" else scope,
                redacted=redacted,
                passphrase=passphrase or None,
            )
            st.session_state["disclosure.export.done"] = (outcome.to_dict(), url)
    done = st.session_state.get("disclosure.export.done")
    if done:
        summary, url = done
        st.success(
            f"Bundle for {summary['recipient']}: {len(summary['exhibits'])} exhibit(s), {summary['files']} files, "
            f"manifest SHA-256 {summary['manifest_sha256'][:16]}…, signed by {summary['key_id']}"
        )
        st.link_button("Download the bundle (link valid for an hour)", url)
        st.caption("The recipient checks it offline with `exhibit verify-bundle BUNDLE`.")

st.subheader("Redacted copies")
copies = services.redactions(actor, case_ref)
if not copies:
    st.caption("No redacted copies in this case.")
for i, copy in enumerate(copies):
    hidden = copy["parameters"].get("mode", ""), ", ".join(copy["parameters"].get("persons", []) or [])
    with st.expander(f"{copy['exhibit_ref']} · {copy['status']} · redact {hidden[0]} {hidden[1]}".strip()):
        if st.button("Watch it", key=f"disclosure.watch.{i}"):
            st.video(services.media_url(actor, copy["exhibit_id"], copy["sha256"]))
        if actor.role in ("disclosure_officer", "analyst"):
            with st.form(f"disclosure.review.{i}"):
                verdict = st.radio("Verdict", ["approved", "rejected"], horizontal=True, key=f"disclosure.v.{i}")
                note = st.text_input("What you checked (recorded)", key=f"disclosure.note.{i}")
                if st.form_submit_button("Record review"):
                    services.review_redaction(actor, copy["exhibit_id"], copy["sha256"], verdict, note)
                    st.rerun()
