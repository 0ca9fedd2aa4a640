"""Errors raised by the forensic analysers, each with a stable code.

They subclass the groups in ``schemas.errors`` so callers can catch "bad input" without knowing which analyser
failed.
"""

from __future__ import annotations

from schemas.errors import InputError


class MediaMissingError(InputError):
    """The file whose content type was asked for does not exist."""

    code = "EX-MEDIA-MISSING"


class MediaUnreadableError(InputError):
    """The file exists but its leading bytes could not be read (a directory, no permission, an I/O error)."""

    code = "EX-MEDIA-UNREADABLE"
