"""Face detection in photos and video: boxes, quality, 128-d encodings and, in video, tracks.

The detector is dlib's, through face_recognition: HOG by default (CPU, fast), the MMOD CNN as an option
(better on profiles and small faces, several times slower on a CPU). Encodings are dlib's ResNet face
descriptor: two faces of one person are usually within 0.6 of each other (`MATCH_THRESHOLD`, face_recognition's
tolerance, 99.38% on LFW), of different people beyond it. A match is a lead for a person to confirm, never an
identification.

Video is not run through the detector frame by frame (0.5 s a 720p frame here: a minute of footage would take a
quarter of an hour). One ffmpeg pass picks the frames worth looking at, and only those reach Python, reduced
to `detect_height`:

- a stride (`stride_s`, every 0.5 s by default) so that nobody on screen for a second is missed;
- every keyframe and every scene change (ffmpeg's scene score above `scene_threshold`): a cut is where new
  faces appear, and a track never continues across one.

Between samples faces are followed by a tracker: a detection joins the open track whose predicted box it
overlaps (IoU), or whose centre it is near; a track not seen for `max_gap_s` ends. A track is encoded when it
starts and again every `encode_every_s` (an encoding costs twice a detection: 0.18 s a face here), and one
whose new encoding is far from the mean of its earlier ones is split there (two people swapped places between
samples). The redaction step interpolates a track's box between its samples and holds it for one stride beyond
both ends (`redaction.RedactionTrack`).

Encodings are made in a second process where the video is long enough to repay starting it (dlib's detector
keeps one core busy; the encoder and ffmpeg share the other); which encoding splits which track is decided once
they are in, in order, so the result is the same either way.

Quality of each detection: its height in source pixels, sharpness (variance of the Laplacian of the face
scaled to 64 px high: a number that does not grow with size), whether the five landmarks sit where a face's
do (eyes level-ish in the upper part, nose between and below them), and a 0..1 score combining them that
chooses which face represents a person.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import queue
import re
import subprocess
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from forensics.errors import FaceReferenceError, MediaMissingError, NotMediaError, ToolTimeoutError, VideoFacesError
from forensics.media_probe import MediaProbe, find_tool, media_input, probe_media, tool_version
from forensics.photo_derivatives import upright_pixels

ENCODING_SIZE = 128
MATCH_THRESHOLD = 0.6  # face_recognition's default tolerance: same person at or below
MODELS = ("hog", "cnn")
PARALLEL_FROM_S = 20.0  # shorter videos are done before worker processes would have loaded the models
RGB = npt.NDArray[np.uint8]
Encoding = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face's box in display-frame pixels (photos upright, video as played), face_recognition's order."""

    top: int
    right: int
    bottom: int
    left: int

    def __post_init__(self) -> None:
        if not (0 <= self.top < self.bottom and 0 <= self.left < self.right):
            raise ValueError(f"not a box: top {self.top}, right {self.right}, bottom {self.bottom}, left {self.left}")

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2, (self.top + self.bottom) / 2)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.top, self.right, self.bottom, self.left)

    def scaled(self, factor: float, frame: tuple[int, int]) -> FaceBox:
        """The box in a frame `factor` times the size of this one's, clipped to `frame` (width, height)."""
        width, height = frame
        top = min(max(0, round(self.top * factor)), height - 1)
        left = min(max(0, round(self.left * factor)), width - 1)
        return FaceBox(
            top,
            max(left + 1, min(width, round(self.right * factor))),
            max(top + 1, min(height, round(self.bottom * factor))),
            left,
        )

    def iou(self, other: FaceBox) -> float:
        inter_w = min(self.right, other.right) - max(self.left, other.left)
        inter_h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if inter_w <= 0 or inter_h <= 0:
            return 0.0
        inter = inter_w * inter_h
        return inter / (self.width * self.height + other.width * other.height - inter)


