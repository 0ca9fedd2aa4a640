"""Content-based file type detection for exhibits: magic bytes, never file names.

Why by content: an exhibit's name is whatever a suspect, a camera or an officer typed, and renaming is the
oldest way to hide a file. Routing (which analyser runs, which viewer the reviewer gets, which retention rule
applies) must therefore follow what the bytes are. Everything here is decided from the first
:data:`HEAD_BYTES` of the file, so detection costs one small read even for a terabyte disk image, and
truncated or header-only files (a camera card recovered in part) are still classified.

How: :func:`sniff` runs an ordered list of recognisers over the leading bytes and returns the first answer.
The order is the design:

1. Long, unambiguous signatures at offset 0 (forensic containers, virtual disks, images, audio/video
   containers, documents, archives). A 4-to-16-byte signature at offset 0 is far stronger evidence than any
   heuristic, so these win.
2. Text: what no signature claimed and has no control bytes (UTF-8, UTF-16 with BOM, or 8-bit legacy text)
   is a document. Deciding this before the heuristics is what stops a letter with "G" every 188 bytes, or
   "EFI PART" at offset 512, from being called a video or a disk.
3. Structural heuristics for the binary rest: QuickTime files without ``ftyp``, ``tar`` (magic at 257),
   MPEG transport streams (sync byte every 188/192 bytes), raw disk and volume images (boot sectors,
   superblocks at 1024/1080, ISO9660 at 32769), bare MPEG audio/ADTS frames (two consecutive valid frame
   headers). These check several independent fields, and they only run after every signature, so that a
   JPEG holding ``55 AA`` at 510 is never called a disk.

Choices worth knowing:

* Virtual disk containers (VHD, VHDX, VMDK, QCOW, VDI) are ``DEVICE_IMAGE`` but get their own MIME type, not
  ``application/x-raw-disk-image``: they cannot be read as raw sectors (a sparse VMDK or a QCOW needs
  libvmdk/libqcow), so telling a caller "raw" would send it down the wrong path. A *fixed* VHD has its
  footer only at the end; its head is the raw disk itself and it is reported as a raw image, which is
  correct for reading.
* Matroska/WebM are video unless the ``Tracks`` element lies wholly within the head and declares audio
  tracks and no video track; then they are audio (Opus-in-WebM voice notes). If the tracks are not visible,
  or there is neither audio nor video (a subtitle-only file), it is called video: a body-worn-video system
  should err towards "video".
* MP4/QuickTime are classified by ``ftyp`` brand, then corrected by the track handlers (``vide``/``soun``)
  when the whole ``moov`` box is in the head, so an audio-only MP4 with a generic brand is audio and an
  ``M4A``-branded file that really carries video is video. When ``moov`` sits after a large ``mdat`` (no
  "fast start") only the brand is visible, so a generic-brand audio-only MP4 of that layout is called video.
* AVI is always video (audio-only AVI is vanishingly rare and would need the stream headers parsed).
* FLV is always video: its header's audio/video flags are unreliable (real files with video say "audio
  only"), and the tags that would tell are not worth parsing here.
* ASF is video unless its header object is wholly in the head and lists audio streams but no video stream
  (WMA).
* Ogg is classified by the codec of its first (BOS) packets: video if any stream is Theora/Dirac/VP8/OGM
  video, audio if any is Vorbis/Opus/FLAC/Speex/OGM audio, otherwise ``application/ogg`` / OTHER.
* OLE2 compound files are documents (Word, Excel, PowerPoint, Outlook ``.msg``); the specific type is named
  when a directory entry name is visible in the head.
* Text that is not UTF-8 but has no control bytes (Latin-1/Windows-1252 exports) is still text.
* Btrfs (superblock at 64 KiB) is beyond the head and not recognised.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from forensics.errors import MediaMissingError, MediaUnreadableError
from schemas.records import ExhibitKind

HEAD_BYTES: int = 65536
"""Leading bytes :func:`sniff` looks at; large enough to see ISO9660's ``CD001`` at 32769."""

MIME_EWF = "application/x-ewf"
MIME_RAW_DISK = "application/x-raw-disk-image"
MIME_UNKNOWN = "application/octet-stream"
MIME_EMPTY = "application/x-empty"
MIME_TEXT = "text/plain"


@dataclass(frozen=True)
class MediaType:
    """What a file is, from its content.

    Attributes:
        mime: The MIME type, e.g. ``"video/mp4"``, ``"application/x-ewf"``.
        kind: The exhibit kind the content implies.
        description: Short human text, e.g. ``"MP4 video (ISO base media, brand isom)"``.
    """

    mime: str
    kind: ExhibitKind
    description: str


UNKNOWN = MediaType(MIME_UNKNOWN, ExhibitKind.OTHER, "unrecognised data")
EMPTY = MediaType(MIME_EMPTY, ExhibitKind.OTHER, "empty file")

_BWV = ExhibitKind.BWV
_PHOTO = ExhibitKind.PHOTO
_AUDIO = ExhibitKind.AUDIO
_DEVICE = ExhibitKind.DEVICE_IMAGE
_DOC = ExhibitKind.DOCUMENT
_OTHER = ExhibitKind.OTHER

_Sniffer = Callable[[bytes], MediaType | None]


# --- little helpers: every read is bounds-checked so a truncated head can never raise -----------------------


def _u16be(b: bytes, off: int) -> int | None:
    return int.from_bytes(b[off : off + 2], "big") if off >= 0 and off + 2 <= len(b) else None


def _u16le(b: bytes, off: int) -> int | None:
    return int.from_bytes(b[off : off + 2], "little") if off >= 0 and off + 2 <= len(b) else None


def _u32be(b: bytes, off: int) -> int | None:
    return int.from_bytes(b[off : off + 4], "big") if off >= 0 and off + 4 <= len(b) else None


def _u32le(b: bytes, off: int) -> int | None:
    return int.from_bytes(b[off : off + 4], "little") if off >= 0 and off + 4 <= len(b) else None


def _u64be(b: bytes, off: int) -> int | None:
    return int.from_bytes(b[off : off + 8], "big") if off >= 0 and off + 8 <= len(b) else None


def _u64le(b: bytes, off: int) -> int | None:
    return int.from_bytes(b[off : off + 8], "little") if off >= 0 and off + 8 <= len(b) else None


def _at(b: bytes, off: int, sig: bytes) -> bool:
    return b[off : off + len(sig)] == sig


def _brand_text(brand: bytes) -> str:
    return brand.decode("latin-1").strip() or "(blank)"


# --- 1. forensic containers and virtual disks ---------------------------------------------------------------


