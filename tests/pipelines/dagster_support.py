"""Running the real Exhibit assets in tests: resources from test settings, one helper to materialize."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, RunRequest, SensorResult, build_sensor_context, materialize

from evidence_store.settings import Settings
from pipelines.assets import exhibit_partitions
from pipelines.definitions import build_definitions
from pipelines.graph import EXHIBIT_ASSETS, EXHIBIT_CHECKS
from pipelines.resources import EvidenceStoreResource


def evidence_resource(settings: Settings) -> EvidenceStoreResource:
    return EvidenceStoreResource(
        home=str(settings.home),
        store_url=settings.store_url,
        database_url=settings.database_url,
        keys_dir=str(settings.keys_dir),
    )


def materialize_exhibit(
    instance: DagsterInstance,
    settings: Settings,
    uid: str,
    config: Mapping[str, Any] | None = None,
    *,
    raise_on_error: bool = True,
    assets: list[Any] | None = None,
) -> ExecuteInProcessResult:
    """Materializes the exhibit assets (default: all) and their checks for partition `uid`, as the
    process_exhibit job would."""
    assert exhibit_partitions.name is not None
    if not instance.has_dynamic_partition(exhibit_partitions.name, uid):
        instance.add_dynamic_partitions(exhibit_partitions.name, [uid])
    return materialize(
        [*(assets if assets is not None else EXHIBIT_ASSETS), *EXHIBIT_CHECKS],
        partition_key=uid,
        instance=instance,
        resources={"evidence": evidence_resource(settings)},
        run_config={"ops": {"original": {"config": dict(config or {})}}},
        raise_on_error=raise_on_error,
    )


def failure_description(result: ExecuteInProcessResult) -> str:
    """The description of the run's (last) step failure: where the coded error shows."""
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, "the run did not fail"
    data = failures[-1].step_failure_data
    assert data is not None and data.user_failure_data is not None, data
    return data.user_failure_data.description or ""


class Intake:
    """One configured drop folder, its sensor, and the runs it asks for, executed in-process."""

    def __init__(self, settings: Settings, tmp_path: Path, **folder: str) -> None:
        self.settings = settings
        self.folder = tmp_path / "drop"
        lines = ["[[intake]]", 'name = "bwv-dock"', f'folder = "{self.folder}"']
        lines += [f'{k} = "{v}"' for k, v in folder.items()]
        settings.home.mkdir(parents=True, exist_ok=True)
        (settings.home / "intake.toml").write_text("\n".join(lines) + "\n")
        self.defs = build_definitions(evidence_resource(settings))
        self.sensor = self.defs.resolve_sensor_def("intake_bwv_dock")
        self.instance = DagsterInstance.ephemeral()
        self.cursor: str | None = None

    def drop(self, name: str, data: bytes, sidecar: dict[str, Any] | str | None = None, done: bool = True) -> Path:
        path = self.folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        if sidecar is not None:
            text = sidecar if isinstance(sidecar, str) else json.dumps(sidecar)
            (self.folder / f"{name}.exhibit.json").write_text(text)
        path.write_bytes(data)
        if done:
            (self.folder / f"{name}.done").touch()
        return path

    def tick(self) -> list[RunRequest]:
        context = build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = self.sensor(context)
        assert isinstance(result, SensorResult)
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return list(result.run_requests or [])

    def execute(self, request: RunRequest) -> Any:
        assert request.job_name is not None
        job = self.defs.resolve_job_def(request.job_name)
        return job.execute_in_process(
            run_config=request.run_config,
            partition_key=request.partition_key,
            instance=self.instance,
            tags=request.tags,
            raise_on_error=False,
        )
