"""Errors raised by the forensic analysers, each with a stable code.

They subclass the groups in ``schemas.errors`` so callers can catch "bad input" without knowing which analyser
failed.
"""

from __future__ import annotations

from schemas.errors import FormatError, InputError, ToolError


class MediaMissingError(InputError):
    """The file whose content type was asked for does not exist."""

    code = "EX-MEDIA-MISSING"


class MediaUnreadableError(InputError):
    """The file exists but its leading bytes could not be read (a directory, no permission, an I/O error)."""

    code = "EX-MEDIA-UNREADABLE"


class NotMediaError(FormatError):
    """Not my format: no audio or video container in a file that did not look like media either."""

    code = "EX-MEDIA-NOT-MEDIA"


class MediaDamagedError(FormatError):
    """The file looks like media (its magic bytes) but cannot be opened at all: failed, original kept."""

    code = "EX-MEDIA-DAMAGED"


class ToolMissingError(ToolError):
    code = "EX-TOOL-MISSING"


class ToolTimeoutError(ToolError):
    """An external tool ran past its time limit (a hostile or huge input): stopped, nothing half-made kept."""

    code = "EX-TOOL-TIMEOUT"


class NotImageError(FormatError):
    """Not my format: neither the pixels nor any EXIF could be read as a photo."""

    code = "EX-PHOTO-NOT-IMAGE"
