"""`exhibit retention|hold|dispose ...`: retention classes, case outcomes, legal holds and two-person disposal.

Registered on the `exhibit` group by `pipelines.cli`. Nothing here deletes anything except `dispose approve`,
run by a supervisor who did not make the request.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from pipelines.cli import _acting, _coded, _emit_json, _open, cli, json_option, out

if TYPE_CHECKING:
    from evidence_store.retention import DisposalRequest

why = click.option("--reason", help="Why: recorded on the custody ledger.")
why_required = click.option("--reason", required=True, help="Why: recorded on the custody ledger.")


@cli.group()
def retention() -> None:
    """Retention classes, case outcomes (which start CPIA periods), and the sweep that finds what is due."""


@retention.command("classes")
@json_option
def classes(as_json: bool) -> None:
    """The retention classes and the rule each follows."""
    from evidence_store.retention import RETENTION_CLASSES

    if as_json:
        _emit_json({c.name: {"title": c.title, "basis": c.basis, "rule": c.rule} for c in RETENTION_CLASSES.values()})
        return
    for c in RETENTION_CLASSES.values():
        out.print(f"[bold]{c.name}[/]: {c.title}\n  {c.basis}")


@retention.command("status")
@click.option("--case", "case_ref", required=True)
@json_option
def status(case_ref: str, as_json: bool) -> None:
    """Each exhibit's retention class, when it is due (disposal or review), holds and open requests."""
    from evidence_store.retention import retention_status

    with _coded(as_json):
        system, actor = _acting()
        states = retention_status(system, actor, case_ref)
    if as_json:
        _emit_json([s.to_dict() for s in states])
        return
    table = Table("exhibit", "class", "due", "holds", "request", "state")
    today = date.today()
    for s in states:
        holds = ", ".join(map(str, s.holds))
        request = str(s.open_request or "")
        table.add_row(
            s.exhibit_ref, f"{s.retention_class} ({s.class_from})", s.due_text(), holds, request, s.state_text(today)
        )
    out.print(table)


@retention.command("set")
@click.option("--case", "case_ref", required=True)
@click.argument("retention_class")
@click.option("--exhibit", help="Only this exhibit (e.g. JS/2); without it, the case's class.")
@why
@json_option
def set_class(case_ref: str, retention_class: str, exhibit: str | None, reason: str | None, as_json: bool) -> None:
    """Set the retention class of the case, or of one exhibit (see `exhibit retention classes`)."""
    from evidence_store.retention import set_retention

    with _coded(as_json):
        system, actor = _acting()
        name = set_retention(system, actor, case_ref, retention_class, exhibit=exhibit, reason=reason)
    if as_json:
        _emit_json({"case": case_ref, "exhibit": exhibit, "retention_class": name})
        return
    out.print(f"{case_ref}{':' + exhibit if exhibit else ''}: retention class {name}")


@retention.command("outcome")
@click.option("--case", "case_ref", required=True)
@click.argument("outcome", type=click.Choice(["no_further_action", "discontinued", "acquitted", "convicted"]))
@click.option("--date", "outcome_date", required=True, help="YYYY-MM-DD of the decision or verdict.")
@click.option("--release-date", help="After a conviction: when the convicted person was released (YYYY-MM-DD).")
@why
@json_option
def outcome(
    case_ref: str, outcome: str, outcome_date: str, release_date: str | None, reason: str | None, as_json: bool
) -> None:
    """Record how the case ended: CPIA retention periods run from it."""
    from evidence_store.retention import record_outcome

    with _coded(as_json):
        system, actor = _acting()
        details = record_outcome(
            system, actor, case_ref, outcome, outcome_date, release_date=release_date, reason=reason
        )
    if as_json:
        _emit_json(details)
        return
    out.print(
        f"{case_ref}: {outcome} on {details['outcome_date']}" + (f", released {release_date}" if release_date else "")
    )


@retention.command("sweep")
@json_option
def sweep(as_json: bool) -> None:
    """Request disposal of everything whose retention has ended (as the service). Deletes nothing: a
    supervisor approves each request with `exhibit dispose approve`."""
    from evidence_store.access import SERVICE
    from evidence_store.retention import retention_sweep

    with _coded(as_json):
        report = retention_sweep(_open(), SERVICE)
    if as_json:
        _emit_json(report.to_dict())
        return
    for entry in report.requested:
        out.print(f"requested disposal {entry['request']}: {entry['case']}:{entry['exhibit']} (due {entry['due']})")
    for entry in report.held:
        out.print(f"held: {entry['case']}:{entry['exhibit']} (due {entry['due']}, holds {entry['legal_holds']})")
    for entry in report.reviews_due:
        out.print(f"review due: {entry['case']}:{entry['exhibit']} ({entry['retention_class']}, {entry['due']})")
    out.print(
        f"{len(report.requested)} requested, {len(report.held)} held, {len(report.reviews_due)} reviews due, "
        f"{report.waiting} not yet due; nothing deleted"
    )


@cli.group()
def hold() -> None:
    """Legal holds: while one is in force nothing under it can be disposed of."""


