"""The S3 store stops answering while a run ingests: the run says why, retries, and nothing is lost or doubled.

Uses a private `rclone serve s3` that the test stops and restarts on the same port and folder.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_store.access import SERVICE
from evidence_store.cases import create_case
from evidence_store.catalog import CustodyEventRow, Exhibit
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from pipelines.definitions import build_definitions
from tests.conftest import s3_environment, start_rclone
from tests.pipelines.dagster_support import Intake, evidence_resource, failure_description


class Outage:
    """An S3 server that can be stopped and started again with the same address and contents."""

    def __init__(self, root: Path) -> None:
        self.root = root
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.log = root.parent / f"rclone-outage-{self.port}.log"
        self.proc = start_rclone(root, self.port, self.log)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def start(self) -> None:
        self.proc = start_rclone(self.root, self.port, self.log)


@pytest.fixture
def outage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Outage, Settings]]:
    root = tmp_path / "s3-root"
    root.mkdir()
    server = Outage(root)
    for name, value in s3_environment(f"http://127.0.0.1:{server.port}").items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(
        {"EXHIBIT_HOME": str(tmp_path / "home"), "EXHIBIT_STORE": f"s3://outage-{uuid.uuid4().hex[:8]}/exhibit"}
    )
    yield server, settings
    if server.proc.poll() is None:
        server.stop()


def _ledger_actions(system: EvidenceSystem) -> list[str]:
    with system.catalog.reading() as session:
        return list(session.execute(select(CustodyEventRow.action).order_by(CustodyEventRow.seq)).scalars())


def _stored_objects(system: EvidenceSystem) -> list[str]:
    return list(system.store.iter_digests())


def _setup(settings: Settings, tmp_path: Path) -> tuple[EvidenceSystem, Intake, bytes]:
    system, _ = EvidenceSystem.initialise(settings)
    create_case(system, SERVICE, "OP-OUTAGE", "Store outage")
    intake = Intake(settings, tmp_path, case="OP-OUTAGE")
    data = os.urandom(12 << 20)  # more than one multipart part
    intake.drop("bwv-long.mp4", data)
    return system, intake, data


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_outage_longer_than_the_retries_fails_the_run_and_a_rerun_finishes_it(
    outage: tuple[Outage, Settings], tmp_path: Path
) -> None:
    server, settings = outage
    system, intake, _data = _setup(settings, tmp_path)
    (request,) = intake.tick()
    server.stop()
    failed = intake.execute(request)
    assert not failed.success
    description = failure_description(failed)
    assert description.startswith("[EX-STORE-") and "did not answer" in description, description
    retries = [e for e in failed.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == int(os.environ.get("EXHIBIT_STEP_RETRIES", "3"))
    # The source stays where it was dropped: not moved, not quarantined; each attempt is on the ledger.
    assert (intake.folder / "bwv-long.mp4").exists() and not (intake.folder / "quarantine").exists()
    assert _ledger_actions(system).count("INGEST_FAILED") == len(retries) + 1

    server.start()
    finished = intake.execute(request)  # a re-execution of the same run (same partition and config)
    assert finished.success
    with system.catalog.reading() as session:
        (exhibit,) = session.execute(select(Exhibit)).scalars()
        assert exhibit.uid == request.partition_key
    assert len(_stored_objects(system)) == 1
    assert _ledger_actions(system).count("RECEIVED") == 1
    assert (intake.folder / "processed" / "bwv-long.mp4").exists()
    assert verify(system, SERVICE, objects=True).ok


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_run_retries_until_the_store_is_back(outage: tuple[Outage, Settings], tmp_path: Path) -> None:
    server, settings = outage
    system, intake, data = _setup(settings, tmp_path)
    (request,) = intake.tick()
    server.stop()

    def restore_after_first_failure() -> None:
        deadline = time.monotonic() + 120
        while "INGEST_FAILED" not in _ledger_actions(system) and time.monotonic() < deadline:
            time.sleep(0.2)
        server.start()

    restorer = threading.Thread(target=restore_after_first_failure)
    restorer.start()
    result = intake.execute(request)
    restorer.join()
    assert result.success
    assert [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(_stored_objects(system)) == 1
    actions = _ledger_actions(system)
    assert actions.count("RECEIVED") == 1 and actions.count("STORED") == 1
    with system.catalog.reading() as session:
        (exhibit,) = session.execute(select(Exhibit)).scalars()
        assert exhibit.original.size == len(data)
    assert verify(system, SERVICE, objects=True).ok


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_nightly_sweep_during_an_outage_fails_without_false_fixity_alarms(
    outage: tuple[Outage, Settings], tmp_path: Path
) -> None:
    server, settings = outage
    system, intake, _data = _setup(settings, tmp_path)
    (request,) = intake.tick()
    assert intake.execute(request).success
    sweep = build_definitions(evidence_resource(settings)).resolve_job_def("fixity_sweep")
    server.stop()
    failed = sweep.execute_in_process(instance=intake.instance, raise_on_error=False)
    assert not failed.success
    assert failure_description(failed).startswith("[EX-STORE-UNAVAILABLE]")
    assert "FIXITY_FAILED" not in _ledger_actions(system)  # an outage is not evidence of tampering
    server.start()
    assert sweep.execute_in_process(instance=intake.instance).success
    assert _ledger_actions(system)[-1] == "HASH_VERIFIED"
