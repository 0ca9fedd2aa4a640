"""`photo_metadata`: where, when and with what a photo was taken (EXIF via exifread), its text metadata beyond
EXIF, a perceptual hash, and whether its embedded thumbnail still shows the same picture.

Malformed EXIF must never hang or crash a run: exifread reads a bounded prefix of the file (EXIF sits in its
first megabytes), without maker-note parsing (where real files make readers loop), under a wall-clock cap
(`EXIF_TIMEOUT`, enforced by a watchdog that raises inside the parsing thread: no process per photo, no
SIGALRM, which the pipeline keeps for its step deadlines), and every tag that will not convert becomes a warning
instead of an exception. Pixels are decoded by Pillow (HEIC through pillow-heif), JPEG at reduced scale, within a
memory budget (`MAX_DECODE_BYTES`) estimated before anything is decoded.

The embedded EXIF thumbnail is a classic forensic indicator: cameras write it, and many editors rewrite the main
image but leave the camera's thumbnail alone. Its pHash is compared with the main image's (both upright);
`thumbnail_mismatch` says they show different pictures.

Outcomes: not my format (`NotImageError`: Pillow and exifread both find nothing), damaged but readable (a
record with warnings: unreadable tags, EXIF past its time cap, pixels that will not decode, a thumbnail that
will not decode), or a record.

`near_duplicates` finds pairs of pHashes within a Hamming distance, for a whole case at a time.
"""

from __future__ import annotations

import ctypes
import email.utils
import html
import io
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Generic, TypeVar

import exifread
import numpy as np
import PIL
from exifread.core.find_exif import determine_type
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from forensics.errors import (
    MediaMissingError,
    NotImageError,
    PhotoDamagedError,
    PhotoExifTimeoutError,
    PhotoTooLargeError,
)
from forensics.timestamps import GPS, TimeReading, read_time

try:  # HEIC/HEIF; without it such files read as not-an-image, with EXIF only
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_DECODER: str | None = f"pillow-heif {pillow_heif.__version__} (libheif {pillow_heif.libheif_version()})"
except ImportError:  # pragma: no cover - a dependency of the project
    HEIF_DECODER = None

# exifread logs "no EXIF" and tag-level complaints itself; those become warnings rows here instead.
logging.getLogger("exifread").setLevel(logging.CRITICAL)

EXIF_PREFIX_BYTES = 16 << 20  # HEIC keeps EXIF after its boxes; JPEG within the first 64 KiB
EXIF_TIMEOUT = 5.0  # seconds; exifread takes 0.1-2 ms on the real samples, 130 ms on the slowest (crash01.jpg)
# What decoding and reducing a picture may allocate, estimated before it starts (`decode_cost`, which errs high).
# With the interpreter and libraries (~45 MB standalone) a photo analyser then peaks under 500 MB RSS whatever
# the input: measured 12000x9000 progressive JPEG 385 MB, 48 MP HEIC 388 MB (both allowed: a 48 MP iPhone photo
# is evidence), 12000x9000 baseline JPEG 110 MB (decoded at 1/4). A host process that starts bigger (a Dagster
# step) passes a smaller `max_decode_bytes`.
MAX_DECODE_BYTES = 400 << 20
PHASH_SIDE = 256  # pixels are hashed from at most this (the hash itself looks at 32x32)
# The thumbnail and the main image are "the same picture" up to this many differing pHash bits. Measured on the
# 41 real samples with a thumbnail: 38 within 0-6 bits, 10 for a photo whose lower part is corrupted; a cropped
# edit that kept the camera's thumbnail differs by 24, a 1x1 stub main image by 31. Unrelated photos of the
# samples differ by 31 +- 5 bits (4,095 pairs). 12 leaves room for thumbnail noise (a 160x120 JPEG against a
# reduced decode) while an unrelated picture all but never comes that close (binomial model: P <= 12 ~ 2e-7).
THUMBNAIL_MISMATCH_BITS = 12
NEAR_DUPLICATE_BITS = 10  # default radius for near_duplicates: resized, recompressed or slightly shifted copies
TOOL = f"exifread {exifread.__version__}; Pillow {PIL.__version__}" + (f"; {HEIF_DECODER}" if HEIF_DECODER else "")

_MAX_TEXT_VALUE = 2000  # characters; a tag is metadata, not a payload
_MAX_TEXT_KEY = 200
_MAX_TEXT_TAGS = 200  # a PNG may carry thousands of text chunks
_MAX_XMP_BYTES = 1 << 20  # an XMP packet is searched in its first MiB (embedded previews make them long)
_MAX_THUMBNAIL_BYTES = 1 << 20  # an uncompressed EXIF thumbnail (160x120 RGB is 57 KB)
# Software tags that say an image went through an editor (not just a camera's or phone's firmware).
_EDITORS = re.compile(
    r"photoshop|gimp|lightroom|snapseed|paint\.net|painttool|affinity|pixelmator|picasa|acdsee|photoscape|"
    r"canva|facetune|fotor|luminar|capture one|darktable|rawtherapee|paint shop|corel",
    re.I,
)


