"""Face assets: `face_detections` per exhibit (photos and video), `case_persons` per case.

`case_persons` is partitioned by case, not by exhibit: persons are found across all of a case's exhibits. The
`persons_after_faces` sensor asks for it whenever an exhibit's face detections are new, once per case per
tick, so a case of a thousand photos is clustered a few times while it is processed, not a thousand times.
"""

import os
from collections.abc import Iterator

from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    DefaultSensorStatus,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    asset,
    define_asset_job,
    sensor,
)

from evidence_store.access import SERVICE
from evidence_store.faces import cases_with_new_faces, cluster_case, record_face_detections
from evidence_store.workspace import mark_exhibit
from forensics.errors import (
    MediaDamagedError,
    NotImageError,
    NotMediaError,
    PhotoDamagedError,
    PhotoTooLargeError,
    VideoFacesError,
)
from forensics.faces import FaceSettings, detect_photo_faces, detect_video_faces
from pipelines.assets import (
    PHOTO,
    VIDEO,
    _exhibit_for,
    _on_copy,
    _record_warnings,
    _stored_probe,
    exhibit_asset,
    original,
)
from pipelines.execution import coded_failures, retry_policy
from pipelines.resources import EvidenceStoreResource

case_partitions = DynamicPartitionsDefinition(name="cases")
FACES = (VIDEO[0] | PHOTO[0], VIDEO[1] + PHOTO[1])


def face_settings() -> FaceSettings:
    """The deployment's detector: HOG unless EXHIBIT_FACE_MODEL=cnn (slower on a CPU, better on profiles)."""
    return FaceSettings(model=os.environ.get("EXHIBIT_FACE_MODEL", "hog"))


@exhibit_asset(
    deps=[original],
    group="faces",
    kinds={"python"},
    description="Faces in a photo or a video (sampled and tracked): boxes, times, quality, 128-d encodings.",
)
def face_detections(
    context: AssetExecutionContext, evidence: EvidenceStoreResource
) -> Iterator[MaterializeResult[None]]:
    found = _exhibit_for(context, evidence, FACES)
    if found is None:
        return
    system, summary = found
    settings = face_settings()
    is_photo = summary.kind in PHOTO[0] or summary.media_type.startswith(PHOTO[1])
    with _on_copy(system, summary, "face_detections") as copy:
        try:
            if is_photo:
                analysis = detect_photo_faces(copy, settings)
            else:
                probe = _stored_probe(system, summary, copy)
                if probe.video is None:
                    context.log.info(f"{summary.exhibit_ref} has no picture: no faces to look for")
                    return
                analysis = detect_video_faces(copy, settings, probe=probe)
        except (NotImageError, NotMediaError, MediaDamagedError) as exc:
            # Not a picture after all, or no container to open: media_probe and photo_metadata say so on the
            # record (and quarantine what cannot be opened); there are no faces to look for.
            context.log.warning(str(exc))
            return
        except (PhotoDamagedError, PhotoTooLargeError, VideoFacesError) as exc:
            # A picture with no pixels to look at is marked damaged and the run goes on, as photo_metadata does;
            # the step whose job is to decode it (review_proxy, display_copy) is the one that fails, once.
            mark_exhibit(system, SERVICE, summary.uid, "damaged", exc.code, exc.message, "face_detections")
            context.log.warning(str(exc))
            return
        result = record_face_detections(
            system, SERVICE, summary.exhibit_id, summary.exhibit_ref, analysis, settings.model
        )
        _record_warnings(system, summary, "face_detections", analysis.warnings, analysis.tool_version)
    yield MaterializeResult(
        metadata={
            "faces": MetadataValue.int(len(analysis.detections)),
            "tracks": MetadataValue.int(analysis.tracks),
            "frames_examined": MetadataValue.int(analysis.frames_examined),
            "model": MetadataValue.text(settings.model),
            "warnings": MetadataValue.int(len(analysis.warnings)),
            "table_sha256": MetadataValue.text(result.sha256),
            "query": MetadataValue.md(
                f"`exhibit query face_detections --case {summary.case_ref} --exhibit {summary.uid}`"
            ),
        }
    )


@asset(
    partitions_def=case_partitions,
    deps=[AssetDep(face_detections, partition_mapping=AllPartitionMapping())],
    retry_policy=retry_policy(),
    group_name="faces",
    kinds={"python"},
    description="Persons of a case: every face appearance of its exhibits clustered (Chinese whispers, 0.5), "
    "users' merges, splits and names kept.",
)
def case_persons(context: AssetExecutionContext, evidence: EvidenceStoreResource) -> MaterializeResult[None]:
    with coded_failures():
        summary = cluster_case(evidence.system(), SERVICE, context.partition_key)
    return MaterializeResult(
        metadata={
            "persons": MetadataValue.int(summary.persons),
            "appearances": MetadataValue.int(summary.appearances),
            "pinned_by_users": MetadataValue.int(summary.pinned),
            "threshold": MetadataValue.float(summary.threshold),
            "table_sha256": MetadataValue.text(summary.result_sha256 or ""),
            "query": MetadataValue.md(f"`exhibit query persons --case {context.partition_key}`"),
        }
    )


cluster_persons_job = define_asset_job(
    name="cluster_persons",
    selection=[case_persons],
    description="Cluster a case's faces into persons (after new face detections, or on demand).",
)


@sensor(
    name="persons_after_faces",
    job=cluster_persons_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="A case whose exhibits have new face detections gets its persons clustered again.",
)
def persons_after_faces(context: SensorEvaluationContext, evidence: EvidenceStoreResource) -> SensorResult:
    last_id = int(context.cursor or 0)
    changed = cases_with_new_faces(evidence.system(), last_id)
    assert case_partitions.name is not None
    new = [case for case, _newest in changed if not context.instance.has_dynamic_partition(case_partitions.name, case)]
    return SensorResult(
        run_requests=[
            RunRequest(run_key=f"persons:{case}:{newest}", job_name=cluster_persons_job.name, partition_key=case)
            for case, newest in changed
        ],
        dynamic_partitions_requests=[case_partitions.build_add_request(new)] if new else None,
        cursor=str(max([last_id, *(newest for _case, newest in changed)])),
    )
