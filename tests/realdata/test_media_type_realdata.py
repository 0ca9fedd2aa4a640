"""Media type detection against real files written by other people (``../shared/data``).

Every file listed in ``MANIFEST.tsv`` gets an expected kind. The default comes from its manifest category;
where that rule does not hold the file is listed in an explicit table below with the reason, checked by hand
(``file``, ``xxd``, ``ffprobe``, ``fsstat``) and never derived from the detector. A handful of files also get
an expected MIME type, chosen where the MIME decides which reader a caller will use (EWF vs raw vs virtual
disk containers).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.media_type import MIME_EWF, MIME_RAW_DISK, detect_media_type
from schemas.records import ExhibitKind
from tests.realdata.shared import DATA, manifest_rows, skip_without_data

pytestmark = pytest.mark.realdata


skip_without_data()

BWV = ExhibitKind.BWV
PHOTO = ExhibitKind.PHOTO
AUDIO = ExhibitKind.AUDIO
DEVICE = ExhibitKind.DEVICE_IMAGE
DOC = ExhibitKind.DOCUMENT
OTHER = ExhibitKind.OTHER

CATEGORY_KIND: dict[str, ExhibitKind] = {
    "photos": PHOTO,
    "faces": PHOTO,
    "video": BWV,
    "audio": AUDIO,
    "disk_images": DEVICE,
    "hashsets": DOC,  # md5sum/sha256 listings and the TSK text index
}

# Files whose kind is not their category's. Anything under a "groundtruth" folder is an expected-output
# text dump (exifread/exiftool/mmls/fls output, DFXML, JSON): DOCUMENT, see `_expected_kind`.
EXCEPTIONS: dict[str, tuple[ExhibitKind, str]] = {
    # video/ -- `ffprobe`: two Vorbis streams, no video; the manifest says "no video" as well.
    "video/vbr_requires_parsespeed_1.mp4": (AUDIO, "MP4 with two Vorbis audio tracks and no video track"),
    # disk_images/dftt: the DFTT test kits ship the image next to its zip, answer key and licence.
    "disk_images/dftt/6-undel-fat/6-undel-fat.zip": (OTHER, "zip of the image and key"),
    "disk_images/dftt/6-undel-fat/COPYING-GNU.txt": (DOC, "GPL text"),
    "disk_images/dftt/6-undel-fat/README.txt": (DOC, "text"),
    "disk_images/dftt/6-undel-fat/index.html": (DOC, "HTML answer key"),
    "disk_images/dftt/6-undel-fat/results.txt": (DOC, "text results"),
    "disk_images/dftt/6-undel-fat/6-fat-undel.dd.xml": (DOC, "DFXML listing"),
    "disk_images/dftt/7-undel-ntfs/7-undel-ntfs.zip": (OTHER, "zip of the image and key"),
    "disk_images/dftt/7-undel-ntfs/COPYING-GNU.txt": (DOC, "GPL text"),
    "disk_images/dftt/7-undel-ntfs/README.txt": (DOC, "text"),
    "disk_images/dftt/7-undel-ntfs/index.html": (DOC, "HTML answer key"),
    "disk_images/dftt/7-undel-ntfs/results.txt": (DOC, "text results"),
    "disk_images/dftt/5-fat-daylight/5-fat-daylight.zip": (OTHER, "zip of the image and key"),
    "disk_images/dftt/5-fat-daylight/COPYING-GNU.txt": (DOC, "GPL text"),
    "disk_images/dftt/5-fat-daylight/index.html": (DOC, "HTML answer key"),
    "disk_images/dftt/5-fat-daylight/readme.txt": (DOC, "text"),
    "disk_images/dftt/5-fat-daylight/daylight.xml": (DOC, "DFXML listing"),
    "disk_images/dftt/12-carve-ext2/12-carve-ext2.zip": (OTHER, "zip holding the 129 MB raw image"),
    # The dfir_ntfs images are stored gzipped: the bytes on disk are gzip, not a filesystem.
    "disk_images/dfir_ntfs/fat12.raw.gz": (OTHER, "gzip"),
    "disk_images/dfir_ntfs/fat16.raw.gz": (OTHER, "gzip"),
    "disk_images/dfir_ntfs/fat_deleted_dir.raw.gz": (OTHER, "gzip"),
    "disk_images/dfir_ntfs/ntfs3.raw.gz": (OTHER, "gzip"),
    "disk_images/dfir_ntfs/exfat_win.raw.gz": (OTHER, "gzip"),
    "disk_images/dfir_ntfs/gpt-512-3p.raw.gz": (OTHER, "gzip"),
    # Deliberately bad inputs from the sleuthkit/dfvfs test suites.
    "disk_images/sleuthkit/bogus.E01": (OTHER, "0 bytes: an empty file named like an E01"),
    "disk_images/dfvfs/bogus.001": (OTHER, "random bytes named like a split raw segment (`file`: data)"),
    # Second half of a split raw image: the middle of an ext2 volume, all zeros at its start, no signature.
    "disk_images/dfvfs/ext2.splitraw.001": (OTHER, "raw segment 2 carries no signature of its own"),
}

# MIME types where they steer the caller to a reader, plus a few media files whose container is easy to
# get wrong (header-only camera files, audio-only WebM, Ogg FLAC, AVCHD).
EXPECTED_MIME: dict[str, str] = {
    "disk_images/sleuthkit/image.E01": MIME_EWF,
    "disk_images/dfvfs/ext2.E01": MIME_EWF,
    "disk_images/dfvfs/ext2.split.E01": MIME_EWF,
    "disk_images/dfvfs/ext2.split.E02": MIME_EWF,
    "disk_images/nps/ntfs1-gen0.E01": MIME_EWF,
    "disk_images/nps/exfat1.E01": MIME_EWF,
    "disk_images/nps/ubnist1.casper-rw.gen0.E01": MIME_EWF,
    "disk_images/sleuthkit/image.dd": MIME_RAW_DISK,
    "disk_images/sleuthkit/image.iso": MIME_RAW_DISK,
    "disk_images/dfvfs/ext2.splitraw.000": MIME_RAW_DISK,
    "disk_images/dftt/6-undel-fat/6-fat-undel.dd": MIME_RAW_DISK,
    "disk_images/dftt/7-undel-ntfs/7-ntfs-undel.dd": MIME_RAW_DISK,
    "disk_images/dftt/5-fat-daylight/daylight.dd": MIME_RAW_DISK,
    # Virtual disk containers are not raw: they need libvhdi/libvmdk/libqcow.
    "disk_images/sleuthkit/image.vhd": "application/x-vhd",
    "disk_images/dfvfs/ext2.vhd": "application/x-vhd",
    "disk_images/sleuthkit/image.vmdk": "application/x-vmdk",
    "disk_images/dfvfs/ext2.vmdk": "application/x-vmdk",
    "disk_images/sleuthkit/image.qcow": "application/x-qemu-disk",
    "disk_images/dfvfs/ext2.qcow2": "application/x-qemu-disk",
    "disk_images/sleuthkit/bogus.E01": "application/x-empty",
    "photos/heic/iphone_13_pro_max.HEIC": "image/heic",
    "photos/exiftool/QuickTime.heic": "image/heic",
    "photos/tiff/Arbitro.tiff": "image/tiff",
    "faces/edge_cases/32bit.png": "image/png",
    "video/sample.mp4": "video/mp4",
    "video/sample.mkv": "video/x-matroska",
    "video/issue55.flv": "video/x-flv",
    "video/truncated/Pentax.avi": "video/x-msvideo",
    "video/truncated/RIFF.avi": "video/x-msvideo",
    "video/truncated/QuickTime.mov": "video/quicktime",
    "video/truncated/M2TS.mts": "video/mp2t",
    "video/truncated/DV.dv": "video/dv",
    "video/truncated/Matroska.mkv": "video/x-matroska",
    "video/truncated/ASF.wmv": "video/x-ms-asf",
    "audio/english.wav": "audio/wav",
    "audio/pydub/test1_empty.wav": "audio/wav",
    "audio/truncated/RIFF.wav": "audio/wav",
    "audio/french.aiff": "audio/aiff",
    "audio/chinese.flac": "audio/flac",
    "audio/pydub/test1.mp3": "audio/mpeg",
    "audio/truncated/sample_with_cover.mp3": "audio/mpeg",
    "audio/pydub/format_test.m4a": "audio/mp4",
    "audio/pydub/bach.ogg": "audio/ogg",
    "audio/pydub/test5.webm": "audio/webm",
    "audio/aac_he_v2.aac": "audio/aac",
    "disk_images/dftt/5-fat-daylight/index.html": "text/html",
    "disk_images/dftt/5-fat-daylight/daylight.xml": "application/xml",
    "disk_images/sleuthkit/groundtruth/image.dd.json": "application/json",
    "disk_images/dfir_ntfs/groundtruth/exfat_win_stat.txt": "text/plain",  # Latin-1, CRLF: still text
    "disk_images/dftt/12-carve-ext2/12-carve-ext2.zip": "application/zip",
    "disk_images/dfir_ntfs/ntfs3.raw.gz": "application/gzip",
}


ROWS = manifest_rows()


def _expected_kind(row: dict[str, str]) -> ExhibitKind:
    path = row["local_path"]
    if path in EXCEPTIONS:
        return EXCEPTIONS[path][0]
    if "groundtruth" in Path(path).parts:
        return DOC
    return CATEGORY_KIND[row["category"]]


def test_manifest_is_covered() -> None:
    # Every category must have a rule, and every exception must name a file that is really there.
    assert {row["category"] for row in ROWS} <= set(CATEGORY_KIND)
    listed = {row["local_path"] for row in ROWS}
    assert set(EXCEPTIONS) <= listed
    assert set(EXPECTED_MIME) <= listed
    assert len(ROWS) > 150


@pytest.mark.parametrize("row", ROWS, ids=[row["local_path"] for row in ROWS])
def test_kind(row: dict[str, str]) -> None:
    path = DATA / row["local_path"]
    assert path.stat().st_size == int(row["size"]), "shared data differs from MANIFEST.tsv"
    result = detect_media_type(path)
    assert result.kind == _expected_kind(row), f"{row['local_path']}: {result}"


@pytest.mark.parametrize(("local_path", "mime"), sorted(EXPECTED_MIME.items()))
def test_mime(local_path: str, mime: str) -> None:
    result = detect_media_type(DATA / local_path)
    assert result.mime == mime, f"{local_path}: {result}"


@pytest.mark.parametrize(
    ("local_path", "fragment"),
    [
        # TSK's fsstat reports FAT16 for this image (the upstream README calls it FAT12).
        ("disk_images/dftt/6-undel-fat/6-fat-undel.dd", "FAT16"),
        ("disk_images/dftt/5-fat-daylight/daylight.dd", "FAT12"),
        ("disk_images/dftt/7-undel-ntfs/7-ntfs-undel.dd", "NTFS"),
        ("disk_images/sleuthkit/image.dd", "ext2"),
        ("disk_images/sleuthkit/image.iso", "ISO 9660"),
        ("disk_images/dfvfs/ext2.split.E02", "segment 2"),
        ("disk_images/dfvfs/ext2.qcow2", "QCOW2"),
        ("video/truncated/M2TS.mts", "M2TS"),
        ("video/truncated/DV.dv", "PAL"),
        ("audio/pydub/bach.ogg", "FLAC"),
    ],
)
def test_description(local_path: str, fragment: str) -> None:
    assert fragment in detect_media_type(DATA / local_path).description


def test_name_is_ignored(tmp_path: Path) -> None:
    # The same bytes under a misleading name: the header-only AVCHD file renamed to a photo.
    source = DATA / "video" / "truncated" / "M2TS.mts"
    disguised = tmp_path / "IMG_0001.JPG"
    disguised.write_bytes(source.read_bytes())
    assert detect_media_type(disguised) == detect_media_type(source)
