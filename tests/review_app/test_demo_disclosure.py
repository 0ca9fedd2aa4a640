"""Disclosure end to end on the demo case (built by `exhibit demo`, the real pipeline): schedules from decisions,
the nil MG6D, the PDFs rendered, redacted and encrypted bundles verified offline, and tampering refused.

Works on a copy of the demo deployment, so the decisions and exports here leave the shared demo case as the
page tests expect it (nothing decided).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_store.bundle_verify import verify_bundle
from evidence_store.bundles import export_bundle
from evidence_store.catalog import Exhibit
from evidence_store.disclosure import case_items, decide_item, schedule_csv, schedule_pdf, undecided_exhibits
from evidence_store.errors import RedactionNotApprovedError
from evidence_store.redaction import case_redactions, review_redaction
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from tests.review_app.conftest import DEMO_CASE, actor

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture
def demo_copy(demo_home: Path, tmp_path: Path) -> Iterator[EvidenceSystem]:
    home = tmp_path / "demo"
    shutil.copytree(demo_home, home, ignore=shutil.ignore_patterns("dagster*", "work", "exports"))
    system = EvidenceSystem.open(Settings.from_env({"EXHIBIT_HOME": str(home)}))
    yield system
    system.close()


def _pdf_pages_and_text(pdf: bytes, where: Path) -> tuple[int, str]:
    path = where / "schedule.pdf"
    path.write_bytes(pdf)
    for old in where.glob("page*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(path), str(where / "page")], check=True)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return len(list(where.glob("page*.png"))), text.stdout


def test_the_demo_case_is_scheduled_bundled_and_verified(demo_copy: EvidenceSystem, tmp_path: Path) -> None:
    system, officer = demo_copy, actor(demo_copy, "do.patel")
    with system.catalog.reading() as session:
        refs = list(
            session.execute(select(Exhibit.reference).where(Exhibit.parent_id.is_(None)).order_by(Exhibit.id)).scalars()
        )
    assert len(refs) >= 3
    # Every top-level exhibit on the MG6C, one item each, numbered in order; the rest (files extracted from the
    # device image) found not relevant as one block.
    for ref in refs:
        decide_item(system, officer, DEMO_CASE, [ref], "MG6C", f"Exhibit {ref} of the burglary at 14 Acacia Avenue")
    rest = undecided_exhibits(system, officer, DEMO_CASE)
    if rest:
        decide_item(system, officer, DEMO_CASE, rest, "not_relevant", "Files recovered from the seized phone")
    mg6c = case_items(system, officer, DEMO_CASE, "MG6C")
    assert [item.number for item in mg6c] == list(range(1, len(refs) + 1))
    assert [item.exhibits[0] for item in mg6c] == refs
    rows = list(csv.reader(io.StringIO(schedule_csv(DEMO_CASE, "MG6C", mg6c, "Raj Patel"))))
    assert [row[0] for row in rows if row and row[0].isdigit()] == [str(n) for n in range(1, len(refs) + 1)]
    pages, text = _pdf_pages_and_text(schedule_pdf(DEMO_CASE, "MG6C", mg6c, "Raj Patel", "2026-12-03"), tmp_path)
    assert pages >= 1 and all(f"Exhibit {ref} of the burglary" in text for ref in refs)
    pages, nil = _pdf_pages_and_text(
        schedule_pdf(DEMO_CASE, "MG6D", case_items(system, officer, DEMO_CASE, "MG6D"), "Raj Patel"), tmp_path
    )
    assert pages == 1 and "NIL RETURN" in nil

    # The demo's redacted copy is pending review: a redacted export waits for a reviewer's approval.
    redacted_bundle = tmp_path / "redacted.zip"
    with pytest.raises(RedactionNotApprovedError):
        export_bundle(system, officer, DEMO_CASE, redacted_bundle, recipient="CPS", reason="x", redacted=True)
    (pending,) = [c for c in case_redactions(system, officer, DEMO_CASE) if c["status"] == "pending review"]
    review_redaction(system, officer, pending["exhibit_id"], pending["sha256"], "approved", "faces blurred throughout")
    export_bundle(system, officer, DEMO_CASE, redacted_bundle, recipient="CPS Area East", reason="first hearing",
                  schedule="MG6C", redacted=True)  # fmt: skip
    report = verify_bundle(redacted_bundle)
    assert report.ok, report.problems
    assert report.exhibits_checked == len(refs)
    with zipfile.ZipFile(redacted_bundle) as archive:
        members = archive.namelist()
    assert any("/redacted-" in name for name in members)

    # Tampering with a real exhibit inside the bundle is refused, naming the file.
    member = next(name for name in members if name.startswith("exhibits/") and "/redacted-" not in name)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(redacted_bundle) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == member:
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            target.writestr(name, data)
    refused = verify_bundle(tampered)
    assert not refused.ok and any(member in what for _code, what in refused.problems)

    sealed = tmp_path / "redacted.zip.enc"
    export_bundle(system, officer, DEMO_CASE, sealed, recipient="CPS", reason="transfer", schedule="MG6C",
                  redacted=True, passphrase="read it out over the phone")  # fmt: skip
    assert verify_bundle(sealed, passphrase="read it out over the phone").ok
