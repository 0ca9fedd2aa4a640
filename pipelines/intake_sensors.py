"""A sensor per configured drop folder: a ready file becomes an exhibit partition and a run.

The rules (when a file is ready, what its sidecar may say, where refused files go) live in
`evidence_store.intake_folders`; this module only turns them into Dagster partitions and run requests.
"""

import os
import warnings

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from evidence_store.cases import new_exhibit_uid
from evidence_store.intake_folders import IntakeFolder, WatchState, read_ticket, ready_files
from evidence_store.processing import exhibits_after
from pipelines.assets import exhibit_partitions
from pipelines.jobs import process_exhibit_job
from pipelines.maintenance import intake_quarantine_job
from pipelines.resources import EvidenceStoreResource
from schemas.errors import InputError

# Dagster 1.13's @sensor passes a beta `owners` argument of its own; nothing here uses it.
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition")


# Seconds between looks at the drop folders and the catalog (the daemon's sensor interval).
LOOK_EVERY = int(os.environ.get("EXHIBIT_INTAKE_INTERVAL", "15"))


def sensor_name(folder: IntakeFolder) -> str:
    return "intake_" + folder.name.replace("-", "_")


def intake_sensor(folder: IntakeFolder) -> SensorDefinition:

    @sensor(
        name=sensor_name(folder),
        jobs=[process_exhibit_job, intake_quarantine_job],
        minimum_interval_seconds=LOOK_EVERY,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Drop folder {folder.folder}: files (with an optional NAME.exhibit.json sidecar) become "
        f"exhibits{' of ' + folder.case if folder.case else ''}; then {folder.after} them.",
    )
    def watch(context: SensorEvaluationContext) -> SensorResult:
        ready, state = ready_files(folder, WatchState.from_json(context.cursor))
        requests: list[RunRequest] = []
        new_partitions: list[str] = []
        for arrival in ready:
            # The run key makes a second request for the same file version a no-op, even with a lost cursor.
            run_key = f"{folder.name}:{arrival.name}:{arrival.size}:{arrival.mtime_ns}"
            if arrival.segments:
                run_key += ":" + ":".join(arrival.segments)
            tags = {"exhibit/intake": folder.name, "exhibit/file": arrival.name}
            try:
                ticket = read_ticket(folder, arrival.name, arrival.segments)
            except InputError as exc:
                context.log.warning(f"{arrival.name}: [{exc.code}] {exc.message}")
                requests.append(
                    RunRequest(
                        run_key=run_key,
                        job_name=intake_quarantine_job.name,
                        run_config={
                            "ops": {
                                "quarantine_drop": {
                                    "config": {
                                        "intake": folder.name,
                                        "name": arrival.name,
                                        "code": exc.code,
                                        "message": exc.message,
                                    }
                                }
                            }
                        },
                        tags={**tags, "exhibit/error": exc.code},
                    )
                )
                continue
            uid = new_exhibit_uid()
            new_partitions.append(uid)
            requests.append(
                RunRequest(
                    run_key=run_key,
                    job_name=process_exhibit_job.name,
                    partition_key=uid,
                    run_config={"ops": {"original": {"config": ticket.to_config()}}},
                    tags={**tags, "exhibit/case": ticket.case},
                )
            )
        return SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[exhibit_partitions.build_add_request(new_partitions)]
            if new_partitions
            else None,
            cursor=state.to_json(),
        )

    return watch


@sensor(
    name="new_exhibits",
    job=process_exhibit_job,
    minimum_interval_seconds=LOOK_EVERY,
    default_status=DefaultSensorStatus.RUNNING,
    description="Exhibits that entered the catalog another way (exhibit ingest, the review app, extraction from a "
    "device image) get their partition and a process_exhibit run.",
)
def new_exhibits(context: SensorEvaluationContext, evidence: EvidenceStoreResource) -> SensorResult:
    last_id = int(context.cursor or 0)
    found = exhibits_after(evidence.system(), last_id)
    assert exhibit_partitions.name is not None
    # A drop-folder intake made its partition (and run) before the exhibit existed: nothing more to do for it.
    fresh = [(i, uid) for i, uid in found if not context.instance.has_dynamic_partition(exhibit_partitions.name, uid)]
    return SensorResult(
        run_requests=[
            RunRequest(run_key=f"exhibit:{uid}", job_name=process_exhibit_job.name, partition_key=uid)
            for _i, uid in fresh
        ],
        dynamic_partitions_requests=[exhibit_partitions.build_add_request([uid for _i, uid in fresh])]
        if fresh
        else None,
        cursor=str(found[-1][0] if found else last_id),
    )
