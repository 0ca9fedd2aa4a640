"""The Dagster code location of Exhibit: `dagster dev -m pipelines.definitions`, or `exhibit serve`.

Assets are partitioned by exhibit uid; sensors watch the configured drop folders; schedules run the nightly
fixity sweep, hourly ledger checkpoints and the daily retention sweep. Deployment choices (local or S3 store,
SQLite or PostgreSQL catalog, executor) come from the environment, as for the CLI.
"""

from __future__ import annotations

from dagster import Definitions, JobDefinition

from evidence_store.intake_folders import load_intake_folders
from pipelines.execution import executor
from pipelines.face_assets import cluster_persons_job, persons_after_faces
from pipelines.graph import CASE_ASSETS, EXHIBIT_ASSETS, EXHIBIT_CHECKS
from pipelines.intake_sensors import intake_sensor, new_exhibits
from pipelines.jobs import process_exhibit_job
from pipelines.maintenance import (
    daily_retention,
    fixity_sweep_job,
    hourly_checkpoint,
    intake_quarantine_job,
    ledger_checkpoint_job,
    nightly_fixity,
    retention_sweep_job,
)
from pipelines.resources import EvidenceStoreResource


def build_definitions(evidence: EvidenceStoreResource | None = None) -> Definitions:
    """The code location: deployments take the environment's settings, tests pass their own resource. The drop
    folders are those the resource's settings configure (`intake.toml` under EXHIBIT_HOME)."""
    evidence = evidence or EvidenceStoreResource()
    folders = load_intake_folders(evidence.settings())
    return Definitions(
        assets=[*EXHIBIT_ASSETS, *CASE_ASSETS],
        asset_checks=EXHIBIT_CHECKS,
        jobs=[
            process_exhibit_job,
            cluster_persons_job,
            fixity_sweep_job,
            ledger_checkpoint_job,
            intake_quarantine_job,
            retention_sweep_job,
        ],
        sensors=[*(intake_sensor(folder) for folder in folders), new_exhibits, persons_after_faces],
        schedules=[nightly_fixity, hourly_checkpoint, daily_retention],
        resources={"evidence": evidence},
        executor=executor(),
    )


defs = build_definitions()


def process_exhibit_job_definition() -> JobDefinition:
    """Reconstructable by name, for executors that run steps in other processes or machines (Celery)."""
    return defs.resolve_job_def("process_exhibit")