@dataclass(frozen=True, slots=True)
class PhotoWarning:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class GpsFix:
    latitude: float
    longitude: float
    altitude: float | None
    direction: float | None  # degrees, the way the camera faced
    time: TimeReading | None  # GPSDate + GPSTimeStamp, UTC by definition

    def __post_init__(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValueError(f"not a position on Earth: {self.latitude}, {self.longitude}")


@dataclass(frozen=True, slots=True)
class PhotoMetadata:
    image_format: str | None
    width: int | None
    height: int | None
    make: str | None
    model: str | None
    serial: str | None
    software: str | None  # EXIF/TIFF Software, else PNG Software, else XMP CreatorTool
    edited: bool  # a software tag (EXIF, PNG, XMP CreatorTool or XMP history) names an image editor
    taken: TimeReading | None  # EXIF DateTimeOriginal (+ OffsetTimeOriginal), ..., XMP CreateDate, PNG Creation Time
    gps: GpsFix | None
    orientation: int | None  # EXIF 1-8
    has_thumbnail: bool
    phash: str | None  # 64-bit DCT perceptual hash of the upright image, hex; near-duplicates differ in few bits
    tag_count: int
    thumbnail_phash: str | None = None  # pHash of the embedded EXIF thumbnail, upright (None: none, or undecodable)
    thumbnail_distance: int | None = None  # Hamming distance of the two pHashes (None: not compared)
    thumbnail_mismatch: bool = False  # the thumbnail shows another picture (distance > THUMBNAIL_MISMATCH_BITS)
    has_xmp: bool = False
    text_tags: tuple[tuple[str, str], ...] = ()  # text metadata beyond EXIF: (namespace:key, value), sorted, capped
    tool: str = TOOL
    warnings: tuple[PhotoWarning, ...] = field(default=())

    def to_row(self) -> dict[str, Any]:
        gps, taken = self.gps, self.taken
        return {
            "image_format": self.image_format,
            "width": self.width,
            "height": self.height,
            "make": self.make,
            "model": self.model,
            "serial": self.serial,
            "software": self.software,
            "edited": self.edited,
            "taken_utc": taken.utc if taken else None,
            "taken_local": taken.local if taken else None,
            "taken_source": taken.source if taken else None,
            "taken_reliability": taken.reliability if taken else None,
            "latitude": gps.latitude if gps else None,
            "longitude": gps.longitude if gps else None,
            "altitude_m": gps.altitude if gps else None,
            "direction_deg": gps.direction if gps else None,
            "gps_time_utc": gps.time.utc if gps and gps.time else None,
            "orientation": self.orientation,
            "has_thumbnail": self.has_thumbnail,
            "phash": self.phash,
            "tag_count": self.tag_count,
            "thumbnail_phash": self.thumbnail_phash,
            "thumbnail_distance": self.thumbnail_distance,
            "thumbnail_mismatch": self.thumbnail_mismatch,
            "has_xmp": self.has_xmp,
            "text_tags": list(self.text_tags),
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "tool": self.tool,
        }


# -- exifread under a wall-clock cap ------------------------------------------------------------------------

T = TypeVar("T")


class _Deadline(BaseException):
    """Raised inside the parsing thread by the watchdog. A BaseException, so that `except Exception` handlers
    in the parser (exifread has them around tags it cannot read) do not swallow it."""


# Private prototypes of the one C-API call, so that no global `ctypes.pythonapi` attribute is reconfigured for
# other code: one passes an exception class, the other NULL (which clears a pending one). PYFUNCTYPE keeps the
# GIL held during the call, as the C API requires.
_set_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_clear_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


def call_with_deadline(function: Callable[[], T], seconds: float, what: str = "exifread") -> T:
    """Runs `function()` in the calling thread, stopping it after `seconds` of wall-clock time.

    A `threading.Timer` raises an exception asynchronously in the calling thread
    (`PyThreadState_SetAsyncExc`), which interrupts pure-Python loops such as exifread's at the next bytecode;
    it cannot interrupt a long call into C. Works from any thread (Dagster may run steps in threads) and uses
    no signal. A lock and a state flag make sure the exception can only be raised while `function` runs: once
    it returns, a late timer does nothing, and an exception set just as it returned is cleared before this
    returns. The one hazard left is that of every asynchronous exception: it may land inside library code
    between acquiring and releasing something (a `with` block releases, a bare acquire/release pair would not).

    Raises:
        PhotoExifTimeoutError: `function` did not finish within `seconds`.
    """
    target = threading.get_ident()
    lock = threading.Lock()
    state = ["running"]

    def fire() -> None:
        with lock:
            if state[0] == "running":
                state[0] = "fired"
                _set_async_exc(target, _Deadline)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    try:
        timer.start()
        try:
            return function()
        finally:
            timer.cancel()
            with lock:
                fired = state[0] == "fired"
                state[0] = "done"
            if fired:  # set, but perhaps not yet delivered: drop it so it cannot hit the caller's next line
                _clear_async_exc(target, None)
    except _Deadline:
        raise PhotoExifTimeoutError(f"{what} did not finish within {seconds:g} s", tool=what) from None


def _read_exif(prefix: bytes, timeout: float) -> dict[str, Any]:
    return call_with_deadline(
        lambda: dict(exifread.process_file(io.BytesIO(prefix), details=False, strict=False)), timeout
    )


# -- tags ---------------------------------------------------------------------------------------------------


def _text(tags: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        tag = tags.get(key)
        if tag is None:
            continue
        value = str(tag.printable if hasattr(tag, "printable") else tag).strip().strip("\x00").strip()
        if value:
            return value[:500]
    return None


def _ratio(value: Any) -> float:
    fraction = Fraction(int(value.num), int(value.den)) if hasattr(value, "num") else Fraction(str(value))
    return float(fraction)


def _dms(tag: Any) -> float:
    parts = [_ratio(v) for v in tag.values]
    if len(parts) != 3:
        raise ValueError(f"{len(parts)} parts where degrees, minutes, seconds were expected")
    return parts[0] + parts[1] / 60 + parts[2] / 3600


def _gps(tags: dict[str, Any], warnings: list[PhotoWarning]) -> GpsFix | None:
    if "GPS GPSLatitude" not in tags or "GPS GPSLongitude" not in tags:
        return None
    try:
        latitude = _dms(tags["GPS GPSLatitude"])
        longitude = _dms(tags["GPS GPSLongitude"])
        if (_text(tags, "GPS GPSLatitudeRef") or "N").upper().startswith("S"):
            latitude = -latitude
        if (_text(tags, "GPS GPSLongitudeRef") or "E").upper().startswith("W"):
            longitude = -longitude
        altitude = None
        if "GPS GPSAltitude" in tags:
            altitude = _ratio(tags["GPS GPSAltitude"].values[0])
            if _text(tags, "GPS GPSAltitudeRef") == "1":
                altitude = -altitude
        direction = _ratio(tags["GPS GPSImgDirection"].values[0]) if "GPS GPSImgDirection" in tags else None
        fix_time = None
        date, stamp = _text(tags, "GPS GPSDate"), tags.get("GPS GPSTimeStamp")
        if date and stamp is not None:
            h, m, s = (_ratio(v) for v in stamp.values)
            fix_time = read_time(
                f"{date} {int(h):02d}:{int(m):02d}:{int(s):02d}", "EXIF GPSDate+GPSTimeStamp", "Z", GPS
            )
        if latitude == 0 and longitude == 0:
            warnings.append(PhotoWarning("EX-PHOTO-GPS-ZERO", "GPS position 0,0: a receiver without a fix"))
            return None
        return GpsFix(round(latitude, 7), round(longitude, 7), altitude, direction, fix_time)
    except (ValueError, ZeroDivisionError, AttributeError, IndexError, TypeError) as exc:
        warnings.append(PhotoWarning("EX-PHOTO-BAD-GPS", f"GPS tags present but unreadable: {exc}"))
        return None


def _orientation(tags: dict[str, Any]) -> int | None:
    tag = tags.get("Image Orientation")
    try:
        value = int(tag.values[0]) if tag is not None else None
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return value if value is not None and 1 <= value <= 8 else None


# IFD0 tags that carry free text (TIFF's own, and Windows Explorer's XP* tags in UCS-2), and two from the EXIF IFD.
_IFD0_TEXT = ("ImageDescription", "Artist", "Copyright", "Software", "DateTime", "HostComputer", "DocumentName",
              "XPTitle", "XPComment", "XPAuthor", "XPKeywords", "XPSubject")  # fmt: skip
_EXIF_TEXT = ("UserComment", "ImageUniqueID")
_XP_TAGS = range(0x9C9B, 0x9CA0)


def _tag_text(tag: Any) -> str | None:
    values = getattr(tag, "values", None)
    if getattr(tag, "tag", None) in _XP_TAGS and isinstance(values, list):
        # Windows Explorer's XP* tags are UTF-16LE bytes, which exifread prints as a list of numbers
        text = bytes(int(v) & 0xFF for v in values).decode("utf-16-le", "replace")
    else:
        text = str(getattr(tag, "printable", tag))
    text = text.replace("\x00", "").strip()
    return text or None


def _exif_text(tags: dict[str, Any], namespace: str) -> dict[str, str]:
    """IFD0's free-text tags (named after the container: `TIFF:Artist` in a TIFF, `EXIF:Artist` elsewhere)."""
    wanted = [(f"Image {name}", f"{namespace}:{name}") for name in _IFD0_TEXT]
    wanted += [(f"EXIF {name}", f"EXIF:{name}") for name in _EXIF_TEXT]
    found = {}
    for key, name in wanted:
        if key not in tags:
            continue
        try:
            value = _tag_text(tags[key])
        except (ValueError, TypeError, AttributeError):
            continue
        if value:
            found[name] = value
    return found


# -- XMP ----------------------------------------------------------------------------------------------------

# Simple properties worth a row: dates, the creating tool, and the document IDs that link an edit to its
# original. Searched with bounded patterns over the packet (no XML parser: packets in the wild are often
# malformed, and a regex with bounded repeats cannot blow up).
_XMP_SIMPLE = ("xmp:CreateDate", "xmp:ModifyDate", "xmp:MetadataDate", "xmp:CreatorTool", "photoshop:DateCreated",
               "exif:DateTimeOriginal", "xmpMM:DocumentID", "xmpMM:OriginalDocumentID")  # fmt: skip
_XMP_LISTS = ("dc:creator", "dc:rights", "dc:description", "dc:title")
_XMP_START = re.compile(rb"<x:x[am]pmeta")
_XMP_END = re.compile(rb"</x:x[am]pmeta>")


def _find_xmp(data: bytes) -> bytes | None:
    """The first XMP packet in raw bytes (JPEG APP1, TIFF tag 700, HEIF item, PNG iTXt when not compressed)."""
    start = _XMP_START.search(data)
    if not start:
        return None
    end = _XMP_END.search(data, start.start(), start.start() + _MAX_XMP_BYTES)
    return data[start.start() : end.end() if end else start.start() + _MAX_XMP_BYTES]


def _xmp_fields(packet: bytes) -> dict[str, str]:
    text = packet[:_MAX_XMP_BYTES].decode("utf-8", "replace")
    found: dict[str, str] = {}
    for name in _XMP_SIMPLE:
        quoted = re.escape(name)
        match = re.search(rf"{quoted}\s*=\s*\"([^\"]{{0,{_MAX_TEXT_VALUE}}})\"", text) or re.search(
            rf"<{quoted}>([^<]{{0,{_MAX_TEXT_VALUE}}})</{quoted}>", text
        )
        if match and match[1].strip():
            found[f"XMP:{name}"] = html.unescape(match[1].strip())
    for name in _XMP_LISTS:
        quoted = re.escape(name)
        match = re.search(
            rf"<{quoted}>\s*<rdf:(?:Alt|Seq|Bag)>\s*<rdf:li[^>]{{0,200}}>([^<]{{0,{_MAX_TEXT_VALUE}}})</rdf:li>", text
        )
        if match and match[1].strip():
            found[f"XMP:{name}"] = html.unescape(match[1].strip())
    # The editing history: every application that saved the file, in order (Photoshop, Lightroom, ...).
    agents = re.findall(r"stEvt:softwareAgent\s*=\s*\"([^\"]{0,300})\"", text)
    agents += re.findall(r"<stEvt:softwareAgent>([^<]{0,300})</stEvt:softwareAgent>", text)
    unique = list(dict.fromkeys(html.unescape(a.strip()) for a in agents if a.strip()))
    if unique:
        found["XMP:xmpMM:History/stEvt:softwareAgent"] = "; ".join(unique)
    return found


# -- times beyond EXIF --------------------------------------------------------------------------------------

_XMP_MINUTES = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})?$")


