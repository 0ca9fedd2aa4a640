"""`exhibit persons ...`: persons found by face clustering, users' decisions on them, reference matching.

Registered on the `exhibit` group by `pipelines.cli`. No output of these commands carries a face encoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from pipelines.cli import _acting, _coded, _emit_json, cli, json_option, out, reason_option


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "photo"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def print_persons(persons: list[dict[str, Any]]) -> None:
    view = Table("person", "name", "confirmed", "confidence", "appearances", "best face")
    for person in persons:
        best = person["appearances"][0] if person["appearances"] else None
        where = f"{best['exhibit_ref']} @ {_clock(best['time_s'])} box {best['box']}" if best else ""
        view.add_row(
            person["person_id"],
            person["name"] or "",
            "yes" if person["confirmed"] else "",
            f"{person['confidence']:.2f}",
            str(len(person["appearances"])),
            where,
        )
    out.print(view)
    out.print(f"{len(persons)} person(s)")


def print_detections(rows: list[dict[str, Any]]) -> None:
    view = Table("exhibit", "track", "time", "box", "quality", "person")
    for row in rows:
        view.add_row(
            row["exhibit_ref"],
            str(row["track"]),
            _clock(row["time_s"]),
            str(row["box"]),
            f"{row['quality']:.2f}",
            row["person_id"] or "",
        )
    out.print(view)
    out.print(f"{len(rows)} detection(s)")


@cli.group()
def persons() -> None:
    """Persons of a case: faces clustered across its exhibits; merge, split, name; match a reference photo."""


def _summary(summary: Any, as_json: bool) -> None:
    data = {
        "case": summary.case_ref,
        "persons": summary.persons,
        "appearances": summary.appearances,
        "pinned_by_users": summary.pinned,
        "threshold": summary.threshold,
        "result_sha256": summary.result_sha256,
    }
    if as_json:
        _emit_json(data)
    else:
        out.print(
            f"{summary.case_ref}: {summary.persons} person(s) from {summary.appearances} appearance(s) "
            f"({summary.pinned} placed by users' decisions), threshold {summary.threshold}"
        )


@persons.command("cluster")
@click.option("--case", "case_ref", required=True)
@click.option("--threshold", type=click.FloatRange(0.1, 1.0), default=0.5, show_default=True)
@json_option
def persons_cluster(case_ref: str, threshold: float, as_json: bool) -> None:
    """Cluster every face appearance of the case into persons now (users' decisions are kept)."""
    from evidence_store.faces import cluster_case

    with _coded(as_json):
        system, actor = _acting()
        summary = cluster_case(system, actor, case_ref, threshold)
    _summary(summary, as_json)


@persons.command("list")
@click.option("--case", "case_ref", required=True)
@reason_option
@json_option
def persons_list(case_ref: str, reason: str | None, as_json: bool) -> None:
    """The case's persons with their appearances (same as `exhibit query persons`)."""
    from evidence_store.faces import case_persons

    with _coded(as_json):
        system, actor = _acting()
        found = [p.to_dict() for p in case_persons(system, actor, case_ref, reason=reason)]
    if as_json:
        _emit_json({"case": case_ref, "persons": found, "count": len(found)})
    else:
        print_persons(found)


@persons.command("merge")
@click.option("--case", "case_ref", required=True)
@click.argument("person_ids", nargs=-1, required=True)
@click.option("--name", help="The merged person's name (needed when they were named differently).")
@click.option("--reason", help="Why: recorded with the decision on the custody ledger.")
@json_option
def persons_merge(
    case_ref: str, person_ids: tuple[str, ...], name: str | None, reason: str | None, as_json: bool
) -> None:
    """These persons are one: their faces go to the lowest id."""
    from evidence_store.faces import merge_persons

    with _coded(as_json):
        system, actor = _acting()
        summary = merge_persons(system, actor, case_ref, list(person_ids), name=name, reason=reason)
    _summary(summary, as_json)


def _face(text: str) -> tuple[int, int]:
    exhibit, _, track = text.rpartition(":")
    if not exhibit or not track.isdigit() or not exhibit.isdigit():
        raise click.BadParameter(f"{text!r}: give EXHIBIT_ID:TRACK, e.g. 12:3")
    return int(exhibit), int(track)


@persons.command("split")
@click.option("--case", "case_ref", required=True)
@click.argument("person_id")
@click.option("--face", "faces", multiple=True, required=True, help="EXHIBIT_ID:TRACK of an appearance to move out.")
@click.option("--reason", help="Why: recorded with the decision on the custody ledger.")
@json_option
def persons_split(case_ref: str, person_id: str, faces: tuple[str, ...], reason: str | None, as_json: bool) -> None:
    """These appearances are someone else: they become a new person."""
    from evidence_store.faces import split_person

    chosen = [_face(f) for f in faces]
    with _coded(as_json):
        system, actor = _acting()
        summary = split_person(system, actor, case_ref, person_id, chosen, reason=reason)
    _summary(summary, as_json)


@persons.command("name")
@click.option("--case", "case_ref", required=True)
@click.argument("person_id")
@click.argument("name")
@click.option("--reason", help="Why: recorded with the decision on the custody ledger.")
@json_option
def persons_name(case_ref: str, person_id: str, name: str, reason: str | None, as_json: bool) -> None:
    """Name a person (an empty name removes it); this also confirms its present appearances."""
    from evidence_store.faces import name_person

    with _coded(as_json):
        system, actor = _acting()
        summary = name_person(system, actor, case_ref, person_id, name, reason=reason)
    _summary(summary, as_json)


@persons.command("match")
@click.option("--case", "case_ref", required=True)
@click.option("--reference", "photo", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Who the reference shows (default: the photo's file name).")
@click.option("--threshold", type=click.FloatRange(0.1, 1.0), default=0.6, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Also list appearances beyond the threshold.")
@reason_option
@json_option
def persons_match(
    case_ref: str,
    photo: Path,
    name: str | None,
    threshold: float,
    show_all: bool,
    reason: str | None,
    as_json: bool,
) -> None:
    """Every appearance of the case by distance from the face in a reference photo: leads, not identifications."""
    from evidence_store.faces import match_reference

    with _coded(as_json):
        system, actor = _acting()
        match = match_reference(system, actor, case_ref, photo, name or photo.stem, threshold, reason=reason)
    data = match.to_dict(include_beyond=show_all)
    if as_json:
        _emit_json(data)
        return
    out.print(f"[bold]{data['label']}[/]")
    out.print(f"reference {data['reference']['name']} ({data['reference']['sha256'][:16]}…), threshold {threshold}")
    view = Table("distance", "lead", "exhibit", "track", "time", "span", "person")
    for lead in data["appearances"]:
        span = "" if lead["start_s"] is None else f"{_clock(lead['start_s'])}-{_clock(lead['end_s'])}"
        view.add_row(
            f"{lead['distance']:.3f}",
            "yes" if lead["within_threshold"] else "no",
            lead["exhibit_ref"],
            str(lead["track"]),
            _clock(lead["time_s"]),
            span,
            lead["person_id"] or "",
        )
    out.print(view)
    out.print(f"{data['leads']} lead(s) among {data['compared']} appearance(s)")


@cli.command()
@click.argument("exhibit")
@click.option("--except", "except_persons", multiple=True, help="Obscure every face but this person's (repeat).")
@click.option("--only", "only_persons", multiple=True, help="Obscure only this person's face (repeat).")
@click.option("--all-faces", is_flag=True, help="Obscure every face found.")
@click.option("--method", type=click.Choice(["blur", "pixelate", "fill"]), default="blur", show_default=True)
@click.option("--shape", type=click.Choice(["ellipse", "rectangle"]), default="ellipse", show_default=True)
@click.option("--padding", type=click.FloatRange(0.0, 2.0), default=0.3, show_default=True)
@click.option("--reason", help="Why: recorded with the redacted copy.")
@json_option
def redact(
    exhibit: str,
    except_persons: tuple[str, ...],
    only_persons: tuple[str, ...],
    all_faces: bool,
    method: str,
    shape: str,
    padding: float,
    reason: str | None,
    as_json: bool,
) -> None:
    """A redacted copy of a photo or video (a derivative; the original is untouched), pending a reviewer's
    approval before it can be disclosed."""
    from evidence_store.redaction import redact_exhibit
    from forensics.redaction import RedactionSettings

    chosen = [
        flag for flag, on in (("--except", except_persons), ("--only", only_persons), ("--all-faces", all_faces)) if on
    ]
    if len(chosen) != 1:
        raise click.UsageError("say which faces: --except PERSON..., --only PERSON... or --all-faces")
    mode = {"--except": "except", "--only": "only", "--all-faces": "all"}[chosen[0]]
    with _coded(as_json):
        system, actor = _acting()
        settings = RedactionSettings(method=method, shape=shape, padding=padding)
        outcome = redact_exhibit(
            system,
            actor,
            exhibit,
            mode=mode,
            persons=list(except_persons or only_persons),
            settings=settings,
            reason=reason,
        )
    if as_json:
        _emit_json(outcome.to_dict())
        return
    out.print(
        f"{outcome.exhibit_ref}: redacted copy {outcome.derivative_sha256[:16]}… ({outcome.tracks_redacted} face "
        f"track(s) obscured, {outcome.tracks_kept} kept; {outcome.frames_redacted}/{outcome.frames} frame(s) "
        f"touched): [yellow]{outcome.status}[/]"
    )
    out.print(f"review it: exhibit redaction review {exhibit} {outcome.derivative_sha256} --approve --note '...'")


@cli.group()
def redaction() -> None:
    """Redacted copies: a reviewer's verdict before disclosure."""


@redaction.command("review")
@click.argument("exhibit")
@click.argument("sha256")
@click.option("--approve/--reject", required=True, help="The verdict, after watching the copy through.")
@click.option("--note", required=True, help="What was checked: goes on the custody ledger with the verdict.")
@json_option
def redaction_review(exhibit: str, sha256: str, approve: bool, note: str, as_json: bool) -> None:
    """Approve or reject a redacted copy of an exhibit."""
    from evidence_store.redaction import review_redaction

    with _coded(as_json):
        system, actor = _acting()
        verdict = review_redaction(system, actor, exhibit, sha256, "approved" if approve else "rejected", note)
    if as_json:
        _emit_json({"exhibit": exhibit, "derivative_sha256": sha256, "verdict": verdict})
    else:
        out.print(f"{exhibit}: redacted copy {sha256[:16]}… {verdict}")
