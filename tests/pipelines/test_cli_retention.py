"""`exhibit retention|hold|dispose ...` as officers run them: classes, holds, two-person disposal, certificate."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from evidence_store.settings import Settings
from tests.pipelines.test_cli import run, run_json, setup_users


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_request_hold_approve_and_certificate(settings: Settings, tmp_path: Path) -> None:
    setup_users(settings)
    for name, role in (("do.patel", "disclosure_officer"), ("sgt.jones", "supervisor"), ("insp.khan", "supervisor")):
        run(settings, "--as", "test.admin", "user", "add", name, "--role", role)
    run(settings, "case", "create", "OP-GONE", "--title", "Retention")
    for name in ("do.patel", "sgt.jones", "insp.khan"):
        run(settings, "--as", "test.admin", "case", "add-member", "OP-GONE", name)
    for name in ("bwv1.mp4", "bwv2.mp4"):
        (tmp_path / name).write_bytes(name.encode() * 500)
        run(settings, "ingest", str(tmp_path / name), "--case", "OP-GONE", "--by", "Jane Smith")
    officer, sergeant, inspector = ("--as", "do.patel"), ("--as", "sgt.jones"), ("--as", "insp.khan")

    assert "bwv-non-evidential" in run(settings, "retention", "classes").stdout
    run(settings, *officer, "retention", "set", "--case", "OP-GONE", "bwv-non-evidential", "--exhibit", "JS/1")
    run(settings, *officer, "retention", "outcome", "--case", "OP-GONE", "acquitted", "--date", "2026-01-10")
    states = run_json(settings, *officer, "retention", "status", "--case", "OP-GONE")
    assert [(s["retention_class"], s["due_kind"]) for s in states] == [
        ("bwv-non-evidential", "disposal"),
        ("standard", "disposal"),
    ]
    held = run_json(settings, *officer, "hold", "place", "--case", "OP-GONE", "--exhibit", "JS/2",
                    "--reason", "civil claim", "--authority", "Force solicitor")  # fmt: skip
    refused = run(settings, *officer, "dispose", "request", "--case", "OP-GONE", "JS/2", "--reason", "acquitted",
                  ok=False)  # fmt: skip
    assert refused.returncode == 2 and "EX-DISPOSAL-REFUSED" in refused.stderr
    run(settings, *sergeant, "hold", "release", "--case", "OP-GONE", str(held["hold"]), "--reason", "settled")
    request = run_json(settings, *officer, "dispose", "request", "--case", "OP-GONE", "JS/2", "--reason", "acquitted")
    assert request["status"] == "requested"
    own = run(settings, *officer, "dispose", "approve", str(request["id"]), "--reason", "x", ok=False)
    assert own.returncode == 2 and "EX-ACCESS-DENIED" in own.stderr
    done = run_json(settings, *inspector, "dispose", "approve", str(request["id"]), "--reason", "CPIA period over")
    assert done["status"] == "disposed" and done["certificate_sha256"]

    pdf, cert = tmp_path / "cert.pdf", tmp_path / "cert.json"
    shown = run(settings, *officer, "dispose", "certificate", str(request["id"]), "--out", str(pdf))
    assert "CERTIFICATE OF DISPOSAL" in shown.stdout and "signature: ok" in shown.stdout
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", pages, re.MULTILINE) and "(A4)" in pages
    run(settings, *officer, "dispose", "certificate", str(request["id"]), "--out", str(cert))
    assert json.loads(cert.read_text())["approved"]["by"] == "insp.khan"
    listed = run_json(settings, *officer, "dispose", "list", "--case", "OP-GONE")
    assert [r["status"] for r in listed] == ["disposed"]
    sweep = run_json(settings, "retention", "sweep")
    assert sweep["requested"] == []  # JS/1 is 31 days from now
