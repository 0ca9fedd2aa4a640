"""`exhibit serve` and `exhibit analyze`, as an operator runs them: real processes, the daemon's real sensor."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from tests.conftest import settings_env

EXHIBIT = str(Path(sys.executable).parent / "exhibit")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exhibit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXHIBIT, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_serve_runs_the_drop_folder_sensor_and_analyze_submits_runs(
    system: EvidenceSystem, settings: Settings, tmp_path: Path
) -> None:
    env = settings_env(settings)
    port = _free_port()
    env.update({"EXHIBIT_INTAKE_INTERVAL": "2", "EXHIBIT_DAGSTER_URL": f"http://127.0.0.1:{port}"})
    assert _exhibit(env, "case", "create", "OP-SERVE", "--title", "Served").returncode == 0
    review_port = _free_port()
    proc = subprocess.Popen(
        [EXHIBIT, "serve", "--port", str(port), "--review-port", str(review_port), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != b"}\n":
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode() if proc.stderr else "serve exited"
            lines.append(line)
        info = json.loads(b"".join(lines))
        assert info["urls"]["dagster"] == f"http://127.0.0.1:{port}"
        assert info["urls"]["review"] == f"http://127.0.0.1:{review_port}"
        with urllib.request.urlopen(f"{info['urls']['review']}/_stcore/health", timeout=10) as health:
            assert health.status == 200  # the review app is up beside Dagster
        assert info["dagster_home"] == str(settings.home / "dagster")
        assert "storage" not in (settings.home / "dagster" / "dagster.yaml").read_text()  # SQLite, one machine

        drop = settings.home / "intake"
        drop.mkdir(parents=True, exist_ok=True)
        (drop / "bwv.mp4.exhibit.json").write_text(json.dumps({"case": "OP-SERVE", "producer": "Jane Smith"}))
        (drop / "bwv.mp4").write_bytes(os.urandom(50_000))
        (drop / "bwv.mp4.done").touch()
        deadline = time.monotonic() + 180
        while not (drop / "processed" / "bwv.mp4").exists():
            assert time.monotonic() < deadline, "the daemon's sensor did not ingest the dropped file"
            time.sleep(1)
        shown = json.loads(_exhibit(env, "show", "OP-SERVE:JS/1", "--json").stdout)
        assert shown["exhibit_uid"].startswith("ex-") and shown["original"]["size"] == 50_000

        analyzed = _exhibit(env, "analyze", "--case", "OP-SERVE", "--via", "server", "--json")
        assert analyzed.returncode == 0, analyzed.stderr
        runs = json.loads(analyzed.stdout)["runs"]
        assert [(r["uid"], r["status"]) for r in runs] == [(shown["exhibit_uid"], "SUCCESS")]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    for pid in info["pids"].values():
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_analyze_without_a_server_runs_here_and_reports_failures(
    system: EvidenceSystem, settings: Settings, tmp_path: Path
) -> None:
    env = settings_env(settings)
    env["EXHIBIT_DAGSTER_URL"] = f"http://127.0.0.1:{_free_port()}"  # nothing there
    assert _exhibit(env, "case", "create", "OP-HERE", "--title", "Here").returncode == 0
    item = tmp_path / "note.txt"
    item.write_text("statement\n")
    assert _exhibit(env, "ingest", str(item), "--case", "OP-HERE", "--by", "Jane Smith").returncode == 0
    done = _exhibit(env, "analyze", "--exhibit", "OP-HERE:JS/1", "--json")
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)["runs"]
    assert run["status"] == "SUCCESS" and run["uid"].startswith("ex-")
    assert "dagster - DEBUG" not in done.stderr
    refused = _exhibit(env, "analyze", "--case", "OP-HERE", "--exhibit", "1")
    assert refused.returncode == 2 and "[EX-INPUT-BAD-REF]" in refused.stderr
