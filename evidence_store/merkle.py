"""RFC 6962 / RFC 9162 Merkle trees over ledger events: tree heads, inclusion and consistency proofs.

Pure functions over leaf hashes, so a recipient verifies offline with nothing but the events, the proof, the
checkpoint and a public key. Leaves and interior nodes are hashed with distinct prefixes (0x00, 0x01), so a
node can never be passed off as a leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


class CompactTree:
    """Appends leaf hashes one at a time and gives the tree head at any size in O(log n) memory.

    Keeps one perfect subtree root per 1-bit of the size; the head folds them from the smallest up, which is
    exactly RFC 6962's split at the largest power of two.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # roots of perfect subtrees, largest first

    def append(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        self.size += 1
        merges = (self.size & -self.size).bit_length() - 1  # trailing zeros: how many pairs complete
        for _ in range(merges):
            right = self._stack.pop()
            left = self._stack.pop()
            self._stack.append(node_hash(left, right))

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        head = self._stack[-1]
        for subtree in reversed(self._stack[:-1]):
            head = node_hash(subtree, head)
        return head


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]): the audit path proving leaf `index` is in the tree of the first `size` leaves."""
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of size {size}")

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, lo, lo + k), root(leaves[lo + k : hi])]
        return [*path(m - k, lo + k, hi), root(leaves[lo : lo + k])]

    return path(index, 0, size)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]): shows the tree of `new_size` leaves extends the one of `old_size`."""
    if not 0 < old_size <= new_size <= len(leaves):
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [root(leaves[lo:hi])]
        k = _split(n)
        if m <= k:
            return [*subproof(m, lo, lo + k, complete), root(leaves[lo + k : hi])]
        return [*subproof(m - k, lo + k, hi, False), root(leaves[lo : lo + k])]

    return subproof(old_size, 0, new_size, True)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old_size == new_size:
        return old_root == new_root and not proof
    if not 0 < old_size < new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # old tree is a perfect subtree: its root starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


def leaves_root(leaves: Iterable[bytes]) -> tuple[int, bytes]:
    tree = CompactTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree.size, tree.root()