@dataclass(frozen=True, slots=True)
class FaceQuality:
    height_px: int  # the face's height in source pixels
    sharpness: float  # variance of the Laplacian at 64 px face height; below ~20 is visibly blurred
    landmarks_plausible: bool
    score: float  # 0..1: size (full at 80 px), sharpness (full at 100) and landmarks together

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"quality score {self.score} outside 0..1")


@dataclass(frozen=True, slots=True)
class FaceDetection:
    """One face seen once: in a photo, or in one sampled frame of a video (`time_s`)."""

    track: int  # 1, 2, ... in order of first appearance; in a photo each face is its own track
    time_s: float | None  # None for a photo
    box: FaceBox
    quality: FaceQuality
    encoding: Encoding | None  # the 128-d descriptor, where this sample was encoded

    def __post_init__(self) -> None:
        if self.track < 1:
            raise ValueError(f"track numbers start at 1, not {self.track}")
        if self.encoding is not None and len(self.encoding) != ENCODING_SIZE:
            raise ValueError(f"a face encoding has {ENCODING_SIZE} values, not {len(self.encoding)}")


@dataclass(frozen=True, slots=True)
class FaceWarning:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class FaceSettings:
    model: str = "hog"
    upsample: int = 1  # photos: the detector's upsampling (1 finds faces down to ~40 px)
    max_side: int = 1600  # photos are analysed fitted within this (boxes are reported in full-size pixels)
    video_upsample: int = 0
    detect_height: int = 540  # video frames are scaled to this height before detection
    stride_s: float = 0.5
    scene_threshold: float = 0.3
    encode_every_s: float = 2.0  # video: a track is encoded when it starts and again this often
    # video, from PARALLEL_FROM_S long: 2 encodes in a second process beside the detector. Measured on 60 s of
    # 720p on 2 cores: 16.4 s with 1, 18.3 s with 2 (starting the process and shipping frames cost more than the
    # overlap saves while ffmpeg takes the second core), so 1 is the default.
    workers: int = 1
    max_gap_s: float = 1.0  # a track not seen for longer ends
    min_iou: float = 0.2
    split_distance: float = MATCH_THRESHOLD  # a track whose face changes this much becomes two
    jitters: int = 1

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"face model must be one of {', '.join(MODELS)}, not {self.model!r}")
        if not (0 <= self.upsample <= 3 and 0 <= self.video_upsample <= 3):
            raise ValueError("upsampling is 0 to 3")
        if self.stride_s <= 0 or self.detect_height < 64 or self.max_side < 64:
            raise ValueError("stride must be positive; detect_height and max_side at least 64 px")

    def parameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class FaceAnalysis:
    """Every face found in one photo or video, with what is needed to reproduce the run."""

    width: int  # display-frame size the boxes refer to
    height: int
    duration_s: float | None
    frames_examined: int
    detections: tuple[FaceDetection, ...]
    warnings: tuple[FaceWarning, ...] = field(default=())
    tool: str = "face_recognition"
    tool_version: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def tracks(self) -> int:
        return len({d.track for d in self.detections})


# -- the models ----------------------------------------------------------------------------------------------


@cache
def _api() -> Any:
    # Imported on first use: loading the models takes a second and 100 MB that most steps never need.
    from PIL import ImageFile

    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")  # face_recognition_models' own
        import face_recognition.api as api
    # Importing it sets Pillow's process-wide LOAD_TRUNCATED_IMAGES, which would make every later decode of a
    # damaged photo (in any step of this process) pass silently: put it back.
    ImageFile.LOAD_TRUNCATED_IMAGES = truncated

    return api


@cache
def face_tool_version() -> str:
    """The distributions, as installed (face_recognition's module says 1.2.3 in its 1.3.0 release)."""
    _api()
    import dlib

    def installed(*names: str) -> str:
        for name in names:
            try:
                return f"{name} {metadata.version(name)}"
            except metadata.PackageNotFoundError:
                continue
        return f"{names[0]} unknown"

    return "; ".join(
        [
            installed("face-recognition"),
            f"dlib {dlib.__version__} ({installed('dlib-bin', 'dlib')})",
            installed("face-recognition-models"),
        ]
    )


