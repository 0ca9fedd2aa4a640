"""photo_metadata on photos written here with known EXIF, and on hostile bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from forensics.errors import NotImageError
from forensics.photo_metadata import read_photo_metadata
from forensics.timestamps import DEVICE_ZONED, GPS
from pipelines.sample_media import scene, write_scene_photo


def test_a_phone_photo_is_described(tmp_path: Path) -> None:
    photo = read_photo_metadata(write_scene_photo(tmp_path / "scene.jpg"))
    assert (photo.image_format, photo.width, photo.height) == ("JPEG", 320, 240)
    assert (photo.make, photo.model, photo.serial, photo.orientation) == ("Samsung", "Galaxy S24", "R58N12345", 6)
    assert photo.taken is not None and (photo.taken.utc, photo.taken.reliability) == (
        "2026-11-20T20:14:05Z",
        DEVICE_ZONED,
    )
    assert photo.gps is not None
    assert (photo.gps.latitude, photo.gps.longitude) == pytest.approx((51.500729, -0.124625), abs=1e-6)
    assert photo.gps.altitude == 12
    assert photo.gps.time is not None and (photo.gps.time.utc, photo.gps.time.reliability) == (
        "2026-11-20T20:14:03Z",
        GPS,
    )
    assert not photo.edited and photo.warnings == ()


def test_editing_software_is_flagged(tmp_path: Path) -> None:
    photo = read_photo_metadata(write_scene_photo(tmp_path / "edited.jpg", software="Adobe Photoshop 25.0"))
    assert photo.edited


def test_phash_finds_near_duplicates(tmp_path: Path) -> None:
    original = tmp_path / "a.jpg"
    scene().save(original, "JPEG", quality=95)
    smaller = tmp_path / "b.jpg"
    scene().resize((160, 120)).save(smaller, "JPEG", quality=60)
    different = tmp_path / "c.jpg"
    scene(shift=120).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(different, "JPEG")
    a, b, c = (int(read_photo_metadata(p).phash or "0", 16) for p in (original, smaller, different))
    assert bin(a ^ b).count("1") <= 6  # the same picture, resized and recompressed
    assert bin(a ^ c).count("1") >= 16  # another picture


def test_hostile_bytes_never_crash(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    with pytest.raises(NotImageError):
        read_photo_metadata(text)
    whole = write_scene_photo(tmp_path / "whole.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) // 3])  # EXIF intact, pixels cut off
    photo = read_photo_metadata(cut)
    assert photo.make == "Samsung" and photo.gps is not None  # what can be read still is
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(whole[:200] + bytes(range(256)) * 40)  # EXIF header, then nonsense
    try:
        damaged = read_photo_metadata(garbage)
    except NotImageError:
        return  # not my format: also a clean outcome
    assert [w.code for w in damaged.warnings] == ["EX-PHOTO-PIXELS"]
