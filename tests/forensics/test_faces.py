"""The parts of face analysis that need no face: boxes, quality, settings, the tracker, clustering and its score.
(Detection itself is measured on real photos and video in tests/realdata/test_faces_realdata.py.)"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from forensics.errors import VideoFacesError
from forensics.face_clusters import chinese_whispers, pairwise_score
from forensics.faces import FaceBox, FaceDetection, FaceQuality, FaceSettings, _quality, _split_tracks, _Tracker


def test_boxes_are_validated_and_measured() -> None:
    box = FaceBox(10, 60, 110, 20)
    assert (box.width, box.height, box.centre) == (40, 100, (40.0, 60.0))
    assert box.iou(box) == 1.0 and box.iou(FaceBox(200, 260, 300, 220)) == 0.0
    assert box.iou(FaceBox(10, 80, 110, 40)) == pytest.approx(20 * 100 / (2 * 4000 - 20 * 100))
    assert box.scaled(2.0, (1000, 1000)) == FaceBox(20, 120, 220, 40)
    assert box.scaled(20.0, (640, 360)) == FaceBox(200, 640, 360, 400)  # clipped to the frame
    for bad in [(10, 60, 10, 20), (10, 20, 110, 20), (-1, 60, 110, 20)]:
        with pytest.raises(ValueError):
            FaceBox(*bad)


def test_records_refuse_what_cannot_be() -> None:
    quality = FaceQuality(80, 100.0, True, 1.0)
    with pytest.raises(ValueError):
        FaceQuality(80, 100.0, True, 1.5)
    with pytest.raises(ValueError, match="128"):
        FaceDetection(1, None, FaceBox(0, 10, 10, 0), quality, (0.0,) * 127)
    with pytest.raises(ValueError, match="start at 1"):
        FaceDetection(0, None, FaceBox(0, 10, 10, 0), quality, None)
    with pytest.raises(ValueError, match="hog, cnn"):
        FaceSettings(model="haar")
    with pytest.raises(ValueError):
        FaceSettings(stride_s=0)


def test_quality_combines_size_sharpness_and_landmarks() -> None:
    assert _quality(160, 500.0, True).score == 1.0
    assert _quality(40, 500.0, True).score == 0.5  # half the size that counts as full
    assert _quality(160, 25.0, True).score == 0.25  # blurred
    assert _quality(160, 500.0, False).score == 0.5  # landmarks where no face has them


def _track_numbers(tracker: _Tracker, t: float, boxes: list[FaceBox], cut: bool = False) -> list[int]:
    return [track.number for track in tracker.assign(t, boxes, cut)]


def test_the_tracker_follows_faces_between_samples() -> None:
    tracker = _Tracker(FaceSettings())
    left, right = FaceBox(50, 150, 150, 50), FaceBox(50, 550, 150, 450)
    assert _track_numbers(tracker, 0.0, [left, right]) == [1, 2]
    # Both move 30 px between samples; a person walking back is still the same track.
    assert _track_numbers(tracker, 0.5, [FaceBox(50, 180, 150, 80), FaceBox(50, 520, 150, 420)]) == [1, 2]
    assert _track_numbers(tracker, 1.0, [FaceBox(50, 150, 150, 50)]) == [1]
    # Track 2 was last seen at 0.5 s: within max_gap_s it is picked up again; after it, a new track begins.
    assert _track_numbers(tracker, 1.5, [FaceBox(50, 520, 150, 420)]) == [2]
    assert _track_numbers(tracker, 3.0, [FaceBox(50, 520, 150, 420)]) == [3]
    # A scene cut ends every track, however well the boxes line up.
    assert _track_numbers(tracker, 3.5, [FaceBox(50, 520, 150, 420)], cut=True) == [4]
    # Far from every open track: a new face.
    assert _track_numbers(tracker, 4.0, [FaceBox(50, 520, 150, 420), FaceBox(300, 900, 400, 800)]) == [4, 5]


def test_a_track_whose_face_changed_is_split() -> None:
    tracker = _Tracker(FaceSettings())
    box = FaceBox(50, 150, 150, 50)
    quality = FaceQuality(100, 200.0, True, 1.0)
    ann, bob = (0.0,) * 128, (0.1,) * 128  # 1.13 apart

    def done(encoding: tuple[float, ...] | None) -> Future[tuple[float, ...]] | None:
        if encoding is None:
            return None
        future: Future[tuple[float, ...]] = Future()
        future.set_result(encoding)
        return future

    sightings = []
    for t, encoding in [(0.0, ann), (0.5, None), (1.0, bob), (1.5, None), (2.0, bob)]:
        (track,) = tracker.assign(t, [box], False)
        sightings.append((track, t, box, quality, done(encoding)))
    (other,) = tracker.assign(2.5, [FaceBox(300, 900, 400, 800)], False)
    sightings.append((other, 2.5, box, quality, done(ann)))
    detections = _split_tracks(sightings, 0.6)
    assert [d.track for d in detections] == [1, 1, 2, 2, 2, 3]
    assert [d.encoding is not None for d in detections] == [True, False, True, False, True, True]


def _people(count: int, per_person: int, spread: float, seed: int = 3) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count, 128))
    centres = centres / np.linalg.norm(centres, axis=1, keepdims=True) * 0.55  # ~0.78 apart
    faces, labels = [], []
    for person, centre in enumerate(centres):
        for _ in range(per_person):
            noise = rng.normal(size=128)
            faces.append(centre + noise / np.linalg.norm(noise) * spread)
            labels.append(person)
    return np.asarray(faces, dtype=np.float32), labels


def test_chinese_whispers_finds_the_people() -> None:
    faces, truth = _people(count=6, per_person=8, spread=0.15)
    labels = chinese_whispers(faces, [None] * len(faces))
    score = pairwise_score(truth, labels)
    assert (score.precision, score.recall) == (1.0, 1.0)
    assert labels == chinese_whispers(faces, [None] * len(faces))  # deterministic
    assert chinese_whispers(np.zeros((0, 128), np.float32), []) == []


def test_pins_hold_and_attract() -> None:
    faces, _truth = _people(count=2, per_person=5, spread=0.15)
    pins: list[str | None] = [None] * len(faces)
    pins[0], pins[1] = "P1", "P7"  # a user split the first person's first two faces apart
    labels = chinese_whispers(faces, pins)
    assert labels[0] == "P1" and labels[1] == "P7"
    # The rest of the first person joins one of the pinned persons, never a third label; the second person
    # stays apart from both.
    assert {labels[i] for i in range(2, 5)} <= {"P1", "P7"}
    assert not {labels[i] for i in range(5, 10)} & {"P1", "P7"}


def test_pairwise_score() -> None:
    assert pairwise_score(["a", "a", "b"], [1, 1, 2]) == pairwise_score(["a", "a", "b"], [5, 5, 6])
    score = pairwise_score(["a", "a", "a", "b"], [1, 1, 2, 2])
    assert (score.true_pairs, score.predicted_pairs) == (3, 2)
    assert (score.precision, score.recall) == (0.5, pytest.approx(1 / 3))
    with pytest.raises(ValueError):
        pairwise_score(["a"], [])


def test_loading_the_face_models_leaves_pillow_strict() -> None:
    from PIL import ImageFile

    from forensics.faces import _api

    _api()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # face_recognition's import turns it on for the process


def test_face_picture_cuts_the_box_from_a_photo_and_a_video_frame(tmp_path: Path) -> None:
    import subprocess
    from io import BytesIO

    from PIL import Image

    from forensics.faces import face_picture

    # A grey picture with a red square where "the face" is: the cut must be mostly red, with a grey margin.
    picture = Image.new("RGB", (640, 360), (128, 128, 128))
    picture.paste((220, 20, 20), (300, 100, 400, 200))
    photo = tmp_path / "scene.png"
    picture.save(photo)
    box = FaceBox(top=100, right=400, bottom=200, left=300)
    cut = Image.open(BytesIO(face_picture(photo, box, (640, 360))))
    assert cut.size == (160, 160)
    assert cut.getpixel((80, 80))[0] > 180 and cut.getpixel((3, 3))[0] < 150

    # The same picture as a 2-second video, cut from its frame at 1 s and decoded at the detection's size,
    # though the file itself is half that size (as a review proxy may be).
    video = tmp_path / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-loop",
            "1",
            "-i",
            str(photo),
            "-t",
            "2",
            "-vf",
            "scale=320:180",
            "-pix_fmt",
            "yuv420p",
            str(video),
        ],
        check=True,
    )
    cut = Image.open(BytesIO(face_picture(video, box, (640, 360), time_s=1.0)))
    assert cut.size == (160, 160)
    assert cut.getpixel((80, 80))[0] > 180 and cut.getpixel((3, 3))[0] < 150

    not_video = tmp_path / "notes.txt"
    not_video.write_text("no pictures here")
    with pytest.raises(VideoFacesError):
        face_picture(not_video, box, (640, 360), time_s=1.0)
