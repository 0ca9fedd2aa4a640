"""Review proxy: Exhibit's `make_review_proxy` against the same ffmpeg command alone, on a generated 720p30 clip.

In the same run: the anchor is the exact ffmpeg command Exhibit records as provenance, run by itself on the
same input; Exhibit's row is the library call (plan + ffmpeg + checks). A second anchor runs the same command
with x264's default threading, to show what the byte-identical (single-threaded) choice costs. Medians of
--runs runs; peak RSS of each. Target (issue 6): Exhibit's overhead over the bare command <= 3%.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timing, median, run_timed, write_report

_EXHIBIT = """
import json, sys, time
from pathlib import Path
from forensics.media_probe import probe_media
from forensics.transcode import make_review_proxy
source, target = Path(sys.argv[1]), Path(sys.argv[2])
probe = probe_media(source, decode_check=False)
start = time.perf_counter()
result = make_review_proxy(source, target, probe, timeout=3600)
print(json.dumps({"seconds": time.perf_counter() - start, "command": list(result.command)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    if not shutil.which("ffmpeg"):
        raise SystemExit("ffmpeg is not installed (make setup)")
    work = Path(tempfile.mkdtemp(prefix="exhibit-bench-transcode-"))
    try:
        clip = work / "bwv-720p30.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size=1280x720:rate=30:duration={args.seconds}", "-f", "lavfi", "-i",
             f"sine=frequency=440:duration={args.seconds}", "-c:v", "libx264", "-preset", "fast", "-crf", "20",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip)],
            check=True,
        )  # fmt: skip
        first = run_timed([sys.executable, "-c", _EXHIBIT, str(clip), str(work / "probe.mp4")])
        recorded = json.loads(first.stdout)["command"]
        bare = [a.replace("INPUT", str(clip)) for a in recorded]

        def anchor(threads: bool) -> list[str]:
            argv = [a for a in bare if a != "OUTPUT"]
            if threads:  # x264's default threading: faster, but the output may differ run to run
                drop = {"-threads", "1", "-x264-params", "threads=1"}
                argv = [a for a in argv if a not in drop]
            return [*argv, str(work / "anchor.mp4"), "-y"]

        results: dict[str, list[Timing]] = {"ffmpeg alone (recorded command)": [], "exhibit make_review_proxy": []}
        results["ffmpeg alone, x264 threaded"] = []
        for n in range(args.runs):
            results["ffmpeg alone (recorded command)"].append(run_timed(anchor(False)))
            target = work / f"proxy-{n}.mp4"
            timing = run_timed([sys.executable, "-c", _EXHIBIT, str(clip), str(target)])
            timing.seconds = json.loads(timing.stdout)["seconds"]
            results["exhibit make_review_proxy"].append(timing)
            results["ffmpeg alone, x264 threaded"].append(run_timed(anchor(True)))
            print(f"run {n + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1].seconds:.2f} s" for k, v in results.items()))
        identical = len({(work / f"proxy-{n}.mp4").read_bytes() for n in range(args.runs)}) == 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seconds = {k: median([t.seconds for t in v]) for k, v in results.items()}
    rss = {k: max(t.peak_rss_mib for t in v) for k, v in results.items()}
    base = seconds["ffmpeg alone (recorded command)"]
    rows = ["| what | seconds (median) | vs the recorded command alone | peak RSS MiB |", "|---|---:|---:|---:|"]
    for name in results:
        rows.append(f"| {name} | {seconds[name]:.2f} | {seconds[name] / base:.3f}x | {rss[name]:,.0f} |")
    table = "\n".join(rows)
    overhead = seconds["exhibit make_review_proxy"] / base - 1
    threading_cost = base / seconds["ffmpeg alone, x264 threaded"]
    verdict = (
        f"Exhibit's overhead over the bare command: {overhead * 100:+.1f}% (target <= 3%). Single-threaded x264 "
        f"(for byte-identical proxies) costs {threading_cost:.2f}x "
        f"the threaded encode here. Proxies of the {args.runs} runs byte-identical: {identical}."
    )
    print(table)
    print(verdict)
    if not args.no_docs:
        write_report(
            "transcode",
            "Review proxy: Exhibit against the same ffmpeg command (`bench/transcode.py`, issue 6)",
            f"A generated {args.seconds} s 1280x720 30 fps H.264/AAC clip, median of {args.runs} runs. "
            "Exhibit's row is the library call timed in its process after imports (planning, ffmpeg, "
            "output checks).",
            table,
            verdict,
        )


if __name__ == "__main__":
    main()