@hold.command("place")
@click.option("--case", "case_ref", required=True)
@click.option("--exhibit", help="Only this exhibit (and files extracted from it); without it, the whole case.")
@why_required
@click.option("--authority", help="Who asked for the hold (e.g. the force solicitor, a court order).")
@json_option
def hold_place(case_ref: str, exhibit: str | None, reason: str, authority: str | None, as_json: bool) -> None:
    """Place a legal hold."""
    from evidence_store.retention import place_hold

    with _coded(as_json):
        system, actor = _acting()
        hold_id = place_hold(system, actor, case_ref, exhibit=exhibit, reason=reason, authority=authority)
    if as_json:
        _emit_json({"hold": hold_id, "case": case_ref, "exhibit": exhibit})
        return
    out.print(f"legal hold {hold_id} on {case_ref}{':' + exhibit if exhibit else ''}")


@hold.command("release")
@click.option("--case", "case_ref", required=True)
@click.argument("hold_id", type=int)
@why_required
@json_option
def hold_release(case_ref: str, hold_id: int, reason: str, as_json: bool) -> None:
    """Release a legal hold (supervisors)."""
    from evidence_store.retention import release_hold

    with _coded(as_json):
        system, actor = _acting()
        release_hold(system, actor, case_ref, hold_id, reason=reason)
    if as_json:
        _emit_json({"hold": hold_id, "released": True})
        return
    out.print(f"legal hold {hold_id} released")


@hold.command("list")
@click.option("--case", "case_ref", required=True)
@json_option
def hold_list(case_ref: str, as_json: bool) -> None:
    """The case's legal holds, in force and released."""
    from evidence_store.retention import list_holds

    with _coded(as_json):
        system, actor = _acting()
        holds = list_holds(system, actor, case_ref)
    if as_json:
        _emit_json(holds)
        return
    table = Table("id", "on", "reason", "placed", "released")
    for h in holds:
        released = f"{h['released_by']} {h['released_at']}: {h['release_reason']}" if h["released_at"] else ""
        table.add_row(
            str(h["id"]), h["exhibit"] or "whole case", h["reason"], f"{h['placed_by']} {h['placed_at']}", released
        )
    out.print(table)


@cli.group()
def dispose() -> None:
    """Disposal: one person requests, a supervisor who is someone else approves; a signed certificate remains."""


def _show(request: DisposalRequest, as_json: bool) -> None:
    if as_json:
        _emit_json(request.to_dict())
        return
    decided = f", {request.status} by {request.decided_by}" if request.decided_by else ""
    out.print(
        f"disposal {request.id}: {request.case_ref}:{request.exhibit_ref} {request.status} "
        f"(requested by {request.requested_by}{decided})"
    )


@dispose.command("request")
@click.option("--case", "case_ref", required=True)
@click.argument("exhibit")
@why_required
@click.option("--before-due", is_flag=True, help="Before its retention period ends (say why in --reason).")
@json_option
def dispose_request(case_ref: str, exhibit: str, reason: str, before_due: bool, as_json: bool) -> None:
    """Ask for EXHIBIT (and files extracted from it) to be disposed of. Deletes nothing."""
    from evidence_store.retention import request_disposal

    with _coded(as_json):
        system, actor = _acting()
        request = request_disposal(system, actor, case_ref, exhibit, reason=reason, before_due=before_due)
    _show(request, as_json)


def _decide(request_id: int, approve: bool, reason: str, as_json: bool) -> None:
    from evidence_store.retention import decide_disposal

    with _coded(as_json):
        system, actor = _acting()
        request = decide_disposal(system, actor, request_id, approve=approve, reason=reason)
    _show(request, as_json)


@dispose.command("approve")
@click.argument("request_id", type=int)
@why_required
@json_option
def dispose_approve(request_id: int, reason: str, as_json: bool) -> None:
    """Approve a disposal request and carry it out (a supervisor other than the requester)."""
    _decide(request_id, True, reason, as_json)


@dispose.command("reject")
@click.argument("request_id", type=int)
@why_required
@json_option
def dispose_reject(request_id: int, reason: str, as_json: bool) -> None:
    """Reject a disposal request."""
    _decide(request_id, False, reason, as_json)


@dispose.command("list")
@click.option("--case", "case_ref", required=True)
@json_option
def dispose_list(case_ref: str, as_json: bool) -> None:
    """The case's disposal requests and what became of them."""
    from evidence_store.retention import list_disposals

    with _coded(as_json):
        system, actor = _acting()
        requests = list_disposals(system, actor, case_ref)
    if as_json:
        _emit_json([r.to_dict() for r in requests])
        return
    for request in requests:
        _show(request, False)


@dispose.command("certificate")
@click.argument("request_id", type=int)
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), help="CERT.json, .pdf or .txt")
@json_option
def dispose_certificate(request_id: int, out_file: Path | None, as_json: bool) -> None:
    """The signed disposal certificate: JSON (authoritative, signed), PDF or text."""
    import json

    from evidence_store.retention import certificate_pdf, certificate_text, get_certificate, verify_certificate

    with _coded(as_json):
        system, actor = _acting()
        certificate = get_certificate(system, actor, request_id)
        check = verify_certificate(certificate, system.public_keys())
    if out_file is not None:
        suffix = out_file.suffix.lower()
        if suffix == ".pdf":
            out_file.write_bytes(certificate_pdf(certificate))
        elif suffix == ".txt":
            out_file.write_text(certificate_text(certificate), encoding="utf-8")
        else:
            out_file.write_text(json.dumps(certificate, indent=1, sort_keys=True), encoding="utf-8")
    if as_json:
        _emit_json({"certificate": certificate, "signature_ok": check.ok, "check": check.reason})
        return
    out.print(certificate_text(certificate))
    out.print(f"signature: {'ok' if check.ok else 'FAILED'} ({check.reason})")
