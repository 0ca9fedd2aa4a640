"""The ingest job on the Celery executor: two worker processes on the real RabbitMQ broker, Dagster's runs and
events in PostgreSQL, twenty exhibits ingested at once and each stored exactly once.

The executor is chosen when `pipelines.definitions` is imported (EXHIBIT_EXECUTOR), so both the process that
launches the runs and the workers are subprocesses started with the deployment's environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from sqlalchemy import select

from evidence_store.access import SERVICE, Actor
from evidence_store.cases import create_case, new_exhibit_uid
from evidence_store.catalog import Exhibit, StoredObject
from evidence_store.ledger import Ledger
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from pipelines.dagster_home import ensure_dagster_home
from pipelines.execution import celery_broker
from tests.conftest import settings_env, throwaway_database

CELERY = str(Path(sys.executable).parent / "celery")
BROKER = celery_broker()
# dagster-celery sends each step to the queue its op's `dagster-celery/queue` tag names, else "dagster"; the
# Exhibit assets set no such tag and the executor's Celery config cannot be changed per run, so the test uses
# "dagster" and makes sure that no other worker listens on it.
QUEUE = "dagster"
EXHIBITS = 20

LAUNCHERS = 4
# One launcher process runs its share of the runs one after another. Runs go in separate processes, as a
# deployment's run launcher starts them: Dagster's `execute_job` is not thread-safe (each run start calls
# `logging.config.dictConfig`, which deadlocks against another thread's run logging).
LAUNCH = """
import json, sys
from dagster import DagsterInstance, build_reconstructable_job, execute_job

wanted = json.loads(sys.argv[1])
job = build_reconstructable_job("pipelines.definitions", "process_exhibit_job_definition")
summary = []
with DagsterInstance.get() as instance:
    instance.add_dynamic_partitions("exhibits", [w["uid"] for w in wanted])
    for w in wanted:
        config = {"path": w["path"], "case": w["case"], "by": "Jane Smith"}
        result = execute_job(
            job, instance=instance, run_config={"ops": {"original": {"config": config}}},
            tags={"dagster/partition": w["uid"]},
        )
        summary.append({"uid": w["uid"], "run_id": result.run_id, "success": result.success})
print("SUMMARY " + json.dumps(summary))
"""


@pytest.fixture
def dagster_pg_url(pg_admin: object) -> Iterator[str]:
    """A second throwaway PostgreSQL database, for Dagster's run, event and schedule storage."""
    with throwaway_database(pg_admin, "exhibit_dagster") as url:
        yield url


def _claim_queue() -> None:
    """Fails unless RabbitMQ answers and nothing else consumes the queue; drops messages left in it."""
    from kombu import Connection
    from kombu.exceptions import OperationalError

    with Connection(BROKER, connect_timeout=5) as conn:
        try:
            conn.ensure_connection(max_retries=1)
        except OperationalError as exc:
            pytest.fail(f"RabbitMQ is not reachable at {BROKER} ({exc}); start it or set EXHIBIT_CELERY_BROKER")
        consumers = _consumers()
        if consumers:
            pytest.fail(f"{consumers} other Celery worker(s) consume queue {QUEUE!r} on {BROKER}; stop them first")
        if consumers is not None:
            conn.default_channel.queue_purge(QUEUE)


def _consumers() -> int | None:
    """Consumers of the queue, or None when it does not exist yet."""
    from amqp.exceptions import NotFound
    from kombu import Connection

    with Connection(BROKER, connect_timeout=5) as own:
        channel = own.channel()
        try:
            return int(channel.queue_declare(QUEUE, passive=True).consumer_count)
        except NotFound:
            return None


def _start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                CELERY,
                "-A",
                "dagster_celery.app",
                "-b",  # a global option in Celery 5: before the command
                BROKER,
                "worker",
                "-Q",
                QUEUE,
                "-c",
                "1",
                "-n",
                f"{name}@%h",
                "--prefetch-multiplier=1",
                "--without-gossip",  # keep to ourselves: no chatter with other workers on the broker
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool child goes with it
        )


