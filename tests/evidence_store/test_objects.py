"""The encrypted content-addressed store, on the local and the S3 backend."""

import hashlib
import io
import os
import uuid
from pathlib import Path

import pytest

from evidence_store.backends import LocalBackend, S3Backend
from evidence_store.crypto import TAG_SIZE, LocalKeyProvider, parse_header, plaintext_size, sealed_size
from evidence_store.errors import (
    ChunkIntegrityError,
    KeyUnwrapError,
    ObjectFormatError,
    ObjectMissingError,
    SourceChangedError,
    SpecialFileError,
)
from evidence_store.objects import BLOCK_SIZE, ObjectStore, object_key, parse_object_key

CHUNK = 64 << 10  # small chunks so tests cross many chunk boundaries cheaply


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    keys = LocalKeyProvider(tmp_path / "keys")
    keys.create()
    if request.param == "file":
        backend: LocalBackend | S3Backend = LocalBackend(tmp_path / "objects")
    else:
        request.getfixturevalue("s3_env")
        backend = S3Backend(f"t-{uuid.uuid4().hex[:12]}", "ex")
        backend.ensure_bucket()
    return ObjectStore(backend, keys, chunk_size=CHUNK)


def _raw(store: ObjectStore, sha256: str) -> bytes:
    key = object_key(sha256)
    size = store.backend.size(key)
    assert size is not None
    return store.backend.read_range(key, 0, size)


def _overwrite(store: ObjectStore, sha256: str, data: bytes) -> None:
    """Tampering from outside Exhibit: replace the stored bytes directly on the backend."""
    key = object_key(sha256)
    if isinstance(store.backend, LocalBackend):
        path = store.backend.root / key
        path.chmod(0o644)
        path.write_bytes(data)
    else:
        assert isinstance(store.backend, S3Backend)
        store.backend.s3.put_object(Bucket=store.backend.bucket, Key=store.backend.prefix + key, Body=data)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, BLOCK_SIZE + 5, (17 << 20) + 12295])
def test_round_trip(store: ObjectStore, size: int) -> None:
    data = os.urandom(size)
    result = store.put_stream(io.BytesIO(data))
    assert result.created
    assert result.digests.sha256 == hashlib.sha256(data).hexdigest()
    assert result.digests.md5 == hashlib.md5(data).hexdigest()
    assert result.head == data[: len(result.head)]
    assert b"".join(store.iter_plaintext(result.digests.sha256)) == data
    assert store.verify(result.digests.sha256) == result.digests
    raw = _raw(store, result.digests.sha256)
    assert data[:32] not in raw or size < 32  # stored encrypted, not in clear


def test_ranged_reads_decrypt_only_what_they_need(store: ObjectStore) -> None:
    data = os.urandom(10 * CHUNK + 123)
    sha = store.put_stream(io.BytesIO(data)).digests.sha256
    for start, length in [(0, 10), (CHUNK - 3, 7), (5 * CHUNK, CHUNK), (10 * CHUNK + 100, 1000), (len(data), 5)]:
        assert store.read_range(sha, start, length) == data[start : start + length]
    with store.open(sha) as reader:
        reader.seek(-50, io.SEEK_END)
        assert reader.read() == data[-50:]
        assert reader.tell() == len(data)


def test_same_content_is_stored_once(store: ObjectStore) -> None:
    data = os.urandom(3 * CHUNK)
    first = store.put_stream(io.BytesIO(data))
    second = store.put_stream(io.BytesIO(data))
    assert first.created and not second.created
    assert second.envelope == first.envelope  # the stored copy's envelope, not the discarded one's
    assert list(store.iter_digests()) == [first.digests.sha256]
    assert list(store.backend.list_keys("staging/")) == []


def test_flipped_byte_is_detected(store: ObjectStore) -> None:
    data = os.urandom(4 * CHUNK)
    sha = store.put_stream(io.BytesIO(data)).digests.sha256
    raw = bytearray(_raw(store, sha))
    raw[-(2 * CHUNK)] ^= 0x01
    _overwrite(store, sha, bytes(raw))
    with pytest.raises(ChunkIntegrityError) as caught:
        store.verify(sha)
    assert caught.value.code == "EX-CHUNK-TAMPERED"
    assert store.read_range(sha, 0, 100) == data[:100]  # untouched chunks still read


def test_swapped_chunks_are_detected(store: ObjectStore) -> None:
    data = os.urandom(4 * CHUNK)
    sha = store.put_stream(io.BytesIO(data)).digests.sha256
    raw = _raw(store, sha)
    _, offset = parse_header(raw)
    sealed = CHUNK + TAG_SIZE
    c0, c1 = raw[offset : offset + sealed], raw[offset + sealed : offset + 2 * sealed]
    _overwrite(store, sha, raw[:offset] + c1 + c0 + raw[offset + 2 * sealed :])
    with pytest.raises(ChunkIntegrityError) as caught:
        store.read_range(sha, 0, 10)
    assert caught.value.details["chunk"] == 0


def test_chunk_from_another_object_is_detected(store: ObjectStore) -> None:
    a = store.put_stream(io.BytesIO(os.urandom(2 * CHUNK))).digests.sha256
    b = store.put_stream(io.BytesIO(os.urandom(2 * CHUNK))).digests.sha256
    raw_a, raw_b = _raw(store, a), _raw(store, b)
    _, off_a = parse_header(raw_a)
    _, off_b = parse_header(raw_b)
    _overwrite(store, a, raw_a[:off_a] + raw_b[off_b : off_b + CHUNK + TAG_SIZE] + raw_a[off_a + CHUNK + TAG_SIZE :])
    with pytest.raises(ChunkIntegrityError):
        store.verify(a)


