"""Several `exhibit ingest` processes at once: the same bytes are stored once, references never collide."""

import subprocess
import sys
from pathlib import Path

import pytest

from evidence_store.access import SERVICE, Actor
from evidence_store.catalog import Exhibit, StoredObject
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from tests.conftest import settings_env

EXHIBIT = str(Path(sys.executable).parent / "exhibit")


@pytest.mark.parametrize("settings", ["file-sqlite", "file-postgresql"], indirect=True)
def test_three_ingests_at_once(system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path) -> None:
    from sqlalchemy import select

    from evidence_store.cases import create_case

    create_case(system, analyst, "OP-RACE", "Race")
    shared = tmp_path / "shared.bin"
    shared.write_bytes(b"the same clip, seized three times\n" * 5000)
    procs = []
    for n in range(3):
        own = tmp_path / f"own-{n}.bin"
        own.write_bytes(f"only in process {n}\n".encode() * 1000)
        procs.append(
            subprocess.Popen(
                [EXHIBIT, "ingest", str(shared), str(own), "--case", "OP-RACE", "--by", "Jane Smith", "--json"],
                env=settings_env(settings),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err + out
        assert "Traceback" not in err
    with system.catalog.reading() as session:
        refs = sorted(session.execute(select(Exhibit.reference)).scalars())
        objects = session.execute(select(StoredObject.sha256)).scalars().all()
    assert refs == ["JS/1", "JS/2", "JS/3", "JS/4"]  # one exhibit for the shared bytes, one per own file
    assert len(objects) == 4 and len(list(system.store.iter_digests())) == 4
    report = verify(system, SERVICE, objects=True)
    assert report.ok and report.unrecorded_objects == []
