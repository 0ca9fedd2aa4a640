"""CPIA disclosure: the disclosure officer's decisions on a case's unused material, and the MG6 schedules made
from them.

- An item is one exhibit, or a block of similar exhibits described together (as the CPIA Code of Practice
  allows), decided as non-sensitive (MG6C), sensitive (MG6D, with the reason it is sensitive) or not relevant.
  Anything that might undermine the prosecution or assist the defence carries an MG6E note and must stay an
  item of its own, never part of a block.
- Items are numbered consecutively within their schedule across continuation sheets; a number, once given,
  never changes. A re-review (a defence statement arrives) revises the item: new revision, same number, unless
  it moves to the other schedule, where it takes that schedule's next number.
- Every decision and every prosecutor's mark (D disclose, CND clearly not disclosable, I inspect) is a ledger
  event holding the item's whole new state, with the user and the time.
- Descriptions must tell the prosecutor what the item is: one that is only acronyms or form numbers ("MG11",
  "CAD 1234") is accepted with a warning, as the Code's guidance warns against them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence_store.access import Actor, Permission, authorize, record_view
from evidence_store.cases import get_case, get_exhibit, qualified_exhibit
from evidence_store.catalog import Case, DisclosureItem, Exhibit
from evidence_store.errors import DisclosureDecisionError
from evidence_store.ledger import format_time
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction

SCHEDULED = ("MG6C", "MG6D")
NOT_RELEVANT = "not_relevant"
CPS_MARKS = {"D": "disclose", "CND": "clearly not disclosable", "I": "inspect"}
# A word that tells a prosecutor nothing on its own: an acronym or a form or reference number.
_OPAQUE_WORD = re.compile(r"^(?:[A-Z]{2,}[0-9/-]*[A-Z0-9]*|[0-9/#.-]+|[A-Z]{1,3}[0-9]+[A-Z0-9]*)$")


def description_warnings(description: str) -> list[str]:
    """Why a schedule description may not tell the prosecutor what the item is (empty: it is fine)."""
    words = re.findall(r"[\w/#.-]+", description)
    if len(description.strip()) < 12 or len(words) < 3:
        return ["the description is too short to say what the item is and what it contains"]
    opaque = [w for w in words if _OPAQUE_WORD.match(w)]
    if len(opaque) * 2 >= len(words):
        return [
            f"the description is mostly acronyms or form numbers ({', '.join(opaque[:5])}): say what the "
            "item is and what it shows in plain words"
        ]
    return []


@dataclass(frozen=True, slots=True)
class ScheduledItem:
    """An item as decided, with the warnings its description drew."""

    item_id: int
    case_ref: str
    schedule: str
    number: int | None
    exhibits: tuple[str, ...]  # exhibit references
    description: str
    sensitivity: str | None
    undermines: str | None
    copy_supplied: bool
    cps_mark: str | None
    cps_comment: str | None
    revision: int
    decided_by: str
    decided_at: str
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "case": self.case_ref,
            "schedule": self.schedule,
            "number": self.number,
            "exhibits": list(self.exhibits),
            "description": self.description,
            "sensitivity": self.sensitivity,
            "undermines": self.undermines,
            "copy_supplied": self.copy_supplied,
            "cps_mark": self.cps_mark,
            "cps_comment": self.cps_comment,
            "revision": self.revision,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "warnings": list(self.warnings),
        }


def _item(session: Session, case: Case, row: DisclosureItem, warnings: Sequence[str] = ()) -> ScheduledItem:
    refs = dict(session.execute(select(Exhibit.id, Exhibit.reference).where(Exhibit.id.in_(row.exhibit_ids))).all())
    return ScheduledItem(
        item_id=row.id,
        case_ref=case.reference,
        schedule=row.schedule,
        number=row.number,
        exhibits=tuple(refs[i] for i in row.exhibit_ids),
        description=row.description,
        sensitivity=row.sensitivity,
        undermines=row.undermines,
        copy_supplied=row.copy_supplied,
        cps_mark=row.cps_mark,
        cps_comment=row.cps_comment,
        revision=row.revision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        warnings=tuple(warnings),
    )


def _now() -> str:
    return format_time(datetime.now(UTC))


def decide_item(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    exhibits: Sequence[str | int],
    schedule: str,
    description: str,
    *,
    sensitivity: str | None = None,
    undermines: str | None = None,
    copy_supplied: bool = False,
    item_id: int | None = None,
    reason: str | None = None,
) -> ScheduledItem:
    """Schedules exhibits as one item (new, or with `item_id` a re-review of an existing item).

    Args:
        exhibits: Exhibit ids or references of the case ("JS/1", "OP-1:JS/1" or an id); more than one is a block.
        schedule: "MG6C", "MG6D" or "not_relevant".
        sensitivity: Why the item is sensitive (required for MG6D, refused elsewhere).
        undermines: MG6E: why it might undermine the prosecution case or assist the defence.
        copy_supplied: A copy of the MG6E item goes to the prosecutor.
        reason: Why the decision was made or changed (recorded), e.g. "defence statement of 3 March".

    Raises:
        AccessDeniedError: not a disclosure officer or supervisor of the case (recorded).
        DisclosureDecisionError: the decision cannot be made as asked (says why).
    """
    if schedule not in (*SCHEDULED, NOT_RELEVANT):
        raise DisclosureDecisionError(f"schedule {schedule!r}: choose MG6C, MG6D or not_relevant")
    description = description.strip()
    sensitivity = (sensitivity or "").strip() or None
    undermines = (undermines or "").strip() or None
    if schedule == "MG6D" and not sensitivity:
        raise DisclosureDecisionError("an MG6D item needs the reason it is sensitive")
    if schedule != "MG6D" and sensitivity:
        raise DisclosureDecisionError("only MG6D items have a reason for sensitivity")
    if not exhibits:
        raise DisclosureDecisionError("an item needs at least one exhibit")
    if undermines and len(exhibits) > 1:
        raise DisclosureDecisionError(
            "an item that might undermine the prosecution or assist the defence is listed on its own, not in a block"
        )
    if undermines and schedule == NOT_RELEVANT:
        raise DisclosureDecisionError("material that might undermine or assist is relevant: schedule it")
    if not description:
        raise DisclosureDecisionError("an item needs a description")
    warnings = description_warnings(description)
    with _deciding(system, actor, case_ref) as (session, case):
        ids = []
        for ident in exhibits:
            exhibit = get_exhibit(session, qualified_exhibit(case, ident))
            if exhibit.case_id != case.id:
                raise DisclosureDecisionError(f"exhibit {exhibit.reference} is not in case {case.reference}")
            if exhibit.id in ids:
                raise DisclosureDecisionError(f"exhibit {exhibit.reference} is named twice")
            ids.append(exhibit.id)
        others = session.execute(
            select(DisclosureItem).where(DisclosureItem.case_id == case.id, DisclosureItem.id != (item_id or 0))
        ).scalars()
        for other in others:
            shared = set(other.exhibit_ids) & set(ids)
            if shared:
                refs = ", ".join(session.execute(select(Exhibit.reference).where(Exhibit.id.in_(shared))).scalars())
                where = f"{other.schedule} item {other.number}" if other.number else "an item found not relevant"
                raise DisclosureDecisionError(f"{refs} already in {where}: revise that item instead")
        if item_id is None:
            row = DisclosureItem(case_id=case.id, revision=1, copy_supplied=False)
            moved = True
        else:
            found = session.get(DisclosureItem, item_id)
            if found is None or found.case_id != case.id:
                raise DisclosureDecisionError(f"no disclosure item {item_id} in case {case.reference}")
            row = found
            moved = row.schedule != schedule
            row.revision += 1
        if moved:
            with session.no_autoflush:
                row.number = _next_number(session, case.id, schedule) if schedule in SCHEDULED else None
            row.cps_mark = row.cps_comment = None  # a mark was on the other schedule's item
        row.schedule, row.exhibit_ids, row.description = schedule, ids, description
        row.sensitivity, row.undermines, row.copy_supplied = sensitivity, undermines, bool(undermines and copy_supplied)
        row.decided_by, row.decided_at = actor.name, _now()
        session.add(row)
        session.flush()
        item = _item(session, case, row, warnings)
        system.ledger.append(
            session,
            CustodyAction.DISCLOSURE_DECIDED,
            actor=actor.name,
            role=actor.role,
            case_ref=case.reference,
            reason=reason,
            details={k: v for k, v in item.to_dict().items() if k not in ("case", "cps_mark", "cps_comment")},
        )
    return item


@contextmanager
def _deciding(system: EvidenceSystem, actor: Actor, case_ref: str) -> Iterator[tuple[Session, Case]]:
    """A write transaction holding the ledger lock, for a user allowed to make disclosure decisions (checked
    first, in a reading session, so that a refusal is recorded on its own)."""
    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.DISCLOSE, get_case(session, case_ref))
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        yield session, get_case(session, case_ref)


def _next_number(session: Session, case_id: int, schedule: str) -> int:
    highest = session.execute(
        select(func.max(DisclosureItem.number)).where(
            DisclosureItem.case_id == case_id, DisclosureItem.schedule == schedule
        )
    ).scalar_one()
    return int(highest or 0) + 1


def mark_item(
    system: EvidenceSystem, actor: Actor, case_ref: str, schedule: str, number: int, mark: str, comment: str | None
) -> ScheduledItem:
    """Records the prosecutor's mark on a scheduled item when the schedule comes back.

    Raises:
        AccessDeniedError: not a disclosure officer or supervisor of the case (recorded).
        DisclosureDecisionError: no such item, or a mark other than D, CND or I.
    """
    mark = mark.strip().upper()
    if mark not in CPS_MARKS:
        raise DisclosureDecisionError(f"mark {mark!r}: the prosecutor marks D (disclose), CND or I (inspect)")
    with _deciding(system, actor, case_ref) as (session, case):
        row = session.execute(
            select(DisclosureItem).where(
                DisclosureItem.case_id == case.id, DisclosureItem.schedule == schedule, DisclosureItem.number == number
            )
        ).scalar_one_or_none()
        if row is None:
            raise DisclosureDecisionError(f"no {schedule} item {number} in case {case.reference}")
        row.cps_mark, row.cps_comment = mark, (comment or "").strip() or None
        item = _item(session, case, row)
        system.ledger.append(
            session,
            CustodyAction.CPS_MARKED,
            actor=actor.name,
            role=actor.role,
            case_ref=case.reference,
            details={
                "item_id": row.id,
                "schedule": schedule,
                "number": number,
                "mark": mark,
                "comment": row.cps_comment,
            },
        )
    return item


def case_items(system: EvidenceSystem, actor: Actor, case_ref: str, schedule: str | None = None) -> list[ScheduledItem]:
    """The case's items (of one schedule, "MG6E" for those with an MG6E note), by schedule and number."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        query = select(DisclosureItem).where(DisclosureItem.case_id == case.id)
        if schedule == "MG6E":
            query = query.where(DisclosureItem.undermines.is_not(None))
        elif schedule is not None:
            query = query.where(DisclosureItem.schedule == schedule)
        rows = session.execute(query.order_by(DisclosureItem.schedule, DisclosureItem.number, DisclosureItem.id))
        items = [_item(session, case, row) for row in rows.scalars()]
    record_view(system, actor, f"disclosure items{' ' + schedule if schedule else ''}", case_ref)
    return items


