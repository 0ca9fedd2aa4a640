"""`exhibit disclosure ...` as a disclosure officer runs it: decide, mark, list, and the schedules as CSV."""

import csv
from pathlib import Path

import pytest

from evidence_store.settings import Settings
from tests.pipelines.test_cli import run, run_json, setup_users


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_disclosure_officer_schedules_marks_and_writes_the_schedules(settings: Settings, tmp_path: Path) -> None:
    setup_users(settings)
    run(settings, "--as", "test.admin", "user", "add", "do.patel", "--role", "disclosure_officer")
    run(settings, "case", "create", "OP-MG6", "--title", "Schedules")
    run(settings, "--as", "test.admin", "case", "add-member", "OP-MG6", "do.patel")
    for name in ("bwv.txt", "notebook.txt", "intel.txt"):
        (tmp_path / name).write_text(f"{name}\n")
        run(settings, "ingest", str(tmp_path / name), "--case", "OP-MG6", "--by", "Jane Smith")
    officer = ("--as", "do.patel", "disclosure")

    item = run_json(
        settings,
        *officer,
        "decide",
        "--case",
        "OP-MG6",
        "JS/1",
        "JS/2",
        "--schedule",
        "MG6C",
        "--description",
        "Body-worn video and pocket notebook of PC 123 at the scene",
    )
    assert (item["number"], item["exhibits"]) == (1, ["JS/1", "JS/2"])
    refused = run(settings, *officer, "decide", "--case", "OP-MG6", "JS/3", "--schedule", "MG6D", "--description",
                  "Intelligence log entry on the suspect", ok=False)  # fmt: skip
    assert refused.returncode != 0 and "EX-DISCLOSURE-DECISION" in refused.stderr + refused.stdout
    warned = run(settings, *officer, "decide", "--case", "OP-MG6", "JS/3", "--schedule", "not_relevant",
                 "--description", "CAD 1234 PNC")  # fmt: skip
    assert "acronyms or form numbers" in warned.stdout
    run(settings, *officer, "mark", "--case", "OP-MG6", "--schedule", "MG6C", "--item", "1", "--mark", "i")
    listed = run_json(settings, *officer, "list", "--case", "OP-MG6")
    assert [(i["schedule"], i["cps_mark"]) for i in listed["items"]] == [("MG6C", "I"), ("not_relevant", None)]
    assert listed["undecided"] == []

    mg6c, mg6d = tmp_path / "mg6c.csv", tmp_path / "mg6d.csv"
    run(
        settings,
        *officer,
        "schedule",
        "--case",
        "OP-MG6",
        "--schedule",
        "MG6C",
        "--out",
        str(mg6c),
        "--officer",
        "Raj Patel",
    )
    run(settings, *officer, "schedule", "--case", "OP-MG6", "--schedule", "MG6D", "--out", str(mg6d))
    rows = list(csv.reader(mg6c.open()))
    assert ["1", "Body-worn video and pocket notebook of PC 123 at the scene", "JS/1, JS/2", "I", ""] in rows
    assert "NIL RETURN" in mg6d.read_text()
    pdf = tmp_path / "mg6c.pdf"
    run(settings, *officer, "schedule", "--case", "OP-MG6", "--schedule", "MG6C", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert (
        run(
            settings,
            "disclosure",
            "decide",
            "--case",
            "OP-MG6",
            "JS/3",
            "--schedule",
            "MG6C",
            "--description",
            "anything at all here",
            ok=False,
        ).returncode
        != 0
    )  # fmt: skip  (an analyst)
