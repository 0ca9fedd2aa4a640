"""`exhibit demo`: a sample case built end to end from files this project generates itself.

Nothing is downloaded: a spoken 999 call (espeak-ng), a PNG sketch, scene photos (one forwarded smaller, one
edited after it was taken), a short body-worn-style MP4 and a CCTV clip with a cut, all generated here.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
import subprocess
import wave
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from evidence_store.access import Actor, add_member, add_user, bootstrap_admin, resolve_actor
from evidence_store.analysis import newest_rows
from evidence_store.cases import create_case
from evidence_store.custody import exhibit_proof, make_checkpoint
from evidence_store.derivatives import latest_derivative
from evidence_store.errors import AlreadyExistsError
from evidence_store.intake_folders import load_intake_folders
from evidence_store.processing import exhibit_summary
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from pipelines.dagster_home import dagster_home
from pipelines.orchestration import process_drops, run_here
from pipelines.sample_faces import face_image, scene_image, write_face_video
from pipelines.sample_media import (
    cropped_scene,
    make_bwv_clip,
    make_scene_cut_clip,
    make_seized_card,
    photo_with_thumbnail,
    scene,
    write_scene_photo,
)

DEMO_CASE = "OP-DEMO-001"


def _png(path: Path, width: int = 64, height: int = 48) -> None:
    """A small RGB gradient PNG, written by hand (filter byte 0 per row, then RGB pixels)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 128)) for x in range(width)) for y in range(height)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


_CALL = (
    "Police, please. Someone is breaking into number fourteen Acacia Avenue. "
    "They have smashed the back door and there are two of them."
)


def _999_call(path: Path) -> None:
    """A spoken 999 call (espeak-ng, where installed: real speech for the speech segments), else two tones
    around a pause, as a WAV."""
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "140", "-w", str(path), _CALL], check=True, timeout=60)
        return
    rate = 8000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = bytearray()
        for n in range(int(6 * rate)):
            t = n / rate
            level = 0 if 2 <= t < 4 else 12000
            frames += struct.pack("<h", int(level * math.sin(2 * math.pi * 440 * t)))
        out.writeframes(bytes(frames))


def generate_sample_files(folder: Path) -> list[Path]:
    """Writes the demo evidence into `folder` and returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        folder / "999-call.wav",
        folder / "scene-sketch.png",
        folder / "officer-notes.txt",
        folder / "empty-export.dat",
    ]
    _999_call(files[0])
    _png(files[1])
    files[2].write_text("Attended 14 Acacia Avenue at 21:14. Door forced. Items listed on MG form.\n")
    files[3].write_bytes(b"")
    photo = write_scene_photo(folder / "scene-photo.jpg")  # EXIF: phone, time + offset, GPS, orientation
    with Image.open(photo) as image:  # the same photo as a messaging app passes it on: upright, smaller, no EXIF
        ImageOps.exif_transpose(image).resize((120, 160)).save(folder / "scene-photo-forwarded.jpg", quality=60)
    # Edited after it was taken: cropped and enlarged, but the camera's thumbnail still shows the whole scene.
    edited = photo_with_thumbnail(folder / "scene-photo-edited.jpg", cropped_scene(), scene().resize((160, 120)))
    files += [photo, folder / "scene-photo-forwarded.jpg", edited]
    if shutil.which("ffmpeg"):
        files.append(make_bwv_clip(folder, "bwv-clip.mp4", seconds=4))  # Axon-style tags, place, rotation
        files.append(make_scene_cut_clip(folder, "cctv-clip.mp4"))  # a cut from one camera view to another
        # Drawn faces (no real person): three people cross a doorway camera; one of them is also in a photo.
        write_face_video(folder / "doorway-camera.mp4")
        files.append(folder / "doorway-camera.mp4")
    Image.fromarray(scene_image([1, 2], 480, 270, seed=4)).save(folder / "two-people.jpg", quality=92)
    files.append(folder / "two-people.jpg")
    # Not evidence: the custody photograph an investigator matches against the case (`exhibit persons match`).
    Image.fromarray(face_image(1, size=240, seed=9)).save(folder.parent / "reference-custody-photo.png")
    if all(shutil.which(tool) for tool in ("mkfs.vfat", "mcopy", "ewfacquirestream")):
        files += make_seized_card(folder, photo)  # a split E01: verified, listed, its photos out as child exhibits
    return files


DEMO_USERS = {
    "jane.smith": ("analyst", "Jane Smith, digital forensic analyst"),
    "dc.brown": ("investigator", "DC Sam Brown, officer in the case"),
    "sup.khan": ("supervisor", "DS Aisha Khan, supervisor"),
    "do.patel": ("disclosure_officer", "Raj Patel, disclosure officer"),
}


# Printed by the demo: a sample deployment's users sign in to the review app with it.
DEMO_PASSWORD = "exhibit-demo"


def _team(system: EvidenceSystem) -> dict[str, Actor]:
    """The demo's users: an admin who adds the others, who are then members of the demo case."""
    admin = bootstrap_admin(system, "demo.admin", DEMO_PASSWORD) or resolve_actor(system, "demo.admin")
    team = {}
    for name, (role, display) in DEMO_USERS.items():
        try:
            team[name] = add_user(system, admin, name, role, display_name=display, password=DEMO_PASSWORD)
        except AlreadyExistsError:
            team[name] = resolve_actor(system, name)
    team["demo.admin"] = admin
    return team


