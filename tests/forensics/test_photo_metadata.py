"""photo_metadata on photos written here with known EXIF, and on hostile bytes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import exifread
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from forensics.errors import MediaMissingError, NotImageError, PhotoExifTimeoutError
from forensics.photo_metadata import (
    THUMBNAIL_MISMATCH_BITS,
    call_with_deadline,
    extract_exif_thumbnail,
    hamming,
    read_photo_metadata,
)
from forensics.timestamps import DEVICE_ZONED, GPS
from pipelines.sample_media import (
    cropped_scene,
    exif_with_thumbnail,
    jpeg_bytes,
    photo_with_thumbnail,
    scene,
    write_scene_photo,
)


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


# -- helpers ------------------------------------------------------------------------------------------------


# -- the embedded thumbnail ---------------------------------------------------------------------------------


def test_a_camera_thumbnail_matches_its_photo(tmp_path: Path) -> None:
    path = photo_with_thumbnail(tmp_path / "camera.jpg", scene(), scene().resize((160, 120)))
    photo = read_photo_metadata(path)
    assert photo.has_thumbnail and photo.make == "TestCam"
    assert photo.thumbnail_phash is not None and photo.thumbnail_distance is not None
    assert photo.thumbnail_distance <= 6 and not photo.thumbnail_mismatch
    assert extract_exif_thumbnail(path) == jpeg_bytes(scene().resize((160, 120)))


def test_an_edit_that_kept_the_camera_thumbnail_is_flagged(tmp_path: Path) -> None:
    path = photo_with_thumbnail(tmp_path / "edited.jpg", cropped_scene(), scene().resize((160, 120)))
    photo = read_photo_metadata(path)
    assert photo.thumbnail_distance is not None and photo.thumbnail_distance > THUMBNAIL_MISMATCH_BITS
    assert photo.thumbnail_mismatch
    assert photo.to_row()["thumbnail_mismatch"] is True


def test_the_thumbnail_is_compared_upright(tmp_path: Path) -> None:
    # Stored on its side with Orientation 6, as a phone held upright stores it; the thumbnail is stored the same way.
    stored = scene().transpose(Image.Transpose.ROTATE_90)
    path = photo_with_thumbnail(tmp_path / "turned.jpg", stored, stored.resize((120, 160)), orientation=6)
    photo = read_photo_metadata(path)
    assert photo.orientation == 6
    upright = read_photo_metadata(photo_with_thumbnail(tmp_path / "up.jpg", scene(), scene())).phash
    assert photo.phash and upright and hamming(photo.phash, upright) <= 4  # the same picture, either way stored
    assert photo.thumbnail_distance is not None and photo.thumbnail_distance <= 6


def test_letterbox_bars_in_a_thumbnail_are_not_a_mismatch(tmp_path: Path) -> None:
    wide = scene((320, 180))
    boxed = Image.new("RGB", (160, 120))
    boxed.paste(wide.resize((160, 90)), (0, 15))  # 16:9 in a 4:3 thumbnail, black bars above and below
    photo = read_photo_metadata(photo_with_thumbnail(tmp_path / "wide.jpg", wide, boxed))
    assert photo.thumbnail_distance is not None and photo.thumbnail_distance <= 6
    assert not photo.thumbnail_mismatch


def test_a_thumbnail_that_is_not_an_image_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "stub.jpg"
    scene().save(path, "JPEG", exif=exif_with_thumbnail(b"<Dummy thumbnail image data>"))
    photo = read_photo_metadata(path)
    assert photo.has_thumbnail and photo.thumbnail_phash is None and not photo.thumbnail_mismatch
    assert [w.code for w in photo.warnings] == ["EX-PHOTO-THUMBNAIL"]
    assert photo.phash is not None  # the photo itself is fine


def test_no_thumbnail(tmp_path: Path) -> None:
    photo = read_photo_metadata(write_scene_photo(tmp_path / "plain.jpg"))
    assert photo.thumbnail_phash is None and photo.thumbnail_distance is None and not photo.thumbnail_mismatch
    assert extract_exif_thumbnail(tmp_path / "plain.jpg") is None
    with pytest.raises(MediaMissingError):
        extract_exif_thumbnail(tmp_path / "absent.jpg")


# -- text metadata beyond EXIF ------------------------------------------------------------------------------

XMP = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmp:CreateDate="2024-03-01T10:15+01:00" xmp:CreatorTool="Adobe Photoshop 25.0 (Windows)">'
    "<dc:creator><rdf:Seq><rdf:li>A. N. Photographer</rdf:li></rdf:Seq></dc:creator>"
    '<xmpMM:History xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"><rdf:Seq>'
    '<rdf:li stEvt:action="saved" stEvt:softwareAgent="Adobe Photoshop Lightroom 6.0 (Windows)"/>'
    "</rdf:Seq></xmpMM:History></rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
)


def test_png_text_chunks_and_creation_time(tmp_path: Path) -> None:
    info = PngInfo()
    info.add_text("Creation Time", "Sat, 12 Jan 2013 10:00:00 GMT")
    info.add_text("Software", "GIMP 2.10")
    info.add_itxt("Description", "Ein Bild, ünïcödé", lang="de")
    info.add_text("Comment", "x" * 5000, zip=True)  # zTXt, longer than a tag may be
    path = tmp_path / "drawn.png"
    scene().save(path, "PNG", pnginfo=info)
    photo = read_photo_metadata(path)
    tags = dict(photo.text_tags)
    assert tags["PNG:Description"] == "Ein Bild, ünïcödé" and tags["PNG:Software"] == "GIMP 2.10"
    assert len(tags["PNG:Comment"]) == 2000
    assert [k for k, _ in photo.text_tags] == sorted(tags)
    assert photo.taken is not None
    assert (photo.taken.utc, photo.taken.source, photo.taken.reliability) == (
        "2013-01-12T10:00:00Z",
        "PNG Creation Time",
        DEVICE_ZONED,
    )
    assert photo.software == "GIMP 2.10" and photo.edited and not photo.has_xmp


def test_xmp_gives_a_time_and_its_tool_where_exif_has_none(tmp_path: Path) -> None:
    path = tmp_path / "xmp.jpg"
    scene().save(path, "JPEG", xmp=XMP.encode())
    photo = read_photo_metadata(path)
    assert photo.has_xmp and photo.tag_count == 0
    tags = dict(photo.text_tags)
    assert tags["XMP:xmp:CreatorTool"] == "Adobe Photoshop 25.0 (Windows)"
    assert tags["XMP:dc:creator"] == "A. N. Photographer"
    assert tags["XMP:xmpMM:History/stEvt:softwareAgent"] == "Adobe Photoshop Lightroom 6.0 (Windows)"
    assert photo.taken is not None
    assert (photo.taken.utc, photo.taken.source) == ("2024-03-01T09:15:00Z", "XMP xmp:CreateDate")
    assert photo.software == "Adobe Photoshop 25.0 (Windows)" and photo.edited


def test_exif_time_wins_over_xmp_and_exif_text_is_kept(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010E] = "Handover at the gate"  # ImageDescription
    exif[0x013B] = "PC Smith"  # Artist
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 21:14:05"
    path = tmp_path / "both.jpg"
    scene().save(path, "JPEG", exif=exif, xmp=XMP.encode())
    photo = read_photo_metadata(path)
    assert photo.taken is not None and photo.taken.source == "EXIF DateTimeOriginal"
    tags = dict(photo.text_tags)
    assert (tags["EXIF:ImageDescription"], tags["EXIF:Artist"]) == ("Handover at the gate", "PC Smith")


def test_tiff_text_tags(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    scene().save(path, "TIFF", tiffinfo={270: "Exhibit 4, page 1", 315: "Scanner Operator", 305: "ScanSoft 1.0"})
    photo = read_photo_metadata(path)
    tags = dict(photo.text_tags)
    assert tags["TIFF:ImageDescription"] == "Exhibit 4, page 1" and tags["TIFF:Artist"] == "Scanner Operator"
    assert photo.software == "ScanSoft 1.0"


# -- the EXIF time cap --------------------------------------------------------------------------------------


def _hang(*args: object, **kwargs: object) -> dict[str, object]:
    while True:  # exifread stuck in a loop on hostile EXIF
        pass


def test_a_hanging_exif_parser_becomes_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_scene_photo(tmp_path / "scene.jpg")
    monkeypatch.setattr(exifread, "process_file", _hang)
    started = time.monotonic()
    photo = read_photo_metadata(path, exif_timeout=0.2)
    assert time.monotonic() - started < 5
    assert [w.code for w in photo.warnings] == ["EX-PHOTO-EXIF-TIMEOUT"]
    assert photo.phash is not None and photo.width == 320  # the pixels are still read
    assert photo.make is None
    with pytest.raises(PhotoExifTimeoutError):
        extract_exif_thumbnail(path, exif_timeout=0.2)
    time.sleep(0.5)  # nothing fires late


def test_the_cap_works_off_the_main_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_scene_photo(tmp_path / "scene.jpg")
    monkeypatch.setattr(exifread, "process_file", _hang)
    with ThreadPoolExecutor(max_workers=2) as pool:
        photos = list(pool.map(lambda _: read_photo_metadata(path, exif_timeout=0.2), range(4)))
    assert all([w.code for w in p.warnings] == ["EX-PHOTO-EXIF-TIMEOUT"] for p in photos)


def test_a_timer_that_fires_as_the_call_returns_hits_nothing_later() -> None:
    # Calls that end right around their deadline: whichever side wins, the caller gets either the result or
    # the timeout error, and no exception arrives in the code that runs afterwards.
    outcomes = []
    for _ in range(300):
        try:
            outcomes.append(call_with_deadline(lambda: sum(range(2000)), 0.0001))
        except PhotoExifTimeoutError:
            outcomes.append(-1)
        for _ in range(200):  # the caller's next lines
            pass
    time.sleep(0.05)
    assert set(outcomes) <= {sum(range(2000)), -1}


def test_a_fast_parse_is_untouched() -> None:
    assert call_with_deadline(lambda: 42, 5.0) == 42
    with pytest.raises(ZeroDivisionError):  # the function's own errors pass through
        call_with_deadline(lambda: 1 // 0, 5.0)


# -- memory -------------------------------------------------------------------------------------------------


def test_the_decode_budget_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (2000, 1000), (10, 20, 30)).save(path)
    photo = read_photo_metadata(path, max_decode_bytes=1 << 20)
    assert [w.code for w in photo.warnings] == ["EX-PHOTO-TOO-LARGE"]
    assert photo.phash is None and (photo.width, photo.height) == (2000, 1000)
    assert read_photo_metadata(path).phash is not None


def test_a_big_jpeg_is_hashed_from_a_reduced_decode(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    scene().resize((4000, 3000)).save(path, "JPEG", quality=80)
    # 48 MB as a full-size bitmap; the budget below only fits the 1/8-scale decode the hash needs
    photo = read_photo_metadata(path, max_decode_bytes=4 << 20)
    assert photo.warnings == () and photo.phash is not None
    small = read_photo_metadata(write_scene_photo(tmp_path / "small.jpg", orientation=1)).phash
    assert small is not None and hamming(photo.phash, small) <= 6


def test_the_row_has_the_new_columns(tmp_path: Path) -> None:
    row = read_photo_metadata(write_scene_photo(tmp_path / "scene.jpg")).to_row()
    assert {"thumbnail_phash", "thumbnail_distance", "thumbnail_mismatch", "has_xmp", "text_tags"} <= set(row)
    assert isinstance(row["text_tags"], list)