def _sniff_forensic_container(h: bytes) -> MediaType | None:
    # Every EWF segment (.E01, .E02, ...) starts with the same signature; the segment number follows it.
    if _at(h, 0, b"EVF\x09\x0d\x0a\xff\x00"):
        segment = _u16le(h, 9)
        seg_text = f", segment {segment}" if segment else ""
        return MediaType(MIME_EWF, _DEVICE, f"EnCase/Expert Witness disk image (EWF-E01{seg_text})")
    if _at(h, 0, b"EVF2\x0d\x0a\x81\x00"):
        return MediaType(MIME_EWF, _DEVICE, "EnCase 7 disk image (EWF2-Ex01)")
    if _at(h, 0, b"LVF\x09\x0d\x0a\xff\x00"):
        return MediaType(MIME_EWF, _DEVICE, "EnCase logical evidence file (EWF-L01)")
    if _at(h, 0, b"LEF2\x0d\x0a\x81\x00"):
        return MediaType(MIME_EWF, _DEVICE, "EnCase 7 logical evidence file (EWF2-Lx01)")
    if _at(h, 0, b"AFF10\x0d\x0a\x00"):
        return MediaType("application/x-aff", _DEVICE, "Advanced Forensic Format disk image (AFF)")
    return None


def _sniff_virtual_disk(h: bytes) -> MediaType | None:
    if _at(h, 0, b"conectix"):
        return MediaType("application/x-vhd", _DEVICE, "Virtual PC/Hyper-V virtual disk (VHD, dynamic)")
    if _at(h, 0, b"vhdxfile"):
        return MediaType("application/x-vhdx", _DEVICE, "Hyper-V virtual disk (VHDX)")
    if _at(h, 0, b"KDMV"):
        return MediaType("application/x-vmdk", _DEVICE, "VMware virtual disk (VMDK, sparse extent)")
    if _at(h, 0, b"COWD"):
        return MediaType("application/x-vmdk", _DEVICE, "VMware virtual disk (VMDK, ESX COW extent)")
    if _at(h, 0, b"# Disk DescriptorFile"):
        return MediaType("application/x-vmdk", _DEVICE, "VMware virtual disk descriptor (VMDK)")
    if _at(h, 0, b"QFI\xfb"):
        version = _u32be(h, 4)
        name = "QCOW2" if version in (2, 3) else "QCOW"
        return MediaType("application/x-qemu-disk", _DEVICE, f"QEMU virtual disk ({name} v{version})")
    if _at(h, 64, b"\x7f\x10\xda\xbe") and b"VirtualBox" in h[:64]:
        return MediaType("application/x-virtualbox-vdi", _DEVICE, "VirtualBox virtual disk (VDI)")
    return None


# --- 2. still images ----------------------------------------------------------------------------------------


def _sniff_image(h: bytes) -> MediaType | None:
    if _at(h, 0, b"\xff\xd8\xff"):
        if _at(h, 6, b"Exif\x00"):
            return MediaType("image/jpeg", _PHOTO, "JPEG image (Exif)")
        if _at(h, 6, b"JFIF\x00"):
            return MediaType("image/jpeg", _PHOTO, "JPEG image (JFIF)")
        return MediaType("image/jpeg", _PHOTO, "JPEG image")
    if _at(h, 0, b"\x89PNG\r\n\x1a\n"):
        return MediaType("image/png", _PHOTO, "PNG image")
    if _at(h, 0, b"GIF87a") or _at(h, 0, b"GIF89a"):
        return MediaType("image/gif", _PHOTO, f"GIF image ({h[3:6].decode('ascii')})")
    # "BM" alone is two letters of text; the DIB header size pins it down.
    if _at(h, 0, b"BM") and _u32le(h, 14) in (12, 16, 40, 52, 56, 64, 108, 124):
        return MediaType("image/bmp", _PHOTO, "BMP image")
    if _at(h, 0, b"II*\x00") or _at(h, 0, b"MM\x00*"):
        if _at(h, 8, b"CR\x02"):
            return MediaType("image/x-canon-cr2", _PHOTO, "Canon CR2 raw image (TIFF-based)")
        order = "little-endian" if h[0] == 0x49 else "big-endian"
        return MediaType("image/tiff", _PHOTO, f"TIFF image ({order})")
    if _at(h, 0, b"II+\x00") or _at(h, 0, b"MM\x00+"):
        return MediaType("image/tiff", _PHOTO, "BigTIFF image")
    if _at(h, 0, b"IIRO") or _at(h, 0, b"IIRS") or _at(h, 0, b"MMOR"):
        return MediaType("image/x-olympus-orf", _PHOTO, "Olympus ORF raw image")
    if _at(h, 0, b"IIU\x00"):
        return MediaType("image/x-panasonic-rw2", _PHOTO, "Panasonic RW2 raw image")
    if _at(h, 0, b"FUJIFILMCCD-RAW "):
        return MediaType("image/x-fuji-raf", _PHOTO, "Fujifilm RAF raw image")
    if _at(h, 0, b"\x00\x00\x00\x0cjP  \r\n\x87\n"):
        return MediaType("image/jp2", _PHOTO, "JPEG 2000 image")
    if _at(h, 0, b"\xff\x4f\xff\x51"):
        return MediaType("image/x-jp2-codestream", _PHOTO, "JPEG 2000 codestream")
    if _at(h, 0, b"\x00\x00\x00\x0cJXL \r\n\x87\n") or _at(h, 0, b"\xff\x0a"):
        return MediaType("image/jxl", _PHOTO, "JPEG XL image")
    if _at(h, 0, b"8BPS\x00\x01") or _at(h, 0, b"8BPS\x00\x02"):
        return MediaType("image/vnd.adobe.photoshop", _PHOTO, "Adobe Photoshop image (PSD)")
    return None


# --- 3. ISO base media (MP4, MOV, 3GP, HEIF, AVIF, M4A) -----------------------------------------------------

# Brand -> (mime, label). Photo brands: HEIF/AVIF stills and image sequences.
_PHOTO_BRANDS: dict[bytes, tuple[str, str]] = {
    b"avif": ("image/avif", "AVIF image"),
    b"avis": ("image/avif", "AVIF image sequence"),
    b"heic": ("image/heic", "HEIC image"),
    b"heix": ("image/heic", "HEIC image (10-bit)"),
    b"heim": ("image/heic", "HEIC image (multiview)"),
    b"heis": ("image/heic", "HEIC image (scalable)"),
    b"hevc": ("image/heic-sequence", "HEIC image sequence"),
    b"hevx": ("image/heic-sequence", "HEIC image sequence (10-bit)"),
    b"mif1": ("image/heif", "HEIF image"),
    b"mif2": ("image/heif", "HEIF image"),
    b"msf1": ("image/heif-sequence", "HEIF image sequence"),
    b"crx ": ("image/x-canon-cr3", "Canon CR3 raw image"),
}
# Precedence when several photo brands are listed: the most specific codec wins over generic mif1/msf1.
_PHOTO_PRECEDENCE = (
    b"crx ",
    b"avif",
    b"avis",
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"hevx",
    b"mif1",
    b"mif2",
    b"msf1",
)
_AUDIO_BRANDS: dict[bytes, str] = {
    b"M4A ": "MPEG-4 audio (M4A)",
    b"M4B ": "MPEG-4 audiobook (M4B)",
    b"M4P ": "MPEG-4 protected audio (M4P)",
    b"F4A ": "Flash MPEG-4 audio (F4A)",
    b"F4B ": "Flash MPEG-4 audiobook (F4B)",
}
# Brands that say "this is an audio/video presentation"; used so a stray HEIF brand in the compatible list
# of a video does not turn it into a photo.
_AV_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"mp41",
        b"mp42",
        b"avc1",
        b"qt  ",
        b"M4V ",
        b"M4VH",
        b"M4VP",
        b"F4V ",
        b"F4P ",
        b"dash",
        b"mmp4",
        b"MSNV",
        b"XAVC",
    }
)

