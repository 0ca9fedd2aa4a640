"""Faces through the real Dagster assets on generated media (drawn faces of three made-up identities, whose
truth the generator returns): detections and tracks, persons across exhibits, a lead, and a redaction that no
frame of the redacted person survives."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize
from PIL import Image

from evidence_store.access import Actor, add_member, add_user, resolve_actor
from evidence_store.analysis import newest_rows
from evidence_store.cases import create_case
from evidence_store.faces import case_persons, match_reference
from evidence_store.intake import IngestRequest, ingest
from evidence_store.redaction import redact_exhibit
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from forensics.faces import distance, encode_reference
from pipelines.assets import media_probe, original
from pipelines.face_assets import case_partitions, face_detections
from pipelines.face_assets import case_persons as case_persons_asset
from pipelines.sample_faces import face_image, scene_image, write_face_video
from tests.faces_support import faces_in_every_frame
from tests.pipelines.dagster_support import evidence_resource, materialize_exhibit


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_faces_persons_lead_and_redaction(
    system: EvidenceSystem, analyst: Actor, admin: Actor, settings: Settings, tmp_path: Path
) -> None:
    video = tmp_path / "doorway.mp4"
    truth = write_face_video(video)  # A 0.5-4.5 s, B 2.0-6.5 s, C 5.0-8.0 s
    photo = tmp_path / "pair.jpg"
    Image.fromarray(scene_image([1, 2], 480, 270, seed=4)).save(photo, quality=92)
    create_case(system, analyst, "OP-SYN", "Drawn faces")
    uids = {}
    for path in (video, photo):
        (outcome,) = ingest(system, analyst, [path], IngestRequest(case_ref="OP-SYN", by="Jane Smith"))
        assert outcome.exhibit_uid is not None and outcome.exhibit_id is not None
        uids[path.name] = (outcome.exhibit_uid, outcome.exhibit_id)
    instance = DagsterInstance.ephemeral()
    for uid, _id in uids.values():
        materialize_exhibit(instance, settings, uid, assets=[original, media_probe, face_detections])

    rows = newest_rows(system, uids["doorway.mp4"][1], "face_detections", limit=1000)
    spans = {}
    for row in rows:
        low, high = spans.get(row["track"], (row["time_s"], row["time_s"]))
        spans[row["track"]] = (min(low, row["time_s"]), max(high, row["time_s"]))
    # One track per person, each seen from within a stride of its entry to within a stride of its exit.
    assert len(spans) == 3, spans
    for (start, end), track in zip(sorted(spans.values()), truth.tracks, strict=True):
        assert track.start - 0.1 <= start <= track.start + 0.6 and track.end - 0.6 <= end <= track.end + 0.1
    assert len(newest_rows(system, uids["pair.jpg"][1], "face_detections")) == 2

    assert case_partitions.name is not None
    instance.add_dynamic_partitions(case_partitions.name, ["OP-SYN"])
    resources = {"evidence": evidence_resource(settings)}
    assert materialize([case_persons_asset], partition_key="OP-SYN", instance=instance, resources=resources).success
    persons = case_persons(system, analyst, "OP-SYN")
    # Three people: A only in the video; B and C in the video and in the photo.
    assert sorted(len(p.appearances) for p in persons) == [1, 2, 2]

    reference = tmp_path / "custody.png"
    Image.fromarray(face_image(1, size=240, seed=9)).save(reference)
    match = match_reference(system, analyst, "OP-SYN", reference, "B")
    leads = [lead for lead in match.leads if lead.within_threshold]
    assert len(leads) == 2 and len({lead.person_id for lead in leads}) == 1
    b_person = leads[0].person_id
    assert b_person is not None

    add_user(system, admin, "do.patel", "disclosure_officer")
    add_member(system, admin, "OP-SYN", "do.patel")
    officer = resolve_actor(system, "do.patel")
    made = redact_exhibit(system, officer, uids["doorway.mp4"][1], mode="except", persons=[b_person])
    assert (made.tracks_redacted, made.tracks_kept, made.status) == (2, 1, "pending review")
    copy = tmp_path / "redacted.mp4"
    with system.store.open(made.derivative_sha256) as reader:
        copy.write_bytes(reader.read())
    # Every frame of the copy through the detector: only B's face is left, wherever the truth says B is.
    b_encoding, _box = encode_reference(reference)
    frames = faces_in_every_frame(copy)
    leaked: list[int] = []
    kept = b_frames = 0
    for index, faces in enumerate(frames):
        on_screen = {identity for identity, _b in truth.faces_at(index / truth.fps)}
        b_frames += 1 in on_screen
        for _box, encoding in faces:
            if distance(encoding, b_encoding) <= 0.6:
                kept += 1
            else:
                leaked.append(index)
    assert len(frames) == truth.frames
    assert leaked == []  # residual rate of the redacted persons: 0
    assert kept >= 0.9 * b_frames
