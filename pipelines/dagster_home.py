"""The project's DAGSTER_HOME, under EXHIBIT_HOME, with an instance configuration made from the settings.

- EXHIBIT_DAGSTER_STORAGE_URL: `postgresql://...` (any spelling; used through psycopg2) puts Dagster's run,
  event and schedule storage in PostgreSQL (dagster-postgres), which every machine of a multi-machine
  deployment shares; unset, SQLite files in DAGSTER_HOME (one machine).
- EXHIBIT_MAX_CONCURRENT_RUNS: runs the daemon starts at once (default 4); more wait in the queue.
- EXHIBIT_RUN_TIMEOUT: seconds after which run monitoring fails a run still going (default 86400).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from evidence_store.settings import Settings


def dagster_home(settings: Settings) -> Path:
    return settings.home / "dagster"


def instance_yaml(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    lines = [
        "# Written by Exhibit from its settings (pipelines/dagster_home.py); edits are overwritten.",
        "telemetry:",
        "  enabled: false",
        "run_coordinator:",
        "  module: dagster.core.run_coordinator",
        "  class: QueuedRunCoordinator",
        "  config:",
        f"    max_concurrent_runs: {int(env.get('EXHIBIT_MAX_CONCURRENT_RUNS', '4'))}",
        "run_monitoring:",
        "  enabled: true",
        "  start_timeout_seconds: 300",
        f"  max_runtime_seconds: {int(env.get('EXHIBIT_RUN_TIMEOUT', '86400'))}",
        "run_retries:",
        "  enabled: true",
        "  max_retries: 0",
    ]
    storage_url = env.get("EXHIBIT_DAGSTER_STORAGE_URL")
    if storage_url:
        # dagster-postgres runs on psycopg2 (its own dependency). SQLAlchemy 2.1 maps a bare postgresql:// to
        # psycopg 3, where dagster-postgres's NOTIFY on every event write and its retry of concurrent table
        # creation break; so the driver is named, whichever spelling the setting uses.
        for spelling in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
            if storage_url.startswith(spelling):
                storage_url = "postgresql+psycopg2://" + storage_url.removeprefix(spelling)
                break
        lines += ["storage:", "  postgres:", f"    postgres_url: {storage_url}"]
    return "\n".join(lines) + "\n"


def ensure_dagster_home(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """Creates DAGSTER_HOME with a current dagster.yaml; returns its path."""
    home = dagster_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = instance_yaml(env)
    if not config.exists() or config.read_text() != wanted:
        config.write_text(wanted)
    return home
