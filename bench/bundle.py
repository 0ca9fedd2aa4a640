"""Case bundles: `exhibit export` against `tar -cf`, `exhibit verify-bundle` against `sha256sum`, same files.

The bench builds, in a temp EXHIBIT_HOME (SQLite catalog, local file store: the embedded defaults), a case of
four generated exhibits totalling --size-gib GiB (random bytes, incompressible like video; 40/30/20/10% of the
total), ingested through `exhibit ingest`, and a disclosure officer who is a member of the case. Then, in the
same run, from the page cache, --runs times in turn:

- `tar -cf` of the four plaintext files, against the export: the library `export_bundle()` call timed inside
  its process after imports (the data path: decrypt, check each exhibit's SHA-256 against the catalog, zip,
  custody proofs, signed manifest, EXPORTED events) and the whole `exhibit export` process.
- `sha256sum` of the four plaintext files, against the verification of that bundle: the library
  `verify_bundle()` call timed inside its process after imports (every member's size, SHA-256, MD5 and SHA-1
  recomputed, the zip's CRC-32s, the manifest and checkpoint signatures, every custody proof) and the whole
  `exhibit verify-bundle` process.

After one untimed round: each command's input is read into the page cache and dirty pages are synced just
before it, and every output is deleted once read, so no run pays for another's writes (see `one_run`).
Reports seconds and MB/s (10^6 bytes of exhibits a second), medians, and each process's peak RSS. Targets:
export >= 0.8x tar, verify >= 0.9x sha256sum (ratio = the anchor's time / ours); peak RSS < 500 MB.
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
from bench.ingest import generate

EXHIBIT = str(Path(sys.executable).parent / "exhibit")
CASE = "OP-BUNDLE-BENCH"
OFFICER = "bench.officer"
SHARES = (0.4, 0.3, 0.2, 0.1)

TAR = "tar -cf (the plaintext files)"
EXPORT = "exhibit export (data path)"
EXPORT_CLI = "exhibit export (CLI, end to end)"
SHA256SUM = "sha256sum (the plaintext files)"
VERIFY = "exhibit verify-bundle (data path)"
VERIFY_CLI = "exhibit verify-bundle (CLI, end to end)"
EXPORT_ENC = "exhibit export --encrypt (data path)"
VERIFY_ENC = "exhibit verify-bundle, encrypted (data path)"
PASSPHRASE = "a bench passphrase of some length"

# Each times the library call alone, after imports: the data path whose speed the targets are about.
_LIBRARY_EXPORT = f"""
import json, sys, time
from pathlib import Path
from evidence_store.access import resolve_actor
from evidence_store.bundles import export_bundle
from evidence_store.system import EvidenceSystem
system = EvidenceSystem.open()
actor = resolve_actor(system, "{OFFICER}")
start = time.perf_counter()
passphrase = sys.argv[2] if len(sys.argv) > 2 else None
outcome = export_bundle(
    system, actor, "{CASE}", Path(sys.argv[1]), recipient="CPS bench", reason="benchmark", passphrase=passphrase
)
print(json.dumps({{"seconds": time.perf_counter() - start, "bytes": outcome.bytes_written}}))
"""

_LIBRARY_VERIFY = """
import json, sys, time
from pathlib import Path
from evidence_store.bundle_verify import verify_bundle
start = time.perf_counter()
report = verify_bundle(Path(sys.argv[1]), passphrase=sys.argv[2] if len(sys.argv) > 2 else None)
seconds = time.perf_counter() - start
assert report.ok, report.problems
print(json.dumps({"seconds": seconds, "files": report.files_checked}))
"""


def build(work: Path, size: int) -> tuple[dict[str, str], list[Path]]:
    """A fresh store holding the case, its exhibits (the returned plaintext files) and the officer."""
    home = work / "home"
    env = {**os.environ, "EXHIBIT_HOME": str(home), "EXHIBIT_USER": "bench.admin"}
    for var in ("EXHIBIT_STORE", "EXHIBIT_DATABASE_URL", "EXHIBIT_KEYS"):
        env.pop(var, None)
    files = work / "exhibits"
    files.mkdir()
    samples = []
    for n, share in enumerate(SHARES, 1):
        sample = files / f"bwv-{n}.mp4"
        generate(sample, int(size * share) // 4096 * 4096)
        samples.append(sample)

    def exhibit(*argv: str) -> None:
        subprocess.run([EXHIBIT, *argv], env=env, check=True, stdout=subprocess.DEVNULL)

    # The admin creates the case (so is its member) and ingests; export needs a disclosure officer of the case.
    exhibit("init", "--admin", "bench.admin")
    exhibit("case", "create", CASE, "--title", "bundle bench")
    exhibit("ingest", *map(str, samples), "--case", CASE, "--by", "Bench Runner")
    exhibit("user", "add", OFFICER, "--role", "disclosure_officer")
    exhibit("case", "add-member", CASE, OFFICER)
    return {**env, "EXHIBIT_USER": OFFICER}, samples


def _timed_inside(argv: list[str], env: dict[str, str] | None = None) -> Timing:
    """A child's run, its time replaced by the one it measured itself after imports."""
    timing = run_timed(argv, env)
    timing.seconds = json.loads(timing.stdout)["seconds"]
    return timing