def _findings(system: EvidenceSystem, exhibit_id: int) -> list[str]:
    """What the analyses found, one line each, for the demo's output."""
    lines = []
    for row in newest_rows(system, exhibit_id, "media_probe", limit=1):
        where = f"{row['latitude']:.5f},{row['longitude']:.5f}" if row["latitude"] is not None else "no place"
        when = row["recorded_at_utc"] or row["recorded_at_local"] or "no time"
        device = " ".join(filter(None, [row["make"], row["model"]])) or "unknown device"
        lines.append(
            f"media_probe: {row['container'].split(',')[0]} {row['duration_s'] or 0:.1f} s, {device}, {when}, {where}"
        )
    for row in newest_rows(system, exhibit_id, "photo_metadata", limit=1):
        where = f"{row['latitude']:.5f},{row['longitude']:.5f}" if row["latitude"] is not None else "no GPS"
        when = row["taken_utc"] or row["taken_local"] or "no time"
        camera = " ".join(filter(None, [row["make"], row["model"]])) or "no camera named"
        lines.append(f"photo_metadata: {camera}, taken {when}, {where}, pHash {row['phash']}")
    for row in newest_rows(system, exhibit_id, "photo_metadata", limit=1):
        if row["thumbnail_mismatch"]:
            lines.append(
                f"photo_metadata: the EXIF thumbnail shows something else ({row['thumbnail_distance']} bits "
                "apart): edited after it was taken"
            )
    keyframes = newest_rows(system, exhibit_id, "keyframes", limit=1000)
    if keyframes:
        times = ", ".join(f"{k['time_s']:g} s" for k in keyframes[:8])
        thumbnails = newest_rows(system, exhibit_id, "thumbnails", limit=10_000)
        lines.append(f"thumbnails: {len(thumbnails)} on a contact sheet; keyframes at {times}")
    for row in newest_rows(system, exhibit_id, "audio_analysis", limit=1):
        loudness = f"{row['integrated_lufs']:.1f} LUFS" if row["integrated_lufs"] is not None else "no loudness"
        lines.append(
            f"audio_analysis: {loudness}, {len(row['speech'])} speech segment(s) ({row['speech_seconds']:.1f} s), "
            f"{len(row['silences'])} silence(s), waveform image"
        )
    for row in newest_rows(system, exhibit_id, "device_verification", limit=1):
        verdict = "verified" if row["verified"] else "NOT VERIFIED"
        lines.append(
            f"device_verification: {row['format']} {row['media_size']:,} B, stored MD5 {row['stored_md5']} "
            f"{verdict}; examiner {row['examiner']}, evidence {row['evidence_number']}"
        )
    listing = newest_rows(system, exhibit_id, "device_files", limit=100_000)
    if listing:
        deleted = sum(1 for r in listing if r["deleted"])
        children = sorted({r["child_exhibit_ref"] for r in listing if r["child_exhibit_ref"]})
        lines.append(
            f"device_file_listing: {len(listing)} entries ({deleted} deleted); "
            f"media out as child exhibits: {', '.join(children) or 'none'}"
        )
    for role in ("review_proxy", "display_copy"):
        made = latest_derivative(system, exhibit_id, role)
        if made is not None:
            version = made.tool_version.split(";")[0]
            by = version if version.startswith(made.tool) else f"{made.tool} {version}"
            lines.append(f"{role}: {made.sha256[:16]}… made by {by}")
    return lines