def _xmp_time(value: str | None, source: str) -> TimeReading | None:
    """XMP dates are ISO 8601 of any precision; a reading needs seconds (a date alone is no time)."""
    if not value:
        return None
    value = value.strip()
    minutes = _XMP_MINUTES.match(value)
    if minutes:
        value = f"{minutes[1]}:00{minutes[2] or ''}"
    return read_time(value, source)


def _png_time(value: str | None, source: str) -> TimeReading | None:
    """PNG's `Creation Time` is free text; the spec suggests RFC 1123 (`Sat, 12 Jan 2013 10:00:00 GMT`), tools
    also write ISO 8601 or EXIF style."""
    if not value:
        return None
    reading = read_time(value, source) or _xmp_time(value, source)
    if reading:
        return reading
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return read_time(moment.isoformat(), source)


# -- decoding within a memory budget ------------------------------------------------------------------------

# Orientation 1-8 -> the transposition that makes the image upright: the table of ImageOps.exif_transpose,
# applied here to the reduced image rather than the full decode (a full-size transposed copy is what would
# break the memory budget).
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Bytes per pixel a decoder holds beyond Pillow's own pixels, for the formats that cannot stream rows into them.
_DECODER_EXTRA: dict[str, float] = {
    "HEIF": 3.5,  # libheif's RGB (and planes), copied into Pillow's: 48 MP measured 343 MB over the interpreter
    "AVIF": 3.5,
    "WEBP": 4,  # libwebp decodes the whole frame into its own buffer first
    "JPEG2000": 12,  # OpenJPEG keeps an int32 per sample
    "PNG": 0,  # zlib streams rows into the image
    "GIF": 0,
    "BMP": 0,
    "PPM": 0,
    "JPEG": 0,  # but see the progressive coefficient buffer
    "MPO": 0,
    "TIFF": 0,  # but see the strip or tile buffer
}
_UNKNOWN_DECODER_EXTRA = 8
# The formats a photo comes in. Pillow knows forty more, some of which hand the file to other programs (EPS runs
# Ghostscript) or parse scientific containers: seized files are hostile, so those are "not my format" here.
PHOTO_FORMATS = ("JPEG", "MPO", "PNG", "TIFF", "HEIF", "AVIF", "WEBP", "GIF", "BMP", "DIB", "JPEG2000", "PPM",
                 "TGA", "ICO", "PSD", "PCX", "QOI")  # fmt: skip


