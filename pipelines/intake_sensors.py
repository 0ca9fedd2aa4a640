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
from pipelines.assets import exhibit_partitions
from pipelines.jobs import process_exhibit_job
from pipelines.maintenance import intake_quarantine_job
from schemas.errors import InputError

# Dagster 1.13's @sensor passes a beta `owners` argument of its own; nothing here uses it.
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition")


def sensor_name(folder: IntakeFolder) -> str:
    return "intake_" + folder.name.replace("-", "_")


def intake_sensor(folder: IntakeFolder) -> SensorDefinition:
    interval = int(os.environ.get("EXHIBIT_INTAKE_INTERVAL", "15"))

    @sensor(
        name=sensor_name(folder),
        jobs=[process_exhibit_job, intake_quarantine_job],
        minimum_interval_seconds=interval,
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
            tags = {"exhibit/intake": folder.name, "exhibit/file": arrival.name}
            try:
                ticket = read_ticket(folder, arrival.name)
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
