"""Device listing: `walk_file_system` (list + MD5/SHA-1/SHA-256 of every file) against `fls -r` + `icat` + hashdeep.

Images: the largest shared real ones that hold files (NPS exfat1.E01, NTFS ntfs1-gen0.E01, dfir_ntfs
fat_deleted_dir/ntfs3, gunzipped), plus two generated here so that throughput means something: an ext4 volume
of --small-files 4 KiB files and --large-mib of 64 MiB files, and a FAT32 volume of the same small files.

The anchor is the usual command-line route to the same answer: `fls -r -p` for the listing, one `icat` per
allocated regular file into a folder, then `hashdeep -c md5,sha1,sha256 -r` over that folder. The walker also
lists deleted entries and hashes them, and the anchor does not; both hash every allocated file.

Printed only (docs/benchmarks.md is left to `--docs`); peak RSS is the walker process's own (GNU time).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import run_timed, write_report

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "disk_images"

_WALK = """
import json, sys, time
import pytsk3
from forensics.device_files import walk_file_system
path, offset = sys.argv[1], int(sys.argv[2])
if path.endswith(".E01"):
    import pyewf
    class Ewf(pytsk3.Img_Info):
        def __init__(self, name):
            self._h = pyewf.handle()
            self._h.open(pyewf.glob(name))
            super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)
        def read(self, off, size):
            return self._h.read_buffer_at_offset(size, off)
        def get_size(self):
            return self._h.get_media_size()
    img = Ewf(path)
else:
    img = pytsk3.Img_Info(path)
start = time.perf_counter()
files = dirs = hashed = deleted = 0
for row in walk_file_system(img, offset):
    files += row.file_type != "directory"
    dirs += row.file_type == "directory"
    deleted += row.deleted
    hashed += row.size if row.md5 is not None and row.size else 0
print(json.dumps({"seconds": time.perf_counter() - start, "files": files, "dirs": dirs,
                  "deleted": deleted, "bytes": hashed}))
