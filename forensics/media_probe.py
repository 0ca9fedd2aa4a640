"""`media_probe`: what a video or audio file is, from ffprobe, as a typed record.

Three outcomes, as for every analyser:

- not my format: ffprobe finds no container at all in a file that does not look like media either
  (`NotMediaError`, EX-MEDIA-NOT-MEDIA): the caller tries the next analyser;
- damaged but readable: ffprobe describes the file but complains, or no frame of it decodes: a `MediaProbe`
  with `warnings` (a truncated body-worn clip still has a device, a time and a place worth knowing);
- failed: a file that looks like media but that ffprobe cannot open (`MediaDamagedError`,
  EX-MEDIA-DAMAGED), or ffprobe missing or too slow (`ToolMissingError`, `ToolTimeoutError`).

ffprobe runs as a child process with a time limit, so a hostile file can hang nothing. ffmpeg-python's
`probe()` is the same call without a time limit, so it is not used.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from forensics.errors import MediaDamagedError, MediaMissingError, NotMediaError, ToolMissingError, ToolTimeoutError
from forensics.timestamps import read_time

PROBE_TIMEOUT = 60.0
DECODE_TIMEOUT = 60.0
_MAX_TAG_VALUE = 2000  # characters; a tag is metadata, not a payload


@dataclass(frozen=True, slots=True)
class ProbeWarning:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class GeoLocation:
    """A point in decimal degrees (WGS-84), with the tag it came from."""

    latitude: float
    longitude: float
    altitude: float | None
    source: str

    def __post_init__(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValueError(f"not a position on Earth: {self.latitude}, {self.longitude}")


@dataclass(frozen=True, slots=True)
class StreamInfo:
    index: int
    kind: str  # video, audio, subtitle, data, attachment
    codec: str | None
    profile: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    rotation: int = 0  # degrees clockwise to display upright
    sample_rate: int | None = None
    channels: int | None = None
    channel_layout: str | None = None
    bit_rate: int | None = None
    duration: float | None = None
    frames: int | None = None
    language: str | None = None
    handler: str | None = None


@dataclass(frozen=True, slots=True)
class MediaProbe:
    container: str
    container_long_name: str | None
    duration: float | None
    size: int | None
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]
    creation_time: str | None  # as the container states it (ISO 8601, usually UTC with Z)
    make: str | None
    model: str | None
    device_serial: str | None
    officer_id: str | None
    encoder: str | None
    location: GeoLocation | None
    tags: tuple[tuple[str, str], ...]  # every container tag, sorted, values capped
    decodable: bool | None  # a first frame decoded (None: not tried)
    tool: str
    warnings: tuple[ProbeWarning, ...] = field(default=())

    def to_row(self) -> dict[str, Any]:
        """The probe as a row of the `media_probe` table (without the exhibit's id and reference)."""
        video, audio, where = self.video, self.audio, self.location
        when = read_time(self.creation_time, "container creation_time")
        return {
            "container": self.container,
            "container_long_name": self.container_long_name,
            "duration_s": self.duration,
            "size": self.size,
            "bit_rate": self.bit_rate,
            "recorded_at_utc": when.utc if when else None,
            "recorded_at_local": when.local if when else None,
            "time_source": when.source if when else None,
            "time_reliability": when.reliability if when else None,
            "make": self.make,
            "model": self.model,
            "device_serial": self.device_serial,
            "officer_id": self.officer_id,
            "encoder": self.encoder,
            "latitude": where.latitude if where else None,
            "longitude": where.longitude if where else None,
            "altitude_m": where.altitude if where else None,
            "location_source": where.source if where else None,
            "video_codec": video.codec if video else None,
            "width": video.width if video else None,
            "height": video.height if video else None,
            "frame_rate": video.frame_rate if video else None,
            "rotation": video.rotation if video else None,
            "audio_codec": audio.codec if audio else None,
            "sample_rate": audio.sample_rate if audio else None,
            "channels": audio.channels if audio else None,
            "decodable": self.decodable,
            "streams": [
                {**{k: getattr(s, k) for k in StreamInfo.__slots__ if k != "duration"}, "duration_s": s.duration}
                for s in self.streams
            ],
            "tags": list(self.tags),
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "tool": self.tool,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> MediaProbe:
        """The probe again from its `media_probe` row, for a later step that should not run ffprobe twice.

        The container's creation time comes back as the normalised time the row kept.
        """
        location = None
        if row.get("latitude") is not None and row.get("longitude") is not None:
            location = GeoLocation(row["latitude"], row["longitude"], row.get("altitude_m"), row["location_source"])
        streams = tuple(
            StreamInfo(**{k: v for k, v in s.items() if k != "duration_s"}, duration=s.get("duration_s"))
            for s in row.get("streams") or []
        )
        return cls(
            container=row["container"],
            container_long_name=row.get("container_long_name"),
            duration=row.get("duration_s"),
            size=row.get("size"),
            bit_rate=row.get("bit_rate"),
            streams=streams,
            creation_time=row.get("recorded_at_utc") or row.get("recorded_at_local"),
            make=row.get("make"),
            model=row.get("model"),
            device_serial=row.get("device_serial"),
            officer_id=row.get("officer_id"),
            encoder=row.get("encoder"),
            location=location,
            tags=tuple((str(k), str(v)) for k, v in row.get("tags") or []),
            decodable=row.get("decodable"),
            tool=row["tool"],
            warnings=tuple(ProbeWarning(w["code"], w["message"]) for w in row.get("warnings") or []),
        )

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "video"), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "audio"), None)


