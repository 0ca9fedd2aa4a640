"""Running Exhibit's Dagster side from the command line: `exhibit serve`, `exhibit analyze`, `exhibit worker`.

`analyze` prefers the running deployment: when the Dagster webserver answers (EXHIBIT_DAGSTER_URL, default
http://127.0.0.1:3000) runs are submitted through its GraphQL API, queue behind the daemon's limits and run on
the configured executor. Without a server they run here, in this process, recorded in the same DAGSTER_HOME
so they still show in the UI later.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from evidence_store.errors import BadSettingError
from evidence_store.settings import Settings
from pipelines.dagster_home import ensure_dagster_home
from pipelines.execution import celery_broker

CODE_LOCATION = "pipelines.definitions"
PROCESS_JOB = "process_exhibit"
PARTITIONS = "exhibits"


def dagster_url(env: dict[str, str] | None = None) -> str:
    return (env or dict(os.environ)).get("EXHIBIT_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


def server_answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class LaunchedRun:
    uid: str
    run_id: str
    status: str  # SUCCESS, FAILURE, QUEUED, STARTED...
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "run_id": self.run_id, "status": self.status, "error": self.error}


def _use_home(settings: Settings) -> Path:
    home = ensure_dagster_home(settings)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _add_partitions(uids: Iterable[str]) -> None:
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    missing = [uid for uid in uids if not instance.has_dynamic_partition(PARTITIONS, uid)]
    if missing:
        instance.add_dynamic_partitions(PARTITIONS, missing)


def run_here(settings: Settings, uids: list[str], on_done: Callable[[LaunchedRun], None]) -> list[LaunchedRun]:
    """Runs `process_exhibit` for each exhibit in this process (one after another), recorded in DAGSTER_HOME."""
    from dagster import DagsterInstance

    from pipelines.definitions import defs

    _use_home(settings)
    _add_partitions(uids)
    job = defs.resolve_job_def(PROCESS_JOB)
    launched = []
    with DagsterInstance.get() as instance:
        for uid in uids:
            result = job.execute_in_process(
                partition_key=uid,
                instance=instance,
                raise_on_error=False,
                tags={"exhibit/launched_by": "cli"},
                run_config=_QUIET,
            )
            run = _outcome(uid, result)
            on_done(run)
            launched.append(run)
    return launched


# The run's full event log is in DAGSTER_HOME (and the UI); the terminal gets one line per run.
_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _outcome(uid: str, result: Any) -> LaunchedRun:
    error = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        data = failures[-1].step_failure_data if failures else None
        user = data.user_failure_data if data else None
        error = (user.description if user else None) or (data.error.message if data and data.error else None)
    return LaunchedRun(uid, result.run_id, "SUCCESS" if result.success else "FAILURE", error)


def process_drops(settings: Settings, on_done: Callable[[LaunchedRun], None]) -> list[LaunchedRun]:
    """One look by every drop-folder sensor, here and now, and the runs it asks for executed in this process.

    What the daemon does on its own every few seconds; for `exhibit demo` and scripts that cannot wait for it.
    Files are picked up if marked `.done` (a first look cannot know whether an unmarked file is still growing).
    """
    from dagster import DagsterInstance, SensorResult, build_sensor_context

    from pipelines.definitions import defs

    _use_home(settings)
    launched = []
    with DagsterInstance.get() as instance:
        for watcher in defs.sensors or []:
            if not watcher.name.startswith("intake_"):
                continue
            result = watcher(build_sensor_context(instance=instance))
            assert isinstance(result, SensorResult)
            for added in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(PARTITIONS, list(getattr(added, "partition_keys", [])))
            for request in result.run_requests or []:
                assert request.job_name is not None
                outcome = defs.resolve_job_def(request.job_name).execute_in_process(
                    run_config={**request.run_config, **_QUIET},
                    partition_key=request.partition_key,
                    instance=instance,
                    tags=request.tags,
                    raise_on_error=False,
                )
                run = _outcome(request.partition_key or request.tags.get("exhibit/file", ""), outcome)
                on_done(run)
                launched.append(run)
    return launched


def submit_to_server(
    settings: Settings, url: str, uids: list[str], wait: bool, on_done: Callable[[LaunchedRun], None]
) -> list[LaunchedRun]:
    """Submits one run per exhibit to the running webserver; with `wait`, follows them to the end."""
    from dagster_graphql import DagsterGraphQLClient

    _use_home(settings)
    _add_partitions(uids)  # the server reads the same instance storage
    parsed = urlparse(url)
    client = DagsterGraphQLClient(parsed.hostname or "127.0.0.1", port_number=parsed.port or 3000)
    submitted = [
        (uid, client.submit_job_execution(PROCESS_JOB, tags={"dagster/partition": uid, "exhibit/launched_by": "cli"}))
        for uid in uids
    ]
    launched = []
    for uid, run_id in submitted:
        status = client.get_run_status(run_id).value
        while wait and status not in ("SUCCESS", "FAILURE", "CANCELED"):
            time.sleep(1.0)
            status = client.get_run_status(run_id).value
        run = LaunchedRun(uid, run_id, status)
        on_done(run)
        launched.append(run)
    return launched


# -- serve -------------------------------------------------------------------------------------------------


def _executable(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise BadSettingError(f"{name} is not installed (it comes with Exhibit's Python dependencies: uv sync)")
    return found


@dataclass
class Served:
    processes: dict[str, subprocess.Popen[bytes]]
    urls: dict[str, str]
    dagster_home: Path

    def stop(self, timeout: float = 20.0) -> None:
        # Dagster's processes shut down cleanly on SIGINT (as on Ctrl-C); SIGTERM can leave the daemon's threads.
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def review_command(host: str, port: int) -> list[str]:
    """The review app's server (Streamlit plus its media route), found beside this package: pipelines and
    review_app are siblings that do not import each other."""
    server = Path(__file__).resolve().parents[1] / "review_app" / "server.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(server),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def serve(
    settings: Settings,
    host: str,
    port: int,
    daemon: bool = True,
    log_dir: Path | None = None,
    review_port: int | None = None,
) -> Served:
    """Starts the Dagster webserver (and daemon: sensors, schedules, run queue) and, given `review_port`, the
    review app, on `host`; returns once they answer.

    Raises:
        BadSettingError: a process exited during start-up (its log says why).
    """
    home = ensure_dagster_home(settings)
    url = f"http://{host}:{port}"
    env = {**os.environ, "DAGSTER_HOME": str(home), "EXHIBIT_HOME": str(settings.home), "EXHIBIT_DAGSTER_URL": url}
    log_dir = log_dir or settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    commands = {
        "webserver": [_executable("dagster-webserver"), "-h", host, "-p", str(port), "-m", CODE_LOCATION],
    }
    if daemon:
        commands["daemon"] = [_executable("dagster-daemon"), "run", "-m", CODE_LOCATION]
    urls = {"dagster": url}
    if review_port is not None:
        commands["review"] = review_command(host, review_port)
        urls["review"] = f"http://{host}:{review_port}"
        env["EXHIBIT_REVIEW_URL"] = urls["review"]
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name, command in commands.items():
        with open(log_dir / f"{name}.log", "ab") as log:
            # A child started from a script can inherit SIGINT ignored; it must be able to take Ctrl-C.
            processes[name] = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
    served = Served(processes, urls, home)
    deadline = time.monotonic() + 180
    while not server_answers(url, timeout=1.0) or ("review" in urls and not _review_answers(urls["review"])):
        for name, proc in processes.items():
            if proc.poll() is not None:
                served.stop()
                raise BadSettingError(
                    f"the Dagster {name} exited during start-up (code {proc.returncode}); see {log_dir / name}.log"
                )
        if time.monotonic() > deadline:
            served.stop()
            raise BadSettingError(f"the Dagster webserver did not answer at {url} within 180 s; see {log_dir}")
        time.sleep(0.5)
    return served


def _review_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def worker_command(concurrency: int, name: str | None) -> list[str]:
    """A Celery worker that executes Exhibit's steps (EXHIBIT_EXECUTOR=celery on the launching side)."""
    command = [
        _executable("celery"),
        "-A",
        "dagster_celery.app",
        "worker",
        "-Q",
        "dagster",
        "-b",
        celery_broker(),
        "-c",
        str(concurrency),
        "--prefetch-multiplier=1",
        "--loglevel",
        "INFO",
    ]
    if name:
        command += ["-n", name]
    return command
