"""Launching and watching Dagster runs from the review app, through the Dagster webserver's GraphQL API only.

The review app never imports dagster (an import-linter contract), so this module speaks GraphQL over plain HTTP
to the webserver that `exhibit serve` starts (EXHIBIT_DAGSTER_URL). It does not use
`dagster_graphql.DagsterGraphQLClient`: that client imports all of dagster (seconds of start-up and a large
footprint in every Streamlit process) and can neither add dynamic partitions nor list runs, which is most of
what the runs page needs.

Runs are queued: the deployment's run coordinator is Dagster's QueuedRunCoordinator (pipelines/dagster_home.py),
so a launched run stays QUEUED until the daemon (started by `exhibit serve` unless `--no-daemon`) dequeues it.

Errors: a webserver that does not answer raises `DagsterUnavailableError` (EX-DAGSTER-UNAVAILABLE); one that
answers but refuses (no such job, code location failed to load, an error in the server) raises
`DagsterRejectedError` (EX-DAGSTER-REJECTED); an unknown run id raises `NotFoundError` (EX-NOT-FOUND).
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evidence_store.cases import check_exhibit_uid
from evidence_store.errors import DagsterRejectedError, DagsterUnavailableError, NotFoundError

# The names pipelines/orchestration.py defines (PROCESS_JOB, PARTITIONS); the layers contract keeps the review
# app from importing pipelines, so they are repeated here.
PROCESS_JOB = "process_exhibit"
PARTITIONS = "exhibits"
PARTITION_TAG = "dagster/partition"
LAUNCHED_BY_TAG = "exhibit/launched_by"
SENSOR_TAG = "dagster/sensor_name"

FINISHED_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})

# Aliased fields per GraphQL request when one request asks the same thing for many exhibits.
_BATCH = 100


@dataclass(frozen=True, slots=True)
class LaunchedRun:
    """A run submitted for one exhibit."""

    uid: str
    run_id: str
    status: str  # as Dagster reports it right after launch: QUEUED, or later states if the daemon was quick


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run as the runs page lists it."""

    run_id: str
    job: str
    uid: str | None  # the exhibit partition; None for runs that are not per exhibit (sweeps, case jobs)
    status: str  # QUEUED, NOT_STARTED, STARTING, STARTED, SUCCESS, FAILURE, CANCELING, CANCELED, MANAGED
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    launched_by: str | None  # the exhibit/launched_by tag: a user name, "cli", or None (sensors, schedules)
    sensor: str | None = None  # the sensor that asked for the run (new_exhibits, intake_<folder>, ...), if any

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


@dataclass(frozen=True, slots=True)
class StepFailure:
    """Why a step (or, with `step_key` None, the run as a whole) failed."""

    step_key: str | None
    message: str
    code: str | None = None  # the EX-... code of a coded Exhibit error, when the failure carries one


_BRACKETED = re.compile(r"\[(EX-[A-Z0-9]+(?:-[A-Z0-9]+)*)\]\s*(.*)", re.DOTALL)
_COLON = re.compile(r"\b(EX-[A-Z0-9]+(?:-[A-Z0-9]+)*):\s*(.*)", re.DOTALL)


def parse_coded(text: str) -> tuple[str | None, str]:
    """Splits "[EX-CODE] message" or "EX-CODE: message" (anywhere in `text`) into code and message.

    Steps report coded errors as "[EX-CODE] message" (pipelines.execution.failure); a coded error that escaped
    a step arrives as Python's "module.ClassName: [EX-CODE] message", so the code is searched for, not matched
    at the start. Text without a code comes back whole, with code None.
    """
    found = _BRACKETED.search(text) or _COLON.search(text)
    if found is None:
        return None, text.strip()
    return found.group(1), found.group(2).strip()


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


_RUN_FIELDS = """
fragment ExhibitRunFields on Run {
  runId
  jobName
  status
  creationTime
  startTime
  endTime
  tags { key value }
}
"""


