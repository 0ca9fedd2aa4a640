"""Thumbnails, text metadata, display copies and near-duplicates on ../shared/data's real photos."""

from __future__ import annotations

import pytest
from PIL import Image

from forensics.errors import NotImageError, PhotoDamagedError, PhotoTooLargeError
from forensics.photo_derivatives import make_display_copy
from forensics.photo_metadata import hamming, near_duplicates, phash, read_photo_metadata
from tests.realdata.shared import DATA, manifest_rows, skip_without_data

skip_without_data()
pytestmark = pytest.mark.realdata
PHOTOS = DATA / "photos"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".heic", ".heif", ".tif", ".tiff", ".png")


def _images(category: str) -> list[str]:
    return [
        r["local_path"]
        for r in manifest_rows()
        if r["category"] == category and r["local_path"].lower().endswith(IMAGE_SUFFIXES)
    ]


@pytest.mark.timeout(120)
def test_thumbnails_and_the_two_that_show_another_picture() -> None:
    with_thumbnail, flagged = set(), set()
    for name in _images("photos"):
        try:
            photo = read_photo_metadata(DATA / name)
        except NotImageError:
            continue
        if photo.thumbnail_phash:
            with_thumbnail.add(name)
        if photo.thumbnail_mismatch:
            flagged.add(name)
    assert len(with_thumbnail) == 36
    # 35-empty.jpg: the photo is a crop of the scene its camera thumbnail still shows (24 bits apart);
    # withPanasonicFaces.jpg: the main image was replaced by a 1x1 stub, the thumbnail kept (31 bits).
    assert flagged == {"photos/edge_cases/35-empty.jpg", "photos/metadata-extractor/withPanasonicFaces.jpg"}


def test_a_resized_photo_whose_editor_rewrote_the_thumbnail_is_not_flagged() -> None:
    kodak = read_photo_metadata(PHOTOS / "cameras/Kodak_CX7530.jpg")  # scaled down in GIMP 2.4.5
    assert kodak.edited and kodak.thumbnail_distance == 0 and not kodak.thumbnail_mismatch


def test_a_letterboxed_thumbnail_matches_its_photo() -> None:
    wide = read_photo_metadata(PHOTOS / "edge_cases/45-gps_ifd.jpg")  # 16:9 photo, 4:3 thumbnail with bars
    assert wide.thumbnail_distance is not None and wide.thumbnail_distance <= 6


def test_an_uncompressed_thumbnail_is_read() -> None:
    kodak = read_photo_metadata(PHOTOS / "metadata-extractor/withUncompressedRGBThumbnail.jpg")
    assert kodak.thumbnail_distance is not None and kodak.thumbnail_distance <= 6


def test_text_metadata_beyond_exif() -> None:
    tiff = dict(read_photo_metadata(PHOTOS / "tiff/Crémieux11.tiff").text_tags)
    assert tiff["TIFF:Artist"] == "Jean Cornillon" and tiff["TIFF:Software"] == "Mac OS X 10.5.8 (9L31a)"
    windows = dict(read_photo_metadata(PHOTOS / "metadata-extractor/windowsXpFields.jpg").text_tags)
    assert (windows["EXIF:XPTitle"], windows["EXIF:XPAuthor"]) == ("Testing title", "Testing artist")
    png = dict(
        read_photo_metadata(PHOTOS / "metadata-extractor/gimp-8x12-greyscale-alpha-time-background.png").text_tags
    )
    assert png["PNG:Comment"] == "Created with GIMP"
    photoshop = read_photo_metadata(PHOTOS / "metadata-extractor/photoshop-8x12-rgb24-all-metadata.png")
    assert photoshop.has_xmp and photoshop.edited
    assert photoshop.taken is not None and photoshop.taken.source == "XMP xmp:CreateDate"
    fireworks = read_photo_metadata(PHOTOS / "edge_cases/image01551.jpg")  # no EXIF at all
    assert fireworks.tag_count == 0 and fireworks.taken is not None
    assert (fireworks.taken.utc, fireworks.taken.source) == ("2011-09-23T12:43:03Z", "XMP xmp:CreateDate")
    lightroom = dict(read_photo_metadata(PHOTOS / "edge_cases/87_OSError.jpg").text_tags)
    assert lightroom["XMP:xmpMM:History/stEvt:softwareAgent"] == "Adobe Photoshop Lightroom 6.2.1 (Macintosh)"


@pytest.mark.timeout(300)
def test_every_photo_gives_a_display_copy_or_a_typed_failure(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("display")
    outcomes = {}
    for index, name in enumerate(_images("photos") + _images("faces")):
        try:
            copy = make_display_copy(DATA / name, out / f"{index:03d}")
        except (NotImageError, PhotoDamagedError, PhotoTooLargeError) as exc:
            outcomes[name] = exc.code
            continue
        assert max(copy.width, copy.height) <= 2048
        outcomes[name] = copy.media_type
    assert outcomes["photos/exiftool/QuickTime.heic"] == "EX-PHOTO-DAMAGED"  # exiftool's stub: a header only
    assert outcomes["photos/metadata-extractor/gimp-8x12-greyscale-alpha-time-background.png"] == "image/png"
    failed = {k for k, v in outcomes.items() if not v.startswith("image/")}
    assert failed == {"photos/exiftool/QuickTime.heic"}


def test_orientation_copies_all_come_out_upright(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("orientation")
    copies = [make_display_copy(PHOTOS / f"orientation/landscape_{n}.jpg", out / f"l{n}") for n in range(1, 9)]
    assert [(c.width, c.height, c.orientation_applied) for c in copies] == [(600, 450, n) for n in range(1, 9)]
    hashes = []
    for copy in copies:
        with Image.open(copy.path) as shown:
            hashes.append(phash(shown))
    assert all(hamming(hashes[0], h) <= 4 for h in hashes)
    portrait = make_display_copy(PHOTOS / "orientation/portrait_6.jpg", out / "p6")
    assert (portrait.width, portrait.height) == (450, 600)


def test_the_iphone_heic_copy(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("heic")
    copy = make_display_copy(PHOTOS / "heic/iphone_13_pro_max.HEIC", out / "one")
    again = make_display_copy(PHOTOS / "heic/iphone_13_pro_max.HEIC", out / "two")
    assert (copy.width, copy.height, copy.orientation_applied, copy.media_type) == (1536, 2048, 6, "image/jpeg")
    assert copy.parameters["colour"].startswith("ICC profile -> sRGB")  # Display P3 in the file
    assert copy.path.read_bytes() == again.path.read_bytes()


def test_near_duplicates_among_the_real_photos() -> None:
    items = []
    for name in _images("photos") + _images("faces"):
        try:
            photo = read_photo_metadata(DATA / name)
        except NotImageError:
            continue
        if photo.phash:
            items.append((name, photo.phash))
    pairs = {frozenset((p.first, p.second)) for p in near_duplicates(items)}
    # the same Obama portrait at four resolutions
    obama = [f"faces/obama/obama-{r}.jpg" for r in ("1080p", "240p", "480p", "720p")]
    assert all(frozenset((a, b)) in pairs for i, a in enumerate(obama) for b in obama[i + 1 :])
    # the eight orientation samples are one picture once upright
    landscapes = [f"photos/orientation/landscape_{n}.jpg" for n in range(1, 9)]
    assert all(frozenset((a, b)) in pairs for i, a in enumerate(landscapes) for b in landscapes[i + 1 :])
    assert frozenset(("photos/gps/DSCN0010.jpg", "photos/gps/DSCN0012.jpg")) not in pairs