def _warm(paths: list[Path]) -> None:
    """Reads files into the page cache. This VM pages out what has gone unread for about a minute (DAMON), so
    each command's input is read again just before it runs: every command starts from the page cache."""
    subprocess.run(["cat", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)


def one_run(env: dict[str, str], samples: list[Path], work: Path, results: dict[str, list[Timing]]) -> None:
    """One timed run of each command, in turn, its input cached and everything synced before each.

    An output is deleted once read, so no export writes while another 2 GiB bundle is still cached, and each of
    the three writers (tar, the two exports) starts right after the previous output was deleted: on this kind of
    VM, page-cache pages freed long before can cost a host page fault when written again, and those freed a
    moment ago do not, so the writers start alike.
    """
    tar_out, bundle, sealed = work / "anchor.tar", work / "bundle.zip", work / "bundle.zip.enc"
    objects = [p for p in (Path(env["EXHIBIT_HOME"]) / "store" / "objects").rglob("*") if p.is_file()]
    names = [p.name for p in samples]
    export_cli = ["export", "--case", CASE, "--recipient", "CPS bench", "--reason", "benchmark", "--out", str(bundle)]
    steps: list[tuple[str, list[str], bool, list[Path], Path | None]] = [
        (SHA256SUM, ["sha256sum", *map(str, samples)], False, samples, None),
        (TAR, ["tar", "-cf", str(tar_out), "-C", str(samples[0].parent), *names], False, samples, tar_out),
        (EXPORT, [sys.executable, "-c", _LIBRARY_EXPORT, str(bundle)], True, objects, None),
        (VERIFY, [sys.executable, "-c", _LIBRARY_VERIFY, str(bundle)], True, [bundle], bundle),
        (EXPORT_CLI, [EXHIBIT, *export_cli], False, objects, None),
        (VERIFY_CLI, [EXHIBIT, "verify-bundle", str(bundle)], False, [bundle], bundle),
        (EXPORT_ENC, [sys.executable, "-c", _LIBRARY_EXPORT, str(sealed), PASSPHRASE], True, objects, None),
        (VERIFY_ENC, [sys.executable, "-c", _LIBRARY_VERIFY, str(sealed), PASSPHRASE], True, [sealed], sealed),
    ]
    for name, argv, inside, inputs, done_with in steps:
        _warm(inputs)
        os.sync()
        results[name].append(_timed_inside(argv, env) if inside else run_timed(argv, env))
        if done_with is not None:
            done_with.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=2.0, help="Total size of the case's exhibits")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="Where the store and files go (a temp dir)")
    parser.add_argument("--no-docs", action="store_true", help="Do not update docs/benchmarks.md")
    args = parser.parse_args()
    for tool in ("tar", "sha256sum", "/usr/bin/time"):
        if not shutil.which(tool):
            raise SystemExit(f"missing tool: {tool} (make setup installs it)")

    work = Path(tempfile.mkdtemp(prefix="exhibit-bench-bundle-", dir=args.workdir))
    order = [TAR, EXPORT, EXPORT_CLI, EXPORT_ENC, SHA256SUM, VERIFY, VERIFY_CLI, VERIFY_ENC]  # the table's order
    results: dict[str, list[Timing]] = {name: [] for name in order}
    try:
        size = int(args.size_gib * 2**30)
        print(f"generating and ingesting {args.size_gib:g} GiB in {work} ...", flush=True)
        env, samples = build(work, size)
        total = sum(p.stat().st_size for p in samples)
        # An untimed round first: the first writes of a fresh VM's memory cost more than any later one's.
        one_run(env, samples, work, {name: [] for name in order})
        load = [os.getloadavg()[0]]
        for n in range(args.runs):
            one_run(env, samples, work, results)
            line = ", ".join(f"{k} {v[-1].seconds:.2f} s" for k, v in results.items())
            print(f"run {n + 1}/{args.runs}: {line}", flush=True)
        load.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, total, load, args)


