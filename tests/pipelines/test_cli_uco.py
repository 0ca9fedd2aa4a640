"""`exhibit export-uco` as a disclosure officer runs it."""

import hashlib
import json
from pathlib import Path

import pytest

from evidence_store.settings import Settings
from tests.pipelines.test_cli import run, run_json, setup_users


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_export_uco_writes_the_graph_and_records_it(settings: Settings, tmp_path: Path) -> None:
    setup_users(settings)
    run(settings, "--as", "test.admin", "user", "add", "do.patel", "--role", "disclosure_officer")
    run(settings, "case", "create", "OP-UCO", "--title", "Burglary", "--officer", "DC Brown")
    run(settings, "--as", "test.admin", "case", "add-member", "OP-UCO", "do.patel")
    (tmp_path / "notebook.txt").write_text("notebook\n" * 50)
    ingested = run_json(settings, "ingest", str(tmp_path / "notebook.txt"), "--case", "OP-UCO", "--by", "Jane Smith")
    out = tmp_path / "out" / "OP-UCO.jsonld"

    # An analyst may not export; the officer must say why.
    refused = run(settings, "export-uco", "--case", "OP-UCO", "--out", str(out), "--reason", "CPS", ok=False)
    assert refused.returncode == 2 and "EX-ACCESS-DENIED" in refused.stderr and not out.exists()
    made = run_json(settings, "--as", "do.patel", "export-uco", "--case", "OP-UCO", "--out", str(out),
                    "--reason", "CPS request 12")  # fmt: skip
    assert made["exhibits"] == ["JS/1"] and made["format"] == "CASE/UCO JSON-LD"
    assert made["document_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    document = json.loads(out.read_text())
    hashes = [n for n in document["@graph"] if n["@type"] == "uco-types:Hash"]
    assert ingested[0]["sha256"] in {h["uco-types:hashValue"]["@value"] for h in hashes}

    plain = run(settings, "--as", "do.patel", "export-uco", "--case", "OP-UCO", "--out", str(out), "--reason", "again")
    assert "CASE 1.5.0 JSON-LD of case OP-UCO, 1 exhibit(s)" in plain.stdout and "Traceback" not in plain.stderr
    custody = run_json(settings, "--as", "do.patel", "custody", "show", "OP-UCO:JS/1", "--reason", "check export")
    assert made["document_sha256"] in json.dumps(custody)
