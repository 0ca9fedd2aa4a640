"""`device_files`: every file and directory of one file system inside a device image, as streamed records.

The Sleuth Kit (pytsk3) does the file system work; this module decides what an analyst's listing says about
it. :func:`walk_file_system` takes an already opened ``pytsk3.Img_Info`` (raw, split, E01, a virtual disk:
``forensics.device_image`` opens those) and the byte offset of a volume, and yields one frozen
:class:`DeviceFile` per directory entry, allocated and deleted, in the order ``fls -r`` prints them (depth
first, each directory before its contents), including what TSK presents under ``$OrphanFiles`` and its
virtual files (``$MBR``, ``$FAT1``...; flagged ``virtual``). NTFS alternate data streams are rows of their
own (``/mult1.dat:ADS``); the unnamed ``$DATA`` stream is the file's own row.

Three outcomes, as for every analyser:

- not my format: no file system at that offset (:class:`~forensics.errors.NoFileSystemError`,
  EX-DEVICE-NO-FILESYSTEM), raised when the walk is asked for, before the first row;
- damaged but readable: the walk goes on and the row concerned carries warnings (an unreadable file is
  EX-DEVICE-READ with no digests; a directory that will not open, or is already walked, or too deep, has its
  row warned and is not entered);
- failed: :func:`read_content` raises :class:`~forensics.errors.DeviceReadError` or
  :class:`~forensics.errors.DeviceFileMissingError` when one file asked for cannot be read.

Choices worth knowing:

* Streaming: the listing is a generator (a directory is held by TSK while it is walked, never the tree), and
  content is hashed in :data:`CHUNK_SIZE` reads, MD5, SHA-1 and SHA-256 in one pass; the content type comes
  from the first :data:`~forensics.media_type.HEAD_BYTES` of that same pass.
* Loops: a damaged file system can make a directory contain itself or an ancestor. Every directory entered
  is remembered by metadata address and never entered twice, and nothing deeper than :data:`MAX_DEPTH` is
  entered, so a walk always ends.
* FAT and exFAT times are local wall-clock times with no zone. TSK turns them into a Unix time with the C
  library's ``mktime()``, i.e. in the time zone of *this* process, so the number it returns depends on
  ``TZ``. Turning it back with ``localtime()`` in the same process gives the wall clock stored on the disk,
  whatever ``TZ`` is: that is what the row holds, ISO 8601 *without* a zone, and ``times_are_local`` is
  True (DFTT's daylight.dd: winter.txt 14:00, summer.txt 15:00, an hour apart as written, never shifted by
  daylight saving). TSK also ignores exFAT's UTC-offset byte, so exFAT is treated the same. The one hour a
  year that a zone with daylight saving skips cannot be told apart after ``mktime()``; rows with a time in
  the hour after a spring-forward transition of this process's zone get EX-DEVICE-LOCAL-TIME-AMBIGUOUS.
  Other file systems store UTC: those times end in ``Z``. A time of 0 is TSK's "not recorded" and is None.
* Deleted names: TSK gives a deleted NTFS name no metadata when the MFT entry's sequence number has moved
  on (NTFS increments it on deletion); like ``fls``, the walker then loads the entry by address. If that
  entry is allocated again (or, on NTFS, its sequence shows a later file used it), it describes another file:
  the row keeps the name and address but no size, times or digests, with EX-DEVICE-META-REALLOCATED.
* ``recovery_unreliable``: deleted files on FAT and exFAT (the cluster chain is wiped on deletion, so TSK
  reads contiguous clusters from the first one: DFTT 6's fragmented frag1/frag2/frag3 come out with the
  published *wrong* MD5s) and rows whose metadata was reallocated. A deleted NTFS or ext2 file is read from
  its surviving run list / block pointers; those clusters may have been reused too, which ``deleted`` says.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytsk3

from forensics.device_image import DeviceWarning  # one (code, message) record for the whole device analysis
from forensics.errors import DeviceFileMissingError, DeviceReadError, NoFileSystemError
from forensics.media_type import HEAD_BYTES, sniff

CHUNK_SIZE = 1 << 20
"""Bytes per read of file content: large enough that TSK's per-call cost vanishes, small enough to stream."""

