"""`exhibit disclosure ...`: CPIA decisions on a case's unused material and the MG6 schedules made from them.

Registered on the `exhibit` group by `pipelines.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from pipelines.cli import _acting, _coded, _emit_json, cli, json_option, out, reason_option

if TYPE_CHECKING:
    from evidence_store.disclosure import ScheduledItem

SCHEDULE = click.Choice(["MG6C", "MG6D", "not_relevant"])


@cli.group()
def disclosure() -> None:
    """Disclosure (CPIA): schedule items MG6C / MG6D, MG6E notes, the prosecutor's marks, the schedules."""


def _show(item: ScheduledItem, as_json: bool) -> None:
    if as_json:
        _emit_json(item.to_dict())
        return
    where = f"{item.schedule} item {item.number}" if item.number else item.schedule
    out.print(f"{where} (revision {item.revision}): {', '.join(item.exhibits)} — {item.description}")
    for warning in item.warnings:
        out.print(f"[yellow]warning:[/] {warning}")


@disclosure.command("decide")
@click.option("--case", "case_ref", required=True)
@click.argument("exhibits", nargs=-1, required=True)
@click.option("--schedule", type=SCHEDULE, required=True)
@click.option("--description", required=True, help="What the item is and what it shows, in plain words.")
@click.option("--sensitivity", help="MG6D: why the item is sensitive.")
@click.option("--undermines", help="MG6E: why it might undermine the prosecution or assist the defence.")
@click.option("--copy-supplied", is_flag=True, help="MG6E: a copy goes to the prosecutor.")
@click.option("--item", "item_id", type=int, help="Revise this item (re-review) instead of adding one.")
@reason_option
@json_option
def decide(
    case_ref: str,
    exhibits: tuple[str, ...],
    schedule: str,
    description: str,
    sensitivity: str | None,
    undermines: str | None,
    copy_supplied: bool,
    item_id: int | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Schedule EXHIBITS (references such as JS/1; several make a block) as one item."""
    from evidence_store.disclosure import decide_item

    with _coded(as_json):
        system, actor = _acting()
        item = decide_item(
            system,
            actor,
            case_ref,
            list(exhibits),
            schedule,
            description,
            sensitivity=sensitivity,
            undermines=undermines,
            copy_supplied=copy_supplied,
            item_id=item_id,
            reason=reason,
        )
    _show(item, as_json)


@disclosure.command("mark")
@click.option("--case", "case_ref", required=True)
@click.option("--schedule", type=click.Choice(["MG6C", "MG6D"]), required=True)
@click.option("--item", "number", type=int, required=True, help="The item number on that schedule.")
@click.option("--mark", type=click.Choice(["D", "CND", "I"], case_sensitive=False), required=True)
@click.option("--comment")
@json_option
def mark(case_ref: str, schedule: str, number: int, mark: str, comment: str | None, as_json: bool) -> None:
    """Record the prosecutor's mark on a scheduled item."""
    from evidence_store.disclosure import mark_item

    with _coded(as_json):
        system, actor = _acting()
        item = mark_item(system, actor, case_ref, schedule, number, mark, comment)
    _show(item, as_json)


@disclosure.command("list")
@click.option("--case", "case_ref", required=True)
@click.option("--schedule", type=click.Choice(["MG6C", "MG6D", "MG6E", "not_relevant"]))
@json_option
def list_items(case_ref: str, schedule: str | None, as_json: bool) -> None:
    """The case's items, and the exhibits no item covers yet."""
    from evidence_store.disclosure import case_items, undecided_exhibits

    with _coded(as_json):
        system, actor = _acting()
        items = [i.to_dict() for i in case_items(system, actor, case_ref, schedule)]
        undecided = undecided_exhibits(system, actor, case_ref)
    if as_json:
        _emit_json({"items": items, "undecided": undecided})
        return
    view = Table("schedule", "no.", "exhibits", "description", "sensitivity", "MG6E", "CPS")
    for item in items:
        view.add_row(
            str(item["schedule"]),
            str(item["number"] or ""),
            ", ".join(map(str, item["exhibits"])),
            str(item["description"]),
            str(item["sensitivity"] or ""),
            "yes" if item["undermines"] else "",
            str(item["cps_mark"] or ""),
        )
    out.print(view)
    out.print(f"{len(items)} item(s); not yet decided: {', '.join(undecided) or 'none'}")


@disclosure.command("schedule")
@click.option("--case", "case_ref", required=True)
@click.option("--schedule", type=click.Choice(["MG6C", "MG6D", "MG6E"]), required=True)
@click.option(
    "--out", "out_file", type=click.Path(path_type=Path), required=True, help="The file to write: .pdf or .csv."
)
@click.option("--officer", help="The disclosure officer's name on the form (default: the user).")
@json_option
def schedule(case_ref: str, schedule: str, out_file: Path, officer: str | None, as_json: bool) -> None:
    """Write a schedule (PDF or CSV, by the file's suffix) generated from the decisions; an MG6D with no items
    is the endorsed nil return."""
    from evidence_store.disclosure import case_items, schedule_csv, schedule_pdf

    with _coded(as_json):
        system, actor = _acting()
        items = case_items(system, actor, case_ref, schedule)
        if out_file.suffix.lower() == ".pdf":
            out_file.write_bytes(schedule_pdf(case_ref, schedule, items, officer or actor.name))
        else:
            out_file.write_text(schedule_csv(case_ref, schedule, items, officer or actor.name))
    if as_json:
        _emit_json({"schedule": schedule, "items": len(items), "out": str(out_file)})
    else:
        out.print(f"{schedule}: {len(items)} item(s) written to {out_file}")
