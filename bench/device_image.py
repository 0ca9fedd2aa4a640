"""Device images: listing + hashing every file, and E01 verification, against Sleuth Kit's and libewf's CLIs.

The bench makes, in a temp folder it deletes afterwards, one volume image of --fs (ext4 through `mkfs.ext4 -d`,
without root; or FAT32 through mkfs.vfat + mcopy): --small-files files of log-normal sizes (median 8 KiB, in
folders of 500) and --large-mib in 64 MiB files, half of them random bytes (like photos and video: they do not
compress) and half text (they do), with a quarter of the volume left free. `ewfacquirestream` turns it into
an E01: EnCase 6 format, deflate at level "fast" (EnCase's default "good" compression), 32 KiB chunks, MD5
and SHA-1 stored, the default 1.4 GiB segment size. In the same run, medians of --runs:

- listing: Exhibit's `open_device_image` + `list_volumes` + `walk_file_system` (every entry listed; MD5,
  SHA-1 and SHA-256 of every file; content type sniffed) on the raw image, against what a person scripting
  The Sleuth Kit does: `fls -r -p` for the listing, one `icat` per allocated regular file (a bash loop) into a
  folder, then `hashdeep -c md5,sha1,sha256 -r` over it. hashdeep alone is reported too. Exhibit's walk of the
  E01 is shown as well (what the pipeline does with an E01), without an anchor.
- verification: `verify_device_image` (MD5 + SHA-1 + SHA-256 in one pass, compared with the stored digests,
  libewf's checksum errors collected) on the E01, against `ewfverify -q` (MD5 only, its default), `-d sha1`
  (every stored digest) and `-d sha1,sha256` (the same three digests). Exhibit's verification of the raw
  image (the same hashing, nothing to inflate) shows what the container costs.

Ratio = anchor seconds / Exhibit seconds (above 1: Exhibit is faster). Targets (issue 7): listing >= 1.5x,
verification >= 1.0x against `ewfverify -q`. Exhibit's rows are timed in their process after imports; every
row's peak RSS is GNU time's (for a script, its largest process). The page cache is warm for every row.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timing, median, run_timed, write_report

_WALK = """
import hashlib, json, sys, time
from forensics.device_files import walk_file_system
from forensics.device_image import list_volumes, open_device_image
start = time.perf_counter()
entries = hashed = 0
md5s = []
with open_device_image(sys.argv[1:]) as image:
    for volume in list_volumes(image):
        if volume.file_system is None:
            continue
        for row in walk_file_system(image.img_info, volume.start, volume=volume.index):
            entries += 1
            if row.md5 is not None:
                hashed += row.size or 0
                if row.file_type == "regular" and not row.virtual and not row.deleted:
                    md5s.append(row.md5)
    unreadable = len(image.unreadable)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "entries": entries, "bytes": hashed, "files": len(md5s),
                  "md5s": hashlib.sha256("\\n".join(sorted(md5s)).encode()).hexdigest(), "unreadable": unreadable}))
"""

_VERIFY = """
import json, sys, time
from forensics.device_image import open_device_image, verify_device_image
start = time.perf_counter()
with open_device_image(sys.argv[1:]) as image:
    result = verify_device_image(image)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "verified": result.verified, "md5": result.computed.md5,
                  "warnings": [w.code for w in result.warnings]}))
