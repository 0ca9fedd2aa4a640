"""Review app: the case page of a 10,000-exhibit case in Chromium, and a search over a million device-file rows.

The bench builds, in a temp EXHIBIT_HOME (SQLite catalog, local file store: the embedded defaults), a case of
--exhibits exhibits through the real intake (`evidence_store.intake.ingest`, in batches of --batch paths a
call): small generated files, each distinct — tiny JPEGs (photos), text documents and binaries — and one FAT
volume image (kind `device_image`). That exhibit gets a generated `device_files` table of --rows rows
(`record_table_batches`: a Windows-like NTFS disk, directories and files with names, sizes, MAC times, MD5 /
SHA-1 / SHA-256, about 5% deleted), indexed by `index_device_files`. A second case of 10 exhibits in the same
store is the anchor: the page framework's own floor. The build runs in a child process (its peak RSS apart
from the measurements'); its times are printed and reported. --home keeps the store, and a later run with the
same --home reuses it (and the build times it recorded).

Measured, in the same run:

- the case page: Debian chromium (Playwright) opens the app, fills the sign-in form, and the time runs from
  the click on "Sign in" until the case page shows its row count ("... exhibit(s) match"): the sign-in, the
  case picker and the case page, rendered, for a signed-in user. --runs fresh pages (new browser contexts, so
  new Streamlit sessions) for each case, alternating, after one untimed sign-in each (the first after the
  server starts imports the pages; it is reported apart). Ratio: the 10,000-exhibit case / the 10-exhibit one.
- the device-file search: `search_device_files` (what the Search page calls: authorised, recorded as a view),
  in this process, for a name that matches nothing, a name that matches many, a SHA-256 and an MD5, 7 runs
  each; anchor: the same SQL through the sqlite3 module on the catalog file. And the whole Search page in the
  browser for the SHA-256: from the click on "Search" to the result shown, median of 3.
- where the case page's time goes: the service calls it makes (`member_cases`, `case_overview`,
  `exhibit_page`) timed in this process for both cases; and the case page again with the server started with
  `--runner.postScriptGC false` (Streamlit's full `gc.collect()` after every script run off).
- peak RSS: the Streamlit server's (VmHWM at the end of the browser runs) and this process's.

Targets (issue 9): the case page < 1.5 s, the file search < 300 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import median, write_report

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "bench-review-app"
BIG, SMALL = "OP-BENCH-10K", "OP-BENCH-SMALL"
BIG_USER, SMALL_USER = "dc.brown", "pc.small"  # investigators, each a member of one case only
BUILD_FACTS = "bench-build.json"
SEARCH_RUNS = 7
SEARCH_PAGE_RUNS = 3

# -- the store ------------------------------------------------------------------------------------------------

_WORD_TEXT = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec "
    "romeo sierra tango uniform victor whiskey xray yankee zulu report invoice statement contract minutes "
    "agenda budget forecast payroll receipt letter notes draft final backup archive export import config "
    "settings profile session cache index journal history bookmarks cookies storage metadata thumbnail preview "
    "update installer service driver kernel network audio video display input security crypto shell explorer "
    "runtime framework library component module plugin extension resource locale manifest policy template"
)
_WORDS = _WORD_TEXT.split()
_VENDOR_TEXT = (
    "Microsoft Google Mozilla Adobe Apple Oracle Intel NVIDIA Realtek Dell HP Lenovo Zoom Dropbox Spotify "
    "VideoLAN 7-Zip Notepad++ WinRAR Steam Discord Slack Python Git Java"
)
_VENDORS = _VENDOR_TEXT.split()
_USERS = ("jsmith", "akhan", "Public", "Default")
_EXTENSIONS = (
    (".dll", "application/x-dosexec", "other", 14),
    (".exe", "application/x-dosexec", "other", 4),
    (".sys", "application/x-dosexec", "other", 2),
    (".mui", "application/octet-stream", "other", 6),
    (".JPG", "image/jpeg", "photo", 8),
    (".png", "image/png", "photo", 6),
    (".mp4", "video/mp4", "bwv", 1),
    (".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", 4),
    (".pdf", "application/pdf", "document", 4),
    (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document", 2),
    (".txt", "text/plain", "document", 5),
    (".log", "text/plain", "document", 6),
    (".xml", "text/xml", "document", 6),
    (".json", "application/json", "document", 4),
    (".ini", "text/plain", "document", 3),
    (".dat", "application/octet-stream", "other", 6),
    ("", "application/octet-stream", "other", 9),  # browser cache entries: f_00a3c1
)


def _jpeg(rng: random.Random) -> bytes:
    from PIL import Image

    size = (rng.randint(8, 48), rng.randint(8, 48))
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=rng.randint(60, 95))
    return out.getvalue()


def _document(rng: random.Random, n: int) -> bytes:
    lines = [f"Statement {n}: " + " ".join(rng.choices(_WORDS, k=12)) for _ in range(rng.randint(3, 60))]
    return ("\n".join(lines) + "\n").encode()


def make_files(folder: Path, count: int, seed: int) -> list[Path]:
    """`count` small distinct files: 60% JPEGs, 30% text documents, 10% binaries; names like a seizure's."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        pick = n % 10
        if pick < 6:
            path, data = folder / f"IMG_{n:05d}.jpg", _jpeg(rng)
        elif pick < 9:
            path, data = folder / f"statement-{n:05d}.txt", _document(rng, n)
        else:
            path, data = folder / f"blob-{n:05d}.bin", rng.randbytes(rng.randint(64, 4096))
        path.write_bytes(data)
        paths.append(path)
    return paths


