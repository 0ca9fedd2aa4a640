"""Shared benchmark plumbing: timing a child process with its peak RSS, and writing docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


@dataclass
class Timing:
    seconds: float
    peak_rss_mib: float
    stdout: str = ""


def run_timed(argv: list[str], env: dict[str, str] | None = None) -> Timing:
    """Runs a command to completion; returns its wall time and its own peak RSS.

    GNU time measures the RSS: rusage from os.wait4 would count the pages of this Python process, which the
    child has until it execs.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name, *argv],
            env=env,
            capture_output=True,
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"benchmark command failed: {' '.join(argv)}\n{proc.stderr.decode()}")
        peak_kib = int(rss.read().strip().splitlines()[-1])
    return Timing(elapsed, peak_kib / 1024, proc.stdout.decode())


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"
    )


def write_section(name: str, body: str) -> None:
    """Replaces (or appends) the section between `<!-- bench:NAME -->` markers in docs/benchmarks.md."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = (
        DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\nWritten by `make bench`; numbers from the latest run.\n"
    )
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)


def write_report(name: str, title: str, description: str, *blocks: str) -> None:
    """A benchmark's section: its title, what was measured and on what machine, then tables and verdicts."""
    write_section(name, "\n\n".join([f"## {title}", f"{description} Machine: {machine()}.", *blocks]))
