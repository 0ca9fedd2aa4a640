"""A process killed with SIGKILL in the middle of a put leaves no visible object and a ledger that verifies."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evidence_store.access import SERVICE, Actor
from evidence_store.backends import LocalBackend, S3Backend
from evidence_store.cases import create_case
from evidence_store.intake import IngestRequest, ingest
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from tests.conftest import settings_env

EXHIBIT = str(Path(sys.executable).parent / "exhibit")


def _write_large(path: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as handle:
        for n in range(mib):
            handle.write(n.to_bytes(8, "big") + block[8:])


def _put_in_flight(system: EvidenceSystem) -> bool:
    backend = system.store.backend
    if isinstance(backend, LocalBackend):
        staging = backend.root / "staging"
        return any(p.stat().st_size > (8 << 20) for p in staging.glob("*.part")) if staging.exists() else False
    assert isinstance(backend, S3Backend)
    try:
        uploads = backend.s3.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", [])
    except Exception:  # rclone answers NoSuchUpload while there are none
        return False
    return bool(uploads)


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_sigkill_mid_put(system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path) -> None:
    create_case(system, analyst, "OP-CRASH", "Crash")
    big = tmp_path / "bodycam.mp4"
    _write_large(big, 600)
    child = subprocess.Popen(
        [EXHIBIT, "ingest", str(big), "--case", "OP-CRASH", "--by", "Jane Smith"],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not _put_in_flight(system):
        assert child.poll() is None, "the ingest finished before it could be interrupted"
        assert time.monotonic() < deadline, "the put never started"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    assert list(system.store.iter_digests()) == []
    report = verify(system, SERVICE)
    assert report.ok and report.exhibits_checked == 0
    system.close()

    # A restart leaves a recent staging file alone (it could be another process's put in progress); once
    # stale it is swept. The ingest then goes through whole.
    system, facts = EvidenceSystem.initialise(settings)
    assert facts["staging_swept"] == 0
    system.close()
    system, facts = EvidenceSystem.initialise(settings, sweep_older_than=0)
    assert facts["staging_swept"] >= 1
    [outcome] = ingest(system, analyst, [big], IngestRequest(case_ref="OP-CRASH", by="Jane Smith"))
    assert outcome.ok and outcome.size == 600 << 20
    assert verify(system, SERVICE, objects=True).ok
    system.close()