MAX_DEPTH = 256
"""Directories nested deeper than this are listed but not entered (TSK's own walk stops at 128)."""

# Warning codes carried on rows.
READ_FAILED = "EX-DEVICE-READ"
DIR_UNREADABLE = "EX-DEVICE-DIR-UNREADABLE"
DIR_TRUNCATED = "EX-DEVICE-DIR-TRUNCATED"
DIR_REVISITED = "EX-DEVICE-DIR-LOOP"
DIR_TOO_DEEP = "EX-DEVICE-DIR-TOO-DEEP"
META_UNREADABLE = "EX-DEVICE-META-UNREADABLE"
META_REALLOCATED = "EX-DEVICE-META-REALLOCATED"
ATTRS_UNREADABLE = "EX-DEVICE-ATTRS-UNREADABLE"
NOT_HASHED = "EX-DEVICE-NOT-HASHED"
TIME_OUT_OF_RANGE = "EX-DEVICE-TIME-RANGE"
LOCAL_TIME_AMBIGUOUS = "EX-DEVICE-LOCAL-TIME-AMBIGUOUS"

_FS_TYPE_NAMES: dict[int, str] = {
    int(getattr(pytsk3, name)): name.removeprefix("TSK_FS_TYPE_").lower()
    for name in dir(pytsk3)
    if name.startswith("TSK_FS_TYPE_") and not name.endswith(("_DETECT", "_ENUM")) and name != "TSK_FS_TYPE_UNSUPP"
}
_FAT_FAMILY = frozenset(
    {pytsk3.TSK_FS_TYPE_FAT12, pytsk3.TSK_FS_TYPE_FAT16, pytsk3.TSK_FS_TYPE_FAT32, pytsk3.TSK_FS_TYPE_EXFAT}
)
_EXT_FAMILY = frozenset({pytsk3.TSK_FS_TYPE_EXT2, pytsk3.TSK_FS_TYPE_EXT3, pytsk3.TSK_FS_TYPE_EXT4})

# TSK's one-letter codes, as fls prints them (name type / metadata type); the same enum order for both.
_TYPE_LETTERS = ("-", "p", "c", "d", "b", "r", "l", "s", "h", "w", "v", "V")
_META_LETTERS = {
    pytsk3.TSK_FS_META_TYPE_UNDEF: "-",
    pytsk3.TSK_FS_META_TYPE_REG: "r",
    pytsk3.TSK_FS_META_TYPE_DIR: "d",
    pytsk3.TSK_FS_META_TYPE_FIFO: "p",
    pytsk3.TSK_FS_META_TYPE_CHR: "c",
    pytsk3.TSK_FS_META_TYPE_BLK: "b",
    pytsk3.TSK_FS_META_TYPE_LNK: "l",
    pytsk3.TSK_FS_META_TYPE_SHAD: "h",
    pytsk3.TSK_FS_META_TYPE_SOCK: "s",
    pytsk3.TSK_FS_META_TYPE_WHT: "w",
    pytsk3.TSK_FS_META_TYPE_VIRT: "v",
    pytsk3.TSK_FS_META_TYPE_VIRT_DIR: "V",
}
_KIND_BY_LETTER = {"r": "regular", "d": "directory", "V": "directory", "l": "symlink"}
_HASHED_LETTERS = frozenset("rlv")  # regular files, symlinks (their target) and TSK's virtual files
_DIR_META = frozenset({pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR})

