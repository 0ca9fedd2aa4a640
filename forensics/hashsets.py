"""`hashsets`: known-file hash lists (NSRL RDS, md5sum-style, hashdeep, digest-TAB-path), read as a stream.

A hash set can be tens of gigabytes (the NSRL RDS), so nothing here reads a file whole: lines are read one at
a time with a length cap, parsed, and yielded as :class:`KnownHash` values. A line that does not parse is not
an exception: it is counted, and the first :data:`MAX_KEPT_WARNINGS` are kept with their line numbers, on the
:class:`HashSetReader` that read them (warnings are data, as everywhere in Exhibit).

Formats (:class:`HashSetFormat`), told apart by :func:`detect_hashset_format` from the first lines:

* ``nsrl-rds``: the NSRL RDS ``NSRLFile.txt`` CSV, header
  ``"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"``. Each row gives
  two known hashes, SHA-1 then MD5 (CRC32 is not a digest worth matching on).
* ``md5sum``: the output of md5sum/sha1sum/sha256sum, ``<digest> *<name>`` (binary mode) or
  ``<digest>  <name>`` (text mode), the algorithm told by the digest's length; a leading backslash marks a
  name with ``\\\\`` and ``\\n`` escapes (GNU coreutils). TSK's ``testmd5.dat`` is in this format.
* ``hashdeep``: ``%%%% HASHDEEP-1.0``, then ``%%%% size,md5,sha256,filename`` (any columns hashdeep knows),
  ``##`` comment lines, then one CSV-ish line per file; every digest column gives a known hash.
* ``digest-path``: ``<digest>\\t<path>`` (dfvfs's end-to-end ``*.sha256`` lists).

Digests are validated (hex, of a length that names an algorithm) and lowercased.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from forensics.errors import HashSetFormatError, HashSetMissingError

MAX_LINE_BYTES = 64 * 1024
"""Longer lines are bad lines: a hash set line is a digest, a name and a few numbers."""

MAX_KEPT_WARNINGS = 100
"""Bad lines beyond this many are counted but not described."""

_SNIFF_LINES = 20
_ALGORITHM_BY_HEX_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = frozenset("0123456789abcdefABCDEF")
_NSRL_HEADER = ["SHA-1", "MD5", "CRC32", "FileName", "FileSize", "ProductCode", "OpSystemCode", "SpecialCode"]
_HASHDEEP_MAGIC = "%%%% HASHDEEP-1.0"
_HASHDEEP_DIGESTS = {"md5": "md5", "sha1": "sha1", "sha256": "sha256"}


class HashSetFormat(StrEnum):
    NSRL_RDS = "nsrl-rds"
    MD5SUM = "md5sum"
    HASHDEEP = "hashdeep"
    DIGEST_PATH = "digest-path"


@dataclass(frozen=True, slots=True)
class KnownHash:
    algorithm: str  # md5, sha1 or sha256
    digest: str  # lowercase hex
    name: str | None  # file name or path as the hash set gives it
    size: int | None  # bytes, where the format records it (NSRL, hashdeep)


@dataclass(frozen=True, slots=True)
class HashSetWarning:
    line: int  # 1-based
    code: str
    message: str


BAD_LINE = "EX-HASHSET-BAD-LINE"


@dataclass
class HashSetReader:
    """Iterate a hash set file once, lazily; afterwards ``lines``, ``bad_lines`` and ``warnings`` say how it went.

    Example::

        reader = HashSetReader(path)
        known = {h.digest for h in reader if h.algorithm == "sha256"}
        if reader.bad_lines: ...
    """

    path: Path
    format: HashSetFormat | None = None
    lines: int = 0
    bad_lines: int = 0
    hashes: int = 0
    warnings: list[HashSetWarning] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.format is None:
            self.format = detect_hashset_format(self.path)

    def __iter__(self) -> Iterator[KnownHash]:
        parse = {
            HashSetFormat.NSRL_RDS: self._nsrl,
            HashSetFormat.MD5SUM: self._md5sum,
            HashSetFormat.HASHDEEP: self._hashdeep,
            HashSetFormat.DIGEST_PATH: self._digest_path,
        }[HashSetFormat(self.format or detect_hashset_format(self.path))]
        for known in parse(self._lines()):
            self.hashes += 1
            yield known

    # --- line source ------------------------------------------------------------------------------------------

    def _lines(self) -> Iterator[tuple[int, str]]:
        with _open(self.path) as handle:
            for number, line in _capped_lines(handle):
                self.lines = number
                if line is None:
                    self._bad(number, f"line longer than {MAX_LINE_BYTES} bytes")
                    continue
                yield number, line

    def _bad(self, number: int, message: str) -> None:
        self.bad_lines += 1
        if len(self.warnings) < MAX_KEPT_WARNINGS:
            self.warnings.append(HashSetWarning(number, BAD_LINE, message))

    # --- formats ----------------------------------------------------------------------------------------------

    def _nsrl(self, lines: Iterator[tuple[int, str]]) -> Iterator[KnownHash]:
        for number, line in lines:
            if not line.strip():
                continue
            try:
                fields = next(csv.reader([line]))
            except (csv.Error, StopIteration):
                self._bad(number, "not a CSV line")
                continue
            if fields == _NSRL_HEADER:
                continue
            if len(fields) != len(_NSRL_HEADER):
                self._bad(number, f"{len(fields)} fields, the NSRL RDS has {len(_NSRL_HEADER)}")
                continue
            sha1, md5, _crc, name, size_text = (f.strip() for f in fields[:5])
            size = _int(size_text)
            pairs = [(_digest(sha1, "sha1"), "sha1"), (_digest(md5, "md5"), "md5")]
            if not any(d for d, _ in pairs):
                self._bad(number, "neither a SHA-1 nor an MD5 digest")
                continue
            for digest, algorithm in pairs:
                if digest:
                    yield KnownHash(algorithm, digest, name or None, size)

    def _md5sum(self, lines: Iterator[tuple[int, str]]) -> Iterator[KnownHash]:
        for number, line in lines:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            escaped = line.startswith("\\")
            text = line[1:] if escaped else line
            digest_text, sep, rest = text.partition(" ")
            algorithm = _ALGORITHM_BY_HEX_LENGTH.get(len(digest_text))
            digest = _digest(digest_text, algorithm) if algorithm else None
            if not sep or not digest or not algorithm or not rest or rest[0] not in " *":
                self._bad(number, "not '<digest> *<name>' or '<digest>  <name>'")
                continue
            name = rest[1:]
            if escaped:
                name = _unescape(name)
            yield KnownHash(algorithm, digest, name or None, None)

    def _hashdeep(self, lines: Iterator[tuple[int, str]]) -> Iterator[KnownHash]:
        columns: list[str] | None = None
        for number, line in lines:
            if not line.strip() or line.startswith("##"):
                continue
            if line.startswith("%%%%"):
                header = line[4:].strip()
                if header.upper().startswith("HASHDEEP"):
                    continue
                columns = [c.strip().lower() for c in header.split(",")]
                if "filename" not in columns or columns[-1] != "filename":
                    self._bad(number, "hashdeep column line must end with 'filename'")
                    columns = None
                continue
            if columns is None:
                self._bad(number, "file line before a '%%%% size,...,filename' column line")
                continue
            fields = line.split(",", len(columns) - 1)
            if len(fields) != len(columns):
                self._bad(number, f"{len(fields)} fields, the column line names {len(columns)}")
                continue
            row = dict(zip(columns, fields, strict=True))
            size = _int(row.get("size", ""))
            found: list[KnownHash] = []
            for column, algorithm in _HASHDEEP_DIGESTS.items():
                if column in row:
                    digest = _digest(row[column], algorithm)
                    if digest is None:
                        found = []
                        break
                    found.append(KnownHash(algorithm, digest, row["filename"] or None, size))
            if not found or ("size" in row and size is None):
                self._bad(number, "a digest or the size does not parse")
                continue
            yield from found

    def _digest_path(self, lines: Iterator[tuple[int, str]]) -> Iterator[KnownHash]:
        for number, line in lines:
            if not line.strip():
                continue
            digest_text, sep, name = line.partition("\t")
            algorithm = _ALGORITHM_BY_HEX_LENGTH.get(len(digest_text.strip()))
            digest = _digest(digest_text.strip(), algorithm) if algorithm else None
            if not sep or not digest or not algorithm:
                self._bad(number, "not '<digest><TAB><path>'")
                continue
            yield KnownHash(algorithm, digest, name or None, None)


def read_hashset(path: Path | str, format: HashSetFormat | None = None) -> Iterator[KnownHash]:
    """The known hashes of one file, lazily (a shortcut when the bad-line count is not wanted)."""
    return iter(HashSetReader(Path(path), format))


def detect_hashset_format(path: Path | str) -> HashSetFormat:
    """Tell a hash set's format from its first non-empty lines.

    Raises:
        HashSetMissingError: The file cannot be opened.
        HashSetFormatError: None of the formats fits.
    """
    path = Path(path)
    seen: list[str] = []
    with _open(path) as handle:
        for _number, line in _capped_lines(handle):
            if line is not None and line.strip():
                seen.append(line)
            if len(seen) >= _SNIFF_LINES:
                break
    if not seen:
        raise HashSetFormatError(f"{path.name}: empty, not a hash set", path=str(path))
    first = seen[0].lstrip("\ufeff")
    if first.startswith(_HASHDEEP_MAGIC):
        return HashSetFormat.HASHDEEP
    try:
        if next(csv.reader([first])) == _NSRL_HEADER:
            return HashSetFormat.NSRL_RDS
    except csv.Error:
        pass
    data = [line for line in seen if not line.lstrip().startswith("#")]
    for fmt, test in (
        (HashSetFormat.DIGEST_PATH, _looks_digest_tab),
        (HashSetFormat.MD5SUM, _looks_md5sum),
        (HashSetFormat.NSRL_RDS, _looks_nsrl_row),
    ):
        if data and sum(map(test, data)) * 2 >= len(data):  # at least half the lines fit
            return fmt
    raise HashSetFormatError(
        f"{path.name}: not NSRL RDS, md5sum/sha1sum/sha256sum, hashdeep or digest-TAB-path (first line {first[:80]!r})",
        path=str(path),
    )


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise HashSetMissingError(f"cannot open hash set {path}: {exc.strerror or exc}", path=str(path)) from exc


def _capped_lines(handle: BinaryIO) -> Iterator[tuple[int, str | None]]:
    """(number, text without the line end) per line; None for a line longer than MAX_LINE_BYTES (skipped)."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line, a piece at a time
                raw = handle.readline(MAX_LINE_BYTES + 1)
            yield number, None
            continue
        text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
        yield number, text.lstrip("\ufeff") if number == 1 else text


def _digest(text: str, algorithm: str | None) -> str | None:
    text = text.strip()
    if algorithm is None or _ALGORITHM_BY_HEX_LENGTH.get(len(text)) != algorithm or not set(text) <= _HEX:
        return None
    return text.lower()


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _unescape(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        if name[i] == "\\" and i + 1 < len(name):
            out.append({"\\": "\\", "n": "\n", "r": "\r"}.get(name[i + 1], name[i + 1]))
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def _looks_digest_tab(line: str) -> bool:
    digest, sep, name = line.partition("\t")
    return bool(sep and name) and _digest(digest, _ALGORITHM_BY_HEX_LENGTH.get(len(digest.strip()))) is not None


def _looks_md5sum(line: str) -> bool:
    text = line[1:] if line.startswith("\\") else line
    digest, sep, rest = text.partition(" ")
    algorithm = _ALGORITHM_BY_HEX_LENGTH.get(len(digest))
    return bool(sep and len(rest) > 1 and rest[0] in " *") and _digest(digest, algorithm) is not None


def _looks_nsrl_row(line: str) -> bool:
    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return False
    return len(fields) == len(_NSRL_HEADER) and _digest(fields[0], "sha1") is not None
