"""Face redaction of videos and photos, on generated media: where the boxes go, what they leave, what is kept."""

from __future__ import annotations

import io
import json
import math
import shutil
import stat
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

import forensics.redaction as redaction
from forensics.errors import (
    MediaDamagedError,
    PhotoDamagedError,
    RedactionFailedError,
    RedactionTargetError,
    ToolTimeoutError,
)
from forensics.media_probe import find_tool
from forensics.redaction import (
    FaceBox,
    RedactionSettings,
    RedactionTrack,
    redact_frame,
    redact_photo,
    redact_video,
)
from pipelines.sample_media import ffmpeg

pytestmark = pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed (make setup)")

BOX: FaceBox = (80, 200, 160, 120)  # top, right, bottom, left: an 80x80 face in a 320x240 frame
FAR = (slice(0, 240), slice(270, 320))  # rows, columns well clear of BOX grown by the default padding


def _make_clip(
    path: Path, *inputs: str, seconds: float = 3, checker: tuple[int, int, int, int] = (96, 56, 128, 128)
) -> Path:
    """ffmpeg's moving test picture, 320x240 at 25 fps, with a checkerboard of 8-pixel squares (x, y, width,
    height) where the faces are put: fine detail a redaction must remove. Tagged with a location."""
    x, y, width, height = checker
    board = "255*mod(floor(X/8)+floor(Y/8)\\,2)"
    graph = (
        f"testsrc2=size=320x240:rate=25:duration={seconds}[bg];"
        f"color=c=gray:size={width}x{height}:rate=25,format=yuv420p,geq=lum='{board}':cb=128:cr=128[c];"
        f"[bg][c]overlay={x}:{y}:shortest=1[v]"
    )
    ffmpeg(
        *inputs,
        *("-filter_complex", graph, "-map", "[v]", *(("-map", "0:a") if inputs else ())),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-metadata", "location=+51.5007-000.1246/", str(path)),
    )
    return path


def _sine(seconds: float = 3) -> tuple[str, ...]:
    return ("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 320x240 at 25 fps, H.264 with AAC, tagged with a location."""
    return _make_clip(tmp_path_factory.mktemp("video") / "clip.mp4", *_sine(), "-c:a", "aac", "-shortest")


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        check=True,
    )
    document: dict[str, Any] = json.loads(out.stdout)
    return document