_NTFS_DATA = pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA  # 128: $DATA
_NTFS_VOLUME_NAME = 0x60
_ATTR_RESIDENT = 0x04  # TSK_FS_ATTR_RES
_NTFS_BADCLUS = 8  # $BadClus: its $Bad stream is a sparse run the size of the volume, not content
_LABEL_SUFFIX = " (Volume Label Entry)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DeviceFile:
    """One directory entry (or one NTFS alternate data stream) of a file system in a device image.

    Times are ISO 8601 strings: UTC ending in ``Z``, or, when ``times_are_local``, the wall-clock time the
    FAT/exFAT entry holds with no zone. Digests are lowercase hex, None for directories, for entries with no
    readable content and when hashing was not asked for.
    """

    volume: int | None  # the caller's index of the volume (partition) walked
    path: str  # "/dir/name", or "/dir/name:stream" for an alternate data stream
    name: str  # last component as TSK gives it (deleted FAT names start with "_"); "name:stream" for a stream
    stream: str | None  # the alternate data stream's name; None for the file's own (default) content
    inode: int | None  # metadata address (inode, MFT entry, FAT directory-entry address); None if the name has none
    sequence: int | None  # NTFS: the sequence number the name refers to
    parent_inode: int  # the directory walked to reach this entry ($OrphanFiles' address for orphans)
    file_type: str  # regular, directory, symlink or other
    name_type: str  # TSK's letter for the name's type, as fls prints it (r, d, l, v, V, -, ...)
    meta_type: str  # TSK's letter for the metadata's type ("-" when there is no metadata)
    virtual: bool  # made up by TSK ($MBR, $FAT1, $OrphanFiles), not on the disk as a file
    deleted: bool  # the name or the metadata is unallocated
    name_allocated: bool
    meta_allocated: bool | None  # None: no metadata for this name
    size: int | None
    mode: int | None  # permission bits as TSK reports them
    uid: int | None
    gid: int | None
    nlink: int | None
    link_target: str | None
    mtime: str | None
    atime: str | None
    ctime: str | None  # metadata change (NTFS: MFT entry modified; FAT has none)
    crtime: str | None  # creation ("birth")
    times_are_local: bool
    md5: str | None
    sha1: str | None
    sha256: str | None
    magic_mime: str | None
    magic_kind: str | None
    recovery_unreliable: bool
    resident: bool  # NTFS: the content lives inside the MFT entry
    attr_type: int | None  # TSK attribute type/id of the content hashed, for read_content
    attr_id: int | None
    warnings: tuple[DeviceWarning, ...] = field(default=())

    def to_row(self) -> dict[str, Any]:
        """The record as a plain row (warnings as a list of {code, message}), for an Arrow table."""
        row = {name: getattr(self, name) for name in self.__slots__ if name != "warnings"}
        row["warnings"] = [{"code": w.code, "message": w.message} for w in self.warnings]
        return row


@dataclass(frozen=True, slots=True)
class FileSystemInfo:
    offset: int  # bytes from the start of the image
    type: str  # TSK's name, lower case: ntfs, fat12, fat16, fat32, exfat, ext2, ext3, ext4, iso9660, hfs, ...
    type_code: int  # TSK_FS_TYPE_ENUM (DFXML's <ftype>)
    block_size: int
    block_count: int
    first_block: int
    last_block: int
    sector_size: int
    first_inode: int
    last_inode: int
    root_inode: int
    label: str | None
    times_are_local: bool  # FAT/exFAT: the listing's times are wall-clock times with no zone


def fs_info(img: Any, offset: int = 0) -> FileSystemInfo:
    """Describe the file system at ``offset`` bytes into the image.

    Args:
        img: An open ``pytsk3.Img_Info``.
        offset: Byte offset of the volume (0 for a bare volume image).

    Returns:
        Type, geometry, metadata address range and label (boot sector, superblock, ``$Volume`` or the root
        directory's label entry; None where the file system has none or it is the "NO NAME" default).

    Raises:
        NoFileSystemError: TSK finds no file system there.
    """
    fs = _open_fs(img, offset)
    info = fs.info
    ftype = int(info.ftype)
    return FileSystemInfo(
        offset=offset,
        type=_FS_TYPE_NAMES.get(ftype, f"0x{ftype:x}"),
        type_code=ftype,
        block_size=int(info.block_size),
        block_count=int(info.block_count),
        first_block=int(info.first_block),
        last_block=int(info.last_block),
        sector_size=int(info.dev_bsize),
        first_inode=int(info.first_inum),
        last_inode=int(info.last_inum),
        root_inode=int(info.root_inum),
        label=_label(img, fs, offset, ftype),
        times_are_local=ftype in _FAT_FAMILY,
    )


