"""thumbnails, keyframes and contact sheets on generated video with a known scene cut."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forensics.errors import MediaDamagedError
from forensics.media_probe import probe_media
from forensics.video_frames import (
    MAX_THUMBNAILS,
    clock,
    extract_frames,
    make_contact_sheets,
    thumbnail_interval,
    wall_clock,
)
from pipelines.sample_media import ffmpeg, make_bwv_clip, make_scene_cut_clip

pytestmark = pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed (make setup)")


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_scene_cut_clip(tmp_path_factory.mktemp("video"))


def _digests(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_thumbnails_every_second_and_a_keyframe_at_the_cut(cut_clip: Path, tmp_path: Path) -> None:
    probe = probe_media(cut_clip)
    frames = extract_frames(cut_clip, tmp_path, probe, timeout=120, every=1.0)
    assert [t.time_s for t in frames.thumbnails] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all((t.width, t.height) == (320, 240) and t.path.is_file() for t in frames.thumbnails)
    # The first frame, then the hard cut to colour bars at 3 s and nothing else.
    assert [k.time_s for k in frames.keyframes] == [0.0, 3.0]
    first, cut = frames.keyframes
    assert first.scene_score is None and cut.scene_score is not None and cut.scene_score > 0.5
    assert first.phash is not None and cut.phash is not None and first.phash != cut.phash
    assert frames.command[:7] == ("ffmpeg", "-nostdin", "-nostats", "-v", "info", "-i", "INPUT")
    assert not any(str(tmp_path) in arg for arg in frames.command)
    assert frames.tool_version.startswith("ffmpeg ") and frames.warnings == ()
    assert not (tmp_path / "keyframes.txt").exists()

    # Same input, same ffmpeg: the same frames, byte for byte.
    again = tmp_path / "again"
    again.mkdir()
    repeat = extract_frames(cut_clip, again, probe, timeout=120, every=1.0)
    assert _digests([t.path for t in repeat.thumbnails]) == _digests([t.path for t in frames.thumbnails])
    assert _digests([k.path for k in repeat.keyframes]) == _digests([k.path for k in frames.keyframes])


def test_a_rotated_clip_gives_upright_frames(tmp_path: Path) -> None:
    clip = make_bwv_clip(tmp_path)
    frames = extract_frames(clip, tmp_path, probe_media(clip), timeout=120)
    assert {(t.width, t.height) for t in frames.thumbnails} == {(240, 320)}  # stored 320x240, shown on its side


def test_contact_sheets_page_the_thumbnails_with_their_times(cut_clip: Path, tmp_path: Path) -> None:
    frames = extract_frames(cut_clip, tmp_path, probe_media(cut_clip), timeout=120, every=0.5)
    assert len(frames.thumbnails) == 12
    sheets = make_contact_sheets(frames.thumbnails, tmp_path, start_utc="2026-11-20T21:14:00Z", columns=3, rows=2)
    assert [s.page for s in sheets] == [1, 2]
    assert [len(s.tiles) for s in sheets] == [6, 6]
    with Image.open(sheets[0].path) as image:
        assert image.size == (sheets[0].width, sheets[0].height)
        tile = sheets[0].tiles[4]
        # The tile at its recorded place is the thumbnail it names (JPEG: close, not exact).
        crop = np.asarray(image.crop((tile.x, tile.y, tile.x + tile.width, tile.y + tile.height)).convert("L"))
        with Image.open(frames.thumbnails[tile.thumbnail].path) as thumb:
            own = np.asarray(thumb.convert("L"))
        assert np.abs(crop.astype(int) - own.astype(int)).mean() < 8
    again = tmp_path / "again"
    again.mkdir()
    remade = make_contact_sheets(frames.thumbnails, again, start_utc="2026-11-20T21:14:00Z", columns=3, rows=2)
    assert _digests([s.path for s in remade]) == _digests([s.path for s in sheets])


def test_times_and_intervals() -> None:
    assert clock(3725.25) == "01:02:05.2" and clock(0) == "00:00:00.0"
    assert wall_clock("2026-11-20T21:14:00Z", 61.5) == "2026-11-20T21:15:01.5Z"
    assert wall_clock(None, 3.0) is None
    assert thumbnail_interval(2.0) == 1.0 and thumbnail_interval(60.0) == 3.0 and thumbnail_interval(600.0) == 10.0
    ten_hours = 36000.0
    assert ten_hours / thumbnail_interval(ten_hours) <= MAX_THUMBNAILS


def test_audio_only_input_is_refused(tmp_path: Path) -> None:
    audio = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(audio))
    with pytest.raises(MediaDamagedError):
        extract_frames(audio, tmp_path, probe_media(audio), timeout=60)
