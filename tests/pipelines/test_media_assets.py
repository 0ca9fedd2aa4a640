"""The media_probe asset on real generated media: its table, its re-runs, and damaged or foreign input."""

from __future__ import annotations

import json
import os
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from dagster import DagsterInstance
from PIL import Image

from evidence_store.access import Actor
from evidence_store.analysis import read_table
from evidence_store.cases import create_case, new_exhibit_uid
from evidence_store.inspect import exhibit_record
from evidence_store.ledger import Ledger
from evidence_store.settings import Settings
from evidence_store.similarity import similar_pictures
from evidence_store.system import EvidenceSystem
from evidence_store.workspace import working_copy
from forensics.media_probe import probe_media
from pipelines.sample_media import (
    cropped_scene,
    jpeg_bytes,
    make_999_call,
    make_bwv_clip,
    make_scene_cut_clip,
    photo_with_thumbnail,
    scene,
    write_scene_photo,
)
from tests.conftest import settings_env
from tests.pipelines.dagster_support import failure_description, materialize_exhibit
from tests.pipelines.test_cli import EXHIBIT


@pytest.fixture
def instance() -> DagsterInstance:
    return DagsterInstance.ephemeral()


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_media_probe_table_for_a_clip_and_identical_on_rerun(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-MEDIA", "Media")
    clip = make_bwv_clip(tmp_path)
    uid = new_exhibit_uid()
    result = materialize_exhibit(instance, settings, uid, {"path": str(clip), "case": "OP-MEDIA", "by": "Jane Smith"})
    assert result.success
    metadata = result.asset_materializations_for_node("media_probe")[0].metadata
    assert metadata["recorded_at"].value == "2026-11-20T21:14:00Z"
    assert metadata["location"].value == "51.500700, -0.124600"
    record = exhibit_record(system, analyst, uid)
    table = read_table(system, analyst, "media_probe", "OP-MEDIA", record["exhibit_id"])
    (row,) = table.to_pylist()
    assert (row["make"], row["model"], row["device_serial"]) == ("Axon", "Body 3", "X81234567")
    assert (row["width"], row["height"], row["rotation"], row["video_codec"], row["audio_codec"]) == (
        320,
        240,
        270,
        "h264",
        "aac",
    )
    assert row["time_reliability"] == "device clock, zone stated" and row["decodable"] is True
    assert record["status"] == "stored"
    shown = record["media_probe"]  # what `exhibit show --json` prints
    assert (shown["make"], shown["latitude"], shown["recorded_at_utc"]) == ("Axon", 51.5007, "2026-11-20T21:14:00Z")
    # The review proxy: a derivative with its provenance, playable, upright, faststart.
    proxy_meta = result.asset_materializations_for_node("review_proxy")[0].metadata
    derivatives = exhibit_record(system, analyst, uid)["derivatives"]
    (derivative,) = [d for d in derivatives if d["role"] == "review_proxy"]
    assert derivative["role"] == "review_proxy" and derivative["sha256"] == proxy_meta["sha256"].value
    assert derivative["source_sha256"] == record["original"]["sha256"]
    assert derivative["tool"] == "ffmpeg" and derivative["tool_version"].startswith("ffmpeg ")
    assert derivative["parameters"]["command"][:6] == ["ffmpeg", "-nostdin", "-v", "error", "-i", "INPUT"]
    with working_copy(system, derivative["sha256"], ".mp4") as copy:
        proxy = probe_media(copy)
        head = copy.read_bytes()[:200_000]
    assert proxy.video is not None and (proxy.video.codec, proxy.video.width, proxy.video.height) == ("h264", 240, 320)
    assert proxy.video.rotation == 0 and proxy.audio is not None and proxy.audio.codec == "aac"
    assert 0 <= head.find(b"moov") < head.find(b"mdat")  # faststart: the index first, so a browser plays at once
    assert (proxy.make, proxy.location, proxy.creation_time) == (None, None, None)  # no metadata carried over
    with system.catalog.reading() as session:
        derived = [e for e in Ledger.iter(session, exhibit_id=record["exhibit_id"]) if e.action == "DERIVED"]
    assert derived[0].details["source_sha256"] == record["original"]["sha256"]

    # Same input, same tool versions: the table's bytes and the proxy's bytes are the same objects again.
    again = materialize_exhibit(instance, settings, uid)
    assert again.asset_materializations_for_node("media_probe")[0].metadata["table_sha256"].value == (
        metadata["table_sha256"].value
    )
    assert again.asset_materializations_for_node("review_proxy")[0].metadata["sha256"].value == derivative["sha256"]


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_damaged_media_is_quarantined_on_the_record_and_foreign_bytes_are_not_probed(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-MEDIA", "Media")
    # MP4 magic bytes and then nothing a demuxer can use: looks like video, opens as nothing.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + os.urandom(3000))
    uid = new_exhibit_uid()
    failed = materialize_exhibit(
        instance, settings, uid, {"path": str(broken), "case": "OP-MEDIA", "by": "Jane Smith"}, raise_on_error=False
    )
    assert not failed.success
    assert failure_description(failed).startswith("[EX-MEDIA-DAMAGED]")
    assert [e.event_type_value for e in failed.all_events].count("STEP_UP_FOR_RETRY") == 0
    record = exhibit_record(system, analyst, uid)
    assert record["status"] == "quarantined"
    assert record["original"]["size"] == broken.stat().st_size  # the original is kept, untouched
    with system.catalog.reading() as session:
        events = [e for e in Ledger.iter(session, exhibit_id=record["exhibit_id"]) if e.action == "QUARANTINED"]
    assert events and events[0].details["code"] == "EX-MEDIA-DAMAGED" and events[0].details["step"] == "media_probe"

    # A statement declared as body-worn video: not media, said on the record, the run is not failed for it.
    statement = tmp_path / "statement.txt"
    statement.write_text("I saw the man at 21:14.\n")
    other = new_exhibit_uid()
    config = {"path": str(statement), "case": "OP-MEDIA", "by": "Jane Smith", "kind": "bwv"}
    done = materialize_exhibit(instance, settings, other, config)
    assert done.success and not done.asset_materializations_for_node("media_probe")
    assert exhibit_record(system, analyst, other)["status"] == "damaged"


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_photo_metadata_asset(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-MEDIA", "Media")
    photo = write_scene_photo(tmp_path / "scene.jpg")
    uid = new_exhibit_uid()
    result = materialize_exhibit(instance, settings, uid, {"path": str(photo), "case": "OP-MEDIA", "by": "DC Brown"})
    assert result.success
    assert not result.asset_materializations_for_node("media_probe")  # a photo is not probed as video
    metadata = result.asset_materializations_for_node("photo_metadata")[0].metadata
    assert metadata["location"].value == "51.500729, -0.124625"
    shown = exhibit_record(system, analyst, uid)["photo_metadata"]
    assert (shown["make"], shown["orientation"], shown["taken_utc"]) == ("Samsung", 6, "2026-11-20T20:14:05Z")
    assert shown["phash"] == metadata["phash"].value and len(shown["phash"]) == 16
    # The display copy: upright (stored 320x240 with Orientation 6, so shown 240x320), a derivative.
    record = exhibit_record(system, analyst, uid)
    (display,) = [d for d in record["derivatives"] if d["role"] == "display_copy"]
    assert display["tool"] == "Pillow" and display["parameters"]["orientation_applied"] == 6
    with working_copy(system, display["sha256"], ".jpg") as copy, Image.open(copy) as image:
        assert image.size == (240, 320) and not image.getexif()


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_an_edited_photo_keeps_the_camera_thumbnail_which_is_extracted_and_flagged(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-MEDIA", "Media")
    thumbnail = scene().resize((160, 120))
    photo = photo_with_thumbnail(tmp_path / "edited.jpg", cropped_scene(), thumbnail)
    uid = new_exhibit_uid()
    result = materialize_exhibit(instance, settings, uid, {"path": str(photo), "case": "OP-MEDIA", "by": "DC Brown"})
    assert result.asset_materializations_for_node("photo_metadata")[0].metadata["thumbnail_mismatch"].value is True
    record = exhibit_record(system, analyst, uid)
    assert record["photo_metadata"]["thumbnail_mismatch"] is True
    (embedded,) = [d for d in record["derivatives"] if d["role"] == "exif_thumbnail"]
    with working_copy(system, embedded["sha256"], ".jpg") as copy:
        assert copy.read_bytes() == jpeg_bytes(thumbnail)  # byte for byte as it sat in the EXIF
    assert embedded["tool"] == "exifread" and embedded["source_sha256"] == record["original"]["sha256"]


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_thumbnails_contact_sheets_and_keyframes_of_a_video(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-MEDIA", "Media")
    clip = make_scene_cut_clip(tmp_path)
    uid = new_exhibit_uid()
    result = materialize_exhibit(instance, settings, uid, {"path": str(clip), "case": "OP-MEDIA", "by": "DC Brown"})
    assert result.success
    assert result.asset_materializations_for_node("video_frames")
    record = exhibit_record(system, analyst, uid)
    exhibit_id = record["exhibit_id"]
    keyframes = read_table(system, analyst, "keyframes", "OP-MEDIA", exhibit_id).to_pylist()
    assert [(k["time_s"], k["at_utc"]) for k in keyframes] == [
        (0.0, "2026-11-20T21:14:00.0Z"),
        (3.0, "2026-11-20T21:14:03.0Z"),
    ]
    thumbnails = read_table(system, analyst, "thumbnails", "OP-MEDIA", exhibit_id).to_pylist()
    assert [t["time_s"] for t in thumbnails] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # a 6 s clip: one a second
    roles = [d["role"] for d in record["derivatives"]]
    assert roles.count("keyframe") == 2 and roles.count("contact_sheet") == 1 and roles.count("thumbnail") == 1
    sheet = next(d for d in record["derivatives"] if d["role"] == "contact_sheet")
    assert {t["sheet_sha256"] for t in thumbnails} == {sheet["sha256"]}
    assert sheet["source_sha256"] == record["original"]["sha256"] and sheet["tool"] == "ffmpeg + Pillow"
    assert sheet["parameters"]["command"][6] == "INPUT" and sheet["parameters"]["page"] == 1
    keyframe_shas = [d["sha256"] for d in record["derivatives"] if d["role"] == "keyframe"]
    assert [k["sha256"] for k in keyframes] == keyframe_shas
    with working_copy(system, keyframe_shas[1], ".jpg") as copy, Image.open(copy) as image:
        assert image.size == (320, 240)
        assert np.asarray(image)[:120].mean() > 100  # the colour bars, not the dark test pattern
    with system.catalog.reading() as session:
        derived = [e for e in Ledger.iter(session, exhibit_id=exhibit_id) if e.action == "DERIVED"]
    assert sorted(e.details["role"] for e in derived) == sorted(roles)

    # Re-run: the same tables and images.
    again = materialize_exhibit(instance, settings, uid)
    for name in ("thumbnails", "keyframes"):
        before = result.asset_materializations_for_node("video_frames")
        after = again.asset_materializations_for_node("video_frames")
        assert [m.metadata["table_sha256"] for m in after] == [m.metadata["table_sha256"] for m in before], name


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_analysis_warnings_are_rows_of_the_warnings_table(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-MEDIA", "Media")
    # A WAV header that promises samples and has none: ffprobe describes it, nothing decodes.
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as header_only:
        header_only.setnchannels(1)
        header_only.setsampwidth(2)
        header_only.setframerate(16000)
    uid = new_exhibit_uid()
    materialize_exhibit(
        instance, settings, uid, {"path": str(empty), "case": "OP-MEDIA", "by": "DC Brown"}, raise_on_error=False
    )
    record = exhibit_record(system, analyst, uid)
    rows = read_table(system, analyst, "warnings", "OP-MEDIA", record["exhibit_id"]).to_pylist()
    probe_rows = [r for r in rows if r["source"] == "media_probe"]
    assert "EX-MEDIA-UNDECODABLE" in {r["code"] for r in probe_rows}
    assert all(r["severity"] == "warning" and r["exhibit_ref"] == record["exhibit_ref"] for r in probe_rows)
    assert {w["code"] for w in record["analysis_warnings"]} >= {"EX-MEDIA-UNDECODABLE"}


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_near_duplicate_pictures_across_a_case(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-MEDIA", "Media")
    photo = write_scene_photo(tmp_path / "scene.jpg", orientation=1)
    with Image.open(photo) as image:  # the same photo re-saved smaller, as a messaging app passes it on
        image.resize((160, 120)).save(tmp_path / "forwarded.jpg", "JPEG", quality=60)
    other = tmp_path / "other.jpg"
    Image.fromarray(np.random.default_rng(7).integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(other)
    clip = make_scene_cut_clip(tmp_path)
    refs = {}
    for path in (photo, tmp_path / "forwarded.jpg", other, clip):
        uid = new_exhibit_uid()
        assert materialize_exhibit(instance, settings, uid, {"path": str(path), "case": "OP-MEDIA", "by": "DC Brown"})
        refs[path.name] = exhibit_record(system, analyst, uid)["exhibit_ref"]
    pairs = similar_pictures(system, analyst, "OP-MEDIA", max_distance=10)
    named = {(p["first"]["exhibit_ref"], p["second"]["exhibit_ref"]) for p in pairs}
    assert (refs["scene.jpg"], refs["forwarded.jpg"]) in named
    assert not any(refs["other.jpg"] in pair for pair in named)  # noise resembles nothing
    # The CLI says the same, as a user runs it.
    proc = subprocess.run(
        [EXHIBIT, "--as", "test.analyst", "similar", "--case", "OP-MEDIA", "--json"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pairs"] == pairs


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_audio_analysis_waveform_and_an_opt_in_transcript(
    system: EvidenceSystem,
    analyst: Actor,
    settings: Settings,
    instance: DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_case(system, analyst, "OP-MEDIA", "Media")
    call = make_999_call(tmp_path)
    uid = new_exhibit_uid()
    result = materialize_exhibit(instance, settings, uid, {"path": str(call), "case": "OP-MEDIA", "by": "PC Jones"})
    assert result.success
    assert not result.asset_materializations_for_node("transcript")  # off unless configured
    record = exhibit_record(system, analyst, uid)
    analysed = record["audio_analysis"]
    # Two bursts of tone around 2 s of silence: the silence is found where it was written.
    assert [(round(s["start_s"]), round(s["end_s"])) for s in analysed["silences"]] == [(2, 4)]
    assert -30 < analysed["integrated_lufs"] < -5 and analysed["true_peak_dbtp"] < 0
    (waveform,) = [d for d in record["derivatives"] if d["role"] == "waveform"]
    with working_copy(system, waveform["sha256"], ".png") as copy, Image.open(copy) as image:
        assert image.size == (1200, 200)
    # An audio-only exhibit gets an AAC review copy, and no video frames.
    (proxy,) = [d for d in record["derivatives"] if d["role"] == "review_proxy"]
    assert "-vn" in proxy["parameters"]["command"] and not result.asset_materializations_for_node("video_frames")

    monkeypatch.setenv("EXHIBIT_TRANSCRIBER", "pocketsphinx")
    again = materialize_exhibit(instance, settings, uid)
    words = read_table(system, analyst, "transcript", "OP-MEDIA", record["exhibit_id"]).to_pylist()
    (heard,) = words
    assert (heard["engine"], heard["language"]) == ("pocketsphinx", "en-US")
    assert again.asset_materializations_for_node("transcript")[0].metadata["words"].value == len(heard["segments"])

    monkeypatch.setenv("EXHIBIT_TRANSCRIBER", "whisper-online")
    refused = materialize_exhibit(instance, settings, uid, raise_on_error=False)
    assert not refused.success and failure_description(refused).startswith("[EX-AUDIO-UNKNOWN-TRANSCRIBER]")