"""

# One icat per allocated regular file, as a person scripting TSK would; each icat is a process that loads TSK.
_ICAT_LOOP = r"""
image=$1 list=$2 out=$3 n=0
while IFS= read -r line; do
  case $line in
    "r/r "[0-9]*) ;;  # allocated regular files (a deleted one reads "r/r * 123:")
    *) continue ;;
  esac
  inode=${line#r/r }
  inode=${inode%%:*}
  icat "$image" "$inode" > "$out/$n"
  n=$((n + 1))
done < "$list"
echo "$n"
"""

WALK_RAW = "listing: exhibit walk_file_system, raw image"
FLS = "listing: fls -r -p"
ICAT = "listing: icat per allocated file"
HASHDEEP = "listing: hashdeep -c md5,sha1,sha256 -r (alone)"
TSK_TOTAL = "listing: fls + icat + hashdeep"
WALK_E01 = "listing: exhibit walk_file_system, the E01"
VERIFY_E01 = "verify: exhibit verify_device_image, the E01"
EWF_MD5 = "verify: ewfverify -q (MD5)"
EWF_SHA1 = "verify: ewfverify -q -d sha1"
EWF_ALL = "verify: ewfverify -q -d sha1,sha256"
VERIFY_RAW = "verify: exhibit verify_device_image, raw image"

_TOOLS = ["fls", "icat", "hashdeep", "ewfacquirestream", "ewfverify", "/usr/bin/time"]
_FS_TOOLS = {"ext4": ["mkfs.ext4"], "fat32": ["mkfs.vfat", "mcopy"]}


def _make_source(src: Path, small: int, large_mib: int) -> int:
    """Writes the tree to put in the image; returns its bytes. Sizes and text are seeded, random bytes not."""
    rng = random.Random(7)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10))).encode() for _ in range(4000)]
    pool = bytearray()
    while len(pool) < 8 << 20:
        pool += b" ".join(rng.choices(words, k=12)) + b" %d\n" % rng.randint(0, 10**9)

    def content(size: int, text: bool) -> bytes:
        if not text:
            return os.urandom(size)
        start = rng.randrange(len(pool) - size) if size < len(pool) else 0
        return bytes(pool[start : start + size])

    total = 0
    for i in range(small):
        folder = src / f"d{i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = max(1, min(int(rng.lognormvariate(9, 1.2)), 1 << 20))  # median e^9 = 8 KiB
        (folder / f"f{i:05d}.{'txt' if i % 2 else 'bin'}").write_bytes(content(size, i % 2 == 1))
        total += size
    big = src / "big"
    big.mkdir(parents=True, exist_ok=True)
    for i in range(large_mib // 64):
        with (big / f"large{i:02d}.{'log' if i % 2 else 'mp4'}").open("wb") as handle:
            for _ in range(64):
                handle.write(content(1 << 20, i % 2 == 1))
        total += 64 << 20
    return total


def _make_image(fs: str, src: Path, image: Path, size_mib: int) -> None:
    if fs == "ext4":
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-L", "BENCH", "-d", str(src), str(image), f"{size_mib}M"],
            check=True,
            capture_output=True,
        )
        return
    subprocess.run(["mkfs.vfat", "-F", "32", "-C", str(image), str(size_mib * 1024)], check=True, capture_output=True)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}
    tops = [str(p) for p in sorted(src.iterdir())]
    subprocess.run(["mcopy", "-s", "-i", str(image), *tops, "::/"], check=True, env=env, capture_output=True)


def _make_e01(image: Path, target: Path) -> tuple[list[Path], float]:
    start = time.perf_counter()
    with image.open("rb") as stdin:
        subprocess.run(
            ["ewfacquirestream", "-q", "-c", "deflate:fast", "-d", "sha1", "-C", "bench", "-D", "generated volume",
             "-e", "exhibit bench", "-E", "1", "-N", "bench/device_image.py", "-t", str(target)],
            stdin=stdin, check=True, capture_output=True,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    return sorted(target.parent.glob(target.name + ".E??")), seconds


def _digests_fingerprint(hashdeep_output: str) -> tuple[int, str]:
    md5s = [line.split(",")[1] for line in hashdeep_output.splitlines() if line and line[0] not in "%#"]
    return len(md5s), hashlib.sha256("\n".join(sorted(md5s)).encode()).hexdigest()


def _ewfverify_md5(output: str) -> str | None:
    match = re.search(r"MD5 hash calculated over data:\s*([0-9a-f]{32})", output)
    return match.group(1) if match else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fs", choices=sorted(_FS_TOOLS), default="ext4")
    parser.add_argument("--small-files", type=int, default=4000)
    parser.add_argument("--large-mib", type=int, default=1024, help="in 64 MiB files")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    missing = [t for t in [*_TOOLS, *_FS_TOOLS[args.fs]] if not shutil.which(t)]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (make setup: sleuthkit, hashdeep, ewf-tools, ...)")
    work = Path(tempfile.mkdtemp(prefix="exhibit-bench-device-"))
    results: dict[str, list[Timing]] = {}
    facts: dict[str, Any] = {}
    checks: dict[str, bool] = {}
    try:
        src = work / "src"
        source_bytes = _make_source(src, args.small_files, args.large_mib)
        size_mib = -(-(source_bytes * 4 // 3 + (64 << 20)) // (64 << 20)) * 64  # a quarter free, in 64 MiB steps
        image = work / f"{args.fs}.img"
        _make_image(args.fs, src, image, size_mib)
        shutil.rmtree(src)
        segments, acquire_seconds = _make_e01(image, work / "acquired")
        e01 = [str(p) for p in segments]
        facts.update(size_mib=size_mib, acquire=acquire_seconds, e01_bytes=sum(p.stat().st_size for p in segments))
        facts["segments"] = len(segments)
        listing, extracted = work / "fls.txt", work / "extracted"

        def exhibit(script: str, *argv: str) -> Timing:
            timing = run_timed([sys.executable, "-c", script, *argv])
            facts.update(json.loads(timing.stdout))
            timing.seconds = float(json.loads(timing.stdout)["seconds"])
            return timing

        for n in range(args.runs):
            timings: dict[str, Timing] = {WALK_RAW: exhibit(_WALK, str(image))}
            walked = (facts["files"], facts["md5s"])
            timings[FLS] = run_timed(["fls", "-r", "-p", str(image)])
            listing.write_text(timings[FLS].stdout)
            facts["fls_lines"] = len(timings[FLS].stdout.splitlines())
            extracted.mkdir()
            timings[ICAT] = run_timed(["bash", "-c", _ICAT_LOOP, "-", str(image), str(listing), str(extracted)])
            facts["icat_files"] = int(timings[ICAT].stdout.strip())
            timings[HASHDEEP] = run_timed(["hashdeep", "-c", "md5,sha1,sha256", "-r", str(extracted)])
            checks["the walk and hashdeep agree on every allocated file's MD5"] = walked == _digests_fingerprint(
                timings[HASHDEEP].stdout
            )
            shutil.rmtree(extracted)
            parts = [timings[FLS], timings[ICAT], timings[HASHDEEP]]
            timings[TSK_TOTAL] = Timing(sum(t.seconds for t in parts), max(t.peak_rss_mib for t in parts))
            timings[WALK_E01] = exhibit(_WALK, *e01)
            checks["the walks of the raw image and of the E01 agree"] = walked == (facts["files"], facts["md5s"])
            timings[VERIFY_E01] = exhibit(_VERIFY, *e01)
            checks["verify_device_image verifies the E01"] = facts["verified"] is True
            timings[EWF_MD5] = run_timed(["ewfverify", "-q", *e01])
            same_md5 = _ewfverify_md5(timings[EWF_MD5].stdout) == facts["md5"]
            checks["ewfverify and Exhibit compute the same MD5"] = same_md5
            timings[EWF_SHA1] = run_timed(["ewfverify", "-q", "-d", "sha1", *e01])
            timings[EWF_ALL] = run_timed(["ewfverify", "-q", "-d", "sha1,sha256", *e01])
            timings[VERIFY_RAW] = exhibit(_VERIFY, str(image))
            for name, timing in timings.items():
                results.setdefault(name, []).append(timing)
            print(f"run {n + 1}/{args.runs}: " + ", ".join(f"{k} {v.seconds:.2f} s" for k, v in timings.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seconds = {k: median([t.seconds for t in v]) for k, v in results.items()}
    rss = {k: max(t.peak_rss_mib for t in v) for k, v in results.items()}
    exhibit_row = {FLS: WALK_RAW, ICAT: WALK_RAW, HASHDEEP: WALK_RAW, TSK_TOTAL: WALK_RAW}
    exhibit_row |= {EWF_MD5: VERIFY_E01, EWF_SHA1: VERIFY_E01, EWF_ALL: VERIFY_E01}
    rows = ["| what | seconds (median) | anchor / Exhibit | peak RSS MiB |", "|---|---:|---:|---:|"]
    for name in results:
        ratio = f"{seconds[name] / seconds[exhibit_row[name]]:.2f}x" if name in exhibit_row else "(Exhibit)"
        label = f"{name} ({facts['icat_files']:,} processes)" if name == ICAT else name
        rows.append(f"| {label} | {seconds[name]:.2f} | {ratio} | {rss[name]:,.0f} |")
    table = "\n".join(rows)
    listing_ratio = seconds[TSK_TOTAL] / seconds[WALK_RAW]
    verify_ratio = seconds[EWF_MD5] / seconds[VERIFY_E01]

    def verdict(ratio: float, target: float) -> str:
        return f"{ratio:.2f}x (target >= {target}x: {'met' if ratio >= target else 'NOT met'})"

    hashed_mib = float(facts["bytes"]) / (1 << 20)
    media_mib = facts["size_mib"]
    verdicts = (
        f"Listing ({facts['entries']:,} entries, {hashed_mib:,.0f} MiB hashed): fls + icat + hashdeep / Exhibit = "
        f"{verdict(listing_ratio, 1.5)}; hashdeep alone / Exhibit = {seconds[HASHDEEP] / seconds[WALK_RAW]:.2f}x; "
        f"Exhibit walks at {hashed_mib / seconds[WALK_RAW]:,.0f} MiB/s on the raw image and "
        f"{hashed_mib / seconds[WALK_E01]:,.0f} MiB/s through the E01. Verification of {media_mib:,} MiB: "
        f"ewfverify (MD5) / Exhibit = {verdict(verify_ratio, 1.0)}; with -d sha1 "
        f"{seconds[EWF_SHA1] / seconds[VERIFY_E01]:.2f}x, with -d sha1,sha256 (the same three digests) "
        f"{seconds[EWF_ALL] / seconds[VERIFY_E01]:.2f}x; Exhibit verifies the E01 at "
        f"{float(media_mib) / seconds[VERIFY_E01]:,.0f} MiB/s and the raw image at "
        f"{float(media_mib) / seconds[VERIFY_RAW]:,.0f} MiB/s."
    )
    agreement = "Checks: " + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()) + "."
    print(table)
    print(verdicts)
    print(agreement)
    if not args.no_docs:
        e01_mib = float(facts["e01_bytes"]) / (1 << 20)
        fs_name = "ext4 (`mkfs.ext4 -d`)" if args.fs == "ext4" else "FAT32 (mkfs.vfat + mcopy)"
        write_report(
            "device_image",
            "Device images: listing and E01 verification against TSK and libewf (`bench/device_image.py`, issue 7)",
            f"A generated {media_mib:,} MiB {fs_name} volume: {args.small_files:,} small files (log-normal sizes, "
            f"median 8 KiB) and {args.large_mib:,} MiB in 64 MiB files, half random bytes and half text, a quarter "
            f"free. The E01: `ewfacquirestream -c deflate:fast -d sha1` (EnCase 6, 32 KiB chunks, MD5 + SHA-1 "
            f"stored), {facts['segments']} segment(s), {e01_mib:,.0f} MiB ({e01_mib / float(media_mib):.0%} of "
            f"the media), acquired in {float(facts['acquire']):.0f} s. Median of {args.runs} runs, warm page "
            "cache. The TSK anchor is what a person scripting it does: `fls -r -p`, one `icat` process per "
            "allocated regular file (a bash loop) into a folder, then `hashdeep -c md5,sha1,sha256 -r` (which "
            "uses every core); its total's peak RSS is the largest of the three. Exhibit's rows are the library "
            "calls timed in their process after imports: `open_device_image` + `list_volumes` + "
            "`walk_file_system` (every entry listed, three digests and the content type of every file), and "
            "`open_device_image` + `verify_device_image` (MD5 + SHA-1 + SHA-256 in one pass, libewf checksum "
            "errors collected). anchor / Exhibit above 1 means Exhibit is faster.",
            table,
            verdicts,
            agreement,
        )


if __name__ == "__main__":
    main()