def _locate(pixels: RGB, model: str, upsample: int, grey: bool = False) -> list[FaceBox]:
    """Face boxes; with `grey`, HOG looks at one channel instead of three (25% faster, measured on 720p video;
    photos keep the colour detector, whose boxes the README's answers give)."""
    api = _api()
    if grey and model == "hog":
        import cv2

        pixels = np.asarray(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    found = api.face_locations(pixels, number_of_times_to_upsample=upsample, model=model)
    boxes = []
    for top, right, bottom, left in found:
        if bottom > top and right > left:
            boxes.append(FaceBox(int(top), int(right), int(bottom), int(left)))
    return sorted(boxes, key=lambda b: (b.left, b.top))


def _landmarks(pixels: RGB, box: FaceBox) -> Any:
    api = _api()
    import dlib

    return api.pose_predictor_5_point(pixels, dlib.rectangle(box.left, box.top, box.right, box.bottom))


def _plausible(shape: Any, box: FaceBox) -> bool:
    """dlib's five points (two per eye, outer and inner corner, then the nose's base) sit where a face's do."""
    points = [(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)]
    if len(points) != 5:
        return False
    right_eye = ((points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2)
    left_eye = ((points[2][0] + points[3][0]) / 2, (points[2][1] + points[3][1]) / 2)
    nose = points[4]
    eye_span = math.dist(right_eye, left_eye)
    eye_line = (right_eye[1] + left_eye[1]) / 2
    between = (
        min(right_eye[0], left_eye[0]) - 0.15 * eye_span <= nose[0] <= max(right_eye[0], left_eye[0]) + 0.15 * eye_span
    )
    return (
        0.2 * box.width <= eye_span <= 0.8 * box.width
        and abs(right_eye[1] - left_eye[1]) <= 0.5 * eye_span  # a head tilted past ~27 degrees is not frontal
        and nose[1] > eye_line
        and between
    )


def _sharpness(pixels: RGB, box: FaceBox) -> float:
    import cv2

    crop = pixels[box.top : box.bottom, box.left : box.right]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    side = max(1, round(64 * grey.shape[1] / max(1, grey.shape[0])))
    grey = cv2.resize(grey, (side, 64), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _quality(height_px: int, sharpness: float, plausible: bool) -> FaceQuality:
    score = min(1.0, height_px / 80) * min(1.0, sharpness / 100) * (1.0 if plausible else 0.5)
    return FaceQuality(height_px, round(sharpness, 2), plausible, round(score, 4))


def _encode(pixels: RGB, shape: Any, jitters: int) -> Encoding:
    descriptor = _api().face_encoder.compute_face_descriptor(pixels, shape, jitters)
    return tuple(float(v) for v in descriptor)


def distance(a: Sequence[float] | npt.NDArray[Any], b: Sequence[float] | npt.NDArray[Any]) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def _version(settings: FaceSettings, extra: str = "") -> str:
    return f"{face_tool_version()}; detector {settings.model}{extra}"


# -- photos ----------------------------------------------------------------------------------------------


def detect_photo_faces(path: str | Path, settings: FaceSettings = FaceSettings()) -> FaceAnalysis:
    """Every face in a photo, upright, each encoded.

    Raises:
        MediaMissingError, NotImageError, PhotoDamagedError, PhotoTooLargeError: as `upright_pixels`.
    """
    photo = upright_pixels(path, settings.max_side)
    pixels: RGB = np.ascontiguousarray(np.asarray(photo.image, dtype=np.uint8))
    back = 1 / photo.scale
    detections = []
    for number, box in enumerate(_locate(pixels, settings.model, settings.upsample), start=1):
        shape = _landmarks(pixels, box)
        full = box.scaled(back, photo.upright_size)
        quality = _quality(full.height, _sharpness(pixels, box), _plausible(shape, box))
        detections.append(FaceDetection(number, None, full, quality, _encode(pixels, shape, settings.jitters)))
    return FaceAnalysis(
        width=photo.upright_size[0],
        height=photo.upright_size[1],
        duration_s=None,
        frames_examined=1,
        detections=tuple(detections),
        warnings=tuple(FaceWarning(w.code, w.message) for w in photo.warnings),
        tool_version=_version(settings),
        parameters=settings.parameters()
        | {"analysed_size": list(photo.image.size), "orientation_applied": photo.orientation_applied},
    )


def encode_reference(path: str | Path, settings: FaceSettings = FaceSettings()) -> tuple[Encoding, FaceBox]:
    """The encoding of the one face in a reference photo (a custody image, a missing person's photograph).

    Raises:
        FaceReferenceError: no face, or more than one (which one would be meant is for a person to crop).
    """
    found = detect_photo_faces(path, settings)
    if len(found.detections) != 1:
        raise FaceReferenceError(
            f"a reference photo must show exactly one face; {Path(path).name} shows {len(found.detections)}",
            faces=len(found.detections),
        )
    face = found.detections[0]
    assert face.encoding is not None
    return face.encoding, face.box


# -- video -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sample:
    time_s: float
    scene_cut: bool
    pixels: RGB


_FRAME_LOG = re.compile(r"frame:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:\s*(\S+)")
_SCENE_LOG = re.compile(r"lavfi\.scene_score=([0-9.eE+-]+)")


def _display_size(probe: MediaProbe) -> tuple[int, int]:
    video = probe.video
    if video is None or not video.width or not video.height:
        raise NotMediaError("no video stream with a picture size", container=probe.container)
    if abs(video.rotation or 0) % 180 == 90:
        return video.height, video.width
    return video.width, video.height


def _sample_command(source: Path, settings: FaceSettings, size: tuple[int, int]) -> list[str]:
    stride = settings.stride_s
    chooser = (
        f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{stride})"
        f"+eq(pict_type\\,I)+gt(scene\\,{settings.scene_threshold})'"
    )
    return [
        find_tool("ffmpeg"),
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "level+info",
        "-nostdin",
        "-i",
        media_input(source),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        f"{chooser},metadata=mode=print,scale={size[0]}:{size[1]}:flags=area",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
    ]


def _read_log(stream: Any, times: queue.Queue[tuple[float, float] | None], problems: list[str]) -> None:
    """ffmpeg's log, line by line: each sampled frame's time and scene score, in output order; warnings kept."""
    pending: float | None = None
    score = 0.0
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        frame = _FRAME_LOG.search(line)
        if frame and "Parsed_metadata" in line:
            if pending is not None:
                times.put((pending, score))
            pending, score = _float(frame[3]), 0.0
            continue
        scene = _SCENE_LOG.search(line)
        if scene and pending is not None:
            score = _float(scene[1])
            continue
        if "[error]" in line or "[warning]" in line or "[fatal]" in line:
            text = re.sub(r"^(\[[^\]]+\]\s*)+", "", line).strip()
            if text and text not in problems and len(problems) < 20:
                problems.append(text[:300])
    if pending is not None:
        times.put((pending, score))
    times.put(None)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def _samples(
    source: Path, settings: FaceSettings, size: tuple[int, int], timeout: float, problems: list[str]
) -> Iterator[_Sample]:
    """The sampled frames, reduced to `size`, with their times; ffmpeg's own warnings collected in `problems`."""
    frame_bytes = size[0] * size[1] * 3
    process = subprocess.Popen(
        _sample_command(source, settings, size),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None and process.stderr is not None
    times: queue.Queue[tuple[float, float] | None] = queue.Queue()
    reader = threading.Thread(target=_read_log, args=(process.stderr, times, problems), daemon=True)
    reader.start()
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        while True:
            data = process.stdout.read(frame_bytes)
            if len(data) < frame_bytes:
                break
            entry = times.get(timeout=60)
            if entry is None:  # a frame with no log line: cannot happen with metadata=print, but never guess
                break
            pixels = np.frombuffer(data, dtype=np.uint8).reshape(size[1], size[0], 3)
            yield _Sample(entry[0], entry[1] > settings.scene_threshold, pixels)
    finally:
        process.stdout.close()
        killed = not timer.is_alive()
        timer.cancel()
        process.kill()
        process.wait()
        reader.join(timeout=10)
    if killed:
        raise ToolTimeoutError(f"face sampling took longer than {timeout:.0f} s", timeout=timeout)


@dataclass(frozen=True, slots=True)
class _Found:
    box: FaceBox  # in the analysed frame's pixels
    sharpness: float
    plausible: bool


def _analyse_frame(pixels: RGB, model: str, upsample: int) -> list[_Found]:
    """Every face of one frame, located and measured: the unit of work a worker process does. (Encoding is
    the tracker's choice, made in order: it costs twice the detection, 0.18 s a face here.)"""
    found = []
    for box in _locate(pixels, model, upsample, grey=True):
        shape = _landmarks(pixels, box)
        found.append(_Found(box, _sharpness(pixels, box), _plausible(shape, box)))
    return found


def _encode_face(pixels: RGB, box: FaceBox, jitters: int) -> Encoding:
    return _encode(pixels, _landmarks(pixels, box), jitters)


@contextlib.contextmanager
def _encoder(jitters: int, in_worker: bool) -> Iterator[Callable[[RGB, FaceBox], Future[Encoding]]]:
    """Encodings made here, or in a worker process beside the detector: an encoding costs twice a detection
    (0.18 s a face here: dlib-bin has no BLAS), and the detector keeps one core busy on its own."""
    if not in_worker:

        def here(pixels: RGB, box: FaceBox) -> Future[Encoding]:
            done: Future[Encoding] = Future()
            done.set_result(_encode_face(pixels, box, jitters))
            return done

        yield here
        return
    # spawn, not fork: the caller may be a threaded process (a Dagster step), and a forked copy of its locks
    # can deadlock.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield lambda pixels, box: executor.submit(_encode_face, pixels, box, jitters)


@dataclass
class _OpenTrack:
    number: int
    points: list[tuple[float, FaceBox]]
    last_encoded: float = -math.inf

    def predicted(self, t: float) -> FaceBox:
        (t1, b1) = self.points[-1]
        if len(self.points) < 2 or t <= t1:
            return b1
        (t0, b0) = self.points[-2]
        if t1 - t0 <= 0:
            return b1
        k = min(1.0, (t - t1) / (t1 - t0))  # extrapolate at most one interval ahead
        moved = [round(v1 + (v1 - v0) * k) for v0, v1 in zip(b0.as_tuple(), b1.as_tuple(), strict=True)]
        top, right, bottom, left = moved
        if top < 0 or left < 0 or bottom <= top or right <= left:
            return b1
        return FaceBox(top, right, bottom, left)


class _Tracker:
    def __init__(self, settings: FaceSettings) -> None:
        self.settings = settings
        self.open: list[_OpenTrack] = []
        self.count = 0

    def _new(self, t: float, box: FaceBox) -> _OpenTrack:
        self.count += 1
        track = _OpenTrack(self.count, [(t, box)])
        self.open.append(track)
        return track

    def assign(self, t: float, boxes: list[FaceBox], cut: bool) -> list[_OpenTrack]:
        """The track of each box (in order), starting new ones where none fits."""
        if cut:
            self.open = []
        self.open = [tr for tr in self.open if t - tr.points[-1][0] <= self.settings.max_gap_s]
        pairs = []
        for i, box in enumerate(boxes):
            for j, track in enumerate(self.open):
                # Against where it was and where its motion says it is: people on foot change direction often.
                overlap, gap = 0.0, math.inf
                for guess in (track.points[-1][1], track.predicted(t)):
                    overlap = max(overlap, box.iou(guess))
                    gap = min(gap, math.dist(box.centre, guess.centre) / max(guess.width, box.width))
                if overlap >= self.settings.min_iou or gap <= 0.6:
                    pairs.append((overlap, -gap, i, j))
        chosen: dict[int, _OpenTrack] = {}
        used: set[int] = set()
        for _overlap, _near, i, j in sorted(pairs, reverse=True):
            if i not in chosen and j not in used:
                chosen[i] = self.open[j]
                used.add(j)
        result = []
        for i, box in enumerate(boxes):
            found = chosen.get(i)
            if found is None:
                found = self._new(t, box)
            else:
                found.points.append((t, box))
            result.append(found)
        return result


def _split_tracks(
    sightings: list[tuple[_OpenTrack, float, FaceBox, FaceQuality, Future[Encoding] | None]], split_distance: float
) -> list[FaceDetection]:
    """The detections, numbered: a tracked face whose new encoding is beyond `split_distance` from the mean of
    its track so far starts a new track there. Tracks are numbered by first appearance."""
    segment: dict[int, int] = {}  # open track (by identity) -> its current segment
    vectors: dict[int, list[npt.NDArray[np.float64]]] = {}
    segments = 0
    labelled = []
    for track, time_s, box, quality, pending in sightings:
        key = id(track)
        encoding = pending.result() if pending is not None else None
        if key not in segment:
            segments += 1
            segment[key], vectors[key] = segments, []
        if encoding is not None:
            vector = np.asarray(encoding)
            if vectors[key] and distance(vector, np.mean(vectors[key], axis=0)) > split_distance:
                segments += 1
                segment[key], vectors[key] = segments, []
            vectors[key].append(vector)
        labelled.append((segment[key], time_s, box, quality, encoding))
    return [
        FaceDetection(number, round(time_s, 3), box, quality, encoding)
        for number, time_s, box, quality, encoding in labelled
    ]


def detect_video_faces(
    path: str | Path,
    settings: FaceSettings = FaceSettings(),
    *,
    probe: MediaProbe | None = None,
    timeout: float = 6 * 3600,
) -> FaceAnalysis:
    """Faces through a video, sampled and tracked (see the module's notes). Boxes are in display pixels.

    A file that stops decoding part way gives the faces up to there and a warning; one with no decodable
    frame at all fails.

    Raises:
        MediaMissingError: no such file.
        NotMediaError: no video stream.
        VideoFacesError: no frame of it decodes.
        ToolMissingError, ToolTimeoutError: ffmpeg is absent, or the pass took longer than `timeout`.
    """
    source = Path(path)
    if not source.is_file():
        raise MediaMissingError(f"{source} does not exist", path=str(source))
    probe = probe or probe_media(source)
    width, height = _display_size(probe)
    # Up as well as down: HOG without upsampling finds faces from ~80 px, so a 360p clip is enlarged to find the
    # 50 px faces that its full-resolution, upsampled run would (cheaper than upsampling, which doubles both sides).
    factor = settings.detect_height / height
    size = (max(2, round(width * factor / 2) * 2), max(2, round(height * factor / 2) * 2))
    back = width / size[0]
    tracker = _Tracker(settings)
    problems: list[str] = []
    examined = 0
    last_time = 0.0
    origin: float | None = None

    # (open track, time, box, quality, encoding to come): the tracker runs as samples come; whether an encoding
    # splits its track is decided once the encodings are in, in order (a split renumbers the rest of the track).
    sightings: list[tuple[_OpenTrack, float, FaceBox, FaceQuality, Future[Encoding] | None]] = []
    duration = probe.duration
    in_worker = settings.workers > 1 and (duration or 0.0) >= PARALLEL_FROM_S
    with _encoder(settings.jitters, in_worker) as encode:
        for sampled in _samples(source, settings, size, timeout, problems):
            # Times count from the first frame, as a player shows them (MP4 streams often start at 0.03-1 s).
            origin = sampled.time_s if origin is None else origin
            time_s = max(0.0, sampled.time_s - origin)
            examined += 1
            last_time = time_s
            pixels = sampled.pixels
            found = _analyse_frame(pixels, settings.model, settings.video_upsample)
            for face, track in zip(
                found, tracker.assign(time_s, [f.box for f in found], sampled.scene_cut), strict=True
            ):
                full = face.box.scaled(back, (width, height))
                quality = _quality(full.height, face.sharpness, face.plausible)
                encoding: Future[Encoding] | None = None
                if time_s - track.last_encoded >= settings.encode_every_s:
                    encoding = encode(pixels, face.box)
                    track.last_encoded = time_s
                sightings.append((track, time_s, full, quality, encoding))
        detections = _split_tracks(sightings, settings.split_distance)
    if examined == 0:
        detail = "; ".join(problems[:3]) or "ffmpeg produced no frame"
        raise VideoFacesError(f"no frame of the video decodes for face detection: {detail}", path=str(source))
    warnings = [FaceWarning("EX-FACES-DECODE", text) for text in problems]
    if duration and last_time < duration - max(2.0, 2 * settings.stride_s) and problems:
        warnings.insert(
            0,
            FaceWarning(
                "EX-FACES-PARTIAL",
                f"decoding stopped at {last_time:.1f} s of {duration:.1f} s: faces after that were not looked for",
            ),
        )
    return FaceAnalysis(
        width=width,
        height=height,
        duration_s=duration,
        frames_examined=examined,
        detections=tuple(sorted(detections, key=lambda d: (d.time_s or 0.0, d.track))),
        warnings=tuple(warnings),
        tool_version=_version(settings, f"; sampled by {tool_version('ffmpeg')}"),
        parameters=settings.parameters() | {"analysed_size": list(size), "time_origin_pts_s": origin},
    )


def face_picture(
    path: str | Path,
    box: FaceBox,
    frame_size: tuple[int, int],
    time_s: float | None = None,
    side: int = 160,
    timeout_s: float = 60.0,
) -> bytes:
    """A JPEG of one detected face with a margin around it, `side` pixels square at most: what a reviewer sees
    of a person. `box` is in the detection's display-frame pixels (`frame_size`); a video's frame at `time_s`
    is decoded at that size (any copy of the recording with the same picture, such as its review proxy,
    serves), a photo is read upright as it was analysed.

    Raises:
        MediaMissingError, NotImageError, PhotoDamagedError: as `upright_pixels`, for a photo.
        VideoFacesError: ffmpeg could not decode a frame there.
    """
    from io import BytesIO

    from PIL import Image

    width, height = frame_size
    if time_s is None:
        photo = upright_pixels(path, 1600)  # a face needs no more; a 48 MP photo need not be decoded whole
        frame = photo.image
        scale = photo.scale * photo.upright_size[0] / width
    else:
        command = [
            find_tool("ffmpeg"),
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-ss",
            f"{max(0.0, time_s):.3f}",
            "-i",
            media_input(Path(path)),
            "-map",
            "0:v:0",
            "-frames:v",
            "1",
            "-vf",
            f"scale={width}:{height}",
            "-f",
            "image2pipe",
            "-c:v",
            "png",
            "pipe:1",
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ToolTimeoutError(f"ffmpeg took over {timeout_s:.0f} s for one frame", tool="ffmpeg") from exc
        if done.returncode != 0 or not done.stdout:
            why = done.stderr.decode(errors="replace").strip()[-300:]
            raise VideoFacesError(f"no frame at {time_s:.2f} s: {why or 'nothing decoded'}", path=str(path))
        frame = Image.open(BytesIO(done.stdout)).convert("RGB")
        scale = 1.0
    margin = 0.3 * max(box.bottom - box.top, box.right - box.left)
    crop = (
        max(0, int((box.left - margin) * scale)),
        max(0, int((box.top - margin) * scale)),
        min(frame.width, int((box.right + margin) * scale)),
        min(frame.height, int((box.bottom + margin) * scale)),
    )
    face = frame.crop(crop)
    face.thumbnail((side, side))
    out = BytesIO()
    face.save(out, "JPEG", quality=88)
    return out.getvalue()