# Top-level QuickTime atoms a file may start with when it has no ftyp (old QuickTime, some cameras).
_QT_FIRST_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_QT_KNOWN_ATOMS = _QT_FIRST_ATOMS | {b"ftyp", b"PICT", b"uuid", b"udta", b"junk"}
_QT_MOOV_CHILDREN = frozenset({b"mvhd", b"cmov", b"rmra", b"trak", b"iods", b"udta", b"meta", b"prfl"})


def _iter_boxes(h: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(type, payload_start, box_end)`` for the ISO boxes in ``h[start:end]``.

    ``box_end`` is where the box really ends, which may lie beyond the head; callers compare it with
    ``len(h)`` to know whether they saw the whole box. Stops at the first malformed header.
    """
    pos = start
    while pos + 8 <= end:
        size = _u32be(h, pos)
        box_type = h[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            size = _u64be(h, pos + 8)
            header = 16
            if size is None:
                return
        elif size == 0:
            # "Extends to end of file": the file end is unknown from the head, so treat it as beyond it.
            size = 1 << 62
        if size is None or size < header:
            return
        yield box_type, pos + header, pos + size
        pos += size


def _track_handlers(h: bytes, moov_payload: int, moov_end: int) -> set[bytes]:
    """Collect the handler types (``vide``, ``soun``, ...) of every track in a complete ``moov``."""
    handlers: set[bytes] = set()
    for box, payload, end in _iter_boxes(h, moov_payload, moov_end):
        if box != b"trak":
            continue
        for tbox, tpayload, tend in _iter_boxes(h, payload, min(end, moov_end)):
            if tbox != b"mdia":
                continue
            for mbox, mpayload, _mend in _iter_boxes(h, tpayload, min(tend, moov_end)):
                if mbox == b"hdlr":
                    # FullBox version/flags (4), pre_defined/component type (4), then handler_type.
                    handler = h[mpayload + 8 : mpayload + 12]
                    if len(handler) == 4:
                        handlers.add(handler)
    return handlers


def _visible_handlers(h: bytes) -> set[bytes] | None:
    """Handler types from the top-level ``moov`` if it lies wholly in the head, else ``None``."""
    for box, payload, end in _iter_boxes(h, 0, len(h)):
        if box == b"moov":
            return _track_handlers(h, payload, end) if end <= len(h) else None
        if end > len(h):
            return None
    return None


def _av_by_handlers(h: bytes) -> ExhibitKind | None:
    handlers = _visible_handlers(h)
    if not handlers:
        return None
    if b"vide" in handlers:
        return _BWV
    if b"soun" in handlers:
        return _AUDIO
    return None


def _sniff_iso_bmff(h: bytes) -> MediaType | None:
    if not _at(h, 4, b"ftyp"):
        return None
    size = _u32be(h, 0)
    if size is None or size < 16 or len(h) < 12:
        return None
    major = h[8:12]
    compatible = [h[i : i + 4] for i in range(16, min(size, len(h)) - 3, 4)]
    brands = [major, *compatible]
    brand_desc = f"brand {_brand_text(major)}"
    by_handler = _av_by_handlers(h)

    photo_brands = [b for b in _PHOTO_PRECEDENCE if b in brands]
    if photo_brands and (major in _PHOTO_BRANDS or major not in _AV_BRANDS) and by_handler is None:
        mime, label = _PHOTO_BRANDS[photo_brands[0]]
        return MediaType(mime, _PHOTO, f"{label} (ISO base media, {brand_desc})")

    if major in _AUDIO_BRANDS and by_handler != _BWV:
        return MediaType("audio/mp4", _AUDIO, f"{_AUDIO_BRANDS[major]} (ISO base media, {brand_desc})")

    if major == b"qt  ":
        mime, label = "video/quicktime", "QuickTime movie"
    elif major.startswith(b"3gp") or major.startswith(b"3ge") or major.startswith(b"3gs"):
        mime, label = "video/3gpp", "3GPP video"
    elif major.startswith(b"3g2"):
        mime, label = "video/3gpp2", "3GPP2 video"
    elif major in (b"M4V ", b"M4VH", b"M4VP"):
        mime, label = "video/x-m4v", "MPEG-4 video (M4V)"
    elif major in (b"F4V ", b"F4P "):
        mime, label = "video/x-f4v", "Flash MPEG-4 video (F4V)"
    else:
        # Unknown brands are common on cameras (XAVC, CAEP, NIKO, ...): an ISO media file is a movie.
        mime, label = "video/mp4", "MP4 video"
    if by_handler == _AUDIO:
        audio_mime = "audio/3gpp" if mime == "video/3gpp" else "audio/mp4"
        return MediaType(audio_mime, _AUDIO, f"MPEG-4 audio, no video track (ISO base media, {brand_desc})")
    return MediaType(mime, _BWV, f"{label} (ISO base media, {brand_desc})")


def _sniff_quicktime_without_ftyp(h: bytes) -> MediaType | None:
    boxes = list(_take(_iter_boxes(h, 0, len(h)), 4))
    if not boxes or boxes[0][0] not in _QT_FIRST_ATOMS:
        return None
    first, payload, end = boxes[0]
    if first == b"moov":
        # A real moov opens with its movie header (or a compressed/reference movie, or a track).
        child = h[payload + 4 : payload + 8]
        child_size = _u32be(h, payload)
        if child not in _QT_MOOV_CHILDREN or child_size is None:
            return None
        if child_size < 8 or payload + child_size > end:
            return None
    elif first != b"mdat" and (len(boxes) < 2 or boxes[1][0] not in _QT_KNOWN_ATOMS or end > len(h)):
        # free/skip/wide/pnot are short: the next atom must be visible and be one QuickTime knows.
        return None
    by_handler = _av_by_handlers(h)
    if by_handler == _AUDIO:
        label = f"QuickTime audio, no video track (first atom {first.decode()})"
        return MediaType("audio/mp4", _AUDIO, label)
    return MediaType("video/quicktime", _BWV, f"QuickTime movie (no ftyp, first atom {first.decode()})")


def _take(it: Iterator[tuple[bytes, int, int]], n: int) -> Iterator[tuple[bytes, int, int]]:
    for i, item in enumerate(it):
        if i >= n:
            return
        yield item


# --- 4. RIFF/IFF and other audio signatures -----------------------------------------------------------------


def _sniff_riff(h: bytes) -> MediaType | None:
    form = h[8:12]
    if _at(h, 0, b"RIFF"):
        if form in (b"AVI ", b"AVIX"):
            return MediaType("video/x-msvideo", _BWV, "AVI video (RIFF)")
        if form == b"WAVE":
            return MediaType("audio/wav", _AUDIO, "WAV audio (RIFF)")
        if form == b"WEBP":
            return MediaType("image/webp", _PHOTO, "WebP image (RIFF)")
        if form == b"CDXA":
            return MediaType("video/mpeg", _BWV, "Video CD MPEG (RIFF CDXA)")
        if form == b"RMID":
            return MediaType("audio/midi", _AUDIO, "MIDI (RIFF RMID)")
        return None
    if (_at(h, 0, b"RF64") or _at(h, 0, b"BW64")) and form == b"WAVE":
        return MediaType("audio/wav", _AUDIO, f"WAV audio ({h[:4].decode()}, 64-bit sizes)")
    if _at(h, 0, b"FORM") and form in (b"AIFF", b"AIFC"):
        label = "AIFF-C audio" if form == b"AIFC" else "AIFF audio"
        return MediaType("audio/aiff", _AUDIO, label)
    if _at(h, 0, b"FORM") and form == b"8SVX":
        return MediaType("audio/x-8svx", _AUDIO, "IFF 8SVX audio")
    return None


def _sniff_audio(h: bytes) -> MediaType | None:
    if _at(h, 0, b"fLaC"):
        return MediaType("audio/flac", _AUDIO, "FLAC audio")
    if _at(h, 0, b"ID3"):
        return _sniff_id3(h)
    if _at(h, 0, b"#!AMR-WB\n") or _at(h, 0, b"#!AMR-WB_MC1.0\n"):
        return MediaType("audio/amr-wb", _AUDIO, "AMR-WB audio")
    if _at(h, 0, b"#!AMR\n") or _at(h, 0, b"#!AMR_MC1.0\n"):
        return MediaType("audio/amr", _AUDIO, "AMR audio")
    if _at(h, 0, b"caff") and _u16be(h, 4) == 1:
        return MediaType("audio/x-caf", _AUDIO, "Apple Core Audio Format (CAF)")
    if _at(h, 0, b".snd") and (_u32be(h, 4) or 0) >= 24:
        return MediaType("audio/basic", _AUDIO, "Sun/NeXT audio (AU)")
    if _at(h, 0, b"MAC "):
        return MediaType("audio/x-ape", _AUDIO, "Monkey's Audio (APE)")
    if _at(h, 0, b"wvpk"):
        return MediaType("audio/x-wavpack", _AUDIO, "WavPack audio")
    if _at(h, 0, b"MPCK") or _at(h, 0, b"MP+"):
        return MediaType("audio/x-musepack", _AUDIO, "Musepack audio")
    if _at(h, 0, b"MThd\x00\x00\x00\x06"):
        return MediaType("audio/midi", _AUDIO, "Standard MIDI file")
    return None


def _sniff_id3(h: bytes) -> MediaType | None:
    if len(h) < 10:
        return None
    major, revision, flags = h[3], h[4], h[5]
    size_bytes = h[6:10]
    # ID3v2 sizes are "syncsafe" (7 bits per byte); a set high bit means this is not an ID3 tag.
    if major not in (2, 3, 4) or revision == 0xFF or any(b & 0x80 for b in size_bytes):
        return None
    tag_size = 10 + ((size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7) | size_bytes[3])
    if flags & 0x10:
        tag_size += 10  # footer present
    version = f"ID3v2.{major}"
    # The tag is just a prefix; the codec follows it (MP3 mostly, but FLAC and AAC also carry ID3v2).
    rest = h[tag_size:]
    if _at(rest, 0, b"fLaC"):
        return MediaType("audio/flac", _AUDIO, f"FLAC audio ({version} tag)")
    if _adts_frame_length(rest, 0) is not None:
        return MediaType("audio/aac", _AUDIO, f"AAC audio, ADTS ({version} tag)")
    return MediaType("audio/mpeg", _AUDIO, f"MP3 audio ({version} tag)")


# --- 5. Ogg, Matroska/WebM, FLV, ASF, MPEG-PS, DV -----------------------------------------------------------

_OGG_CODECS: tuple[tuple[bytes, ExhibitKind, str], ...] = (
    (b"\x01vorbis", _AUDIO, "Vorbis"),
    (b"OpusHead", _AUDIO, "Opus"),
    (b"\x7fFLAC", _AUDIO, "FLAC"),
    (b"Speex   ", _AUDIO, "Speex"),
    (b"\x01audio\x00\x00\x00", _AUDIO, "OGM audio"),
    (b"\x80theora", _BWV, "Theora"),
    (b"BBCD\x00", _BWV, "Dirac"),
    (b"OVP80", _BWV, "VP8"),
    (b"\x01video\x00\x00\x00", _BWV, "OGM video"),
)


def _sniff_ogg(h: bytes) -> MediaType | None:
    if not _at(h, 0, b"OggS\x00"):
        return None
    found: list[tuple[ExhibitKind, str]] = []
    pos = 0
    # The first page of every logical stream (flag 0x02, "beginning of stream") comes before any data page
    # and carries the codec identification packet; walk those pages only.
    while pos + 27 <= len(h) and _at(h, pos, b"OggS"):
        header_type = h[pos + 5]
        n_segments = h[pos + 26]
        seg_table = h[pos + 27 : pos + 27 + n_segments]
        if len(seg_table) < n_segments:
            break
        packet = pos + 27 + n_segments
        if not header_type & 0x02:
            break
        for magic, kind, codec in _OGG_CODECS:
            if _at(h, packet, magic):
                found.append((kind, codec))
                break
        pos = packet + sum(seg_table)
    codecs_seen = ", ".join(codec for _kind, codec in found)
    if any(kind == _BWV for kind, _codec in found):
        return MediaType("video/ogg", _BWV, f"Ogg video ({codecs_seen})")
    if found:
        return MediaType("audio/ogg", _AUDIO, f"Ogg audio ({codecs_seen})")
    return MediaType("application/ogg", _OTHER, "Ogg container (codec not recognised)")


_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_MKV_SEGMENT = 0x18538067
_MKV_TRACKS = 0x1654AE6B
_MKV_TRACK_ENTRY = 0xAE
_MKV_TRACK_TYPE = 0x83
_MKV_VIDEO = 0xE0
_MKV_AUDIO = 0xE1
_EBML_DOCTYPE = 0x4282
_MKV_TRACK_TYPES = {1: "video", 2: "audio", 0x11: "subtitle"}


def _ebml_vint(h: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int, bool] | None:
    """Read an EBML variable-length integer: ``(value, length, all_ones)`` or ``None`` if truncated/bad."""
    if pos >= len(h) or h[pos] == 0:
        return None
    first = h[pos]
    length = 8 - first.bit_length() + 1
    if length > 8 or pos + length > len(h):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for b in h[pos + 1 : pos + length]:
        value = (value << 8) | b
    data_bits = 7 * length
    all_ones = not keep_marker and value == (1 << data_bits) - 1
    return value, length, all_ones


def _iter_ebml(h: bytes, start: int, end: int) -> Iterator[tuple[int, int, int | None]]:
    """Yield ``(id, payload_start, payload_end)`` for EBML elements in ``h[start:end]``.

    ``payload_end`` is ``None`` for unknown-size elements (live streams); it may lie beyond the head.
    """
    pos = start
    while pos < end:
        ident = _ebml_vint(h, pos, keep_marker=True)
        if ident is None or ident[1] > 4:
            return
        size = _ebml_vint(h, pos + ident[1], keep_marker=False)
        if size is None:
            return
        payload = pos + ident[1] + size[1]
        if size[2]:
            yield ident[0], payload, None
            return  # an unknown-size element runs to its parent's end; nothing after it can be located
        yield ident[0], payload, payload + size[0]
        pos = payload + size[0]


def _matroska_track_kinds(h: bytes, body_start: int) -> set[str] | None:
    """Track kinds ('video', 'audio', ...) if the whole Tracks element is in the head, else ``None``."""
    for ident, payload, end in _iter_ebml(h, body_start, len(h)):
        if ident == _MKV_SEGMENT:
            # The Segment may have an unknown size (live WebM); then it simply runs to the end of the head.
            return _segment_track_kinds(h, payload, len(h) if end is None else min(end, len(h)))
    return None


def _segment_track_kinds(h: bytes, seg_start: int, seg_end: int) -> set[str] | None:
    for ident, payload, end in _iter_ebml(h, seg_start, seg_end):
        if ident != _MKV_TRACKS:
            continue
        if end is None or end > len(h):
            return None
        kinds: set[str] = set()
        for entry, epayload, eend in _iter_ebml(h, payload, end):
            if entry != _MKV_TRACK_ENTRY or eend is None:
                continue
            kind = "other"
            for field, fpayload, fend in _iter_ebml(h, epayload, eend):
                if field == _MKV_TRACK_TYPE and fend is not None:
                    kind = _MKV_TRACK_TYPES.get(int.from_bytes(h[fpayload:fend], "big"), "other")
                    break
                # TrackType is mandatory; where it is missing, Video/Audio settings elements say the same.
                if field == _MKV_VIDEO:
                    kind = "video"
                elif field == _MKV_AUDIO and kind == "other":
                    kind = "audio"
            kinds.add(kind)
        return kinds
    return None


def _sniff_matroska(h: bytes) -> MediaType | None:
    if not _at(h, 0, _EBML_MAGIC):
        return None
    doctype: str | None = None
    body_start = len(h)
    for ident, payload, end in _iter_ebml(h, 0, len(h)):
        if ident == int.from_bytes(_EBML_MAGIC, "big"):
            header_end = len(h) if end is None else min(end, len(h))
            for field, fpayload, fend in _iter_ebml(h, payload, header_end):
                if field == _EBML_DOCTYPE and fend is not None:
                    doctype = h[fpayload:fend].rstrip(b"\x00").decode("ascii", "replace")
            body_start = header_end
        break
    if doctype not in (None, "matroska", "webm"):
        return MediaType("application/x-ebml", _OTHER, f"EBML document (doctype {doctype})")
    webm = doctype == "webm"
    kinds = _matroska_track_kinds(h, body_start)
    container = "WebM" if webm else "Matroska"
    if kinds is not None and "audio" in kinds and "video" not in kinds:
        mime = "audio/webm" if webm else "audio/x-matroska"
        return MediaType(mime, _AUDIO, f"{container} audio (no video track)")
    mime = "video/webm" if webm else "video/x-matroska"
    if kinds is None:
        detail = " (tracks not visible in head)"
    elif "video" in kinds:
        detail = ""
    else:
        # Subtitle-only or empty track lists: still a movie container, and "video" errs on the safe side.
        detail = f" (no video track; tracks: {', '.join(sorted(kinds)) or 'none'})"
    return MediaType(mime, _BWV, f"{container} video{detail}")


_ASF_HEADER_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_VIDEO_MEDIA = bytes.fromhex("c0ef19bc4d5bcf11a8fd00805f5c442b")
_ASF_AUDIO_MEDIA = bytes.fromhex("409e69f84d5bcf11a8fd00805f5c442b")


def _sniff_container_video(h: bytes) -> MediaType | None:
    if _at(h, 0, b"FLV\x01"):
        return MediaType("video/x-flv", _BWV, "Flash video (FLV)")
    if _at(h, 0, _ASF_HEADER_GUID):
        header_size = _u64le(h, 16)
        if header_size is not None and header_size <= len(h):
            header = h[:header_size]
            if _ASF_AUDIO_MEDIA in header and _ASF_VIDEO_MEDIA not in header:
                return MediaType("audio/x-ms-wma", _AUDIO, "Windows Media audio (ASF, no video stream)")
        return MediaType("video/x-ms-asf", _BWV, "Windows Media video (ASF/WMV)")
    if _at(h, 0, b"\x00\x00\x01\xba"):
        version = "MPEG-2" if len(h) > 4 and h[4] & 0xC0 == 0x40 else "MPEG-1"
        return MediaType("video/mpeg", _BWV, f"MPEG program stream ({version})")
    if _at(h, 0, b"\x00\x00\x01\xb3"):
        return MediaType("video/mpeg", _BWV, "MPEG video elementary stream")
    # DV: a DIF sequence starts with a header block (section type 0, 0x1F), DIF sequence 0, channel 0; byte 3
    # carries the 50/60 Hz flag in its top bit and reserved ones below.
    if _at(h, 0, b"\x1f\x07\x00") and len(h) > 3 and h[3] & 0x3F == 0x3F:
        system = "PAL/625-50" if h[3] & 0x80 else "NTSC/525-60"
        return MediaType("video/dv", _BWV, f"DV video (DIF, {system})")
    return None


# --- 6. documents and archives ------------------------------------------------------------------------------

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE2_STREAMS: tuple[tuple[str, str, str], ...] = (
    ("WordDocument", "application/msword", "Microsoft Word 97-2003 document (OLE2)"),
    ("Workbook", "application/vnd.ms-excel", "Microsoft Excel 97-2003 workbook (OLE2)"),
    ("Book", "application/vnd.ms-excel", "Microsoft Excel 5/95 workbook (OLE2)"),
    ("PowerPoint Document", "application/vnd.ms-powerpoint", "Microsoft PowerPoint 97-2003 (OLE2)"),
    ("__substg1.0_", "application/vnd.ms-outlook", "Microsoft Outlook message (.msg, OLE2)"),
)


def _sniff_ole2(h: bytes) -> MediaType:
    for name, mime, label in _OLE2_STREAMS:
        # Directory entry names are UTF-16LE; match the name followed by its NUL terminator where it is whole.
        encoded = name.encode("utf-16-le")
        needle = encoded if name.endswith("_") else encoded + b"\x00\x00"
        if needle in h:
            return MediaType(mime, _DOC, label)
    return MediaType("application/x-ole-storage", _DOC, "OLE2 compound document (type not visible in head)")


def _zip_members(h: bytes, limit: int = 256) -> list[tuple[str, int, int]]:
    """``(name, data_start, compressed_size)`` of the ZIP local file headers visible in the head."""
    members: list[tuple[str, int, int]] = []
    pos = h.find(b"PK\x03\x04")
    while pos != -1 and len(members) < limit:
        name_len = _u16le(h, pos + 26)
        extra_len = _u16le(h, pos + 28)
        comp_size = _u32le(h, pos + 18)
        if name_len is None or extra_len is None or comp_size is None:
            break
        name = h[pos + 30 : pos + 30 + name_len].decode("utf-8", "replace")
        data_start = pos + 30 + name_len + extra_len
        members.append((name, data_start, comp_size))
        pos = h.find(b"PK\x03\x04", pos + 30)
    return members


def _sniff_zip(h: bytes) -> MediaType | None:
    if not (_at(h, 0, b"PK\x03\x04") or _at(h, 0, b"PK\x05\x06") or _at(h, 0, b"PK\x07\x08PK\x03\x04")):
        return None
    members = _zip_members(h)
    names = [name for name, _start, _size in members]
    if members and members[0][0] == "mimetype":
        _name, start, size = members[0]
        declared = h[start : start + min(size, 100)].decode("ascii", "replace")
        if declared.startswith("application/vnd.oasis.opendocument."):
            return MediaType(declared, _DOC, "OpenDocument file (ODF, ZIP)")
        if declared == "application/epub+zip":
            return MediaType(declared, _DOC, "EPUB e-book (ZIP)")
    ooxml = (
        ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word document"),
        ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel workbook"),
        ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "PowerPoint"),
        ("visio/", "application/vnd.ms-visio.drawing", "Visio drawing"),
    )
    for prefix, mime, label in ooxml:
        if any(name.startswith(prefix) for name in names):
            return MediaType(mime, _DOC, f"{label} (Office Open XML, ZIP)")
    if "[Content_Types].xml" in names:
        return MediaType("application/zip", _DOC, "Office Open XML package (part names not visible in head)")
    if "AndroidManifest.xml" in names:
        return MediaType("application/vnd.android.package-archive", _OTHER, "Android package (APK, ZIP)")
    if "META-INF/MANIFEST.MF" in names:
        return MediaType("application/java-archive", _OTHER, "Java archive (JAR, ZIP)")
    return MediaType("application/zip", _OTHER, "ZIP archive")


def _sniff_document_or_archive(h: bytes) -> MediaType | None:
    # Acrobat accepts %PDF- anywhere in the first KiB, and real files (mail exports, scanners) rely on it.
    pdf_at = h.find(b"%PDF-", 0, 1024 + 5)
    if pdf_at != -1:
        version = h[pdf_at + 5 : pdf_at + 8].decode("ascii", "replace")
        return MediaType("application/pdf", _DOC, f"PDF document (version {version})")
    if _at(h, 0, b"{\\rtf"):
        return MediaType("application/rtf", _DOC, "Rich Text Format document")
    if _at(h, 0, _OLE2_MAGIC):
        return _sniff_ole2(h)
    zipped = _sniff_zip(h)
    if zipped is not None:
        return zipped
    if _at(h, 0, b"\x1f\x8b\x08"):
        return MediaType("application/gzip", _OTHER, "gzip compressed data")
    if _at(h, 0, b"7z\xbc\xaf\x27\x1c"):
        return MediaType("application/x-7z-compressed", _OTHER, "7-Zip archive")
    if _at(h, 0, b"\xfd7zXZ\x00"):
        return MediaType("application/x-xz", _OTHER, "xz compressed data")
    bzip2_block = _at(h, 4, b"1AY&SY") or _at(h, 4, b"\x17rE8P\x90")  # first block, or end of empty stream
    if _at(h, 0, b"BZh") and len(h) >= 10 and 0x31 <= h[3] <= 0x39 and bzip2_block:
        return MediaType("application/x-bzip2", _OTHER, "bzip2 compressed data")
    if _at(h, 0, b"Rar!\x1a\x07\x00") or _at(h, 0, b"Rar!\x1a\x07\x01\x00"):
        return MediaType("application/vnd.rar", _OTHER, "RAR archive")
    if _at(h, 0, b"\x28\xb5\x2f\xfd"):
        return MediaType("application/zstd", _OTHER, "Zstandard compressed data")
    if _at(h, 0, b"\x04\x22\x4d\x18"):
        return MediaType("application/x-lz4", _OTHER, "LZ4 compressed data")
    if _at(h, 0, b"SQLite format 3\x00"):
        return MediaType("application/vnd.sqlite3", _OTHER, "SQLite 3 database")
    if _at(h, 0, b"\x7fELF"):
        return MediaType("application/x-executable", _OTHER, "ELF executable")
    pe_offset = _u32le(h, 0x3C)
    if _at(h, 0, b"MZ") and pe_offset is not None and _at(h, pe_offset, b"PE\x00\x00"):
        return MediaType("application/vnd.microsoft.portable-executable", _OTHER, "Windows PE executable")
    return None


def _sniff_tar(h: bytes) -> MediaType | None:
    if _at(h, 257, b"ustar\x0000") or _at(h, 257, b"ustar  \x00"):
        return MediaType("application/x-tar", _OTHER, "tar archive")
    return None


# --- 7. MPEG transport streams ------------------------------------------------------------------------------


def _sniff_mpeg_ts(h: bytes) -> MediaType | None:
    # (packet size, offset of the sync byte inside the packet, label). M2TS/AVCHD prefixes a 4-byte timestamp.
    layouts = (
        (188, 0, "MPEG transport stream"),
        (192, 4, "MPEG-2 transport stream, M2TS/AVCHD (192-byte packets)"),
        (204, 0, "MPEG transport stream (204-byte packets)"),
    )
    for packet, offset, label in layouts:
        positions = range(offset, len(h), packet)
        checked = positions[:16]
        # Three aligned sync bytes are a coincidence at odds of ~1 in 16 million; require at least that many.
        synced = len(checked) >= 3 and all(h[p] == 0x47 for p in checked)
        # A run of 'G's is not a transport stream: packet headers must differ from the sync byte somewhere.
        if synced and any(h[p + 1] != 0x47 for p in checked if p + 1 < len(h)):
            return MediaType("video/mp2t", _BWV, label)
    return None


# --- 8. raw disk and volume images --------------------------------------------------------------------------


def _raw(description: str) -> MediaType:
    return MediaType(MIME_RAW_DISK, _DEVICE, description)


def _fat_boot_sector(h: bytes) -> str | None:
    """Return "FAT12"/"FAT16"/"FAT32"/"FAT" if ``h`` starts with a plausible FAT boot sector."""
    if len(h) < 512:
        return None
    jump_ok = (h[0] == 0xEB and h[2] == 0x90) or h[0] == 0xE9
    bytes_per_sector = _u16le(h, 11)
    sectors_per_cluster = h[13]
    reserved = _u16le(h, 14)
    n_fats = h[16]
    media = h[21]
    bpb_ok = (
        bytes_per_sector in (512, 1024, 2048, 4096)
        and sectors_per_cluster in (1, 2, 4, 8, 16, 32, 64, 128)
        and reserved is not None
        and reserved >= 1
        and n_fats in (1, 2)
        and (media == 0xF0 or media >= 0xF8)
    )
    if not bpb_ok:
        return None
    if _at(h, 82, b"FAT32"):
        return "FAT32"
    for label in (b"FAT12", b"FAT16"):
        if _at(h, 54, label):
            return label.decode()
    if _at(h, 54, b"FAT     "):
        return "FAT"
    # Old boot sectors (DOS 2/3) have no type string; then insist on a jump and the boot signature.
    if jump_ok and _at(h, 510, b"\x55\xaa"):
        return "FAT"
    return None


def _mbr_partitions(h: bytes) -> list[int] | None:
    """Partition type bytes of a plausible MBR partition table, or ``None`` if it is not one."""
    if not _at(h, 510, b"\x55\xaa"):
        return None
    types: list[int] = []
    for i in range(4):
        entry = h[446 + 16 * i : 446 + 16 * (i + 1)]
        status, ptype = entry[0], entry[4]
        if status not in (0x00, 0x80):
            return None
        if ptype == 0:
            if any(entry[8:16]):
                return None  # an empty slot with a start/length is garbage, not a partition table
            continue
        start = int.from_bytes(entry[8:12], "little")
        count = int.from_bytes(entry[12:16], "little")
        if start == 0 or count == 0:
            return None
        types.append(ptype)
    return types or None


def _ext_filesystem(h: bytes) -> str | None:
    sb = 1024
    if _u16le(h, sb + 56) != 0xEF53:
        return None
    inodes = _u32le(h, sb + 0)
    blocks = _u32le(h, sb + 4)
    log_block_size = _u32le(h, sb + 24)
    inodes_per_group = _u32le(h, sb + 40)
    rev_level = _u32le(h, sb + 76)
    if not (inodes and blocks and inodes_per_group and log_block_size is not None and log_block_size <= 6):
        return None
    if rev_level not in (0, 1):
        return None
    compat = _u32le(h, sb + 92) or 0
    incompat = _u32le(h, sb + 96) or 0
    if incompat & 0x8:
        return "ext3/4 external journal"
    if incompat & (0x40 | 0x80 | 0x200):  # extents, 64bit, flex_bg
        return "ext4"
    if compat & 0x4:  # has_journal
        return "ext3"
    return "ext2"


def _sniff_disk_image(h: bytes) -> MediaType | None:
    if (_at(h, 512, b"EFI PART") and _at(h, 520, b"\x00\x00\x01\x00")) or (
        _at(h, 4096, b"EFI PART") and _at(h, 4104, b"\x00\x00\x01\x00")
    ):
        return _raw("disk image with GPT partition table")
    if _at(h, 3, b"NTFS    "):
        return _raw("NTFS volume image")
    if _at(h, 3, b"EXFAT   "):
        return _raw("exFAT volume image")
    if _at(h, 3, b"-FVE-FS-"):
        return _raw("BitLocker-encrypted volume image")
    if _at(h, 3, b"ReFS\x00\x00\x00\x00"):
        return _raw("ReFS volume image")
    fat = _fat_boot_sector(h)
    if fat is not None:
        return _raw(f"{fat} volume image" if fat != "FAT" else "FAT volume image")
    for offset in (32769, 34817, 36865):
        if _at(h, offset, b"CD001"):
            return _raw("ISO 9660 optical disc image")
    if _at(h, 32769, b"BEA01"):
        return _raw("UDF optical disc image")
    partitions = _mbr_partitions(h)
    if partitions is not None:
        if 0xEE in partitions:
            return _raw("disk image with protective MBR (GPT not visible)")
        return _raw(f"disk image with MBR partition table ({len(partitions)} partition(s))")
    ext = _ext_filesystem(h)
    if ext is not None:
        return _raw(f"{ext} filesystem image")
    if (_at(h, 1024, b"H+") and _u16be(h, 1026) == 4) or (_at(h, 1024, b"HX") and _u16be(h, 1026) == 5):
        return _raw("HFS+ volume image" if h[1025] == ord("+") else "HFSX volume image")
    if _at(h, 32, b"NXSB"):
        return _raw("APFS container image")
    if _at(h, 0, b"XFSB"):
        return _raw("XFS filesystem image")
    if _at(h, 0, b"LUKS\xba\xbe"):
        return _raw("LUKS-encrypted volume image")
    return None


# --- 9. bare MPEG audio and ADTS frames ---------------------------------------------------------------------

_MPA_BITRATES: dict[tuple[int, int], tuple[int, ...]] = {
    # (version_is_mpeg1, layer) -> kbps by index; index 0 (free format) and 15 (bad) are rejected.
    (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (0, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (0, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (0, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPA_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_audio_frame(h: bytes, pos: int) -> tuple[int, int] | None:
    """``(frame_length, layer)`` of a valid MPEG audio frame header at ``pos``, else ``None``."""
    if pos + 4 > len(h) or h[pos] != 0xFF or h[pos + 1] & 0xE0 != 0xE0:
        return None
    version_bits = (h[pos + 1] >> 3) & 3
    layer_bits = (h[pos + 1] >> 1) & 3
    bitrate_index = h[pos + 2] >> 4
    rate_index = (h[pos + 2] >> 2) & 3
    padding = (h[pos + 2] >> 1) & 1
    if version_bits == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    if h[pos + 3] & 3 == 2:  # reserved emphasis
        return None
    layer = 4 - layer_bits
    mpeg1 = 1 if version_bits == 3 else 0
    bitrate = _MPA_BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _MPA_SAMPLE_RATES[version_bits][rate_index]
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    elif layer == 3 and not mpeg1:
        length = 72 * bitrate // rate + padding
    else:
        length = 144 * bitrate // rate + padding
    return length, layer


def _adts_frame_length(h: bytes, pos: int) -> int | None:
    # ADTS shares the 12-bit sync with MPEG audio but its "layer" bits are 00, which MPEG audio reserves.
    if pos + 7 > len(h) or h[pos] != 0xFF or h[pos + 1] & 0xF6 != 0xF0:
        return None
    if (h[pos + 2] >> 2) & 0xF >= 13:  # sampling frequency index
        return None
    length = ((h[pos + 3] & 3) << 11) | (h[pos + 4] << 3) | (h[pos + 5] >> 5)
    return length if length >= 7 else None


def _sniff_audio_frames(h: bytes) -> MediaType | None:
    # One header is only 11-12 bits of evidence: require the next frame to start where this one says it ends.
    adts = _adts_frame_length(h, 0)
    if adts is not None and _adts_frame_length(h, adts) is not None:
        return MediaType("audio/aac", _AUDIO, "AAC audio (ADTS)")
    frame = _mpeg_audio_frame(h, 0)
    if frame is not None and _mpeg_audio_frame(h, frame[0]) is not None:
        layer = frame[1]
        label = "MP3 audio (no ID3 tag)" if layer == 3 else f"MPEG audio layer {'I' * layer}"
        return MediaType("audio/mpeg", _AUDIO, label)
    return None


# --- 10. text: whatever no signature claimed and has no control bytes ---------------------------------------

# Bytes that `file` treats as never appearing in text: C0 controls other than BEL BS HT LF VT FF CR ESC, DEL.
_NON_TEXT_BYTES = bytes([*range(0, 7), *range(14, 27), *range(28, 32), 127])


def _decode_text(h: bytes) -> tuple[str, str] | None:
    """``(text, encoding label)`` if the head reads as text, else ``None``."""
    if h.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16-le" if h[0] == 0xFF else "utf-16-be"
        try:
            text = codecs.getincrementaldecoder(codec)().decode(h[2:], final=False)
        except UnicodeDecodeError:
            return None
        if any(ch in text for ch in _NON_TEXT_BYTES.decode("latin-1")):
            return None
        return text, "UTF-16"
    if any(b in h for b in _NON_TEXT_BYTES):
        return None
    try:
        # final=False: the head may end in the middle of a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8")().decode(h, final=False)
        return text, "ASCII" if h.isascii() else "UTF-8"
    except UnicodeDecodeError:
        # No control bytes but not UTF-8: a legacy 8-bit encoding (Latin-1, Windows-1252).
        return h.decode("latin-1"), "8-bit, not UTF-8"


def _classify_text(h: bytes, text: str, encoding: str) -> MediaType:
    start = text.lstrip("\ufeff \t\r\n")
    lower = start[:1024].lower()
    if lower.startswith("<?xml"):
        if "<svg" in lower:
            return MediaType("image/svg+xml", _DOC, f"SVG drawing ({encoding} XML)")
        return MediaType("application/xml", _DOC, f"XML document ({encoding})")
    if lower.startswith(("<!doctype html", "<html")) or (lower.startswith("<") and "<html" in lower):
        return MediaType("text/html", _DOC, f"HTML document ({encoding})")
    if start.startswith(("{", "[")) and _looks_like_json(start, truncated=len(h) >= HEAD_BYTES):
        return MediaType("application/json", _DOC, f"JSON document ({encoding})")
    if start.startswith("%!PS"):
        return MediaType("application/postscript", _DOC, "PostScript document")
    return MediaType(MIME_TEXT, _DOC, f"plain text ({encoding})")


def _looks_like_json(text: str, *, truncated: bool) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        pass
    # A head cut out of a large JSON file cannot parse; accept an object that opens with a quoted key.
    return truncated and text.startswith("{") and text[1:].lstrip().startswith('"')


# --- the pipeline -------------------------------------------------------------------------------------------

# Signatures at offset 0, strongest first.
_SIGNATURES: tuple[_Sniffer, ...] = (
    _sniff_forensic_container,
    _sniff_virtual_disk,
    _sniff_image,
    _sniff_iso_bmff,
    _sniff_riff,
    _sniff_audio,
    _sniff_ogg,
    _sniff_matroska,
    _sniff_container_video,
    _sniff_document_or_archive,
)
# Structural heuristics: only for binary data that no signature claimed. Each of these formats has NUL or
# control bytes within its first few hundred bytes, so text never needs them, and keeping text away from
# them is what stops "G" every 188 bytes or "EFI PART" at 512 in a letter from becoming a video or a disk.
_HEURISTICS: tuple[_Sniffer, ...] = (
    _sniff_quicktime_without_ftyp,
    _sniff_tar,
    _sniff_mpeg_ts,
    _sniff_disk_image,
    _sniff_audio_frames,
)


def sniff(head: bytes) -> MediaType:
    """Identify content from its leading bytes.

    Pure: no I/O, never raises for any input. Give it at least :data:`HEAD_BYTES` bytes (or the whole file
    if shorter); fewer bytes can only make the answer less specific (for instance an ISO9660 image cut
    before byte 32774 is not recognised).

    Args:
        head: The first bytes of the file.

    Returns:
        The detected :class:`MediaType`; ``application/x-empty`` for no bytes and
        ``application/octet-stream`` (kind OTHER) when nothing matched.
    """
    h = bytes(head)
    if not h:
        return EMPTY
    for sniffer in _SIGNATURES:
        found = sniffer(h)
        if found is not None:
            return found
    decoded = _decode_text(h)
    if decoded is not None:
        return _classify_text(h, *decoded)
    for sniffer in _HEURISTICS:
        found = sniffer(h)
        if found is not None:
            return found
    return UNKNOWN


def read_head(path: str | os.PathLike[str], size: int = HEAD_BYTES) -> bytes:
    """Read up to ``size`` leading bytes of a file.

    Args:
        path: The file to read.
        size: How many bytes at most.

    Returns:
        The bytes read (fewer than ``size`` only if the file is shorter).

    Raises:
        MediaMissingError: The path does not exist.
        MediaUnreadableError: The path is a directory, a pipe or socket, or cannot be read.
    """
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            # Reading a pipe would consume (or wait for) someone else's data; only files and devices qualify.
            raise MediaUnreadableError(f"not a file or device: {os.fspath(path)!s}", path=os.fspath(path))
        with open(path, "rb") as fh:
            chunks: list[bytes] = []
            remaining = size
            # A single read may return short on pipes and some network filesystems; loop until EOF.
            while remaining > 0:
                chunk = fh.read(remaining)
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
    except FileNotFoundError as exc:
        raise MediaMissingError(f"no such file: {os.fspath(path)!s}", path=os.fspath(path)) from exc
    except IsADirectoryError as exc:
        message = f"is a directory, not a file: {os.fspath(path)!s}"
        raise MediaUnreadableError(message, path=os.fspath(path)) from exc
    except OSError as exc:
        raise MediaUnreadableError(
            f"cannot read {os.fspath(path)!s}: {exc.strerror or exc}", path=os.fspath(path)
        ) from exc


def detect_media_type(path: str | os.PathLike[str]) -> MediaType:
    """Identify a file from its content (never its name).

    Args:
        path: The file to examine; only its first :data:`HEAD_BYTES` bytes are read.

    Returns:
        The detected :class:`MediaType`.

    Raises:
        MediaMissingError: The path does not exist.
        MediaUnreadableError: The path is a directory, a pipe or socket, or cannot be read.
    """
    return sniff(read_head(path))


__all__ = [
    "EMPTY",
    "HEAD_BYTES",
    "MIME_EWF",
    "MIME_RAW_DISK",
    "UNKNOWN",
    "MediaType",
    "detect_media_type",
    "read_head",
    "sniff",
]
