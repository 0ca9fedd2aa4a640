"""media_probe on generated media (ffmpeg test sources with known tags), and its three outcomes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forensics.errors import MediaDamagedError, MediaMissingError, NotMediaError
from forensics.media_probe import parse_iso6709, probe_media
from forensics.timestamps import DEVICE_LOCAL, DEVICE_ZONED, read_time
from pipelines.sample_media import make_bwv_clip

pytestmark = pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed (make setup)")


@pytest.fixture(scope="module")
def bwv_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bwv_clip(tmp_path_factory.mktemp("media"))


def test_a_body_worn_clip_is_described(bwv_clip: Path) -> None:
    probe = probe_media(bwv_clip)
    assert probe.container.startswith("mov,mp4")
    assert probe.duration == pytest.approx(2.0, abs=0.1)
    video, audio = probe.video, probe.audio
    assert video is not None and (video.codec, video.width, video.height, video.frame_rate) == ("h264", 320, 240, 25.0)
    assert video.rotation == 270  # the display matrix turns it a quarter counter-clockwise
    assert audio is not None and audio.codec == "aac" and audio.sample_rate == 44100
    assert (probe.make, probe.model, probe.device_serial) == ("Axon", "Body 3", "X81234567")
    assert probe.location is not None
    assert (probe.location.latitude, probe.location.longitude) == pytest.approx((51.5007, -0.1246))
    assert probe.location.altitude == pytest.approx(12.0)
    assert probe.decodable is True and probe.warnings == ()
    row = probe.to_row()
    assert (row["recorded_at_utc"], row["time_reliability"]) == ("2026-11-20T21:14:00Z", DEVICE_ZONED)
    assert row["tool"].startswith("ffprobe ")


def test_iso6709_in_its_forms() -> None:
    point = parse_iso6709("+32.0929+034.8620+028.516/")
    assert (point.latitude, point.longitude, point.altitude) == pytest.approx((32.0929, 34.862, 28.516))
    minutes = parse_iso6709("+4012.5-07400.0/")  # degrees and decimal minutes
    assert (minutes.latitude, minutes.longitude) == pytest.approx((40.208333, -74.0))
    seconds = parse_iso6709("-334830+1511230/")  # degrees, minutes, seconds
    assert (seconds.latitude, seconds.longitude) == pytest.approx((-33.808333, 151.208333))
    for bad in ("", "51.5,-0.12", "+91.0+000.0/"):
        with pytest.raises(ValueError):
            parse_iso6709(bad)


def test_times_keep_their_zone_or_say_they_have_none() -> None:
    zoned = read_time("2008:10:22 16:28:39", "EXIF DateTimeOriginal", zone="+02:00")
    assert zoned is not None and zoned.utc == "2008-10-22T14:28:39Z"
    local = read_time("2009-10-27 12:14:34", "AVI IDIT")
    assert local is not None and (local.utc, local.local, local.reliability) == (
        None,
        "2009-10-27T12:14:34",
        DEVICE_LOCAL,
    )
    assert read_time("0000:00:00 00:00:00", "EXIF DateTimeOriginal") is None


def test_three_outcomes(bwv_clip: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    with pytest.raises(NotMediaError):
        probe_media(text, looks_like_media=False)
    with pytest.raises(MediaDamagedError) as damaged:
        probe_media(text, looks_like_media=True)
    assert damaged.value.code == "EX-MEDIA-DAMAGED"
    # Damaged but readable: the header survives, the frames do not.
    data = bwv_clip.read_bytes()
    cut = tmp_path / "header-only.mp4"
    cut.write_bytes(data[:4000])
    try:
        partial = probe_media(cut)
    except MediaDamagedError:
        partial = None  # a cut before the index: cannot be opened at all, which is the third outcome
    if partial is not None:
        assert partial.warnings and partial.decodable is False
    with pytest.raises(MediaMissingError):
        probe_media(tmp_path / "absent.mp4")


def test_a_file_named_like_a_protocol_is_read_as_a_file(
    bwv_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seized media may carry any name; ffmpeg would take "concat:..." as an instruction to open other files.
    shutil.copyfile(bwv_clip, tmp_path / "concat:bwv.mp4")
    monkeypatch.chdir(tmp_path)
    probe = probe_media(Path("concat:bwv.mp4"))
    assert probe.make == "Axon" and probe.decodable is True
