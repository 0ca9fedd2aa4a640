"""Real faces through the Dagster assets (face_detections per exhibit, case_persons per case, its sensor), users'
decisions that later clustering keeps, reference matching and the `exhibit` commands, on both deployments."""

from __future__ import annotations

import json
import re

import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from evidence_store.access import Actor
from evidence_store.cases import create_case
from evidence_store.faces import case_persons, cluster_case, merge_persons, name_person, split_person
from evidence_store.intake import IngestRequest, ingest
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from pipelines.assets import media_probe, original
from pipelines.face_assets import case_partitions, face_detections, persons_after_faces
from pipelines.face_assets import case_persons as case_persons_asset
from schemas.records import CustodyAction
from tests.pipelines.dagster_support import evidence_resource, materialize_exhibit
from tests.pipelines.test_cli import run_json
from tests.realdata.shared import DATA, skip_without_data

skip_without_data()
pytestmark = pytest.mark.realdata

FACES = DATA / "faces"
FILES = {
    "obama": FACES / "obama" / "obama.jpg",
    "obama2": FACES / "obama" / "obama2.jpg",
    "biden": FACES / "biden" / "biden.jpg",
    "pair": FACES / "groups" / "two_people.jpg",
    "clip": DATA / "video" / "short_hamilton_clip.mp4",
}


def _by_source(persons: list[dict[str, object]]) -> dict[str, set[str]]:
    """Each person's appearances as `file#track`, for readable assertions."""
    return {
        str(p["person_id"]): {f"{a['exhibit_ref']}#{a['track']}" for a in p["appearances"]}  # type: ignore[attr-defined]
        for p in persons
    }


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_faces_persons_and_leads(system: EvidenceSystem, analyst: Actor, settings: Settings) -> None:
    create_case(system, analyst, "OP-FACES", "Faces across exhibits")
    refs = {}
    for key, path in FILES.items():
        (outcome,) = ingest(system, analyst, [path], IngestRequest(case_ref="OP-FACES", by="Jane Smith"))
        assert outcome.exhibit_uid is not None
        refs[key] = outcome.exhibit_uid
    instance = DagsterInstance.ephemeral()
    for key, uid in refs.items():
        result = materialize_exhibit(instance, settings, uid, assets=[original, media_probe, face_detections])
        (made,) = result.asset_materializations_for_node("face_detections")
        faces = made.metadata["faces"].value
        assert faces == {"obama": 1, "obama2": 1, "biden": 1, "pair": 2}.get(key, faces), key

    # The sensor asks for the case's persons once, however many exhibits got new faces.
    context = build_sensor_context(instance=instance, resources={"evidence": evidence_resource(settings)})
    asked = persons_after_faces(context)
    assert [r.partition_key for r in asked.run_requests] == ["OP-FACES"]
    assert case_partitions.name is not None
    instance.add_dynamic_partitions(case_partitions.name, ["OP-FACES"])
    clustered = materialize(
        [case_persons_asset],
        partition_key="OP-FACES",
        instance=instance,
        resources={"evidence": evidence_resource(settings)},
    )
    assert clustered.success

    persons = [p.to_dict() for p in case_persons(system, analyst, "OP-FACES")]
    groups = sorted(sorted(s) for s in _by_source(persons).values())
    # Exhibit references are JS/1..JS/5 in FILES order: Obama twice and on the left of the pair, Biden alone and
    # on its right, Lin-Manuel Miranda in the clip's tracks before the cut (the face after it is nobody known).
    assert ["JS/1#1", "JS/2#1", "JS/4#1"] in groups
    assert ["JS/3#1", "JS/4#2"] in groups
    clip_groups = [g for g in groups if all(a.startswith("JS/5#") for a in g)]
    assert ["JS/5#1", "JS/5#2"] in clip_groups, groups
    obama = next(p["person_id"] for p in persons if "JS/1#1" in _by_source([p])[str(p["person_id"])])
    biden = next(p["person_id"] for p in persons if "JS/3#1" in _by_source([p])[str(p["person_id"])])

    # Decisions are ledger events that later clustering keeps.
    exhibit_ids = {a["exhibit_ref"]: a["exhibit_id"] for p in persons for a in p["appearances"]}  # type: ignore[attr-defined]
    name_person(system, analyst, "OP-FACES", str(obama), "Barack Obama", reason="known from the briefing")
    split_person(system, analyst, "OP-FACES", str(obama), [(int(exhibit_ids["JS/4"]), 1)], reason="doubt")
    cluster_case(system, analyst, "OP-FACES")  # a later run, with nothing new: the split still holds
    after = [p.to_dict() for p in case_persons(system, analyst, "OP-FACES")]
    named = next(p for p in after if p["person_id"] == obama)
    assert named["name"] == "Barack Obama" and named["confirmed"]
    assert _by_source([named])[str(obama)] == {"JS/1#1", "JS/2#1"}
    split_off = [p for p in after if _by_source([p])[str(p["person_id"])] == {"JS/4#1"}]
    assert len(split_off) == 1 and split_off[0]["person_id"] not in (obama, biden)
    merge_persons(system, analyst, "OP-FACES", [str(obama), str(split_off[0]["person_id"])], reason="same man")
    merged = {p["person_id"]: p for p in (q.to_dict() for q in case_persons(system, analyst, "OP-FACES"))}
    assert _by_source([merged[obama]])[str(obama)] == {"JS/1#1", "JS/2#1", "JS/4#1"}
    assert merged[obama]["name"] == "Barack Obama"
    assert split_off[0]["person_id"] not in merged
    with system.catalog.reading() as session:
        events = list(system.ledger.iter(session, case_ref="OP-FACES"))
    decided = [e.details["decision"] for e in events if e.action == CustodyAction.PERSON_DECIDED]
    assert decided == ["name", "split", "merge"]

    # Leads from a reference photo, through the command line; the detections come with their persons.
    lin = FACES / "lin_manuel_miranda" / "lin-manuel-miranda.png"
    match = run_json(settings, "persons", "match", "--case", "OP-FACES", "--reference", str(lin), "--name", "LMM")
    assert match["threshold"] == 0.6 and "not an identification" in match["label"]
    leads = match["appearances"]
    assert {lead["exhibit_ref"] for lead in leads} == {"JS/5"} and len(leads) == match["leads"] >= 2
    assert [lead["distance"] for lead in leads] == sorted(lead["distance"] for lead in leads)
    assert all(lead["distance"] <= 0.6 and lead["start_s"] is not None for lead in leads)
    detections = run_json(settings, "query", "face_detections", "--case", "OP-FACES")
    assert detections["count"] >= 8 and all("encoding" not in row for row in detections["rows"])
    assert {row["person_id"] for row in detections["rows"] if row["exhibit_ref"] == "JS/1"} == {obama}
    listed = run_json(settings, "query", "persons", "--case", "OP-FACES")
    assert {p["person_id"] for p in listed["persons"]} == set(merged)

    # Encodings are personal data: not one ledger event carries a vector of them.
    with system.catalog.reading() as session:
        everything = json.dumps([e.to_dict() for e in system.ledger.iter(session)])
    assert not re.search(r"(-?0\.\d+,\s*){20}", everything)
