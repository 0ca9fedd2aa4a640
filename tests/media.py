"""Generated media for tests: ffmpeg's test sources, with the tags a body-worn camera writes."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


def make_bwv_clip(folder: Path, name: str = "bwv.mp4", seconds: int = 2) -> Path:
    """A 320x240 H.264/AAC clip tagged Axon Body 3, serial X81234567, 2026-11-20T21:14:00Z, at Westminster
    (+51.5007-000.1246, 12 m), with a display matrix that turns it a quarter counter-clockwise."""
    plain = folder / f"plain-{name}"
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}"),
        *("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"),
        *("-metadata", "location=+51.5007-000.1246+012.000/", "-metadata", "make=Axon"),
        *("-metadata", "model=Body 3", "-metadata", "serial_number=X81234567"),
        *("-movflags", "use_metadata_tags", str(plain)),
    )
    clip = folder / name
    ffmpeg(
        *("-i", str(plain), "-c", "copy", "-movflags", "use_metadata_tags", "-metadata:s:v:0", "rotate=90"),
        *("-metadata", "creation_time=2026-11-20T21:14:00Z", str(clip)),
    )
    plain.unlink()
    return clip
