"""The `exhibit` command: scripting and operations over the evidence store.

Every command takes `--json` for machine-readable output. Failures print `[EX-CODE] message` (or a JSON
error object) and exit non-zero; never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from evidence_store.access import ROLES, Actor
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from schemas.errors import ExhibitError
from schemas.records import ExhibitKind

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


EXIT_FAILED = 1  # the command ran and found or caused a failure (verification failed, a file refused)
EXIT_ERROR = 2  # the command could not run (bad input, not initialised, store unreachable)

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def _fail(exc: ExhibitError, as_json: bool) -> NoReturn:
    if as_json:
        _emit_json({"ok": False, "error": exc.to_dict()})
    else:
        err.print(f"[bold red]\\[{exc.code}][/] {exc.message}")
    sys.exit(EXIT_ERROR)


@contextmanager
def _coded(as_json: bool) -> Iterator[None]:
    try:
        yield
    except ExhibitError as exc:
        _fail(exc, as_json)


def _open() -> EvidenceSystem:
    return EvidenceSystem.open(Settings.from_env())


def _acting() -> tuple[EvidenceSystem, Actor]:
    """The deployment and the registered user this command runs as (--as, EXHIBIT_USER, or the login name)."""
    from evidence_store.access import resolve_actor

    system = _open()
    ctx = click.get_current_context()
    name = (ctx.find_root().obj or {}).get("as_user") or system.settings.actor
    return system, resolve_actor(system, name)


reason_option = click.option("--reason", help="Why you are looking: recorded with the view on the custody ledger.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--as", "as_user", envvar="EXHIBIT_USER", help="Run as this Exhibit user (default: your login name).")
@click.pass_context
def cli(ctx: click.Context, as_user: str | None) -> None:
    """Exhibit: digital evidence management with verifiable custody."""
    ctx.obj = {"as_user": as_user}


def main() -> None:
    """Entry point: coded errors are handled per command; anything unforeseen still gets a code, not a trace."""
    try:
        cli(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("EXHIBIT_DEBUG"):
            raise
        err.print(f"[bold red]\\[EX-INTERNAL][/] unexpected {type(exc).__name__}: {exc} (EXHIBIT_DEBUG=1 shows where)")
        sys.exit(EXIT_ERROR)


@cli.command()
@click.option("--admin", "admin_name", help="Name of the first admin user (default: your login name).")
@json_option
def init(admin_name: str | None, as_json: bool) -> None:
    """Create keys, the catalog schema, the object store and the first admin (safe to repeat)."""
    from evidence_store.access import bootstrap_admin

    with _coded(as_json):
        settings = Settings.from_env()
        system, facts = EvidenceSystem.initialise(settings)
        admin = bootstrap_admin(system, admin_name or settings.actor)
        facts["admin_created"] = admin.name if admin else None
        system.close()
    if as_json:
        _emit_json({"ok": True, **facts})
        return
    for name, value in facts.items():
        if value is not None:
            out.print(f"{name:>14}: {value}")
    out.print("[green]ready[/]")


@cli.group()
def case() -> None:
    """Cases."""


@case.command("create")
@click.argument("reference")
@click.option("--title", required=True)
@click.option("--officer", "officer_in_charge", help="Officer in charge.")
@click.option("--retention", "retention_class", default="standard", show_default=True)
@json_option
def case_create(reference: str, title: str, officer_in_charge: str | None, retention_class: str, as_json: bool) -> None:
    """Create a case REFERENCE (a URN or operation name); you become its first member."""
    from evidence_store.cases import create_case

    with _coded(as_json):
        system, actor = _acting()
        created = create_case(
            system,
            actor,
            reference,
            title,
            officer_in_charge=officer_in_charge,
            retention_class=retention_class,
        )
    record = {"case": created.reference, "title": created.title, "officer_in_charge": created.officer_in_charge}
    if as_json:
        _emit_json(record)
    else:
        out.print(f"case [bold]{created.reference}[/] created: {created.title}")


@case.command("show")
@click.argument("reference")
@reason_option
@json_option
def case_show(reference: str, reason: str | None, as_json: bool) -> None:
    """List a case's exhibits."""
    from evidence_store.inspect import case_summary

    with _coded(as_json):
        system, actor = _acting()
        summary = case_summary(system, actor, reference, reason=reason)
    if as_json:
        _emit_json(summary)
        return
    out.print(f"[bold]{summary['case']}[/] {summary['title']} ({summary['status']})")
    table = Table("id", "ref", "kind", "size", "sha256", "source", "warnings")
    for e in summary["exhibits"]:
        table.add_row(
            str(e["exhibit_id"]),
            e["exhibit_ref"],
            e["kind"],
            f"{e['size']:,}",
            e["sha256"][:16] + "…",
            e["source_name"],
            ", ".join(e["warnings"]),
        )
    out.print(table)


