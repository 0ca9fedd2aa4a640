"""`redact_video` and `redact_photo`: a copy of a video or photo with faces made unrecognisable, for disclosure.

The faces come from the caller (a face tracker's boxes, in display-frame pixels, face_recognition's order); this
module only obscures them, the same way in both:

- each box is grown by `padding` of its size on every side (hair, ears, movement between detector samples) and
  obscured inside the ellipse inscribed in it (or the whole rectangle);
- "blur": the region is reduced to `BLUR_WORK_SIDE` pixels across, blurred twice with a Gaussian kernel half
  the box's size, and enlarged back. What remains is a smooth function of at most 32x32 numbers that the blur
  has already flattened, so no deconvolution can bring the face back: the information is gone, not hidden;
- "pixelate": at most `PIXELATE_BLOCKS` blocks across the padded box (about five across the face itself);
- "fill": solid black.

Video. One ffmpeg decodes the first video stream (upright: ffmpeg applies the display matrix, so the boxes are
in display coordinates) to raw BGR frames on a pipe; each frame is redacted with OpenCV and written to a second
ffmpeg that encodes H.264 (libx264, yuv420p) into an MP4 with the original's audio muxed back in: copied when
its codec fits MP4 (`AUDIO_COPY_CODECS`), else re-encoded to AAC. Only a frame or two is in memory at a time,
whatever the length of the video. The frames reach the encoder as limited-range BT.601 YUV 4:2:0 (converted
here by OpenCV); the copy keeps the original's colour primaries and transfer tags, so it looks as the original
did.

Frame times. A raw pipe carries no timestamps, so the encoder plays frame n at n / rate. The decoder therefore
resamples to that grid first (ffmpeg's `fps` filter at the source's average rate, nearest frame): frame n of the
copy is what the original showed at n / rate after its first frame, and that is the time its boxes are taken
at. A constant-rate source passes one to one; a variable-rate phone clip gets a frame repeated or dropped where
its rate wandered, and stays in step with its audio to within half a frame. Times are measured from the first
frame of the video, as in `video_frames`; the video keeps its offset to the audio (`-itsoffset`).

The copy carries none of the original's metadata (no container tags such as a location, no chapters, subtitles
or data streams), and is written bit-exact (no encoder string or creation time) with x264 on a fixed thread
count, so the same input, tracks and ffmpeg give the same bytes. It is written under a temporary name beside
the target and renamed only when complete: a failure or timeout leaves no partial file.

Photo. Pillow decodes the picture, turns it upright (EXIF orientation, so the boxes are in display
coordinates) and converts it to RGB; the faces are obscured as above and the result is written as PNG or JPEG
(quality 95) from a picture with its metadata removed: no EXIF (so no GPS position), XMP or comments. The
colour profile is kept, so the copy shows the same colours.

Outcomes: a `RedactionReport`; a damaged original (`MediaDamagedError`, `PhotoDamagedError`), ffmpeg failing
(`RedactionFailedError`, with its last complaints) or running past its time limit (`ToolTimeoutError`). A video
that decodes only in part gives a copy of what decodes, with the decoder's complaints as `warnings`.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import secrets
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
import PIL
from PIL import Image, ImageOps

from forensics.errors import (
    MediaDamagedError,
    MediaMissingError,
    PhotoDamagedError,
    PhotoTooLargeError,
    RedactionFailedError,
    RedactionTargetError,
    ToolTimeoutError,
)
from forensics.media_probe import PROBE_TIMEOUT, ProbeWarning, find_tool, media_input, tool_version
from forensics.photo_metadata import MAX_DECODE_BYTES, exif_orientation, open_photo

FaceBox = tuple[int, int, int, int]  # (top, right, bottom, left) in display-frame pixels, face_recognition's order
Pixels = np.ndarray[Any, np.dtype[np.uint8]]

METHODS = ("blur", "pixelate", "fill")
SHAPES = ("ellipse", "rectangle")
MAX_PADDING = 2.0  # a box grown by more than twice its size on each side is a mistake, not caution
REDACT_TIMEOUT = 4 * 3600.0  # seconds; a 2 GiB 1080p recording is about half an hour of video
AUDIO_COPY_CODECS = frozenset({"aac", "mp3", "alac", "ac3"})  # what MP4 carries and every browser or player plays
AUDIO_BITRATE = "192k"
X264_PRESET = "veryfast"
# x264's output depends on its thread count (not on scheduling): fixed, so another machine gives the same bytes.
X264_THREADS = 4
BLUR_WORK_SIDE = 32
BLUR_PASSES = 2
PIXELATE_BLOCKS = 8
JPEG_QUALITY = 95
PNG_COMPRESS_LEVEL = 6
# A frame rate outside this is a broken header (90000 fps), not a recording; the next candidate is tried.
_RATE_RANGE = (Fraction(1, 60), Fraction(240))
_FALLBACK_RATE = Fraction(25)
_MAX_WARNINGS = 20
_STDERR_TAIL_LINES = 8
_PHOTO_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}


def _check_box(box: Sequence[int]) -> FaceBox:
    if len(box) != 4 or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in box):
        raise ValueError(f"a face box is four whole pixel positions (top, right, bottom, left), not {box!r}")
    top, right, bottom, left = (int(v) for v in box)
    if not (top < bottom and left < right):
        raise ValueError(f"a face box needs top < bottom and left < right: {box!r}")
    return top, right, bottom, left


@dataclass(frozen=True, slots=True)
class RedactionTrack:
    """One face followed through a video: its boxes at the times the detector looked."""

    track_key: str  # the caller's id of the face track (e.g. "E12-T3"), echoed in the report
    points: tuple[tuple[float, FaceBox], ...]  # (seconds from the first frame, box), strictly increasing in time
    _times: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.track_key, str) or not self.track_key.strip():
            raise ValueError("a redaction track needs a key")
        if not self.points:
            raise ValueError(f"track {self.track_key!r} has no points")
        points = tuple((float(t), _check_box(box)) for t, box in self.points)
        times = tuple(t for t, _box in points)
        if not all(math.isfinite(t) for t in times):
            raise ValueError(f"track {self.track_key!r} has a time that is not a number")
        if any(later <= earlier for earlier, later in itertools.pairwise(times)):
            # Two boxes at one instant would make "where is the face" ambiguous.
            raise ValueError(f"the times of track {self.track_key!r} are not strictly increasing")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "_times", times)

    def box_at(self, t: float, hold_s: float) -> FaceBox | None:
        """The face's box at `t` seconds: interpolated between the samples around it; before the first sample and
        after the last, the nearest box held for `hold_s` seconds (the detector samples sparsely, so the face may
        be on screen up to one sampling interval before it was first seen and after it was last seen); None
        outside that span. Interpolated edges are rounded outwards, so the box never shrinks between samples."""
        times = self._times
        if t < times[0]:
            return self.points[0][1] if times[0] - t <= hold_s else None
        if t > times[-1]:
            return self.points[-1][1] if t - times[-1] <= hold_s else None
        after = bisect.bisect_left(times, t)
        if times[after] == t:
            return self.points[after][1]
        (t0, first), (t1, second) = self.points[after - 1], self.points[after]
        share = (t - t0) / (t1 - t0)
        top, right, bottom, left = (a + share * (b - a) for a, b in zip(first, second, strict=True))
        return math.floor(top), math.ceil(right), math.ceil(bottom), math.floor(left)


@dataclass(frozen=True, slots=True)
class RedactionSettings:
    method: str = "blur"  # "blur", "pixelate" or "fill" (solid black)
    padding: float = 0.3  # the box grows by this fraction of its size on each side
    hold_s: float = 0.5  # see RedactionTrack.box_at
    shape: str = "ellipse"  # "ellipse" (inscribed in the padded box) or "rectangle"
    crf: int = 18  # libx264 quality of the redacted video (0 lossless .. 51 worst)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"redaction method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.shape not in SHAPES:
            raise ValueError(f"redaction shape {self.shape!r} is not one of {', '.join(SHAPES)}")
        if not (math.isfinite(self.padding) and 0 <= self.padding <= MAX_PADDING):
            raise ValueError(f"padding must be between 0 and {MAX_PADDING}, not {self.padding!r}")
        if not (math.isfinite(self.hold_s) and self.hold_s >= 0):
            raise ValueError(f"hold_s must be zero or more seconds, not {self.hold_s!r}")
        if isinstance(self.crf, bool) or not isinstance(self.crf, int) or not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be a whole number from 0 to 51, not {self.crf!r}")

    def as_parameters(self) -> dict[str, object]:
        return {"method": self.method, "padding": self.padding, "hold_s": self.hold_s, "shape": self.shape,
                "crf": self.crf}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RedactionReport:
    output: Path
    width: int
    height: int
    frames: int
    frames_redacted: int  # frames with at least one box drawn
    boxes_drawn: int  # boxes that fell at least partly inside their frame, over all frames
    audio: str  # "copied", "re-encoded (aac)" or "none"
    tool: str
    tool_version: str
    parameters: dict[str, object]  # everything needed to make it again: settings, track keys, commands
    warnings: tuple[ProbeWarning, ...] = field(default=())  # the decoder's complaints about a damaged original


# -- drawing ------------------------------------------------------------------------------------------------


def _padded(box: FaceBox, padding: float) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the box grown by `padding` of its size on each side, rounded outwards."""
    top, right, bottom, left = box
    grow_x, grow_y = (right - left) * padding, (bottom - top) * padding
    return math.floor(left - grow_x), math.floor(top - grow_y), math.ceil(right + grow_x), math.ceil(bottom + grow_y)


