"""Faces of a case: detections per exhibit, persons across the case, users' decisions, reference matching.

- `record_face_detections` stores one exhibit's `face_detections` table (encodings included: they are
  personal data, so they live only in the encrypted store; no event, log or CLI output carries one).
- `cluster_case` groups every appearance (a video track, or one face in a photo) of a case into persons
  (`forensics.face_clusters`) and stores the `case_persons` table. Person ids (P1, P2, ...) stay with the
  faces they were given to: a new clustering reuses the id of the earlier person it shares most faces with.
- `merge_persons`, `split_person` and `name_person` are users' decisions: each is a PERSON_DECIDED event on
  the ledger that records its whole effect (which faces belong to which person, and names). Clustering replays
  those events in order and keeps their faces where they put them; the ledger is the only place decisions
  live, so they are signed, chained and exported with the case like any custody event.
- `match_reference` compares a reference photo (stored like evidence, FACE_REFERENCE_ADDED) with every
  appearance of the case: leads ordered by distance, with the threshold stated, for a person to confirm.

A face in a decision is named by exhibit, time and box, not by track number alone: a later detection run with
other settings may number tracks differently, and the face is found again by where it was.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from evidence_store import __version__
from evidence_store.access import Actor, Permission, authorize, record_view
from evidence_store.analysis import newest_results, record_case_table, record_table, result_batches
from evidence_store.cases import get_case
from evidence_store.catalog import AnalysisResult, Case, Exhibit
from evidence_store.errors import NotFoundError, PersonDecisionError
from evidence_store.system import EvidenceSystem
from forensics.face_clusters import CLUSTER_THRESHOLD, chinese_whispers
from forensics.faces import MATCH_THRESHOLD, FaceAnalysis, FaceBox, FaceSettings, encode_reference
from schemas.records import CustodyAction
from schemas.tables import CASE_PERSONS, FACE_DETECTIONS

LEAD_LABEL = "lead: a possible match for a person to confirm, not an identification"
_PERSON_ID = re.compile(r"^P([1-9][0-9]*)$")


# -- detections ---------------------------------------------------------------------------------------------


def face_detection_rows(exhibit_id: int, exhibit_ref: str, analysis: FaceAnalysis, model: str) -> list[dict[str, Any]]:
    rows = []
    for face in analysis.detections:
        rows.append(
            {
                "exhibit_id": exhibit_id,
                "exhibit_ref": exhibit_ref,
                "track": face.track,
                "time_s": face.time_s,
                "top": face.box.top,
                "right": face.box.right,
                "bottom": face.box.bottom,
                "left": face.box.left,
                "frame_width": analysis.width,
                "frame_height": analysis.height,
                "face_height_px": face.quality.height_px,
                "sharpness": face.quality.sharpness,
                "landmarks_plausible": face.quality.landmarks_plausible,
                "quality": face.quality.score,
                "encoding": list(face.encoding) if face.encoding is not None else None,
                "model": model,
            }
        )
    return rows


def record_face_detections(
    system: EvidenceSystem, actor: Actor, exhibit_id: int, exhibit_ref: str, analysis: FaceAnalysis, model: str
) -> AnalysisResult:
    table = pa.Table.from_pylist(face_detection_rows(exhibit_id, exhibit_ref, analysis, model), schema=FACE_DETECTIONS)
    return record_table(
        system,
        actor,
        exhibit_id,
        "face_detections",
        table,
        tool="exhibit face_detections",
        tool_version=f"{__version__}; {analysis.tool_version}",
    )


@dataclass
class Appearance:
    """One person's presence in one exhibit: a video track, or a face in a photo."""

    exhibit_id: int
    exhibit_ref: str
    track: int
    samples: list[tuple[float | None, FaceBox, float]] = field(default_factory=list)  # time, box, quality
    encodings: list[np.ndarray[Any, np.dtype[np.float32]]] = field(default_factory=list)
    encoded_samples: list[tuple[float | None, FaceBox, float]] = field(default_factory=list)  # one per encoding

    @property
    def key(self) -> tuple[int, int]:
        return (self.exhibit_id, self.track)

    @property
    def best(self) -> tuple[float | None, FaceBox, float]:
        return max(self.samples, key=lambda s: (s[2], -(s[0] or 0.0)))

    @property
    def start_s(self) -> float | None:
        times = [t for t, _b, _q in self.samples if t is not None]
        return min(times) if times else None

    @property
    def end_s(self) -> float | None:
        times = [t for t, _b, _q in self.samples if t is not None]
        return max(times) if times else None

    def mean_encoding(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        mean: np.ndarray[Any, np.dtype[np.float32]] = np.stack(self.encodings).mean(axis=0, dtype=np.float32)
        return mean

    def holds(self, time_s: float | None, box: FaceBox) -> bool:
        """Whether this appearance has a face at `time_s` overlapping `box` (how a decision finds its face)."""
        for t, b, _q in self.samples:
            same_time = (t is None and time_s is None) or (
                t is not None and time_s is not None and abs(t - time_s) < 0.02
            )
            if same_time and b.iou(box) >= 0.5:
                return True
        return False


def _case_detection_results(session: Any, case_id: int) -> list[str]:
    disposed = select(Exhibit.id).where(Exhibit.case_id == case_id, Exhibit.status == "disposed")
    query = select(AnalysisResult).where(
        AnalysisResult.case_id == case_id,
        AnalysisResult.table_name == "face_detections",
        AnalysisResult.exhibit_id.not_in(disposed),  # their tables were deleted with them
    )
    return newest_results(session, query)


def case_appearances(system: EvidenceSystem, case_id: int) -> list[Appearance]:
    """Every appearance of the case, from the newest face_detections of each exhibit, in a fixed order."""
    with system.catalog.reading() as session:
        results = _case_detection_results(session, case_id)
    found: dict[tuple[int, int], Appearance] = {}
    for batch in result_batches(system, results):
        columns = batch.to_pydict()
        encodings = batch.column("encoding")
        for i in range(batch.num_rows):
            key = (columns["exhibit_id"][i], columns["track"][i])
            appearance = found.setdefault(key, Appearance(key[0], columns["exhibit_ref"][i], key[1]))
            box = FaceBox(columns["top"][i], columns["right"][i], columns["bottom"][i], columns["left"][i])
            sample = (columns["time_s"][i], box, float(columns["quality"][i]))
            appearance.samples.append(sample)
            if encodings[i].is_valid:
                appearance.encodings.append(np.asarray(encodings[i].values.to_numpy(), dtype=np.float32))
                appearance.encoded_samples.append(sample)
    return [found[key] for key in sorted(found) if found[key].encodings]


def cases_with_new_faces(system: EvidenceSystem, after_id: int) -> list[tuple[str, int]]:
    """Cases with face detections recorded after result `after_id`, each with its newest result id."""
    with system.catalog.reading() as session:
        rows = session.execute(
            select(Case.reference, AnalysisResult.id)
            .join(Case, Case.id == AnalysisResult.case_id)
            .where(AnalysisResult.table_name == "face_detections", AnalysisResult.id > after_id)
            .order_by(AnalysisResult.id)
        ).all()
    newest: dict[str, int] = {}
    for reference, result_id in rows:
        newest[reference] = result_id
    return sorted(newest.items(), key=lambda item: item[1])


def newest_result_id(system: EvidenceSystem) -> int:
    """The id of the newest analysis result: where a later `cases_with_new_faces` starts looking."""
    with system.catalog.reading() as session:
        found = session.execute(select(AnalysisResult.id).order_by(AnalysisResult.id.desc()).limit(1)).scalar()
    return int(found or 0)


def cluster_cases_with_new_faces(system: EvidenceSystem, actor: Actor, after_id: int) -> list[PersonsSummary]:
    """Clusters again every case with face detections newer than `after_id` (what the persons sensor asks the
    daemon for, done here for runs made without one)."""
    return [cluster_case(system, actor, case) for case, _newest in cases_with_new_faces(system, after_id)]


# -- decisions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaceRef:
    """A face as a decision names it: exhibit, time (None in a photo) and box."""

    exhibit_id: int
    track: int
    time_s: float | None
    box: FaceBox

    def to_dict(self) -> dict[str, Any]:
        return {
            "exhibit_id": self.exhibit_id,
            "track": self.track,
            # milliseconds: the ledger's canonical JSON has no floats
            "time_ms": None if self.time_s is None else round(self.time_s * 1000),
            "box": list(self.box.as_tuple()),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceRef:
        time_ms = data.get("time_ms")
        time_s = None if time_ms is None else int(time_ms) / 1000
        return cls(int(data["exhibit_id"]), int(data["track"]), time_s, FaceBox(*data["box"]))

    @classmethod
    def of(cls, appearance: Appearance) -> FaceRef:
        time_s, box, _quality = appearance.best
        return cls(appearance.exhibit_id, appearance.track, time_s, box)


@dataclass
class Decisions:
    """The replayed effect of a case's PERSON_DECIDED events."""

    pins: dict[FaceRef, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)
    highest: int = 0  # the highest person number any decision used

    def apply(self, details: dict[str, Any]) -> None:
        for entry in details.get("pins", []):
            self.pins[FaceRef.from_dict(entry["face"])] = entry["person"]
            self.highest = max(self.highest, _number(entry["person"]))
        for person, name in details.get("names", {}).items():
            if name:
                self.names[person] = name
            else:
                self.names.pop(person, None)
        for person in details.get("retired", []):
            self.retired.add(person)
            self.highest = max(self.highest, _number(person))


def _number(person_id: str) -> int:
    match = _PERSON_ID.match(person_id)
    return int(match[1]) if match else 0


def case_decisions(system: EvidenceSystem, case_ref: str) -> Decisions:
    decisions = Decisions()
    with system.catalog.reading() as session:
        for event in system.ledger.iter(session, case_ref=case_ref):
            if event.action == CustodyAction.PERSON_DECIDED:
                decisions.apply(dict(event.details))
    return decisions


def _resolve_pins(appearances: Sequence[Appearance], decisions: Decisions) -> list[str | None]:
    """Each appearance's pinned person, where a decision names one of its faces."""
    by_exhibit: dict[int, list[int]] = defaultdict(list)
    for index, appearance in enumerate(appearances):
        by_exhibit[appearance.exhibit_id].append(index)
    pinned: list[str | None] = [None] * len(appearances)
    for ref, person in decisions.pins.items():
        candidates = by_exhibit.get(ref.exhibit_id, [])
        # The same track first (the usual case), then any track with a face there (renumbered tracks).
        ordered = sorted(candidates, key=lambda i: appearances[i].track != ref.track)
        for index in ordered:
            if appearances[index].holds(ref.time_s, ref.box):
                pinned[index] = person
                break
    return pinned


# -- persons ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonsSummary:
    case_ref: str
    persons: int
    appearances: int
    pinned: int
    threshold: float
    result_sha256: str | None


def _previous_assignment(system: EvidenceSystem, case_id: int) -> tuple[dict[tuple[int, int], str], int]:
    """The person of each appearance in the newest case_persons table, and the highest person number used."""
    with system.catalog.reading() as session:
        query = select(AnalysisResult).where(
            AnalysisResult.case_id == case_id, AnalysisResult.table_name == "case_persons"
        )
        results = newest_results(session, query)
    assignment: dict[tuple[int, int], str] = {}
    highest = 0
    for batch in result_batches(system, results):
        data = batch.to_pydict()
        for exhibit_id, track, person in zip(data["exhibit_id"], data["track"], data["person_id"], strict=True):
            assignment[(exhibit_id, track)] = person
            highest = max(highest, _number(person))
    return assignment, highest


def _person_ids(
    labels: Sequence[Hashable], appearances: Sequence[Appearance], previous: dict[tuple[int, int], str], highest: int
) -> dict[Hashable, str]:
    """A person id for each cluster label: its pin; else the earlier person it shares most faces with (each
    earlier id used once, biggest overlaps first); else a new number."""
    members: dict[Hashable, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[label].append(index)
    ids: dict[Hashable, str] = {}
    taken: set[str] = set()
    for label in members:
        if isinstance(label, str):
            ids[label] = label
            taken.add(label)
    overlaps = []
    for label, indexes in members.items():
        if label in ids:
            continue
        counts: dict[str, int] = defaultdict(int)
        for index in indexes:
            earlier = previous.get(appearances[index].key)
            if earlier is not None:
                counts[earlier] += 1
        for earlier, count in counts.items():
            overlaps.append((count, earlier, repr(label), label))
    for _count, earlier, _order, label in sorted(overlaps, key=lambda o: (-o[0], _number(o[1]), o[2])):
        if label not in ids and earlier not in taken:
            ids[label] = earlier
            taken.add(earlier)
    fresh = max([highest, *(_number(p) for p in taken)])
    for label in sorted(members, key=lambda lb: min(members[lb])):
        if label not in ids:
            fresh += 1
            ids[label] = f"P{fresh}"
    return ids


def _person_rows(
    appearances: Sequence[Appearance],
    labels: Sequence[Hashable],
    ids: dict[Hashable, str],
    pinned: Sequence[str | None],
    names: dict[str, str],
) -> list[dict[str, Any]]:
    members: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[ids[label]].append(index)
    rows: list[dict[str, Any]] = []
    for person in sorted(members, key=_number):
        indexes = members[person]
        vectors = np.stack([appearances[i].mean_encoding() for i in indexes])
        centre = vectors.mean(axis=0)
        distances = np.linalg.norm(vectors - centre, axis=1)
        confidence = _confidence(vectors)
        best = max(range(len(indexes)), key=lambda k: (appearances[indexes[k]].best[2], -float(distances[k])))
        confirmed = any(pinned[i] is not None for i in indexes) or person in names
        for k, index in enumerate(indexes):
            appearance = appearances[index]
            time_s, box, quality = appearance.best
            rows.append(
                {
                    "person_id": person,
                    "name": names.get(person),
                    "confirmed": confirmed,
                    "confidence": confidence,
                    "exhibit_id": appearance.exhibit_id,
                    "exhibit_ref": appearance.exhibit_ref,
                    "track": appearance.track,
                    "start_s": appearance.start_s,
                    "end_s": appearance.end_s,
                    "time_s": time_s,
                    "top": box.top,
                    "right": box.right,
                    "bottom": box.bottom,
                    "left": box.left,
                    "quality": quality,
                    "distance": float(distances[k]),
                    "representative": k == best,
                    "pinned": pinned[index] is not None,
                }
            )
    return rows


def _confidence(vectors: np.ndarray[Any, np.dtype[np.float32]]) -> float:
    """How much a person's faces agree: the mean of 1 - d/0.6 over each face's distance to the mean of the
    others (0 for a person seen once: nothing agrees or disagrees with a lone face)."""
    count = len(vectors)
    if count < 2:
        return 0.0
    total = vectors.sum(axis=0)
    scores = []
    for vector in vectors:
        others = (total - vector) / (count - 1)
        scores.append(max(0.0, 1.0 - float(np.linalg.norm(vector - others)) / MATCH_THRESHOLD))
    return round(float(np.mean(scores)), 4)


def cluster_case(
    system: EvidenceSystem, actor: Actor, case_ref: str, threshold: float = CLUSTER_THRESHOLD
) -> PersonsSummary:
    """Clusters the case's faces into persons, respecting every decision on the ledger, and stores the table."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.ANALYSE, case)
        case_id = case.id
    appearances = case_appearances(system, case_id)
    decisions = case_decisions(system, case_ref)
    pinned = _resolve_pins(appearances, decisions)
    encodings = np.stack([a.mean_encoding() for a in appearances]) if appearances else np.zeros((0, 128), np.float32)
    labels = chinese_whispers(encodings, pinned, threshold)
    previous, highest = _previous_assignment(system, case_id)
    ids = _person_ids(labels, appearances, previous, max(highest, decisions.highest))
    rows = _person_rows(appearances, labels, ids, pinned, decisions.names)
    table = pa.Table.from_pylist(rows, schema=CASE_PERSONS)
    result = record_case_table(
        system,
        actor,
        case_ref,
        "case_persons",
        table,
        tool="exhibit case_persons",
        tool_version=f"{__version__}; chinese whispers, threshold {threshold}",
    )
    return PersonsSummary(
        case_ref=case_ref,
        persons=len({r["person_id"] for r in rows}),
        appearances=len(rows),
        pinned=sum(p is not None for p in pinned),
        threshold=threshold,
        result_sha256=result.sha256,
    )


@dataclass(frozen=True, slots=True)
class Person:
    person_id: str
    name: str | None
    confirmed: bool
    confidence: float
    appearances: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "confirmed": self.confirmed,
            "confidence": self.confidence,
            "appearances": list(self.appearances),
        }


def persons_rows(system: EvidenceSystem, case_id: int) -> list[dict[str, Any]]:
    """The newest case_persons rows of a case, for a caller that has authorised the read."""
    with system.catalog.reading() as session:
        query = select(AnalysisResult).where(
            AnalysisResult.case_id == case_id, AnalysisResult.table_name == "case_persons"
        )
        results = newest_results(session, query)
    rows: list[dict[str, Any]] = []
    for batch in result_batches(system, results):
        rows.extend(batch.to_pylist())
    return rows


def case_persons(system: EvidenceSystem, actor: Actor, case_ref: str, reason: str | None = None) -> list[Person]:
    """The case's persons (newest clustering), each with its appearances, best first."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        case_id = case.id
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in persons_rows(system, case_id):
        grouped[row["person_id"]].append(row)
    persons = []
    for person_id in sorted(grouped, key=_number):
        rows = grouped[person_id]
        first = rows[0]
        keep = ("exhibit_id", "exhibit_ref", "track", "start_s", "end_s", "time_s", "quality", "distance")
        appearances = tuple(
            {
                **{k: r[k] for k in keep},
                "box": [r["top"], r["right"], r["bottom"], r["left"]],
                "representative": r["representative"],
                "pinned": r["pinned"],
            }
            for r in sorted(rows, key=lambda r: (not r["representative"], r["exhibit_id"], r["start_s"] or 0.0))
        )
        persons.append(Person(person_id, first["name"], first["confirmed"], first["confidence"], appearances))
    record_view(system, actor, "table:case_persons", case_ref, reason=reason)
    return persons


def face_detections_with_persons(
    system: EvidenceSystem, actor: Actor, case_ref: str, exhibit_id: int | None = None, reason: str | None = None
) -> list[dict[str, Any]]:
    """Every detection of the case (or one exhibit) with its person, never with its encoding."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case, exhibit_id=exhibit_id)
        case_id = case.id
        results = _case_detection_results(session, case_id)
        if exhibit_id is not None:
            query = select(AnalysisResult).where(
                AnalysisResult.exhibit_id == exhibit_id, AnalysisResult.table_name == "face_detections"
            )
            results = newest_results(session, query)
    person_of = {(r["exhibit_id"], r["track"]): r["person_id"] for r in persons_rows(system, case_id)}
    rows = []
    for batch in result_batches(system, results):
        encoded = batch.column("encoding").is_valid().to_pylist()
        for row, has_encoding in zip(batch.drop_columns(["encoding"]).to_pylist(), encoded, strict=True):
            row["person_id"] = person_of.get((row["exhibit_id"], row["track"]))
            row["box"] = [row.pop("top"), row.pop("right"), row.pop("bottom"), row.pop("left")]
            row["encoded"] = has_encoding
            rows.append(row)
    record_view(system, actor, "table:face_detections", case_ref, exhibit_id, reason=reason)
    return rows


# -- decisions, by users ---------------------------------------------------------------------------------------


def _current(system: EvidenceSystem, actor: Actor, case_ref: str) -> tuple[Case, dict[str, list[dict[str, Any]]]]:
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.REVIEW_FACES, case)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in persons_rows(system, case.id):
        grouped[row["person_id"]].append(row)
    if not grouped:
        raise PersonDecisionError(
            f"case {case_ref} has no persons yet: run `exhibit persons cluster --case {case_ref}`"
        )
    return case, grouped


def _ref(row: dict[str, Any]) -> dict[str, Any]:
    box = FaceBox(row["top"], row["right"], row["bottom"], row["left"])
    return FaceRef(row["exhibit_id"], row["track"], row["time_s"], box).to_dict()


def _decide(
    system: EvidenceSystem, actor: Actor, case_ref: str, details: dict[str, Any], reason: str | None
) -> PersonsSummary:
    system.record(
        CustodyAction.PERSON_DECIDED,
        actor=actor.name,
        role=actor.role,
        case_ref=case_ref,
        reason=reason,
        details=details,
    )
    return cluster_case(system, _as_service(actor), case_ref)


def _as_service(actor: Actor) -> Actor:
    # The re-clustering after a user's decision is the system's work (an investigator may not run analyses).
    from evidence_store.access import SERVICE

    return SERVICE if actor.role not in ("analyst", "admin") else actor


def _known(grouped: dict[str, list[dict[str, Any]]], person_ids: Sequence[str]) -> None:
    missing = [p for p in person_ids if p not in grouped]
    if missing:
        raise NotFoundError(f"no person {', '.join(missing)} in this case", persons=missing)


def merge_persons(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    person_ids: Sequence[str],
    name: str | None = None,
    reason: str | None = None,
) -> PersonsSummary:
    """One person from several: every face of them goes to the lowest id, and the others are retired."""
    if len(set(person_ids)) < 2:
        raise PersonDecisionError("name at least two different persons to merge")
    _case, grouped = _current(system, actor, case_ref)
    _known(grouped, person_ids)
    target = min(person_ids, key=_number)
    names = {grouped[p][0]["name"] for p in person_ids} - {None}
    if name is None and len(names) > 1:
        raise PersonDecisionError(
            f"the persons are named differently ({', '.join(sorted(names))}): give the name to keep"
        )
    kept = name or (names.pop() if names else None)
    pins = [{"face": _ref(row), "person": target} for p in person_ids for row in grouped[p]]
    details = {
        "decision": "merge",
        "persons": list(person_ids),
        "into": target,
        "pins": pins,
        "names": {target: kept} if kept else {},
        "retired": [p for p in person_ids if p != target],
    }
    return _decide(system, actor, case_ref, details, reason)


def split_person(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    person_id: str,
    faces: Sequence[tuple[int, int]],
    reason: str | None = None,
) -> PersonsSummary:
    """Moves the appearances `faces` ((exhibit id, track) pairs) of a person to a new person; the rest stay."""
    _case, grouped = _current(system, actor, case_ref)
    _known(grouped, [person_id])
    rows = grouped[person_id]
    chosen = {(int(e), int(t)) for e, t in faces}
    moving = [r for r in rows if (r["exhibit_id"], r["track"]) in chosen]
    staying = [r for r in rows if (r["exhibit_id"], r["track"]) not in chosen]
    if len(moving) != len(chosen):
        raise PersonDecisionError(f"not every face named is one of {person_id}'s appearances")
    if not staying:
        raise PersonDecisionError(f"that is every appearance of {person_id}: nothing to split from")
    # `grouped` is the newest persons table already: its ids and the decisions' are every number used.
    new_id = f"P{max(case_decisions(system, case_ref).highest, *(_number(p) for p in grouped)) + 1}"
    pins = [{"face": _ref(r), "person": new_id} for r in moving] + [
        {"face": _ref(r), "person": person_id} for r in staying
    ]
    details = {"decision": "split", "person": person_id, "new_person": new_id, "pins": pins}
    return _decide(system, actor, case_ref, details, reason)


def name_person(
    system: EvidenceSystem, actor: Actor, case_ref: str, person_id: str, name: str, reason: str | None = None
) -> PersonsSummary:
    """Names a person (an empty name removes it); naming also confirms the person's current appearances."""
    _case, grouped = _current(system, actor, case_ref)
    _known(grouped, [person_id])
    pins = [{"face": _ref(r), "person": person_id} for r in grouped[person_id]]
    details = {"decision": "name", "person": person_id, "names": {person_id: name.strip()}, "pins": pins}
    return _decide(system, actor, case_ref, details, reason)


# -- reference matching ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lead:
    exhibit_id: int
    exhibit_ref: str
    track: int
    person_id: str | None
    time_s: float | None  # of the closest face of the appearance
    start_s: float | None
    end_s: float | None
    box: tuple[int, int, int, int]
    distance: float
    within_threshold: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "exhibit_id": self.exhibit_id,
            "exhibit_ref": self.exhibit_ref,
            "track": self.track,
            "person_id": self.person_id,
            "time_s": self.time_s,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "box": list(self.box),
            "distance": round(self.distance, 4),
            "within_threshold": self.within_threshold,
        }


@dataclass(frozen=True, slots=True)
class ReferenceMatch:
    case_ref: str
    reference_name: str
    reference_sha256: str
    threshold: float
    leads: tuple[Lead, ...]  # every appearance, closest first; those within the threshold are the leads
    label: str = LEAD_LABEL

    def to_dict(self, include_beyond: bool = False) -> dict[str, Any]:
        shown = [lead for lead in self.leads if include_beyond or lead.within_threshold]
        return {
            "case": self.case_ref,
            "reference": {"name": self.reference_name, "sha256": self.reference_sha256},
            "threshold": self.threshold,
            "label": self.label,
            "leads": sum(lead.within_threshold for lead in self.leads),
            "compared": len(self.leads),
            "appearances": [lead.to_dict() for lead in shown],
        }


def match_reference(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    photo: str | Path,
    name: str,
    threshold: float = MATCH_THRESHOLD,
    reason: str | None = None,
) -> ReferenceMatch:
    """Stores a reference photo of a named person with the case and lists every appearance by distance.

    Raises:
        FaceReferenceError: the photo does not show exactly one face.
        NotImageError, PhotoDamagedError: not a photo that decodes.
    """
    if not 0 < threshold <= 1.5:
        raise PersonDecisionError(f"a face distance threshold lies between 0 and 1.5, not {threshold}")
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.REVIEW_FACES, case)
        case_id = case.id
    encoding, box = encode_reference(photo, FaceSettings())
    stored = system.store.put_file(photo)
    system.record(
        CustodyAction.FACE_REFERENCE_ADDED,
        actor=actor.name,
        role=actor.role,
        case_ref=case_ref,
        object_sha256=stored.digests.sha256,
        reason=reason,
        details={"name": name, "source_name": Path(photo).name, "box": list(box.as_tuple())},
    )
    reference = np.asarray(encoding, dtype=np.float32)
    person_of = {(r["exhibit_id"], r["track"]): r["person_id"] for r in persons_rows(system, case_id)}
    leads = []
    for appearance in case_appearances(system, case_id):
        distances = [float(np.linalg.norm(e - reference)) for e in appearance.encodings]
        closest = int(np.argmin(distances))
        time_s, face_box, _quality = appearance.encoded_samples[closest]
        leads.append(
            Lead(
                appearance.exhibit_id,
                appearance.exhibit_ref,
                appearance.track,
                person_of.get(appearance.key),
                time_s,
                appearance.start_s,
                appearance.end_s,
                face_box.as_tuple(),
                distances[closest],
                distances[closest] <= threshold,
            )
        )
    leads.sort(key=lambda lead: (lead.distance, lead.exhibit_id, lead.track))
    match = ReferenceMatch(case_ref, name, stored.digests.sha256, threshold, tuple(leads))
    system.record(
        CustodyAction.FACE_MATCHED,
        actor=actor.name,
        role=actor.role,
        case_ref=case_ref,
        object_sha256=stored.digests.sha256,
        reason=reason,
        details={
            "name": name,
            # As text: the ledger's canonical JSON has no floats (their printing differs between languages).
            "threshold": f"{threshold:g}",
            "compared": len(leads),
            "leads": [
                {"exhibit_id": lead.exhibit_id, "track": lead.track, "distance": f"{lead.distance:.4f}"}
                for lead in leads
                if lead.within_threshold
            ][:200],
            "label": LEAD_LABEL,
        },
    )
    return match


# -- pictures of faces ------------------------------------------------------------------------------------------


def face_picture(
    system: EvidenceSystem, actor: Actor, exhibit_id: int, track: int, time_s: float | None, side: int = 160
) -> bytes:
    """A JPEG of the face detected in `track` at (or nearest) `time_s`, cut from the recording's review proxy
    (or the original, for a photo or where there is no proxy) in a working copy. A recorded view.

    Raises:
        NotFoundError: no such detection.
        AccessDeniedError: not a member of the exhibit's case (recorded).
    """
    from evidence_store.analysis import newest_batches
    from evidence_store.cases import get_exhibit
    from evidence_store.derivatives import latest_derivative
    from evidence_store.workspace import suffix_for, working_copy
    from forensics.faces import face_picture as cut_face

    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, exhibit_id)
        authorize(system, session, actor, Permission.VIEW, exhibit.case, exhibit_id=exhibit.id)
        case_ref, source, source_name = exhibit.case.reference, exhibit.original_sha256, exhibit.source_name
    rows = [
        r
        for batch in newest_batches(system, exhibit_id, "face_detections")
        for r in batch.drop_columns(["encoding"]).to_pylist()
        if r["track"] == track
    ]
    if not rows:
        raise NotFoundError(f"exhibit {exhibit_id} has no face track {track}", exhibit=exhibit_id, track=track)
    row = min(rows, key=lambda r: abs((r["time_s"] or 0.0) - (time_s or 0.0)))
    if row["time_s"] is not None:
        proxy = latest_derivative(system, exhibit_id, "review_proxy")
        if proxy is not None:
            source, source_name = proxy.sha256, "proxy.mp4"
    box = FaceBox(row["top"], row["right"], row["bottom"], row["left"])
    with working_copy(system, source, suffix_for(source_name)) as path:
        picture = cut_face(path, box, (row["frame_width"], row["frame_height"]), row["time_s"], side)
    record_view(system, actor, f"face picture track {track}", case_ref, exhibit_id, object_sha256=source)
    return picture