@case.command("add-member")
@click.argument("reference")
@click.argument("user")
@json_option
def case_add_member(reference: str, user: str, as_json: bool) -> None:
    """Give USER access to case REFERENCE (supervisors of the case, and admins)."""
    from evidence_store.access import add_member

    with _coded(as_json):
        system, actor = _acting()
        add_member(system, actor, reference, user)
    if as_json:
        _emit_json({"case": reference, "member": user})
    else:
        out.print(f"{user} is a member of {reference}")


@cli.group()
def user() -> None:
    """Users and roles."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
@click.option("--display-name", help="Full name, e.g. 'DC Jane Smith'.")
@click.option("--password-stdin", is_flag=True, help="Read a password (for the review app) from standard input.")
@json_option
def user_add(name: str, role: str, display_name: str | None, password_stdin: bool, as_json: bool) -> None:
    """Add a user (admins only)."""
    from evidence_store.access import add_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with _coded(as_json):
        system, actor = _acting()
        added = add_user(system, actor, name, role, display_name=display_name, password=password)
    if as_json:
        _emit_json({"user": added.name, "role": added.role})
    else:
        out.print(f"user {added.name} added as {added.role}")


def _progress(enabled: bool) -> tuple[Any, Callable[[], None]]:
    from evidence_store.intake import IngestProgress

    if not enabled:
        return IngestProgress(), lambda: None
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task("ingest", total=None)
    bar.start()

    def planned(files: int, total: int) -> None:
        bar.update(task, total=total, description=f"ingesting {files} file(s)")

    return (
        IngestProgress(planned=planned, advanced=lambda n: bar.advance(task, n)),
        bar.stop,
    )


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--case", "case_ref", required=True, help="Case reference.")
@click.option("--by", required=True, help="The officer who produced or seized it (initials make the reference).")
@click.option(
    "--kind",
    type=click.Choice(["auto", *(k.value for k in ExhibitKind)]),
    default="auto",
    show_default=True,
    help="Exhibit kind; auto decides from the content (magic bytes), never the file name.",
)
@click.option("--exhibit-ref", help="Exhibit reference such as JS/1 (one file only; default: next for --by).")
@click.option("--description")
@click.option("--seized-from", help="Person or place it was seized from.")
@click.option("--seized-at", help="When it was seized (ISO 8601).")
@json_option
def ingest(
    paths: tuple[str, ...],
    case_ref: str,
    by: str,
    kind: str,
    exhibit_ref: str | None,
    description: str | None,
    seized_from: str | None,
    seized_at: str | None,
    as_json: bool,
) -> None:
    """Hash, encrypt, store and record files and folders as exhibits of a case."""
    from evidence_store.intake import IngestRequest
    from evidence_store.intake import ingest as run_ingest

    request = IngestRequest(
        case_ref=case_ref,
        by=by,
        kind=kind,
        exhibit_ref=exhibit_ref,
        description=description,
        seized_from=seized_from,
        seized_at=seized_at,
    )
    progress, stop = _progress(enabled=not as_json and err.is_terminal)
    try:
        with _coded(as_json):
            system, actor = _acting()
            outcomes = run_ingest(system, actor, paths, request, progress)
    finally:
        stop()
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        _emit_json([o.to_dict() for o in outcomes])
    else:
        table = Table("id", "ref", "kind", "size", "sha256", "note")
        for o in outcomes:
            if o.ok:
                note = f"same bytes as exhibit {o.duplicate_of}: receipt recorded" if o.duplicate_of else ""
                note = "; ".join([note, *(w["code"] for w in o.warnings)]).strip("; ")
                table.add_row(str(o.exhibit_id), o.exhibit_ref, o.kind, f"{o.size:,}", o.sha256, note)
        if table.row_count:
            out.print(table)
        for o in failed:
            assert o.error is not None
            err.print(f"[bold red]\\[{o.error['code']}][/] {o.error['message']}")
    if failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--case", "case_ref", help="Limit the catalog and object checks to one case.")
@click.option("--objects", is_flag=True, help="Also re-read, decrypt and re-hash every stored object.")
@json_option
def verify(case_ref: str | None, objects: bool, as_json: bool) -> None:
    """Verify the custody chain, every signature, the catalog and (--objects) the stored bytes."""
    from evidence_store.verification import verify as run_verify

    with _coded(as_json):
        system, actor = _acting()
        report = run_verify(system, actor, case_ref=case_ref, objects=objects)
    if as_json:
        _emit_json(report.to_dict())
    else:
        ledger = report.ledger
        if ledger.ok:
            out.print(
                f"[green]ledger ok[/]: {ledger.checked} events, chain and signatures verify (head {ledger.head_hash})"
            )
        else:
            out.print(f"[bold red]ledger FAILED[/] at event {ledger.first_bad_seq}: \\[{ledger.code}] {ledger.reason}")
        out.print(f"catalog: {report.exhibits_checked} exhibits checked against their signed receipts")
        if objects:
            out.print(f"objects: {report.objects_verified}/{report.objects_checked} re-hashed and verified")
        for problem in report.problems:
            where = f" (exhibit {problem.exhibit_id})" if problem.exhibit_id else ""
            out.print(f"[bold red]\\[{problem.code}][/]{where} {problem.message}")
        out.print("[bold green]VERIFIED[/]" if report.ok else "[bold red]NOT VERIFIED[/]")
    if not report.ok:
        sys.exit(EXIT_FAILED)


@cli.group()
def custody() -> None:
    """Chain-of-custody records."""


@custody.command("show")
@click.argument("exhibit")
@reason_option
@json_option
def custody_show(exhibit: str, reason: str | None, as_json: bool) -> None:
    """Every custody event of EXHIBIT (an id, or CASE:REF)."""
    from evidence_store.inspect import custody_history

    with _coded(as_json):
        system, actor = _acting()
        history = custody_history(system, actor, exhibit, reason=reason)
    if as_json:
        _emit_json(history)
        return
    out.print(f"[bold]{history['case']}:{history['exhibit_ref']}[/] (exhibit {history['exhibit_id']})")
    table = Table("seq", "time (UTC)", "action", "actor", "role", "details")
    for e in history["events"]:
        summary = e["reason"] or ", ".join(f"{k}={v}" for k, v in e["details"].items() if k in ("source_name", "key"))
        table.add_row(str(e["seq"]), e["recorded_at"], e["action"], e["actor"], e["role"], summary)
    out.print(table)


@custody.command("proof")
@click.argument("exhibit")
@click.option(
    "--out", "out_file", type=click.Path(path_type=Path), required=True, help="Where to write the proof (JSON)."
)
@click.option(
    "--since", type=int, default=None, help="Add a consistency proof from the checkpoint of this many events."
)
@json_option
def custody_proof(exhibit: str, out_file: Path, since: int | None, as_json: bool) -> None:
    """Write a self-contained, offline-verifiable proof of EXHIBIT's custody history."""
    from evidence_store.custody import exhibit_proof

    with _coded(as_json):
        system, actor = _acting()
        document = exhibit_proof(system, actor, exhibit, since=since)
    out_file.write_text(json.dumps(document, indent=1, sort_keys=True))
    summary = {
        "out": str(out_file),
        "events": len(document["events"]),
        "checkpoint": document["checkpoint"]["tree_size"],
        "key_id": document["checkpoint"]["key_id"],
    }
    if as_json:
        _emit_json(summary)
    else:
        out.print(
            f"wrote {out_file}: {summary['events']} events proven in the checkpoint of {summary['checkpoint']} events "
            f"(signed by {summary['key_id']}); verify with `exhibit custody verify-proof {out_file} --key PUBKEY.pem`"
        )