def undecided_exhibits(system: EvidenceSystem, actor: Actor, case_ref: str) -> list[str]:
    """References of the case's exhibits no item covers yet: what the officer still has to look at."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        covered = {
            i
            for ids in session.execute(
                select(DisclosureItem.exhibit_ids).where(DisclosureItem.case_id == case.id)
            ).scalars()
            for i in ids
        }
        return [
            ref
            for exhibit_id, ref in session.execute(
                select(Exhibit.id, Exhibit.reference).where(Exhibit.case_id == case.id).order_by(Exhibit.id)
            ).all()
            if exhibit_id not in covered
        ]


# -- schedules --------------------------------------------------------------------------------------------------

COLUMNS = {
    "MG6C": ("Item no.", "Description and relative location", "Exhibits", "CPS mark", "CPS comment"),
    "MG6D": ("Item no.", "Description", "Reason for sensitivity", "Exhibits", "CPS mark", "CPS comment"),
    "MG6E": ("Schedule", "Item no.", "Description", "Why it might undermine or assist", "Copy supplied"),
}
NIL_MG6D = "NIL RETURN: the officer certifies that there is no sensitive unused material in this case."


def schedule_table(schedule: str, items: Sequence[ScheduledItem]) -> list[tuple[str, ...]]:
    """The rows of a schedule, in the form's columns (headings first)."""
    if schedule not in COLUMNS:
        raise DisclosureDecisionError(f"schedule {schedule!r}: MG6C, MG6D or MG6E")
    rows: list[tuple[str, ...]] = [COLUMNS[schedule]]
    for item in items:
        exhibits = ", ".join(item.exhibits)
        if schedule == "MG6C":
            rows.append((str(item.number), item.description, exhibits, item.cps_mark or "", item.cps_comment or ""))
        elif schedule == "MG6D":
            row = (str(item.number), item.description, item.sensitivity or "", exhibits)
            rows.append((*row, item.cps_mark or "", item.cps_comment or ""))
        else:
            supplied = "yes" if item.copy_supplied else "no"
            rows.append((item.schedule, str(item.number or ""), item.description, item.undermines or "", supplied))
    return rows


