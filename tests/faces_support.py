"""The naive face baseline for tests that judge a redaction: the detector on every frame at full resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from forensics.faces import _api


def faces_in_every_frame(path: Path) -> list[list[tuple[tuple[int, int, int, int], np.ndarray[Any, Any]]]]:
    """Each frame's faces (box, encoding): HOG upsampled once, on every frame at full resolution."""
    api = _api()
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        boxes = api.face_locations(rgb, 1)
        frames.append(list(zip(boxes, api.face_encodings(rgb, boxes), strict=True)))
    capture.release()
    return frames