@custody.command("verify-proof")
@click.argument("proof_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--key",
    "keys",
    type=click.Path(path_type=Path, exists=True),
    multiple=True,
    required=True,
    help="Trusted Ed25519 public key (PEM), or a folder of *.pub.pem; repeat for older keys.",
)
@json_option
def custody_verify_proof(proof_file: Path, keys: tuple[Path, ...], as_json: bool) -> None:
    """Check a custody proof offline: no server, no database, only the file and the public key."""
    from evidence_store.errors import ProofFormatError
    from evidence_store.ledger import public_key_raw, signing_key_id
    from evidence_store.proofs import verify_exhibit_proof

    trusted: dict[str, bytes] = {}
    try:
        for path in keys:
            for pem in sorted(path.glob("*.pub.pem")) if path.is_dir() else [path]:
                raw = public_key_raw(pem.read_bytes())
                trusted[signing_key_id(raw)] = raw
        document = json.loads(proof_file.read_text())
    except ValueError as exc:
        _fail(ProofFormatError(f"cannot read the proof or a key: {exc}"), as_json)
    report = verify_exhibit_proof(document, trusted)
    if as_json:
        _emit_json(report.to_dict())
    else:
        ex = report.exhibit
        out.print(f"exhibit {ex.get('case')}:{ex.get('exhibit_ref')} sha256 {ex.get('original', {}).get('sha256')}")
        out.print(f"{report.events_checked} events checked against the signed checkpoint")
        for problem in report.problems:
            out.print(f"[bold red]\\[EX-PROOF-INVALID][/] {problem}")
        out.print("[bold green]PROOF VALID[/]" if report.ok else "[bold red]PROOF INVALID[/]")
    if not report.ok:
        sys.exit(EXIT_FAILED)