def _wait_ready(workers: dict[str, tuple[subprocess.Popen[bytes], Path]]) -> None:
    deadline = time.monotonic() + 90
    waiting = dict(workers)
    while waiting:
        for name, (proc, log) in list(waiting.items()):
            text = log.read_text(errors="replace")
            if f"{name}@" in text and " ready." in text:
                del waiting[name]
            elif proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Celery worker {name} did not start:\n{text[-3000:]}")
        time.sleep(0.2)
    # "ready" is logged once the worker consumes; the broker agrees that exactly our two do.
    while _consumers() != len(workers):
        if time.monotonic() > deadline:
            pytest.fail(f"queue {QUEUE!r} has {_consumers()} consumers, expected our {len(workers)} workers")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # warm shutdown: finishes the task at hand
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _celery_steps(dagster_home: Path, run_ids: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, set[str]]]:
    """Per run: the worker that executed each step (from dagster-celery's engine events), and the steps that
    succeeded."""
    executed: dict[str, dict[str, str]] = defaultdict(dict)
    succeeded: dict[str, set[str]] = defaultdict(set)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        for run_id in run_ids:
            run = instance.get_run_by_id(run_id)
            assert run is not None and run.status == DagsterRunStatus.SUCCESS, run
            for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
                # "[CeleryExecutor] Executing steps <key> in celery worker", logged by the worker's task.
                worker = entry.get_dagster_event().engine_event_data.metadata.get("Celery worker")
                if worker is not None and "in celery worker" in entry.message:
                    executed[run_id][str(entry.step_key)] = str(worker.value)  # a retried step: its last worker
            for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_SUCCESS):
                succeeded[run_id].add(str(entry.step_key))
    return executed, succeeded


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("settings", ["s3-postgresql"], indirect=True)
def test_twenty_exhibits_through_two_celery_workers(
    system: EvidenceSystem,
    analyst: Actor,
    settings: Settings,
    s3_env: dict[str, str],
    dagster_pg_url: str,
    tmp_path: Path,
) -> None:
    create_case(system, analyst, "OP-CELERY", "Distributed ingest")
    files = tmp_path / "files"
    files.mkdir()
    wanted, digests = [], {}
    for n in range(EXHIBITS):
        path = files / f"item-{n:02}.bin"
        path.write_bytes(os.urandom(2_000 + n * 5_000))
        uid = new_exhibit_uid()
        wanted.append({"uid": uid, "path": str(path), "case": "OP-CELERY"})
        digests[uid] = hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(set(digests.values())) == EXHIBITS

    env = {
        **settings_env(settings),
        **s3_env,
        "EXHIBIT_EXECUTOR": "celery",
        "EXHIBIT_CELERY_BROKER": BROKER,
        "EXHIBIT_DAGSTER_STORAGE_URL": dagster_pg_url,
        "EXHIBIT_RETRY_DELAY": "1",
    }
    dagster_home = ensure_dagster_home(settings, env)
    env["DAGSTER_HOME"] = str(dagster_home)
    with DagsterInstance.from_config(str(dagster_home)):
        pass  # creates Dagster's tables once, as a deployment's webserver or daemon does before runs start

    _claim_queue()
    token = uuid.uuid4().hex[:8]
    names = [f"exhibit-{token}-w1", f"exhibit-{token}-w2"]
    logs = [tmp_path / f"{name}.log" for name in names]
    workers = {name: (_start_worker(name, env, log), log) for name, log in zip(names, logs, strict=True)}
    launch_logs = [tmp_path / f"launch-{n}.log" for n in range(LAUNCHERS)]
    logs += launch_logs
    outputs: list[str] = []
    launchers: list[subprocess.Popen[str]] = []
    try:
        _wait_ready(workers)
        for n, log in enumerate(launch_logs):
            with log.open("w") as err:
                launchers.append(
                    subprocess.Popen(
                        [sys.executable, "-c", LAUNCH, json.dumps(wanted[n::LAUNCHERS])],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=err,
                        text=True,
                    )
                )
        deadline = time.monotonic() + 300
        for launcher in launchers:
            try:
                outputs.append(launcher.communicate(timeout=max(deadline - time.monotonic(), 1))[0])
            except subprocess.TimeoutExpired:
                outputs.append("timed out")
                break
    finally:
        for launcher in launchers:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
        for proc, _ in workers.values():
            _stop(proc)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs)
    summary_lines = [line for out in outputs for line in out.splitlines() if line.startswith("SUMMARY ")]
    assert len(summary_lines) == LAUNCHERS, f"runs not launched or not finished:\n{outputs}\n{tails}"
    summary = [run for line in summary_lines for run in json.loads(line.removeprefix("SUMMARY "))]
    assert sorted(r["uid"] for r in summary) == sorted(digests)
    assert all(r["success"] for r in summary), f"{summary}\n{tails}"

    # Every step of every run was executed by one of our Celery workers, and both took a share.
    executed, succeeded = _celery_steps(dagster_home, [r["run_id"] for r in summary])
    for run in summary:
        steps = executed[run["run_id"]]
        assert "original" in steps and set(steps) == succeeded[run["run_id"]], (run, steps)
    by_worker = Counter(worker.split("@")[0] for steps in executed.values() for worker in steps.values())
    assert set(by_worker) == set(names), by_worker

    # Twenty exhibits, exactly the partitions, each on its own file's bytes; twenty objects; one receipt each.
    with system.catalog.reading() as session:
        exhibits = {e.uid: (e.id, e.reference, e.original_sha256) for e in session.execute(select(Exhibit)).scalars()}
        objects = session.execute(select(StoredObject.sha256)).scalars().all()
        receipts = Counter(e.exhibit_id for e in Ledger.iter(session) if e.action == "RECEIVED")
    assert {uid: sha for uid, (_, _, sha) in exhibits.items()} == digests
    assert sorted(ref for _, ref, _ in exhibits.values()) == sorted(f"JS/{n}" for n in range(1, EXHIBITS + 1))
    assert sorted(objects) == sorted(digests.values())
    assert sorted(system.store.iter_digests()) == sorted(digests.values())
    assert receipts == {exhibit_id: 1 for exhibit_id, _, _ in exhibits.values()}
    report = verify(system, SERVICE, objects=True)
    assert report.ok and report.unrecorded_objects == [], report
