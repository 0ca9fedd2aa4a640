"""The one error hierarchy of Exhibit.

Every error carries a stable code (``EX-...``) that scripts and the review app can rely on, and a message a
person can act on. Subclasses are grouped by cause, so callers can catch "anything wrong with the input" or
"anything wrong with integrity" without listing codes. Concrete errors live next to the code that raises them
(``evidence_store/errors.py``, ``forensics/errors.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ExhibitError(Exception):
    """Base class: a coded, human-readable failure."""

    code: ClassVar[str] = "EX-ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        # File names from seized media need not be UTF-8; a message must still print, hash and store.
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": _jsonable(self.details)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if value is None or isinstance(value, int | float | bool):
        return value
    return str(value)


class InputError(ExhibitError):
    """The caller gave something unusable: a missing path, a bad reference, a file that moved under us."""

    code = "EX-INPUT"


class FormatError(ExhibitError):
    """The bytes are not in the format an analyser expected, or are damaged beyond reading."""

    code = "EX-FORMAT"


class ToolError(ExhibitError):
    """An external tool (ffmpeg, libewf, ...) failed or is missing."""

    code = "EX-TOOL"


class StorageError(ExhibitError):
    """The object store or the catalog could not do what was asked."""

    code = "EX-STORAGE"


class IntegrityError(ExhibitError):
    """Something that carries integrity does not verify: a digest, a chunk, a signature, a chain."""

    code = "EX-INTEGRITY"


class AccessError(ExhibitError):
    """The acting user may not do this."""

    code = "EX-ACCESS"


class ConfigError(ExhibitError):
    """The deployment is not set up as required (no keys, no `exhibit init`, bad URL)."""

    code = "EX-CONFIG"