def walk_file_system(
    img: Any, offset: int = 0, *, volume: int | None = None, hash_contents: bool = True
) -> Iterator[DeviceFile]:
    """List every file, directory and alternate data stream of the file system at ``offset``, lazily.

    Args:
        img: An open ``pytsk3.Img_Info``.
        offset: Byte offset of the volume in the image.
        volume: The caller's index of that volume, copied into every row.
        hash_contents: Read each file whole for MD5/SHA-1/SHA-256. When False only the first
            :data:`HEAD_BYTES` are read (for the content type): a listing of a large disk in minutes.

    Returns:
        An iterator of :class:`DeviceFile` in ``fls -r`` order; nothing is read before the first ``next()``
        except what opening the file system and its root directory takes.

    Raises:
        NoFileSystemError: TSK finds no file system at ``offset``, or its root directory cannot be opened
            (raised here, not during the iteration).
    """
    fs = _open_fs(img, offset)
    root = int(fs.info.root_inum)
    try:
        root_dir = fs.open_dir(inode=root)
    except OSError as exc:
        raise NoFileSystemError(
            f"the root directory (metadata address {root}) of the file system at offset {offset} cannot be opened: "
            f"{_tsk_message(exc)}",
            offset=offset,
        ) from exc
    return _Walker(fs, volume, hash_contents).walk(root_dir, root)


