"""`device_image`: opening seized-device images, verifying their acquisition hashes, listing their volumes.

A device image arrives as one file or as a set of segments (``disk.E01``, ``disk.E02``, ...; ``disk.001``,
``disk.002``, ...). :func:`segment_groups` sorts a folder's files into such sets by name, :func:`image_segments`
finds the set one file belongs to, :func:`open_device_image` opens a set by its bytes (EWF through libewf, VHD
and VHDX through libvhdi, VMDK through libvmdk, QCOW through libqcow, anything else as raw sectors) and gives a
:class:`DeviceImage` that reads the *media* (the seized disk, not the container) and that TSK can read through
``img_info``. :func:`verify_device_image` hashes the media once and compares with what the acquisition stored;
:func:`list_volumes` asks TSK for the partitions and the file system in each.

Three outcomes, as for every analyser:

- not my format: a container this build cannot read (``DeviceUnsupportedError``, EX-DEVICE-UNSUPPORTED);
  anything without a container signature is read as raw sectors, because a raw image has no magic of its own;
- damaged but readable: a truncated segment, sectors libewf cannot read or whose checksums fail, a
  partition without a file system TSK knows: a result with :class:`DeviceWarning` rows;
- failed: no bytes (``DeviceEmptyError``), a segment missing from a set (``DeviceSegmentMissingError``), a
  container the library refuses to open (``DeviceDamagedError``).

Everything streams: a read is at most ``chunk_bytes``, so a 100 GB image hashes in flat memory. Nothing here
starts a process or waits on anything but the disk: opening reads a few headers, listing reads the partition
tables and one superblock per partition, and hashing is one pass.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import queue
import re
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import pyewf
import pyqcow
import pytsk3
import pyvhdi
import pyvmdk

from forensics.errors import (
    DeviceDamagedError,
    DeviceEmptyError,
    DeviceSegmentMissingError,
    DeviceSegmentsMixedError,
    DeviceUnsupportedError,
    MediaMissingError,
)
from forensics.media_type import MIME_EWF, MediaType, read_head, sniff

CHUNK_BYTES = 4 << 20
"""Bytes per read when hashing: large enough that hashlib runs without the GIL, small enough to stay flat."""

MAX_MEDIA_BYTES = 1 << 50
"""A container claiming a larger medium (1 PiB) is damaged or hostile: a sparse header can claim any size."""

# Warning codes (warnings are data, not exceptions: they are counted, stored and shown).
W_NO_FILESYSTEM = "EX-DEVICE-NO-FILESYSTEM"
W_DAMAGED = "EX-DEVICE-DAMAGED"
W_UNREADABLE = "EX-DEVICE-UNREADABLE"
W_CHECKSUM = "EX-DEVICE-CHECKSUM"
W_CHECKSUMS_UNKNOWN = "EX-DEVICE-CHECKSUMS-UNKNOWN"
W_NAME_MISMATCH = "EX-DEVICE-NAME-MISMATCH"
W_PARTITION_OUTSIDE = "EX-DEVICE-PARTITION-OUTSIDE"
W_STORED_HASH_INVALID = "EX-DEVICE-STORED-HASH-INVALID"

_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
_HEX = re.compile(r"^[0-9a-f]+$")
# A damaged image can fail every chunk; past this many separate ranges only the byte count grows.
_MAX_RANGES = 10_000
_MESSAGE_LIMIT = 400  # characters of a library's error text kept in a message


# --- records ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceWarning:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes of the media, from ``offset``, ``length`` long."""

    offset: int
    length: int

    def __post_init__(self) -> None:
        if self.offset < 0 or self.length <= 0:
            raise ValueError(f"not a byte range: offset {self.offset}, length {self.length}")


@dataclass(frozen=True, slots=True)
class SectorRange:
    """Sectors of the media as libewf and ``ewfverify`` report them: the first one and how many."""

    first_sector: int
    sector_count: int

    def __post_init__(self) -> None:
        if self.first_sector < 0 or self.sector_count <= 0:
            raise ValueError(f"not a sector range: first {self.first_sector}, count {self.sector_count}")


@dataclass(frozen=True, slots=True)
class DigestSet:
    """MD5, SHA-1 and SHA-256 as lower-case hex; ``None`` where a digest is not known (nothing stored)."""

    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        for algorithm, length in _HEX_LENGTHS.items():
            value = getattr(self, algorithm)
            if value is not None and (len(value) != length or not _HEX.match(value)):
                raise ValueError(f"not a {algorithm} hex digest: {value!r}")

    def items(self) -> tuple[tuple[str, str], ...]:
        """The known digests as ``(algorithm, hex)`` pairs, in the order md5, sha1, sha256."""
        return tuple((a, v) for a in _HEX_LENGTHS if (v := getattr(self, a)) is not None)


@dataclass(frozen=True, slots=True)
class DigestMismatch:
    """One algorithm whose stored (expected) digest differs from the one computed over the media (observed)."""

    algorithm: str
    expected: str
    observed: str


@dataclass(frozen=True, slots=True)
class EwfAcquisition:
    """What the acquisition wrote into an EWF image's header, volume and hash sections.

    The dates are as libewf renders them (``"Thu Jul 22 15:33:18 2021"``). EnCase 5+ images store them as POSIX
    times and libewf prints those in the *reading* process's local zone (TZ), older ones as the acquiring
    machine's wall clock; the zone is never stated, so they are kept as text.
    """

    case_number: str | None
    description: str | None
    examiner: str | None
    evidence_number: str | None
    notes: str | None
    acquisition_date: str | None
    system_date: str | None
    acquisition_software: str | None
    acquisition_software_version: str | None
    operating_system: str | None
    model: str | None
    serial_number: str | None
    media_size: int
    bytes_per_sector: int
    sector_count: int
    chunk_size: int
    sectors_per_chunk: int
    error_granularity: int
    compression_method: str | None
    ewf_format: str  # e.g. "EnCase 6", "FTK Imager", "SMART"
    media_type: str  # fixed, removable, optical, memory
    physical: bool  # the acquisition says it read a physical device (not a partition or a logical volume)
    headers: tuple[tuple[str, str], ...] = ()  # every header value libewf read, sorted; the password excluded