# -- ISO 6709 -----------------------------------------------------------------------------------------------

_ISO6709 = re.compile(r"^(?P<lat>[+-]\d+(?:\.\d+)?)(?P<lon>[+-]\d+(?:\.\d+)?)(?P<alt>[+-]\d+(?:\.\d+)?)?(?:CRS.*)?/?$")


def _angle(text: str, degree_digits: int) -> float:
    """One ISO 6709 angle: ±DD[.d], ±DDMM[.m] or ±DDMMSS[.s] (DDD for longitude)."""
    sign = -1.0 if text[0] == "-" else 1.0
    whole, _, fraction = text[1:].partition(".")
    extra = len(whole) - degree_digits
    frac = float("0." + fraction) if fraction else 0.0
    if extra == 0:
        value = int(whole) + frac
    elif extra == 2:
        value = int(whole[:degree_digits]) + (int(whole[degree_digits:]) + frac) / 60
    elif extra == 4:
        minutes = int(whole[degree_digits : degree_digits + 2])
        seconds = int(whole[degree_digits + 2 :]) + frac
        value = int(whole[:degree_digits]) + minutes / 60 + seconds / 3600
    else:
        raise ValueError(f"{text!r} is not an ISO 6709 angle")
    return sign * value


def parse_iso6709(text: str, source: str = "iso6709") -> GeoLocation:
    """`+32.0929+034.8620+028.516/` (QuickTime's location) -> latitude, longitude, altitude.

    Raises:
        ValueError: not an ISO 6709 point.
    """
    match = _ISO6709.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an ISO 6709 point")
    altitude = float(match["alt"]) if match["alt"] else None
    return GeoLocation(_angle(match["lat"], 2), _angle(match["lon"], 3), altitude, source)


# -- tags ---------------------------------------------------------------------------------------------------

_LOCATION_KEYS = ("com.apple.quicktime.location.iso6709", "location", "location-eng", "xyz")
_MAKE_KEYS = ("com.apple.quicktime.make", "make", "com.android.manufacturer", "manufacturer")
_MODEL_KEYS = ("com.apple.quicktime.model", "model", "com.android.model", "device_model")
_SERIAL_KEYS = ("com.apple.quicktime.serial", "serial", "serial_number", "serialnumber", "device_serial",
                "camera_serial", "device_id", "deviceid")  # fmt: skip
_OFFICER_KEYS = ("officer", "officer_id", "officerid", "badge", "badge_number", "user_id", "operator", "artist")
_ENCODER_KEYS = ("encoder", "com.apple.quicktime.software", "software", "encoded_by", "com.android.version")


