"""The `exhibit` command, run as a user runs it: a real process, its output and exit code."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evidence_store.settings import Settings
from tests.conftest import settings_env

EXHIBIT = str(Path(sys.executable).parent / "exhibit")


def run(settings: Settings, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([EXHIBIT, *args], env=settings_env(settings), capture_output=True, text=True, timeout=120)
    if ok:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    return proc


def run_json(settings: Settings, *args: str, ok: bool = True) -> Any:
    return json.loads(run(settings, *args, "--json", ok=ok).stdout)


def setup_users(settings: Settings) -> None:
    """init makes the first admin; the admin adds the analyst that commands run as (EXHIBIT_USER)."""
    assert run_json(settings, "init", "--admin", "test.admin")["admin_created"] == "test.admin"
    run(settings, "--as", "test.admin", "user", "add", settings.actor, "--role", "analyst")


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_end_to_end(settings: Settings, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "call.txt").write_text("999 call transcript\n")
    (evidence / "empty.bin").write_bytes(b"")
    setup_users(settings)
    assert run_json(settings, "init")["ok"]  # idempotent
    run(settings, "case", "create", "OP-CLI", "--title", "CLI case", "--officer", "DC Smith")

    ingested = run_json(settings, "ingest", str(evidence), "--case", "OP-CLI", "--by", "Jane Smith")
    assert [(i["exhibit_ref"], i["kind"], i["size"]) for i in ingested] == [
        ("JS/1", "document", 20),
        ("JS/2", "other", 0),
    ]
    for item in ingested:
        assert {"exhibit_id", "exhibit_ref", "kind", "size", "md5", "sha1", "sha256"} <= item.keys()

    shown = run_json(settings, "show", "OP-CLI:JS/1")
    assert shown["original"]["sha256"] == ingested[0]["sha256"]
    assert shown["original"]["md5"] == ingested[0]["md5"]
    empty = run_json(settings, "show", str(ingested[1]["exhibit_id"]))
    assert [a["table"] for a in empty["analysis"]] == ["warnings"]

    custody = run_json(settings, "custody", "show", "OP-CLI:JS/1")
    assert [e["action"] for e in custody["events"]] == ["RECEIVED", "STORED", "VIEWED"]  # the show above

    rows = run_json(settings, "query", "warnings", "--case", "OP-CLI")["rows"]
    assert [(r["exhibit_ref"], r["code"]) for r in rows] == [("JS/2", "EX-INPUT-EMPTY")]

    report = run_json(settings, "--as", "test.admin", "verify", "--objects")
    assert report["ok"] and report["objects_verified"] == 3  # two originals and one warnings table
    text = run(settings, "verify", "--case", "OP-CLI").stdout
    assert "VERIFIED" in text and "NOT VERIFIED" not in text
    human = run(settings, "show", "OP-CLI:JS/1").stdout
    assert ingested[0]["sha256"] in human and "SHA-256" in human


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_errors_are_coded_and_exit_non_zero(settings: Settings, tmp_path: Path) -> None:
    proc = run(settings, "case", "show", "OP-X", ok=False)
    assert proc.returncode == 2 and "[EX-NOT-INITIALISED]" in proc.stderr
    setup_users(settings)
    run(settings, "case", "create", "OP-E", "--title", "Errors")
    missing = run(settings, "ingest", str(tmp_path / "nope"), "--case", "OP-E", "--by", "x", ok=False)
    assert missing.returncode == 2 and "[EX-INPUT-MISSING]" in missing.stderr
    as_json = run_json(settings, "ingest", str(tmp_path / "nope"), "--case", "OP-E", "--by", "x", ok=False)
    assert as_json["error"]["code"] == "EX-INPUT-MISSING"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    refused = run(settings, "ingest", str(fifo), "--case", "OP-E", "--by", "x", ok=False)
    assert refused.returncode == 1 and "[EX-INPUT-SPECIAL-FILE]" in refused.stderr
    unknown = run(settings, "query", "no_such_table", "--case", "OP-E", ok=False)
    assert "[EX-INPUT-UNKNOWN-TABLE]" in unknown.stderr
    dup = run(settings, "case", "create", "OP-E", "--title", "again", ok=False)
    assert "[EX-ALREADY-EXISTS]" in dup.stderr


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_verify_exits_non_zero_on_tampering(settings: Settings, tmp_path: Path) -> None:
    import sqlite3

    setup_users(settings)
    run(settings, "case", "create", "OP-T", "--title", "Tamper")
    (tmp_path / "a.txt").write_text("a\n")
    run(settings, "ingest", str(tmp_path / "a.txt"), "--case", "OP-T", "--by", "x")
    with sqlite3.connect(settings.database_url.split("///", 1)[1]) as db:
        db.execute("UPDATE custody_events SET actor = 'someone' WHERE seq = 5")
    proc = run(settings, "--as", "test.admin", "verify", ok=False)
    assert proc.returncode == 1
    assert "event 5" in proc.stdout and "NOT VERIFIED" in proc.stdout


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_query_exits_cleanly_every_time(settings: Settings, tmp_path: Path) -> None:
    """Reading Parquet through the decrypting reader once aborted the interpreter at exit, one run in five."""
    setup_users(settings)
    run(settings, "case", "create", "OP-Q", "--title", "Query")
    (tmp_path / "empty.bin").write_bytes(b"")
    run(settings, "ingest", str(tmp_path / "empty.bin"), "--case", "OP-Q", "--by", "x")
    for _ in range(8):
        assert run_json(settings, "query", "warnings", "--case", "OP-Q")["count"] == 1


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_custody_proof_round_trip(settings: Settings, tmp_path: Path) -> None:
    setup_users(settings)
    run(settings, "case", "create", "OP-PR", "--title", "Proof")
    (tmp_path / "a.txt").write_text("a\n")
    run(settings, "ingest", str(tmp_path / "a.txt"), "--case", "OP-PR", "--by", "Jane Smith")
    proof = tmp_path / "proof.json"
    made = run_json(settings, "custody", "proof", "OP-PR:JS/1", "--out", str(proof))
    assert made["events"] == 2
    keys = settings.keys_dir / "signing"
    # The recipient has the file and the public key only: no database, no store, no settings.
    bare = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    checked = subprocess.run(
        [EXHIBIT, "custody", "verify-proof", str(proof), "--key", str(keys), "--json"],
        env=bare,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"]
    document = json.loads(proof.read_text())
    document["events"][0]["event"]["details"]["size"] += 1
    proof.write_text(json.dumps(document))
    refused = subprocess.run(
        [EXHIBIT, "custody", "verify-proof", str(proof), "--key", str(keys)], env=bare, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "PROOF INVALID" in refused.stdout


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_demo_builds_its_case_through_the_pipeline(settings: Settings) -> None:
    summary = run_json(settings, "demo")
    assert summary["verification"]["ok"]
    assert len(summary["runs"]) == len(summary["exhibits"]) >= 4
    assert {r["status"] for r in summary["runs"]} == {"SUCCESS"}
    assert {e["uid"] for e in summary["exhibits"]} == {r["uid"] for r in summary["runs"]}
    processed = settings.home / "intake" / "processed"
    assert sorted(p.name for p in processed.iterdir() if not p.name.endswith((".json", ".done"))) == sorted(
        p.name for p in (settings.home / "demo-input").iterdir()
    )
    assert (Path(summary["dagster_home"]) / "dagster.yaml").exists()
    # The demo's forwarded photo is found as a near-duplicate of the phone's original.
    similar = run_json(settings, "--as", "dc.brown", "similar", "--case", "OP-DEMO-001")
    assert similar["pairs"] and {p["distance"] for p in similar["pairs"]} == {0}