def report(results: dict[str, list[Timing]], total: int, load: list[float], args: argparse.Namespace) -> None:
    seconds = {name: median([t.seconds for t in ts]) for name, ts in results.items()}
    rss = {name: max(t.peak_rss_mib for t in ts) for name, ts in results.items()}
    versus = {
        TAR: EXPORT,
        EXPORT: TAR,
        EXPORT_CLI: TAR,
        EXPORT_ENC: TAR,
        SHA256SUM: VERIFY,
        VERIFY: SHA256SUM,
        VERIFY_CLI: SHA256SUM,
        VERIFY_ENC: SHA256SUM,
    }
    what = {
        TAR: "read + write",
        EXPORT: "decrypt + SHA-256 check + zip (CRC-32) + write; proofs, signed manifest, EXPORTED events",
        EXPORT_CLI: "the same, plus process start-up",
        SHA256SUM: "read + SHA-256",
        VERIFY: "read + zip CRC-32 + SHA-256 + MD5 + SHA-1 of every member; signatures, custody proofs",
        VERIFY_CLI: "the same, plus process start-up",
        EXPORT_ENC: "the export, the zip encrypted as it is written (AES-256-GCM, scrypt key)",
        VERIFY_ENC: "the verification, read through the decryption",
    }
    rows = [
        "| what | does | seconds (median) | MB/s | anchor time / ours | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in results:
        ratio = "anchor" if name in (TAR, SHA256SUM) else f"{seconds[versus[name]] / seconds[name]:.2f}x"
        rows.append(
            f"| {name} | {what[name]} | {seconds[name]:.2f} | {total / 1e6 / seconds[name]:,.0f} | {ratio} "
            f"| {rss[name]:,.0f} |"
        )
    table = "\n".join(rows)
    print(table)

    def met(ratio: float, target: float) -> str:
        return f"{ratio:.2f}x (target >= {target}x: {'met' if ratio >= target else 'NOT met'})"

    peak = max(rss.values())
    export, verify = seconds[TAR] / seconds[EXPORT], seconds[SHA256SUM] / seconds[VERIFY]
    verdict = (
        f"Targets: export / tar {met(export, 0.8)}, end to end {seconds[TAR] / seconds[EXPORT_CLI]:.2f}x; "
        f"verify / sha256sum {met(verify, 0.9)}, end to end {seconds[SHA256SUM] / seconds[VERIFY_CLI]:.2f}x; "
        f"peak RSS of export and verify {peak:.0f} MiB (limit 500: {'met' if peak < 500 else 'NOT met'})."
    )
    print(verdict)
    if not args.no_docs:
        write_report(
            "bundle",
            "Case bundles: export against tar, offline verification against sha256sum (`bench/bundle.py`)",
            f"A case of {len(SHARES)} generated exhibits ({total / 2**30:.2f} GiB of random bytes, "
            f"{', '.join(f'{s:.0%}' for s in SHARES)} of it) ingested into a fresh local store (SQLite catalog, "
            "local file store, encrypted), exported as a disclosure officer and the bundle verified, against "
            "`tar -cf` and `sha256sum` of the same plaintext files; one untimed round, then the median of "
            f"{args.runs} runs, each command's input read into the page cache and dirty pages synced just before "
            "it, every output deleted once read. The data "
            "path rows are the library calls timed inside their processes after imports; the CLI rows are the "
            "whole processes. MB/s: 10^6 bytes of exhibits a second. The machine's 1-minute load average was "
            f"{load[0]:.1f} before the timed runs and {load[-1]:.1f} after.",
            table,
            verdict,
        )


if __name__ == "__main__":
    main()
