"""The media analysers on ../shared/data: the README's known answers, and every broken file a clean outcome."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from forensics.errors import MediaDamagedError, NotImageError, NotMediaError
from forensics.media_probe import probe_media
from forensics.media_type import detect_media_type
from forensics.photo_metadata import read_photo_metadata
from forensics.video_frames import extract_frames
from tests.realdata.shared import DATA, manifest_rows, skip_without_data

skip_without_data()
pytestmark = pytest.mark.realdata
PHOTOS = DATA / "photos"

GPS_ANSWERS = {
    "gps/DSCN0010.jpg": (43.467448, 11.885127),
    "gps/DSCN0012.jpg": (43.467157, 11.885395),
    "gps/DSCN0021.jpg": (43.467082, 11.884538),
    "gps/DSCN0025.jpg": (43.468365, 11.881635),
    "gps/DSCN0027.jpg": (43.468442, 11.881515),
    "gps/DSCN0029.jpg": (43.468243, 11.880172),
    "mobile/iphone6_hdr_NO.jpg": (40.446972, -3.724753),
    "cameras/Kodak_CX7530.jpg": (-0.3713, 36.056417),
    "edge_cases/87_OSError.jpg": (43.785594, 11.234619),
    "edge_cases/67-0_length_string.jpg": (51.025, 7.591944),
}


@pytest.mark.parametrize("name", sorted(GPS_ANSWERS))
def test_gps_decimals(name: str) -> None:
    photo = read_photo_metadata(PHOTOS / name)
    assert photo.gps is not None
    assert (photo.gps.latitude, photo.gps.longitude) == pytest.approx(GPS_ANSWERS[name], abs=1e-6)


def test_the_gps_clock_disagrees_with_the_camera_clock() -> None:
    photo = read_photo_metadata(PHOTOS / "gps/DSCN0010.jpg")
    assert photo.taken is not None and photo.taken.local == "2008-10-22T16:28:39"  # no zone in the file
    assert photo.gps is not None and photo.gps.time is not None
    assert photo.gps.time.utc is not None and photo.gps.time.utc.startswith("2008-10-23")  # a day later, by GPS
    assert (photo.make, photo.model) == ("NIKON", "COOLPIX P6000")


@pytest.mark.parametrize("n", range(1, 9))
def test_orientation(n: int) -> None:
    assert read_photo_metadata(PHOTOS / f"orientation/landscape_{n}.jpg").orientation == n


def test_heic_and_an_editor() -> None:
    iphone = read_photo_metadata(PHOTOS / "heic/iphone_13_pro_max.HEIC")
    assert (iphone.image_format, iphone.make, iphone.model) == ("HEIF", "Apple", "iPhone 13 Pro Max")
    assert iphone.taken is not None and iphone.taken.utc == "2022-02-16T11:55:41Z"  # OffsetTimeOriginal +01:00
    assert iphone.phash is not None
    assert read_photo_metadata(PHOTOS / "cameras/Kodak_CX7530.jpg").edited  # Software: GIMP 2.4.5


@pytest.mark.timeout(120)
def test_every_photo_gives_a_clean_outcome() -> None:
    rows = [
        r
        for r in manifest_rows()
        if r["category"] == "photos"
        and r["local_path"].lower().endswith((".jpg", ".jpeg", ".heic", ".heif", ".tif", ".tiff", ".png"))
    ]
    for row in rows:
        # Not my format is an outcome too; anything else raised fails the test.
        with contextlib.suppress(NotImageError):
            read_photo_metadata(DATA / row["local_path"])


@pytest.mark.timeout(300)
def test_every_video_and_audio_file_gives_a_typed_outcome() -> None:
    rows = [r for r in manifest_rows() if r["category"] in ("video", "audio")]
    outcomes = {}
    for row in rows:
        path = DATA / row["local_path"]
        looks = detect_media_type(path).mime.startswith(("video/", "audio/"))
        try:
            probe = probe_media(path, looks_like_media=looks)
            outcomes[row["local_path"]] = "damaged" if probe.warnings else "ok"
        except (NotMediaError, MediaDamagedError) as exc:
            outcomes[row["local_path"]] = exc.code
    truncated = {k: v for k, v in outcomes.items() if "/truncated/" in k}
    assert truncated and all(v != "ok" for v in truncated.values()), truncated
    assert outcomes["video/sample.mp4"] == "ok" and outcomes["audio/english.wav"] == "ok"
    assert outcomes["audio/pydub/test1_empty.wav"] == "damaged"  # a header and no samples


@pytest.mark.timeout(300)
def test_every_video_gives_frames_or_a_typed_refusal(tmp_path: Path) -> None:
    outcomes = {}
    for row in manifest_rows():
        if row["category"] != "video":
            continue
        path = DATA / row["local_path"]
        looks = detect_media_type(path).mime.startswith(("video/", "audio/"))
        try:
            probe = probe_media(path, looks_like_media=looks)
            folder = tmp_path / row["local_path"].replace("/", "__")
            folder.mkdir()
            frames = extract_frames(path, folder, probe, timeout=120)
            outcomes[row["local_path"]] = (len(frames.thumbnails), len(frames.keyframes))
        except (NotMediaError, MediaDamagedError) as exc:
            outcomes[row["local_path"]] = exc.code
    # The truncated camera files are refused with a code, none crashes or hangs; the DV header "decodes" to
    # one concealed frame, and its probe already says it is damaged (no duration).
    truncated = {k: v for k, v in outcomes.items() if "/truncated/" in k}
    assert truncated.pop("video/truncated/DV.dv") == (1, 1)
    assert probe_media(DATA / "video/truncated/DV.dv").warnings[0].code == "EX-MEDIA-NO-DURATION"
    assert truncated and all(isinstance(v, str) and v.startswith("EX-MEDIA-") for v in truncated.values()), truncated
    # The 1080p sample (0.96 s) and the Hamilton clip (9.2 s, 640x360) give frames from their first one on.
    assert outcomes["video/sample.mp4"] == (1, 1)
    thumbnails, keyframes = outcomes["video/short_hamilton_clip.mp4"]  # type: ignore[misc]
    assert thumbnails == 10 and keyframes >= 1


def test_hamilton_frames_are_timed_and_sized(tmp_path: Path) -> None:
    clip = DATA / "video/short_hamilton_clip.mp4"
    frames = extract_frames(clip, tmp_path, probe_media(clip), timeout=120)
    assert [t.time_s for t in frames.thumbnails] == pytest.approx([float(n) for n in range(10)], abs=0.05)
    assert {(t.width, t.height) for t in frames.thumbnails} == {(320, 180)}
    assert {(k.width, k.height) for k in frames.keyframes} == {(640, 360)}
    assert frames.keyframes[0].time_s == 0.0 and all(k.phash for k in frames.keyframes)