def fit_within(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`size` scaled down (never up) so that neither side exceeds `max_side`, keeping the aspect ratio."""
    width, height = size
    if max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _stored_bytes(mode: str) -> int:
    """Bytes per pixel in Pillow's memory: 1 for L/P/1, 2 for 16-bit grey, 4 for everything multi-band (Pillow
    pads RGB to 4 bytes) and for 32-bit I/F."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def _working_mode(image: Image.Image) -> str | None:
    """The mode to convert to before reducing (palette indices cannot be averaged, nor can 1-bit or 16-bit
    pixels be reduced by Pillow), or None when the mode resamples as it is."""
    if image.mode in ("P", "PA"):
        return "RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB"
    if image.mode == "1":
        return "L"
    if image.mode.startswith("I;16"):
        return "I"
    return None


def _jpeg_coefficient_bytes(image: Image.Image, size: tuple[int, int]) -> int:
    """A progressive JPEG makes libjpeg keep every DCT coefficient of the whole image (2 bytes per sample per
    component, whatever the output scale): 3 bytes per pixel at 4:2:0, 6 at 4:4:4."""
    if not (image.info.get("progressive") or image.info.get("progression")):
        return 0
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 3
    h_max = max(int(layer[1]) for layer in layers) or 1
    v_max = max(int(layer[2]) for layer in layers) or 1
    total = 0
    for _, h, v, _ in layers:
        blocks_w = math.ceil(math.ceil(size[0] * int(h) / h_max) / 8)
        blocks_h = math.ceil(math.ceil(size[1] * int(v) / v_max) / 8)
        total += blocks_w * blocks_h * 64 * 2
    return total


