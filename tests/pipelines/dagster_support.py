"""Running the real Exhibit assets in tests: resources from test settings, one helper to materialize."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, materialize

from evidence_store.settings import Settings
from pipelines.assets import EXHIBIT_ASSETS, EXHIBIT_CHECKS, exhibit_partitions
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
) -> ExecuteInProcessResult:
    """Materializes every exhibit asset and check for partition `uid`, as the process_exhibit job would."""
    assert exhibit_partitions.name is not None
    if not instance.has_dynamic_partition(exhibit_partitions.name, uid):
        instance.add_dynamic_partitions(exhibit_partitions.name, [uid])
    return materialize(
        [*EXHIBIT_ASSETS, *EXHIBIT_CHECKS],
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
