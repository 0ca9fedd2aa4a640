"""`review_proxy`: a copy any browser plays (H.264/AAC MP4, faststart, at most 720p), made by ffmpeg.

The command is fixed by the input's probe and nothing else, so it can be recorded as provenance and run again.
ffmpeg applies the display matrix while decoding (autorotate), so a phone filmed on its side plays upright;
the proxy carries no rotation of its own. Output flags ask for bit-exact muxing (no encoder version string, no
creation time) so the same input and the same ffmpeg give the same bytes; x264 runs single-threaded for the
same reason (measured cost in docs/benchmarks.md).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from forensics.errors import MediaDamagedError, ToolTimeoutError
from forensics.media_probe import MediaProbe, find_tool, media_input, tool_version

PROXY_MAX_HEIGHT = 720
PROXY_MAX_WIDTH = 1280
PROXY_TOOL = "ffmpeg"


@dataclass(frozen=True, slots=True)
class ProxyPlan:
    """The exact ffmpeg arguments (without the executable, input and output paths) and why."""

    arguments: tuple[str, ...]
    has_video: bool
    has_audio: bool


def plan_review_proxy(probe: MediaProbe) -> ProxyPlan:
    """The arguments for a browser-playable proxy of what `probe` describes.

    Raises:
        MediaDamagedError: nothing to make a proxy of (no decodable video or audio stream).
    """
    has_video = probe.video is not None and probe.decodable is not False
    has_audio = probe.audio is not None
    if not has_video and not has_audio:
        raise MediaDamagedError("no decodable video or audio stream to make a review copy of")
    arguments: list[str] = ["-map_metadata", "-1", "-map_chapters", "-1"]
    if has_video:
        # Fit inside 1280x720 (or 720x1280 upright) without upscaling, even dimensions for yuv420p.
        scale = (
            f"scale='min({PROXY_MAX_WIDTH},iw)':'min({PROXY_MAX_HEIGHT},ih)':force_original_aspect_ratio=decrease"
            if (probe.video and (probe.video.rotation or 0) % 180 == 0)
            else f"scale='min({PROXY_MAX_HEIGHT},iw)':'min({PROXY_MAX_WIDTH},ih)':force_original_aspect_ratio=decrease"
        )
        arguments += ["-map", "0:v:0", "-vf", f"{scale},scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p"]
        arguments += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high"]
        arguments += ["-threads", "1", "-x264-params", "threads=1"]
    else:
        arguments += ["-vn"]
    if has_audio:
        arguments += ["-map", "0:a:0?", "-c:a", "aac", "-b:a", "128k", "-ac", "2"]
    else:
        arguments += ["-an"]
    arguments += ["-sn", "-dn", "-movflags", "+faststart", "-fflags", "+bitexact"]
    arguments += ["-flags:v", "+bitexact", "-flags:a", "+bitexact", "-f", "mp4"]
    return ProxyPlan(tuple(arguments), has_video, has_audio)


@dataclass(frozen=True, slots=True)
class ProxyResult:
    path: Path
    command: tuple[str, ...]  # as run, with "INPUT" and "OUTPUT" in place of the paths
    tool_version: str


def make_review_proxy(source: Path, target: Path, probe: MediaProbe, timeout: float) -> ProxyResult:
    """Writes the review proxy of `source` to `target` (a new file).

    Raises:
        MediaDamagedError: ffmpeg could not make it (its last complaint is the message).
        ToolTimeoutError: it ran past `timeout` seconds (the partial output is removed).
    """
    plan = plan_review_proxy(probe)
    command = [find_tool("ffmpeg"), "-nostdin", "-v", "error", "-i", media_input(source), *plan.arguments, str(target)]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        target.unlink(missing_ok=True)
        raise ToolTimeoutError(f"ffmpeg did not finish the review copy within {timeout:.0f} s", tool="ffmpeg") from exc
    if proc.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        target.unlink(missing_ok=True)
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MediaDamagedError(f"ffmpeg could not make a review copy: {lines[-1] if lines else proc.returncode}")
    recorded = ("ffmpeg", "-nostdin", "-v", "error", "-i", "INPUT", *plan.arguments, "OUTPUT")
    return ProxyResult(target, recorded, tool_version("ffmpeg"))
