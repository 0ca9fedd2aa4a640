"""RunsClient against a real Dagster webserver and daemon as `exhibit serve` starts them, and against canned
GraphQL answers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from evidence_store.access import Actor
from evidence_store.cases import create_case, new_exhibit_uid
from evidence_store.errors import BadReferenceError, DagsterRejectedError, DagsterUnavailableError, NotFoundError
from evidence_store.intake import IngestRequest, ingest
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from pipelines.orchestration import serve
from review_app.runs import RunsClient, RunSummary, StepFailure, parse_coded
from tests.conftest import settings_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """What `exhibit serve` starts for Dagster (webserver and daemon: the run queue needs the daemon) on a free
    port; its URL.

    Steps run in the run's own process (EXHIBIT_EXECUTOR=in_process): a process per step, each importing the
    pipelines, would spend most of a test's minutes starting up; test_serve covers the default executor.
    Runs still going at the end are stopped first: their worker outlives the webserver and daemon.
    """
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)  # the served processes find the store through the environment
    monkeypatch.setenv("EXHIBIT_EXECUTOR", "in_process")
    port = _free_port()
    running = serve(settings, "127.0.0.1", port, daemon=True)
    url = running.urls["dagster"]
    try:
        yield url
    finally:
        try:
            client = RunsClient(url)
            going = [run.run_id for run in client.recent_runs() if not run.finished]
            for run_id in going:
                client.terminate(run_id)
            deadline = time.monotonic() + 60
            while going and time.monotonic() < deadline:
                going = [run_id for run_id in going if not client.run(run_id).finished]
                time.sleep(1)
        finally:
            running.stop()


def _until_finished(client: RunsClient, run_id: str, timeout: float = 150) -> RunSummary:
    deadline = time.monotonic() + timeout
    while not (run := client.run(run_id)).finished:
        assert time.monotonic() < deadline, f"run {run_id} still {run.status} after {timeout} s"
        time.sleep(1)
    return run


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_launch_watch_and_explain_runs_through_graphql(
    system: EvidenceSystem, settings: Settings, analyst: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_case(system, analyst, "OP-RUNS", "Runs from the app")
    note = tmp_path / "note.txt"
    note.write_text("statement\n")
    [outcome] = ingest(system, analyst, [note], IngestRequest(case_ref="OP-RUNS", by="Jane Smith"))
    uid, nothing = outcome.exhibit_uid, new_exhibit_uid()  # `nothing`: a partition that names no exhibit
    assert uid is not None

    serving = time.monotonic()
    with served(settings, monkeypatch) as url:
        print(f"exhibit serve answered after {time.monotonic() - serving:.1f} s")
        client = RunsClient(url)
        assert client.answers()
        started = time.monotonic()
        good, bad = client.launch([uid, nothing, uid], launched_by="test.analyst")
        assert (good.uid, bad.uid) == (uid, nothing) and good.run_id != bad.run_id
        assert good.status in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")

        assert _until_finished(client, good.run_id).status == "SUCCESS"
        assert _until_finished(client, bad.run_id).status == "FAILURE"
        print(f"two runs, launch to finished: {time.monotonic() - started:.1f} s")

        # The daemon's new_exhibits sensor runs an exhibit that entered the catalog without a partition too.
        ours = [r for r in client.recent_runs(uids=[uid]) if r.launched_by is not None]
        assert all(r.sensor == "new_exhibits" for r in client.recent_runs(uids=[uid]) if r.launched_by is None)
        [seen] = ours
        assert (seen.run_id, seen.job, seen.uid, seen.status, seen.launched_by) == (
            good.run_id,
            "process_exhibit",
            uid,
            "SUCCESS",
            "test.analyst",
        )
        assert seen.started_at is not None and seen.ended_at is not None
        assert seen.created_at <= seen.started_at <= seen.ended_at
        assert seen.sensor is None
        both = client.recent_runs(uids=[nothing, uid])
        assert [r.run_id for r in both] == [r.run_id for r in sorted(both, key=lambda r: r.created_at, reverse=True)]
        assert {r.run_id for r in both if r.launched_by} == {good.run_id, bad.run_id}
        assert {r.uid for r in both} == {uid, nothing}
        assert {good.run_id, bad.run_id} <= {r.run_id for r in client.recent_runs()}
        assert len(client.recent_runs(limit=1)) == 1
        assert client.recent_runs(uids=[new_exhibit_uid()]) == []

        assert client.run_failures(good.run_id) == []
        [failure] = client.run_failures(bad.run_id)
        assert (failure.step_key, failure.code) == ("original", "EX-PIPELINE-NO-SOURCE")
        assert failure.message.startswith(f"partition {nothing} names no exhibit")

        assert client.dagster_run_url(good.run_id) == f"{url}/runs/{good.run_id}"
        with pytest.raises(NotFoundError):
            client.run_failures("00000000-0000-0000-0000-000000000000")
        with pytest.raises(NotFoundError):
            client.run("00000000-0000-0000-0000-000000000000")

        # The partition is there now: launching the exhibit again only adds a run; stopped, it is CANCELED.
        [again] = client.launch([uid], launched_by="test.analyst")
        assert client.terminate(again.run_id) is True
        assert _until_finished(client, again.run_id).status == "CANCELED"
        assert [r.run_id for r in client.recent_runs(uids=[uid]) if r.launched_by] == [again.run_id, good.run_id]
        assert client.terminate(good.run_id) is False  # finished: nothing to stop

        # The Runs page over the same server: the case's runs with their exhibit, and a launch from the page.
        page = _runs_page(system, analyst, "OP-RUNS", url, monkeypatch)
        shown = page.dataframe[0].value
        assert set(shown["exhibit"]) == {outcome.exhibit_ref} and "SUCCESS" in set(shown["status"])
        page.radio(key="runs.scope").set_value("one exhibit")
        page.text_input(key="runs.exhibit").input(str(outcome.exhibit_ref))
        next(b for b in page.button if b.label == "Launch").click().run()
        assert not page.exception, page.exception
        assert "1 run(s) submitted" in [s.value for s in page.success]
        assert len(page.dataframe[0].value) == len(shown) + 1
        print(f"served for {time.monotonic() - started:.1f} s")


def _runs_page(system: EvidenceSystem, analyst: Actor, case_ref: str, url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from streamlit.testing.v1 import AppTest

    from review_app.services import Services

    monkeypatch.setenv("EXHIBIT_DAGSTER_URL", url)
    page = AppTest.from_file(
        str(Path(__file__).resolve().parents[2] / "review_app" / "streamlit_app.py"), default_timeout=60
    )
    page.session_state["services"] = Services(system)
    page.session_state["actor"] = analyst
    page.session_state["last_seen"] = time.time()
    page.session_state["case"] = case_ref
    page.switch_page("app_pages/runs.py").run()
    assert not page.exception, page.exception
    return page


def test_nothing_listening_is_a_coded_error() -> None:
    client = RunsClient(f"http://127.0.0.1:{_free_port()}", timeout=5)
    assert not client.answers()
    with pytest.raises(DagsterUnavailableError) as raised:
        client.launch([new_exhibit_uid()], launched_by="test.analyst")
    assert raised.value.code == "EX-DAGSTER-UNAVAILABLE" and client.url in str(raised.value)
    with pytest.raises(DagsterUnavailableError):
        client.recent_runs()
    assert not RunsClient("not a url").answers()
    with pytest.raises(DagsterUnavailableError):
        RunsClient("not a url").recent_runs()


def test_launch_refuses_what_is_not_an_exhibit_uid() -> None:
    client = RunsClient(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(BadReferenceError):
        client.launch(["JS/1"], launched_by="test.analyst")
    assert client.launch([], launched_by="test.analyst") == []


# -- canned GraphQL answers: what a real server rarely says on demand ------------------------------------------


@contextmanager
def fake_dagster(answer: Callable[[str, dict[str, Any]], dict[str, Any]]) -> Iterator[str]:
    """An HTTP server whose /graphql returns answer(operation text, variables) as JSON; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps(answer(request["query"], request["variables"])).encode()
            status = 400 if "errors" in json.loads(body) else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _step(step: str, description: str | None = None, error: str | None = None, **meta: str) -> dict[str, Any]:
    return {
        "__typename": "ExecutionStepFailureEvent",
        "stepKey": step,
        "message": f"Execution of step {step!r} failed.",
        "error": {"message": error} if error else None,
        "failureMetadata": {
            "description": description,
            "metadataEntries": [{"label": k, "text": v} for k, v in meta.items()],
        },
    }


