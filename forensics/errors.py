"""Errors raised by the forensic analysers, each with a stable code.

They subclass the groups in ``schemas.errors`` so callers can catch "bad input" without knowing which analyser
failed.
"""

from __future__ import annotations

from schemas.errors import ConfigError, FormatError, InputError, ToolError


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


class NoAudioStreamError(FormatError):
    """Not my format for the audio analysers: the file opens, but holds no audio stream (a silent video)."""

    code = "EX-AUDIO-NO-STREAM"


class AudioUndecodableError(FormatError):
    """The file declares an audio stream, but ffmpeg fails on it before a single sample: failed, original kept."""

    code = "EX-AUDIO-UNDECODABLE"


class UnknownTranscriberError(InputError):
    """A transcription engine was asked for by a name that is not in the registry."""

    code = "EX-AUDIO-UNKNOWN-TRANSCRIBER"


class DuplicateTranscriberError(ConfigError):
    """Two transcription engines were registered under one name: an error at import time, never at run time."""

    code = "EX-AUDIO-DUPLICATE-TRANSCRIBER"


class PhotoDamagedError(FormatError):
    """The file is an image format Pillow knows, but no pixels of it decode: nothing can be made from it."""

    code = "EX-PHOTO-DAMAGED"


class PhotoTooLargeError(FormatError):
    """Decoding the image would take more memory than the analysers allow (a decompression bomb, or a picture
    too big to decode safely even at reduced scale)."""

    code = "EX-PHOTO-TOO-LARGE"


class PhotoExifTimeoutError(ToolTimeoutError):
    """exifread ran past its wall-clock cap on this file (hostile or pathological EXIF)."""

    code = "EX-PHOTO-EXIF-TIMEOUT"


class DeviceEmptyError(InputError):
    """A seized-device image with no bytes at all (a copy that failed, or a placeholder): nothing to examine."""

    code = "EX-DEVICE-EMPTY"


class DeviceSegmentMissingError(InputError):
    """A split image is incomplete: the format (or the numbering of the files) shows a segment is absent."""

    code = "EX-DEVICE-SEGMENT-MISSING"


class DeviceUnsupportedError(FormatError):
    """The image is in a container this build cannot read (AFF, VDI, a logical evidence file, an archive)."""

    code = "EX-DEVICE-UNSUPPORTED"


class DeviceDamagedError(FormatError):
    """The image's container is damaged: the reader library refuses to open it, or a read of it fails."""

    code = "EX-DEVICE-DAMAGED"


class NoFileSystemError(FormatError):
    """Not my format: no file system The Sleuth Kit knows starts at that byte offset of the image (wrong
    partition offset, unallocated space, an encrypted volume), or it is too damaged for its root to open."""

    code = "EX-DEVICE-NO-FILESYSTEM"


class DeviceFileMissingError(InputError):
    """No file, or no such stream of it, at that metadata address (inode, MFT entry) of the file system."""

    code = "EX-DEVICE-NO-SUCH-FILE"


class DeviceReadError(FormatError):
    """A file's content could not be read from the image (its clusters lie outside it, or TSK refuses)."""

    code = "EX-DEVICE-READ"


class HashSetMissingError(InputError):
    """The hash set file named does not exist or cannot be opened."""

    code = "EX-HASHSET-MISSING"


class HashSetFormatError(FormatError):
    """Not a hash set format Exhibit reads (NSRL RDS, md5sum/sha1sum/sha256sum, hashdeep, digest-TAB-path)."""

    code = "EX-HASHSET-FORMAT"


class DeviceSegmentsMixedError(InputError):
    """The files given as one split image are not one image: two claim the same segment, or one is no segment."""

    code = "EX-DEVICE-SEGMENTS-MIXED"


class FaceReferenceError(InputError):
    """A reference photo for face matching that does not show exactly one face."""

    code = "EX-FACE-REFERENCE"


class VideoFacesError(FormatError):
    """Failed: not one frame of the video decodes, so no face could be looked for (original kept)."""

    code = "EX-FACES-UNDECODABLE"


class RedactionFailedError(ToolError):
    """ffmpeg stopped with an error while decoding the original or encoding its redacted copy (its last complaints
    end the message): nothing is written."""

    code = "EX-REDACT-FAILED"


class RedactionTargetError(InputError):
    """The redacted copy would replace its own original, or its name asks for a format that is not written."""

    code = "EX-REDACT-TARGET"