def schedule_csv(
    case_ref: str, schedule: str, items: Sequence[ScheduledItem], officer: str, date: str | None = None
) -> str:
    """The schedule as CSV: a heading block (case, form, officer, date, signature line), then the rows; an
    MG6D with no items is the endorsed nil return."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    titles = {
        "MG6C": "MG6C Police schedule of non-sensitive unused material",
        "MG6D": "MG6D Police schedule of sensitive unused material",
        "MG6E": "MG6E Disclosure officer's report",
    }
    writer.writerow([titles.get(schedule, schedule)])
    writer.writerow(["Case", case_ref])
    writer.writerow(["Disclosure officer", officer])
    writer.writerow(["Date", date or datetime.now(UTC).date().isoformat()])
    writer.writerow(["Signature", "_" * 30])
    writer.writerow([])
    table = schedule_table(schedule, items)
    if schedule == "MG6D" and len(table) == 1:
        writer.writerow([NIL_MG6D])
    else:
        writer.writerows(table)
    return out.getvalue()


TITLES = {
    "MG6C": "MG6C  Police schedule of non-sensitive unused material",
    "MG6D": "MG6D  Police schedule of sensitive unused material",
    "MG6E": "MG6E  Disclosure officer's report",
}


def schedule_pdf(
    case_ref: str, schedule: str, items: Sequence[ScheduledItem], officer: str, date: str | None = None
) -> bytes:
    """The schedule as a PDF in the form's layout: A4 landscape, the form's columns with their headings
    repeated on each continuation sheet, page numbers, the officer's name, a signature line and the date;
    an MG6D with no items is the endorsed nil return."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    date = date or datetime.now(UTC).date().isoformat()
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    body.fontSize, body.leading = 9, 11
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=22 * mm,
        bottomMargin=18 * mm,
        title=f"{schedule} {case_ref}",
        author=officer,
    )
    table = schedule_table(schedule, items)
    story: list[Any] = [
        Paragraph(f"<b>{TITLES.get(schedule, schedule)}</b>", styles["Heading2"]),
        Paragraph(f"Case: {_xml(case_ref)} &nbsp;&nbsp; Disclosure officer: {_xml(officer)}", body),
        Spacer(1, 4 * mm),
    ]
    if schedule == "MG6D" and len(table) == 1:
        story.append(Paragraph(f"<b>{_xml(NIL_MG6D)}</b>", body))
    else:
        widths = {
            "MG6C": [18 * mm, 140 * mm, 45 * mm, 20 * mm, 44 * mm],
            "MG6D": [18 * mm, 90 * mm, 70 * mm, 35 * mm, 20 * mm, 34 * mm],
            "MG6E": [25 * mm, 18 * mm, 95 * mm, 110 * mm, 19 * mm],
        }[schedule]
        cells = [[Paragraph(_xml(text), body) for text in row] for row in table]
        grid = Table(cells, colWidths=widths, repeatRows=1)
        grid.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(grid)
    story += [
        Spacer(1, 10 * mm),
        Paragraph(f"Signature: {'_' * 40} &nbsp;&nbsp; Name: {_xml(officer)} &nbsp;&nbsp; Date: {date}", body),
    ]

    def furniture(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(15 * mm, 10 * mm, f"{schedule}  {case_ref}  made by Exhibit from the recorded decisions")
        canvas.drawRightString(landscape(A4)[0] - 15 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    document.build(story, onFirstPage=furniture, onLaterPages=furniture)
    return out.getvalue()


def _xml(text: str) -> str:
    """Text for a reportlab paragraph, which reads a little XML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
