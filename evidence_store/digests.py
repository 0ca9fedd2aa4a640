"""Digests of evidence: a small validated value and the streaming hashers that make it."""

from __future__ import annotations

import hashlib
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

from evidence_store.errors import HashMismatchError

_HEX = {"md5": 32, "sha1": 40, "sha256": 64}
_HEX_RE = re.compile(r"^[0-9a-f]+$")


def check_hex_digest(algorithm: str, value: str) -> str:
    """Returns `value` if it is a lower-case hex digest of the right length for `algorithm`.

    Raises:
        ValueError: the value is not such a digest.
    """
    length = _HEX[algorithm]
    if len(value) != length or not _HEX_RE.match(value):
        raise ValueError(f"not a {algorithm} hex digest: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Digests:
    """Size and the three digests of one byte stream (the plaintext of an original or derivative)."""

    size: int
    md5: str
    sha1: str
    sha256: str

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"negative size {self.size}")
        for algorithm in _HEX:
            check_hex_digest(algorithm, getattr(self, algorithm))

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "md5": self.md5, "sha1": self.sha1, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Digests:
        return cls(size=int(data["size"]), md5=data["md5"], sha1=data["sha1"], sha256=data["sha256"])

    def mismatches(self, observed: Digests) -> list[str]:
        """Names the fields (size, md5, ...) where `observed` differs from these expected values."""
        return [f for f in ("size", "md5", "sha1", "sha256") if getattr(self, f) != getattr(observed, f)]

    def verify(self, stream: BinaryIO | Iterable[bytes]) -> Digests:
        """Re-hashes `stream` and raises unless it matches.

        Raises:
            HashMismatchError: with the expected and observed values of every field that differs.
        """
        return self.require_match(hash_stream(stream), "content")

    def require_match(self, observed: Digests, subject: str) -> Digests:
        """Returns `observed` if it equals these expected digests.

        Raises:
            HashMismatchError: naming `subject` and each differing field with expected and observed values.
        """
        bad = self.mismatches(observed)
        if bad:
            raise HashMismatchError(
                f"{subject} does not match its recorded digests ({', '.join(bad)} differ)",
                expected={f: getattr(self, f) for f in bad},
                observed={f: getattr(observed, f) for f in bad},
            )
        return observed


BlockFn = Callable[[bytes, bool], None]


class _Worker(threading.Thread):
    """Applies `fn` to every block of its queue; after a failure it keeps draining so the feeder never blocks."""

    def __init__(self, fn: BlockFn) -> None:
        super().__init__(name="exhibit-fanout", daemon=True)
        self.fn = fn
        self.queue: queue.Queue[tuple[bytes, bool] | None] = queue.Queue(4)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.fn(*item)
                except BaseException as exc:
                    self.error = exc


class BlockFanout:
    """Feeds every block to several consumers, each in its own thread, so one pass over the data does all.

    hashlib and OpenSSL release the GIL on large buffers, so on two cores MD5 (the slowest, and inherently
    serial) runs beside SHA-1 + SHA-256 and encryption. Use it as a context manager; errors raised by a
    consumer are re-raised on exit, and `failed` lets the feeder stop early.
    """

    def __init__(self, *consumers: BlockFn) -> None:
        self._workers = [_Worker(fn) for fn in consumers]

    def __enter__(self) -> BlockFanout:
        for w in self._workers:
            w.start()
        return self

    def feed(self, block: bytes, last: bool) -> None:
        for w in self._workers:
            w.queue.put((block, last))

    @property
    def failed(self) -> bool:
        return any(w.error is not None for w in self._workers)

    def __exit__(self, *exc_info: object) -> None:
        for w in self._workers:
            w.queue.put(None)
        for w in self._workers:
            w.join()
        for w in self._workers:
            if w.error is not None and exc_info[0] is None:
                raise w.error


class ParallelHasher:
    """The three digests of a block stream, computed by a `BlockFanout` (MD5 | SHA-1 + SHA-256)."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self.size = 0

    def consumers(self) -> tuple[BlockFn, BlockFn]:
        def md5(block: bytes, _last: bool) -> None:
            self._md5.update(block)
            self.size += len(block)

        def sha(block: bytes, _last: bool) -> None:
            self._sha1.update(block)
            self._sha256.update(block)

        return md5, sha

    def digests(self) -> Digests:
        return Digests(self.size, self._md5.hexdigest(), self._sha1.hexdigest(), self._sha256.hexdigest())


def hash_stream(stream: BinaryIO | Iterable[bytes], block_size: int = 4 << 20) -> Digests:
    """Hashes a binary file object or an iterable of byte blocks, streaming, with the digests in parallel."""
    blocks: Iterable[bytes]
    if hasattr(stream, "read"):
        reader = stream

        def _blocks() -> Iterable[bytes]:
            while block := reader.read(block_size):
                yield block

        blocks = _blocks()
    else:
        blocks = stream
    hasher = ParallelHasher()
    with BlockFanout(*hasher.consumers()) as fanout:
        for block in blocks:
            fanout.feed(block, False)
            if fanout.failed:
                break
    return hasher.digests()
