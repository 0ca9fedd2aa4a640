"""near_duplicates on pHashes of pictures made here, and on 20,000 random hashes."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from forensics.photo_metadata import NEAR_DUPLICATE_BITS, NearDuplicate, hamming, near_duplicates, phash
from pipelines.sample_media import scene


def recompressed(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


def another_scene() -> Image.Image:
    image = Image.new("RGB", (320, 240), (230, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 120, 140, 230), fill=(20, 90, 40))
    draw.rectangle((180, 10, 300, 90), fill=(90, 20, 120))
    return image


def test_copies_of_a_picture_are_found_and_other_pictures_are_not() -> None:
    original = scene()
    items = [
        ("original", phash(original)),
        ("other", phash(another_scene())),
        ("smaller", phash(original.resize((160, 120)))),
        ("recompressed", phash(recompressed(original, 30))),
        ("shifted", phash(scene(shift=4))),  # the yellow block moved 4 px
        ("flipped", phash(original.transpose(Image.Transpose.FLIP_TOP_BOTTOM))),
        ("cropped", phash(original.crop((120, 40, 320, 200)).resize((320, 240)))),
        ("other-smaller", phash(another_scene().resize((200, 150)))),
    ]
    pairs = near_duplicates(items)
    found = {(p.first, p.second) for p in pairs}
    copies = {"original", "smaller", "recompressed", "shifted"}
    assert {(a, b) for a, b in found if a in copies and b in copies} == {
        (a, b) for i, (a, _) in enumerate(items) for b, _ in items[i + 1 :] if a in copies and b in copies
    }
    assert ("other", "other-smaller") in found
    assert not {name for pair in found for name in pair} & {"flipped", "cropped"}
    hashes = dict(items)
    assert all(hamming(hashes["original"], hashes[n]) > NEAR_DUPLICATE_BITS for n in ("flipped", "cropped", "other"))
    assert all(p.distance == hamming(hashes[p.first], hashes[p.second]) for p in pairs)


def test_the_order_is_by_distance_then_input_position() -> None:
    items = [("a", "0000000000000000"), ("b", "0000000000000003"), ("c", "0000000000000001"), ("d", "f" * 16)]
    assert near_duplicates(items, 4) == [
        NearDuplicate("a", "c", 1),
        NearDuplicate("b", "c", 1),
        NearDuplicate("a", "b", 2),
    ]
    assert near_duplicates(items, 0) == []
    assert near_duplicates([], 10) == [] and near_duplicates(items[:1], 10) == []
    assert near_duplicates([(1, "ABCDEF0123456789"), (2, "abcdef0123456789")], 0) == [NearDuplicate(1, 2, 0)]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="not a 64-bit pHash"):
        near_duplicates([("a", "xyz")])
    with pytest.raises(ValueError, match="0-64"):
        near_duplicates([("a", "0" * 16)], 65)
    with pytest.raises(ValueError, match="more than 3 pairs"):
        near_duplicates([(i, "0" * 16) for i in range(4)], max_pairs=3)  # 6 pairs of identical hashes


def test_blocks_give_the_same_answer_as_all_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    import forensics.photo_metadata as photo_metadata

    rng = np.random.default_rng(7)
    base = rng.integers(0, 2**64, 60, dtype=np.uint64)
    flips = np.uint64(1) << rng.integers(0, 64, 300, dtype=np.uint64)
    values = np.concatenate([base, base[rng.integers(0, 60, 300)] ^ flips])
    items = [(i, f"{int(v):016x}") for i, v in enumerate(values)]
    whole = near_duplicates(items, 12)
    monkeypatch.setattr(photo_metadata, "_BLOCK_ELEMENTS", 50)  # one row of 360 at a time
    assert near_duplicates(items, 12) == whole
    brute = sorted(
        (hamming(a, b), i, j)
        for i, (_, a) in enumerate(items)
        for j, (_, b) in enumerate(items)
        if i < j and hamming(a, b) <= 12
    )
    assert [(p.distance, p.first, p.second) for p in whole] == brute


def test_twenty_thousand_photos_take_seconds() -> None:
    rng = np.random.default_rng(1)
    items = [(f"photo-{i}", f"{int(v):016x}") for i, v in enumerate(rng.integers(0, 2**64, 20_000, dtype=np.uint64))]
    items += [(f"copy-{i}", f"{int(h, 16) ^ 0b101:016x}") for i, (_, h) in enumerate(items[:500])]
    started = time.perf_counter()
    pairs = near_duplicates(items)
    elapsed = time.perf_counter() - started
    assert {(p.first, p.second, p.distance) for p in pairs} >= {(f"photo-{i}", f"copy-{i}", 2) for i in range(500)}
    assert elapsed < 15  # about 1 s on two cores (200 M pairs)
