"""The real `original` asset and its checks, materialized on real files against every store and catalog."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance
from sqlalchemy import select

from evidence_store.access import Actor
from evidence_store.cases import create_case, new_exhibit_uid
from evidence_store.catalog import CustodyEventRow, Exhibit
from evidence_store.ledger import Ledger
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from pipelines.assets import original
from tests.conftest import flip_stored_byte
from tests.pipelines.dagster_support import failure_description, materialize_exhibit


def materialize_original(*args: Any, **kwargs: Any) -> Any:
    """These tests are about the original and its checks: the media analyses have their own."""
    return materialize_exhibit(*args, assets=[original], **kwargs)


@pytest.fixture
def instance() -> DagsterInstance:
    return DagsterInstance.ephemeral()


def _actions(system: EvidenceSystem, exhibit_id: int | None = None) -> list[str]:
    with system.catalog.reading() as session:
        filters = {"exhibit_id": exhibit_id} if exhibit_id is not None else {}
        return [e.action for e in Ledger.iter(session, **filters)]


def _check_results(result: object) -> dict[str, bool]:
    evaluations = result.get_asset_check_evaluations()  # type: ignore[attr-defined]
    return {e.check_name: e.passed for e in evaluations}


def test_original_ingests_a_file_as_its_partition(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DAG", "Pipelines")
    clip = tmp_path / "bwv.mp4"
    clip.write_bytes(os.urandom(300_000))
    uid = new_exhibit_uid()
    result = materialize_original(
        instance, settings, uid, {"path": str(clip), "case": "OP-DAG", "by": "Jane Smith", "kind": "bwv"}
    )
    assert result.success
    assert _check_results(result) == {"fixity": True, "custody_chain": True}
    metadata = result.asset_materializations_for_node("original")[0].metadata
    data = clip.read_bytes()
    assert metadata["sha256"].value == hashlib.sha256(data).hexdigest()
    assert metadata["md5"].value == hashlib.md5(data).hexdigest()
    assert metadata["sha1"].value == hashlib.sha1(data).hexdigest()
    assert metadata["size_bytes"].value == len(data)
    assert metadata["exhibit"].value == "OP-DAG:JS/1"
    assert metadata["kind"].value == "bwv"
    assert metadata["warnings"].value == 0
    assert uid in metadata["review"].value
    with system.catalog.reading() as session:
        exhibit = session.execute(select(Exhibit).where(Exhibit.uid == uid)).scalar_one()
        assert exhibit.reference == "JS/1" and exhibit.original_sha256 == metadata["sha256"].value
        exhibit_id = exhibit.id
    assert _actions(system, exhibit_id) == ["RECEIVED", "STORED", "HASH_VERIFIED"]

    # Materializing again (a re-run from the UI, with or without the intake config) neither re-reads the file
    # nor writes a second receipt: the uid already names an exhibit.
    clip.unlink()
    again = materialize_original(instance, settings, uid, {"path": str(clip), "case": "OP-DAG", "by": "Jane Smith"})
    assert again.success
    assert materialize_original(instance, settings, uid).success
    assert _actions(system, exhibit_id) == ["RECEIVED", "STORED", *["HASH_VERIFIED"] * 3]


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_partition_with_nothing_to_ingest_fails_with_a_code(
    system: EvidenceSystem, settings: Settings, instance: DagsterInstance
) -> None:
    result = materialize_original(instance, settings, new_exhibit_uid(), raise_on_error=False)
    assert not result.success
    assert failure_description(result).startswith("[EX-PIPELINE-NO-SOURCE]")


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_an_unknown_case_fails_without_retrying(
    system: EvidenceSystem, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    item = tmp_path / "item.bin"
    item.write_bytes(b"evidence")
    result = materialize_original(
        instance, settings, new_exhibit_uid(), {"path": str(item), "case": "OP-NONE", "by": "JS"}, raise_on_error=False
    )
    assert not result.success
    assert failure_description(result).startswith("[EX-NOT-FOUND]")
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retries == []  # an input problem is not transient: trying again cannot help


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_fixity_check_fails_on_a_tampered_object(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DAG", "Pipelines")
    item = tmp_path / "photo.jpg"
    item.write_bytes(os.urandom(100_000))
    uid = new_exhibit_uid()
    config = {"path": str(item), "case": "OP-DAG", "by": "JS"}
    assert materialize_original(instance, settings, uid, config).success
    flip_stored_byte(system, hashlib.sha256(item.read_bytes()).hexdigest())
    result = materialize_original(instance, settings, uid)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["fixity"].passed and evaluations["custody_chain"].passed
    assert evaluations["fixity"].metadata["code"].value == "EX-CHUNK-TAMPERED"
    assert _actions(system)[-1] == "FIXITY_FAILED"


@pytest.mark.parametrize("settings", ["file-sqlite", "file-postgresql"], indirect=True)
def test_custody_chain_check_names_an_edited_event(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DAG", "Pipelines")
    uids = []
    for n in range(2):
        item = tmp_path / f"item{n}.bin"
        item.write_bytes(os.urandom(1000 + n))
        uids.append(new_exhibit_uid())
        assert materialize_original(instance, settings, uids[-1], {"path": str(item), "case": "OP-DAG", "by": "JS"})
    with system.catalog.transaction() as session:
        first = session.execute(select(Exhibit).where(Exhibit.uid == uids[0])).scalar_one()
        stored = session.execute(
            select(CustodyEventRow).where(CustodyEventRow.exhibit_id == first.id, CustodyEventRow.action == "STORED")
        ).scalar_one()
        stored.reason = "edited behind Exhibit's back"
        seq = stored.seq
    result = materialize_original(instance, settings, uids[0])
    chain = {e.check_name: e for e in result.get_asset_check_evaluations()}["custody_chain"]
    assert not chain.passed
    assert chain.metadata["code"].value == "EX-LEDGER-HASH" and chain.metadata["first_bad_seq"].value == seq
    # The other exhibit's own events are intact, and the check says so.
    other = {e.check_name: e for e in materialize_original(instance, settings, uids[1]).get_asset_check_evaluations()}
    assert other["custody_chain"].passed
