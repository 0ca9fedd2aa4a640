"""Persons of a case from stored face detections (encodings made up here, so no detector runs): clustering,
stable person ids, users' decisions replayed from the ledger, renumbered tracks, access and errors."""

from __future__ import annotations

import numpy as np
import pytest

from evidence_store.access import Actor, add_member, add_user, resolve_actor
from evidence_store.cases import create_case
from evidence_store.errors import AccessDeniedError, NotFoundError, PersonDecisionError
from evidence_store.faces import (
    case_persons,
    cluster_case,
    face_detections_with_persons,
    merge_persons,
    name_person,
    record_face_detections,
    split_person,
)
from evidence_store.intake import IngestRequest, ingest
from evidence_store.system import EvidenceSystem
from forensics.faces import FaceAnalysis, FaceBox, FaceDetection, FaceQuality
from schemas.records import CustodyAction

RNG = np.random.default_rng(7)
PEOPLE = {name: RNG.normal(size=128) for name in ("ann", "bob", "cat")}
for _name, _vector in PEOPLE.items():
    PEOPLE[_name] = _vector / np.linalg.norm(_vector) * 0.6  # dlib's descriptors: 0.6-0.9 apart between people


def _face(person: str, jitter: float = 0.08) -> tuple[float, ...]:
    noise = RNG.normal(size=128)
    return tuple(float(v) for v in PEOPLE[person] + noise / np.linalg.norm(noise) * jitter)


def _analysis(faces: list[tuple[int, float | None, FaceBox, str | None]]) -> FaceAnalysis:
    quality = FaceQuality(120, 300.0, True, 1.0)
    return FaceAnalysis(
        width=1280,
        height=720,
        duration_s=None,
        frames_examined=1,
        detections=tuple(
            FaceDetection(track, time_s, box, quality, _face(person) if person else None)
            for track, time_s, box, person in faces
        ),
        tool_version="test",
    )


@pytest.fixture
def case(system: EvidenceSystem, analyst: Actor, tmp_path: object) -> dict[str, int]:
    """Three exhibits: a photo of Ann and Bob, a photo of Ann, a video of Bob then Cat (two tracks)."""
    create_case(system, analyst, "OP-P", "Persons")
    ids = {}
    for name in ("group", "ann", "video"):
        path = tmp_path / f"{name}.bin"  # type: ignore[operator]
        path.write_bytes(name.encode() * 100)
        (outcome,) = ingest(system, analyst, [path], IngestRequest(case_ref="OP-P", by="Jane Smith"))
        assert outcome.exhibit_id is not None
        ids[name] = outcome.exhibit_id
    boxes = [FaceBox(100, 300, 300, 100), FaceBox(100, 700, 300, 500)]
    record_face_detections(
        system,
        analyst,
        ids["group"],
        "JS/1",
        _analysis([(1, None, boxes[0], "ann"), (2, None, boxes[1], "bob")]),
        "hog",
    )
    record_face_detections(system, analyst, ids["ann"], "JS/2", _analysis([(1, None, boxes[0], "ann")]), "hog")
    video = [(1, t / 2, boxes[0], "bob" if t % 4 == 0 else None) for t in range(8)]
    video += [(2, 5.0 + t / 2, boxes[1], "cat" if t % 4 == 0 else None) for t in range(6)]
    record_face_detections(system, analyst, ids["video"], "JS/3", _analysis(video), "hog")
    return ids


def _members(system: EvidenceSystem, actor: Actor) -> dict[str, set[tuple[str, int]]]:
    return {
        p.person_id: {(a["exhibit_ref"], a["track"]) for a in p.appearances}
        for p in case_persons(system, actor, "OP-P")
    }


def test_persons_across_exhibits_with_stable_ids(system: EvidenceSystem, analyst: Actor, case: dict[str, int]) -> None:
    summary = cluster_case(system, analyst, "OP-P")
    assert (summary.persons, summary.appearances, summary.pinned) == (3, 5, 0)
    first = _members(system, analyst)
    assert sorted(first.values(), key=sorted) == sorted(
        [{("JS/1", 1), ("JS/2", 1)}, {("JS/1", 2), ("JS/3", 1)}, {("JS/3", 2)}], key=sorted
    )
    # Clustering again gives the same ids to the same faces.
    cluster_case(system, analyst, "OP-P")
    assert _members(system, analyst) == first
    persons = case_persons(system, analyst, "OP-P")
    for person in persons:
        assert sum(a["representative"] for a in person.appearances) == 1
        assert person.appearances[0]["representative"]  # the best face first
        assert 0.0 <= person.confidence <= 1.0 and not person.confirmed
    video_bob = next(a for p in persons for a in p.appearances if a["exhibit_ref"] == "JS/3" and a["track"] == 1)
    assert (video_bob["start_s"], video_bob["end_s"]) == (0.0, 3.5)
    # Detections carry their person, never their encoding; every read is a VIEWED event.
    rows = face_detections_with_persons(system, analyst, "OP-P", case["video"])
    assert len(rows) == 14 and all("encoding" not in r for r in rows)
    assert sum(r["encoded"] for r in rows) == 4
    assert {r["person_id"] for r in rows if r["track"] == 2} == {
        next(iter(k for k, v in first.items() if ("JS/3", 2) in v))
    }