def _tiff_buffer_bytes(image: Image.Image) -> int:
    """libtiff reads a whole compressed strip or tile and decompresses it into a buffer of its own, and a writer
    may put the whole image in one strip (macOS does): 6500x6500 RGB LZW in one strip measured 316 MB over the
    interpreter. Uncompressed TIFF streams through Pillow's own decoder."""
    tags = getattr(image, "tag_v2", {})
    if tags.get(259, 1) == 1:
        return 0
    bits = tags.get(258, (8,))
    bytes_per_pixel = max(1, sum(int(b) for b in (bits if isinstance(bits, tuple) else (bits,))) // 8)
    width, height = image.size
    counts = tags.get(325) or tags.get(279) or (0,)
    compressed = max(int(c) for c in (counts if isinstance(counts, tuple) else (counts,)))
    if 322 in tags and 323 in tags:
        return int(tags[322]) * int(tags[323]) * bytes_per_pixel + compressed
    rows = min(int(tags.get(278, height)), height)
    return width * rows * bytes_per_pixel + compressed


def _reduce_factor(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The whole factor to box-reduce by before resampling to `target`: no further than twice the target (the
    gap Pillow's `reducing_gap=2.0` keeps), and only when it is at least 2."""
    return min(size[0] // max(1, target[0]), size[1] // max(1, target[1])) // 2


def decode_cost(image: Image.Image, original_size: tuple[int, int], max_side: int, finishing: int = 0) -> int:
    """Bytes of memory `decode_reduced` (and `finishing` more target-sized copies) is estimated to need at its
    peak, for `image` as opened and drafted: the larger of

    - decoding: Pillow's pixels and what the decoder holds meanwhile (libjpeg's coefficients for a progressive
      JPEG, libheif's RGB, libtiff's strip), freed when it ends;
    - after it, with the decoded pixels still held: a converted copy where the mode cannot be resampled as it
      is, the premultiplied copy Pillow makes to reduce or resize anything with alpha, the reduced image, and
      the resampling's intermediate (target width x reduced height) and output.

    Measured against /usr/bin/time -v, it over-estimates by 0-15% (48 MP HEIC: 366 MB estimated, 343 MB used).
    """
    width, height = image.size
    pixels = width * height
    working = _working_mode(image)
    mode = working or image.mode
    stored, work = _stored_bytes(image.mode), _stored_bytes(mode)
    alpha = mode in ("RGBA", "LA")
    image_format = image.format or ""
    if image_format in ("JPEG", "MPO"):
        held = _jpeg_coefficient_bytes(image, original_size)
    elif image_format == "TIFF":
        held = _tiff_buffer_bytes(image)
    else:
        held = math.ceil(pixels * _DECODER_EXTRA.get(image_format, _UNKNOWN_DECODER_EXTRA))
    decoding = pixels * stored + held

    target = fit_within((width, height), max_side)
    factor = _reduce_factor((width, height), target)
    after = pixels * stored + (pixels * work if working else 0)
    reduced = (width, height)
    if factor >= 2:
        reduced = (math.ceil(width / factor), math.ceil(height / factor))
        after += (pixels * 4 if alpha else 0) + reduced[0] * reduced[1] * work * (2 if alpha else 1)
    if reduced != target:
        after += reduced[0] * reduced[1] * 4 if alpha else 0
        after += target[0] * reduced[1] * work + target[0] * target[1] * work
    after += finishing * target[0] * target[1] * 4
    return max(decoding, after)


class _EoiPadded(io.RawIOBase):
    """A JPEG file followed by an EOI marker, read from disk without copying. libjpeg then ends a cut-off scan
    at the marker (the blocks it never received decode flat) instead of waiting for bytes that never come, so
    a truncated JPEG decodes without Pillow's process-wide LOAD_TRUNCATED_IMAGES switch."""

    _TAIL = b"\xff\xd9"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._size = os.fstat(self._file.fileno()).st_size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        total = self._size + len(self._TAIL)
        if self._position >= total or not len(view):
            return 0
        if self._position < self._size:
            self._file.seek(self._position)
            count = self._file.readinto(view[: min(len(view), self._size - self._position)]) or 0
        else:
            tail = self._TAIL[self._position - self._size :][: len(view)]
            view[: len(tail)] = tail
            count = len(tail)
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size + len(self._TAIL)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._file.close()
        super().close()


@contextmanager
def open_photo(path: Path, *, pad_eoi: bool = False) -> Iterator[Image.Image]:
    """Opens an image with Pillow, reading its header only.

    Only `PHOTO_FORMATS` are tried. JPEG goes through its plugin class directly rather than `Image.open`:
    Pillow's process-wide pixel cap (MAX_IMAGE_PIXELS, 179 MP before it refuses) would refuse a 200 MP phone
    photo that decodes at 1/8 scale in 10 MB; the cap that counts here is `MAX_DECODE_BYTES`, on what is
    actually decoded. Nothing global is changed. `pad_eoi` reads a JPEG with an EOI marker appended (for
    truncated files).

    Raises:
        NotImageError: Pillow knows no such format.
        PhotoTooLargeError: beyond Pillow's own pixel cap (non-JPEG formats).
        PhotoDamagedError: a format Pillow knows whose header it cannot read.
    """
    with path.open("rb") as probe:
        is_jpeg = probe.read(3) == b"\xff\xd8\xff"
    stream: io.BufferedReader | None = io.BufferedReader(_EoiPadded(path)) if pad_eoi and is_jpeg else None
    try:
        try:
            if is_jpeg:
                image: Image.Image = JpegImagePlugin.JpegImageFile(stream or str(path))
            else:
                Image.init()  # registers Pillow's plugins, so that the list below names only those present
                image = Image.open(path, formats=[f for f in PHOTO_FORMATS if f in Image.OPEN])
        except UnidentifiedImageError as exc:
            raise NotImageError(f"{path.name} is not an image format Pillow reads", path=str(path)) from exc
        except Image.DecompressionBombError as exc:
            raise PhotoTooLargeError(str(exc), path=str(path)) from exc
        except Exception as exc:  # Pillow's plugins raise many kinds on hostile headers
            raise PhotoDamagedError(f"the image cannot be opened: {exc}", path=str(path)) from exc
        with image:
            yield image
    finally:
        if stream is not None:
            stream.close()


@dataclass(frozen=True, slots=True)
class Decoded:
    """Pixels ready for the final resampling: `image` is at least `target` in size (or exactly it)."""

    image: Image.Image
    target: tuple[int, int]  # what to resample to: the decoded picture fitted within max_side
    scale: int  # the decoder's divisor (libjpeg: 1, 2, 4 or 8; 1 for every other format)


def decode_reduced(
    image: Image.Image,
    max_side: int,
    *,
    draft_slack: float = 1.0,
    finishing: int = 0,
    max_bytes: int = MAX_DECODE_BYTES,
) -> Decoded:
    """Decodes a just-opened image for a picture fitted within `max_side`, if `decode_cost` (with `finishing`
    target-sized copies the caller will make) stays within `max_bytes`.

    A JPEG decodes at the smallest libjpeg scale (1/2, 1/4, 1/8: `draft`) whose output still covers
    `draft_slack` x the fitted size: with a slack below 1 the picture may come out up to that much smaller than
    `max_side`, which lets a 4032x3024 phone photo decode at half scale for a 2048 copy (2016x1512, four times
    fewer pixels to decode and resample). The decode is then reduced by a whole factor (box filter) to no less
    than twice the target, so the final resampling still has real pixels to work from, in a mode Pillow can
    resample.

    Raises:
        PhotoTooLargeError: the decode would take more than `max_bytes`.
        PhotoDamagedError: the pixels do not decode.
    """
    original = image.size
    scale = 1
    if image.format in ("JPEG", "MPO"):
        fit = fit_within(original, max_side)
        wanted = (max(1, math.floor(fit[0] * draft_slack)), max(1, math.floor(fit[1] * draft_slack)))
        drafted = image.draft("RGB", wanted)
        if drafted is not None:
            scale = max(1, round(original[0] / drafted[1][2]))
    cost = decode_cost(image, original, max_side, finishing)
    if cost > max_bytes:
        raise PhotoTooLargeError(
            f"decoding this {original[0]}x{original[1]} {image.format} image would take about {cost >> 20} MiB, "
            f"more than the {max_bytes >> 20} MiB allowed"
        )
    try:
        image.load()
    except Exception as exc:  # Pillow's decoders raise many kinds on damaged data (OSError, ValueError, ...)
        raise PhotoDamagedError(f"the image data does not decode: {exc}") from exc
    target = fit_within(image.size, max_side)
    working = _working_mode(image)
    reduced = image.convert(working) if working else image
    factor = _reduce_factor(reduced.size, target)
    if factor >= 2:
        reduced = reduced.reduce(factor)
    return Decoded(reduced, target, scale)


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation Pillow sees (1 when absent or out of range). Call after loading: a PNG reads its
    eXIf chunk only then."""
    try:
        value = int(image.getexif().get(0x0112, 1))
    except (TypeError, ValueError, OSError, SyntaxError):
        return 1
    return value if 1 <= value <= 8 else 1


def upright(image: Image.Image, orientation: int) -> Image.Image:
    method = ORIENTATION_TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def phash(image: Image.Image) -> str:
    """The DCT perceptual hash (as imagehash.phash): 32x32 greyscale, 2-D DCT, the 8x8 lowest frequencies
    against their median."""
    grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    n = 32
    k = np.arange(n)
    basis = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))  # DCT-II rows
    coefficients = basis @ grey @ basis.T
    low = coefficients[:8, :8]
    bits = (low > np.median(low)).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def hamming(first: str, second: str) -> int:
    """Differing bits between two hex pHashes."""
    return (int(first, 16) ^ int(second, 16)).bit_count()


# -- pixels and what Pillow reads beside them ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pixels:
    image_format: str | None = None
    width: int | None = None
    height: int | None = None
    phash: str | None = None
    upright_size: tuple[int, int] | None = None
    text: dict[str, str] = field(default_factory=dict)
    xmp: bytes | None = None


def _pillow_text(image: Image.Image) -> dict[str, str]:
    """PNG tEXt/iTXt/zTXt chunks (Pillow puts them in `info` as str; those after the pixels arrive once the
    image is loaded) and JPEG/GIF comments."""
    found: dict[str, str] = {}
    image_format = image.format or "IMAGE"
    for key, value in image.info.items():
        if not isinstance(key, str) or key in ("xmp", "XML:com.adobe.xmp"):
            continue  # XMP is read by its properties
        if key == "comment" and isinstance(value, bytes):
            found[f"{image_format}:Comment"] = value.decode("utf-8", "replace")
        elif image_format == "PNG" and isinstance(value, str):
            found[f"PNG:{key}"] = value
    return found


def _pillow_xmp(image: Image.Image) -> bytes | None:
    value = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(value, str):
        value = value.encode("utf-8", "replace")
    return value if isinstance(value, bytes) and value else None


def _inspect_pixels(path: Path, warnings: list[PhotoWarning], max_bytes: int) -> _Pixels:
    """Format, size, upright pHash and Pillow's text and XMP, or warnings saying why not."""
    try:
        with open_photo(path) as image:
            image_format, (width, height) = image.format, image.size
            digest, upright_size = None, None
            try:
                decoded = decode_reduced(image, PHASH_SIDE, max_bytes=max_bytes)
                orientation = exif_orientation(image)
                turned = upright(decoded.image, orientation)
                digest = phash(turned)
                upright_size = (height, width) if orientation >= 5 else (width, height)
            except PhotoTooLargeError as exc:
                warnings.append(PhotoWarning(exc.code, exc.message))
            except PhotoDamagedError as exc:
                warnings.append(PhotoWarning("EX-PHOTO-PIXELS", exc.message))
            return _Pixels(image_format, width, height, digest, upright_size, _pillow_text(image), _pillow_xmp(image))
    except NotImageError:
        return _Pixels()
    except PhotoTooLargeError as exc:
        warnings.append(PhotoWarning(exc.code, exc.message))
    except PhotoDamagedError as exc:
        warnings.append(PhotoWarning("EX-PHOTO-PIXELS", exc.message))
    return _Pixels()


# -- the EXIF thumbnail -------------------------------------------------------------------------------------


def _tag_int(tags: dict[str, Any], key: str) -> int | None:
    try:
        return int(tags[key].values[0])
    except (KeyError, AttributeError, IndexError, TypeError, ValueError):
        return None


def _uncompressed_thumbnail(tags: dict[str, Any], prefix: bytes) -> bytes | None:
    """An uncompressed RGB thumbnail (older cameras), which exifread 3.5 does not extract (it expects the
    Compression tag to print "Uncompressed TIFF"), as a baseline TIFF of the stored strips."""
    width, height = _tag_int(tags, "Thumbnail ImageWidth"), _tag_int(tags, "Thumbnail ImageLength")
    if _tag_int(tags, "Thumbnail Compression") != 1 or not width or not height:
        return None
    if _tag_int(tags, "Thumbnail PhotometricInterpretation") != 2 or _tag_int(tags, "Thumbnail SamplesPerPixel") != 3:
        return None  # only RGB is worth the code: YCbCr thumbnails were always rare
    try:
        offsets = [int(v) for v in tags["Thumbnail StripOffsets"].values]
        counts = [int(v) for v in tags["Thumbnail StripByteCounts"].values]
        base, _, _ = determine_type(io.BytesIO(prefix))
    except Exception:  # any inconsistency: no thumbnail to give
        return None
    size = width * height * 3
    if size > _MAX_THUMBNAIL_BYTES or sum(counts) < size:
        return None
    data = b"".join(prefix[base + o : base + o + c] for o, c in zip(offsets, counts, strict=False))[:size]
    if len(data) < size:
        return None
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), data).save(out, "TIFF")
    return out.getvalue()


def _thumbnail_bytes(tags: dict[str, Any], prefix: bytes) -> bytes | None:
    for key in ("JPEGThumbnail", "TIFFThumbnail"):
        value = tags.get(key)
        if isinstance(value, bytes) and value:
            return value
    return _uncompressed_thumbnail(tags, prefix)


def _trim_bars(thumbnail: Image.Image, aspect: float) -> Image.Image:
    """Cameras fit a 16:9 or 3:2 photo into a 160x120 thumbnail with black bars; cut uniform bars off where
    the aspect ratios differ, so the comparison is of the picture. Bars that are not uniform are kept: then
    the thumbnail holds more of the scene than the photo (a crop), which is exactly what should show."""
    width, height = thumbnail.size
    own = width / height
    if abs(own - aspect) / aspect < 0.03:
        return thumbnail
    if aspect > own:  # the photo is wider: bars above and below
        inner = round(width / aspect)
        start = (height - inner) // 2
        box = (0, start, width, start + inner)
    else:
        inner = round(height * aspect)
        start = (width - inner) // 2
        box = (start, 0, start + inner, height)
    if start < 3:
        return thumbnail
    grey = np.asarray(thumbnail.convert("L"), dtype=np.int16)
    # the bars, less the two pixels next to the picture (JPEG ringing)
    if aspect > own:
        bars = [grey[: start - 2], grey[start + inner + 2 :]]
    else:
        bars = [grey[:, : start - 2], grey[:, start + inner + 2 :]]
    if all(bar.size and float(bar.std()) <= 6 and int(bar.max()) - int(bar.min()) <= 40 for bar in bars):
        return thumbnail.crop(box)
    return thumbnail


def _thumbnail_phash(
    data: bytes, orientation: int, photo_size: tuple[int, int] | None, warnings: list[PhotoWarning]
) -> str | None:
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "TIFF")) as thumbnail:
            decoded = decode_reduced(thumbnail, PHASH_SIDE)
            turned = upright(decoded.image, orientation)  # stored the way the main image is stored
            if photo_size:
                turned = _trim_bars(turned, photo_size[0] / photo_size[1])
            return phash(turned)
    except Exception as exc:  # a thumbnail is a few KB of untrusted bytes: any failure is "does not decode"
        message = exc.message if isinstance(exc, PhotoTooLargeError) else f"{type(exc).__name__}: {exc}"
        warnings.append(PhotoWarning("EX-PHOTO-THUMBNAIL", f"the embedded EXIF thumbnail does not decode: {message}"))
        return None


