"""Near-duplicate pictures across a case: photos and video keyframes whose perceptual hashes nearly agree.

The same scene photographed by two officers, a photo re-saved or resized on a seized phone, a still taken from
body-worn video: each shows up as a pair of exhibits whose pHashes differ in a few bits. Reading the tables is a
view of the case (authorised and on the ledger, as any `read_table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evidence_store.access import Actor
from evidence_store.analysis import read_table
from evidence_store.system import EvidenceSystem
from forensics.photo_metadata import NEAR_DUPLICATE_BITS, near_duplicates


@dataclass(frozen=True, slots=True)
class Picture:
    """A picture in a case: a photo exhibit, or one keyframe of a video exhibit (at `time_s`)."""

    exhibit_id: int
    exhibit_ref: str
    what: str  # "photo" or "keyframe"
    time_s: float | None = None
    image_sha256: str | None = None  # the keyframe image (a derivative); a photo is its exhibit's original

    def to_dict(self) -> dict[str, Any]:
        return {
            "exhibit_id": self.exhibit_id,
            "exhibit_ref": self.exhibit_ref,
            "what": self.what,
            "time_s": self.time_s,
            "image_sha256": self.image_sha256,
        }


def similar_pictures(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    *,
    max_distance: int = NEAR_DUPLICATE_BITS,
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """Pairs of pictures from different exhibits of the case within `max_distance` pHash bits, closest first.

    Raises:
        AccessDeniedError: the actor may not view the case (recorded).
        ValueError: `max_distance` outside 0-64, or so wide that it pairs more than a million pictures.
    """
    items: list[tuple[Picture, str]] = []
    for row in read_table(system, actor, "photo_metadata", case_ref, reason=reason).to_pylist():
        if row["phash"]:
            items.append((Picture(row["exhibit_id"], row["exhibit_ref"], "photo"), row["phash"]))
    for row in read_table(system, actor, "keyframes", case_ref, reason=reason).to_pylist():
        if row["phash"]:
            picture = Picture(row["exhibit_id"], row["exhibit_ref"], "keyframe", row["time_s"], row["sha256"])
            items.append((picture, row["phash"]))
    return [
        {"distance": pair.distance, "first": pair.first.to_dict(), "second": pair.second.to_dict()}
        for pair in near_duplicates(items, max_distance)
        if pair.first.exhibit_id != pair.second.exhibit_id  # a video's own keyframes alike are not news
    ]