@cli.command("export-listing")
@click.argument("exhibit")
@click.option("--format", "fmt", type=click.Choice(["dfxml", "hashdeep"]), default="dfxml", show_default=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@reason_option
@json_option
def export_listing_command(exhibit: str, fmt: str, out_path: Path, reason: str | None, as_json: bool) -> None:
    """A device image's file listing as DFXML (fiwalk's layout) or a hashdeep manifest (`hashdeep -a -k`)."""
    from evidence_store.device_images import export_listing

    with _coded(as_json):
        system, actor = _acting()
        written = export_listing(system, actor, exhibit, fmt, out_path, reason=reason)
    if as_json:
        _emit_json(written)
    else:
        out.print(f"{written['entries']:,} entries of {written['exhibit_ref']} written to {written['out']} ({fmt})")


@cli.group()
def hashset() -> None:
    """Known-file hash sets (NSRL RDS, md5sum/sha256sum, hashdeep lists) matched against device listings."""


@hashset.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="What to call the set in listings (unique).")
@click.option(
    "--kind",
    type=click.Choice(["known", "known_bad"]),
    default="known",
    show_default=True,
    help="known: benign files to hide; known_bad: files that raise an alert.",
)
@click.option("--format", "fmt", help="nsrl-rds, md5sum, hashdeep or digest-path (default: told from the file).")
@json_option
def hashset_import(path: str, name: str, kind: str, fmt: str | None, as_json: bool) -> None:
    """Import a hash set (analysts and admins); the file itself is stored and the import is on the ledger."""
    from evidence_store.hashsets import import_hashset

    with _coded(as_json):
        system, actor = _acting()
        imported = import_hashset(system, actor, path, name=name, kind=kind, format=fmt)
    if as_json:
        _emit_json(imported)
        return
    out.print(f"{imported['name']} ({imported['kind']}, {imported['format']}): {imported['entries']:,} hashes")
    if imported["bad_lines"]:
        out.print(f"[yellow]{imported['bad_lines']:,} line(s) could not be read, e.g.:[/]")
        for w in imported["warnings"][:5]:
            out.print(f"  line {w['line']}: \\[{w['code']}] {w['message']}")


