"""One box over the case: exhibit fields, hashes (paste an MD5, SHA-1 or SHA-256), device file names, camera
metadata and person names."""

from __future__ import annotations

import streamlit as st

from review_app import components
from review_app.services import current

actor, case_ref = components.actor(), components.case_ref()
services = current()
st.title("Search")
with st.form("search.form"):
    text = st.text_input("Search", key="search.text", placeholder="a name, a file, a camera, or a hash")
    st.form_submit_button("Search")
if not text.strip():
    st.stop()
found = services.search(actor, case_ref, text)
st.caption(f"{found.count} result(s) for {found.text!r}")


def linked(title: str, rows: list[dict[str, object]], key: str, exhibit_field: str = "exhibit_id") -> None:
    if not rows:
        return
    st.subheader(title)
    event = st.dataframe(
        rows, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key=f"search.{key}"
    )
    picked = components.selected_row(event)
    if picked is not None and rows[picked].get(exhibit_field):
        components.open_exhibit(int(str(rows[picked][exhibit_field])))


if found.hashes:
    st.subheader("Where this hash is")
    for hit in found.hashes:
        st.markdown(f"**{hit['exhibit_ref']}** — {hit['what']}")
    for f in found.device_files:
        st.markdown(f"**{f.get('exhibit_ref', '')}** — file `{f['path']}` on the device image")
linked("Exhibits", found.exhibits, "exhibits")
linked(
    "Files on device images",
    [
        {
            "exhibit_id": f["exhibit_id"],
            "device": f.get("exhibit_ref", ""),
            "path": f["path"],
            "size": f["size"],
            "deleted": f["deleted"],
            "md5": f["md5"],
            "sha256": f["sha256"],
            "became": f.get("child_exhibit_ref") or "",
        }
        for f in found.device_files
    ],
    "files",
)
linked("Camera and software", found.metadata, "metadata")
if found.persons:
    st.subheader("Persons")
    st.dataframe(
        [{"person": p["person_id"], "name": p["name"], "exhibits": ", ".join(p["exhibits"])} for p in found.persons],
        hide_index=True,
        width="stretch",
    )
if not found.count:
    st.info("Nothing in this case matches.")