@dataclass(frozen=True, slots=True)
class DeviceVerification:
    """The result of hashing a device image's media once and comparing with what its acquisition stored.

    ``matches`` compares digests only: ``None`` where nothing is stored (raw images), ``True`` where every
    stored digest equals the computed one. Use :attr:`verified` for the verdict: sectors that could not be
    read are hashed as zeros (and listed in ``unreadable``), and libewf checksum errors mean the stored chunks
    are damaged even if the digests happen to agree.
    """

    format: str
    media_size: int
    computed: DigestSet
    stored: DigestSet
    matches: bool | None
    mismatches: tuple[DigestMismatch, ...] = ()
    unreadable: tuple[ByteRange, ...] = ()
    unreadable_bytes: int = 0
    checksum_errors: tuple[SectorRange, ...] | None = None  # None: not an EWF image, or not known
    acquisition: EwfAcquisition | None = None
    warnings: tuple[DeviceWarning, ...] = ()

    def __post_init__(self) -> None:
        if self.media_size < 0 or self.unreadable_bytes < 0:
            raise ValueError("negative size")
        if None in (self.computed.md5, self.computed.sha1, self.computed.sha256):
            raise ValueError("a verification computes all three digests")
        expected = _compare(self.stored, self.computed)
        if self.mismatches != expected:
            raise ValueError(f"mismatches {self.mismatches} do not follow from the digests (expected {expected})")
        should_match = None if not self.stored.items() else not expected
        if self.matches is not should_match:
            raise ValueError(f"matches={self.matches} does not follow from the digests")
        if sum(r.length for r in self.unreadable) > self.unreadable_bytes:
            raise ValueError("unreadable ranges exceed the unreadable byte count")

    @property
    def verified(self) -> bool:
        """Stored digests exist, all match, every byte was read, and libewf found no checksum error.

        Where libewf's checksum errors cannot be known (``checksum_errors`` is ``None`` on an EWF image, with an
        EX-DEVICE-CHECKSUMS-UNKNOWN warning) the digests decide.
        """
        return self.matches is True and self.unreadable_bytes == 0 and not self.checksum_errors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` makes the same value again."""
        acq = self.acquisition
        return {
            "format": self.format,
            "media_size": self.media_size,
            "computed": dict(self.computed.items()),
            "stored": dict(self.stored.items()),
            "matches": self.matches,
            "verified": self.verified,
            "mismatches": [
                {"algorithm": m.algorithm, "expected": m.expected, "observed": m.observed} for m in self.mismatches
            ],
            "unreadable": [[r.offset, r.length] for r in self.unreadable],
            "unreadable_bytes": self.unreadable_bytes,
            "checksum_errors": None
            if self.checksum_errors is None
            else [[r.first_sector, r.sector_count] for r in self.checksum_errors],
            "acquisition": None
            if acq is None
            else {
                k: (list(map(list, acq.headers)) if k == "headers" else getattr(acq, k))
                for k in EwfAcquisition.__slots__
            },
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceVerification:
        acq = data.get("acquisition")
        checksum_errors = data.get("checksum_errors")
        return cls(
            format=data["format"],
            media_size=int(data["media_size"]),
            computed=DigestSet(**data["computed"]),
            stored=DigestSet(**data["stored"]),
            matches=data["matches"],
            mismatches=tuple(DigestMismatch(**m) for m in data.get("mismatches") or ()),
            unreadable=tuple(ByteRange(o, n) for o, n in data.get("unreadable") or ()),
            unreadable_bytes=int(data.get("unreadable_bytes") or 0),
            checksum_errors=None if checksum_errors is None else tuple(SectorRange(s, n) for s, n in checksum_errors),
            acquisition=None
            if acq is None
            else EwfAcquisition(**{**acq, "headers": tuple((str(k), str(v)) for k, v in acq.get("headers") or ())}),
            warnings=tuple(DeviceWarning(w["code"], w["message"]) for w in data.get("warnings") or ()),
        )


@dataclass(frozen=True, slots=True)
class Volume:
    """One entry of the image's volume system as TSK lists it (as ``mmls`` does), with its file system.

    An image without a partition table is one volume at offset 0 covering the whole image, with
    ``volume_system`` ``"none"``. ``start`` and ``length`` are bytes of the media: hand ``start`` to
    ``pytsk3.FS_Info(image.img_info, offset=start)``.
    """

    index: int  # position in the listing
    address: int  # TSK's partition address (mmls's first column)
    volume_system: str  # "dos" (MBR), "gpt", "mac", "bsd", "sun", or "none"
    start: int  # byte offset in the media
    length: int  # bytes
    start_sector: int
    sector_count: int
    sector_size: int
    description: str
    allocated: bool  # a partition the table declares
    unallocated: bool  # space between or after partitions
    meta: bool  # the table itself (MBR, GPT header, ...)
    file_system: str | None  # "NTFS", "FAT12", "FAT16", "FAT32", "exFAT", "Ext2", "Ext3", "Ext4", "ISO9660", "HFS+"...
    warnings: tuple[DeviceWarning, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.start < 0 or self.length < 0 or self.sector_size <= 0:
            raise ValueError(f"not a volume: start {self.start}, length {self.length}")


def _compare(stored: DigestSet, computed: DigestSet) -> tuple[DigestMismatch, ...]:
    return tuple(
        DigestMismatch(algorithm, expected, observed)
        for algorithm, expected in stored.items()
        if (observed := getattr(computed, algorithm)) is not None and observed != expected
    )


# --- segment names ------------------------------------------------------------------------------------------

# EWF segments: E01..E99, then EAA..EZZ, FAA.. up to ZZZ (libewf's own naming); L01 (logical) and s01 (SMART)
# the same from their letter; EnCase 7's EWF2 puts an x in the middle (Ex01, Lx01).
_EWF_DIGITS = re.compile(r"^([els])(x?)(\d{2})$", re.IGNORECASE)
_EWF_LETTERS = re.compile(r"^([a-z])(x?)([a-z]{2})$", re.IGNORECASE)
_RAW_DIGITS = re.compile(r"^\d{2,4}$")  # split -d: 00/000/0000; FTK and dd: 001...
_RAW_LETTERS = re.compile(r"^[a-z]{2,3}$")  # split: aa, ab, ...


@dataclass(frozen=True, slots=True)
class _SegmentName:
    key: tuple[str, ...]  # files with the same key belong to one set
    number: int  # order within the set
    kind: str  # "ewf", "raw-digits", "raw-letters"
    letters: bool  # an EWF name past 99 (EAA...), or a split-letter name


def _letters_value(text: str) -> int:
    value = 0
    for ch in text.lower():
        value = value * 26 + (ord(ch) - ord("a"))
    return value


def _segment_name(path: Path) -> list[_SegmentName]:
    """Every reading of a file name as a segment of a set (an ``.E01`` is only EWF; ``.aa`` only split)."""
    stem, dot, ext = path.name.rpartition(".")
    if not dot or not stem:
        return []
    parent = str(path.parent)
    found: list[_SegmentName] = []
    if m := _EWF_DIGITS.match(ext):
        family, ewf2, digits = m.groups()
        if int(digits) > 0:
            key = (parent, stem, "ewf", family.upper(), ewf2.lower())
            found.append(_SegmentName(key, int(digits), "ewf", False))
    elif m := _EWF_LETTERS.match(ext):
        first, ewf2, pair = m.groups()
        # Past 99 the first letter counts on from the family's own letter (EZZ is followed by FAA).
        for family in "ELS":
            if first.upper() >= family:
                number = 100 + (ord(first.upper()) - ord(family)) * 676 + _letters_value(pair)
                key = (parent, stem, "ewf", family, ewf2.lower())
                found.append(_SegmentName(key, number, "ewf", True))
    if _RAW_DIGITS.match(ext):
        found.append(_SegmentName((parent, stem, "raw-digits", str(len(ext))), int(ext), "raw-digits", False))
    elif _RAW_LETTERS.match(ext) and ext.islower():
        found.append(
            _SegmentName((parent, stem, "raw-letters", str(len(ext))), _letters_value(ext), "raw-letters", True)
        )
    return found


def _expected_name(member: Path, kind: str, number: int) -> str:
    """The file name segment ``number`` of ``member``'s set would have (for messages)."""
    stem, _, ext = member.name.rpartition(".")
    if kind == "raw-digits":
        return f"{stem}.{number:0{len(ext)}d}"
    if kind == "raw-letters":
        letters = ""
        for _ in range(len(ext)):
            number, rest = divmod(number, 26)
            letters = chr(ord("a") + rest) + letters
        return f"{stem}.{letters}"
    # The family letter (E, L, s) is the first letter of a numbered name; past 99 only E sets are common.
    family = ext[0] if ext[-2:].isdigit() else ("E" if ext[0].isupper() else "e")
    tail = ext[1] if len(ext) == 4 else ""  # EWF2's x (Ex01)
    if number <= 99:
        return f"{stem}.{family}{tail}{number:02d}"
    first, pair = divmod(number - 100, 676)
    letters = chr(ord(family.upper()) + first) + chr(ord("A") + pair // 26) + chr(ord("A") + pair % 26)
    letters = letters if ext[0].isupper() else letters.lower()
    return f"{stem}.{letters[0]}{tail}{letters[1:]}"


# What a device image can be refused for (the exhibit's bytes are kept either way): one tuple to catch.
DEVICE_IMAGE_ERRORS = (
    DeviceEmptyError,
    DeviceSegmentMissingError,
    DeviceSegmentsMixedError,
    DeviceUnsupportedError,
    DeviceDamagedError,
)


def device_tool_versions() -> str:
    """The libraries that read device images, with versions: recorded with every result they made."""
    _Libewf.library()
    return (
        f"pytsk3 (TSK {pytsk3.TSK_VERSION_STR}); libewf {pyewf.get_version()}; libvhdi {pyvhdi.get_version()}; "
        f"libvmdk {pyvmdk.get_version()}; libqcow {pyqcow.get_version()}; E01 verification read by {_Libewf.source}"
    )


def segment_groups(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, ...]]:
    """Groups a folder's files into image sets by name: one tuple per image, in segment order.

    ``case.E01`` + ``case.E02`` become one set, as do ``disk.000`` + ``disk.001`` and ``disk.aa`` +
    ``disk.ab``; anything else (including a lone ``notes.001``) is a set of one. Pure: names only, no I/O.
    Gaps are kept (``x.E01`` + ``x.E03`` is one set), so that opening the set reports the missing segment
    instead of silently opening a shorter image. EWF names past ``E99`` (``EAA``...) join a set only if it
    has an ``E99``, and split-letter names (``.aa``) only if the set has an ``.aa``, so ``.txt`` or ``.md``
    never look like segments.

    Args:
        paths: File paths, typically one folder's listing.

    Returns:
        The sets, ordered by where their first file appears in ``paths``.
    """
    return [s.paths for s in _segment_sets(Path(p) for p in paths)]


@dataclass(frozen=True, slots=True)
class _SegmentSet:
    paths: tuple[Path, ...]
    kind: str | None  # "ewf", "raw-digits", "raw-letters"; None for a file that is no segment
    numbers: tuple[int, ...]


def _segment_sets(paths: Iterable[Path]) -> list[_SegmentSet]:
    ordered = list(dict.fromkeys(paths))
    readings = {p: _segment_name(p) for p in ordered}
    members: dict[tuple[str, ...], dict[Path, _SegmentName]] = {}
    for path, names in readings.items():
        for name in names:
            members.setdefault(name.key, {})[path] = name

    def usable(key: tuple[str, ...]) -> dict[Path, _SegmentName]:
        group = members.get(key, {})
        numbers = {n.number for n in group.values() if not n.letters}
        if key[2] == "ewf":
            return {p: n for p, n in group.items() if not n.letters or 99 in numbers}
        if key[2] == "raw-letters":
            return group if 0 in {n.number for n in group.values()} else {}
        return group

    sets: list[_SegmentSet] = []
    placed: set[Path] = set()
    for path in ordered:
        if path in placed:
            continue
        chosen: dict[Path, _SegmentName] = {}
        for name in readings[path]:
            candidate = {p: n for p, n in usable(name.key).items() if p not in placed}
            if path in candidate and len(candidate) > len(chosen):
                chosen = candidate
        if not chosen:
            sets.append(_SegmentSet((path,), None, ()))
            placed.add(path)
            continue
        group = tuple(sorted(chosen, key=lambda p: (chosen[p].number, p.name)))
        sets.append(_SegmentSet(group, chosen[path].kind, tuple(chosen[p].number for p in group)))
        placed.update(group)
    return sets


def _sequence_gaps(segments: Sequence[Path]) -> list[str]:
    """Names of segments missing before or between the given ones, from the numbering of their names.

    Only where all the given files read as one numbered set; files named otherwise cannot show a gap.
    """
    sets = _segment_sets(segments)
    if len(sets) != 1 or sets[0].kind is None:
        return []
    kind, numbers = sets[0].kind, sorted(sets[0].numbers)
    # EWF counts from 01. A numbered raw set may start at 000 or 001 (both are common), a lettered one at aa.
    expected = 0 if kind == "raw-letters" or (kind == "raw-digits" and numbers[0] == 0) else 1
    missing: list[str] = []
    for number in numbers:
        while expected < number and len(missing) < 20:
            missing.append(_expected_name(sets[0].paths[0], kind, expected))
            expected += 1
        expected = max(expected, number + 1)
    return missing


def image_segments(first: str | os.PathLike[str]) -> tuple[Path, ...]:
    """The whole ordered set of segments that ``first`` (any one of them) belongs to.

    The folder is listed and grouped with :func:`segment_groups`, the same rule an intake uses. (libewf's
    own ``pyewf.glob`` stops at the first absent name, so it cannot see an ``.E03`` past a missing ``.E02``,
    and fails when given anything but the first segment.) A file that is not part of a set is its own set.

    Args:
        first: Any file of the set.

    Returns:
        The segments in order; ``(first,)`` for a single-file image.

    Raises:
        MediaMissingError: ``first`` does not exist.
        DeviceSegmentMissingError: The names show a gap (``.E01`` and ``.E03`` but no ``.E02``), or the set
            does not start at its first segment.
    """
    path = Path(first)
    if not path.is_file():
        raise MediaMissingError(f"no such file: {path}", path=str(path))
    readings = _segment_name(path)
    if not readings:
        return (path,)
    stem = path.name.rpartition(".")[0]
    try:
        siblings = sorted(p for p in path.parent.iterdir() if p.name.startswith(stem + ".") and p.is_file())
    except OSError:
        siblings = [path]
    group = next(g for g in segment_groups(siblings) if path in g) if path in siblings else (path,)
    gaps = _sequence_gaps(group)
    if gaps:
        raise DeviceSegmentMissingError(
            f"the image {path.name} belongs to is incomplete: missing {', '.join(gaps)}",
            path=str(path),
            missing=gaps,
        )
    return group


# --- EWF segment structure ----------------------------------------------------------------------------------

_EWF1_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
_EWF1_SECTION = struct.Struct("<16sQQ40sI")  # type, next offset, size, padding, Adler-32 of the first 72 bytes


@dataclass(frozen=True, slots=True)
class _Ewf1Segment:
    path: Path
    number: int
    end: str | None  # "next" (more segments follow), "done" (the last), None (the chain broke)
    problem: str | None


def _read_ewf1_segment(path: Path) -> _Ewf1Segment:
    """Walk one EWF-E01 segment's section chain to learn whether more segments follow it.

    The chain is a few hundred 76-byte descriptors even in a 2 GB segment: a handful of small reads.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(13)
        if len(head) < 13 or not head.startswith(_EWF1_SIGNATURE):
            return _Ewf1Segment(path, 0, None, "no EWF signature")
        number = int.from_bytes(head[9:11], "little")
        offset = 13
        for _ in range(1_000_000):
            if offset + _EWF1_SECTION.size > size:
                return _Ewf1Segment(
                    path, number, None, f"truncated: a section should start at byte {offset}, the file has {size}"
                )
            fh.seek(offset)
            raw = fh.read(_EWF1_SECTION.size)
            kind_raw, next_offset, _size, _pad, checksum = _EWF1_SECTION.unpack(raw)
            if zlib.adler32(raw[:72]) != checksum:
                return _Ewf1Segment(path, number, None, f"the section descriptor at byte {offset} is corrupt")
            kind = kind_raw.rstrip(b"\x00").decode("ascii", "replace").lower()
            if kind in ("next", "done"):
                return _Ewf1Segment(path, number, kind, None)
            if next_offset <= offset:
                return _Ewf1Segment(path, number, None, f"the section chain loops at byte {offset}")
            offset = next_offset
        return _Ewf1Segment(path, number, None, "the section chain does not end")


def _check_ewf1_set(segments: Sequence[Path]) -> tuple[tuple[Path, ...], list[DeviceWarning]]:
    """Put EWF-E01 segments in the order their headers give, and check none is missing.

    Returns the ordered segments and warnings for damaged (truncated) segments.

    Raises:
        DeviceSegmentMissingError: a segment number is absent, or the last segment says more follow.
    """
    read = sorted((_read_ewf1_segment(p) for p in segments), key=lambda s: s.number)
    warnings: list[DeviceWarning] = []
    strangers = [s.path.name for s in read if s.number == 0]
    if strangers:
        raise DeviceSegmentsMixedError(
            f"given with the EWF image {segments[0].name} but not EWF segments: {', '.join(strangers)}",
            segments=[str(p) for p in segments],
        )
    numbers = [s.number for s in read]
    if len(set(numbers)) != len(numbers):
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        raise DeviceSegmentsMixedError(
            f"two files claim the same EWF segment number ({', '.join(map(str, twice))}): "
            f"{', '.join(s.path.name for s in read if s.number in twice)}; are two images mixed?",
            segments=[str(p) for p in segments],
        )
    expected = list(range(1, len(read) + 1))
    if numbers != expected:
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        names = [_expected_name(read[0].path, "ewf", n) for n in missing[:20]]
        raise DeviceSegmentMissingError(
            f"EWF segment(s) {', '.join(map(str, missing[:20]))} missing ({', '.join(names)})",
            missing=names,
        )
    for position, seg in enumerate(read):
        last = position == len(read) - 1
        if seg.problem is not None:
            later = " (later segments, if any, cannot be known)" if last else ""
            warnings.append(
                DeviceWarning(W_DAMAGED, f"EWF segment {seg.number} ({seg.path.name}) is damaged: {seg.problem}{later}")
            )
        elif last and seg.end == "next":
            name = _expected_name(seg.path, "ewf", seg.number + 1)
            raise DeviceSegmentMissingError(
                f"EWF segment {seg.path.name} says more segments follow, but {name} was not given",
                missing=[name],
            )
        elif not last and seg.end == "done":
            warnings.append(
                DeviceWarning(
                    W_DAMAGED,
                    f"EWF segment {seg.number} ({seg.path.name}) says it is the last, yet more segments follow",
                )
            )
    return tuple(s.path for s in read), warnings


# --- readers ------------------------------------------------------------------------------------------------


class _Backend(Protocol):
    media_size: int
    sector_size: int
    granularity: int  # bytes: the smallest unit worth retrying alone after a failed read

    def read(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...


def _library_message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


class _RawBackend:
    """Raw sectors in one file or in numbered pieces, read with ``os.pread`` (no shared file position)."""

    _MAX_OPEN = 32  # a 2,000-piece split set must not exhaust file descriptors

    def __init__(self, segments: Sequence[Path]) -> None:
        self._paths = list(segments)
        self._starts: list[int] = []
        total = 0
        for path in self._paths:
            self._starts.append(total)
            total += path.stat().st_size
        self.media_size = total
        self.sector_size = 512
        self.granularity = 4096
        self._fds: OrderedDict[int, int] = OrderedDict()
        self._closed = False

    def _fd(self, index: int) -> int:
        fd = self._fds.pop(index, None)
        if fd is None:
            if self._closed:
                raise ValueError("the image is closed")
            fd = os.open(self._paths[index], os.O_RDONLY | getattr(os, "O_BINARY", 0))
            while len(self._fds) >= self._MAX_OPEN:
                os.close(self._fds.popitem(last=False)[1])
        self._fds[index] = fd
        return fd

    def read(self, offset: int, length: int) -> bytes:
        parts: list[bytes] = []
        end = min(offset + length, self.media_size)
        index = max(0, bisect.bisect_right(self._starts, offset) - 1)
        while offset < end and index < len(self._paths):
            start = self._starts[index]
            stop = self._starts[index + 1] if index + 1 < len(self._starts) else self.media_size
            want = min(end, stop) - offset
            if want > 0:
                data = os.pread(self._fd(index), want, offset - start)
                if len(data) < want:
                    raise OSError(f"{self._paths[index].name} is shorter than when it was opened")
                parts.append(data)
                offset += want
            index += 1
        return b"".join(parts)

    def close(self) -> None:
        self._closed = True
        while self._fds:
            os.close(self._fds.popitem()[1])


class _LibBackend:
    """A libyal handle (pyewf, pyvhdi, pyvmdk, pyqcow): they all read with ``read_buffer_at_offset``."""

    def __init__(self, handle: Any, sector_size: int = 512, granularity: int = 65536) -> None:
        self.handle = handle
        self.media_size = int(handle.get_media_size())
        self.sector_size = sector_size
        self.granularity = granularity
        self._closed = False

    def read(self, offset: int, length: int) -> bytes:
        length = min(length, self.media_size - offset)
        if length <= 0:
            return b""
        data: bytes = self.handle.read_buffer_at_offset(length, offset)
        return data

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.handle.close()


def _open_ewf(segments: Sequence[Path]) -> tuple[_LibBackend, tuple[Path, ...], list[DeviceWarning]]:
    warnings: list[DeviceWarning] = []
    ordered = tuple(segments)
    if read_head(segments[0], len(_EWF1_SIGNATURE)) == _EWF1_SIGNATURE:
        ordered, warnings = _check_ewf1_set(segments)
    else:
        # EWF2 (Ex01) keeps its section chain at the end of each segment; only the names are checked.
        gaps = _sequence_gaps(ordered)
        if gaps:
            raise DeviceSegmentMissingError(f"EWF segment(s) missing: {', '.join(gaps)}", missing=gaps)
    handle = pyewf.handle()
    with _opening("libewf", ordered[0], handle):
        handle.open([str(p) for p in ordered])
        backend = _LibBackend(handle, int(handle.get_bytes_per_sector() or 512), int(handle.get_chunk_size() or 32768))
    return backend, ordered, warnings


@contextlib.contextmanager
def _opening(library: str, path: Path, handle: Any) -> Iterator[None]:
    """Close ``handle`` if opening fails, and turn the library's errors into EX-DEVICE-DAMAGED."""
    try:
        yield
    except BaseException as exc:
        with contextlib.suppress(Exception):
            handle.close()
        if isinstance(exc, OSError | ValueError | RuntimeError):
            raise DeviceDamagedError(
                f"{library} cannot open {path.name}: {_library_message(exc)}", path=str(path)
            ) from exc
        raise


def _open_vhdi(path: Path) -> _LibBackend:
    handle = pyvhdi.file()
    with _opening("libvhdi", path, handle):
        handle.open(str(path))
        if handle.get_disk_type() == pyvhdi.disk_types.DIFFERENTIAL:
            raise DeviceUnsupportedError(
                f"{path.name} is a differencing VHD: it holds only changes to a parent disk, which must be examined",
                path=str(path),
                format="vhd-differencing",
            )
        return _LibBackend(handle, int(handle.get_bytes_per_sector() or 512))


def _open_vmdk(path: Path) -> tuple[_LibBackend, tuple[Path, ...]]:
    handle = pyvmdk.handle()
    with _opening("libvmdk", path, handle):
        handle.open(str(path))
        handle.open_extent_data_files()
        if handle.get_parent_content_identifier() not in (None, 0xFFFFFFFF):
            raise DeviceUnsupportedError(
                f"{path.name} is a VMDK snapshot (delta) disk: its parent disk is needed too",
                path=str(path),
                format="vmdk",
            )
        extents = []
        for descriptor in handle.extent_descriptors:
            name = descriptor.filename
            if name:
                extent = path.parent / Path(name).name
                if extent != path and extent.exists():
                    extents.append(extent)
        return _LibBackend(handle), (path, *extents)


def _open_qcow(path: Path) -> _LibBackend:
    handle = pyqcow.file()
    with _opening("libqcow", path, handle):
        handle.open(str(path))
        if handle.get_backing_filename():
            raise DeviceUnsupportedError(
                f"{path.name} is a QCOW overlay on a backing file, which must be examined too",
                path=str(path),
                format="qcow",
            )
        if handle.is_locked():
            raise DeviceUnsupportedError(f"{path.name} is an encrypted QCOW image", path=str(path), format="qcow")
        return _LibBackend(handle)


class _Unreadable:
    """Unreadable byte ranges of the media, kept sorted and merged, capped in number."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.total = 0  # bytes; past the cap it still grows (and may count a range twice)

    def add(self, offset: int, length: int) -> None:
        end = offset + length
        first = bisect.bisect_left(self._ends, offset)  # the first range that ends at or after this one starts
        last = bisect.bisect_right(self._starts, end)  # one past the last range that starts by this one's end
        if first < last:
            start, stop = min(self._starts[first], offset), max(self._ends[last - 1], end)
            self.total += (stop - start) - sum(
                e - s for s, e in zip(self._starts[first:last], self._ends[first:last], strict=True)
            )
            self._starts[first:last], self._ends[first:last] = [start], [stop]
        elif len(self._starts) < _MAX_RANGES:
            self._starts.insert(first, offset)
            self._ends.insert(first, end)
            self.total += length
        else:
            self.total += length

    @property
    def ranges(self) -> list[ByteRange]:
        return [ByteRange(s, e - s) for s, e in zip(self._starts, self._ends, strict=True)]


def _tolerant_read(
    read: Callable[[int, int], bytes], offset: int, length: int, granularity: int, bad: _Unreadable
) -> bytes:
    """``length`` bytes at ``offset``; pieces that cannot be read are zeros, and recorded in ``bad``."""
    try:
        data = read(offset, length)
        if len(data) == length:
            return data
    except OSError:
        pass
    # Narrow the failure down so that one lost chunk does not cost the whole block.
    parts: list[bytes] = []
    position, end = offset, offset + length
    while position < end:
        size = min(granularity - position % granularity, end - position)
        try:
            piece = read(position, size)
        except OSError:
            piece = b""
        if len(piece) < size:
            bad.add(position + len(piece), size - len(piece))
            piece += bytes(size - len(piece))
        parts.append(piece)
        position += size
    return b"".join(parts)


class _TskImage(pytsk3.Img_Info):  # type: ignore[misc]
    """The image as TSK sees it: TSK calls ``read`` and ``get_size``, which go to our reader."""

    def __init__(self, device: DeviceImage) -> None:
        self._device = device
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def close(self) -> None:
        # The DeviceImage owns the handle; TSK closing its view of it must not close it under other users.
        pass

    def read(self, offset: int, size: int) -> bytes:
        # Zeros for what cannot be read: TSK probes the end of the disk for a backup GPT, and one failed read
        # there would hide the partitions of a truncated image. DeviceImage.unreadable lists what was zeroed.
        return self._device._read_zero_filled(offset, size)

    def get_size(self) -> int:
        return self._device.media_size


# --- the image ----------------------------------------------------------------------------------------------

_ARCHIVES = {
    "application/gzip": "gzip",
    "application/x-bzip2": "bzip2",
    "application/x-xz": "xz",
    "application/zstd": "Zstandard",
    "application/x-lz4": "LZ4",
    "application/zip": "ZIP",
    "application/x-7z-compressed": "7-Zip",
    "application/vnd.rar": "RAR",
    "application/x-tar": "tar",
}
_EXTENSION_HINTS = {
    ".e01": "ewf",
    ".ex01": "ewf",
    ".s01": "ewf",
    ".vhd": "vhd",
    ".vhdx": "vhdx",
    ".vmdk": "vmdk",
    ".qcow": "qcow",
    ".qcow2": "qcow",
    ".vdi": "vdi",
    ".aff": "aff",
    ".aff4": "aff4",
}


class DeviceImage:
    """An opened device image: reads of the media, whatever the container, and a TSK view of it.

    Not thread-safe: one reader at a time (libewf and friends keep a cache per handle). Close it, or use it
    as a context manager.

    Attributes:
        format: ``"raw"``, ``"split-raw"``, ``"ewf"``, ``"vhd"``, ``"vhdx"``, ``"vmdk"`` or ``"qcow"``.
        description: What the first segment's bytes say it is (from :func:`forensics.media_type.sniff`).
        media_size: Bytes of the media (the seized disk), not of the container files.
        sector_size: Bytes per sector as the container states (512 where it does not).
        segments: Every file the image is read from, in order.
        warnings: What opening found wrong but survivable (a truncated segment, a misleading name).
    """

    def __init__(
        self,
        fmt: str,
        description: str,
        backend: _Backend,
        segments: tuple[Path, ...],
        warnings: Sequence[DeviceWarning] = (),
    ) -> None:
        self.format = fmt
        self.description = description
        self.segments = segments
        self.warnings = tuple(warnings)
        self._backend = backend
        self._img_info: _TskImage | None = None
        self._tsk_unreadable = _Unreadable()
        self._closed = False

    @property
    def media_size(self) -> int:
        return self._backend.media_size

    @property
    def sector_size(self) -> int:
        return self._backend.sector_size

    @property
    def img_info(self) -> pytsk3.Img_Info:
        """A ``pytsk3.Img_Info`` over the media, for ``pytsk3.Volume_Info`` and ``pytsk3.FS_Info``."""
        if self._img_info is None:
            self._img_info = _TskImage(self)
        return self._img_info

    @property
    def unreadable(self) -> tuple[ByteRange, ...]:
        """Media ranges TSK (through ``img_info``) asked for that could not be read; it was given zeros there.

        A file-system walk over a damaged image should check this afterwards: file content from these ranges
        is zeros, not evidence.
        """
        return tuple(self._tsk_unreadable.ranges)

    def _read_zero_filled(self, offset: int, length: int) -> bytes:
        if self._closed:
            raise ValueError("the device image is closed")
        length = min(length, self.media_size - offset)
        if offset < 0 or length <= 0:
            return b""
        return _tolerant_read(self._backend.read, offset, length, self._backend.granularity, self._tsk_unreadable)

    def read(self, offset: int, length: int) -> bytes:
        """Read media bytes; fewer than asked only at the end of the media, none past it.

        Raises:
            DeviceDamagedError: The container cannot give these bytes (a lost chunk, a missing extent).
        """
        if offset < 0 or length < 0:
            raise ValueError(f"bad read: offset {offset}, length {length}")
        if self._closed:
            raise ValueError("the device image is closed")
        length = min(length, self.media_size - offset)
        if length <= 0:
            return b""
        try:
            return self._backend.read(offset, length)
        except OSError as exc:
            raise DeviceDamagedError(
                f"cannot read {length} bytes at offset {offset} of {self.segments[0].name}: {_library_message(exc)}",
                offset=offset,
                length=length,
            ) from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._backend.close()

    def __enter__(self) -> DeviceImage:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DeviceImage({self.format}, {self.media_size} bytes, {len(self.segments)} segment(s))"


def open_device_image(segments: Sequence[str | os.PathLike[str]]) -> DeviceImage:
    """Open a device image from its segments (one path for a single-file image), by content.

    The first segment's bytes decide the container; names are only a hint (a ``.E01`` that is not EWF is read
    as raw, with a warning). Segments of an EWF set are put in the order their headers give.

    Args:
        segments: The image's files, e.g. from :func:`image_segments`.

    Returns:
        The opened image; close it when done.

    Raises:
        ValueError: No segments were given.
        MediaMissingError: A segment does not exist.
        MediaUnreadableError: A segment is a directory or cannot be read.
        DeviceEmptyError: The image has no bytes.
        DeviceSegmentMissingError: The set is incomplete.
        DeviceUnsupportedError: The container is one this build cannot read (the message names it).
        DeviceDamagedError: The reader library refuses the container.
    """
    paths = tuple(Path(p) for p in segments)
    if not paths:
        raise ValueError("no segments given")
    head = read_head(paths[0])
    for path in paths[1:]:
        if not path.is_file():
            raise MediaMissingError(f"no such segment: {path}", path=str(path))
    if not head:
        raise DeviceEmptyError(f"{paths[0].name} has no bytes: there is nothing to examine", path=str(paths[0]))
    kind = sniff(head)
    backend, fmt, ordered, warnings = _open_by_type(paths, kind)
    if backend.media_size > MAX_MEDIA_BYTES:
        backend.close()
        raise DeviceDamagedError(
            f"{paths[0].name} claims a medium of {backend.media_size} bytes, more than any seized device",
            path=str(paths[0]),
        )
    if backend.media_size == 0:
        backend.close()
        damage = [w.message for w in warnings if w.code == W_DAMAGED]
        if damage:
            # A segment cut before its volume section opens in libewf as a zero-byte medium: damaged, not empty.
            raise DeviceDamagedError(f"{'; '.join(damage)}; no media can be read from it", path=str(paths[0]))
        raise DeviceEmptyError(f"{paths[0].name} holds a zero-byte medium", path=str(paths[0]))
    hint = _EXTENSION_HINTS.get(paths[0].suffix.lower())
    if hint is not None and not fmt.startswith(hint[:3]):
        warnings.append(
            DeviceWarning(
                W_NAME_MISMATCH,
                f"{paths[0].name} is named like {hint.upper()} but its bytes are {kind.description}; read as {fmt}",
            )
        )
    return DeviceImage(fmt, kind.description, backend, ordered, warnings)


def _open_by_type(
    paths: tuple[Path, ...], kind: MediaType
) -> tuple[_Backend, str, tuple[Path, ...], list[DeviceWarning]]:
    first = paths[0]
    mime = kind.mime
    if mime == MIME_EWF:
        if "logical" in kind.description:
            raise DeviceUnsupportedError(
                f"{first.name} is an {kind.description}: it holds files, not a device image",
                path=str(first),
                format=kind.description,
            )
        backend, ordered, warnings = _open_ewf(paths)
        return backend, "ewf", ordered, warnings
    if mime in ("application/x-vhd", "application/x-vhdx"):
        _single(paths, kind)
        return _open_vhdi(first), "vhdx" if mime.endswith("vhdx") else "vhd", (first,), []
    if mime == "application/x-vmdk":
        vmdk, files = _open_vmdk(first)
        return vmdk, "vmdk", tuple(dict.fromkeys((*files, *paths[1:]))), []
    if mime == "application/x-qemu-disk":
        _single(paths, kind)
        return _open_qcow(first), "qcow", (first,), []
    if mime in ("application/x-aff", "application/x-virtualbox-vdi") or mime in _ARCHIVES:
        advice = "decompress or extract it first" if mime in _ARCHIVES else "convert it to raw or E01 first"
        raise DeviceUnsupportedError(
            f"{first.name} is {kind.description}, a container this build cannot read as a device image; {advice}",
            path=str(first),
            format=kind.description,
        )
    if len(paths) == 1 and _fixed_vhd_footer(first):
        # A fixed VHD is the raw disk plus a 512-byte footer; libvhdi gives the disk without it.
        return _open_vhdi(first), "vhd", (first,), []
    gaps = _sequence_gaps(paths)
    if gaps:
        raise DeviceSegmentMissingError(f"split image incomplete: missing {', '.join(gaps)}", missing=gaps)
    return _RawBackend(paths), "raw" if len(paths) == 1 else "split-raw", paths, []


def _single(paths: tuple[Path, ...], kind: MediaType) -> None:
    if len(paths) > 1:
        raise DeviceUnsupportedError(
            f"{paths[0].name} is {kind.description}, a single-file container, but {len(paths)} files were given",
            format=kind.description,
        )


def _fixed_vhd_footer(path: Path) -> bool:
    try:
        size = path.stat().st_size
        if size < 1024:
            return False
        with path.open("rb") as fh:
            fh.seek(size - 512)
            return fh.read(8) == b"conectix"
    except OSError:
        return False


# --- verification -------------------------------------------------------------------------------------------


class _Libewf:
    """libewf's C API for checksum errors, which pyewf does not expose, through ctypes.

    The system's libewf (Debian's libewf2, which ewf-tools brings) is preferred: it is linked with zlib, while
    the pyewf wheel inflates compressed chunks with libewf's own decoder, about four times slower (measured:
    19.4 s against ewfverify's 5.3 s on a 1.5 GiB E01). Failing that, pyewf's extension module carries libewf
    linked in and exports its symbols, so ``ctypes.CDLL`` on the module file finds it at no extra install. A
    second handle reads the media for verification; libewf records a checksum error for every chunk it reads
    whose Adler-32/CRC fails, and the handle is asked for them at the end. If the symbols are absent,
    verification still hashes through pyewf and says the checksums are unknown.
    """

    _lib: Any = None
    _loaded = False
    source = "none"  # which library verification read with: recorded with the result's tool versions

    @classmethod
    def library(cls) -> Any:
        if not cls._loaded:
            cls._loaded = True
            system = ctypes.util.find_library("ewf")
            for candidate in ([system] if system else []) + [str(pyewf.__file__)]:
                lib = cls._bind(candidate)
                if lib is not None:
                    cls._lib = lib
                    version = ctypes.cast(lib.libewf_get_version(), ctypes.c_char_p).value or b"?"
                    origin = "system" if candidate == system else "pyewf wheel"
                    cls.source = f"libewf {version.decode('ascii', 'replace')} ({origin})"
                    break
        return cls._lib

    @staticmethod
    def _bind(path: str) -> Any:
        try:
            lib = ctypes.CDLL(path)
            # Older libewf names the positioned read `read_random`; newer ones `read_buffer_at_offset`.
            if not hasattr(lib, "libewf_handle_read_buffer_at_offset"):
                setattr(lib, "libewf_handle_read_buffer_at_offset", lib.libewf_handle_read_random)  # noqa: B010
            lib.libewf_get_version.restype = ctypes.c_void_p
            lib.libewf_get_version.argtypes = []
            vp, pvp = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
            signatures: dict[str, tuple[Any, list[Any]]] = {
                "libewf_handle_initialize": (ctypes.c_int, [pvp, pvp]),
                "libewf_handle_open": (
                    ctypes.c_int,
                    [vp, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int, pvp],
                ),
                "libewf_handle_read_buffer_at_offset": (
                    ctypes.c_ssize_t,
                    [vp, vp, ctypes.c_size_t, ctypes.c_int64, pvp],
                ),
                "libewf_handle_get_number_of_checksum_errors": (
                    ctypes.c_int,
                    [vp, ctypes.POINTER(ctypes.c_uint32), pvp],
                ),
                "libewf_handle_get_checksum_error": (
                    ctypes.c_int,
                    [vp, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64), pvp],
                ),
                "libewf_handle_close": (ctypes.c_int, [vp, pvp]),
                "libewf_handle_free": (ctypes.c_int, [pvp, pvp]),
                "libewf_error_sprint": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t]),
                "libewf_error_free": (None, [pvp]),
            }
            for name, (restype, argtypes) in signatures.items():
                function = getattr(lib, name)
                function.restype, function.argtypes = restype, argtypes
            return lib
        except (OSError, AttributeError):
            return None


class _LibewfReader:
    """One libewf handle through ctypes: reads media and, afterwards, lists checksum errors."""

    _ACCESS_READ = 0x01  # LIBEWF_ACCESS_FLAG_READ

    def __init__(self, lib: Any, segments: Sequence[Path]) -> None:
        self._lib = lib
        self._handle = ctypes.c_void_p()
        err = ctypes.c_void_p()
        self._check(lib.libewf_handle_initialize(ctypes.byref(self._handle), ctypes.byref(err)), err)
        names = (ctypes.c_char_p * len(segments))(*(os.fsencode(p) for p in segments))
        if lib.libewf_handle_open(self._handle, names, len(segments), self._ACCESS_READ, ctypes.byref(err)) != 1:
            message = self._message(err)
            self.close()
            raise OSError(message)
        self._buffer = ctypes.create_string_buffer(0)

    def _message(self, err: ctypes.c_void_p) -> str:
        if not err.value:
            return "libewf failed without saying why"
        text = ctypes.create_string_buffer(2048)
        self._lib.libewf_error_sprint(err, text, len(text))
        self._lib.libewf_error_free(ctypes.byref(err))
        return text.value.decode("utf-8", "replace")

    def _check(self, result: int, err: ctypes.c_void_p) -> None:
        if result != 1:
            raise OSError(self._message(err))

    def read(self, offset: int, length: int) -> bytes:
        if len(self._buffer) < length:
            self._buffer = ctypes.create_string_buffer(length)
        err = ctypes.c_void_p()
        # ctypes lets go of the GIL for the call, so the hash threads run while libewf inflates.
        got = self._lib.libewf_handle_read_buffer_at_offset(
            self._handle, self._buffer, length, offset, ctypes.byref(err)
        )
        if got < 0:
            raise OSError(self._message(err))
        return ctypes.string_at(self._buffer, got)

    def checksum_errors(self) -> list[SectorRange]:
        count, err = ctypes.c_uint32(), ctypes.c_void_p()
        self._check(
            self._lib.libewf_handle_get_number_of_checksum_errors(self._handle, ctypes.byref(count), ctypes.byref(err)),
            err,
        )
        ranges = []
        for index in range(count.value):
            first, number = ctypes.c_uint64(), ctypes.c_uint64()
            self._check(
                self._lib.libewf_handle_get_checksum_error(
                    self._handle, index, ctypes.byref(first), ctypes.byref(number), ctypes.byref(err)
                ),
                err,
            )
            if number.value:
                ranges.append(SectorRange(first.value, number.value))
        return ranges

    def close(self) -> None:
        if self._handle.value:
            err = ctypes.c_void_p()
            self._lib.libewf_handle_close(self._handle, ctypes.byref(err))
            if err.value:
                self._lib.libewf_error_free(ctypes.byref(err))
            self._lib.libewf_handle_free(ctypes.byref(self._handle), ctypes.byref(err))
            if err.value:
                self._lib.libewf_error_free(ctypes.byref(err))
            self._handle = ctypes.c_void_p()


class _HashFanout:
    """MD5 in one thread, SHA-1 + SHA-256 in another, fed the same blocks: one pass, two cores.

    hashlib releases the GIL on large buffers, so the reader (libewf inflating chunks) and both hashers run at
    once. The queues are short, which keeps memory at a few blocks whatever the image size.
    """

    def __init__(self) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self._queues: list[queue.Queue[bytes | None]] = [queue.Queue(3), queue.Queue(3)]
        self._threads = [
            threading.Thread(target=self._run, args=(self._queues[0], (self.md5,)), daemon=True),
            threading.Thread(target=self._run, args=(self._queues[1], (self.sha1, self.sha256)), daemon=True),
        ]
        self._error: BaseException | None = None

    def _run(self, source: queue.Queue[bytes | None], hashers: tuple[Any, ...]) -> None:
        while (block := source.get()) is not None:
            if self._error is None:
                try:
                    for hasher in hashers:
                        hasher.update(block)
                except BaseException as exc:  # kept, re-raised by the feeding thread at the end
                    self._error = exc

    def __enter__(self) -> _HashFanout:
        for thread in self._threads:
            thread.start()
        return self

    def feed(self, block: bytes) -> None:
        for q in self._queues:
            q.put(block)

    def __exit__(self, *exc_info: object) -> None:
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error

    def digests(self) -> DigestSet:
        return DigestSet(self.md5.hexdigest(), self.sha1.hexdigest(), self.sha256.hexdigest())


_EWF_FORMATS = {
    0x01: "EnCase 1", 0x02: "EnCase 2", 0x03: "EnCase 3", 0x04: "EnCase 4", 0x05: "EnCase 5", 0x06: "EnCase 6",
    0x07: "EnCase 7", 0x0E: "SMART", 0x0F: "FTK Imager", 0x10: "EnCase 5 logical", 0x11: "EnCase 6 logical",
    0x12: "EnCase 7 logical", 0x25: "linen 5", 0x26: "linen 6", 0x27: "linen 7", 0x37: "EnCase 7 (EWF2)",
    0x47: "EnCase 7 logical (EWF2)", 0x70: "EWF", 0x71: "EWFX",
}  # fmt: skip
_EWF_MEDIA_TYPES = {0x00: "removable", 0x01: "fixed", 0x03: "optical", 0x0E: "logical files", 0x10: "memory"}
_EWF_COMPRESSION = {0: "none", 1: "deflate", 2: "bzip2"}


def _ewf_acquisition(handle: Any) -> tuple[EwfAcquisition, DigestSet, list[DeviceWarning]]:
    """The acquisition metadata and stored digests pyewf reads from an EWF image's sections."""
    headers: dict[str, str] = {}
    for key, value in (handle.get_header_values() or {}).items():
        if key != "password" and value not in (None, ""):
            headers[str(key)] = str(value)

    def header(*keys: str) -> str | None:
        return next((headers[k] for k in keys if k in headers), None)

    warnings: list[DeviceWarning] = []
    stored: dict[str, str] = {}
    for name, value in (handle.get_hash_values() or {}).items():
        algorithm = str(name).lower().replace("-", "")
        if algorithm not in _HEX_LENGTHS or not value:
            continue
        text = str(value).strip().lower()
        if set(text) == {"0"}:
            continue  # some acquisition tools write zeros where they computed no digest
        if len(text) != _HEX_LENGTHS[algorithm] or not _HEX.match(text):
            warnings.append(DeviceWarning(W_STORED_HASH_INVALID, f"the stored {name} is not a digest: {value!r}"))
            continue
        stored[algorithm] = text
    flags = int(handle.get_media_flags() or 0)
    acquisition = EwfAcquisition(
        case_number=header("case_number"),
        description=header("description"),
        examiner=header("examiner_name"),
        evidence_number=header("evidence_number"),
        notes=header("notes"),
        acquisition_date=header("acquiry_date"),
        system_date=header("system_date"),
        acquisition_software=header("acquiry_software"),
        acquisition_software_version=header("acquiry_software_version"),
        operating_system=header("acquiry_operating_system"),
        model=header("model"),
        serial_number=header("serial_number"),
        media_size=int(handle.get_media_size()),
        bytes_per_sector=int(handle.get_bytes_per_sector()),
        sector_count=int(handle.get_number_of_sectors()),
        chunk_size=int(handle.get_chunk_size()),
        sectors_per_chunk=int(handle.get_sectors_per_chunk()),
        error_granularity=int(handle.get_error_granularity()),
        compression_method=_EWF_COMPRESSION.get(int(handle.get_compression_method())),
        ewf_format=_EWF_FORMATS.get(int(handle.get_format()), f"EWF format 0x{int(handle.get_format()):02x}"),
        media_type=_EWF_MEDIA_TYPES.get(int(handle.get_media_type()), f"type 0x{int(handle.get_media_type()):02x}"),
        physical=bool(flags & 0x02),
        headers=tuple(sorted(headers.items())),
    )
    return acquisition, DigestSet(**stored), warnings


def verify_device_image(
    image: DeviceImage,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> DeviceVerification:
    """Hash the whole media once (MD5, SHA-1, SHA-256) and compare with the digests the acquisition stored.

    A mismatch is a result, never an exception. Bytes that cannot be read are hashed as zeros and listed, so a
    damaged image still gets an answer (and is not ``verified``). For EWF the acquisition metadata and
    libewf's checksum errors come too.

    Args:
        image: An open device image.
        chunk_bytes: Bytes per read; memory stays at a few of these.
        progress: Called with ``(bytes_done, media_size)`` after each chunk. It may raise to stop the pass (a
            deadline, a cancelled run): a sparse container (VMDK, QCOW, VHD) can claim a medium far larger than
            its files, and hashing a claimed 2 TB of zeros takes hours. The exception propagates; nothing is left
            running.

    Returns:
        The verification.
    """
    if chunk_bytes <= 0:
        raise ValueError(f"chunk_bytes must be positive, not {chunk_bytes}")
    backend = image._backend
    size = image.media_size
    warnings: list[DeviceWarning] = list(image.warnings)
    acquisition: EwfAcquisition | None = None
    stored = DigestSet()
    checksum_reader: _LibewfReader | None = None
    read: Callable[[int, int], bytes] = backend.read
    if image.format == "ewf" and isinstance(backend, _LibBackend):
        try:
            acquisition, stored, stored_warnings = _ewf_acquisition(backend.handle)
            warnings += stored_warnings
        except (OSError, ValueError) as exc:
            # A damaged header section: the media may still hash; what the acquisition said is lost.
            warnings.append(
                DeviceWarning(W_DAMAGED, f"the acquisition metadata cannot be read: {_library_message(exc)}")
            )
        lib = _Libewf.library()
        if lib is not None:
            try:
                checksum_reader = _LibewfReader(lib, image.segments)
                read = checksum_reader.read
            except OSError as exc:
                warnings.append(DeviceWarning(W_CHECKSUMS_UNKNOWN, f"libewf checksum errors unknown: {exc}"))
        else:
            warnings.append(
                DeviceWarning(W_CHECKSUMS_UNKNOWN, "this pyewf build does not export libewf's checksum-error API")
            )
    bad = _Unreadable()
    checksum_errors: tuple[SectorRange, ...] | None = None
    try:
        with _HashFanout() as fanout:
            offset = 0
            while offset < size:
                length = min(chunk_bytes, size - offset)
                fanout.feed(_tolerant_read(read, offset, length, backend.granularity, bad))
                offset += length
                if progress is not None:
                    progress(offset, size)
        if checksum_reader is not None:
            checksum_errors = tuple(checksum_reader.checksum_errors())
    finally:
        if checksum_reader is not None:
            checksum_reader.close()
    computed = fanout.digests()
    if bad.total:
        shown = ", ".join(f"{r.length} at {r.offset}" for r in bad.ranges[:5])
        more = f" and {len(bad.ranges) - 5} more ranges" if len(bad.ranges) > 5 else ""
        warnings.append(
            DeviceWarning(W_UNREADABLE, f"{bad.total} bytes could not be read and were hashed as zeros ({shown}{more})")
        )
    if checksum_errors:
        shown = ", ".join(f"{r.first_sector}-{r.first_sector + r.sector_count - 1}" for r in checksum_errors[:5])
        warnings.append(
            DeviceWarning(
                W_CHECKSUM, f"libewf found {len(checksum_errors)} chunk(s) with checksum errors: sectors {shown}"
            )
        )
    mismatches = _compare(stored, computed)
    return DeviceVerification(
        format=image.format,
        media_size=size,
        computed=computed,
        stored=stored,
        matches=None if not stored.items() else not mismatches,
        mismatches=mismatches,
        unreadable=tuple(bad.ranges),
        unreadable_bytes=bad.total,
        checksum_errors=checksum_errors,
        acquisition=acquisition,
        warnings=tuple(warnings),
    )


# --- volumes ------------------------------------------------------------------------------------------------


def _tsk_names(prefix: str) -> dict[int, str]:
    names: dict[int, str] = {}
    for attr in dir(pytsk3):
        if attr.startswith(prefix) and not attr.endswith(("_DETECT", "_ENUM", "_UNSUPP")):
            value = getattr(pytsk3, attr)
            if isinstance(value, int):
                names.setdefault(int(value), attr[len(prefix) :])
    return names


_FS_PRETTY = {"EXFAT": "exFAT", "EXT2": "Ext2", "EXT3": "Ext3", "EXT4": "Ext4", "HFS": "HFS+", "SWAP": "swap"}
_FS_NAMES = {value: _FS_PRETTY.get(name, name) for value, name in _tsk_names("TSK_FS_TYPE_").items()}
_VS_NAMES = {value: name.lower() for value, name in _tsk_names("TSK_VS_TYPE_").items()}


def _tsk_reason(exc: BaseException) -> str:
    # pytsk3 says "FS_Info_Con: (tsk3.cpp:327) Unable to open ... with error: Cannot determine file system type";
    # the part after the last "error: " is what a reader can use.
    text = _library_message(exc)
    return text.rpartition("error: ")[2] or text


def _file_system_at(img: Any, offset: int) -> tuple[str | None, str]:
    """The file system TSK finds at ``offset`` (its name), or ``None`` and TSK's reason."""
    try:
        fs = pytsk3.FS_Info(img, offset=offset)
    except (OSError, RuntimeError, ValueError) as exc:
        return None, _tsk_reason(exc)
    ftype = int(fs.info.ftype)
    return _FS_NAMES.get(ftype, f"TSK type 0x{ftype:x}"), ""


def list_volumes(image: DeviceImage) -> tuple[Volume, ...]:
    """The image's volume system as TSK reads it (MBR, GPT, Apple, BSD, Sun), with each partition's file system.

    Every entry TSK lists is returned (as ``mmls`` prints them): the partitions (``allocated``), the table's
    own sectors (``meta``) and the gaps (``unallocated``); a file system is looked for in each allocated
    partition. An image with no partition table is one volume at offset 0 covering the whole image, with
    ``volume_system`` ``"none"``. An allocated volume without a file system TSK knows (encrypted, swap, wiped,
    not a disk at all) carries an EX-DEVICE-NO-FILESYSTEM warning; this never raises for damaged content.

    Args:
        image: An open device image.

    Returns:
        The volumes in TSK's order.
    """
    before = image._tsk_unreadable.total
    volumes = _list_volumes(image)
    if image._tsk_unreadable.total == before:
        return volumes
    # TSK read zeros somewhere: say so on each volume the unreadable bytes fall in (else on the first).
    bad = image.unreadable
    marked: list[Volume] = []
    for volume in volumes:
        end = volume.start + volume.length
        lost = sum(max(0, min(end, r.offset + r.length) - max(volume.start, r.offset)) for r in bad)
        if lost:
            warning = DeviceWarning(
                W_UNREADABLE, f"{lost} bytes of this volume could not be read; TSK was given zeros for them"
            )
            volume = replace(volume, warnings=(*volume.warnings, warning))
        marked.append(volume)
    if not any(w.code == W_UNREADABLE for v in marked for w in v.warnings):
        total = sum(r.length for r in bad)
        warning = DeviceWarning(W_UNREADABLE, f"{total} bytes of the image could not be read; TSK was given zeros")
        marked[0] = replace(marked[0], warnings=(*marked[0].warnings, warning))
    return tuple(marked)


def _list_volumes(image: DeviceImage) -> tuple[Volume, ...]:
    img = image.img_info
    size = image.media_size
    try:
        vs = pytsk3.Volume_Info(img)
    except (OSError, RuntimeError, ValueError):
        vs = None  # no partition table TSK knows: normal for a volume image, a memory card, a floppy
    if vs is None:
        file_system, why = _file_system_at(img, 0)
        warnings: tuple[DeviceWarning, ...] = ()
        if file_system is None:
            warnings = (
                DeviceWarning(
                    W_NO_FILESYSTEM,
                    f"TSK finds no partition table and no file system it knows in {image.segments[0].name} ({why})",
                ),
            )
        sector = image.sector_size
        return (
            Volume(
                index=0,
                address=0,
                volume_system="none",
                start=0,
                length=size,
                start_sector=0,
                sector_count=-(-size // sector),
                sector_size=sector,
                description="whole image (no partition table)",
                allocated=True,
                unallocated=False,
                meta=False,
                file_system=file_system,
                warnings=warnings,
            ),
        )
    block = int(vs.info.block_size)
    base = int(vs.info.offset)
    vstype = _VS_NAMES.get(int(vs.info.vstype), f"type 0x{int(vs.info.vstype):x}")
    volumes: list[Volume] = []
    for index, part in enumerate(vs):
        flags = int(part.flags)
        allocated = bool(flags & pytsk3.TSK_VS_PART_FLAG_ALLOC)
        start = base + int(part.start) * block
        length = int(part.len) * block
        description = part.desc.decode("utf-8", "replace") if isinstance(part.desc, bytes) else str(part.desc)
        found: list[DeviceWarning] = []
        file_system = None
        if allocated:
            if start + length > size:
                found.append(
                    DeviceWarning(
                        W_PARTITION_OUTSIDE,
                        f"partition {int(part.addr)} ({description}) ends at byte {start + length}, past the end of "
                        f"the {size}-byte image: the image is truncated or the table is wrong",
                    )
                )
            if start < size:
                file_system, why = _file_system_at(img, start)
                if file_system is None:
                    found.append(
                        DeviceWarning(
                            W_NO_FILESYSTEM,
                            f"no file system TSK knows in partition {int(part.addr)} ({description}) at byte {start} "
                            f"({why})",
                        )
                    )
        volumes.append(
            Volume(
                index=index,
                address=int(part.addr),
                volume_system=vstype,
                start=start,
                length=length,
                start_sector=int(part.start),
                sector_count=int(part.len),
                sector_size=block,
                description=description,
                allocated=allocated,
                unallocated=bool(flags & pytsk3.TSK_VS_PART_FLAG_UNALLOC),
                meta=bool(flags & pytsk3.TSK_VS_PART_FLAG_META),
                file_system=file_system,
                warnings=tuple(found),
            )
        )
    return tuple(volumes)


__all__ = [
    "CHUNK_BYTES",
    "ByteRange",
    "DeviceImage",
    "DeviceVerification",
    "DeviceWarning",
    "DigestMismatch",
    "DigestSet",
    "EwfAcquisition",
    "SectorRange",
    "Volume",
    "image_segments",
    "list_volumes",
    "open_device_image",
    "segment_groups",
    "verify_device_image",
]