def read_content(
    img: Any,
    offset: int,
    inode: int,
    attr_type: int | None = None,
    attr_id: int | None = None,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Stream one file's content (or one stream's: NTFS ``attr_type`` 128 with the stream's ``attr_id``).

    The file system and the file are opened now, so a wrong address fails at the call; the content is read
    in ``chunk_size`` pieces as the iterator is consumed. Deleted files are read as TSK recovers them (see
    ``recovery_unreliable``).

    Raises:
        NoFileSystemError: No file system at ``offset``.
        DeviceFileMissingError: Nothing at ``inode``, or it has no such attribute.
        DeviceReadError: During iteration, when a chunk cannot be read.
    """
    fs = _open_fs(img, offset)
    try:
        tsk_file = fs.open_meta(inode=inode)
    except OSError as exc:
        raise DeviceFileMissingError(
            f"no file at metadata address {inode} of the file system at offset {offset}: {_tsk_message(exc)}",
            inode=inode,
        ) from exc
    meta = tsk_file.info.meta
    if meta is None:
        raise DeviceFileMissingError(f"metadata address {inode} holds no file", inode=inode)
    if attr_type is None:
        size = int(meta.size)
        read_type, read_id = pytsk3.TSK_FS_ATTR_TYPE_DEFAULT, -1
    else:
        read_type, read_id = attr_type, (-1 if attr_id is None else attr_id)
        found = [a for a in _attributes(tsk_file) if a[0] == attr_type and (attr_id is None or a[1] == attr_id)]
        if not found:
            raise DeviceFileMissingError(
                f"metadata address {inode} has no attribute {attr_type}-{attr_id}", inode=inode, attr_type=attr_type
            )
        size = found[0][3]
    return _read_chunks(tsk_file, size, read_type, read_id, chunk_size, f"metadata address {inode}")


# --- internals ------------------------------------------------------------------------------------------------


_OPEN_FS: OrderedDict[tuple[int, int], tuple[Any, Any]] = OrderedDict()
_OPEN_FS_LOCK = threading.Lock()


def _open_fs(img: Any, offset: int) -> Any:
    # Opening a file system reads its metadata (about 1.4 MB for a small FAT volume): extracting thousands of
    # files one `read_content` at a time must not pay that each time. The cache holds the image too, so its id
    # cannot be reused by another image while the entry lives.
    key = (id(img), offset)
    with _OPEN_FS_LOCK:
        cached = _OPEN_FS.get(key)
        if cached is not None and cached[0] is img:
            _OPEN_FS.move_to_end(key)
            return cached[1]
    try:
        fs = pytsk3.FS_Info(img, offset=offset)
    except OSError as exc:
        raise NoFileSystemError(
            f"no file system The Sleuth Kit recognises at byte offset {offset} of the image: {_tsk_message(exc)}",
            offset=offset,
        ) from exc
    with _OPEN_FS_LOCK:
        _OPEN_FS[key] = (img, fs)
        while len(_OPEN_FS) > 4:
            _OPEN_FS.popitem(last=False)
    return fs


def _tsk_message(exc: BaseException) -> str:
    # pytsk3 messages carry the C source location first ("FS_Info_Con: (tsk3.cpp:214) Unable to ...").
    text = str(exc).strip()
    return text.split(") ", 1)[1] if ".cpp:" in text and ") " in text else text


def _decode(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    # Names on seized media need not be UTF-8 (TSK passes ext names through as stored): escape, never fail.
    return bytes(raw).decode("utf-8", "backslashreplace")


def _attributes(tsk_file: Any) -> list[tuple[int, int, str | None, int, int]]:
    """(type, id, name, size, flags) of each attribute; raises OSError as TSK does."""
    found = []
    for attr in tsk_file:
        info = attr.info
        name = _decode(info.name) if info.name else None
        found.append((int(info.type), int(info.id), name, int(info.size), int(info.flags)))
    return found


def _read_chunks(tsk_file: Any, size: int, attr_type: int, attr_id: int, chunk: int, what: str) -> Iterator[bytes]:
    done = 0
    while done < size:
        want = min(chunk, size - done)
        try:
            data = tsk_file.read_random(done, want, attr_type, attr_id)
        except OSError as exc:
            raise DeviceReadError(
                f"{what}: read failed at byte {done} of {size}: {_tsk_message(exc)}", offset=done, size=size
            ) from exc
        if not data:
            raise DeviceReadError(f"{what}: no data at byte {done} of {size}", offset=done, size=size)
        done += len(data)
        yield data


@dataclass(slots=True)
class _Content:
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    magic_mime: str | None = None
    magic_kind: str | None = None
    warnings: list[DeviceWarning] = field(default_factory=list)


@dataclass(slots=True)
class _Frame:
    entries: Iterator[Any]
    inode: int
    path: str
    depth: int


class _Walker:
    def __init__(self, fs: Any, volume: int | None, hash_contents: bool) -> None:
        self.fs = fs
        self.volume = volume
        self.hash_contents = hash_contents
        self.ftype = int(fs.info.ftype)
        self.local_times = self.ftype in _FAT_FAMILY
        self.ntfs = self.ftype == pytsk3.TSK_FS_TYPE_NTFS
        # time.daylight: this process's zone has daylight saving, so one local hour a year is ambiguous.
        self.dst_zone = self.local_times and bool(time.daylight)

    def walk(self, root_dir: Any, root: int) -> Iterator[DeviceFile]:
        visited = {root}
        stack = [_Frame(iter(root_dir), root, "", 0)]
        carried: list[DeviceWarning] = []
        while stack:
            frame = stack[-1]
            try:
                entry = next(frame.entries)
            except StopIteration:
                stack.pop()
                continue
            except OSError as exc:
                # pytsk3 does not step past an entry it fails on: the rest of this directory is lost. Its row
                # is already out, so the next row carries the warning (it is rare: TSK resets meta errors).
                stack.pop()
                carried.append(
                    DeviceWarning(DIR_TRUNCATED, f"listing of {frame.path or '/'} stopped: {_tsk_message(exc)}")
                )
                continue
            rows, child = self._entry(entry, frame, visited)
            for row in rows:
                if carried:
                    row = replace(row, warnings=row.warnings + tuple(carried))
                    carried.clear()
                yield row
            if child is not None:
                stack.append(child)

    def _entry(self, entry: Any, frame: _Frame, visited: set[int]) -> tuple[list[DeviceFile], _Frame | None]:
        name_info = entry.info.name
        raw_name = name_info.name
        if raw_name in (b".", b".."):
            return [], None
        name = _decode(raw_name)
        path = f"{frame.path}/{name}"
        warnings: list[DeviceWarning] = []
        name_allocated = bool(int(name_info.flags) & pytsk3.TSK_FS_NAME_FLAG_ALLOC)
        meta_addr = int(name_info.meta_addr)
        name_seq = int(name_info.meta_seq)
        source, meta = entry, entry.info.meta
        reallocated = False

        if meta is None and meta_addr and not name_allocated:
            # TSK's directory lookup drops a deleted NTFS name's MFT entry because its sequence number moved
            # on at deletion; fls loads it by address, and so does this walk (judged just below).
            try:
                source = self.fs.open_meta(inode=meta_addr)
                meta = source.info.meta
            except OSError as exc:
                warnings.append(DeviceWarning(META_UNREADABLE, f"metadata {meta_addr}: {_tsk_message(exc)}"))
                source, meta = None, None
        elif meta is None and name_allocated and meta_addr:
            # A live name whose entry TSK would not load (unreadable, or an NTFS index entry whose sequence no
            # longer matches): loading it by address could describe whichever file holds the entry now.
            warnings.append(DeviceWarning(META_UNREADABLE, f"metadata {meta_addr} missing or of another file"))
        if meta is not None and not name_allocated:
            meta_alloc = bool(int(meta.flags) & pytsk3.TSK_FS_META_FLAG_ALLOC)
            later = self.ntfs and name_seq and int(meta.seq) not in (name_seq, name_seq + 1)
            if meta_alloc or later:
                reallocated = True
                why = "is allocated to another file" if meta_alloc else f"has sequence {int(meta.seq)}, a later file's"
                warnings.append(
                    DeviceWarning(
                        META_REALLOCATED,
                        f"deleted name's metadata entry {meta_addr} {why}: size, times and content not used",
                    )
                )
                source, meta = None, None

        name_letter = _letter(int(name_info.type))
        meta_letter = _META_LETTERS.get(int(meta.type), "-") if meta is not None else "-"
        kind_letter = meta_letter if meta is not None else name_letter
        file_type = _KIND_BY_LETTER.get(kind_letter, "other")
        virtual = "v" in (name_letter.lower(), meta_letter.lower())
        meta_allocated = bool(int(meta.flags) & pytsk3.TSK_FS_META_FLAG_ALLOC) if meta is not None else None
        deleted = not name_allocated or meta_allocated is False
        inode = meta_addr if (meta_addr or meta is not None) else None

        attrs: list[tuple[int, int, str | None, int, int]] = []
        if source is not None and meta is not None:
            try:
                attrs = _attributes(source)
            except OSError as exc:
                warnings.append(DeviceWarning(ATTRS_UNREADABLE, f"attributes unreadable: {_tsk_message(exc)}"))
        default = _default_attr(attrs, self.ntfs)

        child: _Frame | None = None
        if meta is not None and int(meta.type) in _DIR_META:
            child = self._enter(int(meta.addr), path, frame.depth + 1, visited, warnings)

        times, time_warnings = self._times(meta)
        warnings.extend(time_warnings)
        content = _Content()
        size = int(meta.size) if meta is not None else None
        if source is not None and meta is not None and kind_letter in _HASHED_LETTERS and size is not None:
            content = self._content(source, size, pytsk3.TSK_FS_ATTR_TYPE_DEFAULT, -1)
        warnings.extend(content.warnings)
        fat_deleted = deleted and self.local_times and meta is not None

        base = DeviceFile(
            volume=self.volume,
            path=path,
            name=name,
            stream=None,
            inode=inode,
            sequence=name_seq if self.ntfs else None,
            parent_inode=frame.inode,
            file_type=file_type,
            name_type=name_letter,
            meta_type=meta_letter,
            virtual=virtual,
            deleted=deleted,
            name_allocated=name_allocated,
            meta_allocated=meta_allocated,
            size=size,
            mode=int(meta.mode) if meta is not None else None,
            uid=int(meta.uid) if meta is not None else None,
            gid=int(meta.gid) if meta is not None else None,
            nlink=int(meta.nlink) if meta is not None else None,
            link_target=_decode(meta.link) if meta is not None and meta.link else None,
            times_are_local=self.local_times,
            md5=content.md5,
            sha1=content.sha1,
            sha256=content.sha256,
            magic_mime=content.magic_mime,
            magic_kind=content.magic_kind,
            recovery_unreliable=fat_deleted or reallocated,
            resident=bool(default and default[4] & _ATTR_RESIDENT),
            attr_type=default[0] if default else None,
            attr_id=default[1] if default else None,
            mtime=times["mtime"],
            atime=times["atime"],
            ctime=times["ctime"],
            crtime=times["crtime"],
            warnings=tuple(warnings),
        )
        rows = [base]
        if self.ntfs and source is not None:
            rows.extend(self._streams(source, base, attrs))
        return rows, child

    def _enter(
        self, addr: int, path: str, depth: int, visited: set[int], warnings: list[DeviceWarning]
    ) -> _Frame | None:
        if addr in visited:
            warnings.append(DeviceWarning(DIR_REVISITED, f"directory {addr} is already walked: not entered again"))
            return None
        if depth > MAX_DEPTH:
            warnings.append(DeviceWarning(DIR_TOO_DEEP, f"deeper than {MAX_DEPTH} directories: not entered"))
            return None
        visited.add(addr)
        try:
            directory = self.fs.open_dir(inode=addr)
        except OSError as exc:
            warnings.append(DeviceWarning(DIR_UNREADABLE, f"directory cannot be listed: {_tsk_message(exc)}"))
            return None
        return _Frame(iter(directory), addr, path, depth)

    def _streams(
        self, source: Any, base: DeviceFile, attrs: list[tuple[int, int, str | None, int, int]]
    ) -> Iterator[DeviceFile]:
        for attr_type, attr_id, stream, size, flags in attrs:
            if attr_type != _NTFS_DATA or not stream:
                continue
            warnings: list[DeviceWarning] = []
            if base.inode == _NTFS_BADCLUS and stream == "$Bad":
                content = _Content()
                warnings.append(
                    DeviceWarning(NOT_HASHED, "$BadClus:$Bad is a sparse placeholder as large as the volume")
                )
            else:
                content = self._content(source, size, attr_type, attr_id)
            warnings.extend(content.warnings)
            yield replace(
                base,
                path=f"{base.path}:{stream}",
                name=f"{base.name}:{stream}",
                stream=stream,
                file_type="regular",
                size=size,
                md5=content.md5,
                sha1=content.sha1,
                sha256=content.sha256,
                magic_mime=content.magic_mime,
                magic_kind=content.magic_kind,
                resident=bool(flags & _ATTR_RESIDENT),
                attr_type=attr_type,
                attr_id=attr_id,
                warnings=tuple(w for w in base.warnings if w.code != READ_FAILED) + tuple(warnings),
            )

    def _content(self, source: Any, size: int, attr_type: int, attr_id: int) -> _Content:
        content = _Content()
        want = size if self.hash_contents else min(size, HEAD_BYTES)
        head = bytearray()
        md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
        try:
            for chunk in _read_chunks(source, want, attr_type, attr_id, CHUNK_SIZE, "content"):
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                if self.hash_contents:
                    md5.update(chunk)
                    sha1.update(chunk)
                    sha256.update(chunk)
        except DeviceReadError as exc:
            content.warnings.append(DeviceWarning(READ_FAILED, exc.message))
            return content
        media = sniff(bytes(head))
        content.magic_mime, content.magic_kind = media.mime, str(media.kind)
        if self.hash_contents:
            content.md5, content.sha1, content.sha256 = md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest()
        return content

    def _times(self, meta: Any) -> tuple[dict[str, str | None], list[DeviceWarning]]:
        times: dict[str, str | None] = {"mtime": None, "atime": None, "ctime": None, "crtime": None}
        warnings: list[DeviceWarning] = []
        if meta is None:
            return times, warnings
        for key in times:
            seconds, nanos = int(getattr(meta, key)), int(getattr(meta, f"{key}_nano"))
            if seconds == 0 and nanos == 0:
                continue
            try:
                times[key] = self._format_time(seconds, nanos)
            except (OverflowError, OSError, ValueError):
                warnings.append(DeviceWarning(TIME_OUT_OF_RANGE, f"{key} {seconds} is outside the calendar"))
                continue
            if self.dst_zone and _after_spring_forward(seconds):
                warnings.append(
                    DeviceWarning(
                        LOCAL_TIME_AMBIGUOUS,
                        f"{key} falls in the hour after a daylight-saving change of this process's zone "
                        f"({time.tzname[1]}); the stored wall clock may have been an hour earlier: run with TZ=UTC",
                    )
                )
        return times, warnings

    def _format_time(self, seconds: int, nanos: int) -> str:
        fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
        if self.local_times:
            # Undo TSK's mktime() with localtime() in the same zone: the wall clock written on the disk.
            lt = time.localtime(seconds)
            return (
                f"{lt.tm_year:04d}-{lt.tm_mon:02d}-{lt.tm_mday:02d}T{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}"
                f"{fraction}"
            )
        moment = _EPOCH + timedelta(seconds=seconds)
        return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}Z"


def _letter(tsk_type: int) -> str:
    return _TYPE_LETTERS[tsk_type] if 0 <= tsk_type < len(_TYPE_LETTERS) else "-"


def _default_attr(
    attrs: list[tuple[int, int, str | None, int, int]], ntfs: bool
) -> tuple[int, int, str | None, int, int] | None:
    """The attribute TSK reads for the file's own content: NTFS's unnamed $DATA, else the default one."""
    for attr in attrs:
        if (attr[0] == _NTFS_DATA and not attr[2]) if ntfs else attr[0] == pytsk3.TSK_FS_ATTR_TYPE_DEFAULT:
            return attr
    return None


def _after_spring_forward(seconds: int) -> bool:
    now, hour_before = time.localtime(seconds), time.localtime(seconds - 3600)
    return now.tm_isdst > 0 and hour_before.tm_isdst == 0


def _label(img: Any, fs: Any, offset: int, ftype: int) -> str | None:
    try:
        if ftype in _FAT_FAMILY:
            return _fat_label(img, fs, offset, ftype)
        if ftype == pytsk3.TSK_FS_TYPE_NTFS:
            volume = fs.open_meta(inode=3)  # $Volume
            for attr_type, attr_id, _name, size, _flags in _attributes(volume):
                if attr_type == _NTFS_VOLUME_NAME:
                    raw = volume.read_random(0, size, attr_type, attr_id) if size else b""
                    return bytes(raw).decode("utf-16-le", "replace").strip() or None
            return None
        if ftype in _EXT_FAMILY:
            return _clean(img.read(offset + 1024 + 120, 16))  # ext superblock s_volume_name
        if ftype == pytsk3.TSK_FS_TYPE_ISO9660:
            return _clean(img.read(offset + 32768 + 40, 32))  # primary volume descriptor's volume identifier
    except (OSError, UnicodeDecodeError):
        return None  # a label is a courtesy: a damaged one must not stop the listing
    return None


def _fat_label(img: Any, fs: Any, offset: int, ftype: int) -> str | None:
    # What Windows shows is the root directory's label entry (TSK lists it as "NAME (Volume Label Entry)");
    # the boot sector's copy is often the "NO NAME" default even when a label is set (DFTT 6: FAT_REC_1).
    for entry in fs.open_dir(inode=int(fs.info.root_inum)):
        name = _decode(entry.info.name.name)
        if name.endswith(_LABEL_SUFFIX) and int(entry.info.name.flags) & pytsk3.TSK_FS_NAME_FLAG_ALLOC:
            label = name.removesuffix(_LABEL_SUFFIX).strip()
            if label and label != "$EMPTY_VOLUME_LABEL":
                return label
    if ftype == pytsk3.TSK_FS_TYPE_EXFAT:
        return None
    boot = img.read(offset, 90)
    boot_label = _clean(boot[71:82] if ftype == pytsk3.TSK_FS_TYPE_FAT32 else boot[43:54])
    return None if boot_label == "NO NAME" else boot_label


def _clean(raw: bytes) -> str | None:
    text = bytes(raw).split(b"\x00", 1)[0].decode("utf-8", "backslashreplace").strip()
    return text or None
