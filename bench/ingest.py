"""Ingest throughput: `exhibit ingest` (hash x3 + encrypt + store, one pass) against hashing tools alone.

On one generated file (2 GiB by default), in the same run, from the page cache: md5sum, sha256sum and
`hashdeep -c md5,sha1,sha256` only read and hash; `exhibit ingest` also encrypts, writes, fsyncs and records
custody. Every ingest goes into a fresh store, so none is a duplicate no-op. Reports MB/s (10^6 bytes/s),
ratios to the anchors and peak RSS; medians of --runs runs. Targets (issue 3): >= 0.8x md5sum, >= 3.5x hashdeep.
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

EXHIBIT = str(Path(sys.executable).parent / "exhibit")
OURS = "exhibit ingest (data path)"
OURS_CLI = "exhibit ingest (CLI, end to end)"


def generate(path: Path, size: int) -> None:
    block = os.urandom(16 << 20)
    with path.open("wb") as out:
        written = 0
        while written < size:
            piece = block[: min(len(block), size - written)]
            # A counter per block keeps the content from repeating at a fixed period.
            out.write(written.to_bytes(8, "big") + piece[8:])
            written += len(piece)


# Times the library call alone, after imports: the data path whose speed the targets are about.
_LIBRARY_INGEST = """
import json, sys, time
from evidence_store.access import resolve_actor
from evidence_store.intake import IngestRequest, ingest
from evidence_store.system import EvidenceSystem
system = EvidenceSystem.open()
actor = resolve_actor(system, "bench.admin")
start = time.perf_counter()
[outcome] = ingest(system, actor, [sys.argv[1]], IngestRequest(case_ref="BENCH", by="Bench Runner"))
assert outcome.ok, outcome.error
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def _fresh_home(work: Path, name: str) -> dict[str, str]:
    home = work / name
    env = {**os.environ, "EXHIBIT_HOME": str(home), "EXHIBIT_USER": "bench.admin"}
    for var in ("EXHIBIT_STORE", "EXHIBIT_DATABASE_URL", "EXHIBIT_KEYS"):
        env.pop(var, None)
    # The admin creates the case, so is its member, so may ingest into it.
    subprocess.run([EXHIBIT, "init", "--admin", "bench.admin"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [EXHIBIT, "case", "create", "BENCH", "--title", "bench"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    os.sync()  # earlier runs' dirty pages must not be flushed on this run's time
    return env


def ingest_data_path(sample: Path, work: Path, n: int) -> Timing:
    env = _fresh_home(work, f"lib-{n}")
    timing = run_timed([sys.executable, "-c", _LIBRARY_INGEST, str(sample)], env)
    timing.seconds = json.loads(timing.stdout)["seconds"]
    shutil.rmtree(env["EXHIBIT_HOME"])
    return timing


def ingest_cli(sample: Path, work: Path, n: int) -> Timing:
    env = _fresh_home(work, f"cli-{n}")
    timing = run_timed([EXHIBIT, "ingest", str(sample), "--case", "BENCH", "--by", "Bench Runner"], env)
    shutil.rmtree(env["EXHIBIT_HOME"])
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="Where the sample and stores go (default: a temp dir)"
    )
    parser.add_argument("--no-docs", action="store_true", help="Do not update docs/benchmarks.md")
    args = parser.parse_args()

    anchors = {
        "md5sum": ["md5sum"],
        "sha256sum": ["sha256sum"],
        "hashdeep -c md5,sha1,sha256": ["hashdeep", "-c", "md5,sha1,sha256"],
    }
    missing = [argv[0] for argv in anchors.values() if not shutil.which(argv[0])]
    if missing:
        raise SystemExit(f"missing anchor tools: {', '.join(missing)} (make setup installs them)")

    work = Path(tempfile.mkdtemp(prefix="exhibit-bench-", dir=args.workdir))
    try:
        sample = work / "sample.bin"
        size = args.size_mib << 20
        print(f"generating {args.size_mib} MiB sample in {work} ...", flush=True)
        generate(sample, size)
        subprocess.run(["cat", str(sample)], stdout=subprocess.DEVNULL, check=True)  # into the page cache

        results: dict[str, list[Timing]] = {name: [] for name in [*anchors, OURS, OURS_CLI]}
        for n in range(args.runs):
            for name, argv in anchors.items():
                results[name].append(run_timed([*argv, str(sample)]))
            results[OURS].append(ingest_data_path(sample, work, n))
            results[OURS_CLI].append(ingest_cli(sample, work, n))
            line = ", ".join(f"{k} {size / 1e6 / v[-1].seconds:,.0f} MB/s" for k, v in results.items())
            print(f"run {n + 1}/{args.runs}: {line}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    speed = {name: size / 1e6 / median([t.seconds for t in ts]) for name, ts in results.items()}
    rss = {name: max(t.peak_rss_mib for t in ts) for name, ts in results.items()}
    ours = speed[OURS]
    rows = [
        "| tool | what it does | MB/s (median) | ingest data path is | peak RSS MiB |",
        "|---|---|---:|---:|---:|",
    ]
    what = {
        "md5sum": "read + MD5",
        "sha256sum": "read + SHA-256",
        "hashdeep -c md5,sha1,sha256": "read + MD5 + SHA-1 + SHA-256",
        OURS: "read + MD5 + SHA-1 + SHA-256 + AES-256-GCM + write + fsync + catalog + ledger",
        OURS_CLI: "the same, plus process start-up (Python imports: about 1.5 s here)",
    }
    for name in results:
        ratio = "—" if name in (OURS, OURS_CLI) else f"{ours / speed[name]:.2f}x"
        rows.append(f"| {name} | {what[name]} | {speed[name]:,.0f} | {ratio} | {rss[name]:,.0f} |")
    table = "\n".join(rows)
    print(table)
    verdict = (
        f"Targets: >= 0.8x md5sum ({ours / speed['md5sum']:.2f}x), "
        f">= 3.5x hashdeep ({ours / speed['hashdeep -c md5,sha1,sha256']:.2f}x); "
        f"peak RSS of the ingest {max(rss[OURS], rss[OURS_CLI]):.0f} MiB (limit 500)."
    )
    print(verdict)
    if not args.no_docs:
        write_report(
            "ingest",
            "Ingest: one pass of three digests + encryption (`bench/ingest.py`, issue 3)",
            f"{args.size_mib} MiB generated file, from the page cache, median of {args.runs} runs, each ingest "
            "into a fresh local store (encrypted, fsynced). The data path is the library `ingest()` call timed "
            "inside its process after imports; the CLI row is the whole `exhibit ingest` process.",
            table,
            verdict,
        )


if __name__ == "__main__":
    main()
