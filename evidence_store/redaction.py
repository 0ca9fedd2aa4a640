"""Redacted copies of photos and videos for disclosure, and their review.

`redact_exhibit` chooses the faces to obscure from the exhibit's face tracks and the case's persons (every
face; every face except the persons named; or only the persons named), makes the copy with
`forensics.redaction` from a verified working copy of the original, and stores it as the derivative
`redacted_copy` with its provenance: the original's SHA-256, the tools and versions, the choice, the tracks
and the settings. The original is never touched.

A face track that belongs to no person (clustering has not run, or the track is too poor to encode) counts
as "not one of the persons named": with `except`, it is obscured. Leaving a bystander visible is the failure
that matters.

A redaction is not fit to leave the force until a reviewer has looked at it: `review_redaction` records the
reviewer's verdict (REDACTION_REVIEWED on the ledger, with the reviewer and their note), and
`redaction_status` gives the newest verdict: pending, approved or rejected. Export (disclosure) asks it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from evidence_store import __version__
from evidence_store.access import Actor, Permission, authorize
from evidence_store.analysis import newest_rows
from evidence_store.cases import get_case, get_exhibit
from evidence_store.catalog import Derivative, Exhibit
from evidence_store.derivatives import Provenance, record_derivative
from evidence_store.errors import NotFoundError, PersonDecisionError
from evidence_store.faces import persons_rows
from evidence_store.processing import exhibit_summary
from evidence_store.system import EvidenceSystem
from evidence_store.workspace import suffix_for, working_copy
from forensics.redaction import RedactionSettings, RedactionTrack, redact_photo, redact_video
from schemas.records import CustodyAction

MODES = ("all", "except", "only")
ROLE = "redacted_copy"
VERDICTS = ("approved", "rejected")


@dataclass(frozen=True, slots=True)
class RedactionOutcome:
    exhibit_ref: str
    derivative_sha256: str
    mode: str
    persons: tuple[str, ...]
    tracks_redacted: int
    tracks_kept: int
    frames: int
    frames_redacted: int
    status: str  # "pending review" until a reviewer approves it

    def to_dict(self) -> dict[str, Any]:
        return {
            "exhibit_ref": self.exhibit_ref,
            "derivative_sha256": self.derivative_sha256,
            "mode": self.mode,
            "persons": list(self.persons),
            "tracks_redacted": self.tracks_redacted,
            "tracks_kept": self.tracks_kept,
            "frames": self.frames,
            "frames_redacted": self.frames_redacted,
            "status": self.status,
        }


def _chosen(mode: str, persons: Sequence[str], person: str | None) -> bool:
    if mode == "all":
        return True
    if mode == "except":
        return person not in persons
    return person in persons


def redact_exhibit(
    system: EvidenceSystem,
    actor: Actor,
    exhibit: str | int,
    *,
    mode: str = "except",
    persons: Sequence[str] = (),
    settings: RedactionSettings | None = None,
    reason: str | None = None,
) -> RedactionOutcome:
    """A redacted copy of a photo or video exhibit, stored as its `redacted_copy` derivative, pending review.

    Raises:
        PersonDecisionError: an unknown mode, persons missing for it, or persons the case does not have.
        NotFoundError: the exhibit has no face detections yet (run its analyses first).
    """
    if mode not in MODES:
        raise PersonDecisionError(f"redact {', '.join(MODES)} faces, not {mode!r}")
    if mode != "all" and not persons:
        raise PersonDecisionError(f"'{mode}' needs the persons it is about (P1, P2, ...)")
    with system.catalog.reading() as session:
        found = get_exhibit(session, exhibit)
        authorize(system, session, actor, Permission.REDACT, found.case, exhibit_id=found.id)
        case_id, case_ref, exhibit_id, exhibit_ref = found.case_id, found.case.reference, found.id, found.reference
        uid = found.uid
    summary = exhibit_summary(system, uid)
    assert summary is not None
    original, source_name, media_type = summary.digests.sha256, summary.source_name, summary.media_type
    settings = settings or RedactionSettings()
    rows = newest_rows(system, exhibit_id, "face_detections", limit=10_000_000)
    if not rows and not _has_detections(system, exhibit_id):
        raise NotFoundError(
            f"{case_ref}:{exhibit_ref} has no face detections: run its analyses first", exhibit=exhibit_ref
        )
    person_of = {(r["exhibit_id"], r["track"]): r["person_id"] for r in persons_rows(system, case_id)}
    unknown = sorted(set(persons) - set(person_of.values()))
    if unknown:
        raise PersonDecisionError(f"case {case_ref} has no person {', '.join(unknown)}", persons=unknown)
    samples: dict[int, list[tuple[float | None, tuple[int, int, int, int]]]] = defaultdict(list)
    for row in rows:
        samples[row["track"]].append((row["time_s"], (row["top"], row["right"], row["bottom"], row["left"])))
    chosen = {t for t in samples if _chosen(mode, persons, person_of.get((exhibit_id, t)))}
    is_photo = media_type.startswith("image/") or all(t is None for pts in samples.values() for t, _b in pts)
    with working_copy(system, original, suffix_for(source_name)) as copy:
        suffix = ".mp4" if not is_photo else ".jpg" if copy.suffix.lower() in (".jpg", ".jpeg") else ".png"
        target = copy.with_name("redacted" + suffix)
        if is_photo:
            boxes = [box for t in sorted(chosen) for _time, box in samples[t]]
            report = redact_photo(copy, target, boxes, settings)
        else:
            tracks = [
                RedactionTrack(f"{exhibit_ref}#{t}", tuple((float(time or 0.0), box) for time, box in samples[t]))
                for t in sorted(chosen)
            ]
            report = redact_video(copy, target, tracks, settings)
        parameters = {
            **report.parameters,
            "mode": mode,
            "persons": list(persons),
            "tracks_redacted": sorted(chosen),
            "tracks_kept": sorted(set(samples) - chosen),
            "review": "required before export",
            "reason": reason or "",
        }
        provenance = Provenance(original, "exhibit redaction", f"{__version__}; {report.tool_version}", parameters)
        made = record_derivative(
            system,
            actor,
            exhibit_id,
            ROLE,
            report.output,
            provenance,
            media_type={".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png"}[suffix],
            permission=Permission.REDACT,
        )
    return RedactionOutcome(
        exhibit_ref=f"{case_ref}:{exhibit_ref}",
        derivative_sha256=made.sha256,
        mode=mode,
        persons=tuple(persons),
        tracks_redacted=len(chosen),
        tracks_kept=len(samples) - len(chosen),
        frames=report.frames,
        frames_redacted=report.frames_redacted,
        status="pending review",
    )


def _has_detections(system: EvidenceSystem, exhibit_id: int) -> bool:
    from evidence_store.catalog import AnalysisResult

    with system.catalog.reading() as session:
        found = session.execute(
            select(AnalysisResult.id).where(
                AnalysisResult.exhibit_id == exhibit_id, AnalysisResult.table_name == "face_detections"
            )
        ).first()
    return found is not None


def _redaction(system: EvidenceSystem, exhibit_id: int, sha256: str) -> Derivative:
    with system.catalog.reading() as session:
        made = session.execute(
            select(Derivative).where(
                Derivative.exhibit_id == exhibit_id, Derivative.role == ROLE, Derivative.sha256 == sha256
            )
        ).first()
    if made is None:
        raise NotFoundError(f"no redacted copy {sha256[:16]}… of this exhibit", derivative=sha256)
    return made[0]


def review_redaction(
    system: EvidenceSystem, actor: Actor, exhibit: str | int, sha256: str, verdict: str, note: str
) -> str:
    """A reviewer's verdict on a redacted copy (they watched it through): approved or rejected, with a note."""
    if verdict not in VERDICTS:
        raise PersonDecisionError(f"a review is {' or '.join(VERDICTS)}, not {verdict!r}")
    if not note.strip():
        raise PersonDecisionError("say what was checked: the note goes on the custody ledger with the verdict")
    with system.catalog.reading() as session:
        found = get_exhibit(session, exhibit)
        authorize(system, session, actor, Permission.REDACT, found.case, exhibit_id=found.id)
        case_ref, exhibit_id = found.case.reference, found.id
    _redaction(system, exhibit_id, sha256)
    system.record(
        CustodyAction.REDACTION_REVIEWED,
        actor=actor.name,
        role=actor.role,
        case_ref=case_ref,
        exhibit_id=exhibit_id,
        object_sha256=sha256,
        reason=note,
        details={"verdict": verdict, "derivative": ROLE},
    )
    return verdict


