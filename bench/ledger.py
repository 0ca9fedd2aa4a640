"""Custody ledger speed: signed appends per second and verification events per second.

- Appends on SQLite (one process) and PostgreSQL (4 writer processes at once), each append signed with
  Ed25519 and chained; both one append per transaction (each durable on its own) and 100 per transaction
  (as a folder ingest or a batch of views commits them).
- Verification of 100,000 events: the checkpointed path `exhibit verify` uses (entry hashes, chain, signed
  Merkle heads, signatures after the last head) and, for comparison, checking every signature.
Targets (issue 4): >= 5,000 appends/s SQLite, >= 2,000/s PostgreSQL, verify >= 50,000 events/s.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_report

PG_ADMIN = os.environ.get("EXHIBIT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

APPENDER = """
import sys, time
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction
per_tx, seconds = int(sys.argv[1]), float(sys.argv[2])
system = EvidenceSystem.open()
deadline = time.monotonic() + seconds
n = 0
start = time.perf_counter()
while time.monotonic() < deadline:
    with system.catalog.transaction() as session:
        for _ in range(per_tx):
            system.ledger.append(session, CustodyAction.VIEWED, actor="bench", role="service", case_ref="OP-BENCH",
                                 details={"n": n, "what": "exhibit record"})
            n += 1
print(n, time.perf_counter() - start)
"""


def _env(home: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXHIBIT_")}
    env["EXHIBIT_HOME"] = str(home)
    if database_url:
        env["EXHIBIT_DATABASE_URL"] = database_url
    return env


def _init(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "init", "--admin", "bench.admin"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1],
    )


def appends(env: dict[str, str], writers: int, per_tx: int, seconds: float) -> float:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(per_tx), str(seconds)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(writers)
    ]
    total, longest = 0, 0.0
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit("appender failed")
        n, elapsed = out.split()
        total += int(n)
        longest = max(longest, float(elapsed))
    return total / longest


def verification(home: Path, events: int) -> dict[str, float]:
    os.environ["EXHIBIT_HOME"] = str(home)
    from evidence_store.access import SERVICE
    from evidence_store.custody import make_checkpoint, verify_full_ledger
    from evidence_store.ledger import Ledger
    from evidence_store.proofs import verify_ledger
    from evidence_store.settings import Settings
    from evidence_store.system import EvidenceSystem
    from schemas.records import CustodyAction

    system = EvidenceSystem.open(Settings.from_env())
    with system.catalog.reading() as session:
        have = len(list(Ledger.iter_for_verification(session)))
    with system.catalog.transaction() as session:
        for n in range(events - have - 1):
            system.ledger.append(
                session,
                CustodyAction.VIEWED,
                actor="bench",
                role="service",
                case_ref="OP-BENCH",
                details={"n": n, "what": "exhibit record"},
            )
    make_checkpoint(system)
    start = time.perf_counter()
    result = verify_full_ledger(system, SERVICE)
    checkpointed = time.perf_counter() - start
    assert result.ok, result
    with system.catalog.reading() as session:
        start = time.perf_counter()
        every = verify_ledger(Ledger.iter_for_verification(session), system.public_keys(), checkpoints=())
        every_signature = time.perf_counter() - start
    assert every.ok
    return {
        "events": result.checked,
        "checkpointed": result.checked / checkpointed,
        "every_signature": every.checked / every_signature,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each append run lasts")
    parser.add_argument("--events", type=int, default=100_000, help="ledger size for the verification run")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    from sqlalchemy import create_engine, text

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-ledger-") as work:
        sqlite_env = _env(Path(work) / "sqlite", None)
        _init(sqlite_env)
        results["sqlite_1"] = appends(sqlite_env, 1, 1, args.seconds)
        results["sqlite_100"] = appends(sqlite_env, 1, 100, args.seconds)
        print(
            f"SQLite appends/s: {results['sqlite_1']:,.0f} (1 per transaction), "
            f"{results['sqlite_100']:,.0f} (100 per transaction)",
            flush=True,
        )

        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"exhibit_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            pg_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
            pg_env = _env(Path(work) / "pg", pg_url)
            _init(pg_env)
            results["pg4_1"] = appends(pg_env, 4, 1, args.seconds)
            results["pg4_100"] = appends(pg_env, 4, 100, args.seconds)
            print(
                f"PostgreSQL, 4 writers, appends/s: {results['pg4_1']:,.0f} (1 per transaction), "
                f"{results['pg4_100']:,.0f} (100 per transaction)",
                flush=True,
            )
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        verify = verification(Path(work) / "sqlite", args.events)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"verify {verify['events']:,.0f} events: {verify['checkpointed']:,.0f} events/s checkpointed, "
            f"{verify['every_signature']:,.0f} events/s checking every signature; peak RSS {rss:.0f} MiB",
            flush=True,
        )

    table = "\n".join(
        [
            "| measure | result | target |",
            "|---|---:|---:|",
            f"| SQLite signed appends/s, 1 per transaction (each fsynced) | {results['sqlite_1']:,.0f} | — |",
            f"| SQLite signed appends/s, 100 per transaction | {results['sqlite_100']:,.0f} | >= 5,000 |",
            f"| PostgreSQL signed appends/s, 4 writers, 1 per transaction | {results['pg4_1']:,.0f} | — |",
            f"| PostgreSQL signed appends/s, 4 writers, 100 per transaction | {results['pg4_100']:,.0f} | >= 2,000 |",
            f"| verify {verify['events']:,.0f} events, checkpointed (what `exhibit verify` does) "
            f"| {verify['checkpointed']:,.0f} events/s | >= 50,000 |",
            f"| verify {verify['events']:,.0f} events, every signature checked "
            f"| {verify['every_signature']:,.0f} events/s | — |",
            f"| peak RSS of the verifying process | {rss:.0f} MiB | < 500 |",
        ]
    )
    print(table)
    if not args.no_docs:
        write_report(
            "ledger",
            "Custody ledger: appends and verification (`bench/ledger.py`, issue 4)",
            f"Appends run for {args.seconds:.0f} s each; PostgreSQL 15 on loopback with 4 writer processes.",
            table,
        )


if __name__ == "__main__":
    main()
