"""`display_copy`: a photo any browser shows upright, small enough to send, with nothing of the original's
metadata: the review copy of a still image, as `transcode.review_proxy` is of a video.

How it is made, always the same way (and recorded in `DisplayCopy.parameters` as provenance):

- decoded within the analysers' memory budget (`photo_metadata.MAX_DECODE_BYTES`); a JPEG decodes at 1/2, 1/4
  or 1/8 scale when that still covers the copy (or 80% of it, `DRAFT_SLACK`: a copy may be up to 20% under
  `max_side`), so a 12000x9000 photo never exists as a full-size bitmap;
- reduced by a whole factor (box filter), then resampled with Lanczos to fit within `max_side`, and only then
  turned upright (EXIF orientation, the table of `ImageOps.exif_transpose`; HEIF is already upright from
  libheif): transposing the small image is the same and costs nothing;
- colours converted to sRGB through the embedded ICC profile when there is one (LittleCMS, relative
  colorimetric), else kept as stored; 16-bit and float pixels scaled to 8 bits;
- written as baseline JPEG, quality 90, 4:2:0, optimised Huffman tables, or as PNG (zlib level 6) where the
  image has transparency it actually uses; from a fresh image, so no EXIF, XMP, ICC, comment or text chunk
  can come along.

Same input, same Pillow/libjpeg-turbo/zlib/LittleCMS builds -> byte-identical output: every step is integer or
fixed-point arithmetic in one thread, and no time or version string is written into the file. Across library
builds the bytes may differ (an encoder change), which is why their versions are in `parameters`.

Outcomes: not my format (`NotImageError`), damaged but readable (a copy with `warnings`: a truncated JPEG,
shown as far as it decodes; an unusable colour profile), failed (`PhotoDamagedError`, `PhotoTooLargeError`).
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageCms, features

from forensics.errors import MediaMissingError, PhotoDamagedError
from forensics.photo_metadata import (
    HEIF_DECODER,
    MAX_DECODE_BYTES,
    Decoded,
    PhotoWarning,
    decode_reduced,
    exif_orientation,
    open_photo,
    upright,
)

DISPLAY_MAX_SIDE = 2048
JPEG_QUALITY = 90
JPEG_SUBSAMPLING = "4:2:0"
PNG_COMPRESS_LEVEL = 6
# A JPEG copy may come out up to 20% under max_side when that lets libjpeg decode at half the scale: a 4032x3024
# phone photo gives 2016x1512 in a quarter of the time (measured 0.58 s -> 0.15 s), with no visible difference.
DRAFT_SLACK = 0.8
_ALPHA_MODES = ("RGBA", "LA", "La", "RGBa", "PA")
_ICC_MODES = {"RGB": ("RGB", "RGBA"), "CMYK": ("CMYK",), "GRAY": ("L",)}  # profile colour space -> pixel modes


@dataclass(frozen=True, slots=True)
class DisplayCopy:
    path: Path  # where it was written: the target with .jpg or .png for a suffix
    width: int
    height: int
    orientation_applied: int  # the EXIF orientation (1-8) that was turned upright; 1: none needed
    media_type: str  # image/jpeg or image/png
    source_format: str  # Pillow's name for the original's format (JPEG, HEIF, PNG, TIFF, ...)
    source_width: int
    source_height: int
    parameters: dict[str, str | int]  # exactly how it was made, for the provenance record
    warnings: tuple[PhotoWarning, ...] = field(default=())


def _library_versions(source_format: str) -> dict[str, str | int]:
    versions: dict[str, str | int] = {
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo") or "unknown",
        "zlib": features.version("zlib") or "unknown",
        "littlecms2": features.version("littlecms2") or "unknown",
    }
    if source_format in ("HEIF", "AVIF") and HEIF_DECODER:
        versions["heif_decoder"] = HEIF_DECODER
    return versions


def _eight_bit(image: Image.Image, source_mode: str) -> Image.Image:
    """16-bit grey (converted to I for resampling) back to 8 bits exactly (/257); 32-bit integer or float
    pixels, whose range no tag states, stretched from their minimum to their maximum."""
    values = np.asarray(image, dtype=np.float64)
    if source_mode.startswith("I;16"):
        scaled = values / 257.0
    else:
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def _to_srgb(image: Image.Image, icc: bytes | None, warnings: list[PhotoWarning]) -> tuple[Image.Image, str]:
    """The pixels in sRGB where a profile says what they are; otherwise as stored (most files without a
    profile are sRGB already). Returns the image and how its colours were treated."""
    if not icc:
        return image, "as stored (no ICC profile)"
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = str(profile.profile.xcolor_space).strip()
        if image.mode not in _ICC_MODES.get(space, ()):
            return image, f"as stored (ICC profile for {space or 'unknown'} pixels, image is {image.mode})"
        output = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image,
            profile,
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode=output,
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        warnings.append(PhotoWarning("EX-PHOTO-ICC", f"the embedded colour profile cannot be used: {exc}"))
        return image, "as stored (ICC profile unusable)"
    if converted is None:  # pragma: no cover - only with inPlace=True
        return image, "as stored"
    if output == "RGBA" and converted.mode == "RGBA":
        converted.putalpha(image.getchannel("A"))  # LittleCMS need not carry the alpha channel through
    return converted, "ICC profile -> sRGB (LittleCMS, relative colorimetric)"


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _decode(image: Image.Image, max_side: int, max_bytes: int) -> tuple[Decoded, int, bytes | None, bool, int]:
    """The reduced pixels, the orientation still to apply, the ICC profile, whether there is transparency, and
    the orientation the record reports as applied."""
    # three target-sized copies live at once while finishing: resampled, colour-converted, transposed
    decoded = decode_reduced(image, max_side, draft_slack=DRAFT_SLACK, finishing=3, max_bytes=max_bytes)
    orientation = exif_orientation(image)  # after loading: a PNG reads its eXIf chunk only then
    applied = orientation
    if image.format == "HEIF":  # libheif applied irot/imir already, and pillow-heif reset the EXIF tag to 1
        applied = int(image.info.get("original_orientation") or 1)
    icc = image.info.get("icc_profile")
    return decoded, orientation, icc if isinstance(icc, bytes) else None, _has_alpha(image), applied


def _decode_tolerating_truncation(
    path: Path, max_side: int, max_bytes: int, warnings: list[PhotoWarning]
) -> tuple[tuple[Decoded, int, bytes | None, bool, int], str, tuple[int, int], str]:
    """`_decode`, and for a JPEG cut short a second attempt that shows what decodes (with a warning); also the
    source's format, size and pixel mode."""
    truncated: PhotoDamagedError | None = None
    with open_photo(path) as image:
        source_format, source_size, source_mode = image.format or "unknown", image.size, image.mode
        try:
            decoded = _decode(image, max_side, max_bytes)
        except PhotoDamagedError as exc:
            if source_format not in ("JPEG", "MPO"):
                raise
            truncated = exc
    if truncated is not None:
        # A JPEG cut short (a partial download, a carved file) still shows most of its picture: decode it again
        # with an EOI marker after the data, which makes libjpeg finish the scan rather than wait for more.
        with open_photo(path, pad_eoi=True) as padded:
            try:
                decoded = _decode(padded, max_side, max_bytes)
            except PhotoDamagedError:
                raise truncated from None
        warnings.append(
            PhotoWarning(
                "EX-PHOTO-TRUNCATED",
                f"the JPEG data ends early ({truncated.__cause__ or truncated.message}); "
                "the copy shows what decodes, the rest flat",
            )
        )
    return decoded, source_format, source_size, source_mode