def redaction_status(system: EvidenceSystem, exhibit_id: int, sha256: str) -> str:
    """pending review, approved or rejected: the newest reviewer's verdict on this redacted copy."""
    status = "pending review"
    with system.catalog.reading() as session:
        for event in system.ledger.iter(session, exhibit_id=exhibit_id):
            if event.action == CustodyAction.REDACTION_REVIEWED and event.object_sha256 == sha256:
                status = str(event.details["verdict"])
    return status


def case_redactions(system: EvidenceSystem, actor: Actor, case_ref: str) -> list[dict[str, Any]]:
    """Every redacted copy of the case's exhibits with what it hides and the newest review's verdict (a list
    of copies, not a view of evidence: watching one is recorded when its link is made)."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        made = session.execute(
            select(Derivative, Exhibit.reference)
            .join(Exhibit, Exhibit.id == Derivative.exhibit_id)
            .where(Exhibit.case_id == case.id, Derivative.role == ROLE)
            .order_by(Derivative.id)
        ).all()
    return [
        {
            "exhibit_id": d.exhibit_id,
            "exhibit_ref": ref,
            "sha256": d.sha256,
            "made_from": d.source_sha256,
            "parameters": d.parameters,
            "created_at": d.created_at,
            "status": redaction_status(system, d.exhibit_id, d.sha256),
        }
        for d, ref in made
    ]