def extract_exif_thumbnail(path: str | Path, *, exif_timeout: float = EXIF_TIMEOUT) -> bytes | None:
    """The thumbnail embedded in a photo's EXIF (IFD1), as stored: JPEG bytes, or for an uncompressed one a
    TIFF of its stored pixels. None when there is none or the EXIF does not parse. The bytes are untrusted:
    they need not decode (exiftool's test stubs hold 28 bytes of text).

    Raises:
        MediaMissingError: no such file.
        PhotoExifTimeoutError: exifread ran past `exif_timeout` seconds.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaMissingError(f"{path} does not exist", path=str(path))
    with path.open("rb") as handle:
        prefix = handle.read(EXIF_PREFIX_BYTES)
    try:
        tags = _read_exif(prefix, exif_timeout)
    except PhotoExifTimeoutError:
        raise
    except Exception:  # EXIF that does not parse has no thumbnail to give
        return None
    return _thumbnail_bytes(tags, prefix)


# -- the record ---------------------------------------------------------------------------------------------


def _capped(found: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Sorted (key, value) pairs, C-string NULs dropped, keys, values and their number capped."""
    cleaned = {k[:_MAX_TEXT_KEY]: v.replace("\x00", "").strip()[:_MAX_TEXT_VALUE] for k, v in found.items()}
    return tuple(sorted((k, v) for k, v in cleaned.items() if v)[:_MAX_TEXT_TAGS])


