"""Passphrase encryption of bundles: round trips at chunk edges, wrong passphrase, tampering and truncation."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from evidence_store.bundle_crypto import (
    MAGIC,
    DecryptingReader,
    EncryptingWriter,
    decrypt_file,
    is_encrypted,
)
from evidence_store.errors import BundleInvalidError, BundlePassphraseError

PASS = "correct horse battery staple"
FAST_N = 1 << 10  # the format stores n; tests use a cheap one
CHUNK = 4096


def _encrypt(data: bytes, passphrase: str = PASS) -> bytes:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, passphrase, n=FAST_N, chunk_size=CHUNK)
    # Written in odd pieces so chunk boundaries fall inside writes.
    for start in range(0, len(data), 1000):
        writer.write(data[start : start + 1000])
    writer.close()
    return sink.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17])
def test_round_trip_at_chunk_edges(size: int) -> None:
    data = bytes((i * 7 + 3) % 251 for i in range(size))
    sealed = _encrypt(data)
    assert (is_encrypted(sealed) and data[:64] not in sealed[len(MAGIC) :]) or size < 16
    plain = io.BytesIO()
    assert decrypt_file(io.BytesIO(sealed), plain, PASS) == size
    assert plain.getvalue() == data


def test_reader_seeks_and_reads_ranges() -> None:
    data = bytes(range(256)) * 100
    reader = DecryptingReader(io.BytesIO(_encrypt(data)), PASS)
    assert reader.size == len(data)
    reader.seek(CHUNK - 5)
    assert reader.read(10) == data[CHUNK - 5 : CHUNK + 5]
    reader.seek(-3, io.SEEK_END)
    assert reader.read() == data[-3:]


def test_a_zip_written_through_the_writer_opens_through_the_reader() -> None:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, PASS, n=FAST_N, chunk_size=CHUNK)
    with zipfile.ZipFile(writer, "w") as archive:
        archive.writestr("exhibits/JS-1/a.bin", b"x" * 20_000)
        archive.writestr("manifest.json", b"{}")
    writer.close()
    assert b"manifest.json" not in sink.getvalue()  # names are hidden too
    with zipfile.ZipFile(DecryptingReader(io.BytesIO(sink.getvalue()), PASS)) as archive:
        assert archive.namelist() == ["exhibits/JS-1/a.bin", "manifest.json"]
        assert archive.read("exhibits/JS-1/a.bin") == b"x" * 20_000


def test_the_default_work_factor() -> None:
    sealed = io.BytesIO()
    writer = EncryptingWriter(sealed, PASS)
    writer.write(b"plain zip bytes")
    writer.close()
    assert writer.header.n == 1 << 17
    out = io.BytesIO()
    decrypt_file(io.BytesIO(sealed.getvalue()), out, PASS)
    assert out.getvalue() == b"plain zip bytes"


def test_wrong_passphrase_is_named_as_such() -> None:
    with pytest.raises(BundlePassphraseError, match="not this bundle's"):
        DecryptingReader(io.BytesIO(_encrypt(b"data")), "another long passphrase")


def test_weak_passphrase_refused() -> None:
    with pytest.raises(BundlePassphraseError, match="at least 12"):
        EncryptingWriter(io.BytesIO(), "short", n=FAST_N)


def _read_all(sealed: bytes) -> bytes:
    return DecryptingReader(io.BytesIO(sealed), PASS).read()


def test_a_changed_byte_fails_authentication() -> None:
    sealed = bytearray(_encrypt(bytes(3 * CHUNK)))
    sealed[-CHUNK] ^= 1
    with pytest.raises(BundleInvalidError, match="fails authentication") as caught:
        _read_all(bytes(sealed))
    assert caught.value.code == "EX-BUNDLE-INVALID"


def test_truncation_at_a_chunk_boundary_and_reordering_are_caught() -> None:
    data = bytes(range(256)) * 64  # 4 chunks
    sealed = _encrypt(data)
    sealed_chunk = CHUNK + 16
    body_start = len(sealed) - 4 * sealed_chunk
    cut = sealed[: body_start + 3 * sealed_chunk]
    with pytest.raises(BundleInvalidError):
        _read_all(cut)
    chunks = [sealed[body_start + i * sealed_chunk : body_start + (i + 1) * sealed_chunk] for i in range(4)]
    swapped = sealed[:body_start] + chunks[1] + chunks[0] + chunks[2] + chunks[3]
    with pytest.raises(BundleInvalidError):
        _read_all(swapped)
    with pytest.raises(BundleInvalidError, match="cut short"):
        _read_all(sealed[: body_start + 5])


def test_chunks_cannot_move_between_bundles() -> None:
    first, second = _encrypt(bytes(2 * CHUNK)), _encrypt(bytes(2 * CHUNK))
    header_end = len(first) - 2 * (CHUNK + 16)
    spliced = first[:header_end] + second[header_end:]
    with pytest.raises(BundleInvalidError):
        _read_all(spliced)


def test_not_an_encrypted_bundle_and_hostile_headers() -> None:
    with pytest.raises(BundleInvalidError, match="bad magic"):
        DecryptingReader(io.BytesIO(b"PK\x03\x04 a plain zip"), PASS)
    sealed = _encrypt(b"data")
    (length,) = struct.unpack(">I", sealed[8:12])
    header = sealed[12 : 12 + length].replace(b'"n":1024', b'"n":1073741824')
    greedy = MAGIC + struct.pack(">I", len(header)) + header + sealed[12 + length :]
    with pytest.raises(BundleInvalidError, match="implausible"):
        DecryptingReader(io.BytesIO(greedy), PASS)
    wide = sealed[12 : 12 + length].replace(b'"r":8', b'"r":32')
    with pytest.raises(BundleInvalidError, match="implausible"):
        DecryptingReader(io.BytesIO(MAGIC + struct.pack(">I", len(wide)) + wide + sealed[12 + length :]), PASS)
