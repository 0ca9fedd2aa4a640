"""`dfxml`: a device listing exported as fiwalk-style DFXML and as a hashdeep manifest, written as it streams.

Both take the rows of :func:`forensics.device_files.walk_file_system` (any iterable of
:class:`~forensics.device_files.DeviceFile`) and write each one as it arrives, so a listing of millions of
files never sits in memory.

DFXML follows what fiwalk writes (compare ``6-fat-undel.dd.xml`` and TSK's ``image_dd.xml``): a ``dfxml``
root in the forensicswiki namespace with ``metadata``, ``creator``, ``source/image_filename``, one ``volume``
per file system (``partition_offset``, ``block_size``, ``ftype``, ``ftype_str``, ``block_count``...), and per
entry a ``fileobject`` with ``parent_object/inode``, ``filename`` (relative to the volume root, no leading
slash, as fiwalk), ``partition``, ``id``, ``name_type``, ``filesize``, ``alloc_inode``/``alloc_name``,
``inode``, ``meta_type``, ``mode``, ``nlink``, ``uid``, ``gid``, the four times and ``hashdigest`` elements.
Differences, on purpose: FAT/exFAT times are the wall clock stored on the disk with no zone (fiwalk prints
TSK's ``mktime()`` result as if it were UTC, which depends on the examiner's zone); times have TSK's full
fraction; no ``byte_runs``; NTFS alternate data streams are ``fileobject`` elements named ``file:stream``;
and an Exhibit-namespaced ``exhibit:recovery_unreliable`` / ``exhibit:warning`` where they apply.

The hashdeep manifest (``%%%% HASHDEEP-1.0``, ``%%%% size,md5,sha256,filename``) lists the rows that have
both digests, so ``hashdeep -a -k manifest -r DIR`` can audit files extracted under DIR.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO
from xml.sax.saxutils import escape, quoteattr

from forensics.device_files import DeviceFile, FileSystemInfo

DFXML_NAMESPACE = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
EXHIBIT_NAMESPACE = "urn:exhibit:dfxml"
DFXML_VERSION = "1.1.0"

# TSK_FS_META_TYPE_ENUM and TSK_FS_NAME_TYPE_ENUM numbers of the fls letters (fiwalk's <meta_type>).
_META_TYPE_NUMBER = {"-": 0, "r": 1, "d": 2, "p": 3, "c": 4, "b": 5, "l": 6, "h": 7, "s": 8, "w": 9, "v": 10, "V": 11}
# Characters XML 1.0 cannot hold at all (C0 controls but TAB/LF/CR, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def write_dfxml(
    files: Iterable[DeviceFile],
    out: BinaryIO,
    *,
    image_info: Mapping[str, Any],
) -> int:
    """Write a DFXML document for ``files`` to ``out`` (a binary stream), one ``fileobject`` at a time.

    Args:
        files: Rows, grouped by volume (as a walk of one volume after another yields them).
        out: Where the UTF-8 XML goes.
        image_info: ``image_filename`` (required: the evidence's name or reference), optional ``image_size``
            (bytes), ``volumes`` (volume index -> :class:`FileSystemInfo` or a mapping with the same keys),
            ``program`` / ``version`` / ``command_line`` for ``creator``. A row's ``partition`` is its
            volume index + 1 (fiwalk counts from 1).

    Returns:
        The number of ``fileobject`` elements written.
    """
    volumes: Mapping[Any, Any] = image_info.get("volumes") or {}
    w = _Writer(out)
    w.raw("<?xml version='1.0' encoding='UTF-8'?>\n")
    w.raw(
        f"<dfxml xmlns={quoteattr(DFXML_NAMESPACE)}\n"
        "  xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'\n"
        "  xmlns:dc='http://purl.org/dc/elements/1.1/'\n"
        f"  xmlns:exhibit={quoteattr(EXHIBIT_NAMESPACE)}\n"
        f"  version={quoteattr(DFXML_VERSION)}>\n"
    )
    w.raw("  <metadata>\n    <dc:type>Disk Image</dc:type>\n  </metadata>\n")
    w.raw("  <creator version='1.0'>\n")
    w.element("program", image_info.get("program", "Exhibit"), 4)
    w.element("version", image_info.get("version", "0.1.0"), 4)
    w.raw("    <execution_environment>\n")
    w.element("command_line", image_info.get("command_line"), 6)
    w.element("start_time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), 6)
    w.raw("    </execution_environment>\n  </creator>\n")
    w.raw("  <source>\n")
    w.element("image_filename", image_info["image_filename"], 4)
    w.element("imagesize", image_info.get("image_size"), 4)
    w.raw("  </source>\n")

    count = 0
    current: object = _NO_VOLUME
    for row in files:
        if row.volume != current:
            if current is not _NO_VOLUME:
                w.raw("  </volume>\n")
            current = row.volume
            _open_volume(w, volumes.get(row.volume))
        count += 1
        _fileobject(w, row, count)
    if current is not _NO_VOLUME:
        w.raw("  </volume>\n")
    w.raw("</dfxml>\n")
    return count


def write_hashdeep(
    files: Iterable[DeviceFile],
    out: BinaryIO,
    *,
    root: str = "",
    command_line: str = "exhibit device listing",
    invoked_from: str = "/",
) -> int:
    """Write a hashdeep manifest of the rows that have an MD5 and a SHA-256; return how many lines.

    Args:
        files: Rows; directories, unread files and rows without digests are left out.
        out: Binary stream for the manifest.
        root: Prefixed to each row's path ("/dir/file"), e.g. the folder the files are extracted to, so
            ``hashdeep -a -k manifest -r <root>`` audits that folder.
        command_line: For the ``## $`` comment line hashdeep writes and ignores.
        invoked_from: For the ``## Invoked from:`` comment line.
    """
    out.write(b"%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n")
    out.write(f"## Invoked from: {_one_line(invoked_from)}\n## $ {_one_line(command_line)}\n##\n".encode())
    lines = 0
    for row in files:
        if row.md5 is None or row.sha256 is None or row.size is None:
            continue
        out.write(f"{row.size},{row.md5},{row.sha256},{_one_line(root.rstrip('/') + row.path)}\n".encode())
        lines += 1
    return lines


# --- internals ------------------------------------------------------------------------------------------------

_NO_VOLUME = object()


class _Writer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def raw(self, text: str) -> None:
        self.out.write(text.encode("utf-8"))

    def element(self, tag: str, value: object, indent: int, attrs: str = "") -> None:
        if value is None:
            return
        self.raw(f"{' ' * indent}<{tag}{attrs}>{_text(value)}</{tag}>\n")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    # A file name from seized media can hold control characters XML cannot: escape them visibly.
    return escape(_NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value)))


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _open_volume(w: _Writer, info: FileSystemInfo | Mapping[str, Any] | None) -> None:
    if info is None:
        w.raw("  <volume>\n")
        return

    def get(key: str, default: object = None) -> object:
        return info.get(key, default) if isinstance(info, Mapping) else getattr(info, key, default)

    offset = get("offset", 0)
    w.raw(f"  <volume offset={quoteattr(str(offset))}>\n")
    w.element("partition_offset", offset, 4)
    w.element("sector_size", get("sector_size"), 4)
    w.element("block_size", get("block_size"), 4)
    w.element("ftype", get("type_code"), 4)
    w.element("ftype_str", get("type"), 4)
    w.element("block_count", get("block_count"), 4)
    w.element("first_block", get("first_block"), 4)
    w.element("last_block", get("last_block"), 4)
    w.element("volume_label", get("label"), 4)


def _fileobject(w: _Writer, row: DeviceFile, number: int) -> None:
    w.raw("    <fileobject>\n")
    w.raw(f"      <parent_object>\n        <inode>{row.parent_inode}</inode>\n      </parent_object>\n")
    w.element("filename", row.path.lstrip("/"), 6)
    w.element("partition", 1 if row.volume is None else row.volume + 1, 6)  # fiwalk counts from 1
    w.element("id", number, 6)
    w.element("name_type", row.name_type, 6)
    w.element("filesize", row.size, 6)
    if row.meta_allocated is not None:
        w.element("alloc_inode", row.meta_allocated, 6)
    w.element("alloc_name", row.name_allocated, 6)
    if row.meta_allocated is not None:
        w.element("used", True, 6)  # fiwalk: the name has metadata
    w.element("inode", row.inode, 6)
    if row.meta_type != "-":
        w.element("meta_type", _META_TYPE_NUMBER.get(row.meta_type), 6)
    w.element("mode", row.mode, 6)
    w.element("nlink", row.nlink, 6)
    w.element("uid", row.uid, 6)
    w.element("gid", row.gid, 6)
    for tag in ("mtime", "ctime", "atime", "crtime"):
        w.element(tag, getattr(row, tag), 6)
    w.element("link_target", row.link_target, 6)
    if row.recovery_unreliable:
        w.element("exhibit:recovery_unreliable", True, 6)
    for warning in row.warnings:
        w.element("exhibit:warning", warning.message, 6, f" code={quoteattr(warning.code)}")
    for algorithm in ("md5", "sha1", "sha256"):
        w.element("hashdigest", getattr(row, algorithm), 6, f" type={quoteattr(algorithm)}")
    w.raw("    </fileobject>\n")