@hashset.command("list")
@json_option
def hashset_list(as_json: bool) -> None:
    """The imported hash sets."""
    from evidence_store.hashsets import list_hashsets

    with _coded(as_json):
        sets = list_hashsets(_open())
    if as_json:
        _emit_json({"hashsets": sets})
        return
    for h in sets:
        out.print(f"{h['name']:<24} {h['kind']:<10} {h['entries']:>12,}  {h['format']:<12} {h['source_name']}")


@cli.group()
def keys() -> None:
    """Service signing key and master encryption key."""


@keys.command("list")
@json_option
def keys_list(as_json: bool) -> None:
    """Current key ids and where the public keys are (give those to anyone verifying proofs)."""
    from evidence_store.keys import list_keys

    with _coded(as_json):
        listing = list_keys(_open())
    if as_json:
        _emit_json(listing)
        return
    out.print(f"signing key: {listing['signing']['current']}")
    for path in listing["signing"]["public_keys"]:
        out.print(f"  public key: {path}")
    out.print(f"master key:  {listing['master']['current']} (in {listing['master']['folder']})")


@keys.command("rotate")
@click.option("--signing", "which", flag_value="signing", help="A new service signing key.")
@click.option("--master", "which", flag_value="master", help="A new master key for new objects.")
@json_option
def keys_rotate(which: str | None, as_json: bool) -> None:
    """Rotate a key (admins); old keys are kept so old events and objects still verify."""
    from evidence_store.keys import rotate_master_key, rotate_signing_key

    if which is None:
        raise click.UsageError("say which key: --signing or --master")
    with _coded(as_json):
        system, actor = _acting()
        details = rotate_signing_key(system, actor) if which == "signing" else rotate_master_key(system, actor)
    if as_json:
        _emit_json(details)
    else:
        out.print(f"{which} key rotated: {details['previous_key_id']} -> {details['new_key_id']}")


@cli.command()
@json_option
def reindex(as_json: bool) -> None:
    """Rebuild the review app's indexes (exhibit facts, device file index) from the stored analysis tables."""
    from evidence_store.review import rebuild_indexes

    with _coded(as_json):
        system, actor = _acting()
        counts = rebuild_indexes(system, actor)
    if as_json:
        _emit_json(counts)
    else:
        out.print(
            f"{counts['exhibits_with_facts']} exhibit(s) with time/place facts; {counts['device_listings']} device "
            f"listing(s), {counts['file_rows']:,} file rows indexed"
        )


@cli.command()
@json_option
def checkpoint(as_json: bool) -> None:
    """Sign a Merkle checkpoint over every custody event so far (also stored in the object store)."""
    from evidence_store.custody import make_checkpoint

    with _coded(as_json):
        system, actor = _acting()
        made = make_checkpoint(system, actor)
    if as_json:
        _emit_json(made.to_dict())
    else:
        out.print(f"checkpoint: {made.tree_size} events, root {made.root}, signed by {made.key_id}")


