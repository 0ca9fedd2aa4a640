"""Errors raised by the evidence store, each with a stable code."""

from __future__ import annotations

from schemas.errors import AccessError, ConfigError, InputError, IntegrityError, StorageError


class AccessDeniedError(AccessError):
    code = "EX-ACCESS-DENIED"


class PathMissingError(InputError):
    code = "EX-INPUT-MISSING"


class NoFilesError(InputError):
    code = "EX-INPUT-NO-FILES"


class UnreadableInputError(InputError):
    code = "EX-INPUT-UNREADABLE"


class SpecialFileError(InputError):
    code = "EX-INPUT-SPECIAL-FILE"


class SourceChangedError(InputError):
    code = "EX-INPUT-CHANGED"


class BadReferenceError(InputError):
    code = "EX-INPUT-BAD-REF"


class NotFoundError(InputError):
    code = "EX-NOT-FOUND"


class AlreadyExistsError(InputError):
    code = "EX-ALREADY-EXISTS"


class UnknownTableError(InputError):
    code = "EX-INPUT-UNKNOWN-TABLE"


class ProofFormatError(InputError):
    code = "EX-PROOF-FORMAT"


class HashMismatchError(IntegrityError):
    code = "EX-HASH-MISMATCH"


class ChunkIntegrityError(IntegrityError):
    code = "EX-CHUNK-TAMPERED"


class ObjectFormatError(IntegrityError):
    code = "EX-OBJECT-FORMAT"


class KeyUnwrapError(IntegrityError):
    code = "EX-KEY-UNWRAP"


class LedgerIntegrityError(IntegrityError):
    code = "EX-LEDGER-INVALID"


class IngestFailedError(StorageError):
    code = "EX-INGEST-FAILED"


class StoreWriteError(StorageError):
    code = "EX-STORE-WRITE"


class ObjectMissingError(StorageError):
    code = "EX-OBJECT-MISSING"


class StoreUnavailableError(StorageError):
    code = "EX-STORE-UNAVAILABLE"


class NotInitialisedError(ConfigError):
    code = "EX-NOT-INITIALISED"


class BadSettingError(ConfigError):
    code = "EX-CONFIG-BAD-SETTING"


class KeyMissingError(ConfigError):
    code = "EX-KEY-MISSING"


class DisclosureDecisionError(InputError):
    """A disclosure decision that cannot be made as asked (no reason for sensitivity, an exhibit already in
    another item, a possibly undermining item in a block, an unknown item or mark)."""

    code = "EX-DISCLOSURE-DECISION"


class PersonDecisionError(InputError):
    """A decision about persons that cannot be made as asked (unknown person, nothing to split, name clash)."""

    code = "EX-PERSON-DECISION"


class DagsterUnavailableError(ConfigError):
    """The Dagster webserver does not answer (not started with `exhibit serve`, or EXHIBIT_DAGSTER_URL is wrong)."""

    code = "EX-DAGSTER-UNAVAILABLE"


class DagsterRejectedError(ConfigError):
    """The Dagster webserver answered but refused or could not do what was asked (job or code location missing,
    not permitted, an error in the server)."""

    code = "EX-DAGSTER-REJECTED"


class BundleInvalidError(IntegrityError):
    """A case bundle that does not verify: a digest, the manifest signature, a custody proof or the checkpoint."""

    code = "EX-BUNDLE-INVALID"


class BundleUnsafeError(InputError):
    """A zip refused before anything in it is read: an absolute or `..` path, a link, an encrypted entry, a
    duplicate name, or sizes that look like a zip bomb."""

    code = "EX-BUNDLE-UNSAFE"


class BundlePassphraseError(InputError):
    """An encrypted bundle opened without its passphrase or with the wrong one, or a passphrase too weak to use."""

    code = "EX-BUNDLE-PASSPHRASE"


class DisposalRefusedError(InputError):
    """A retention step that cannot be taken as asked: a legal hold, not yet due, already disposed of, or the
    requester approving their own disposal request."""

    code = "EX-DISPOSAL-REFUSED"


class RedactionNotApprovedError(InputError):
    """A redacted export asked for an exhibit whose redacted copies have not been approved by a reviewer."""

    code = "EX-REDACTION-NOT-APPROVED"
