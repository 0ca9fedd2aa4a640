"""One case timeline (photo and recording times, file-system times from device images, custody events), each
with the clock it came from and how far to trust it, and a map of every geotagged exhibit."""

from __future__ import annotations

import streamlit as st

from review_app import components
from review_app.services import current

actor, case_ref = components.actor(), components.case_ref()
services = current()
st.title("Timeline and map")

left, middle, right, last = st.columns([2, 2, 1, 1])
start = left.text_input("From (ISO 8601, e.g. 2024-03-01)", key="timeline.start") or None
end = middle.text_input("To", key="timeline.end") or None
files = right.checkbox("Device file times", value=True, key="timeline.files")
custody_events = last.checkbox("Custody events", value=True, key="timeline.custody")
if end and len(end) == 10:
    end = f"{end}T23:59:59.999999Z"  # a date means the whole day
events = services.timeline(actor, case_ref, start, end, files, custody_events)
st.caption(
    f"{len(events)} event(s). Times with no zone (a camera's clock, FAT file systems) are shown as written and "
    "marked: they are not converted by guesswork."
)
rows = [
    {
        "time": e["time"],
        "zone": "UTC" if e["zone_known"] else "no zone",
        "what": e["what"],
        "exhibit": e["exhibit_ref"] or "",
        "clock": e["source"] or "",
        "reliability": e["reliability"] or "",
        "detail": e["detail"],
    }
    for e in events
]
event = st.dataframe(
    rows, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="timeline.table"
)
picked = components.selected_row(event)
if picked is not None and events[picked]["exhibit_id"]:
    components.open_exhibit(events[picked]["exhibit_id"])

st.subheader("Map")
places = services.geotagged(actor, case_ref)
if not places:
    st.info("No exhibit of this case carries a position.")
else:
    st.map([{"lat": p["latitude"], "lon": p["longitude"]} for p in places], size=20)
    event = st.dataframe(
        [
            {
                "exhibit": p["exhibit_ref"],
                "kind": p["kind"],
                "lat": p["latitude"],
                "lon": p["longitude"],
                "time": p["time"],
            }
            for p in places
        ],
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="timeline.places",
    )
    picked = components.selected_row(event)
    if picked is not None:
        components.open_exhibit(places[picked]["exhibit_id"])