def _summary(run: dict[str, Any]) -> RunSummary:
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    created = _when(run["creationTime"])
    assert created is not None  # non-null in the schema
    return RunSummary(
        run_id=run["runId"],
        job=run["jobName"],
        uid=tags.get(PARTITION_TAG),
        status=run["status"],
        created_at=created,
        started_at=_when(run["startTime"]),
        ended_at=_when(run["endTime"]),
        launched_by=tags.get(LAUNCHED_BY_TAG),
        sensor=tags.get(SENSOR_TAG),
    )


class RunsClient:
    """A client of one Dagster webserver (its base URL, e.g. http://127.0.0.1:3000)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._repository: dict[str, str] | None = None

    # -- public API ----------------------------------------------------------------------------------------

    def answers(self) -> bool:
        """True when the webserver answers at all (its code location may still have failed to load)."""
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=min(self.timeout, 2.0)) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError):
            return False

    def dagster_run_url(self, run_id: str) -> str:
        """The run's page in the Dagster UI."""
        return f"{self.url}/runs/{urllib.parse.quote(run_id, safe='')}"

    def launch(self, uids: list[str], launched_by: str) -> list[LaunchedRun]:
        """Submits `process_exhibit` once per exhibit uid (repeats ignored), tagged with who launched it.

        Adds any exhibit partition Dagster does not know yet first. The runs queue behind the daemon's limits.

        Args:
            uids: exhibit uids (ex-<20 hex digits>), one run each.
            launched_by: the user name recorded in the run's `exhibit/launched_by` tag.

        Returns:
            One LaunchedRun per distinct uid, in the order given.

        Raises:
            BadReferenceError: a uid is not an exhibit uid (nothing is launched).
            DagsterUnavailableError: the webserver does not answer.
            DagsterRejectedError: the webserver refused a partition or a run; its details name the runs that
                were launched (`launched`) and why the others were not (`refused`).
        """
        wanted = [check_exhibit_uid(uid) for uid in dict.fromkeys(uids)]
        if not wanted:
            return []
        repository = self._repository_selector()
        self._add_partitions(repository, wanted)
        launched: list[LaunchedRun] = []
        refused: dict[str, str] = {}
        for batch in _batches(wanted):
            for uid, result in zip(batch, self._launch_batch(repository, batch, launched_by), strict=True):
                if result["__typename"] == "LaunchRunSuccess":
                    run = result["run"]
                    launched.append(LaunchedRun(uid, run["runId"], run["status"]))
                else:
                    refused[uid] = _error_text(result)
        if refused:
            first_uid, first_reason = next(iter(refused.items()))
            raise DagsterRejectedError(
                f"Dagster refused {len(refused)} of {len(wanted)} runs ({first_uid}: {first_reason})",
                launched={run.uid: run.run_id for run in launched},
                refused=refused,
            )
        return launched

    def run(self, run_id: str) -> RunSummary:
        """One run, as it is now.

        Raises:
            NotFoundError: Dagster has no run with this id.
            DagsterUnavailableError, DagsterRejectedError: as for `launch`.
        """
        query = (
            "query ExhibitRun($runId: ID!) { runOrError(runId: $runId) {"
            " __typename ... on Run { ...ExhibitRunFields } ... on Error { message } } }" + _RUN_FIELDS
        )
        result = self._query(query, {"runId": run_id})["runOrError"]
        return _summary(_expect(result, "Run", f"run {run_id}"))

    def newest_per_exhibit(self, uids: list[str]) -> dict[str, RunSummary]:
        """The newest run of each exhibit that has one (a page of the case list asks this for its rows)."""
        return {uid: runs[0] for uid, runs in self._runs_of(uids, 1).items() if runs}

    def recent_runs(self, limit: int = 50, uids: list[str] | None = None) -> list[RunSummary]:
        """The newest runs first, at most `limit`; with `uids`, only runs of those exhibit partitions.

        Raises:
            DagsterUnavailableError, DagsterRejectedError: as for `launch`.
        """
        if uids is None:
            query = (
                "query ExhibitRecentRuns($limit: Int) { runsOrError(limit: $limit) {"
                " __typename ... on Runs { results { ...ExhibitRunFields } } ... on Error { message } } }" + _RUN_FIELDS
            )
            result = self._query(query, {"limit": limit})["runsOrError"]
            return [_summary(run) for run in _expect(result, "Runs", "recent runs")["results"]]
        found = {run.run_id: run for runs in self._runs_of(uids, limit).values() for run in runs}
        newest_first = sorted(found.values(), key=lambda run: run.created_at, reverse=True)
        return newest_first[:limit]

    def _runs_of(self, uids: list[str], limit: int) -> dict[str, list[RunSummary]]:
        """Up to `limit` newest runs of each exhibit partition."""
        # Dagster's runs filter ANDs its tags (and keeps one value per key), so each exhibit is its own
        # filter: one aliased field per exhibit, many in one request.
        found: dict[str, list[RunSummary]] = {}
        for batch in _batches(list(dict.fromkeys(uids))):
            fields = " ".join(
                f"r{i}: runsOrError(filter: {{tags: [{{key: $tag, value: $u{i}}}]}}, limit: $limit) {{"
                " __typename ... on Runs { results { ...ExhibitRunFields } } ... on Error { message } }"
                for i in range(len(batch))
            )
            params = " ".join(f"$u{i}: String!" for i in range(len(batch)))
            query = f"query ExhibitRunsOfExhibits($tag: String!, $limit: Int, {params}) {{ {fields} }}" + _RUN_FIELDS
            variables: dict[str, Any] = {"tag": PARTITION_TAG, "limit": limit}
            variables.update({f"u{i}": uid for i, uid in enumerate(batch)})
            data = self._query(query, variables)
            for i, uid in enumerate(batch):
                found[uid] = [_summary(run) for run in _expect(data[f"r{i}"], "Runs", f"runs of {uid}")["results"]]
        return found

    def run_failures(self, run_id: str) -> list[StepFailure]:
        """Each failed step of a run with its error (code and message when the error is a coded one).

        A run that failed without any step failing (it could not start, run monitoring timed it out, it was
        killed) gives one StepFailure with `step_key` None. A run that has not failed gives [].

        Raises:
            NotFoundError: Dagster has no run with this id.
            DagsterUnavailableError, DagsterRejectedError: as for `launch`.
        """
        query = """
        query ExhibitRunFailures($runId: ID!, $cursor: String) {
          logsForRun(runId: $runId, afterCursor: $cursor, limit: 1000) {
            __typename
            ... on EventConnection {
              cursor
              hasMore
              events {
                __typename
                ... on ExecutionStepFailureEvent {
                  stepKey
                  message
                  error { message }
                  failureMetadata {
                    description
                    metadataEntries { label ... on TextMetadataEntry { text } }
                  }
                }
                ... on RunFailureEvent { message error { message } }
              }
            }
            ... on Error { message }
          }
        }
        """
        steps: list[StepFailure] = []
        run_level: list[StepFailure] = []
        cursor: str | None = None
        while True:
            result = self._query(query, {"runId": run_id, "cursor": cursor})["logsForRun"]
            events = _expect(result, "EventConnection", f"events of run {run_id}")
            for event in events["events"]:
                if event["__typename"] == "ExecutionStepFailureEvent":
                    steps.append(_step_failure(event["stepKey"], event))
                elif event["__typename"] == "RunFailureEvent":
                    run_level.append(_step_failure(None, event))
            if not events["hasMore"]:
                break
            cursor = events["cursor"]
        # A run whose steps failed also logs "Execution of run ... failed. Steps failed: [...]": nothing new.
        return steps or run_level

    def terminate(self, run_id: str) -> bool:
        """Asks Dagster to stop a queued or running run (it becomes CANCELING, then CANCELED).

        Returns:
            True when Dagster took the request; False when it cannot stop this run (it has already finished).

        Raises:
            NotFoundError: Dagster has no run with this id.
            DagsterUnavailableError, DagsterRejectedError: as for `launch`.
        """
        query = """
        mutation ExhibitTerminate($runId: String!) {
          terminateRun(runId: $runId) { __typename ... on Error { message } ... on TerminateRunFailure { message } }
        }
        """
        result = self._query(query, {"runId": run_id})["terminateRun"]
        if result["__typename"] == "TerminateRunFailure":
            return False
        _expect(result, "TerminateRunSuccess", f"run {run_id}")
        return True

    # -- GraphQL -------------------------------------------------------------------------------------------

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POSTs one GraphQL document; returns its `data`."""
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            request = urllib.request.Request(f"{self.url}/graphql", data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            # A GraphQL server answers a query it cannot run with 400 and a JSON body that says why.
            payload = _json_body(exc)
            if not payload.get("errors"):
                raise DagsterRejectedError(
                    f"the Dagster webserver at {self.url} answered HTTP {exc.code} {exc.reason}", url=self.url
                ) from exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DagsterUnavailableError(
                f"the Dagster webserver at {self.url} does not answer ({reason}); is `exhibit serve` running, "
                "and is EXHIBIT_DAGSTER_URL right?",
                url=self.url,
            ) from exc
        except ValueError as exc:  # a malformed URL, or a body that is not JSON: not a Dagster webserver
            raise DagsterUnavailableError(
                f"no Dagster webserver at {self.url} ({exc}); check EXHIBIT_DAGSTER_URL", url=self.url
            ) from exc
        if not isinstance(payload, dict) or payload.get("errors") or not isinstance(payload.get("data"), dict):
            errors = payload.get("errors") if isinstance(payload, dict) else None
            messages = "; ".join(str(e.get("message", e)) for e in errors or []) or "no data in its answer"
            raise DagsterRejectedError(f"the Dagster webserver at {self.url} refused a query: {messages}")
        data: dict[str, Any] = payload["data"]
        return data

    def _repository_selector(self) -> dict[str, str]:
        """The repository (code location + repository name) that holds `process_exhibit`; looked up once."""
        if self._repository is not None:
            return self._repository
        query = """
        query ExhibitRepositories {
          repositoriesOrError {
            __typename
            ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
            ... on Error { message }
          }
        }
        """
        result = _expect(self._query(query, {})["repositoriesOrError"], "RepositoryConnection", "repositories")
        for node in result["nodes"]:
            if any(job["name"] == PROCESS_JOB for job in node["jobs"]):
                self._repository = {"repositoryLocationName": node["location"]["name"], "repositoryName": node["name"]}
                return self._repository
        raise DagsterRejectedError(
            f"no code location of the Dagster deployment at {self.url} has the job {PROCESS_JOB}"
            + self._location_errors(),
            url=self.url,
        )

    def _location_errors(self) -> str:
        """Why code locations failed to load, for the message of a missing job (empty when none failed)."""
        query = """
        query ExhibitLocationErrors {
          workspaceOrError {
            __typename
            ... on Workspace {
              locationEntries { name locationOrLoadError { __typename ... on PythonError { message } } }
            }
          }
        }
        """
        result = self._query(query, {})["workspaceOrError"]
        failed = [
            f"{entry['name']}: {entry['locationOrLoadError']['message'].strip()}"
            for entry in result.get("locationEntries", [])
            if (entry.get("locationOrLoadError") or {}).get("__typename") == "PythonError"
        ]
        return f" (failed to load: {'; '.join(failed)})" if failed else ""

    def _add_partitions(self, repository: dict[str, str], uids: list[str]) -> None:
        # Adding one Dagster already has answers DuplicateDynamicPartitionError: "already there" is the
        # check, made atomically by the server, so two analysts launching the same exhibit cannot race.
        for batch in _batches(uids):
            fields = " ".join(
                f"p{i}: addDynamicPartition(repositorySelector: $repository, partitionsDefName: $partitions,"
                f" partitionKey: $u{i}) {{ __typename ... on Error {{ message }} }}"
                for i in range(len(batch))
            )
            params = " ".join(f"$u{i}: String!" for i in range(len(batch)))
            query = (
                f"mutation ExhibitAddPartitions($repository: RepositorySelector!, $partitions: String!, {params})"
                f" {{ {fields} }}"
            )
            variables: dict[str, Any] = {"repository": repository, "partitions": PARTITIONS}
            variables.update({f"u{i}": uid for i, uid in enumerate(batch)})
            data = self._query(query, variables)
            for i, uid in enumerate(batch):
                result = data[f"p{i}"]
                if result["__typename"] not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
                    raise DagsterRejectedError(
                        f"Dagster refused the partition of exhibit {uid}: {_error_text(result)}", uid=uid
                    )

    def _launch_batch(self, repository: dict[str, str], uids: list[str], launched_by: str) -> list[dict[str, Any]]:
        fields = " ".join(
            f"l{i}: launchRun(executionParams: {{selector: $selector,"
            f" executionMetadata: {{tags: [{{key: $partitionTag, value: $u{i}}}, {{key: $byTag, value: $by}}]}}}})"
            " { __typename ... on LaunchRunSuccess { run { runId status } } ... on Error { message }"
            " ... on RunConfigValidationInvalid { errors { message } } }"
            for i in range(len(uids))
        )
        params = " ".join(f"$u{i}: String!" for i in range(len(uids)))
        query = (
            "mutation ExhibitLaunch($selector: JobOrPipelineSelector!, $partitionTag: String!, $byTag: String!,"
            f" $by: String!, {params}) {{ {fields} }}"
        )
        variables: dict[str, Any] = {
            "selector": {**repository, "jobName": PROCESS_JOB},
            "partitionTag": PARTITION_TAG,
            "byTag": LAUNCHED_BY_TAG,
            "by": launched_by,
        }
        variables.update({f"u{i}": uid for i, uid in enumerate(uids)})
        data = self._query(query, variables)
        return [data[f"l{i}"] for i in range(len(uids))]


def _batches(items: list[str]) -> list[list[str]]:
    return [items[i : i + _BATCH] for i in range(0, len(items), _BATCH)]


def _json_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        return {}
    return body if isinstance(body, dict) else {}


def _error_text(result: dict[str, Any]) -> str:
    """The message of a GraphQL error member of a union (its type name when it has none)."""
    messages = [str(result["message"])] if result.get("message") else []
    messages += [str(e.get("message")) for e in result.get("errors") or []]
    return "; ".join(messages) or str(result.get("__typename", "an unknown error"))


def _expect(result: dict[str, Any], typename: str, what: str) -> dict[str, Any]:
    """`result` when it is the union member wanted; the coded error its error member stands for otherwise."""
    if result["__typename"] == typename:
        return result
    if result["__typename"] == "RunNotFoundError":
        raise NotFoundError(f"{what}: Dagster has no such run", what=what)
    raise DagsterRejectedError(f"Dagster could not give the {what}: {_error_text(result)}")


def _step_failure(step_key: str | None, event: dict[str, Any]) -> StepFailure:
    # Prefer what pipelines.execution.failure puts in the failure's metadata (code, message), then its
    # description "[EX-CODE] message", then the Python error (an exception no step turned into a Failure).
    failure = event.get("failureMetadata") or {}
    entries = {entry["label"]: entry.get("text") for entry in failure.get("metadataEntries", [])}
    if entries.get("code") and entries.get("message"):
        return StepFailure(step_key, str(entries["message"]), str(entries["code"]))
    error = event.get("error") or {}
    text = failure.get("description") or error.get("message") or event.get("message") or "failed"
    code, message = parse_coded(str(text))
    return StepFailure(step_key, message, code)
