"""Video frames and audio analysis: Exhibit's calls against ffmpeg alone, on a generated body-worn-style clip.

The clip: --minutes of 1280x720 30 fps H.264 with a hard cut every 30 s (test pattern, colour bars, noise in
turn) and AAC audio in bursts with silences. In the same run, each Exhibit row is timed against anchors:

- frames (thumbnails + keyframes + contact sheets, `extract_frames` + `make_contact_sheets`) against a bare
  decode of the video stream (`ffmpeg -i clip -map 0:v:0 -f null -`: the least any frame step must do) and the
  exact command Exhibit records, run alone;
- audio (`analyse_audio`: EBU R128, silences, speech segments, waveform) against `ffmpeg -af ebur128 -f null -`
  alone (loudness only, the anchor a user would otherwise run).

Medians of --runs runs, peak RSS of each process (every step streams: it must not grow with the clip).
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

_FRAMES = """
import json, sys, time, tempfile
from pathlib import Path
from forensics.media_probe import probe_media
from forensics.video_frames import extract_frames, make_contact_sheets
source, folder = Path(sys.argv[1]), Path(sys.argv[2])
probe = probe_media(source, decode_check=False)
start = time.perf_counter()
frames = extract_frames(source, folder, probe, timeout=3600)
sheets = make_contact_sheets(frames.thumbnails, folder)
print(json.dumps({"seconds": time.perf_counter() - start, "command": list(frames.command),
                  "thumbnails": len(frames.thumbnails), "keyframes": len(frames.keyframes), "sheets": len(sheets)}))
"""

_AUDIO = """
import json, sys, time
from pathlib import Path
from forensics.audio import analyse_audio
source = Path(sys.argv[1])
start = time.perf_counter()
analysis = analyse_audio(source, timeout=3600)
row = analysis.to_row()
print(json.dumps({"seconds": time.perf_counter() - start, "lufs": row["integrated_lufs"],
                  "silences": len(row["silences"]), "speech": len(row["speech"])}))
"""


def _clip(path: Path, minutes: int) -> None:
    seconds = minutes * 60
    parts = seconds // 30
    sources = ["testsrc2=size=1280x720:rate=30", "smptebars=size=1280x720:rate=30", "mandelbrot=size=1280x720:rate=30"]
    inputs: list[str] = []
    for n in range(parts):
        inputs += ["-f", "lavfi", "-t", "30", "-i", sources[n % len(sources)]]
    graph = "".join(f"[{n}:v]" for n in range(parts)) + f"concat=n={parts}:v=1:a=0[v]"
    # Tone bursts: 2 s of 440 Hz in every 5 s, the rest silence (a call with pauses, for silencedetect).
    audio = f"aevalsrc='0.3*sin(2*PI*440*t)*lt(mod(t,5),2)':s=48000:d={seconds}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", *inputs, "-f", "lavfi", "-i", audio,
         "-filter_complex", graph, "-map", "[v]", "-map", f"{parts}:a", "-c:v", "libx264", "-preset", "ultrafast",
         "-crf", "28", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    if not shutil.which("ffmpeg"):
        raise SystemExit("ffmpeg is not installed (make setup)")
    work = Path(tempfile.mkdtemp(prefix="exhibit-bench-media-"))
    results: dict[str, list[Timing]] = {}
    facts: dict[str, object] = {}
    try:
        clip = work / "bwv-720p30.mp4"
        _clip(clip, args.minutes)

        def exhibit(script: str, *extra: str) -> Timing:
            timing = run_timed([sys.executable, "-c", script, str(clip), *extra])
            facts.update(json.loads(timing.stdout))
            timing.seconds = float(json.loads(timing.stdout)["seconds"])
            return timing

        for n in range(args.runs):
            folder = work / f"frames-{n}"
            folder.mkdir()
            timings = {
                "video: ffmpeg decode alone": run_timed(
                    ["ffmpeg", "-v", "error", "-nostdin", "-i", str(clip), "-map", "0:v:0", "-f", "null", "-"]
                ),
                "video: exhibit frames + contact sheets": exhibit(_FRAMES, str(folder)),
            }
            recorded = [str(a) for a in facts["command"]]  # type: ignore[attr-defined]
            alone = work / f"alone-{n}"
            alone.mkdir()
            bare = [a.replace("INPUT", str(clip)).replace("OUTPUT_DIR", str(alone)) for a in recorded]
            timings["video: the recorded frames command alone"] = run_timed(
                ["bash", "-c", f'cd "{alone}" && "$@"', "-", *bare]
            )
            timings["audio: ffmpeg ebur128 alone"] = run_timed(
                ["ffmpeg", "-v", "error", "-nostdin", "-i", str(clip), "-map", "0:a:0", "-af", "ebur128",
                 "-f", "null", "-"]
            )  # fmt: skip
            timings["audio: exhibit analyse_audio"] = exhibit(_AUDIO)
            for name, timing in timings.items():
                results.setdefault(name, []).append(timing)
            print(f"run {n + 1}/{args.runs}: " + ", ".join(f"{k} {v.seconds:.2f} s" for k, v in timings.items()))
            shutil.rmtree(folder)
            shutil.rmtree(alone)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seconds = {k: median([t.seconds for t in v]) for k, v in results.items()}
    rss = {k: max(t.peak_rss_mib for t in v) for k, v in results.items()}
    anchors = {
        "video: exhibit frames + contact sheets": "video: ffmpeg decode alone",
        "video: the recorded frames command alone": "video: ffmpeg decode alone",
        "audio: exhibit analyse_audio": "audio: ffmpeg ebur128 alone",
    }
    rows = ["| what | seconds (median) | vs its anchor | peak RSS MiB |", "|---|---:|---:|---:|"]
    for name in results:
        ratio = f"{seconds[name] / seconds[anchors[name]]:.2f}x" if name in anchors else "anchor"
        rows.append(f"| {name} | {seconds[name]:.2f} | {ratio} | {rss[name]:,.0f} |")
    table = "\n".join(rows)
    clip_seconds = args.minutes * 60
    frames_speed = clip_seconds / seconds["video: exhibit frames + contact sheets"]
    verdict = (
        f"On {clip_seconds} s of 720p30: frames at {frames_speed:.1f}x "
        f"real time ({facts['thumbnails']} thumbnails, {facts['keyframes']} keyframes, {facts['sheets']} contact "
        f"sheets); audio analysis at {clip_seconds / seconds['audio: exhibit analyse_audio']:.0f}x real time "
        f"({facts['silences']} silences, {facts['speech']} speech segments, {facts['lufs']} LUFS)."
    )
    print(table)
    print(verdict)
    if not args.no_docs:
        write_report(
            "media_analysis",
            "Video frames and audio analysis against ffmpeg alone (`bench/media_analysis.py`, issue 6)",
            f"A generated {args.minutes}-minute 1280x720 30 fps H.264/AAC clip with a cut every 30 s and audio "
            f"in bursts, median of {args.runs} runs. Exhibit's rows are the library calls timed in their process "
            "after imports.",
            table,
            verdict,
        )


if __name__ == "__main__":
    main()
