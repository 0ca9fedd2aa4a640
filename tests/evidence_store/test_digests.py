import hashlib
import io
import os

import pytest

from evidence_store.digests import Digests, hash_stream
from evidence_store.errors import HashMismatchError


@pytest.mark.parametrize("size", [0, 1, 4 << 20, (9 << 20) + 3])
def test_hash_stream_matches_hashlib(size: int) -> None:
    data = os.urandom(size)
    d = hash_stream(io.BytesIO(data))
    assert (d.size, d.md5, d.sha1, d.sha256) == (
        size,
        hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )


def test_digests_validate_when_made() -> None:
    good = hash_stream(io.BytesIO(b"abc"))
    with pytest.raises(ValueError):
        Digests(3, good.md5.upper(), good.sha1, good.sha256)
    with pytest.raises(ValueError):
        Digests(3, good.md5, good.sha1, good.sha256[:-1])
    with pytest.raises(ValueError):
        Digests(-1, good.md5, good.sha1, good.sha256)
    assert Digests.from_dict(good.to_dict()) == good


def test_verify_names_what_differs() -> None:
    expected = hash_stream(io.BytesIO(b"original"))
    with pytest.raises(HashMismatchError) as caught:
        expected.verify(io.BytesIO(b"0riginal"))
    assert caught.value.code == "EX-HASH-MISMATCH"
    assert set(caught.value.details["expected"]) == {"md5", "sha1", "sha256"}
    assert caught.value.details["observed"]["sha256"] == hashlib.sha256(b"0riginal").hexdigest()
    assert expected.verify(io.BytesIO(b"original")) == expected