def test_run_failures_reads_every_page_and_each_way_a_code_is_written() -> None:
    pages = [
        [
            {"__typename": "RunStartEvent"},
            _step("original", code="EX-STORE-UNAVAILABLE", message="the store did not answer"),
            _step("media_probe", description="[EX-TOOL-FFPROBE] ffprobe crashed"),
        ],
        [
            _step("thumbnails", error="forensics.errors.FormatError: EX-FORMAT: not a JPEG\n"),
            _step("keyframes", error="KeyError: 'frame'\n"),
            {"__typename": "RunFailureEvent", "message": "Steps failed", "error": None},
        ],
    ]

    def answer(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        page = int(variables["cursor"] or 0)
        connection = {"__typename": "EventConnection", "cursor": str(page + 1), "hasMore": page + 1 < len(pages)}
        return {"data": {"logsForRun": {**connection, "events": pages[page]}}}

    with fake_dagster(answer) as url:
        assert RunsClient(url).run_failures("r1") == [
            StepFailure("original", "the store did not answer", "EX-STORE-UNAVAILABLE"),
            StepFailure("media_probe", "ffprobe crashed", "EX-TOOL-FFPROBE"),
            StepFailure("thumbnails", "not a JPEG", "EX-FORMAT"),
            StepFailure("keyframes", "KeyError: 'frame'", None),
        ]


def test_a_run_that_failed_outside_its_steps_says_why() -> None:
    event = {"__typename": "RunFailureEvent", "message": "Run timed out after 86400 s", "error": None}

    def answer(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        connection = {"__typename": "EventConnection", "cursor": "1", "hasMore": False, "events": [event]}
        return {"data": {"logsForRun": connection}}

    with fake_dagster(answer) as url:
        assert RunsClient(url).run_failures("r1") == [StepFailure(None, "Run timed out after 86400 s", None)]


def test_a_server_that_refuses_is_a_coded_error() -> None:
    def answer(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "ExhibitRepositories" in query:  # the code location failed to load: no repository has the job
            return {"data": {"repositoriesOrError": {"__typename": "RepositoryConnection", "nodes": []}}}
        if "ExhibitLocationErrors" in query:
            entry = {
                "name": "pipelines.definitions",
                "locationOrLoadError": {"__typename": "PythonError", "message": "ImportError: cv2\n"},
            }
            return {"data": {"workspaceOrError": {"__typename": "Workspace", "locationEntries": [entry]}}}
        if "ExhibitRecentRuns" in query:
            return {"errors": [{"message": 'Cannot query field "jobName" on type "Run".'}]}
        return {"data": {"runOrError": {"__typename": "PythonError", "message": "database is locked"}}}

    with fake_dagster(answer) as url:
        client = RunsClient(url)
        with pytest.raises(DagsterRejectedError) as raised:
            client.launch([new_exhibit_uid()], launched_by="test.analyst")
        assert raised.value.code == "EX-DAGSTER-REJECTED"
        assert "process_exhibit" in raised.value.message and "ImportError: cv2" in raised.value.message
        with pytest.raises(DagsterRejectedError, match="jobName"):
            client.recent_runs()
        with pytest.raises(DagsterRejectedError, match="database is locked"):
            client.run("r1")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "[EX-PIPELINE-NO-SOURCE] partition ex-1 names no exhibit",
            ("EX-PIPELINE-NO-SOURCE", "partition ex-1 names no exhibit"),
        ),
        ("evidence_store.errors.NotFoundError: [EX-NOT-FOUND] no case\n", ("EX-NOT-FOUND", "no case")),
        ("EX-HASH-MISMATCH: expected ab, got cd", ("EX-HASH-MISMATCH", "expected ab, got cd")),
        ("plain failure, no code", (None, "plain failure, no code")),
        ("TEX-MEX: not a code", (None, "TEX-MEX: not a code")),
    ],
)
def test_parse_coded(text: str, parsed: tuple[str | None, str]) -> None:
    assert parse_coded(text) == parsed