def _faces(system: EvidenceSystem, team: dict[str, Actor], reference: Path, say: Callable[[str], None]) -> None:
    """Persons across the case, a lead from a reference photo, and a redacted copy pending review."""
    from evidence_store.faces import case_persons, cluster_case, match_reference, name_person
    from evidence_store.redaction import redact_exhibit

    summary = cluster_case(system, team["jane.smith"], DEMO_CASE)
    say(f"faces: {summary.appearances} appearance(s) clustered into {summary.persons} person(s) across the case")
    if not reference.is_file() or summary.persons == 0:
        return
    match = match_reference(system, team["dc.brown"], DEMO_CASE, reference, "Suspect A", reason="demo")
    leads = [lead for lead in match.leads if lead.within_threshold]
    say(f"dc.brown matched a custody photo (threshold {match.threshold}): {len(leads)} lead(s), not identifications")
    for lead in leads[:4]:
        when = "photo" if lead.time_s is None else f"{lead.start_s:.1f}-{lead.end_s:.1f} s"
        say(f"  {lead.exhibit_ref} track {lead.track} ({when}) distance {lead.distance:.2f} person {lead.person_id}")
    suspect = leads[0].person_id if leads else None
    if suspect is None:
        return
    name_person(system, team["dc.brown"], DEMO_CASE, suspect, "Suspect A", reason="matched custody photo")
    video = next((lead for lead in leads if lead.time_s is not None), None)
    if video is not None:
        others = [p for p in case_persons(system, team["do.patel"], DEMO_CASE) if p.person_id != suspect]
        made = redact_exhibit(
            system, team["do.patel"], video.exhibit_id, mode="except", persons=[suspect], reason="bystanders"
        )
        say(
            f"do.patel redacted {made.exhibit_ref}: every face but {suspect}'s blurred ({made.tracks_redacted} "
            f"track(s), {len(others)} other person(s) in the case), {made.status}"
        )


def _child_uids(system: EvidenceSystem) -> list[str]:
    from sqlalchemy import select

    from evidence_store.catalog import Exhibit

    with system.catalog.reading() as session:
        return list(session.execute(select(Exhibit.uid).where(Exhibit.parent_id.is_not(None))).scalars())


