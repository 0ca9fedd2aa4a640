"""Persons found by clustering faces across the case: representatives, appearances (click to jump to the
moment), merge / split / name as recorded decisions, and reference-photo matches listed as leads."""

from __future__ import annotations

import streamlit as st

from review_app import components
from review_app.services import current

actor, case_ref = components.actor(), components.case_ref()
services = current()


def cached_face(exhibit_id: int, track: int, time_s: float | None) -> bytes:
    """Each face is cut once per session (a frame decode each), its first showing recorded as a view; the
    page's own read of the persons is recorded on every showing."""
    pictures: dict[tuple[int, int, float | None], bytes] = st.session_state.setdefault("persons.faces", {})
    key = (exhibit_id, track, time_s)
    if key not in pictures:
        pictures[key] = services.face_picture(actor, exhibit_id, track, time_s)
    return pictures[key]


persons = services.persons(actor, case_ref)
st.title("Persons")
if not persons:
    st.info("No faces have been clustered in this case yet.")
    st.stop()
st.caption(f"{len(persons)} person(s). Clustering groups faces; it does not identify anyone.")

for person in persons:
    label = person.name or "unnamed"
    confirmed = " · confirmed" if person.confirmed else ""
    with st.expander(
        f"{person.person_id} — {label} · {len(person.appearances)} appearance(s) · "
        f"agreement {person.confidence:.2f}{confirmed}",
        expanded=len(persons) <= 4,
    ):
        representative = next((a for a in person.appearances if a["representative"]), None)
        if representative is not None:
            st.image(
                cached_face(representative["exhibit_id"], representative["track"], representative["time_s"]),
                caption=f"{person.person_id}: best face ({representative['exhibit_ref']})",
                width=140,
            )
        for i, appearance in enumerate(person.appearances):
            when = (
                f"{components.seconds_text(appearance['start_s'])}–{components.seconds_text(appearance['end_s'])}"
                if appearance["start_s"] is not None
                else "photo"
            )
            star = "★ " if appearance["representative"] else ""
            if st.button(
                f"{star}{appearance['exhibit_ref']} · track {appearance['track']} · {when}",
                key=f"persons.{person.person_id}.{i}",
            ):
                components.open_exhibit(appearance["exhibit_id"], appearance["start_s"])

st.subheader("Decide")
ids = [p.person_id for p in persons]
name_tab, merge_tab, split_tab, match_tab = st.tabs(["Name", "Merge", "Split", "Match a reference photo"])
with name_tab, st.form("persons.name"):
    who = st.selectbox("Person", ids, key="persons.name.who")
    name = st.text_input("Name (empty removes it)", key="persons.name.text")
    why = st.text_input("Why (recorded)", key="persons.name.why")
    if st.form_submit_button("Name"):
        services.name(actor, case_ref, who, name, why)
        st.success(f"{who} named {name!r}")
        st.rerun()
with merge_tab, st.form("persons.merge"):
    merged = st.multiselect("Persons who are the same person", ids, key="persons.merge.ids")
    name = st.text_input("Name (optional)", key="persons.merge.name")
    why = st.text_input("Why (recorded)", key="persons.merge.why")
    if st.form_submit_button("Merge"):
        services.merge(actor, case_ref, merged, name or None, why)
        st.rerun()
with split_tab, st.form("persons.split"):
    who = st.selectbox("Person", ids, key="persons.split.who")
    person = next(p for p in persons if p.person_id == who)
    labels = {f"{a['exhibit_ref']} track {a['track']}": (a["exhibit_id"], a["track"]) for a in person.appearances}
    chosen = st.multiselect("Appearances that are someone else", list(labels), key="persons.split.faces")
    why = st.text_input("Why (recorded)", key="persons.split.why")
    if st.form_submit_button("Split off"):
        services.split(actor, case_ref, who, [labels[c] for c in chosen], why)
        st.rerun()
with match_tab, st.form("persons.match"):
    photo = st.file_uploader("Reference photo", type=["jpg", "jpeg", "png"], key="persons.match.photo")
    name = st.text_input("Whose photo", key="persons.match.name")
    if st.form_submit_button("Compare with the case") and photo is not None:
        found = services.match(actor, case_ref, photo.getvalue(), "." + photo.name.rsplit(".", 1)[-1], name)
        st.session_state["persons.leads"] = found.to_dict()
leads = st.session_state.get("persons.leads")
if leads:
    st.subheader(f"Leads for {leads['reference']['name']}: {leads['leads']} of {leads['compared']} appearance(s)")
    st.warning(f"Each row is a {leads['label']} (distance below {leads['threshold']}).")
    st.dataframe(leads.get("appearances", []), hide_index=True, width="stretch")
