"""One exhibit: a player or viewer by kind, then its digests, derivatives with provenance, warnings and the
original's download (reason required). Every panel's read is a recorded view."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import streamlit as st

from review_app import components
from review_app.services import Services, current

actor, case_ref = components.actor(), components.case_ref()
services = current()

exhibit_id = st.session_state.get("exhibit.id")
if exhibit_id is None:
    st.info("Choose an exhibit on the Case page, in Search or on the Timeline.")
    st.stop()
record = services.exhibit(actor, int(exhibit_id))
if record["case"] != case_ref:
    st.session_state["case"] = record["case"]  # followed a link into another of the user's cases
derivatives: dict[str, list[dict[str, Any]]] = defaultdict(list)
for d in record["derivatives"]:
    derivatives[d["role"]].append(d)
seek = st.session_state.get("exhibit.seek")

st.title(f"{record['exhibit_ref']} · {record['kind'].replace('_', ' ')}")
st.caption(
    f"{record['source_name']} · {components.size_text(record['original']['size'])} · status {record['status']} · "
    f"received {record['received_at']} · produced by {record['producer']}"
)
if record["description"]:
    st.write(record["description"])
for warning in record["warnings"] + record.get("analysis_warnings", []):
    st.warning(f"**{warning['code']}** — {warning['message']}")


def newest(role: str) -> dict[str, Any] | None:
    made = derivatives.get(role)
    return made[-1] if made else None


def video_panel(services: Services) -> None:
    proxy = newest("review_proxy")
    if proxy is None:
        st.info("No review proxy yet: the media pipeline makes one (Runs page).")
    else:
        st.video(services.media_url(actor, record["exhibit_id"], proxy["sha256"]), start_time=int(seek or 0))
        if seek:
            st.caption(f"Playing from {components.seconds_text(seek)}")
    keyframes = services.table(actor, record["exhibit_id"], "keyframes", limit=24)
    if keyframes:
        st.subheader("Keyframes")
        columns = st.columns(min(6, len(keyframes)))
        for i, frame in enumerate(keyframes):
            with columns[i % len(columns)]:
                st.image(services.image(actor, record["exhibit_id"], frame["sha256"]))
                if st.button(components.seconds_text(frame["time_s"]), key=f"exhibit.keyframe.{i}"):
                    components.open_exhibit(record["exhibit_id"], frame["time_s"])
    face_rows = services.exhibit_faces(actor, record["case"], record["exhibit_id"])
    if face_rows:
        st.subheader("Faces on the timeline")
        spans: dict[str, list[float]] = defaultdict(list)
        for row in face_rows:
            if row["time_s"] is not None:
                spans[row["person_id"] or f"track {row['track']}"].append(row["time_s"])
        chart: list[dict[str, Any]] = [
            {"person": p, "from_s": min(t), "to_s": max(t) + 0.5} for p, t in sorted(spans.items())
        ]
        st.vega_lite_chart(
            chart,
            {
                "mark": {"type": "bar", "height": 14},
                "encoding": {
                    "y": {"field": "person", "type": "nominal"},
                    "x": {"field": "from_s", "type": "quantitative", "title": "seconds from the first frame"},
                    "x2": {"field": "to_s"},
                },
            },
            width="stretch",
        )
        columns = st.columns(min(6, max(1, len(chart))))
        for i, span in enumerate(chart):
            if columns[i % len(columns)].button(
                f"{span['person']} at {components.seconds_text(span['from_s'])}", key=f"exhibit.face.{i}"
            ):
                components.open_exhibit(record["exhibit_id"], span["from_s"])
    probe = record.get("media_probe")
    if probe:
        with st.expander("Media probe"):
            st.json({k: v for k, v in probe.items() if k not in ("streams", "tags")}, expanded=False)


def photo_panel(services: Services) -> None:
    shown = newest("display_copy")
    left, right = st.columns([3, 2])
    with left:
        if shown is not None:
            st.image(services.image(actor, record["exhibit_id"], shown["sha256"]), caption="upright display copy")
        elif record["original"]["size"] < 32 << 20:
            st.image(services.image(actor, record["exhibit_id"], record["original"]["sha256"]), caption="original")
    metadata = record.get("photo_metadata")
    with right:
        if metadata:
            orientation = metadata.get("orientation")
            st.caption(f"EXIF orientation {orientation or 'not set'}: shown upright")
            table = {
                k: v for k, v in metadata.items() if v not in (None, [], {}) and k not in ("text_tags", "warnings")
            }
            st.dataframe([{"field": k, "value": str(v)} for k, v in table.items()], hide_index=True, width="stretch")
        position = services.position(record["exhibit_id"])
        if position is not None:
            st.markdown(f"**Taken at** {position[0]:.6f}, {position[1]:.6f}")
            st.map([{"lat": position[0], "lon": position[1]}], zoom=14, size=20, height=260)


def audio_panel(services: Services) -> None:
    playable = newest("review_proxy") or {"sha256": record["original"]["sha256"]}
    st.audio(services.media_url(actor, record["exhibit_id"], playable["sha256"]), start_time=int(seek or 0))
    waveform = newest("waveform")
    if waveform is not None:
        st.image(services.image(actor, record["exhibit_id"], waveform["sha256"]), caption="waveform")
    analysis = record.get("audio_analysis")
    if analysis:
        st.caption(
            f"{components.seconds_text(analysis['duration_s'])} · speech {analysis['speech_seconds']:.1f} s · "
            f"loudness {analysis['integrated_lufs']} LUFS"
        )
        speech = analysis.get("speech") or []
        if speech:
            st.subheader("Speech")
            columns = st.columns(min(6, len(speech)))
            for i, span in enumerate(speech[:60]):
                label = f"{components.seconds_text(span['start_s'])}–{components.seconds_text(span['end_s'])}"
                if columns[i % len(columns)].button(label, key=f"exhibit.speech.{i}"):
                    components.open_exhibit(record["exhibit_id"], span["start_s"])


def device_panel(services: Services) -> None:
    verification = record.get("device_verification")
    if verification:
        verdict = "verified" if verification["verified"] else "NOT verified"
        st.markdown(
            f"**Image {verdict}** · {verification['format']} · {components.size_text(verification['media_size'])} · "
            f"stored MD5 {verification.get('stored_md5') or 'none'} · computed MD5 {verification['computed_md5']}"
        )
    volumes = record.get("device_volumes") or []
    if volumes:
        st.subheader("Partitions")
        st.dataframe(
            [
                {
                    "#": v["index"],
                    "scheme": v["volume_system"],
                    "start sector": v["start_sector"],
                    "sectors": v["sector_count"],
                    "description": v["description"],
                    "file system": v["file_system"] or "",
                }
                for v in volumes
            ],
            hide_index=True,
            width="stretch",
        )
    st.subheader("Files")
    parent = st.session_state.get("exhibit.dir", "/")
    crumbs = [p for p in parent.strip("/").split("/") if p]
    trail = st.columns(len(crumbs) + 1)
    if trail[0].button("/", key="exhibit.dir.root"):
        st.session_state["exhibit.dir"] = "/"
        st.rerun()
    for i, name in enumerate(crumbs):
        if trail[i + 1].button(name, key=f"exhibit.dir.crumb.{i}"):
            st.session_state["exhibit.dir"] = "/" + "/".join(crumbs[: i + 1])
            st.rerun()
    tree, listing = st.columns([1, 3])
    with tree:
        for sub in services.subdirectories(actor, record["exhibit_id"], parent):  # full paths
            if st.button(sub.rsplit("/", 1)[-1] + "/", icon=":material/folder:", key=f"exhibit.dir.sub.{sub}"):
                st.session_state["exhibit.dir"] = sub
                st.rerun()
    with listing:
        a, b, c = st.columns(3)
        filters = {
            "deleted_only": a.checkbox("Deleted only", key="exhibit.deleted"),
            "hide_known": b.checkbox("Hide known files", key="exhibit.hide_known"),
            "alerts_only": c.checkbox("Known-bad only", key="exhibit.alerts"),
        }
        page = services.directory(actor, record["exhibit_id"], parent, filters, 0, 200)
        rows = [
            {
                "name": r["name"],
                "type": r["file_type"],
                "size": r["size"],
                "deleted": r["deleted"],
                "known": r["known"],
                "alert": r["alert"],
                "modified": r["mtime"],
                "accessed": r["atime"],
                "changed": r["ctime"],
                "created": r["crtime"],
                "zone": "local (no zone)" if r["times_are_local"] else "UTC",
                "md5": r["md5"],
                "sha256": r["sha256"],
                "exhibit": r["child_exhibit_ref"] or "",
            }
            for r in page.rows
        ]
        event = st.dataframe(
            rows, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="exhibit.files"
        )
        st.caption(f"{page.total:,} entr{'y' if page.total == 1 else 'ies'} in {parent}")
        picked = components.selected_row(event)
        if picked is not None and picked < len(page.rows):
            chosen = page.rows[picked]
            if chosen["file_type"] == "directory":
                st.session_state["exhibit.dir"] = chosen["path"]
                st.rerun()
            elif chosen["child_exhibit_id"]:
                st.markdown(f"**{chosen['path']}** became exhibit {chosen['child_exhibit_ref']}.")
                if st.button(f"Open {chosen['child_exhibit_ref']}", key="exhibit.child"):
                    components.open_exhibit(chosen["child_exhibit_id"])
                preview(services, chosen["child_exhibit_id"])


def preview(services: Services, child_id: int) -> None:
    """A look at media extracted from the device (its own exhibit, its own recorded view)."""
    child = services.exhibit(actor, child_id)
    made = {d["role"]: d for d in child["derivatives"]}
    if "display_copy" in made:
        st.image(services.image(actor, child_id, made["display_copy"]["sha256"]), width=320)
    elif "review_proxy" in made and child["kind"] == "bwv":
        st.video(services.media_url(actor, child_id, made["review_proxy"]["sha256"]))


panel = {"bwv": video_panel, "photo": photo_panel, "audio": audio_panel, "device_image": device_panel}.get(
    record["kind"]
)
disposed = record["status"] == "disposed"
if disposed:
    st.info(
        "Disposed of: its stored objects were deleted after a recorded disposal approved by a second person. "
        "Its record, digests and custody history remain (Custody page); the certificate is on the Retention page."
    )
elif panel is not None:
    panel(services)

st.subheader("Original")
original = record["original"]
st.dataframe(
    [
        {"digest": "MD5", "value": original["md5"]},
        {"digest": "SHA-1", "value": original["sha1"]},
        {"digest": "SHA-256", "value": original["sha256"]},
        {"digest": "size", "value": f"{original['size']:,} bytes"},
        {"digest": "media type", "value": original["media_type"]},
        {"digest": "encryption", "value": f"{original['encryption']['alg']} (key {original['encryption']['key_id']})"},
    ],
    hide_index=True,
    width="stretch",
)
asked = False
if not disposed:
    with st.form("exhibit.download"):
        reason = st.text_input("Reason for downloading the original (recorded on the custody ledger)")
        asked = st.form_submit_button("Download original")
if asked:
    if not reason.strip():
        st.error("**EX-ACCESS-DENIED** — a download needs a stated reason")
    else:
        link = services.download_url(actor, record["exhibit_id"], reason)
        st.link_button(f"Save {record['source_name']} (link valid 10 minutes)", link)

if record["derivatives"]:
    st.subheader("Derivatives and their provenance")
    st.dataframe(
        [
            {
                "role": d["role"],
                "sha256": d["sha256"],
                "made from": d["source_sha256"],
                "tool": f"{d['tool']} {d['tool_version'].split(';')[0]}",
                "parameters": str(d["parameters"]),
                "run": d["run_id"] or "",
                "made": d["created_at"],
            }
            for d in record["derivatives"]
        ],
        hide_index=True,
        width="stretch",
    )
if record["children"]:
    st.caption("Exhibits extracted from this one: " + ", ".join(c["exhibit_ref"] for c in record["children"]))
if record["times"]:
    st.subheader("Times")
    st.dataframe(record["times"], hide_index=True, width="stretch")