def run_demo(settings: Settings, folder: Path | None, echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    say = echo or (lambda _text: None)
    folder = folder or settings.home / "demo-input"
    system, _facts = EvidenceSystem.initialise(settings)
    say(f"Exhibit home: {settings.home}  store: {settings.store_url}")
    team = _team(system)
    analyst, supervisor = team["jane.smith"], team["sup.khan"]
    files = generate_sample_files(folder)
    say(f"generated {len(files)} sample files in {folder}")
    try:
        title = "Burglary at 14 Acacia Avenue (demo)"
        create_case(system, analyst, DEMO_CASE, title, officer_in_charge="DC Sam Brown")
        say(f"jane.smith (analyst) created case {DEMO_CASE}")
    except AlreadyExistsError:
        say(f"case {DEMO_CASE} exists already: adding receipts to it")
    for name in ("dc.brown", "sup.khan", "do.patel"):
        add_member(system, team["demo.admin"], DEMO_CASE, name)
    # Through the pipeline, as an officer's upload would go: into the drop folder with a sidecar each, then the
    # intake sensor's look and the runs it asks for (the daemon does the same every few seconds once served).
    drop = next(f for f in load_intake_folders(settings) if f.name == "default").folder
    drop.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, drop / path.name)
    for path in files:
        # A later segment of a split image goes with its first, under the first's sidecar.
        if not re.fullmatch(r"\.E0[2-9]", path.suffix, re.I):
            sidecar = {"case": DEMO_CASE, "producer": "Jane Smith", "description": f"demo intake: {path.name}"}
            (drop / f"{path.name}.exhibit.json").write_text(json.dumps(sidecar))
        (drop / f"{path.name}.done").touch()
    say(f"dropped them into the intake folder {drop}; the intake sensor hands each to a Dagster run:")
    runs = process_drops(settings, lambda run: None)
    # Files found on the seized card became child exhibits; the daemon's new_exhibits sensor would run them.
    children = [uid for uid in _child_uids(system) if uid not in {r.uid for r in runs}]
    if children:
        say(f"the seized card's media became {len(children)} child exhibit(s), run through the same analyses:")
        runs += run_here(settings, children, lambda run: None)
    exhibits = []
    for run in runs:
        summary = exhibit_summary(system, run.uid) if run.status == "SUCCESS" else None
        if summary is None:
            say(f"  run {run.run_id[:8]} {run.status}: {run.error}")
            continue
        exhibits.append({**summary.to_dict(), "run_id": run.run_id})
        warn = f"  ({summary.warnings} warning)" if summary.warnings else ""
        say(
            f"  run {run.run_id[:8]} {summary.exhibit_ref:<6} {summary.kind:<12} {summary.digests.size:>9,} B  "
            f"sha256 {summary.digests.sha256}{warn}"
        )
        for finding in _findings(system, summary.exhibit_id):
            say(f"           {finding}")
    say("")
    _faces(system, team, folder.parent / "reference-custody-photo.png", say)
    checkpoint = make_checkpoint(system, supervisor)
    say(f"sup.khan signed a checkpoint over {checkpoint.tree_size} custody events (root {checkpoint.root[:16]}…)")
    report = verify(system, supervisor, case_ref=DEMO_CASE, objects=True)
    say("")
    say(f"$ exhibit --as sup.khan verify --case {DEMO_CASE} --objects")
    ledger = report.ledger
    verdict = "verify" if ledger.ok else f"FAIL at event {ledger.first_bad_seq}: {ledger.reason}"
    say(f"ledger: {ledger.checked} events, chain, checkpoints and signatures {verdict}")
    say(f"objects: {report.objects_verified}/{report.objects_checked} re-hashed and verified")
    for p in report.problems:
        say(f"[{p.code}] {p.message}")
    say("VERIFIED" if report.ok else "NOT VERIFIED")
    first = exhibits[0] if exhibits else None
    if first is not None:
        proof_path = settings.home / "demo-proof.json"
        proof_path.write_text(json.dumps(exhibit_proof(system, team["do.patel"], first["exhibit_id"]), indent=1))
        key_dir = settings.keys_dir / "signing"
        say("")
        say("Look around (EXHIBIT_HOME as above; every view is recorded on the custody ledger):")
        say(f"  uv run exhibit --as dc.brown case show {DEMO_CASE}")
        say(f"  uv run exhibit --as dc.brown show {DEMO_CASE}:{first['exhibit_ref']}")
        say(f"  uv run exhibit --as dc.brown custody show {DEMO_CASE}:{first['exhibit_ref']}")
        say(f"  uv run exhibit --as jane.smith query warnings --case {DEMO_CASE}")
        say(f"  uv run exhibit --as dc.brown similar --case {DEMO_CASE}    # near-duplicate pictures across exhibits")
        say(f"  uv run exhibit --as dc.brown query keyframes --case {DEMO_CASE}")
        say(f"  uv run exhibit --as dc.brown query persons --case {DEMO_CASE}   # faces clustered into persons")
        say(f"  uv run exhibit custody verify-proof {proof_path} --key {key_dir}   # offline, no database")
        say(f"  uv run exhibit serve    # the Dagster UI (runs above are in {dagster_home(settings)}), sensors on")
        say("                          # and the review app on http://127.0.0.1:8501: sign in as dc.brown,")
        say(f"                          # jane.smith, sup.khan or do.patel with the password {DEMO_PASSWORD!r}")
        say(f"  cp FILE {drop}/         # with FILE.exhibit.json naming the case; the running sensor ingests it")
    system.close()
    return {
        "case": DEMO_CASE,
        "exhibits": exhibits,
        "runs": [r.to_dict() for r in runs],
        "verification": report.to_dict(),
        "dagster_home": str(dagster_home(settings)),
    }
