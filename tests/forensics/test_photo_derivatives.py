"""display copies of photos written here: upright, fitted, metadata-free, byte-identical, and the failure tiers."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from forensics.errors import MediaMissingError, NotImageError, PhotoDamagedError, PhotoTooLargeError
from forensics.photo_derivatives import make_display_copy
from forensics.photo_metadata import hamming, phash
from pipelines.sample_media import scene, write_scene_photo


def jpeg_markers(data: bytes) -> list[int]:
    """The marker segments of a JPEG up to its first scan."""
    markers, position = [], 2
    while position < len(data):
        marker = data[position + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunks.append(data[position + 4 : position + 8])
        position += 12 + length
    return chunks


def test_a_phone_photo_is_turned_upright_and_stripped(tmp_path: Path) -> None:
    # write_scene_photo stores the scene as it is with Orientation 6: a viewer turns it 90 degrees clockwise.
    source = write_scene_photo(tmp_path / "phone.jpg")
    copy = make_display_copy(source, tmp_path / "display")
    assert copy.path == tmp_path / "display.jpg" and copy.media_type == "image/jpeg"
    assert (copy.width, copy.height, copy.orientation_applied) == (240, 320, 6)
    assert (copy.source_format, copy.source_width, copy.source_height) == ("JPEG", 320, 240)
    data = copy.path.read_bytes()
    # SOI then JFIF, quantisation, frame, Huffman tables, scan: no APP1 (EXIF/XMP), APP2 (ICC) or COM
    assert set(jpeg_markers(data)) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}
    with Image.open(copy.path) as shown:
        assert shown.getexif() == {} and "icc_profile" not in shown.info
        expected = scene().transpose(Image.Transpose.ROTATE_270)
        assert hamming(phash(shown), phash(expected)) <= 4
    assert copy.parameters["jpeg_quality"] == 90 and copy.parameters["max_side"] == 2048
    assert copy.parameters["orientation_applied"] == 6 and copy.parameters["pillow"]
    assert copy.warnings == ()


def test_the_same_photo_gives_the_same_bytes(tmp_path: Path) -> None:
    source = write_scene_photo(tmp_path / "phone.jpg")
    first = make_display_copy(source, tmp_path / "one")
    second = make_display_copy(source, tmp_path / "two")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.parameters == second.parameters


def test_a_big_photo_is_fitted_from_a_reduced_decode(tmp_path: Path) -> None:
    source = tmp_path / "big.jpg"
    scene().resize((4000, 3000)).save(source, "JPEG", quality=85)
    copy = make_display_copy(source, tmp_path / "display", max_side=1024)
    # libjpeg decodes at 1/4 (1000x750): within 20% of the 1024 asked for, so that is the copy, not resampled
    assert copy.parameters["decode_scale"] == "1/4" and (copy.width, copy.height) == (1000, 750)
    # the whole copy needs less than the full 4000x3000 bitmap (48 MB) would
    small = make_display_copy(source, tmp_path / "budget", max_side=1024, max_decode_bytes=40 << 20)
    assert small.path.read_bytes() == copy.path.read_bytes()
    with pytest.raises(PhotoTooLargeError):
        make_display_copy(source, tmp_path / "none", max_side=1024, max_decode_bytes=1 << 20)


def test_transparency_gives_a_png_and_opaque_alpha_does_not(tmp_path: Path) -> None:
    clear = tmp_path / "clear.png"
    image = scene().convert("RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))
    info = PngInfo()
    info.add_text("Comment", "drawn by a suspect")
    image.save(clear, pnginfo=info)
    copy = make_display_copy(clear, tmp_path / "display.jpg")
    assert copy.media_type == "image/png" and copy.path.suffix == ".png"
    assert png_chunks(copy.path.read_bytes()) == [b"IHDR", b"IDAT", b"IEND"]
    with Image.open(copy.path) as shown:
        assert shown.mode == "RGBA" and shown.getpixel((0, 0))[3] == 0  # type: ignore[index]
    opaque = tmp_path / "opaque.png"
    scene().convert("RGBA").save(opaque)
    assert make_display_copy(opaque, tmp_path / "opaque").media_type == "image/jpeg"


def test_heic_comes_out_upright(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    exif = Image.Exif()
    exif[0x0112] = 6
    source = tmp_path / "phone.heic"
    scene().save(source, exif=exif.tobytes(), quality=90)  # pillow-heif stores Orientation 6 as a rotation
    copy = make_display_copy(source, tmp_path / "display")
    assert (copy.source_format, copy.width, copy.height, copy.orientation_applied) == ("HEIF", 240, 320, 6)
    assert copy.parameters["heif_decoder"]


def test_colours_go_through_the_embedded_profile(tmp_path: Path) -> None:
    source = tmp_path / "profiled.jpg"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    scene().save(source, "JPEG", icc_profile=profile)
    copy = make_display_copy(source, tmp_path / "display")
    assert copy.parameters["colour"].startswith("ICC profile -> sRGB")
    broken = tmp_path / "broken.jpg"
    scene().save(broken, "JPEG", icc_profile=b"not a profile" * 10)
    copy = make_display_copy(broken, tmp_path / "display2")
    assert [w.code for w in copy.warnings] == ["EX-PHOTO-ICC"]


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    source = tmp_path / "grey16.png"
    Image.new("I;16", (64, 64), 32768).save(source)
    copy = make_display_copy(source, tmp_path / "display")
    with Image.open(copy.path) as shown:
        assert shown.mode == "RGB" and abs(shown.getpixel((10, 10))[0] - 128) <= 1  # type: ignore[index]


def test_a_truncated_jpeg_still_gives_a_copy_with_a_warning(tmp_path: Path) -> None:
    whole = write_scene_photo(tmp_path / "whole.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    copy = make_display_copy(cut, tmp_path / "display")
    assert [w.code for w in copy.warnings] == ["EX-PHOTO-TRUNCATED"]
    assert (copy.width, copy.height) == (240, 320)
    again = make_display_copy(cut, tmp_path / "again")
    assert again.path.read_bytes() == copy.path.read_bytes()  # deterministic too


def test_failures_are_typed_and_leave_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(MediaMissingError):
        make_display_copy(tmp_path / "absent.jpg", tmp_path / "x")
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    with pytest.raises(NotImageError):
        make_display_copy(text, tmp_path / "x")
    eps = tmp_path / "figure.eps"  # Pillow would hand this to Ghostscript: not a photo format here
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(NotImageError):
        make_display_copy(eps, tmp_path / "x")
    whole = write_scene_photo(tmp_path / "whole.jpg").read_bytes()
    header_only = tmp_path / "header.jpg"
    header_only.write_bytes(whole[:400])
    with pytest.raises(PhotoDamagedError):
        make_display_copy(header_only, tmp_path / "x")
    broken_png = tmp_path / "broken.png"
    data = io.BytesIO()
    scene().save(data, "PNG")
    broken_png.write_bytes(data.getvalue()[:200])
    with pytest.raises(PhotoDamagedError):
        make_display_copy(broken_png, tmp_path / "x")
    with pytest.raises(ValueError):
        make_display_copy(write_scene_photo(tmp_path / "ok.jpg"), tmp_path / "x", max_side=4)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".x", "x"))) == []