@cli.command()
@click.argument("exhibit")
@reason_option
@json_option
def show(exhibit: str, reason: str | None, as_json: bool) -> None:
    """An exhibit: record, digests, derivatives and analysis results (EXHIBIT is an id or CASE:REF)."""
    from evidence_store.inspect import exhibit_record

    with _coded(as_json):
        system, actor = _acting()
        record = exhibit_record(system, actor, exhibit, reason=reason)
    if as_json:
        _emit_json(record)
        return
    o = record["original"]
    out.print(f"[bold]{record['case']}:{record['exhibit_ref']}[/] (exhibit {record['exhibit_id']}) — {record['kind']}")
    for label, value in (
        ("source", record["source_name"]),
        ("producer", record["producer"]),
        ("description", record["description"]),
        ("received", record["received_at"]),
        ("media type", o["media_type"]),
        ("size", f"{o['size']:,} bytes"),
        ("MD5", o["md5"]),
        ("SHA-1", o["sha1"]),
        ("SHA-256", o["sha256"]),
        ("encryption", f"{o['encryption']['alg']} (master key {o['encryption']['key_id']})"),
        ("custody events", record["custody_events"]),
    ):
        if value not in (None, ""):
            out.print(f"{label:>15}: {value}")
    for w in [*record["warnings"], *record["analysis_warnings"]]:
        source = f" ({w['source']})" if w.get("source") else ""
        out.print(f"[yellow]{'warning':>15}: \\[{w['code']}] {w['message']}{source}[/]")
    for seg in record["segments"]:
        out.print(f"{'segment':>15}: {seg['position']} {seg['name']} {seg['size']:,} bytes sha256 {seg['sha256']}")
    device = record.get("device_verification")
    if device:
        verdict = "[green]verified[/]" if device["verified"] else "[red]NOT VERIFIED[/]"
        stored = device["stored_md5"] or "none stored"
        out.print(f"{'acquisition':>15}: {verdict} — stored MD5 {stored}, media MD5 {device['computed_md5']}")
        for v in record.get("device_volumes", []):
            what = v["file_system"] or v["description"]
            out.print(f"{'volume':>15}: {v['volume_system']} sectors {v['start_sector']}+{v['sector_count']} {what}")
    for t in record["times"]:
        when = t["utc"] or f"{t['local']} (local, zone unknown)"
        out.print(f"{t['what']:>15}: {when} — {t['source']}; {t['reliability']}")
    by_role: dict[str, list[dict[str, Any]]] = {}
    for d in record["derivatives"]:
        by_role.setdefault(d["role"], []).append(d)
    for role, made in by_role.items():
        d, distinct = made[-1], len({m["sha256"] for m in made})  # a re-run records the same bytes again
        count = f" ×{distinct}" if distinct > 1 else ""
        out.print(f"{'derivative':>15}: {role}{count} {d['sha256'][:16]}… by {d['tool']} {d['tool_version']}")
    for a in record["analysis"]:
        out.print(f"{'analysis':>15}: {a['table']} ({a['rows']} rows) by {a['tool']} {a['tool_version']}")
    if "faces" in record:
        f = record["faces"]
        out.print(f"{'faces':>15}: {f['detections']} detection(s) in {f['tracks']} track(s) ({f['model']})")


@cli.command()
@click.argument("table_name", metavar="TABLE")
@click.option("--case", "case_ref", required=True)
@click.option("--exhibit", "exhibit", help="One exhibit (id or CASE:REF).")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@reason_option
@json_option
def query(
    table_name: str, case_ref: str, exhibit: str | None, limit: int | None, reason: str | None, as_json: bool
) -> None:
    """Rows of an analysis table (e.g. warnings) for a case or one exhibit.

    `face_detections` comes with each face's person and without its encoding; `persons` lists the case's persons
    with their appearances."""
    from evidence_store.analysis import read_table
    from evidence_store.cases import get_exhibit
    from evidence_store.faces import case_persons, face_detections_with_persons
    from pipelines.cli_faces import print_detections, print_persons

    with _coded(as_json):
        system, actor = _acting()
        exhibit_id = None
        if exhibit is not None:
            with system.catalog.reading() as session:
                exhibit_id = get_exhibit(session, exhibit).id
        if table_name in ("persons", "case_persons"):
            found = [p.to_dict() for p in case_persons(system, actor, case_ref, reason=reason)]
            if exhibit_id is not None:
                found = [
                    {**p, "appearances": [a for a in p["appearances"] if a["exhibit_id"] == exhibit_id]} for p in found
                ]
                found = [p for p in found if p["appearances"]]
        elif table_name == "face_detections":
            detections = face_detections_with_persons(system, actor, case_ref, exhibit_id, reason=reason)[:limit]
        else:
            table = read_table(system, actor, table_name, case_ref, exhibit_id, limit=limit, reason=reason)
    if table_name in ("persons", "case_persons"):
        if as_json:
            _emit_json({"table": "persons", "case": case_ref, "persons": found, "count": len(found)})
        else:
            print_persons(found)
        return
    if table_name == "face_detections":
        if as_json:
            _emit_json({"table": table_name, "case": case_ref, "rows": detections, "count": len(detections)})
        else:
            print_detections(detections)
        return
    rows = table.to_pylist()
    if as_json:
        _emit_json({"table": table_name, "case": case_ref, "rows": rows, "count": len(rows)})
        return
    view = Table(*table.column_names)
    for row in rows:
        view.add_row(*(str(row[c]) for c in table.column_names))
    out.print(view)
    out.print(f"{len(rows)} row(s)")