def _taken(tags: dict[str, Any], namespace: str, xmp: dict[str, str], text: dict[str, str]) -> TimeReading | None:
    """The first time that reads, best first: EXIF's own, then XMP's, then PNG's."""
    exif = (
        ("EXIF DateTimeOriginal", "EXIF DateTimeOriginal", ("EXIF OffsetTimeOriginal", "EXIF OffsetTime")),
        ("EXIF DateTimeDigitized", "EXIF DateTimeDigitized", ("EXIF OffsetTimeDigitized", "EXIF OffsetTime")),
        ("Image DateTime", f"{namespace} DateTime", ("EXIF OffsetTime",)),
    )
    for key, source, zones in exif:
        reading = read_time(_text(tags, key), source, zone=_text(tags, *zones))
        if reading:
            return reading
    for name in ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate"):
        reading = _xmp_time(xmp.get(f"XMP:{name}"), f"XMP {name}")
        if reading:
            return reading
    return _png_time(text.get("PNG:Creation Time"), "PNG Creation Time")


def read_photo_metadata(
    path: str | Path, *, exif_timeout: float = EXIF_TIMEOUT, max_decode_bytes: int = MAX_DECODE_BYTES
) -> PhotoMetadata:
    """EXIF, GPS, time, orientation, text metadata, XMP, pHash and the embedded thumbnail's pHash of a photo.

    Raises:
        MediaMissingError: no such file.
        NotImageError: neither Pillow nor exifread recognises it.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaMissingError(f"{path} does not exist", path=str(path))
    with path.open("rb") as handle:
        prefix = handle.read(EXIF_PREFIX_BYTES)
    warnings: list[PhotoWarning] = []
    timed_out = False
    try:
        tags = _read_exif(prefix, exif_timeout)
    except PhotoExifTimeoutError as exc:  # the pixels are still read: a slow parse is no reason to lose them
        warnings.append(PhotoWarning(exc.code, f"EXIF not read: {exc.message}"))
        tags, timed_out = {}, True
    except Exception as exc:  # exifread raises many kinds on hostile input; the pixels may still be fine
        warnings.append(PhotoWarning("EX-PHOTO-EXIF", f"EXIF cannot be read: {type(exc).__name__}: {exc}"))
        tags = {}
    thumbnail = _thumbnail_bytes(tags, prefix)
    raw_xmp = _find_xmp(prefix)
    del prefix  # up to 16 MiB that the pixel decode's memory budget should not have to share
    pixels = _inspect_pixels(path, warnings, max_decode_bytes)
    if pixels.image_format is None and not tags and not timed_out:
        raise NotImageError(f"{path.name} is not an image Pillow or exifread can read", path=str(path))
    if pixels.image_format is None and not any(w.code.startswith("EX-PHOTO-") for w in warnings):
        warnings.append(PhotoWarning("EX-PHOTO-PIXELS", "EXIF reads, but the pixels are in no format Pillow reads"))

    xmp_packet = pixels.xmp or raw_xmp
    xmp = _xmp_fields(xmp_packet) if xmp_packet else {}
    namespace = "TIFF" if pixels.image_format == "TIFF" else "EXIF"
    text = {**_exif_text(tags, namespace), **pixels.text, **xmp}

    orientation = _orientation(tags)
    thumbnail_phash = distance = None
    if thumbnail:
        thumbnail_phash = _thumbnail_phash(thumbnail, orientation or 1, pixels.upright_size, warnings)
        if thumbnail_phash and pixels.phash:
            distance = hamming(thumbnail_phash, pixels.phash)

    exif_software = _text(tags, "Image Software")
    software_tags = [exif_software, text.get("PNG:Software"), xmp.get("XMP:xmp:CreatorTool")]
    software_tags.append(xmp.get("XMP:xmpMM:History/stEvt:softwareAgent"))
    return PhotoMetadata(
        image_format=pixels.image_format,
        width=pixels.width,
        height=pixels.height,
        make=_text(tags, "Image Make"),
        model=_text(tags, "Image Model"),
        serial=_text(tags, "EXIF BodySerialNumber", "MakerNote SerialNumber", "EXIF SerialNumber"),
        software=next((s[:500] for s in software_tags[:3] if s), None),
        edited=any(s and _EDITORS.search(s) for s in software_tags),
        taken=_taken(tags, namespace, xmp, text),
        gps=_gps(tags, warnings),
        orientation=orientation,
        has_thumbnail=thumbnail is not None or "Thumbnail JPEGInterchangeFormat" in tags,
        phash=pixels.phash,
        tag_count=len(tags),
        thumbnail_phash=thumbnail_phash,
        thumbnail_distance=distance,
        thumbnail_mismatch=distance is not None and distance > THUMBNAIL_MISMATCH_BITS,
        has_xmp=xmp_packet is not None,
        text_tags=_capped(text),
        warnings=tuple(warnings),
    )


# -- near-duplicates ----------------------------------------------------------------------------------------

K = TypeVar("K")
_BLOCK_ELEMENTS = 1 << 20  # pairs compared at once: ~12 MB of working arrays, whatever the number of photos


@dataclass(frozen=True, slots=True)
class NearDuplicate(Generic[K]):
    first: K  # the earlier of the two in the input
    second: K
    distance: int  # differing pHash bits, 0-64


def _hash_array(items: Sequence[tuple[Any, str]]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    hashes = np.empty(len(items), dtype=np.uint64)
    for index, (key, text) in enumerate(items):
        if not isinstance(text, str) or not re.fullmatch(r"[0-9a-fA-F]{16}", text):
            raise ValueError(f"{key!r}: {text!r} is not a 64-bit pHash in hex")
        hashes[index] = int(text, 16)
    return hashes


def near_duplicates(
    items: Sequence[tuple[K, str]], max_distance: int = NEAR_DUPLICATE_BITS, *, max_pairs: int = 1_000_000
) -> list[NearDuplicate[K]]:
    """Every pair of items whose pHashes differ in at most `max_distance` bits (exact duplicates included),
    sorted by distance, then by the first item's position in `items`, then the second's: the same input gives
    the same list.

    All pairs are compared (no index that could miss one), vectorised: uint64 XOR and numpy's popcount over a
    block of rows against the later columns, so memory stays at `_BLOCK_ELEMENTS` whatever the count. 20,000
    hashes (200 M pairs) take about a second.

    Raises:
        ValueError: a hash that is not 16 hex digits, a distance outside 0-64, or more than `max_pairs` pairs
            (thousands of copies of one picture: group exact duplicates first, or lower `max_distance`).
    """
    if not 0 <= max_distance <= 64:
        raise ValueError(f"max_distance must be 0-64 bits, not {max_distance}")
    hashes = _hash_array(items)
    count = len(hashes)
    rows_per_block = max(1, _BLOCK_ELEMENTS // max(count, 1))
    firsts: list[np.ndarray[Any, Any]] = []
    seconds: list[np.ndarray[Any, Any]] = []
    distances: list[np.ndarray[Any, Any]] = []
    found = 0
    for start in range(0, count, rows_per_block):
        stop = min(count, start + rows_per_block)
        block = np.bitwise_count(hashes[start:stop, None] ^ hashes[None, start:])
        close = block <= max_distance
        close[:, : stop - start] &= np.triu(np.ones((stop - start, stop - start), dtype=bool), k=1)
        rows, columns = np.nonzero(close)
        found += len(rows)
        if found > max_pairs:
            raise ValueError(f"more than {max_pairs} pairs within {max_distance} bits; lower max_distance")
        firsts.append(rows + start)
        seconds.append(columns + start)
        distances.append(block[rows, columns])
    if not found:
        return []
    first = np.concatenate(firsts)
    second = np.concatenate(seconds)
    distance = np.concatenate(distances)
    order = np.lexsort((second, first, distance))
    return [NearDuplicate(items[int(first[i])][0], items[int(second[i])][0], int(distance[i])) for i in order]