"""


def _walker(image: Path, offset: int) -> dict[str, float]:
    timing = run_timed([sys.executable, "-c", _WALK, str(image), str(offset)])
    result = json.loads(timing.stdout)
    result["wall"], result["rss"] = timing.seconds, timing.peak_rss_mib
    return result


def _anchor(image: Path, offset: int, work: Path) -> dict[str, float]:
    sector_offset = ["-o", str(offset // 512)] if offset else []
    start = time.perf_counter()
    listing = subprocess.run(["fls", "-r", "-p", *sector_offset, str(image)], capture_output=True, check=True)
    fls_seconds = time.perf_counter() - start
    regular = subprocess.run(
        ["fls", "-r", "-p", "-F", "-u", *sector_offset, str(image)], capture_output=True, check=True
    ).stdout.decode("utf-8", "replace")
    out = work / "icat"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    start = time.perf_counter()
    count = 0
    for line in regular.splitlines():
        meta, _, name = line.partition(":\t")
        if not meta.startswith("r/r") or "$" in name:
            continue
        inode = meta.split()[-1]
        with (out / f"{count}").open("wb") as handle:
            subprocess.run(["icat", *sector_offset, str(image), inode], stdout=handle, check=False)
        count += 1
    icat_seconds = time.perf_counter() - start
    hashing = run_timed(["hashdeep", "-c", "md5,sha1,sha256", "-r", str(out)])
    return {
        "fls": fls_seconds,
        "icat": icat_seconds,
        "hashdeep": hashing.seconds,
        "total": fls_seconds + icat_seconds + hashing.seconds,
        "files": count,
        "listed": len(listing.stdout.splitlines()),
    }


def _make_source(root: Path, small: int, large_mib: int) -> Path:
    src = root / "src"
    if src.exists():
        return src
    for i in range(small):
        folder = src / f"d{i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.bin").write_bytes(os.urandom(4096))
    big = src / "big"
    big.mkdir(parents=True, exist_ok=True)
    for i in range(large_mib // 64):
        with (big / f"large{i}.bin").open("wb") as handle:
            for _ in range(64):
                handle.write(os.urandom(1 << 20))
    return src


def _make_ext4(root: Path, src: Path, size_mib: int) -> Path:
    image = root / "ext4.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(src), str(image), f"{size_mib}M"], check=True)
    return image


def _make_fat32(root: Path, small: int) -> Path:
    image = root / "fat32.img"
    fat_src = root / "fat_src"
    if not fat_src.exists():
        shutil.copytree(root / "src", fat_src, ignore=shutil.ignore_patterns("big"))
    size_kib = max(64 * 1024, small * 8 + 32 * 1024)
    subprocess.run(["mkfs.vfat", "-F", "32", "-C", str(image), str(size_kib)], check=True, capture_output=True)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}
    for folder in sorted(fat_src.iterdir()):
        subprocess.run(["mcopy", "-s", "-i", str(image), str(folder), "::/"], check=True, env=env, capture_output=True)
    return image


def _gunzip(name: str, root: Path) -> Path:
    target = root / name.removesuffix(".gz")
    if not target.exists():
        with gzip.open(SHARED / "dfir_ntfs" / name, "rb") as packed, target.open("wb") as out:
            shutil.copyfileobj(packed, out, 1 << 20)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small-files", type=int, default=20_000)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--no-anchor", action="store_true", help="skip fls + icat + hashdeep")
    parser.add_argument("--docs", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="device-walk-") as tmp:
        root = Path(tmp)
        images: list[tuple[str, Path, int]] = [
            ("NPS exfat1.E01 (exFAT in GPT)", SHARED / "nps" / "exfat1.E01", 2048 * 512),
            ("NPS ntfs1-gen0.E01 (516 MB NTFS)", SHARED / "nps" / "ntfs1-gen0.E01", 0),
            ("dfir_ntfs fat_deleted_dir (64 MiB FAT32)", _gunzip("fat_deleted_dir.raw.gz", root), 0),
            ("dfir_ntfs ntfs3 (64 MiB NTFS)", _gunzip("ntfs3.raw.gz", root), 0),
        ]
        src = _make_source(root, args.small_files, args.large_mib)
        size_mib = args.large_mib + args.small_files * 8 // 1024 + 256
        images.append(
            (f"generated ext4 ({args.small_files} x 4 KiB + {args.large_mib} MiB)", _make_ext4(root, src, size_mib), 0)
        )
        images.append((f"generated FAT32 ({args.small_files} x 4 KiB)", _make_fat32(root, args.small_files), 0))
        rows = []
        for label, image, offset in images:
            walk = _walker(image, offset)
            anchor = None if args.no_anchor or image.suffix == ".E01" else _anchor(image, offset, root)
            entries = walk["files"] + walk["dirs"]
            mib = walk["bytes"] / (1 << 20)
            line = (
                f"| {label} | {entries:.0f} | {mib:.1f} | {walk['seconds']:.2f} | {entries / walk['seconds']:.0f} | "
                f"{mib / walk['seconds']:.0f} | {walk['rss']:.0f} | "
                + (
                    f"{anchor['fls']:.2f} + {anchor['icat']:.2f} + {anchor['hashdeep']:.2f} = {anchor['total']:.2f}"
                    f" ({anchor['files']:.0f} files) |"
                    if anchor
                    else "n/a |"
                )
            )
            print(line, flush=True)
            rows.append(line)
        table = "\n".join(
            [
                "| image | entries | MiB hashed | walker s | entries/s | MiB/s | peak RSS MiB "
                "| fls + icat + hashdeep s |",
                "|---|---|---|---|---|---|---|---|",
                *rows,
            ]
        )
        print(table)
        if args.docs:
            write_report("device_walk", "Device listing", __doc__.split("\n\n")[0], table)


if __name__ == "__main__":
    main()