@cli.command()
@click.option("--case", "case_ref", required=True)
@click.option(
    "--max-distance",
    type=click.IntRange(0, 64),
    default=10,
    show_default=True,
    help="Differing pHash bits still counted alike (resized or re-saved copies: 0-6; unrelated pictures: ~32).",
)
@reason_option
@json_option
def similar(case_ref: str, max_distance: int, reason: str | None, as_json: bool) -> None:
    """Near-duplicate pictures across a case's exhibits: photos and video keyframes, by perceptual hash."""
    from evidence_store.similarity import similar_pictures

    with _coded(as_json):
        system, actor = _acting()
        pairs = similar_pictures(system, actor, case_ref, max_distance=max_distance, reason=reason)
    if as_json:
        _emit_json({"case": case_ref, "max_distance": max_distance, "pairs": pairs, "count": len(pairs)})
        return

    def where(picture: dict[str, Any]) -> str:
        at = f" at {picture['time_s']:g} s" if picture["time_s"] is not None else ""
        return f"{picture['exhibit_ref']} ({picture['what']}{at})"

    for pair in pairs:
        out.print(f"{pair['distance']:>3} bits  {where(pair['first'])}  ~  {where(pair['second'])}")
    out.print(f"{len(pairs)} pair(s) within {max_distance} bits")


@cli.command()
@click.argument("exhibit")
@click.option("--out", "out_file", type=click.Path(path_type=Path), required=True, help="A new file for the bytes.")
@click.option("--reason", required=True, help="Why you need the original bytes (recorded on the ledger).")
@json_option
def get(exhibit: str, out_file: Path, reason: str, as_json: bool) -> None:
    """Write the decrypted original of EXHIBIT to a new file, checking its SHA-256 on the way."""
    from evidence_store.inspect import download_original

    with _coded(as_json):
        system, actor = _acting()
        result = download_original(system, actor, exhibit, out_file, reason)
    if as_json:
        _emit_json(result)
    else:
        out.print(f"wrote {result['out']} ({result['size']:,} bytes, sha256 {result['sha256']} verified)")


@cli.command()
@click.option("--case", "case_ref", help="Every exhibit of this case.")
@click.option("--exhibit", help="One exhibit: id, uid or CASE:REF.")
@click.option(
    "--via",
    type=click.Choice(["auto", "server", "here"]),
    default="auto",
    show_default=True,
    help="Submit to the running Dagster server, or run in this process (auto: the server if it answers).",
)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow submitted runs to the end.")
@json_option
def analyze(case_ref: str | None, exhibit: str | None, via: str, wait: bool, as_json: bool) -> None:
    """Run the exhibit pipeline (ingest check, analyses, fixity and custody checks) without the UI."""
    from evidence_store.access import SERVICE
    from evidence_store.faces import cluster_cases_with_new_faces, newest_result_id
    from evidence_store.processing import exhibit_uids
    from pipelines.orchestration import LaunchedRun, dagster_url, run_here, server_answers, submit_to_server

    def report(run: LaunchedRun) -> None:
        if not as_json:
            colour = {"SUCCESS": "green", "FAILURE": "red"}.get(run.status, "yellow")
            out.print(
                f"{run.uid}  run {run.run_id}  [{colour}]{run.status}[/]" + (f"  {run.error}" if run.error else "")
            )

    with _coded(as_json):
        system, actor = _acting()
        uids = exhibit_uids(system, actor, case_ref=case_ref, exhibit=exhibit)
        url = dagster_url()
        persons: list[Any] = []
        if via == "server" or (via == "auto" and server_answers(url)):
            runs = submit_to_server(system.settings, url, uids, wait, report)  # its persons sensor clusters
        else:
            before = newest_result_id(system)
            runs = run_here(system.settings, uids, report)
            # No daemon here to run the persons sensor: cluster the cases whose faces are new, as it would.
            persons = cluster_cases_with_new_faces(system, SERVICE, before)
    failed = [r for r in runs if r.status == "FAILURE"]
    if as_json:
        clustered = [{"case": p.case_ref, "persons": p.persons, "appearances": p.appearances} for p in persons]
        _emit_json({"runs": [r.to_dict() for r in runs], "failed": len(failed), "persons": clustered})
    else:
        out.print(f"{len(runs)} run(s), {len(failed)} failed")
        for p in persons:
            out.print(f"{p.case_ref}: faces clustered into {p.persons} person(s) ({p.appearances} appearance(s))")
    if failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen here (loopback unless you mean it).")
