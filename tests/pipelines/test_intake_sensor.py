"""Drop folders: the real intake sensors evaluated with Dagster's testing API, their runs executed for real."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dagster import SensorResult, build_sensor_context
from sqlalchemy import func, select

from evidence_store.access import SERVICE, Actor
from evidence_store.cases import create_case
from evidence_store.catalog import Exhibit, ExhibitAlias, StoredObject
from evidence_store.errors import BadSettingError
from evidence_store.inspect import exhibit_record
from evidence_store.intake import IngestRequest, ingest
from evidence_store.intake_folders import load_intake_folders
from evidence_store.ledger import Ledger
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from tests.pipelines.dagster_support import Intake, evidence_resource


def _exhibits(system: EvidenceSystem) -> list[Exhibit]:
    with system.catalog.reading() as session:
        rows = list(session.execute(select(Exhibit).order_by(Exhibit.id)).scalars())
        session.expunge_all()
        return rows


def _actions(system: EvidenceSystem) -> list[str]:
    with system.catalog.reading() as session:
        return [e.action for e in Ledger.iter(session)]


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_dropped_files_become_exhibits_and_move_to_processed(
    system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DROP", "Drop folder")
    intake = Intake(settings, tmp_path)
    intake.drop(
        "bwv-0001.mp4",
        os.urandom(200_000),
        {
            "case": "OP-DROP",
            "exhibit_ref": "js/7",
            "producer": "PC 1234 Jane Smith",
            "seized_from": "PC 1234's body-worn camera",
            "seized_at": "2026-11-20T21:14:00Z",
            "description": "BWV of the arrest",
            "kind": "bwv",
        },
    )
    intake.drop("scene.jpg", os.urandom(50_000), {"case": "OP-DROP", "producer": "DC Brown"})
    requests = intake.tick()
    assert [r.tags["exhibit/file"] for r in requests] == ["bwv-0001.mp4", "scene.jpg"]
    assert intake.tick() == []  # handed on once only
    for request in requests:
        assert request.job_name == "process_exhibit"
        assert intake.execute(request).success

    exhibits = _exhibits(system)
    assert [(e.uid, e.reference, e.kind) for e in exhibits] == [
        (requests[0].partition_key, "JS/7", "bwv"),
        (requests[1].partition_key, "DB/1", "other"),
    ]
    assert exhibits[0].seized_from == "PC 1234's body-worn camera" and exhibits[0].description == "BWV of the arrest"
    assert sorted(p.name for p in intake.folder.iterdir()) == ["processed"]
    assert sorted(p.name for p in (intake.folder / "processed").iterdir()) == [
        "bwv-0001.mp4",
        "bwv-0001.mp4.done",
        "bwv-0001.mp4.exhibit.json",
        "scene.jpg",
        "scene.jpg.done",
        "scene.jpg.exhibit.json",
    ]
    assert verify(system, SERVICE, objects=True).ok

    # The same bytes dropped again under another name: the same object, a further receipt, no new exhibit;
    # the new partition names the exhibit that already had them.
    intake.drop("bwv-0001-copy.mp4", (intake.folder / "processed" / "bwv-0001.mp4").read_bytes(), {"case": "OP-DROP"})
    (again,) = intake.tick()
    result = intake.execute(again)
    assert result.success
    metadata = result.asset_materializations_for_node("original")[0].metadata
    assert metadata["duplicate_of"].value == exhibits[0].uid
    assert len(_exhibits(system)) == 2
    with system.catalog.reading() as session:
        assert session.execute(select(func.count()).select_from(StoredObject)).scalar_one() == 2
        alias = session.get(ExhibitAlias, again.partition_key)
        assert alias is not None and alias.exhibit_id == exhibits[0].id
        receipts = [e for e in Ledger.iter(session, exhibit_id=exhibits[0].id) if e.action == "RECEIVED"]
    assert len(receipts) == 2 and receipts[1].details["received_as_uid"] == again.partition_key


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_file_still_being_written_waits_until_it_stops_changing(
    system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DROP", "Drop folder")
    intake = Intake(settings, tmp_path, case="OP-DROP")
    growing = intake.drop("interview.wav", b"RIFF" + os.urandom(1000), done=False)
    assert intake.tick() == []  # first look: no earlier size to compare with
    with growing.open("ab") as f:
        f.write(os.urandom(5000))
    assert intake.tick() == []  # it grew since the last look
    (request,) = intake.tick()  # unchanged across two looks: ready
    assert request.run_config["ops"]["original"]["config"]["case"] == "OP-DROP"
    assert intake.execute(request).success
    assert _exhibits(system)[0].original_sha256 is not None


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_unusable_drops_are_quarantined_with_a_coded_reason(
    system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DROP", "Drop folder")
    intake = Intake(settings, tmp_path)  # no default case
    intake.drop("no-sidecar.jpg", b"\xff\xd8\xff" + os.urandom(100))
    intake.drop("bad-json.jpg", b"\xff\xd8\xff" + os.urandom(100), "{not json")
    intake.drop("typo.jpg", b"\xff\xd8\xff" + os.urandom(100), {"case": "OP-DROP", "exhbit_ref": "JS/1"})
    intake.drop("unknown-case.jpg", b"\xff\xd8\xff" + os.urandom(100), {"case": "OP-NOPE"})
    requests = {r.tags["exhibit/file"]: r for r in intake.tick()}
    assert {name: r.job_name for name, r in requests.items()} == {
        "bad-json.jpg": "intake_quarantine",
        "no-sidecar.jpg": "intake_quarantine",
        "typo.jpg": "intake_quarantine",
        "unknown-case.jpg": "process_exhibit",  # only the catalog knows which cases exist
    }
    expected = {
        "bad-json.jpg": "EX-INTAKE-SIDECAR",
        "no-sidecar.jpg": "EX-INTAKE-NO-CASE",
        "typo.jpg": "EX-INTAKE-SIDECAR",
        "unknown-case.jpg": "EX-NOT-FOUND",
    }
    for name, request in requests.items():
        result = intake.execute(request)
        assert not result.success  # the run is red and says why
        failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data
        assert failure.user_failure_data.description.startswith(f"[{expected[name]}]")
    quarantined = intake.folder / "quarantine"
    for name, code in expected.items():
        assert (quarantined / name).exists(), name  # kept, never dropped
        reason = json.loads((quarantined / f"{name}.reason.json").read_text())
        assert reason["code"] == code and reason["message"]
    assert (quarantined / "bad-json.jpg.exhibit.json").exists()  # its sidecar stays with it
    assert _exhibits(system) == []
    with system.catalog.reading() as session:
        refused = [e for e in Ledger.iter(session) if e.action == "INGEST_REFUSED"]
    assert sorted(e.details["code"] for e in refused) == sorted(expected.values())


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
@pytest.mark.parametrize("after", ["keep", "delete"])
def test_after_ingest_the_folder_keeps_or_deletes(
    system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path, after: str
) -> None:
    create_case(system, analyst, "OP-DROP", "Drop folder")
    intake = Intake(settings, tmp_path, case="OP-DROP", after=after)
    intake.drop("photo.jpg", b"\xff\xd8\xff" + os.urandom(1000))
    (request,) = intake.tick()
    assert intake.execute(request).success
    left = sorted(p.name for p in intake.folder.iterdir())
    assert left == (["photo.jpg", "photo.jpg.done"] if after == "keep" else [])
    assert intake.tick() == []  # a kept file is not ingested again while unchanged
    assert len(_exhibits(system)) == 1


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_retried_run_makes_no_second_exhibit_or_receipt(
    system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DROP", "Drop folder")
    intake = Intake(settings, tmp_path, case="OP-DROP", after="keep")
    intake.drop("clip.mp4", os.urandom(10_000))
    (request,) = intake.tick()
    assert intake.execute(request).success
    events = len(_actions(system))
    assert intake.execute(request).success  # re-executed from the UI with the same config and partition
    assert len(_exhibits(system)) == 1
    assert _actions(system)[events:].count("RECEIVED") == 0


def test_intake_configuration_is_checked(tmp_path: Path) -> None:
    settings = Settings.from_env({"EXHIBIT_HOME": str(tmp_path)})
    assert [(f.name, f.folder) for f in load_intake_folders(settings)] == [("default", tmp_path / "intake")]
    (tmp_path / "intake.toml").write_text('[[intake]]\nname = "a"\nfolder = "drops/a"\nafter = "shred"\n')
    with pytest.raises(BadSettingError, match="shred"):
        load_intake_folders(settings)
    (tmp_path / "intake.toml").write_text(
        '[[intake]]\nname = "a"\nfolder = "drops/a"\n[[intake]]\nname = "b"\nfolder = "/srv/b"\ncase = "OP-B"\n'
    )
    folders = load_intake_folders(settings)
    assert [(f.name, f.folder, f.case) for f in folders] == [
        ("a", tmp_path / "drops" / "a", None),
        ("b", Path("/srv/b"), "OP-B"),
    ]


@pytest.mark.parametrize("settings", ["file-sqlite", "file-postgresql"], indirect=True)
def test_exhibits_ingested_elsewhere_get_a_partition_and_a_run(
    system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DROP", "Drop folder")
    intake = Intake(settings, tmp_path, case="OP-DROP")
    watcher = intake.defs.resolve_sensor_def("new_exhibits")
    resources = {"evidence": evidence_resource(settings)}

    def look(cursor: str | None) -> SensorResult:
        result = watcher(build_sensor_context(instance=intake.instance, cursor=cursor, resources=resources))
        assert isinstance(result, SensorResult)
        for request in result.dynamic_partitions_requests or []:
            intake.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return result

    # One through the drop folder (its partition and run exist already), one from `exhibit ingest`.
    intake.drop("dropped.jpg", b"\xff\xd8\xff" + os.urandom(500))
    (dropped,) = intake.tick()
    assert intake.execute(dropped).success
    item = tmp_path / "statement.txt"
    item.write_text("witness statement\n")
    (cli,) = ingest(system, analyst, [item], IngestRequest(case_ref="OP-DROP", by="Jane Smith"))
    first = look(None)
    assert [r.partition_key for r in first.run_requests or []] == [cli.exhibit_uid]
    assert intake.execute((first.run_requests or [])[0]).success
    assert not look(first.cursor).run_requests  # seen once only


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_split_image_dropped_is_one_exhibit_once_all_its_segments_are_ready(
    system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DROP", "Drop folder")
    intake = Intake(settings, tmp_path, case="OP-DROP", by="PC Smith")
    image = os.urandom(3 << 20)
    # As a copy tool drops a split image: the segments, then the first one's marker.
    intake.drop("laptop.001", image[: 2 << 20], {"description": "seized laptop, split raw"}, done=False)
    intake.drop("laptop.002", image[2 << 20 :], done=False)
    (intake.folder / "laptop.002").touch()  # still being written: it changes between looks
    assert intake.tick() == []
    os.utime(intake.folder / "laptop.002", ns=(1, 1))
    (intake.folder / "laptop.001.done").touch()
    assert intake.tick() == []  # the first is marked done, but the second has been seen unchanged only once
    (request,) = intake.tick()
    assert request.tags["exhibit/file"] == "laptop.001"
    result = intake.execute(request)
    assert result.success
    (exhibit,) = _exhibits(system)
    assert exhibit.description == "seized laptop, split raw"
    record = exhibit_record(system, analyst, exhibit.uid)
    assert [s["name"] for s in record["segments"]] == ["laptop.001", "laptop.002"]
    processed = sorted(p.name for p in intake.folder.joinpath("processed").iterdir())
    assert processed == ["laptop.001", "laptop.001.done", "laptop.001.exhibit.json", "laptop.002"]
    assert intake.tick() == []