def _first(tags: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = tags.get(key)
        if value and value.strip():
            return value.strip()
    return None


def _clean_tags(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(k).lower(): str(v)[:_MAX_TAG_VALUE] for k, v in raw.items()}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rate(text: Any) -> float | None:
    try:
        rate = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate > 0 else None


def _rotation(stream: Mapping[str, Any], tags: Mapping[str, str]) -> int:
    """Degrees clockwise to turn the picture upright (ffprobe gives the display matrix's counter-clockwise
    angle in side data, or an old-style `rotate` tag that is already clockwise)."""
    for side in stream.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side:
            angle = _float(side["rotation"])
            if angle is not None:
                return round(-angle) % 360
    rotate = _int(tags.get("rotate"))
    return rotate % 360 if rotate is not None else 0


def _stream(raw: Mapping[str, Any]) -> StreamInfo:
    tags = _clean_tags(raw.get("tags"))
    kind = str(raw.get("codec_type") or "data")
    frame_rate = _rate(raw.get("avg_frame_rate")) or _rate(raw.get("r_frame_rate")) if kind == "video" else None
    return StreamInfo(
        index=_int(raw.get("index")) or 0,
        kind=kind,
        codec=raw.get("codec_name"),
        profile=raw.get("profile"),
        width=_int(raw.get("width")),
        height=_int(raw.get("height")),
        frame_rate=frame_rate,
        rotation=_rotation(raw, tags) if kind == "video" else 0,
        sample_rate=_int(raw.get("sample_rate")),
        channels=_int(raw.get("channels")),
        channel_layout=raw.get("channel_layout"),
        bit_rate=_int(raw.get("bit_rate")),
        duration=_float(raw.get("duration")),
        frames=_int(raw.get("nb_frames")),
        language=tags.get("language"),
        handler=tags.get("handler_name"),
    )


# -- running ffprobe ----------------------------------------------------------------------------------------


def media_input(path: Path) -> str:
    """How ffmpeg and ffprobe are told to read a file: `file:` and an absolute path, so that a seized file
    named like a protocol (`concat:...`, `http:...`) is read as the file it is, never followed."""
    return f"file:{path.absolute()}"


def find_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise ToolMissingError(f"{name} is not installed (Debian package ffmpeg)", tool=name)
    return found


def tool_version(name: str = "ffprobe") -> str:
    """`ffprobe 5.1.6-0+deb12u1` and the like: recorded with every result it made.

    Asked once per binary: starting ffmpeg costs a tenth of a second, more than probing a short clip, and every
    step records it. An upgrade replaces the file, which changes its identity and so the answer.
    """
    path = find_tool(name)
    found = os.stat(path)
    return _version_of(path, found.st_ino, found.st_size, found.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _version_of(path: str, _inode: int, _size: int, _mtime_ns: int) -> str:
    proc = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30)
    first = proc.stdout.splitlines()[0] if proc.stdout else os.path.basename(path)
    match = re.match(r"(\S+) version (\S+)", first)
    return f"{match[1]} {match[2]}" if match else first


def _stderr_warnings(stderr: str) -> list[ProbeWarning]:
    lines = []
    for line in stderr.splitlines():
        text = re.sub(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*", "", line).strip()
        if text and text not in lines:
            lines.append(text)
    return [ProbeWarning("EX-MEDIA-DAMAGED-PART", text[:500]) for text in lines[:20]]


def probe_media(
    path: str | Path, *, looks_like_media: bool = True, timeout: float = PROBE_TIMEOUT, decode_check: bool = True
) -> MediaProbe:
    """Probes a video or audio file.

    `looks_like_media` is the content-type verdict (magic bytes): when ffprobe finds no container, a file that
    looked like media is damaged (failed), and one that did not is simply not media.

    Raises:
        MediaMissingError: no such file.
        NotMediaError: no media container found in a file that does not look like media.
        MediaDamagedError: a file that looks like media that ffprobe cannot open at all.
        ToolMissingError, ToolTimeoutError: ffprobe is absent, or took longer than `timeout`.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaMissingError(f"{path} does not exist", path=str(path))
    command = [
        find_tool("ffprobe"),
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "--",
        media_input(path),
    ]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolTimeoutError(f"ffprobe did not finish within {timeout:.0f} s", tool="ffprobe") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    try:
        document = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except ValueError:
        document = {}
    container = (document.get("format") or {}) if isinstance(document, dict) else {}
    raw_streams = document.get("streams") or [] if isinstance(document, dict) else []
    if proc.returncode != 0 or not container:
        reason = _stderr_warnings(stderr)
        why = reason[-1].message if reason else f"ffprobe exited with {proc.returncode}"
        if not looks_like_media:
            raise NotMediaError(f"{path.name} is not a media file ffprobe knows: {why}", path=str(path))
        raise MediaDamagedError(f"{path.name} looks like media but cannot be opened: {why}", path=str(path))
    tags = _clean_tags(container.get("tags"))
    streams = tuple(_stream(s) for s in raw_streams if isinstance(s, dict))
    warnings = _stderr_warnings(stderr)
    location = None
    location_text = _first(tags, _LOCATION_KEYS)
    if location_text:
        try:
            location = parse_iso6709(location_text, source="container location tag (ISO 6709)")
        except ValueError:
            warnings.append(ProbeWarning("EX-MEDIA-BAD-LOCATION", f"location tag {location_text!r} is not ISO 6709"))
    creation = tags.get("creation_time") or next(
        (t for s in raw_streams if isinstance(s, dict) for t in [_clean_tags(s.get("tags")).get("creation_time")] if t),
        None,
    )
    if not any(s.kind in ("video", "audio") for s in streams):
        warnings.append(ProbeWarning("EX-MEDIA-NO-AV-STREAM", "no video or audio stream was found"))
    av_streams = [s for s in streams if s.kind in ("video", "audio")]
    if av_streams and not _float(container.get("duration")) and not any(s.duration for s in av_streams):
        message = "it declares no duration: a header without its body, or a recording cut short"
        warnings.append(ProbeWarning("EX-MEDIA-NO-DURATION", message))
    decodable = None
    if decode_check and any(s.kind in ("video", "audio") for s in streams):
        decodable = _first_frame_decodes(path, streams)
        if not decodable:
            warnings.append(ProbeWarning("EX-MEDIA-UNDECODABLE", "no frame of it could be decoded"))
    return MediaProbe(
        container=str(container.get("format_name") or "unknown"),
        container_long_name=container.get("format_long_name"),
        duration=_float(container.get("duration")),
        size=_int(container.get("size")),
        bit_rate=_int(container.get("bit_rate")),
        streams=streams,
        creation_time=creation,
        make=_first(tags, _MAKE_KEYS),
        model=_first(tags, _MODEL_KEYS),
        device_serial=_first(tags, _SERIAL_KEYS),
        officer_id=_first(tags, _OFFICER_KEYS),
        encoder=_first(tags, _ENCODER_KEYS),
        location=location,
        tags=tuple(sorted(tags.items())),
        decodable=decodable,
        tool=tool_version("ffprobe"),
        warnings=tuple(warnings),
    )


def _first_frame_decodes(path: Path, streams: tuple[StreamInfo, ...]) -> bool:
    """Whether ffmpeg decodes one frame of the first video (else audio) stream: a header without a body is
    described by ffprobe but plays nothing. `framemd5` prints one line per decoded frame."""
    kind = "v" if any(s.kind == "video" for s in streams) else "a"
    command = [find_tool("ffmpeg"), "-v", "quiet", "-nostdin", "-i", media_input(path), "-map", f"0:{kind}:0",
               f"-frames:{kind}", "1", "-f", "framemd5", "-"]  # fmt: skip
    try:
        proc = subprocess.run(command, capture_output=True, timeout=DECODE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return any(line and not line.startswith(b"#") for line in proc.stdout.splitlines())
