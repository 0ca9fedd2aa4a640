"""The asset graph of a deployment: every exhibit-partitioned asset (each new exhibit runs all that apply) and
the case-partitioned ones."""

from __future__ import annotations

from pipelines.assets import (
    audio_analysis,
    custody_chain,
    device_contents,
    device_verification,
    display_copy,
    fixity,
    media_probe,
    original,
    photo_metadata,
    review_proxy,
    transcript,
    video_frames,
)
from pipelines.face_assets import case_persons, face_detections

EXHIBIT_ASSETS = [
    original,
    media_probe,
    review_proxy,
    video_frames,
    audio_analysis,
    transcript,
    photo_metadata,
    display_copy,
    face_detections,
    device_verification,
    device_contents,
]
EXHIBIT_CHECKS = [fixity, custody_chain]
CASE_ASSETS = [case_persons]
