"""`thumbnails` and `keyframes`: frames of a video with their timestamps, from one ffmpeg decode.

One pass decodes the first video stream (upright: ffmpeg applies the display matrix) and splits it two ways:
one frame every N seconds for the thumbnails (and the contact sheets made from them), and the first frame plus
every frame whose scene-change score passes a threshold for the keyframes (scaled to at most 640 px wide).
Decoding is the cost of both, so both come from the same decode.

Timestamps are the frames' own presentation times, taken from ffmpeg (`showinfo` for the thumbnails, the
`metadata` filter for the keyframes with their scene scores), measured from the first frame, not computed from
the interval, so a variable-frame-rate phone clip still says exactly which moment a frame shows.

Nothing here is stored: the caller records the contact sheets and keyframes as derivatives with the command
as provenance. The JPEGs are encoded bit-exact, so the same input and the same ffmpeg give the same bytes.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from forensics.errors import MediaDamagedError, ToolTimeoutError
from forensics.media_probe import MediaProbe, ProbeWarning, find_tool, media_input, tool_version
from forensics.photo_metadata import phash

FRAME_MAX_WIDTH = 640  # keyframes are for looking at and, later, for finding faces in
THUMBNAIL_BOX = 320  # thumbnails fit in a 320 x 320 square, whichever way up the video is
MAX_THUMBNAILS = 500  # a 10-hour recording still gets a thumbnail every 72 s, on 13 contact sheets
MAX_KEYFRAMES = 200  # past this the strongest scene changes are kept, with a warning
SCENE_THRESHOLD = 0.3  # ffmpeg's scene score (0..1); 0.3 catches cuts and large camera moves, not walking
SHEET_COLUMNS = 5
SHEET_ROWS = 8
_CAPTION_HEIGHT = 22
_GAP = 4

_SHOWINFO = re.compile(r"^\[Parsed_showinfo_\d+ @ [^\]]+\] n:\s*(\d+) pts:\s*(-?\d+) pts_time:(-?[\d.]+)")
_META_FRAME = re.compile(r"^frame:(\d+)\s+pts:(-?\d+)\s+pts_time:(-?[\d.]+)")
_META_SCORE = re.compile(r"^lavfi\.scene_score=([\d.]+)")


def thumbnail_interval(duration: float | None) -> float:
    """Seconds between thumbnails: about 20 for a short clip, one every 10 s for longer ones, and never more
    than MAX_THUMBNAILS in all (a whole shift of body-worn video stays a few contact sheets)."""
    if not duration or duration <= 0:
        return 10.0
    every = min(10.0, max(1.0, duration / 20))
    return round(max(every, duration / MAX_THUMBNAILS), 3)


@dataclass(frozen=True, slots=True)
class VideoFrame:
    kind: str  # "thumbnail" or "keyframe"
    index: int  # 0-based within its kind, in time order
    time_s: float  # from the first frame of the video
    path: Path
    width: int
    height: int
    scene_score: float | None = None  # keyframes only; the first frame has none
    phash: str | None = None  # keyframes only: near-duplicate search across a case


@dataclass(frozen=True, slots=True)
class VideoFrames:
    thumbnails: tuple[VideoFrame, ...]
    keyframes: tuple[VideoFrame, ...]
    interval_s: float
    scene_threshold: float
    command: tuple[str, ...]  # as run, with INPUT and OUTPUT_DIR in place of the paths
    tool_version: str
    warnings: tuple[ProbeWarning, ...] = field(default=())


def _frame_command(source: Path, folder: Path, interval: float, threshold: float) -> list[str]:
    box = THUMBNAIL_BOX
    # Scaling every decoded frame cost as much again as the decode (measured); so frames are chosen at full
    # size, where the scene score is also computed, and only the chosen few are scaled.
    graph = (
        "[0:v:0]split=2[t][k];"
        f"[t]select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval})',showinfo,"
        f"scale=w='if(gte(iw\\,ih)\\,min({box}\\,iw)\\,-2)':h='if(gte(iw\\,ih)\\,-2\\,min({box}\\,ih))'[tout];"
        f"[k]select='eq(n\\,0)+gt(scene\\,{threshold})',metadata=mode=print:file=keyframes.txt,"
        f"scale=w='min({FRAME_MAX_WIDTH},iw)':h=-2[kout]"
    )
    jpeg = ["-fps_mode", "passthrough", "-q:v", "3", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-f", "image2"]
    return [
        *(find_tool("ffmpeg"), "-nostdin", "-nostats", "-v", "info", "-i", media_input(source)),
        *("-filter_complex", graph),
        *("-map", "[tout]", *jpeg, str(folder / "thumbnail_%06d.jpg")),
        *("-map", "[kout]", *jpeg, str(folder / "keyframe_%06d.jpg")),
    ]


def extract_frames(
    source: Path,
    folder: Path,
    probe: MediaProbe,
    *,
    timeout: float,
    every: float | None = None,
    scene_threshold: float = SCENE_THRESHOLD,
) -> VideoFrames:
    """Writes thumbnails and keyframes of `source` as JPEGs into `folder` (an empty folder of the caller's).

    Args:
        source: the video.
        folder: where the frames go.
        probe: the video's probe (for its duration and whether it has a decodable video stream).
        timeout: seconds ffmpeg may run.
        every: seconds between thumbnails; by default `thumbnail_interval(probe.duration)`.
        scene_threshold: ffmpeg scene score above which a frame starts a new scene.

    Raises:
        MediaDamagedError: no video stream, or no frame of it decodes.
        ToolTimeoutError: ffmpeg ran past `timeout` (the frames written so far are removed).
    """
    if probe.video is None or probe.decodable is False:
        raise MediaDamagedError(f"{source.name} has no decodable video stream to take frames from")
    interval = float(every) if every and every > 0 else thumbnail_interval(probe.duration)
    command = _frame_command(source, folder, interval, scene_threshold)
    # keyframes.txt is written relative to the working directory by the metadata filter.
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=stderr, timeout=timeout, cwd=folder)
        except subprocess.TimeoutExpired as exc:
            for leftover in folder.glob("*.jpg"):
                leftover.unlink()
            raise ToolTimeoutError(f"ffmpeg did not finish the frames within {timeout:.0f} s", tool="ffmpeg") from exc
        stderr.seek(0)
        log = stderr.read().decode("utf-8", "replace")
    thumbnail_times = [float(m[3]) for line in log.splitlines() if (m := _SHOWINFO.match(line))]
    keyframe_log = folder / "keyframes.txt"
    keyframe_times = _keyframe_log(keyframe_log.read_text() if keyframe_log.exists() else "")
    keyframe_log.unlink(missing_ok=True)
    thumbnail_files = sorted(folder.glob("thumbnail_*.jpg"))
    keyframe_files = sorted(folder.glob("keyframe_*.jpg"))
    if proc.returncode != 0 or not thumbnail_files:
        complaints = [line for line in log.splitlines() if "rror" in line]
        why = complaints[-1] if complaints else f"ffmpeg exited with {proc.returncode}"
        raise MediaDamagedError(f"no frame of {source.name} could be taken: {why}")
    warnings: list[ProbeWarning] = []
    if len(thumbnail_times) != len(thumbnail_files) or len(keyframe_times) != len(keyframe_files):
        warnings.append(
            ProbeWarning("EX-VIDEO-FRAME-TIMES", "ffmpeg's frame log and the frames it wrote do not agree in number")
        )
    start = min(thumbnail_times[:1] + [t for t, _s in keyframe_times[:1]], default=0.0)
    thumbnails = tuple(
        _frame("thumbnail", i, path, (thumbnail_times[i] if i < len(thumbnail_times) else math.nan) - start)
        for i, path in enumerate(thumbnail_files)
    )
    keyframes: list[tuple[Path, float, float | None]] = []
    for i, path in enumerate(keyframe_files):
        time, score = keyframe_times[i] if i < len(keyframe_times) else (math.nan, None)
        keyframes.append((path, time - start, score))
    if keyframes:
        keyframes[0] = (keyframes[0][0], keyframes[0][1], None)  # the start of the video, not a scene change
    if len(keyframes) > MAX_KEYFRAMES:
        ranked = sorted(keyframes[1:], key=lambda k: (-(k[2] or 0.0), k[1]))
        for path, _time, _score in ranked[MAX_KEYFRAMES - 1 :]:
            path.unlink()
        message = f"{len(ranked) - MAX_KEYFRAMES + 1} weaker scene changes dropped: at most {MAX_KEYFRAMES} kept"
        keyframes = [keyframes[0], *sorted(ranked[: MAX_KEYFRAMES - 1], key=lambda k: k[1])]
        warnings.append(ProbeWarning("EX-VIDEO-KEYFRAMES-CAPPED", message))
    return VideoFrames(
        thumbnails=thumbnails,
        keyframes=tuple(
            _frame("keyframe", i, path, time, score, with_phash=True) for i, (path, time, score) in enumerate(keyframes)
        ),
        interval_s=interval,
        scene_threshold=scene_threshold,
        command=tuple(_recorded(command, source, folder)),
        tool_version=tool_version("ffmpeg"),
        warnings=tuple(warnings),
    )


def _keyframe_log(text: str) -> list[tuple[float, float | None]]:
    """(pts_time, scene score) per keyframe, from the metadata filter's log."""
    frames: list[tuple[float, float | None]] = []
    for line in text.splitlines():
        if m := _META_FRAME.match(line):
            frames.append((float(m[3]), None))
        elif (m := _META_SCORE.match(line)) and frames:
            frames[-1] = (frames[-1][0], float(m[1]))
    return frames


def _frame(
    kind: str, index: int, path: Path, time: float, score: float | None = None, *, with_phash: bool = False
) -> VideoFrame:
    with Image.open(path) as image:
        width, height = image.size
        digest = phash(image) if with_phash else None
    return VideoFrame(kind, index, round(time, 3), path, width, height, score, digest)


def _recorded(command: list[str], source: Path, folder: Path) -> list[str]:
    recorded = ["ffmpeg", *command[1:]]
    recorded[recorded.index(media_input(source))] = "INPUT"
    return [arg.replace(str(folder), "OUTPUT_DIR") for arg in recorded]


# -- contact sheets -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SheetTile:
    thumbnail: int  # index of the thumbnail it shows
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ContactSheet:
    page: int  # 1-based
    path: Path
    width: int
    height: int
    tiles: tuple[SheetTile, ...]


def clock(seconds: float) -> str:
    """`01:02:03.4`: a position in a recording."""
    if not math.isfinite(seconds):
        return "?"
    tenths = round(seconds * 10)
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    return f"{hours:02d}:{minutes:02d}:{rest / 10:04.1f}"


def wall_clock(start_utc: str | None, seconds: float) -> str | None:
    """The UTC time a frame shows, from the recording's start time (ISO 8601 Z), or None when unknown."""
    if not start_utc or not math.isfinite(seconds):
        return None
    start = datetime.strptime(start_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-5] + "Z"


def make_contact_sheets(
    thumbnails: tuple[VideoFrame, ...],
    folder: Path,
    *,
    start_utc: str | None = None,
    columns: int = SHEET_COLUMNS,
    rows: int = SHEET_ROWS,
) -> tuple[ContactSheet, ...]:
    """Pages of thumbnails in a grid, each captioned with its position in the recording (and its UTC time when
    the recording's start is known), as JPEGs in `folder`. Same thumbnails, same bytes (Pillow's encoder and
    its built-in font, no dates)."""
    if not thumbnails:
        return ()
    cell_w = max(t.width for t in thumbnails)
    cell_h = max(t.height for t in thumbnails) + _CAPTION_HEIGHT
    font = ImageFont.load_default(size=13)
    per_page = columns * rows
    sheets = []
    for page, first in enumerate(range(0, len(thumbnails), per_page), start=1):
        chunk = thumbnails[first : first + per_page]
        used_rows = math.ceil(len(chunk) / columns)
        width = columns * cell_w + (columns + 1) * _GAP
        height = used_rows * cell_h + (used_rows + 1) * _GAP
        sheet = Image.new("RGB", (width, height), (24, 24, 24))
        draw = ImageDraw.Draw(sheet)
        tiles = []
        for slot, thumb in enumerate(chunk):
            x = _GAP + (slot % columns) * (cell_w + _GAP) + (cell_w - thumb.width) // 2
            y = _GAP + (slot // columns) * (cell_h + _GAP)
            with Image.open(thumb.path) as image:
                sheet.paste(image.convert("RGB"), (x, y))
            utc = wall_clock(start_utc, thumb.time_s)
            caption = clock(thumb.time_s) + (f"  {utc[11:21]}Z" if utc else "")
            draw.text((x + 2, y + thumb.height + 4), caption, fill=(230, 230, 230), font=font)
            tiles.append(SheetTile(thumb.index, x, y, thumb.width, thumb.height))
        path = folder / f"contact_sheet_{page:03d}.jpg"
        sheet.save(path, "JPEG", quality=85, optimize=False)
        sheets.append(ContactSheet(page, path, width, height, tuple(tiles)))
    return tuple(sheets)
