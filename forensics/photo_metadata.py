"""`photo_metadata`: where, when and with what a photo was taken (EXIF via exifread), and a perceptual hash.

Malformed EXIF must never hang or crash a run: exifread reads a bounded prefix of the file (EXIF sits in its
first megabytes), without maker-note parsing (where real files make readers loop), and every tag that will
not convert becomes a warning instead of an exception. Pixels are decoded by Pillow (HEIC through
pillow-heif) at reduced size for the hash, with a pixel-count cap against decompression bombs.

Outcomes: not my format (`NotImageError`: Pillow and exifread both find nothing), damaged but readable (a
record with warnings: unreadable tags, pixels that will not decode), or a record.
"""

from __future__ import annotations

import io
import logging
import re
import warnings as py_warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import exifread
import numpy as np
import PIL
from PIL import Image, ImageOps, UnidentifiedImageError

from forensics.errors import MediaMissingError, NotImageError
from forensics.timestamps import GPS, TimeReading, read_time

# exifread logs "no EXIF" and tag-level complaints itself; those become warnings rows here instead.
logging.getLogger("exifread").setLevel(logging.CRITICAL)

EXIF_PREFIX_BYTES = 16 << 20  # HEIC keeps EXIF after its boxes; JPEG within the first 64 KiB
MAX_PIXELS = 200_000_000  # Pillow's decompression-bomb limit, made explicit
TOOL = f"exifread {exifread.__version__}; Pillow {PIL.__version__}"
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
    software: str | None
    edited: bool  # the software tag names an image editor
    taken: TimeReading | None  # DateTimeOriginal (+ OffsetTimeOriginal)
    gps: GpsFix | None
    orientation: int | None  # EXIF 1-8
    has_thumbnail: bool
    phash: str | None  # 64-bit DCT perceptual hash, hex; near-duplicates differ in few bits
    tag_count: int
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
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "tool": self.tool,
        }


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


def _pixels(data: bytes, warnings: list[PhotoWarning]) -> tuple[str | None, int | None, int | None, str | None]:
    """Format, size and pHash (of the upright image) from the pixels, or warnings saying why not."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # HEIC then reads as not-an-image, with a warning below
        pass
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with py_warnings.catch_warnings():
            py_warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, (width, height) = image.format, image.size
                try:
                    image.draft("RGB", (256, 256))  # JPEG decodes at 1/2..1/8 scale: the hash needs 32x32
                    upright = ImageOps.exif_transpose(image)
                    return image_format, width, height, phash(upright)
                except (OSError, ValueError, SyntaxError, EOFError) as exc:
                    warnings.append(PhotoWarning("EX-PHOTO-PIXELS", f"the image data does not decode: {exc}"))
                    return image_format, width, height, None
    except UnidentifiedImageError:
        return None, None, None, None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        warnings.append(PhotoWarning("EX-PHOTO-TOO-LARGE", str(exc)))
        return None, None, None, None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        warnings.append(PhotoWarning("EX-PHOTO-PIXELS", f"the image cannot be opened: {exc}"))
        return None, None, None, None


def read_photo_metadata(path: str | Path) -> PhotoMetadata:
    """EXIF, GPS, time, orientation and pHash of a photo.

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
    try:
        tags: dict[str, Any] = dict(exifread.process_file(io.BytesIO(prefix), details=False, strict=False))
    except Exception as exc:  # exifread raises many kinds on hostile input; the pixels may still be fine
        warnings.append(PhotoWarning("EX-PHOTO-EXIF", f"EXIF cannot be read: {type(exc).__name__}: {exc}"))
        tags = {}
    data = prefix if path.stat().st_size <= EXIF_PREFIX_BYTES else path.read_bytes()
    image_format, width, height, digest = _pixels(data, warnings)
    if image_format is None and not tags:
        raise NotImageError(f"{path.name} is not an image Pillow or exifread can read", path=str(path))
    if image_format is None and not any(w.code.startswith("EX-PHOTO-") for w in warnings):
        warnings.append(PhotoWarning("EX-PHOTO-PIXELS", "EXIF reads, but the pixels are in no format Pillow reads"))
    taken = read_time(
        _text(tags, "EXIF DateTimeOriginal", "Image DateTime"),
        "EXIF DateTimeOriginal" if "EXIF DateTimeOriginal" in tags else "EXIF DateTime",
        zone=_text(tags, "EXIF OffsetTimeOriginal", "EXIF OffsetTime"),
    )
    software = _text(tags, "Image Software")
    return PhotoMetadata(
        image_format=image_format,
        width=width,
        height=height,
        make=_text(tags, "Image Make"),
        model=_text(tags, "Image Model"),
        serial=_text(tags, "EXIF BodySerialNumber", "MakerNote SerialNumber", "EXIF SerialNumber"),
        software=software,
        edited=bool(software and _EDITORS.search(software)),
        taken=taken,
        gps=_gps(tags, warnings),
        orientation=_orientation(tags),
        has_thumbnail="JPEGThumbnail" in tags or "Thumbnail JPEGInterchangeFormat" in tags,
        phash=digest,
        tag_count=len(tags),
        warnings=tuple(warnings),
    )
