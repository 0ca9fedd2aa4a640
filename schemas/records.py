"""Enumerations and small record types shared by the store, the analysers and the apps."""

from __future__ import annotations

from enum import StrEnum


class ExhibitKind(StrEnum):
    """What an exhibit is, decided from its content (magic bytes), never from its file name."""

    BWV = "bwv"  # body-worn or other video
    PHOTO = "photo"
    AUDIO = "audio"
    DEVICE_IMAGE = "device_image"
    DOCUMENT = "document"
    OTHER = "other"


class CustodyAction(StrEnum):
    """Actions recorded on the chain-of-custody ledger."""

    RECEIVED = "RECEIVED"
    STORED = "STORED"
    HASH_VERIFIED = "HASH_VERIFIED"
    FIXITY_FAILED = "FIXITY_FAILED"
    INGEST_REFUSED = "INGEST_REFUSED"
    INGEST_FAILED = "INGEST_FAILED"
    QUARANTINED = "QUARANTINED"
    VIEWED = "VIEWED"
    DERIVED = "DERIVED"
    ANALYSED = "ANALYSED"
    EXPORTED = "EXPORTED"
    TRANSFERRED = "TRANSFERRED"
    LEGAL_HOLD = "LEGAL_HOLD"
    DISPOSED = "DISPOSED"
    ACCESS_DENIED = "ACCESS_DENIED"
    CASE_CREATED = "CASE_CREATED"
    SYSTEM_INITIALISED = "SYSTEM_INITIALISED"
    CHECKPOINT = "CHECKPOINT"
    KEY_ROTATED = "KEY_ROTATED"
    USER_ADDED = "USER_ADDED"
    MEMBER_ADDED = "MEMBER_ADDED"
    DOWNLOADED = "DOWNLOADED"
    HASHSET_IMPORTED = "HASHSET_IMPORTED"
    PERSON_DECIDED = "PERSON_DECIDED"  # a user merged, split or named persons found by face clustering
    FACE_REFERENCE_ADDED = "FACE_REFERENCE_ADDED"
    FACE_MATCHED = "FACE_MATCHED"  # a reference was compared with a case's faces: the leads it gave
    REDACTION_REVIEWED = "REDACTION_REVIEWED"  # a reviewer approved or rejected a redacted copy
    SIGNED_IN = "SIGNED_IN"  # a user signed in to the review app (failures are ACCESS_DENIED)
    SIGNED_OUT = "SIGNED_OUT"  # a user signed out, or the session expired
    DISCLOSURE_DECIDED = "DISCLOSURE_DECIDED"  # an item scheduled (MG6C/MG6D) or found not relevant, or re-reviewed
    CPS_MARKED = "CPS_MARKED"  # the prosecutor's mark (D / CND / I) and comment on a scheduled item
    RETENTION_SET = "RETENTION_SET"  # a case's or exhibit's retention class, or a case's outcome, recorded
    DISPOSAL_REQUESTED = "DISPOSAL_REQUESTED"  # by a user or the retention sweep: nothing is deleted yet
    DISPOSAL_REVIEWED = "DISPOSAL_REVIEWED"  # a second person approved or rejected a disposal request