def _odd(value: float) -> int:
    whole = max(3, math.ceil(value))
    return whole if whole % 2 else whole + 1


def _obscured(roi: Pixels, box_side: int, method: str) -> Pixels:
    """What replaces `roi` (part or all of a padded box whose longer side is `box_side`)."""
    height, width = roi.shape[:2]
    if method == "fill":
        return np.zeros_like(roi)
    if method == "pixelate":
        block = max(1.0, box_side / PIXELATE_BLOCKS)
        small = cv2.resize(
            roi, (max(1, round(width / block)), max(1, round(height / block))), interpolation=cv2.INTER_AREA
        )
        return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST), dtype=np.uint8)
    # Blurring a reduced copy is the same blur (the kernel dwarfs the reduction's own smoothing) at a fraction of
    # the cost, and it caps what survives at BLUR_WORK_SIDE^2 numbers before the blur flattens them.
    scale = min(1.0, BLUR_WORK_SIDE / box_side)
    small = cv2.resize(roi, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    kernel = _odd(box_side * scale / 2)
    for _ in range(BLUR_PASSES):
        small = cv2.GaussianBlur(small, (kernel, kernel), kernel / 4, borderType=cv2.BORDER_REPLICATE)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


def _redact_region(pixels: Pixels, box: FaceBox, settings: RedactionSettings, origin: tuple[int, int] = (0, 0)) -> None:
    """Obscures the padded `box` within `pixels` in place; `pixels` is the part of the picture whose top left
    corner is at `origin` (x, y), and already clipped to the padded box and the picture."""
    x0, y0, x1, y1 = _padded(box, settings.padding)
    covered = _obscured(pixels, max(x1 - x0, y1 - y0), settings.method)
    if settings.shape == "rectangle":
        pixels[...] = covered
        return
    mask = np.zeros(pixels.shape[:2], dtype=np.uint8)
    # The ellipse is that of the whole padded box, drawn where the clipped part of it lies, so a face at the
    # edge of the picture is covered as it would be in the middle.
    centre = (round((x0 + x1) / 2) - origin[0], round((y0 + y1) / 2) - origin[1])
    axes = (math.ceil((x1 - x0) / 2), math.ceil((y1 - y0) / 2))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, thickness=-1)
    cv2.copyTo(covered, mask, pixels)  # into `pixels` itself (a view of the frame): 100x numpy's masked copy