@click.option("--port", default=3000, show_default=True, type=int, help="The Dagster webserver's port.")
@click.option("--no-daemon", is_flag=True, help="No sensors, schedules or run queue (the UI only).")
@click.option("--review-port", default=8501, show_default=True, type=int, help="The review app's port.")
@click.option("--no-review", is_flag=True, help="Dagster only, no review app.")
@json_option
def serve(host: str, port: int, no_daemon: bool, review_port: int, no_review: bool, as_json: bool) -> None:
    """Start the Dagster webserver and daemon (DAGSTER_HOME in the deployment) and the review app; Ctrl-C
    stops them."""
    import signal
    import time

    from pipelines.orchestration import serve as start

    with _coded(as_json):
        settings = Settings.from_env()
        _open().close()  # a deployment that is not initialised fails here, with its code, not in a child's log
        served = start(settings, host, port, daemon=not no_daemon, review_port=None if no_review else review_port)
    info = {
        "urls": served.urls,
        "dagster_home": str(served.dagster_home),
        "pids": {name: proc.pid for name, proc in served.processes.items()},
    }
    if as_json:
        _emit_json(info)
    else:
        out.print(f"Dagster UI: {served.urls['dagster']}   (DAGSTER_HOME={served.dagster_home})")
        if "review" in served.urls:
            out.print(f"Review app: {served.urls['review']}   (sign in as a user of the store)")
        out.print("Ctrl-C stops it.")
    sys.stdout.flush()
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(p.poll() is None for p in served.processes.values()):
            time.sleep(0.5)
    finally:
        served.stop()
    exited = [name for name, p in served.processes.items() if p.returncode not in (0, -signal.SIGINT, None)]
    if exited and not stopping:
        err.print(f"[bold red]\\[EX-SERVE-EXITED][/] {', '.join(exited)} stopped; see {settings.home}/logs")
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--concurrency", "-c", default=1, show_default=True, type=int, help="Steps this worker runs at once.")
@click.option("--name", help="Worker name (default: celery@HOSTNAME).")
def worker(concurrency: int, name: str | None) -> None:
    """Run a Celery worker for the Celery executor (EXHIBIT_EXECUTOR=celery), on this or another machine."""
    from pipelines.dagster_home import ensure_dagster_home
    from pipelines.orchestration import worker_command

    with _coded(False):
        home = ensure_dagster_home(Settings.from_env())
        command = worker_command(concurrency, name)
    os.environ["DAGSTER_HOME"] = str(home)
    os.execv(command[0], command)


@cli.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None, help="Where to write sample files.")
@json_option
def demo(out_dir: Path | None, as_json: bool) -> None:
    """Build a sample case end to end from generated files, then verify it."""
    from pipelines.demo import run_demo

    with _coded(as_json):
        summary = run_demo(Settings.from_env(), out_dir, echo=None if as_json else out.print)
    if as_json:
        _emit_json(summary)
    if not summary["verification"]["ok"]:
        sys.exit(EXIT_FAILED)


# Command groups kept in their own modules, registered on `cli` when it is imported.
from pipelines import cli_bundles, cli_disclosure, cli_faces, cli_retention, cli_uco  # noqa: E402, F401

if __name__ == "__main__":
    main()
