"""How steps run: retries for transient storage failures, per-step deadlines, and the executor.

Settings (environment, read when the definitions load):

- EXHIBIT_EXECUTOR: multiprocess (default), in_process or celery.
- EXHIBIT_MAX_CONCURRENT: steps at once per run with the multiprocess executor (default: the number of CPUs).
- EXHIBIT_CELERY_BROKER: the Celery broker (default pyamqp://guest:guest@127.0.0.1:5672//, RabbitMQ; Redis works).
- EXHIBIT_CELERY_BACKEND: the Celery result backend (default rpc://).
- EXHIBIT_STEP_RETRIES: retries of a step after a transient failure (default 3).
- EXHIBIT_RETRY_DELAY: seconds before the first retry, doubling after each, with jitter (default 10).
- EXHIBIT_STEP_TIMEOUT: seconds a step may take (default 1800), plus EXHIBIT_STEP_SECONDS_PER_GB (default 120,
  about 8 MB/s: far slower than a healthy store) for each GB of its input.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import Any

from dagster import (
    Backoff,
    ExecutorDefinition,
    Failure,
    Jitter,
    RetryPolicy,
    in_process_executor,
    multiprocess_executor,
)

from schemas.errors import ExhibitError, StorageError


class StepTimeoutError(StorageError):
    """A step ran past its deadline: most often a store or network that has stopped answering."""

    code = "EX-PIPELINE-TIMEOUT"


def _int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def retry_policy() -> RetryPolicy:
    return RetryPolicy(
        max_retries=_int_setting("EXHIBIT_STEP_RETRIES", 3),
        delay=_int_setting("EXHIBIT_RETRY_DELAY", 10),
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    )


def step_timeout(input_bytes: int = 0) -> int:
    per_gb = _int_setting("EXHIBIT_STEP_SECONDS_PER_GB", 120)
    return _int_setting("EXHIBIT_STEP_TIMEOUT", 1800) + (input_bytes * per_gb) // (1 << 30)


@contextlib.contextmanager
def deadline(seconds: int, what: str) -> Iterator[None]:
    """Raises StepTimeoutError in the step if it is still running after `seconds`.

    Dagster has run-level limits (the `dagster/max_runtime` tag) but none per step. Each multiprocess step and
    each Celery task runs in a process's main thread, where a timer signal can interrupt it; elsewhere (a
    step run in a helper thread) the step goes without and the run-level limit still applies. Writes are safe
    to interrupt: a put becomes visible in one atomic step, and catalog transactions roll back.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise StepTimeoutError(f"{what} did not finish within {seconds} s", seconds=seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def failure(error: ExhibitError | Mapping[str, Any], *, transient: bool = False, **metadata: Any) -> Failure:
    """A Dagster failure that shows the coded error; only transient ones are retried.

    An `ExhibitError` is transient when it is a StorageError (the store or catalog did not answer); an error
    already turned into a dict (an ingest outcome) says so with `transient`.
    """
    if isinstance(error, ExhibitError):
        code, message = error.code, error.message
        transient = isinstance(error, StorageError)
    else:
        code, message = str(error.get("code", "EX-ERROR")), str(error.get("message", "failed"))
    return Failure(
        description=f"[{code}] {message}",
        metadata={"code": code, "message": message, **metadata},
        allow_retries=transient,
    )


@contextlib.contextmanager
def coded_failures() -> Iterator[None]:
    """Turns a coded error raised in a step into a Dagster failure that shows its code (and retries if transient)."""
    try:
        yield
    except ExhibitError as exc:
        raise failure(exc) from exc


def executor() -> ExecutorDefinition:
    """The executor the deployment's settings choose (fixed per deployment: a run's config cannot change it)."""
    choice = os.environ.get("EXHIBIT_EXECUTOR", "multiprocess")
    if choice == "in_process":
        return in_process_executor
    if choice == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(
            {"broker": celery_broker(), "backend": os.environ.get("EXHIBIT_CELERY_BACKEND", "rpc://")}
        )
    return multiprocess_executor.configured(
        {"max_concurrent": _int_setting("EXHIBIT_MAX_CONCURRENT", os.cpu_count() or 2)}
    )


def celery_broker() -> str:
    return os.environ.get("EXHIBIT_CELERY_BROKER", "pyamqp://guest:guest@127.0.0.1:5672//")
