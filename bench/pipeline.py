"""Pipeline overhead: exhibits through the drop folder and Dagster runs, against `exhibit ingest` and hashdeep.

In the same run, on one folder of generated files (40 x 8 MiB by default), from the page cache:
`hashdeep -c md5,sha1,sha256` and `md5sum` only read and hash; `exhibit ingest FOLDER` stores them all in one
process; the pipeline row drops them into a drop folder (with `.done` markers), lets the intake sensor look
once and executes the `process_exhibit` run it asks for per file (ingest + fixity and custody checks, each run
recorded in DAGSTER_HOME), all in one process as `exhibit demo` does. Reports MB/s, the pipeline's cost per
exhibit over the plain ingest, and peak RSS; medians of --runs runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timing, median, run_timed, write_report
from bench.ingest import _fresh_home, generate, ingest_cli

# Times the sensor look and the runs, after imports (Dagster's take about 2 s here).
_PIPELINE = """
import json, sys, time
from evidence_store.settings import Settings
from pipelines.orchestration import process_drops
settings = Settings.from_env()
start = time.perf_counter()
runs = process_drops(settings, lambda run: None)
assert runs and all(r.status == "SUCCESS" for r in runs), [r.to_dict() for r in runs if r.status != "SUCCESS"]
print(json.dumps({"seconds": time.perf_counter() - start, "runs": len(runs)}))
"""

PIPELINE = "drop folder -> sensor -> process_exhibit runs"
CLI = "exhibit ingest FOLDER (CLI)"


def pipeline(samples: Path, work: Path, n: int, count: int) -> Timing:
    env = _fresh_home(work, f"pipe-{n}")
    drop = Path(env["EXHIBIT_HOME"]) / "intake"
    drop.mkdir(parents=True)
    (Path(env["EXHIBIT_HOME"]) / "intake.toml").write_text(
        f'[[intake]]\nname = "bench"\nfolder = "{drop}"\ncase = "BENCH"\nby = "Bench Runner"\nafter = "keep"\n'
    )
    for sample in sorted(samples.iterdir()):
        os.link(sample, drop / sample.name)  # no copy: the same page-cached bytes
        (drop / f"{sample.name}.done").touch()
    timing = run_timed([sys.executable, "-c", _PIPELINE], env)
    result = json.loads(timing.stdout.strip().splitlines()[-1])
    assert result["runs"] == count, result
    timing.seconds = result["seconds"]
    shutil.rmtree(env["EXHIBIT_HOME"])
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--size-mib", type=int, default=8, help="Size of each file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="exhibit-bench-pipeline-", dir=args.workdir))
    try:
        samples = work / "samples"
        samples.mkdir()
        for i in range(args.files):
            generate(samples / f"item-{i:04d}.bin", args.size_mib << 20)
        total = args.files * (args.size_mib << 20)
        files = [str(p) for p in sorted(samples.iterdir())]
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
        anchors = {
            "hashdeep -c md5,sha1,sha256": ["hashdeep", "-c", "md5,sha1,sha256", *files],
            "md5sum": ["md5sum", *files],
        }
        results: dict[str, list[Timing]] = {name: [] for name in [*anchors, CLI, PIPELINE]}
        for n in range(args.runs):
            for name, argv in anchors.items():
                results[name].append(run_timed(argv))
            results[CLI].append(ingest_cli(samples, work, n))
            results[PIPELINE].append(pipeline(samples, work, n, args.files))
            line = ", ".join(f"{k} {v[-1].seconds:.2f} s" for k, v in results.items())
            print(f"run {n + 1}/{args.runs}: {line}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seconds = {name: median([t.seconds for t in ts]) for name, ts in results.items()}
    rss = {name: max(t.peak_rss_mib for t in ts) for name, ts in results.items()}
    rows = ["| tool | seconds (median) | MB/s | its time / pipeline time | peak RSS MiB |", "|---|---:|---:|---:|---:|"]
    for name in results:
        ratio = "—" if name == PIPELINE else f"{seconds[name] / seconds[PIPELINE]:.2f}x"
        rows.append(
            f"| {name} | {seconds[name]:.2f} | {total / 1e6 / seconds[name]:,.0f} | {ratio} | {rss[name]:,.0f} |"
        )
    table = "\n".join(rows)
    per_exhibit = (seconds[PIPELINE] - seconds[CLI]) / args.files
    verdict = (
        f"Pipeline cost over the one-process CLI ingest: {per_exhibit * 1000:,.0f} ms per exhibit (one Dagster run "
        f"each: run and event storage, fixity re-hash and custody check); peak RSS {rss[PIPELINE]:.0f} MiB (limit 500)."
    )
    print(table)
    print(verdict)
    if not args.no_docs:
        write_report(
            "pipeline",
            "Pipeline: drop folder, sensor and one Dagster run per exhibit (`bench/pipeline.py`, issue 5)",
            f"{args.files} generated files of {args.size_mib} MiB, from the page cache, median of {args.runs} "
            "runs, each into a fresh local store. The pipeline row is timed inside its process after "
            "imports; the CLI row is the whole `exhibit ingest` process (about 1.5 s of it imports).",
            table,
            verdict,
        )


if __name__ == "__main__":
    main()