def make_fat_image(folder: Path) -> Path:
    """A small FAT volume with a few files (what intake sniffs as a raw disk image)."""
    image = folder / "laptop-disk.img"
    subprocess.run(["mkfs.vfat", "-C", "-n", "LAPTOP", str(image), "1440"], check=True, capture_output=True)
    note = folder / "note.txt"
    note.write_text("meet at the usual place\n")
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    for args in (["mmd", "-i", str(image), "::/Users"], ["mcopy", "-i", str(image), str(note), "::/Users/NOTE.TXT"]):
        subprocess.run(args, check=True, capture_output=True, env=env)
    note.unlink()
    return image


def _directories(rng: random.Random, count: int) -> list[str]:
    """A Windows-like directory tree of `count` directories (parents before children)."""
    dirs = ["/Windows", "/Windows/System32", "/Windows/SysWOW64", "/Windows/WinSxS", "/Windows/Temp"]
    dirs += ["/Program Files", "/Program Files (x86)", "/ProgramData", "/Users", "/$Recycle.Bin"]
    for user in _USERS:
        home = f"/Users/{user}"
        dirs += [home, f"{home}/AppData", f"{home}/AppData/Local", f"{home}/AppData/Roaming"]
        dirs += [f"{home}/{d}" for d in ("Documents", "Pictures", "Downloads", "Desktop", "Videos")]
    for vendor in _VENDORS:
        dirs += [f"/Program Files/{vendor}", f"/ProgramData/{vendor}"]
    seen = set(dirs)
    while len(dirs) < count:
        parent = dirs[min(int(rng.expovariate(1 / (len(dirs) / 3))), len(dirs) - 1)]
        if parent.startswith("/Windows/WinSxS"):
            words = f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}"
            build = f"10.0.19041.{rng.randint(1, 4000)}"
            name = f"amd64_microsoft-windows-{words}_31bf3856ad364e35_{build}_none_{rng.randbytes(8).hex()}"
        elif rng.random() < 0.3:
            name = f"{rng.choice(_VENDORS)} {rng.choice(_WORDS).title()}"
        elif rng.random() < 0.4:
            name = f"{rng.choice(_WORDS)}_{rng.randint(1, 999)}"
        else:
            name = rng.choice(_WORDS).title()
        path = f"{parent}/{name}"
        if path not in seen:
            seen.add(path)
            dirs.append(path)
    return dirs


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def device_file_batches(
    exhibit_id: int, exhibit_ref: str, rows: int, seed: int, batch_rows: int = 100_000
) -> Iterator[Any]:
    """The `device_files` rows of a Windows-like disk, in record batches; every column of the schema is there."""
    import pyarrow as pa

    from schemas.tables import DEVICE_FILES

    rng = random.Random(seed)
    dirs = _directories(rng, max(1, rows // 40))
    inode_of = {d: 64 + i for i, d in enumerate(dirs)}
    weights = [w for *_x, w in _EXTENSIONS]
    start, span = 1_420_070_400, 9 * 365 * 86400  # 2015 to 2024
    made = 0
    while made < rows:
        n = min(batch_rows, rows - made)
        cols: dict[str, list[Any]] = {f.name: [] for f in DEVICE_FILES}
        for i in range(made, made + n):
            if i < len(dirs):
                path, file_type = dirs[i], "directory"
                parent, name = path.rsplit("/", 1)
                ext = None
            else:
                parent = dirs[int(rng.paretovariate(0.6)) % len(dirs)] if rng.random() < 0.5 else rng.choice(dirs)
                ext = rng.choices(_EXTENSIONS, weights)[0]
                suffix = ext[0]
                if suffix in (".dll", ".exe", ".sys", ".mui"):
                    stem = f"{rng.choice(_WORDS)}{rng.choice(_WORDS)}{rng.randint(0, 99) if rng.random() < 0.4 else ''}"
                elif suffix in (".JPG", ".png", ".mp4"):
                    stem = f"IMG_{rng.randint(0, 9999):04d}" if rng.random() < 0.6 else f"{rng.choice(_WORDS)}-{i}"
                elif suffix == "":
                    stem = f"f_{rng.randbytes(3).hex()}"
                else:
                    stem = f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}_{rng.randint(2015, 2024)}"
                name, file_type = stem + suffix, "regular"
                path = f"{parent}/{name}"
            deleted = rng.random() < 0.05
            regular = file_type == "regular"
            size = max(0, int(rng.lognormvariate(9.5, 2.2))) if regular else 0
            created = start + rng.randrange(span)
            modified = created + int(rng.expovariate(1 / (30 * 86400)))
            accessed = modified + int(rng.expovariate(1 / (5 * 86400)))
            hashed = regular and size > 0 and (not deleted or rng.random() < 0.7)
            cols["exhibit_id"].append(exhibit_id)
            cols["exhibit_ref"].append(exhibit_ref)
            cols["volume"].append(0)
            cols["path"].append(path)
            cols["name"].append(name)
            cols["inode"].append(inode_of.get(path, 100_000 + i))
            cols["sequence"].append(1 + (rng.random() < 0.1))
            cols["parent_inode"].append(inode_of.get(parent or "/", 5))
            cols["file_type"].append(file_type)
            cols["name_type"].append("r" if regular else "d")
            cols["meta_type"].append("r" if regular else "d")
            cols["virtual"].append(False)
            cols["deleted"].append(deleted)
            cols["name_allocated"].append(not deleted)
            cols["meta_allocated"].append(not deleted)
            cols["size"].append(size)
            cols["nlink"].append(1)
            cols["mtime"].append(_iso(modified))
            cols["atime"].append(_iso(accessed))
            cols["ctime"].append(_iso(modified + rng.randint(0, 5)))
            cols["crtime"].append(_iso(created))
            cols["times_are_local"].append(False)
            cols["md5"].append(rng.randbytes(16).hex() if hashed else None)
            cols["sha1"].append(rng.randbytes(20).hex() if hashed else None)
            cols["sha256"].append(rng.randbytes(32).hex() if hashed else None)
            cols["magic_mime"].append(ext[1] if hashed and ext else None)
            cols["magic_kind"].append(ext[2] if hashed and ext else None)
            cols["recovery_unreliable"].append(False)
            cols["resident"].append(regular and size < 700)
            cols["attr_type"].append(128 if regular else 144)
            cols["alert"].append(False)
        arrays = [pa.array(cols[f.name], type=f.type) if cols[f.name] else pa.nulls(n, f.type) for f in DEVICE_FILES]
        yield pa.RecordBatch.from_arrays(arrays, schema=DEVICE_FILES)
        made += n


def build(home: Path, exhibits: int, rows: int, batch: int) -> dict[str, Any]:
    """Makes the store; returns what was made and how long each part took."""
    from evidence_store.access import add_member, add_user, bootstrap_admin
    from evidence_store.analysis import record_table_batches
    from evidence_store.cases import create_case
    from evidence_store.file_index import index_device_files
    from evidence_store.intake import IngestRequest, ingest
    from evidence_store.settings import Settings
    from evidence_store.system import EvidenceSystem

    facts: dict[str, Any] = {"exhibits": exhibits, "rows": rows, "batch": batch, "ingest_batches": []}
    system, _made = EvidenceSystem.initialise(Settings.from_env({"EXHIBIT_HOME": str(home)}))
    try:
        admin = bootstrap_admin(system, "bench.admin", password=PASSWORD)
        assert admin is not None, "the store already has users"
        analyst = add_user(system, admin, "jane.smith", "analyst", "Jane Smith", password=PASSWORD)
        for user in (BIG_USER, SMALL_USER):
            add_user(system, admin, user, "investigator", password=PASSWORD)
        create_case(system, analyst, SMALL, "Ten exhibits (anchor)", officer_in_charge="DS Green")
        create_case(system, analyst, BIG, "Ten thousand exhibits", officer_in_charge="DI Black")
        add_member(system, admin, SMALL, SMALL_USER)
        add_member(system, admin, BIG, BIG_USER)

        with tempfile.TemporaryDirectory(prefix="exhibit-bench-review-src-") as src:
            start = time.perf_counter()
            image = make_fat_image(Path(src))
            files = make_files(Path(src) / "big", exhibits - 1, seed=1)
            small = make_files(Path(src) / "small", 10, seed=2)
            facts["generate_files_s"] = time.perf_counter() - start
            print(f"generated {len(files) + len(small) + 1:,} files in {facts['generate_files_s']:.1f} s", flush=True)

            def take(case_ref: str, paths: list[Path]) -> list[Any]:
                request = IngestRequest(case_ref=case_ref, by="Jane Smith")
                outcomes: list[Any] = []
                for at in range(0, len(paths), batch):
                    began = time.perf_counter()
                    outcomes += ingest(system, analyst, paths[at : at + batch], request)
                    if case_ref == BIG and len(paths) > 1:
                        facts["ingest_batches"].append((len(paths[at : at + batch]), time.perf_counter() - began))
                    failed = [o for o in outcomes if not o.ok or o.duplicate_of is not None]
                    assert not failed, failed[:3]
                    done = len(outcomes)
                    if done % (batch * 10) == 0 or done == len(paths):
                        rate = done / (time.perf_counter() - start)
                        print(f"  {case_ref}: {done:,}/{len(paths):,} ingested ({rate:,.0f}/s)", flush=True)
                return outcomes

            start = time.perf_counter()
            device = take(BIG, [image])[0]
            assert device.kind == "device_image", device
            take(BIG, files)
            facts["ingest_s"] = time.perf_counter() - start
            start = time.perf_counter()
            take(SMALL, small)
            facts["ingest_small_s"] = time.perf_counter() - start
        print(
            f"ingested {exhibits:,} exhibits in {facts['ingest_s']:.1f} s "
            f"({facts['ingest_s'] / exhibits * 1000:.1f} ms each, batches of {batch})",
            flush=True,
        )

        rng_seed = 3
        picked: dict[str, str] = {}

        def batches() -> Iterator[Any]:
            for record_batch in device_file_batches(device.exhibit_id, device.exhibit_ref, rows, rng_seed):
                if not picked:  # a file from the middle of the first batch, to search for by its digests
                    sha256s, md5s = record_batch.column("sha256").to_pylist(), record_batch.column("md5").to_pylist()
                    at = next(i for i in range(len(sha256s) // 2, len(sha256s)) if sha256s[i])
                    picked.update(sha256=sha256s[at], md5=md5s[at], path=record_batch.column("path")[at].as_py())
                yield record_batch

        start = time.perf_counter()
        record_table_batches(
            system, analyst, device.exhibit_id, "device_files", batches(), tool="bench-review-app", tool_version="1"
        )
        facts["table_s"] = time.perf_counter() - start
        print(f"device_files: {rows:,} rows generated and recorded in {facts['table_s']:.1f} s", flush=True)
        start = time.perf_counter()
        indexed = index_device_files(system, device.exhibit_id)
        facts["index_s"] = time.perf_counter() - start
        assert indexed == rows, (indexed, rows)
        print(f"device_file_index: {indexed:,} rows indexed in {facts['index_s']:.1f} s", flush=True)
        facts.update(device_exhibit=device.exhibit_id, device_ref=device.exhibit_ref, picked=picked)
    finally:
        system.close()
    facts["catalog_mib"] = (home / "catalog.db").stat().st_size / (1 << 20)
    (home / BUILD_FACTS).write_text(json.dumps(facts, indent=2))
    return facts


# -- searching ------------------------------------------------------------------------------------------------


def _timed(call: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    times, answer = [], None
    for _ in range(runs):
        start = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - start)
    return times, answer


def _statements(call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SELECTs on device_file_index that `call` sends to the database, with their parameters."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "device_file_index" in statement:
            seen.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", grab)
    try:
        call()
    finally:
        event.remove(Engine, "before_cursor_execute", grab)
    return seen


def measure_searches(home: Path, picked: dict[str, str]) -> list[dict[str, Any]]:
    """search_device_files against the SQL it sends, run through the sqlite3 module, for four kinds of query."""
    from evidence_store.access import resolve_actor
    from evidence_store.file_index import escape_like, search_device_files
    from evidence_store.settings import Settings
    from evidence_store.system import EvidenceSystem

    system = EvidenceSystem.open(Settings.from_env({"EXHIBIT_HOME": str(home)}))
    raw = sqlite3.connect(f"file:{home / 'catalog.db'}?mode=ro", uri=True)
    try:
        actor = resolve_actor(system, BIG_USER)
        (case_id,) = raw.execute("SELECT id FROM cases WHERE reference = ?", (BIG,)).fetchone()
        queries = [
            ("name matching nothing", "zq-no-such-file"),
            ("name matching many (`report`)", "report"),
            ("SHA-256 of one file", picked["sha256"]),
            ("MD5 of one file", picked["md5"]),
        ]
        results = []
        for label, text in queries:
            if len(text) in (32, 64):
                where, args = f"case_id = ? AND {'md5' if len(text) == 32 else 'sha256'} = ?", (case_id, text)
            else:
                where, args = "case_id = ? AND name_lower LIKE ? ESCAPE '\\'", (case_id, f"%{escape_like(text)}%")
            (matching,) = raw.execute(f"SELECT count(*) FROM device_file_index WHERE {where}", args).fetchone()
            # The untimed first call (its statements compile) shows the SQL the search sends.
            sent = _statements(lambda t=text: search_device_files(system, actor, BIG, t))
            exhibit_times, found = _timed(lambda t=text: search_device_files(system, actor, BIG, t), SEARCH_RUNS)
            assert len(found) == min(matching, 100), (label, len(found), matching)

            def replay(statements: list[tuple[str, Any]] = sent) -> None:
                for statement, parameters in statements:
                    raw.execute(statement, parameters).fetchall()

            raw_times, _ = _timed(replay, SEARCH_RUNS)
            # The plan of the statement that searches (the others look up builds or fetch the rows found).
            main_sql, parameters = next(
                ((q, a) for q, a in sent if "FROM device_file_index WHERE" in " ".join(q.split()) and "ORDER BY" in q),
                sent[0],
            )
            plan = " / ".join(r[-1] for r in raw.execute(f"EXPLAIN QUERY PLAN {main_sql}", parameters))
            results.append(
                {
                    "label": label,
                    "matching": matching,
                    "returned": len(found),
                    "exhibit_ms": median(exhibit_times) * 1000,
                    "exhibit_max_ms": max(exhibit_times) * 1000,
                    "sqlite_ms": median(raw_times) * 1000,
                    "statements": len(sent),
                    "plan": plan,
                }
            )
            print(
                f"search {label}: {results[-1]['exhibit_ms']:.1f} ms (its {len(sent)} statement(s) through sqlite3 "
                f"{results[-1]['sqlite_ms']:.2f} ms), {matching:,} match, {len(found)} returned; plan: {plan}; "
                f"SQL: {' ; '.join(' '.join(q.split()) for q, _p in sent)}",
                flush=True,
            )
        return results
    finally:
        raw.close()
        system.close()


def profile_case_page(home: Path, picked: dict[str, str]) -> dict[str, dict[str, float]]:
    """The service calls the sign-in and the case page make, timed in this process (ms, median of 5)."""
    from evidence_store import review
    from evidence_store.access import authenticate
    from evidence_store.settings import Settings
    from evidence_store.system import EvidenceSystem

    system = EvidenceSystem.open(Settings.from_env({"EXHIBIT_HOME": str(home)}))
    try:
        out: dict[str, dict[str, float]] = {}
        for case_ref, user in ((BIG, BIG_USER), (SMALL, SMALL_USER)):
            actor = authenticate(system, user, PASSWORD)
            calls: dict[str, Callable[[], Any]] = {
                "authenticate (scrypt)": lambda u=user: authenticate(system, u, PASSWORD),
                "member_cases": lambda a=actor: review.member_cases(system, a),
                "case_overview": lambda a=actor, c=case_ref: review.case_overview(system, a, c),
                "exhibit_page (first 50)": lambda a=actor, c=case_ref: review.exhibit_page(
                    system, a, c, review.ExhibitFilter(), 0, 50
                ),
            }
            if case_ref == BIG:
                calls["search_case (the Search page), SHA-256"] = lambda a=actor: review.search_case(
                    system, a, BIG, picked["sha256"]
                )
            out[case_ref] = {}
            for name, call in calls.items():
                call()
                out[case_ref][name] = median(_timed(call, 5)[0]) * 1000
            print(f"{case_ref}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in out[case_ref].items()), flush=True)
        return out
    finally:
        system.close()


# -- the browser ----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_browser(
    home: Path, picked: dict[str, str], runs: int, log: Path, extra: tuple[str, ...] = (), search: bool = True
) -> dict[str, Any]:
    """The browser runs against a review app started as `exhibit serve` starts it (plus `extra` options)."""
    from playwright.sync_api import sync_playwright

    from pipelines.orchestration import review_command

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXHIBIT_", "DAGSTER_"))}
    env.update({"EXHIBIT_HOME": str(home), "EXHIBIT_DAGSTER_URL": "http://127.0.0.1:9"})
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        command = [*review_command("127.0.0.1", port), *extra]
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the review app did not start; see {log}")
            time.sleep(0.3)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                result = _browser_runs(browser, url, picked, runs, _exhibit_counts(home), search)
            finally:
                browser.close()
        result["server_rss_mib"] = _peak_rss_mib(server.pid)
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


# Records in the page's own clock when a button is clicked and when each WebSocket message (Streamlit's
# protocol) goes out and comes in, so a run splits into the server's part and the browser's.
_PROBE = """
window.__bench = {click: null, sent: [], recv: [], shown: null};
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", () => window.__bench.recv.push(performance.now()));
  }
  send(data) {
    window.__bench.sent.push(performance.now());
    return super.send(data);
  }
};
document.addEventListener("click", (e) => {
  if (e.target.closest && e.target.closest("button")) window.__bench.click = performance.now();
}, true);
"""
# Polled at every animation frame: the moment `text` is in the page.
_SHOWN = """(text) => {
  if (document.body && document.body.textContent.includes(text)) {
    window.__bench.shown = performance.now();
    return true;
  }
  return false;
}"""


def _sign_in(browser: Any, url: str, user: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(_PROBE)
    page.goto(url)
    page.get_by_label("User name", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    return page


def _click_until(page: Any, button: Any, text: str) -> dict[str, float]:
    """Clicks `button` and waits until `text` is in the page. Seconds: `shown` from the click event to the text
    (the page's clock); `server` from the click to the last message received before the text appeared;
    `browser` from that message to the text; `driver` the same span as `shown`, timed here around
    Playwright's click (it adds its own checks and round trips)."""
    button.wait_for()
    page.evaluate("() => { window.__bench.click = null; window.__bench.recv = []; window.__bench.sent = []; }")
    start = time.perf_counter()
    button.click()
    page.wait_for_function(_SHOWN, arg=text, polling="raf", timeout=120_000)
    driver = time.perf_counter() - start
    probe = page.evaluate("() => window.__bench")
    click, shown = probe["click"], probe["shown"]
    before = [t for t in probe["recv"] if click <= t <= shown]
    last = max(before) if before else click
    return {
        "shown": (shown - click) / 1000,
        "server": (last - click) / 1000,
        "browser": (shown - last) / 1000,
        "driver": driver,
    }


def _case_page(browser: Any, url: str, user: str, exhibits: int) -> dict[str, float]:
    """From the click on "Sign in" until the case page shows its row count."""
    page = _sign_in(browser, url, user)
    try:
        timing = _click_until(page, page.get_by_role("button", name="Sign in"), "exhibit(s) match")
        shown = page.get_by_text("exhibit(s) match").inner_text()
        assert f"{exhibits:,} exhibit(s) match" in shown, shown
        page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
        return timing
    finally:
        page.context.close()


def _search_page(browser: Any, url: str, sha256: str) -> dict[str, float]:
    """From the click on "Search" until the Search page shows the device file with that SHA-256."""
    page = _sign_in(browser, f"{url}/search", BIG_USER)
    try:
        page.get_by_role("button", name="Sign in").click()
        box = page.get_by_role("textbox", name="Search")
        box.wait_for(timeout=120_000)
        box.fill(sha256)
        timing = _click_until(page, page.get_by_role("button", name="Search"), "Files on device images")
        shown = page.get_by_text("result(s) for").inner_text()
        assert shown.startswith("1 result(s)"), shown
        return timing
    finally:
        page.context.close()


def _exhibit_counts(home: Path) -> dict[str, int]:
    raw = sqlite3.connect(f"file:{home / 'catalog.db'}?mode=ro", uri=True)
    try:
        query = "SELECT c.reference, count(e.id) FROM cases c JOIN exhibits e ON e.case_id = c.id GROUP BY c.id"
        return {str(ref): int(n) for ref, n in raw.execute(query).fetchall()}
    finally:
        raw.close()


def _browser_runs(
    browser: Any, url: str, picked: dict[str, str], runs: int, counts: dict[str, int], search: bool
) -> dict[str, Any]:
    def show(timing: dict[str, float]) -> str:
        return f"{timing['shown']:.3f} s (server {timing['server']:.3f}, browser {timing['browser']:.3f})"

    cold = _case_page(browser, url, BIG_USER, counts[BIG])  # the server's first session: imports the pages
    print(f"first sign-in after the server started (untimed warm-up): {show(cold)}", flush=True)
    _case_page(browser, url, SMALL_USER, counts[SMALL])
    big, small = [], []
    for n in range(runs):
        big.append(_case_page(browser, url, BIG_USER, counts[BIG]))
        small.append(_case_page(browser, url, SMALL_USER, counts[SMALL]))
        print(f"case page run {n + 1}/{runs}: {BIG} {show(big[-1])}; {SMALL} {show(small[-1])}", flush=True)
    searches = []
    for n in range(SEARCH_PAGE_RUNS if search else 0):
        searches.append(_search_page(browser, url, picked["sha256"]))
        print(f"Search page run {n + 1}/{SEARCH_PAGE_RUNS}: {show(searches[-1])}", flush=True)
    return {"cold": cold, "big": big, "small": small, "search_page": searches, "counts": counts}


# -- the report -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exhibits", type=int, default=10_000, help="exhibits in the big case (one a device image)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="device_files rows of its device image")
    parser.add_argument("--batch", type=int, default=500, help="paths per ingest call")
    parser.add_argument("--runs", type=int, default=5, help="case page renders per case")
    parser.add_argument(
        "--home", type=Path, help="keep the store here; a store built there before is reused (its build times too)"
    )
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)  # the child that builds
    args = parser.parse_args()
    if args.build_only:
        start = time.perf_counter()
        facts = build(args.home, args.exhibits, args.rows, args.batch)
        facts["build_s"] = time.perf_counter() - start
        (args.home / BUILD_FACTS).write_text(json.dumps(facts, indent=2))
        return
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (make setup installs Debian chromium)")
    home = args.home.resolve() if args.home else Path(tempfile.mkdtemp(prefix="exhibit-bench-review-"))
    try:
        if (home / BUILD_FACTS).exists():
            facts = json.loads((home / BUILD_FACTS).read_text())
            print(f"reusing the store in {home} (built earlier: {facts['exhibits']:,} exhibits)", flush=True)
        else:
            facts = _build_in_child(home, args)
        print(f"build: {facts['build_s']:.0f} s; catalog {facts['catalog_mib']:,.0f} MiB", flush=True)
        load = [os.getloadavg()[0]]
        searches = measure_searches(home, facts["picked"])
        profile = profile_case_page(home, facts["picked"])
        browser = measure_browser(home, facts["picked"], args.runs, home.parent / f"{home.name}-review.log")
        print("again, the server started with --runner.postScriptGC false:", flush=True)
        no_gc = measure_browser(
            home,
            facts["picked"],
            args.runs,
            home.parent / f"{home.name}-review-nogc.log",
            extra=("--runner.postScriptGC", "false"),
            search=False,
        )
        load.append(os.getloadavg()[0])
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    bench_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    facts["load"] = load
    report(args, facts, searches, profile, browser, no_gc, bench_rss)


def _build_in_child(home: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Builds the store in a process of its own, under GNU time for its peak RSS."""
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        argv = [sys.executable, str(Path(__file__).resolve()), "--build-only", "--home", str(home)]
        argv += ["--exhibits", str(args.exhibits), "--rows", str(args.rows), "--batch", str(args.batch)]
        subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name, *argv], check=True)
        peak_kib = int(rss.read().strip().splitlines()[-1])
    facts: dict[str, Any] = json.loads((home / BUILD_FACTS).read_text())
    facts["build_rss_mib"] = peak_kib / 1024
    (home / BUILD_FACTS).write_text(json.dumps(facts, indent=2))
    return facts


def report(
    args: argparse.Namespace,
    facts: dict[str, Any],
    searches: list[dict[str, Any]],
    profile: dict[str, dict[str, float]],
    browser: dict[str, Any],
    no_gc: dict[str, Any],
    bench_rss: float,
) -> None:
    exhibits, rows, small_n = facts["exhibits"], facts["rows"], browser["counts"][SMALL]

    def ms(runs: list[dict[str, float]], part: str = "shown", how: Callable[[list[float]], float] = median) -> float:
        return how([r[part] for r in runs]) * 1000

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    def row(label: str, runs: list[dict[str, float]], versus: str, target: str = "—") -> str:
        return (
            f"| {label} | {ms(runs):,.0f} | {ms(runs, how=max):,.0f} | {ms(runs, 'server'):,.0f} / "
            f"{ms(runs, 'browser'):,.0f} | {ms(runs, 'driver'):,.0f} | {versus} | {target} |"
        )

    big, small = ms(browser["big"]), ms(browser["small"])
    big_no_gc, small_no_gc = ms(no_gc["big"]), ms(no_gc["small"])
    case_page = "sign in → the case page shows its row count"
    no_gc_flag = "server started with `--runner.postScriptGC false`"
    page_table = "\n".join(
        [
            "| in Chromium | median ms | max ms | of it server / browser, median ms | through Playwright's click, "
            "median ms | vs its anchor | target |",
            "|---|---:|---:|---:|---:|---:|---:|",
            row(f"{case_page}: {small_n:,} exhibits", browser["small"], "anchor"),
            row(f"{case_page}: {exhibits:,} exhibits", browser["big"], f"{big / small:.2f}x", "< 1,500"),
            row(
                f"Search page: press Search → the file with that SHA-256 among {rows:,} rows (median of "
                f"{SEARCH_PAGE_RUNS})",
                browser["search_page"],
                "—",
            ),
            row(f"{case_page}: {small_n:,} exhibits, {no_gc_flag}", no_gc["small"], "anchor"),
            row(f"{case_page}: {exhibits:,} exhibits, {no_gc_flag}", no_gc["big"], f"{big_no_gc / small_no_gc:.2f}x"),
        ]
    )
    search_rows = [
        f"| `search_device_files` over {rows:,} rows | matching rows | returned | median ms | max ms "
        "| its SQL alone, through the sqlite3 module, median ms | vs its SQL alone | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for q in searches:
        search_rows.append(
            f"| {q['label']} | {q['matching']:,} | {q['returned']} | {q['exhibit_ms']:.1f} | {q['exhibit_max_ms']:.1f} "
            f"| {q['sqlite_ms']:.2f} | {q['exhibit_ms'] / max(q['sqlite_ms'], 0.001):,.1f}x | < 300 |"
        )
    search_table = "\n".join(search_rows)
    ingest_ms = facts["ingest_s"] / exhibits * 1000
    first, last = facts["ingest_batches"][0], facts["ingest_batches"][-1]
    build_table = "\n".join(
        [
            "| building the store | seconds |",
            "|---|---:|",
            f"| generate {exhibits + small_n:,} files and the FAT image | {facts['generate_files_s']:,.1f} |",
            f"| ingest {exhibits:,} exhibits, {facts['batch']} paths an `ingest` call ({ingest_ms:.1f} ms an "
            f"exhibit; the first {first[0]:,} at {first[1] * 1000 / first[0]:.1f} ms each, the last {last[0]:,} at "
            f"{last[1] * 1000 / last[0]:.1f} ms each) | {facts['ingest_s']:,.0f} |",
            f"| generate and record the {rows:,}-row `device_files` table (`record_table_batches`) "
            f"| {facts['table_s']:,.0f} |",
            f"| `index_device_files` | {facts['index_s']:,.0f} |",
            f"| the whole build, one process (peak RSS {facts.get('build_rss_mib', float('nan')):,.0f} MiB; "
            f"catalog {facts['catalog_mib']:,.0f} MiB) | {facts['build_s']:,.0f} |",
        ]
    )
    worst = max(q["exhibit_ms"] for q in searches)
    nothing = searches[0]
    slowest = max(searches, key=lambda q: q["exhibit_ms"])
    digest_ms = median([q["exhibit_ms"] for q in searches if q["label"].startswith(("SHA", "MD5"))])
    costs = "; ".join(
        f"{case}: " + ", ".join(f"{name} {t:.1f} ms" for name, t in calls.items()) for case, calls in profile.items()
    )
    verdicts = (
        f"Targets: the case page of {exhibits:,} exhibits {big:,.0f} ms median (< 1,500: {met(big < 1500)}; the "
        f"slowest of {args.runs} {ms(browser['big'], how=max):,.0f} ms); the device-file search {worst:.0f} ms at "
        f"worst (< 300: {met(worst < 300)}; the slowest of its {SEARCH_RUNS} runs {slowest['exhibit_max_ms']:.0f} "
        "ms). The first sign-in after the server starts (it imports the pages) took "
        f"{browser['cold']['shown'] * 1000:,.0f} ms. Peak RSS: the Streamlit server "
        f"{browser['server_rss_mib']:,.0f} MiB ({no_gc['server_rss_mib']:,.0f} MiB without the post-run "
        f"collection), the bench process (in-process searches, driving the browser) {bench_rss:,.0f} MiB."
    )
    where = (
        f"Where the time goes. The size of the case adds little ({big / small:.2f}x the 10-exhibit page): the "
        f"service calls behind the sign-in and the case page, timed in the bench process (median of 5), are {costs}. "
        "The rest is Streamlit's own work and the browser's: a sign-in is two script runs (the form's, then the "
        "rerun that draws the case page), and after each run Streamlit makes a full `gc.collect()` "
        "(`runner.postScriptGC`, on by default) that walks every object of the server process holding the GIL. "
        f"Started with that off, the same page takes {big_no_gc:,.0f} ms ({big_no_gc / big:.0%} of the default). "
        "A name that matches nothing is the slowest search: SQLite reads every entry of the case in its name "
        f"index (the plans below): its SQL alone through the sqlite3 module takes {nothing['sqlite_ms']:.0f} ms, "
        f"the search {nothing['exhibit_ms']:.0f} ms; a digest search costs {digest_ms:.1f} ms, of which the SQL "
        "is under a millisecond: the rest is the authorisation and the VIEWED event (a signed ledger append "
        "committed on its own). Search plans: " + "; ".join(f"{q['label']}: {q['plan']}" for q in searches) + "."
    )
    for block in (build_table, page_table, search_table, verdicts, where):
        print(block)
    if args.no_docs:
        return
    write_report(
        "review_app",
        "Review app: the case page and the device-file search on a 10,000-exhibit case (`bench/review_app.py`, "
        "issue 9)",
        f"A store the bench builds (SQLite catalog, local file store: the embedded defaults): a case of "
        f"{exhibits:,} exhibits through the real intake (tiny JPEGs, text documents and binaries, each distinct, "
        f"and one FAT image as the device image) with a generated {rows:,}-row `device_files` table on the device "
        "image (a Windows-like NTFS disk: directories, names, sizes, MAC times, three digests, about 5% deleted), "
        f"indexed by `index_device_files`; and, as the anchor, a case of {small_n} exhibits in the same store. The "
        'case page is timed in Debian chromium (Playwright) from the click on "Sign in" until the page shows its '
        f"row count (sign-in, case picker, counts, the first 50 rows), {args.runs} new sessions per case, "
        "alternating, after an untimed one each, in the page's own clock (the click event to the animation frame "
        "where the text is in the page); server is the click to the last WebSocket message before that, browser "
        "the rest. The file searches are the call the Search page makes (authorised, recorded as a view), "
        f"{SEARCH_RUNS} runs each in the bench process after an untimed one, against the SELECTs it sends to "
        "device_file_index (captured from SQLAlchemy) run through the sqlite3 module on the catalog file. The "
        f"machine was shared with other work: its 1-minute load average was {facts['load'][0]:.1f} before the "
        f"measurements and {facts['load'][-1]:.1f} after.",
        build_table,
        page_table,
        search_table,
        verdicts,
        where,
    )


if __name__ == "__main__":
    main()
