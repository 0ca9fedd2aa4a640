"""The ledger under several processes at once, and under SIGKILL in the middle of an append or a checkpoint."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from evidence_store.access import SERVICE
from evidence_store.catalog import CheckpointRow, CustodyEventRow
from evidence_store.custody import make_checkpoint, verify_full_ledger
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from tests.conftest import settings_env

# A worker: appends (or checkpoints between appends) until killed or until its deadline.
WORKER = """
import sys, time
from evidence_store.custody import make_checkpoint
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction
mode, seconds, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
system = EvidenceSystem.open()
deadline = time.monotonic() + seconds
n = 0
while time.monotonic() < deadline:
    with system.catalog.transaction() as session:
        system.ledger.append(session, CustodyAction.VIEWED, actor=name, role="service", details={"n": n})
    n += 1
    if mode == "checkpoint" and n % 5 == 0:
        make_checkpoint(system)
print(n)
"""


def _spawn(settings: Settings, mode: str, seconds: float, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, mode, str(seconds), name],
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("settings", ["file-postgresql"], indirect=True)
def test_four_writers_for_ten_seconds(system: EvidenceSystem, settings: Settings) -> None:
    workers = [_spawn(settings, "append", 10, f"writer{i}") for i in range(4)]
    counts = []
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        counts.append(int(out))
    assert all(c > 0 for c in counts)
    with system.catalog.reading() as session:
        seqs = session.execute(select(CustodyEventRow.seq).order_by(CustodyEventRow.seq)).scalars().all()
        per_writer = dict(
            session.execute(select(CustodyEventRow.actor, func.count()).group_by(CustodyEventRow.actor)).all()
        )
    assert seqs == list(range(1, len(seqs) + 1))  # no gaps, no duplicates
    assert [per_writer[f"writer{i}"] for i in range(4)] == counts  # every append landed, once
    result = verify_full_ledger(system, SERVICE)
    assert result.ok and result.checked == len(seqs)


@pytest.mark.parametrize("settings", ["file-sqlite", "file-postgresql"], indirect=True)
@pytest.mark.parametrize("mode", ["append", "checkpoint"])
def test_sigkill_mid_write(system: EvidenceSystem, settings: Settings, mode: str) -> None:
    for delay in (0.0, 0.13, 0.37):  # several moments after it is writing, so some land inside a transaction
        before = _victim_events(system)
        worker = _spawn(settings, mode, 60, "victim")
        deadline = time.monotonic() + 60
        while _victim_events(system) == before:  # started (imports take a while on a loaded machine)
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never started appending"
            time.sleep(0.02)
        time.sleep(delay)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        result = verify_full_ledger(system, SERVICE)
        assert result.ok, result
    checkpoint = make_checkpoint(system)  # and work goes on
    with system.catalog.reading() as session:
        assert session.get(CheckpointRow, checkpoint.tree_size) is not None
    assert verify_full_ledger(system, SERVICE).ok


def _victim_events(system: EvidenceSystem) -> int:
    with system.catalog.reading() as session:
        return int(
            session.execute(
                select(func.count()).select_from(CustodyEventRow).where(CustodyEventRow.actor == "victim")
            ).scalar_one()
        )
