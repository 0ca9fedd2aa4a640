"""RFC 6962 Merkle trees: heads, inclusion and consistency proofs, checked against the RFC's own test tree."""

import hashlib

import pytest

from evidence_store.merkle import (
    EMPTY_ROOT,
    CompactTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The 8 leaves used by Certificate Transparency's reference tests (certificate-transparency-go merkle tests).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def test_known_roots_from_certificate_transparency() -> None:
    leaves = [leaf_hash(d) for d in CT_LEAVES]
    tree = CompactTree()
    for n in range(1, 9):
        tree.append(leaves[n - 1])
        assert root(leaves[:n]).hex() == CT_ROOTS[n - 1]
        assert tree.root().hex() == CT_ROOTS[n - 1]
    assert root([]) == EMPTY_ROOT == CompactTree().root()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 31, 64, 100])
def test_every_inclusion_proof_verifies_and_no_other(size: int) -> None:
    leaves = _leaves(size)
    head = root(leaves)
    for index in range(size):
        proof = inclusion_proof(leaves, index, size)
        assert verify_inclusion(leaves[index], index, size, proof, head)
        assert not verify_inclusion(leaves[(index + 1) % size], index, size, proof, head) or size == 1
        if proof:
            bad = [*proof[:-1], bytes(32)]
            assert not verify_inclusion(leaves[index], index, size, bad, head)


@pytest.mark.parametrize(("old", "new"), [(1, 1), (1, 2), (2, 3), (3, 7), (4, 8), (5, 9), (6, 8), (8, 100), (37, 64)])
def test_consistency_proofs(old: int, new: int) -> None:
    leaves = _leaves(new)
    old_root, new_root = root(leaves[:old]), root(leaves)
    proof = consistency_proof(leaves, old, new)
    assert verify_consistency(old, new, old_root, new_root, proof)
    assert not verify_consistency(old, new, old_root, root(_leaves(new + 1)[1:]), proof)
    if old < new:
        forked = [*leaves[: old - 1], leaf_hash(b"forged"), *leaves[old:]]
        assert not verify_consistency(old, new, old_root, root(forked), consistency_proof(forked, old, new))


def test_proof_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(_leaves(3), 3, 3)
    with pytest.raises(ValueError):
        consistency_proof(_leaves(3), 0, 3)