def test_decisions_are_ledger_events_that_later_clustering_keeps(
    system: EvidenceSystem, analyst: Actor, case: dict[str, int]
) -> None:
    cluster_case(system, analyst, "OP-P")
    people = _members(system, analyst)
    ann = next(k for k, v in people.items() if ("JS/2", 1) in v)
    bob = next(k for k, v in people.items() if ("JS/3", 1) in v)
    cat = next(k for k, v in people.items() if ("JS/3", 2) in v)
    name_person(system, analyst, "OP-P", ann, "Ann Example")
    # The video's Bob is somebody else after all; then Bob and Cat are one person (a user says so).
    split_person(system, analyst, "OP-P", bob, [(case["video"], 1)], reason="different jacket")
    people = _members(system, analyst)
    video_bob = next(k for k, v in people.items() if v == {("JS/3", 1)})
    assert video_bob not in (ann, bob, cat) and people[bob] == {("JS/1", 2)}
    merge_persons(system, analyst, "OP-P", [cat, video_bob])
    cluster_case(system, analyst, "OP-P")
    people = _members(system, analyst)
    assert people[cat] == {("JS/3", 1), ("JS/3", 2)} and video_bob not in people
    assert people[bob] == {("JS/1", 2)}
    named = {p.person_id: p for p in case_persons(system, analyst, "OP-P")}
    assert named[ann].name == "Ann Example" and named[ann].confirmed
    with system.catalog.reading() as session:
        decided = [e for e in system.ledger.iter(session, case_ref="OP-P") if e.action == CustodyAction.PERSON_DECIDED]
    assert [e.details["decision"] for e in decided] == ["name", "split", "merge"]
    assert decided[1].reason == "different jacket"

    # A new detection run numbers the video's tracks the other way round: the decisions find their faces again.
    boxes = [FaceBox(100, 300, 300, 100), FaceBox(100, 700, 300, 500)]
    video = [(2, t / 2, boxes[0], "bob" if t % 4 == 0 else None) for t in range(8)]
    video += [(1, 5.0 + t / 2, boxes[1], "cat" if t % 4 == 0 else None) for t in range(6)]
    record_face_detections(system, analyst, case["video"], "JS/3", _analysis(video), "hog")
    cluster_case(system, analyst, "OP-P")
    people = _members(system, analyst)
    assert people[cat] == {("JS/3", 1), ("JS/3", 2)} and people[bob] == {("JS/1", 2)}


def test_decisions_that_cannot_be_made(system: EvidenceSystem, analyst: Actor, case: dict[str, int]) -> None:
    with pytest.raises(PersonDecisionError, match="no persons yet"):
        name_person(system, analyst, "OP-P", "P1", "Nobody")
    cluster_case(system, analyst, "OP-P")
    people = _members(system, analyst)
    cat = next(k for k, v in people.items() if ("JS/3", 2) in v)
    with pytest.raises(NotFoundError):
        merge_persons(system, analyst, "OP-P", [cat, "P99"])
    with pytest.raises(PersonDecisionError, match="two different"):
        merge_persons(system, analyst, "OP-P", [cat, cat])
    with pytest.raises(PersonDecisionError, match="every appearance"):
        split_person(system, analyst, "OP-P", cat, [(case["video"], 2)])
    with pytest.raises(PersonDecisionError, match="not every face"):
        split_person(system, analyst, "OP-P", cat, [(case["ann"], 1)])
    ann = next(k for k, v in people.items() if ("JS/2", 1) in v)
    name_person(system, analyst, "OP-P", ann, "Ann")
    name_person(system, analyst, "OP-P", cat, "Cat")
    with pytest.raises(PersonDecisionError, match="named differently"):
        merge_persons(system, analyst, "OP-P", [ann, cat])


def test_who_may_decide(system: EvidenceSystem, analyst: Actor, admin: Actor, case: dict[str, int]) -> None:
    cluster_case(system, analyst, "OP-P")
    add_user(system, admin, "dc.reader", "investigator")
    add_user(system, admin, "outsider", "investigator")
    add_user(system, admin, "cps.officer", "disclosure_officer")
    investigator = resolve_actor(system, "dc.reader")
    add_member(system, admin, "OP-P", "dc.reader")
    add_member(system, admin, "OP-P", "cps.officer")
    person = case_persons(system, investigator, "OP-P")[0].person_id
    name_person(system, investigator, "OP-P", person, "Named by the investigator")  # reviewing faces is theirs
    with pytest.raises(AccessDeniedError):
        name_person(system, resolve_actor(system, "outsider"), "OP-P", person, "Not a member")
    with pytest.raises(AccessDeniedError):
        name_person(system, resolve_actor(system, "cps.officer"), "OP-P", person, "Not their role")
    assert {p.person_id: p.name for p in case_persons(system, analyst, "OP-P")}[person] == "Named by the investigator"
