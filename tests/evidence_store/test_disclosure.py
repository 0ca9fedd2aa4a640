"""CPIA decisions and the MG6 schedules made from them, on every store and catalog."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_store.access import Actor, add_member, add_user
from evidence_store.cases import create_case
from evidence_store.catalog import CustodyEventRow
from evidence_store.disclosure import (
    NIL_MG6D,
    case_items,
    decide_item,
    description_warnings,
    mark_item,
    schedule_csv,
    schedule_pdf,
    schedule_table,
    undecided_exhibits,
)
from evidence_store.errors import AccessDeniedError, DisclosureDecisionError
from evidence_store.intake import IngestRequest, ingest
from evidence_store.system import EvidenceSystem

CASE = "OP-CPIA"


@pytest.fixture
def officer(system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path) -> Actor:
    """A disclosure officer of a case of five exhibits (JS/1 .. JS/5)."""
    create_case(system, analyst, CASE, "Disclosure")
    for n in range(1, 6):
        path = tmp_path / f"item{n}.txt"
        path.write_text(f"unused material {n}\n")
        ingest(system, analyst, [path], IngestRequest(case_ref=CASE, by="Jane Smith"))
    officer = add_user(system, admin, "do.patel", "disclosure_officer")
    add_member(system, admin, CASE, "do.patel")
    return officer


def _events(system: EvidenceSystem, action: str) -> list[CustodyEventRow]:
    with system.catalog.reading() as session:
        return list(session.execute(select(CustodyEventRow).where(CustodyEventRow.action == action)).scalars())


def test_items_are_numbered_per_schedule_and_recorded(system: EvidenceSystem, officer: Actor) -> None:
    first = decide_item(system, officer, CASE, ["JS/1"], "MG6C", "Body-worn video of PC 123 arriving at the scene")
    block = decide_item(
        system, officer, CASE, ["JS/2", "JS/3"], "MG6C", "Two photographs of the rear garden taken by the SOCO"
    )
    sensitive = decide_item(
        system,
        officer,
        CASE,
        ["JS/4"],
        "MG6D",
        "Intelligence log entry about the suspect's associates",
        sensitivity="Reveals the identity of a covert human intelligence source",
    )
    assert (first.number, block.number, sensitive.number) == (1, 2, 1)
    assert block.exhibits == ("JS/2", "JS/3")
    assert undecided_exhibits(system, officer, CASE) == ["JS/5"]
    decided = _events(system, "DISCLOSURE_DECIDED")
    assert [e.actor for e in decided] == ["do.patel"] * 3
    assert '"number":2' in decided[1].details.replace(" ", "")

    # An exhibit is in one item only; an item that might undermine stays on its own.
    with pytest.raises(DisclosureDecisionError, match="already in MG6C item 2"):
        decide_item(system, officer, CASE, ["JS/3"], "MG6C", "A photograph of the rear garden by the SOCO")
    with pytest.raises(DisclosureDecisionError, match="on its own"):
        decide_item(system, officer, CASE, ["JS/5", "JS/1"], "MG6C", "Notes and video", undermines="inconsistent")
    with pytest.raises(DisclosureDecisionError, match="reason it is sensitive"):
        decide_item(system, officer, CASE, ["JS/5"], "MG6D", "Telephone billing of the witness")


def test_re_review_keeps_the_number_and_a_move_takes_the_next(system: EvidenceSystem, officer: Actor) -> None:
    one = decide_item(system, officer, CASE, ["JS/1"], "MG6C", "Body-worn video of PC 123 arriving at the scene")
    two = decide_item(system, officer, CASE, ["JS/2"], "MG6C", "Officer's pocket notebook entry for the night")
    revised = decide_item(
        system,
        officer,
        CASE,
        ["JS/2"],
        "MG6C",
        "Officer's pocket notebook entry for the night",
        undermines="Records the suspect's car as blue; the witness says red",
        copy_supplied=True,
        item_id=two.item_id,
        reason="defence statement of 3 March: identification disputed",
    )
    assert (revised.number, revised.revision, revised.copy_supplied) == (2, 2, True)
    moved = decide_item(
        system,
        officer,
        CASE,
        ["JS/1"],
        "MG6D",
        "Body-worn video of PC 123 arriving at the scene",
        sensitivity="Shows the address of a protected witness",
        item_id=one.item_id,
    )
    assert (moved.schedule, moved.number) == ("MG6D", 1)
    assert _events(system, "DISCLOSURE_DECIDED")[-2].reason == "defence statement of 3 March: identification disputed"
    assert [i.number for i in case_items(system, officer, CASE, "MG6C")] == [2]  # 1 moved; numbers never reused
    assert [i.exhibits for i in case_items(system, officer, CASE, "MG6E")] == [("JS/2",)]


def test_prosecutor_marks(system: EvidenceSystem, officer: Actor) -> None:
    decide_item(system, officer, CASE, ["JS/1"], "MG6C", "Body-worn video of PC 123 arriving at the scene")
    marked = mark_item(system, officer, CASE, "MG6C", 1, "cnd", "Neutral: shows arrival only")
    assert (marked.cps_mark, marked.cps_comment) == ("CND", "Neutral: shows arrival only")
    assert _events(system, "CPS_MARKED")[0].actor == "do.patel"
    with pytest.raises(DisclosureDecisionError, match=r"D \(disclose\), CND or I"):
        mark_item(system, officer, CASE, "MG6C", 1, "X", None)
    with pytest.raises(DisclosureDecisionError, match="no MG6C item 7"):
        mark_item(system, officer, CASE, "MG6C", 7, "D", None)


def test_who_may_decide(system: EvidenceSystem, officer: Actor, analyst: Actor) -> None:
    with pytest.raises(AccessDeniedError):
        decide_item(system, analyst, CASE, ["JS/1"], "MG6C", "Body-worn video of PC 123 arriving")
    assert _events(system, "ACCESS_DENIED")[-1].actor == analyst.name


def test_descriptions_that_say_nothing_draw_a_warning(system: EvidenceSystem, officer: Actor) -> None:
    assert description_warnings("Body-worn video of PC 123 arriving at the scene") == []
    assert description_warnings("MG11") and description_warnings("CAD 1234 PNC SOE")
    item = decide_item(system, officer, CASE, ["JS/5"], "not_relevant", "CAD 1234 PNC SOE")
    assert item.number is None and "acronyms or form numbers" in item.warnings[0]


def test_schedules_as_csv_with_a_nil_mg6d(system: EvidenceSystem, officer: Actor) -> None:
    decide_item(system, officer, CASE, ["JS/1"], "MG6C", "Body-worn video of PC 123 arriving at the scene")
    decide_item(system, officer, CASE, ["JS/2", "JS/3"], "MG6C", "Two photographs of the rear garden by the SOCO")
    items = case_items(system, officer, CASE, "MG6C")
    table = schedule_table("MG6C", items)
    assert table[0][0] == "Item no." and [r[0] for r in table[1:]] == ["1", "2"]
    text = schedule_csv(CASE, "MG6C", items, "Raj Patel", "2026-12-03")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0].startswith("MG6C") and ["Disclosure officer", "Raj Patel"] in rows
    assert ["2", "Two photographs of the rear garden by the SOCO", "JS/2, JS/3", "", ""] in rows
    nil = schedule_csv(CASE, "MG6D", case_items(system, officer, CASE, "MG6D"), "Raj Patel", "2026-12-03")
    assert NIL_MG6D in nil and "Signature" in nil


def test_schedules_as_pdf_render_with_their_rows(system: EvidenceSystem, officer: Actor, tmp_path: Path) -> None:
    import shutil
    import subprocess

    if not (shutil.which("pdftoppm") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils (pdftoppm, pdftotext) is not installed: make setup installs it")
    for n in range(5):
        decide_item(
            system,
            officer,
            CASE,
            [f"JS/{n + 1}"],
            "MG6C",
            f"Statement number {n + 1} of a witness to the burglary, describing the man seen leaving " * 16,
        )
    items = case_items(system, officer, CASE, "MG6C")
    pdf = tmp_path / "mg6c.pdf"
    pdf.write_bytes(schedule_pdf(CASE, "MG6C", items, "Raj Patel", "2026-12-03"))
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2  # long descriptions run onto a continuation sheet
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "MG6C" in text and "Raj Patel" in text and "Signature" in text and "2026-12-03" in text
    assert text.count("Item no.") == len(pages)  # the headings repeat on every sheet
    nil = tmp_path / "mg6d.pdf"
    nil.write_bytes(schedule_pdf(CASE, "MG6D", [], "Raj Patel", "2026-12-03"))
    nil_text = subprocess.run(["pdftotext", str(nil), "-"], capture_output=True, text=True, check=True).stdout
    assert "NIL RETURN" in nil_text
