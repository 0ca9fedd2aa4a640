"""Persons from faces: clustering face encodings across a case, with users' decisions as fixed points.

The method is Chinese whispers (Biemann 2006), the one dlib's own face-clustering example uses, on the graph
whose edges join two appearances closer than `CLUSTER_THRESHOLD`:

- the number of persons is not known in advance (k-means would need it);
- unlike single linkage (connected components), one look-alike pair does not chain two people together: a
  face takes the label most of its close neighbours carry;
- the graph is sparse and built block by block, so a case with tens of thousands of appearances clusters in
  bounded memory (DBSCAN or agglomerative clustering want the full distance matrix: 10,000 appearances are
  400 MB of float32);
- a user's decision is a fixed label: pinned faces never change label, and every other face may join them.
  Two faces pinned to different persons can therefore never end up together, and faces pinned to one person
  stay together, which is what merging, splitting and naming need.

The threshold is 0.5, stricter than the 0.6 at which face_recognition calls two faces "the same person": in a
cluster a wrong edge costs more than a missed one (a user merges two persons in one click; untangling a mixed
person means looking at every face). Order and ties are deterministic, so the same faces and decisions give the
same persons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CLUSTER_THRESHOLD = 0.5
_BLOCK = 2048
_ROUNDS = 40

Floats = npt.NDArray[np.float32]


def _edges(encodings: Floats, threshold: float) -> list[list[tuple[int, float]]]:
    """Each face's neighbours closer than `threshold`, with weights that favour the closest."""
    count = len(encodings)
    neighbours: list[list[tuple[int, float]]] = [[] for _ in range(count)]
    squares = np.einsum("ij,ij->i", encodings, encodings)
    for start in range(0, count, _BLOCK):
        block = encodings[start : start + _BLOCK]
        squared = squares[start : start + _BLOCK, None] + squares[None, :] - 2.0 * block @ encodings.T
        distances = np.sqrt(np.maximum(squared, 0.0))
        rows, cols = np.nonzero(distances < threshold)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + row
            if i != col:
                neighbours[i].append((col, 1.0 - float(distances[row, col])))
    return neighbours


def chinese_whispers(
    encodings: Floats, pinned: Sequence[Hashable | None], threshold: float = CLUSTER_THRESHOLD
) -> list[Hashable]:
    """The cluster label of each face: its pin where it has one, else a label shared with the faces it clusters
    with (a pin's, when it joined pinned faces, or the index of one of its members)."""
    if len(encodings) != len(pinned):
        raise ValueError(f"{len(encodings)} encodings but {len(pinned)} pins")
    if len(encodings) == 0:
        return []
    vectors = np.ascontiguousarray(encodings, dtype=np.float32)
    neighbours = _edges(vectors, threshold)
    labels: list[Hashable] = [pin if pin is not None else ("face", i) for i, pin in enumerate(pinned)]
    free = [i for i, pin in enumerate(pinned) if pin is None]
    order = np.random.default_rng(0).permutation(len(free)).tolist()  # fixed order, but not the input's
    for _round in range(_ROUNDS):
        changed = 0
        for position in order:
            i = free[position]
            if not neighbours[i]:
                continue
            votes: dict[Hashable, float] = defaultdict(float)
            for j, weight in neighbours[i]:
                votes[labels[j]] += weight
            best = max(votes.items(), key=lambda item: (item[1], repr(item[0])))[0]
            if best != labels[i]:
                labels[i] = best
                changed += 1
        if changed == 0:
            break
    return labels


@dataclass(frozen=True, slots=True)
class PairwiseScore:
    """Clustering judged on pairs: of the pairs put together, how many are one person (precision); of the
    pairs that are one person, how many were put together (recall)."""

    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def pairwise_score(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> PairwiseScore:
    if len(truth) != len(predicted):
        raise ValueError("one true and one predicted label per face")
    together = same = both = 0
    for i in range(len(truth)):
        for j in range(i + 1, len(truth)):
            a, b = truth[i] == truth[j], predicted[i] == predicted[j]
            same += a
            together += b
            both += a and b
    return PairwiseScore(
        precision=both / together if together else 1.0,
        recall=both / same if same else 1.0,
        true_pairs=same,
        predicted_pairs=together,
    )