def _clipped(box: FaceBox, padding: float, width: int, height: int) -> tuple[int, int, int, int] | None:
    x0, y0, x1, y1 = _padded(box, padding)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def redact_frame(frame: Pixels, boxes: Sequence[FaceBox], settings: RedactionSettings) -> int:
    """Obscures `boxes` in `frame` (height x width x channels, uint8) in place; returns how many were drawn
    (a box wholly outside the frame is not)."""
    height, width = frame.shape[:2]
    drawn = 0
    for box in boxes:
        clip = _clipped(box, settings.padding, width, height)
        if clip is None:
            continue
        x0, y0, x1, y1 = clip
        _redact_region(frame[y0:y1, x0:x1], box, settings, (x0, y0))
        drawn += 1
    return drawn


# -- video --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    width: int  # upright, as the decoder gives the frames
    height: int
    rate: Fraction
    rate_source: str  # which of ffprobe's rates was used
    sample_aspect: Fraction | None  # of the upright frames; None when square or unknown
    video_offset: float  # seconds from the file's start to the first video frame
    audio_codecs: tuple[str, ...]
    colour: dict[str, str]  # ffprobe's color_space, color_primaries, color_transfer where known

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames on the pipes: 4:2:0 needs even sides, so an odd one gets a black line."""
        return self.width + self.width % 2, self.height + self.height % 2


def _fraction(text: Any) -> Fraction | None:
    try:
        value = Fraction(str(text).replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _seconds(text: Any) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def _turned(stream: dict[str, Any]) -> bool:
    """Whether the display matrix (or an old-style `rotate` tag) stands the picture on its side."""
    for side in stream.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side:
            return round(_seconds(side["rotation"])) % 180 != 0
    return round(_seconds((stream.get("tags") or {}).get("rotate"))) % 180 != 0


def _probe_source(source: Path, timeout: float) -> _Source:
    command = [find_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "--",
               media_input(source)]  # fmt: skip
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolTimeoutError(f"ffprobe did not finish within {timeout:.0f} s", tool="ffprobe") from exc
    try:
        document = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    container = document.get("format") or {}
    streams = [s for s in document.get("streams") or [] if isinstance(s, dict)]
    if proc.returncode != 0 or not container:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        why = lines[-1] if lines else f"ffprobe exited with {proc.returncode}"
        raise MediaDamagedError(f"{source.name} cannot be opened: {why}", path=str(source))
    video = next((s for s in streams if s.get("codec_type") == "video" and not _attached_picture(s)), None)
    if video is None:
        raise MediaDamagedError(f"{source.name} has no video stream to redact", path=str(source))
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise MediaDamagedError(f"{source.name}: the video stream declares no picture size", path=str(source))
    sample_aspect = _fraction(video.get("sample_aspect_ratio"))
    if _turned(video):
        width, height = height, width
        sample_aspect = 1 / sample_aspect if sample_aspect else None
    rate, rate_source = _FALLBACK_RATE, "fallback"
    for key in ("avg_frame_rate", "r_frame_rate"):
        candidate = _fraction(video.get(key))
        if candidate is not None and _RATE_RANGE[0] <= candidate <= _RATE_RANGE[1]:
            rate, rate_source = candidate, key
            break
    audio = tuple(str(s.get("codec_name") or "unknown") for s in streams if s.get("codec_type") == "audio")
    colour = {key: str(video[key]) for key in ("color_space", "color_primaries", "color_transfer")
              if video.get(key) and video[key] != "unknown"}  # fmt: skip
    return _Source(
        width=width,
        height=height,
        rate=rate,
        rate_source=rate_source,
        sample_aspect=sample_aspect if sample_aspect and sample_aspect != 1 else None,
        video_offset=_seconds(video.get("start_time")) - _seconds(container.get("start_time")),
        audio_codecs=audio,
        colour=colour,
    )


def _attached_picture(stream: dict[str, Any]) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _decode_command(source: Path, info: _Source) -> list[str]:
    # The explicit size is the one the frames already have (a pass-through); it keeps the pipe's framing
    # should the stream change size midway.
    graph = f"fps=fps={info.rate}:round=near,scale={info.width}:{info.height}"
    if info.frame_size != (info.width, info.height):
        graph += ",pad=ceil(iw/2)*2:ceil(ih/2)*2"
    return [find_tool("ffmpeg"), "-nostdin", "-nostats", "-hide_banner", "-v", "warning", "-i", media_input(source),
            "-map", "0:v:0", "-vf", graph, "-fps_mode", "passthrough", "-pix_fmt", "bgr24", "-f", "rawvideo",
            "pipe:1"]  # fmt: skip


def _encode_command(source: Path, temporary: Path, info: _Source, settings: RedactionSettings) -> tuple[list[str], str]:
    """The encoder's command and what it does with the audio."""
    command = [find_tool("ffmpeg"), "-nostdin", "-nostats", "-hide_banner", "-v", "warning",
               "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "{}x{}".format(*info.frame_size),
               "-framerate", str(info.rate)]  # fmt: skip
    if abs(info.video_offset) >= 0.001:
        command += ["-itsoffset", f"{info.video_offset:.6f}"]
    command += ["-i", "pipe:0"]
    if info.audio_codecs:
        command += ["-i", media_input(source)]
    command += ["-map", "0:v"]
    if info.sample_aspect:
        command += ["-vf", f"setsar={info.sample_aspect.numerator}/{info.sample_aspect.denominator}"]
    command += ["-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(settings.crf), "-threads", str(X264_THREADS),
                "-fps_mode", "passthrough"]  # fmt: skip
    # The frames arrive as limited-range BT.601 YUV (OpenCV's conversion). An untagged original stays untagged,
    # so a player shows the copy as it showed the original (ffmpeg read that as BT.601 too); a tagged one says
    # BT.601 now, with its primaries and transfer (which describe the RGB, unchanged) as they were.
    if "color_space" in info.colour:
        command += ["-colorspace", "smpte170m"]
    for key, option in (("color_primaries", "-color_primaries"), ("color_transfer", "-color_trc")):
        if key in info.colour:
            command += [option, info.colour[key]]
    command += ["-color_range", "tv"]
    if not info.audio_codecs:
        audio = "none"
    elif all(codec in AUDIO_COPY_CODECS for codec in info.audio_codecs):
        audio = "copied"
        command += ["-map", "1:a?", "-c:a", "copy"]
    else:
        audio = "re-encoded (aac)"
        command += ["-map", "1:a?", "-c:a", "aac", "-b:a", AUDIO_BITRATE]
    command += ["-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn", "-movflags", "+faststart",
                "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                "-f", "mp4", "-y", f"file:{temporary.absolute()}"]  # fmt: skip
    return command, audio


def _recorded(command: list[str], source: Path, temporary: Path) -> list[str]:
    """The command as provenance: the paths (and the executable's place) replaced by INPUT and OUTPUT."""
    mapping = {media_input(source): "INPUT", f"file:{temporary.absolute()}": "OUTPUT"}
    return ["ffmpeg", *(mapping.get(arg, arg) for arg in command[1:])]


def _complaints(log: IO[bytes]) -> tuple[list[ProbeWarning], list[str]]:
    """ffmpeg's distinct complaints (at most `_MAX_WARNINGS`, the same message at another offset counting once)
    and its last lines, from a log file that may be long (a damaged recording complains about every packet)."""
    log.seek(0)
    seen: dict[str, str] = {}
    tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
    for raw in log:
        text = re.sub(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*", "", raw.decode("utf-8", "replace")).strip()
        if not text:
            continue
        tail.append(text[:500])
        key = re.sub(r"0x[0-9a-f]+|\d+", "#", text)
        if len(seen) < _MAX_WARNINGS:
            seen.setdefault(key, text[:500])
    return [ProbeWarning("EX-MEDIA-DAMAGED-PART", text) for text in seen.values()], list(tail)


def _read_exactly(pipe: IO[bytes], view: memoryview) -> int:
    got = 0
    while got < len(view):
        count = pipe.readinto(view[got:])  # type: ignore[attr-defined]
        if not count:
            break
        got += count
    return got


def _tracks_digest(tracks: Sequence[RedactionTrack]) -> str:
    canonical = [[t.track_key, [[time_s, list(box)] for time_s, box in t.points]] for t in tracks]
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    """A free name next to `target` (same file system, so the final rename is atomic); whatever is left under it
    is removed, so only a complete copy, renamed into place, survives. The writer creates the file, so it gets
    the usual permissions."""
    temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.part"
    try:
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def _check_paths(source: Path, target: Path) -> None:
    if not source.is_file():
        raise MediaMissingError(f"{source} does not exist", path=str(source))
    if target.exists() and os.path.samefile(source, target):
        raise RedactionTargetError(f"the redacted copy would replace its original {source.name}", path=str(source))


@contextlib.contextmanager
def _running(command: list[str], stdin: Any, stdout: Any, stderr: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child process that is gone (killed if need be) and whose pipes are closed once the block ends."""
    proc = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def redact_video(
    source: Path,
    target: Path,
    tracks: Sequence[RedactionTrack],
    settings: RedactionSettings = RedactionSettings(),  # frozen: one shared default is safe
    timeout: float = REDACT_TIMEOUT,
) -> RedactionReport:
    """Writes a copy of the video `source` to `target` (MP4, H.264, the original's audio) with the faces of
    `tracks` obscured.

    Raises:
        MediaMissingError: no such file.
        MediaDamagedError: the file cannot be opened, has no video stream, or no frame of it decodes.
        RedactionTargetError: `target` is `source`.
        RedactionFailedError: ffmpeg failed while decoding or encoding (its last complaints are in the message).
        ToolMissingError, ToolTimeoutError: ffmpeg is absent, or the whole took longer than `timeout` seconds.
    """
    source, target = Path(source), Path(target)
    _check_paths(source, target)
    keys = [track.track_key for track in tracks]
    started = time.monotonic()
    info = _probe_source(source, min(PROBE_TIMEOUT, timeout))
    decode = _decode_command(source, info)
    width, height = info.frame_size
    frame_bytes = width * height * 3
    buffer = bytearray(frame_bytes)
    frame: Pixels = np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3)
    view = memoryview(buffer)
    # Converting to the encoder's YUV here (OpenCV, vectorised) halves what goes down the pipe and spares the
    # encoder's own conversion, which was as slow as x264 itself (measured).
    planar: Pixels = np.empty((height * 3 // 2, width), dtype=np.uint8)
    with (
        _temporary_beside(target) as temporary,
        tempfile.TemporaryFile() as decode_log,
        tempfile.TemporaryFile() as encode_log,
    ):
        encode, audio = _encode_command(source, temporary, info, settings)
        timed_out = threading.Event()
        frames = frames_redacted = boxes_drawn = 0
        short_read = encoder_broke = False
        with (
            _running(decode, subprocess.DEVNULL, subprocess.PIPE, decode_log) as decoder,
            _running(encode, subprocess.PIPE, subprocess.DEVNULL, encode_log) as encoder,
        ):

            def expire() -> None:
                timed_out.set()
                for proc in (decoder, encoder):
                    with contextlib.suppress(OSError):
                        proc.kill()

            # A hostile file can stall ffmpeg with its pipe open; killing both ends every blocked read or write.
            watchdog = threading.Timer(max(0.0, timeout - (time.monotonic() - started)), expire)
            watchdog.daemon = True
            watchdog.start()
            try:
                assert decoder.stdout is not None and encoder.stdin is not None
                while True:
                    got = _read_exactly(decoder.stdout, view)
                    if got < frame_bytes:
                        short_read = got > 0
                        break
                    t = float(frames / info.rate)
                    boxes = [box for track in tracks if (box := track.box_at(t, settings.hold_s)) is not None]
                    drawn = redact_frame(frame, boxes, settings) if boxes else 0
                    frames += 1
                    frames_redacted += drawn > 0
                    boxes_drawn += drawn
                    cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420, dst=planar)
                    try:
                        encoder.stdin.write(planar.data)
                    except (BrokenPipeError, ValueError):
                        encoder_broke = True
                        break
                with contextlib.suppress(OSError, ValueError):
                    encoder.stdin.close()  # the end of the frames: the encoder finishes the file
                if encoder_broke:
                    decoder.kill()
                decoder.wait()
                encoder.wait()
            finally:
                watchdog.cancel()
        if timed_out.is_set():
            raise ToolTimeoutError(f"ffmpeg did not finish the redacted copy within {timeout:.0f} s", tool="ffmpeg")
        warnings, decode_tail = _complaints(decode_log)
        _encode_warnings, encode_tail = _complaints(encode_log)
        if encoder_broke or encoder.returncode != 0:
            raise RedactionFailedError(_failure("encoding", encoder.returncode, encode_tail), tool="ffmpeg")
        if frames == 0:  # a file ffprobe opens but whose pictures are gone: the input's fault, not ffmpeg's
            why = f": {decode_tail[-1]}" if decode_tail else ""
            raise MediaDamagedError(f"no frame of {source.name} decodes{why}", path=str(source))
        if decoder.returncode != 0:
            raise RedactionFailedError(_failure("decoding", decoder.returncode, decode_tail), tool="ffmpeg")
        if short_read:
            warnings.append(ProbeWarning("EX-REDACT-SHORT-FRAME", "the decoder's last frame was incomplete: dropped"))
        if not temporary.is_file() or temporary.stat().st_size == 0:
            raise RedactionFailedError("ffmpeg wrote no redacted copy", tool="ffmpeg")
        os.replace(temporary, target)
    parameters: dict[str, object] = {
        **settings.as_parameters(),
        "tracks": keys,
        "tracks_sha256": _tracks_digest(tracks),
        "time_origin": "first frame of the video",
        "frame_rate": str(info.rate),
        "frame_rate_source": info.rate_source,
        "blur_work_side": BLUR_WORK_SIDE,
        "blur_passes": BLUR_PASSES,
        "pixelate_blocks": PIXELATE_BLOCKS,
        "opencv": cv2.__version__,
        "decode_command": _recorded(decode, source, temporary),
        "encode_command": _recorded(encode, source, temporary),
    }
    return RedactionReport(
        output=target,
        width=width,
        height=height,
        frames=frames,
        frames_redacted=frames_redacted,
        boxes_drawn=boxes_drawn,
        audio=audio,
        tool="ffmpeg, OpenCV",
        tool_version=f"{tool_version('ffmpeg')}; OpenCV {cv2.__version__}",
        parameters=parameters,
        warnings=tuple(warnings),
    )


def _failure(stage: str, returncode: int | None, tail: list[str]) -> str:
    said = " | ".join(tail) if tail else "nothing on stderr"
    return f"ffmpeg failed while {stage} the redacted copy (exit {returncode}): {said}"


# -- photo --------------------------------------------------------------------------------------------------


def redact_photo(
    source: Path,
    target: Path,
    boxes: Sequence[FaceBox],
    settings: RedactionSettings = RedactionSettings(),  # frozen: one shared default is safe
) -> RedactionReport:
    """Writes a copy of the photo `source` to `target` (PNG or JPEG, by its suffix), upright, with `boxes`
    (display coordinates) obscured and no metadata.

    Raises:
        MediaMissingError: no such file.
        NotImageError, PhotoDamagedError: not a picture Pillow reads, or its pixels do not decode.
        PhotoTooLargeError: decoding it would take more memory than the analysers allow.
        RedactionTargetError: `target` is `source`, or its suffix is not .png, .jpg or .jpeg.
    """
    source, target = Path(source), Path(target)
    checked = [_check_box(box) for box in boxes]
    _check_paths(source, target)
    output_format = _PHOTO_FORMATS.get(target.suffix.lower())
    if output_format is None:
        raise RedactionTargetError(f"a redacted photo is written as .png, .jpg or .jpeg, not {target.name}")
    with open_photo(source) as image:
        # The decoded picture and its upright RGB copy exist together for a moment (4 bytes a pixel each).
        if image.width * image.height * 8 > MAX_DECODE_BYTES:
            raise PhotoTooLargeError(f"{image.width}x{image.height} is too large to redact", path=str(source))
        try:
            image.load()
        except Exception as exc:  # Pillow's decoders raise many kinds on damaged data (OSError, ValueError, ...)
            raise PhotoDamagedError(f"the image data does not decode: {exc}", path=str(source)) from exc
        orientation = exif_orientation(image)
        icc_profile = image.info.get("icc_profile")
        ImageOps.exif_transpose(image, in_place=True)
        picture = image if image.mode == "RGB" else image.convert("RGB")
        # Nothing of the original's metadata may reach the copy: Pillow writes some of `info` by default.
        picture.info = {}
        drawn = 0
        for box in checked:
            clip = _clipped(box, settings.padding, picture.width, picture.height)
            if clip is None:
                continue
            region: Pixels = np.array(picture.crop(clip), dtype=np.uint8)
            _redact_region(region, box, settings, (clip[0], clip[1]))
            picture.paste(Image.fromarray(region, "RGB"), (clip[0], clip[1]))
            drawn += 1
        options: dict[str, Any] = {"icc_profile": icc_profile} if icc_profile else {}
        if output_format == "JPEG":
            options |= {"quality": JPEG_QUALITY, "optimize": True}
        else:
            options |= {"compress_level": PNG_COMPRESS_LEVEL}
        with _temporary_beside(target) as temporary:
            picture.save(temporary, output_format, **options)
            os.replace(temporary, target)
        width, height = picture.size
    parameters: dict[str, object] = {
        **{k: v for k, v in settings.as_parameters().items() if k in ("method", "padding", "shape")},
        "boxes": [list(box) for box in checked],
        "orientation_applied": orientation,
        "format": output_format,
        "quality": JPEG_QUALITY if output_format == "JPEG" else None,
        "blur_work_side": BLUR_WORK_SIDE,
        "blur_passes": BLUR_PASSES,
        "pixelate_blocks": PIXELATE_BLOCKS,
        "colour_profile_kept": bool(icc_profile),
    }
    return RedactionReport(
        output=target,
        width=width,
        height=height,
        frames=1,
        frames_redacted=1 if drawn else 0,
        boxes_drawn=drawn,
        audio="none",
        tool="Pillow, OpenCV",
        tool_version=f"Pillow {PIL.__version__}; OpenCV {cv2.__version__}",
        parameters=parameters,
    )