@dataclass(frozen=True, slots=True)
class UprightPixels:
    """A photo as an analyser sees it: upright RGB pixels fitted within a size, and how they relate to the file."""

    image: Image.Image  # mode RGB, upright (EXIF orientation applied), at most max_side on its longer side
    upright_size: tuple[int, int]  # the whole picture's size once upright: coordinates are reported in these
    orientation_applied: int
    source_format: str
    warnings: tuple[PhotoWarning, ...]

    @property
    def scale(self) -> float:
        """Analysed pixels per upright pixel (1.0 when the photo fitted as it was)."""
        return self.image.width / self.upright_size[0]


def upright_pixels(path: str | Path, max_side: int, *, max_decode_bytes: int = MAX_DECODE_BYTES) -> UprightPixels:
    """The photo at `path` decoded within the memory budget, fitted within `max_side`, turned upright and made
    8-bit RGB (transparency dropped onto black, as a detector sees it): what face detection looks at.

    Raises as `make_display_copy`.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaMissingError(f"{path} does not exist", path=str(path))
    warnings: list[PhotoWarning] = []
    decoded, source_format, source_size, source_mode = _decode_tolerating_truncation(
        path, max_side, max_decode_bytes, warnings
    )
    pixels, orientation, _icc, _alpha, applied = decoded
    fitted = (
        pixels.image.resize(pixels.target, Image.Resampling.LANCZOS)
        if pixels.image.size != pixels.target
        else pixels.image
    )
    if fitted.mode in ("I", "F"):
        fitted = _eight_bit(fitted, source_mode)
    fitted = upright(fitted.convert("RGB"), orientation)
    turned = orientation in (5, 6, 7, 8)  # the transposing orientations swap width and height
    size = (source_size[1], source_size[0]) if turned else source_size
    if source_format == "HEIF":  # libheif turned it already, and the size Pillow reports is the upright one
        size = source_size
    return UprightPixels(fitted, size, applied, source_format, tuple(warnings))


def make_display_copy(
    path: str | Path,
    target: str | Path,
    max_side: int = DISPLAY_MAX_SIDE,
    *,
    max_decode_bytes: int = MAX_DECODE_BYTES,
) -> DisplayCopy:
    """Writes the display copy of the photo at `path` next to `target` (its suffix becomes .jpg or .png).

    Raises:
        MediaMissingError: no such file.
        NotImageError: not an image format Pillow reads.
        PhotoDamagedError: no pixels of it decode (a truncated JPEG still gives a copy, with a warning).
        PhotoTooLargeError: decoding it would take more than `max_decode_bytes` of memory.
        ValueError: `max_side` below 16.
    """
    path, target = Path(path), Path(target)
    if max_side < 16:
        raise ValueError(f"max_side must be at least 16 pixels, not {max_side}")
    if not path.is_file():
        raise MediaMissingError(f"{path} does not exist", path=str(path))
    warnings: list[PhotoWarning] = []
    decoded, source_format, source_size, source_mode = _decode_tolerating_truncation(
        path, max_side, max_decode_bytes, warnings
    )
    # the pixels outlive the `with`: leaving an ImageFile's context closes its file, not its pixels
    pixels, orientation, icc, alpha, applied = decoded

    reduced, fit = pixels.image, pixels.target
    small = reduced.resize(fit, Image.Resampling.LANCZOS) if reduced.size != fit else reduced
    if small.mode in ("I", "F"):
        small = _eight_bit(small, source_mode)
    if alpha and small.mode != "RGBA":
        small = small.convert("RGBA")
    small, colour = _to_srgb(small, icc, warnings)
    small = small.convert("RGBA" if alpha else "RGB")
    if alpha and small.getchannel("A").getextrema() == (255, 255):
        small = small.convert("RGB")  # transparency declared but unused: a JPEG is a tenth of the size
    small = upright(small, orientation)
    # A fresh image from the bare pixels: no info dict, no EXIF cache, so nothing of the original is written.
    final = Image.frombytes(small.mode, small.size, small.tobytes())

    as_png = final.mode == "RGBA"
    parameters: dict[str, str | int] = {
        "derivative": "display_copy",
        "max_side": max_side,
        "format": "PNG" if as_png else "JPEG",
        "decode_scale": f"1/{pixels.scale}",
        "draft_slack": str(DRAFT_SLACK),
        "resample": "whole-factor box reduce, then Lanczos",
        "orientation_applied": applied,
        "colour": colour,
        "metadata": "none (written from bare pixels)",
    }
    if as_png:
        parameters["png_compress_level"] = PNG_COMPRESS_LEVEL
    else:
        parameters |= {"jpeg_quality": JPEG_QUALITY, "jpeg_subsampling": JPEG_SUBSAMPLING, "jpeg_optimize": 1}
    parameters |= _library_versions(source_format)

    written = target.with_suffix(".png" if as_png else ".jpg")
    # Written beside the target and renamed into place: a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=written.parent, prefix=f".{written.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            if as_png:
                final.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False)
            else:
                final.save(
                    out, "JPEG", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING, optimize=True, progressive=False
                )
        os.replace(temporary, written)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return DisplayCopy(
        path=written,
        width=final.width,
        height=final.height,
        orientation_applied=applied,
        media_type="image/png" if as_png else "image/jpeg",
        source_format=source_format,
        source_width=source_size[0],
        source_height=source_size[1],
        parameters=parameters,
        warnings=tuple(warnings),
    )