@pytest.mark.parametrize("cut", ["whole_last_chunk", "mid_chunk"])
def test_truncation_is_detected(store: ObjectStore, cut: str) -> None:
    data = os.urandom(3 * CHUNK)
    sha = store.put_stream(io.BytesIO(data)).digests.sha256
    raw = _raw(store, sha)
    shortened = raw[: -(CHUNK + TAG_SIZE)] if cut == "whole_last_chunk" else raw[:-1000]
    _overwrite(store, sha, shortened)
    with pytest.raises((ChunkIntegrityError, ObjectFormatError)):
        store.verify(sha)


def test_altered_header_is_detected(store: ObjectStore) -> None:
    sha = store.put_stream(io.BytesIO(os.urandom(CHUNK))).digests.sha256
    raw = _raw(store, sha)
    envelope, _offset = parse_header(raw)
    forged = raw.replace(envelope.object_id.encode(), ("0" * 32).encode(), 1)
    _overwrite(store, sha, forged)
    with pytest.raises(KeyUnwrapError):
        store.verify(sha)


def test_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissingError):
        store.verify("0" * 64)


def test_failed_commit_check_leaves_nothing(store: ObjectStore) -> None:
    def refuse(_digests: object) -> None:
        raise SourceChangedError("moved")

    with pytest.raises(SourceChangedError):
        store.put_stream(io.BytesIO(os.urandom(3 * CHUNK)), before_commit=refuse)
    assert list(store.iter_digests()) == []
    assert list(store.backend.list_keys("staging/")) == []


def test_put_file_refuses_special_files(store: ObjectStore, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(SpecialFileError) as caught:
        store.put_file(fifo)
    assert "FIFO" in caught.value.message
    with pytest.raises(SpecialFileError):
        store.put_file("/dev/null")


def test_file_growing_during_read_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "growing.bin"
    path.write_bytes(os.urandom(3 * BLOCK_SIZE))

    def append_once(_n: int) -> None:
        if path.stat().st_size == 3 * BLOCK_SIZE:
            with path.open("ab") as handle:
                handle.write(b"late bytes")

    with pytest.raises(SourceChangedError) as caught:
        store.put_file(path, progress=append_once)
    assert caught.value.code == "EX-INPUT-CHANGED"
    assert list(store.iter_digests()) == []


def test_object_keys_are_validated() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    assert parse_object_key(object_key(sha)) == sha
    for bad in [f"objects/sha256/00/00/{sha}", f"objects/sha256/{sha[:2]}/{sha[2:4]}/{sha.upper()}", "objects/x"]:
        with pytest.raises(ValueError):
            parse_object_key(bad)
    with pytest.raises(ValueError):
        object_key("abc")


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 7 * CHUNK - 1])
def test_sealed_size_inverts(size: int) -> None:
    assert plaintext_size(sealed_size(size, CHUNK), CHUNK) == size


def test_impossible_sealed_size_is_refused() -> None:
    with pytest.raises(ObjectFormatError):
        plaintext_size(CHUNK + TAG_SIZE + 3, CHUNK)


def test_large_object_uses_multipart_on_s3(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    request.getfixturevalue("s3_env")
    keys = LocalKeyProvider(tmp_path / "keys")
    keys.create()
    backend = S3Backend(f"t-{uuid.uuid4().hex[:12]}")
    backend.ensure_bucket()
    store = ObjectStore(backend, keys)
    data = os.urandom(40 << 20)  # three 16 MiB parts: multipart upload to staging, then copy into place
    result = store.put_stream(io.BytesIO(data), size_hint=len(data))
    assert result.created
    assert store.verify(result.digests.sha256).sha256 == hashlib.sha256(data).hexdigest()
    assert list(backend.list_keys("staging/")) == []
    assert backend.s3.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", []) == []


def test_local_store_without_direct_io(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a filesystem refuses O_DIRECT (EINVAL, as some FUSE and network mounts do), writes are buffered."""
    import errno

    import evidence_store.backends as backends

    real_open = os.open
    refused: list[str] = []

    def open_without_direct(path: object, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_DIRECT:
            refused.append(str(path))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(backends.os, "open", open_without_direct)
    keys = LocalKeyProvider(tmp_path / "keys")
    keys.create()
    store = ObjectStore(LocalBackend(tmp_path / "objects"), keys, chunk_size=CHUNK)
    data = os.urandom((9 << 20) + 4097)
    result = store.put_stream(io.BytesIO(data))
    assert refused and store.verify(result.digests.sha256).sha256 == hashlib.sha256(data).hexdigest()


def test_store_write_failure_is_blamed_on_the_store(tmp_path: Path) -> None:
    """A full or read-only store is a storage error, never 'your file is unreadable'."""
    from evidence_store.errors import StoreWriteError

    keys = LocalKeyProvider(tmp_path / "keys")
    keys.create()
    store = ObjectStore(LocalBackend(Path("/proc/self")), keys)  # exists, but nothing can be created there
    source = tmp_path / "fine.bin"
    source.write_bytes(os.urandom(1000))
    with pytest.raises(StoreWriteError) as caught:
        store.put_file(source)
    assert caught.value.code == "EX-STORE-WRITE"