def _frames(path: Path, width: int = 320, height: int = 240) -> np.ndarray[Any, Any]:
    """Every frame, upright, as signed BGR (so differences do not wrap)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3).astype(np.int16)


def _detail(region: np.ndarray[Any, Any]) -> float:
    """How much fine detail a region (of one frame or many) holds: the mean magnitude of its Laplacian."""
    grey = region.astype(np.float32).mean(axis=-1).reshape(-1, *region.shape[-3:-1])
    return float(np.mean([np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean() for g in grey]))


def _inside(frames: np.ndarray[Any, Any], box: FaceBox = BOX) -> np.ndarray[Any, Any]:
    top, right, bottom, left = box
    return frames[:, top:bottom, left:right]


def _no_leftovers(folder: Path, *allowed: Path) -> None:
    assert sorted(folder.iterdir()) == sorted(allowed), "a partial or temporary file was left behind"


# -- tracks and settings ------------------------------------------------------------------------------------


def test_box_at_interpolates_between_samples_and_holds_at_the_ends() -> None:
    track = RedactionTrack("E12-T3", ((1.0, (10, 60, 50, 20)), (2.0, (20, 81, 61, 40))))
    assert track.box_at(1.0, 0.5) == (10, 60, 50, 20)
    assert track.box_at(2.0, 0.5) == (20, 81, 61, 40)
    # Halfway: top 15, right 70.5 -> 71, bottom 55.5 -> 56, left 30 (edges rounded outwards).
    assert track.box_at(1.5, 0.5) == (15, 71, 56, 30)
    assert track.box_at(1.25, 0.0) == (12, 66, 53, 25)  # 12.5 -> 12 (top rounds up the picture)
    # Held for hold_s before the first sample and after the last, then gone.
    assert track.box_at(0.5, 0.5) == (10, 60, 50, 20)
    assert track.box_at(0.49, 0.5) is None
    assert track.box_at(2.5, 0.5) == (20, 81, 61, 40)
    assert track.box_at(2.51, 0.5) is None
    assert track.box_at(0.99, 0.0) is None and track.box_at(2.01, 0.0) is None
    single = RedactionTrack("T", [(3, [1, 5, 4, 2])])  # type: ignore[arg-type]
    assert single.points == ((3.0, (1, 5, 4, 2)),)  # normalised to tuples and floats
    assert single.box_at(3.2, 0.25) == (1, 5, 4, 2) and single.box_at(3.3, 0.25) is None


@pytest.mark.parametrize(
    ("key", "points", "message"),
    [
        ("T", (), "no points"),
        ("", ((0.0, (0, 10, 10, 0)),), "needs a key"),
        ("T", ((1.0, (0, 10, 10, 0)), (0.5, (0, 10, 10, 0))), "strictly increasing"),
        ("T", ((1.0, (0, 10, 10, 0)), (1.0, (0, 12, 12, 0))), "strictly increasing"),
        ("T", ((math.nan, (0, 10, 10, 0)),), "not a number"),
        ("T", ((0.0, (10, 10, 10, 0)),), "top < bottom"),
        ("T", ((0.0, (0, 5, 10, 5)),), "left < right"),
        ("T", ((0.0, (0, 10, 10)),), "four whole pixel positions"),
        ("T", ((0.0, (0.5, 10, 10, 0)),), "four whole pixel positions"),
    ],
)
def test_tracks_are_validated(key: str, points: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RedactionTrack(key, points)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "smudge"}, "method"),
        ({"shape": "circle"}, "shape"),
        ({"padding": -0.1}, "padding"),
        ({"padding": math.inf}, "padding"),
        ({"hold_s": -1.0}, "hold_s"),
        ({"crf": 52}, "crf"),
        ({"crf": 18.0}, "crf"),
    ],
)
def test_settings_are_validated(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RedactionSettings(**changes)


# -- drawing ------------------------------------------------------------------------------------------------


def _noise(height: int = 240, width: int = 320, seed: int = 7) -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_blur_and_pixelate_leave_no_more_than_a_few_numbers_of_the_face() -> None:
    for method in ("blur", "pixelate"):
        frame = _noise()
        settings = RedactionSettings(method=method, shape="rectangle", padding=0.0)
        assert redact_frame(frame, [BOX], settings) == 1
        face = _inside(frame[None])[0].astype(np.float32)
        # Rebuilt from an 8x8 summary of itself, the region barely changes: whatever identified the face is gone.
        summary = cv2.resize(face, (8, 8), interpolation=cv2.INTER_AREA)
        rebuilt = cv2.resize(summary, (80, 80), interpolation=cv2.INTER_LINEAR)
        assert np.abs(face - rebuilt).mean() < (12 if method == "pixelate" else 3), method
        assert face.std() < 20, method  # uniform noise has a deviation of 74
        if method == "pixelate":
            assert len(np.unique(face[:, :, 0], axis=None)) <= 64  # at most 8 x 8 blocks


def test_ellipse_fill_and_edges() -> None:
    frame = _noise()
    original = frame.copy()
    assert redact_frame(frame, [BOX], RedactionSettings(method="fill", padding=0.25)) == 1
    # Padded box: x 100..220, y 60..180; the ellipse inscribed in it is black, its corners are untouched.
    assert (frame[120, 160] == 0).all() and (frame[65, 160] == 0).all() and (frame[120, 105] == 0).all()
    assert (frame[62, 102] == original[62, 102]).all() and (frame[178, 218] == original[178, 218]).all()
    changed = np.argwhere((frame != original).any(axis=2))
    assert changed[:, 0].min() >= 60 and changed[:, 0].max() < 180
    assert changed[:, 1].min() >= 100 and changed[:, 1].max() < 220
    # Half outside the picture: drawn where it lies; wholly outside: not drawn at all.
    edge = _noise()
    assert redact_frame(edge, [(-40, 40, 40, -40), (300, 500, 400, 400)], RedactionSettings(method="fill")) == 1
    assert (edge[:20, :20] == 0).all()


# -- video --------------------------------------------------------------------------------------------------


def test_video_redaction_obscures_the_box_and_keeps_the_rest(clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "redacted.mp4"
    track = RedactionTrack("E12-T3", ((0.0, BOX), (3.0, BOX)))
    report = redact_video(clip, target, [track])
    assert (report.width, report.height, report.frames) == (320, 240, 75)
    assert report.frames_redacted == 75 and report.boxes_drawn == 75
    assert report.audio == "copied" and report.output == target and report.warnings == ()
    assert report.tool_version.startswith("ffmpeg ") and "OpenCV" in report.tool_version
    assert report.parameters["tracks"] == ["E12-T3"] and report.parameters["method"] == "blur"
    assert report.parameters["frame_rate"] == "25"
    assert not any(str(tmp_path) in arg or str(clip) in arg for arg in report.parameters["encode_command"])  # type: ignore[attr-defined]
    _no_leftovers(tmp_path, target)

    before, after = _frames(clip), _frames(target)
    assert before.shape == after.shape
    assert _detail(_inside(after)) < _detail(_inside(before)) / 8
    assert np.abs(after[(slice(None), *FAR)] - before[(slice(None), *FAR)]).mean() < 3  # lossy coding only

    probe = _probe(target)
    video, audio = (next(s for s in probe["streams"] if s["codec_type"] == kind) for kind in ("video", "audio"))
    source_audio = next(s for s in _probe(clip)["streams"] if s["codec_type"] == "audio")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p" and video["avg_frame_rate"] == "25/1"
    assert audio["codec_name"] == "aac"
    assert abs(float(audio["duration"]) - float(source_audio["duration"])) <= 0.1
    assert abs(float(video["duration"]) - 3.0) <= 0.05
    assert "location" not in (probe["format"].get("tags") or {})  # a disclosed copy does not say where


def test_a_track_changes_only_the_frames_of_its_span(clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "window.mp4"
    track = RedactionTrack("T1", ((1.0, BOX), (2.0, BOX)))
    report = redact_video(clip, target, [track], RedactionSettings(hold_s=0.3, method="fill"))
    # 25 fps: frames 18..57 are within 1.0 - 0.3 .. 2.0 + 0.3 s.
    assert report.frames == 75 and report.frames_redacted == 40
    before, after = _frames(clip), _frames(target)
    change = np.abs(_inside(after) - _inside(before)).mean(axis=(1, 2, 3))
    changed = [i for i, value in enumerate(change) if value > 20]
    assert changed == list(range(18, 58))
    assert change[:18].max() < 3 and change[58:].max() < 3
    # Same input, same tracks, same ffmpeg: the same bytes.
    again = tmp_path / "again.mp4"
    redact_video(clip, again, [track], RedactionSettings(hold_s=0.3, method="fill"))
    assert again.read_bytes() == target.read_bytes()


def test_pcm_audio_in_mov_is_re_encoded_to_aac(tmp_path: Path) -> None:
    source = _make_clip(tmp_path / "pcm.mov", *_sine(), "-c:a", "pcm_s16le", "-shortest")
    target = tmp_path / "out" / "redacted.mp4"
    target.parent.mkdir()
    report = redact_video(source, target, [RedactionTrack("T", ((0.0, BOX),))])
    assert report.audio == "re-encoded (aac)" and report.frames_redacted == 13  # 0 .. 0.5 s held
    audio = next(s for s in _probe(target)["streams"] if s["codec_type"] == "audio")
    assert audio["codec_name"] == "aac" and abs(float(audio["duration"]) - 3.0) <= 0.1
    assert "-c:a" in report.parameters["encode_command"]  # type: ignore[operator]


def test_a_video_without_audio(tmp_path: Path) -> None:
    source = _make_clip(tmp_path / "silent.mp4", seconds=1)
    target = tmp_path / "redacted.mp4"
    report = redact_video(source, target, [])
    assert report.audio == "none" and report.frames == 25 and report.frames_redacted == 0
    assert [s["codec_type"] for s in _probe(target)["streams"]] == ["video"]
    assert np.abs(_frames(target) - _frames(source)).mean() < 3


def test_a_rotated_video_is_redacted_in_display_coordinates(tmp_path: Path) -> None:
    plain = _make_clip(tmp_path / "plain.mp4", seconds=1, checker=(0, 0, 320, 240))
    source = tmp_path / "rotated.mp4"
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(source))
    target = tmp_path / "redacted.mp4"
    box: FaceBox = (200, 180, 280, 100)  # lower half of the upright 240x320 picture: outside the stored frame's
    report = redact_video(source, target, [RedactionTrack("T", ((0.0, box), (1.0, box)))])
    assert (report.width, report.height) == (240, 320)
    before, after = _frames(source, 240, 320), _frames(target, 240, 320)  # both decoded upright
    assert _detail(_inside(after, box)) < _detail(_inside(before, box)) / 8
    assert np.abs(after[:, :150] - before[:, :150]).mean() < 3  # the upper part untouched
    assert "side_data_list" not in next(s for s in _probe(target)["streams"])  # already upright


def test_variable_frame_rate_is_resampled_to_its_average(tmp_path: Path) -> None:
    """Frames at irregular times (two of every three kept) come out at the average rate, in step with the
    audio, with the boxes at the times the frames show."""
    source = tmp_path / "vfr.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=3"),
        *_sine(),
        *("-vf", "select='not(eq(mod(n\\,3)\\,2))'", "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-shortest", str(source)),
    )
    rate = Fraction(next(s for s in _probe(source)["streams"] if s["codec_type"] == "video")["avg_frame_rate"])
    assert rate != 30 and rate != 20  # the irregular spacing is real
    target = tmp_path / "redacted.mp4"
    report = redact_video(source, target, [RedactionTrack("T", ((1.0, BOX), (2.0, BOX)))], RedactionSettings(hold_s=0))
    assert report.parameters["frame_rate"] == str(rate)
    assert abs(report.frames / rate - 3) <= 2 / rate
    redacted = [n for n in range(report.frames) if 1.0 <= n / rate <= 2.0]
    assert report.frames_redacted == len(redacted)
    probe = _probe(target)
    durations = {s["codec_type"]: float(s["duration"]) for s in probe["streams"]}
    assert abs(durations["video"] - durations["audio"]) <= 0.1


def test_a_partly_damaged_video_gives_what_decodes_with_warnings(clip: Path, tmp_path: Path) -> None:
    faststart = tmp_path / "faststart.mp4"
    ffmpeg("-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(faststart))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 2])
    report = redact_video(cut, tmp_path / "redacted.mp4", [RedactionTrack("T", ((0.0, BOX),))])
    assert 0 < report.frames < 75
    assert report.warnings and all(w.code == "EX-MEDIA-DAMAGED-PART" for w in report.warnings)
    assert len({w.message for w in report.warnings}) == len(report.warnings) <= 20


def test_damaged_videos_give_coded_errors_and_no_file(clip: Path, tmp_path: Path) -> None:
    data = clip.read_bytes()  # moov at the end: cut short, nothing opens
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MediaDamagedError) as caught:
        redact_video(truncated, out / "redacted.mp4", [RedactionTrack("T", ((0.0, BOX),))])
    assert caught.value.code == "EX-MEDIA-DAMAGED"
    faststart = tmp_path / "faststart.mp4"
    ffmpeg("-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(faststart))
    header_only = tmp_path / "header-only.mp4"  # the index survives, the pictures do not
    header_only.write_bytes(faststart.read_bytes()[:6000])
    with pytest.raises(MediaDamagedError, match="no frame"):
        redact_video(header_only, out / "redacted.mp4", [])
    _no_leftovers(out)


def _fake_ffmpeg(folder: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    fake = folder / "fake-ffmpeg"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(redaction, "find_tool", lambda name: str(fake) if name == "ffmpeg" else find_tool(name))


def test_ffmpeg_failing_gives_a_coded_error_with_its_complaint(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # The encoder (it reads pipe:0) refuses at once: the frames have nowhere to go.
    refuses = 'case "$*" in *pipe:0*) echo "Conversion failed: simulated" >&2; exit 1;; esac'
    _fake_ffmpeg(tmp_path, monkeypatch, f'{refuses}\nexec ffmpeg "$@"')
    with pytest.raises(RedactionFailedError, match=r"encoding .*simulated") as caught:
        redact_video(clip, out / "redacted.mp4", [])
    assert caught.value.code == "EX-REDACT-FAILED"
    # The decoder (it writes pipe:1) gives five frames, then fails.
    five_frames = 320 * 240 * 3 * 5
    fails = f'case "$*" in *pipe:1*) head -c {five_frames} /dev/zero; echo "simulated" >&2; exit 1;; esac'
    _fake_ffmpeg(tmp_path, monkeypatch, f'{fails}\nexec ffmpeg "$@"')
    with pytest.raises(RedactionFailedError, match=r"decoding .*simulated"):
        redact_video(clip, out / "redacted.mp4", [])
    _no_leftovers(out)


def test_a_stalled_ffmpeg_is_stopped_at_the_time_limit(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_ffmpeg(tmp_path, monkeypatch, "exec sleep 30")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ToolTimeoutError):
        redact_video(clip, out / "redacted.mp4", [], timeout=1.0)
    _no_leftovers(out)


def test_the_original_is_never_the_target(clip: Path, tmp_path: Path) -> None:
    copy = tmp_path / "clip.mp4"
    shutil.copy(clip, copy)
    with pytest.raises(RedactionTargetError):
        redact_video(copy, tmp_path / "." / "clip.mp4", [])
    assert copy.read_bytes() == clip.read_bytes()


# -- photo --------------------------------------------------------------------------------------------------


def _phone_photo(path: Path, orientation: int = 6) -> np.ndarray[Any, Any]:
    """A 320x240 JPEG of noise as a phone stores it (on its side, orientation 6), with GPS, XMP and a comment;
    returns the picture as it is shown (upright, 240x320)."""
    exif = Image.Exif()
    exif[0x010F] = "Samsung"
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (Fraction(51), Fraction(30), Fraction(2))
    gps[3], gps[4] = "W", (Fraction(0), Fraction(7), Fraction(29))
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    stored = Image.fromarray(_noise(), "RGB")
    stored.save(path, "JPEG", quality=95, exif=exif, xmp=xmp, comment=b"shot at home")
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB")).astype(np.int16)


def test_photo_redaction_is_upright_in_display_coordinates_and_without_metadata(tmp_path: Path) -> None:
    source = tmp_path / "phone.jpg"
    shown = _phone_photo(source)
    assert shown.shape == (320, 240, 3)
    box: FaceBox = (200, 180, 280, 100)  # only exists upright: the stored picture is 240 high
    target = tmp_path / "redacted.jpg"
    report = redact_photo(source, target, [box])
    assert (report.width, report.height, report.frames, report.frames_redacted, report.boxes_drawn) == (
        240, 320, 1, 1, 1,
    )  # fmt: skip
    assert report.parameters["orientation_applied"] == 6 and report.parameters["boxes"] == [list(box)]
    _no_leftovers(tmp_path, source, target)
    with Image.open(target) as image:
        assert image.format == "JPEG" and image.size == (240, 320)
        assert not image.getexif() and not {"exif", "xmp", "comment"} & set(image.info)
        redacted = np.asarray(image.convert("RGB")).astype(np.int16)
    data = target.read_bytes()
    assert b"Exif" not in data and b"xmpmeta" not in data and b"shot at home" not in data
    top, right, bottom, left = box
    assert redacted[top:bottom, left:right].std() < 20 < shown[top:bottom, left:right].std()
    # Far from the box, exactly what JPEG at the same quality makes of the upright original.
    reference = io.BytesIO()
    Image.fromarray(shown.astype(np.uint8), "RGB").save(reference, "JPEG", quality=95)
    with Image.open(reference) as image:
        expected = np.asarray(image.convert("RGB")).astype(np.int16)
    assert np.abs(redacted[:150] - expected[:150]).mean() < 0.5

    png = tmp_path / "redacted.png"
    report = redact_photo(source, png, [box], RedactionSettings(method="fill", shape="rectangle", padding=0))
    with Image.open(png) as image:
        assert image.format == "PNG" and not image.getexif() and "exif" not in image.info
        pixels = np.asarray(image.convert("RGB")).astype(np.int16)
    assert (pixels[top:bottom, left:right] == 0).all()
    assert (pixels[:150] == shown[:150]).all()  # lossless: exactly the upright original


def test_damaged_and_misnamed_photos(tmp_path: Path) -> None:
    source = tmp_path / "phone.jpg"
    _phone_photo(source, orientation=1)
    out = tmp_path / "out"
    out.mkdir()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(source.read_bytes()[:3000])
    with pytest.raises(PhotoDamagedError) as caught:
        redact_photo(cut, out / "redacted.jpg", [BOX])
    assert caught.value.code == "EX-PHOTO-DAMAGED"
    with pytest.raises(RedactionTargetError):
        redact_photo(source, out / "redacted.gif", [BOX])
    with pytest.raises(RedactionTargetError):
        redact_photo(source, source, [BOX])
    _no_leftovers(out)
