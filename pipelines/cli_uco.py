"""`exhibit export-uco`: a case's custody and findings as CASE/UCO JSON-LD (caseontology.org).

Registered on the `exhibit` group by `pipelines.cli`. Metadata only: no exhibit leaves with it.
"""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli import _acting, _coded, _emit_json, cli, json_option, out


@cli.command("export-uco")
@click.option("--case", "case_ref", required=True)
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), required=True, help="CASE.jsonld")
@click.option("--reason", required=True, help="Why it is exported (recorded on the custody ledger).")
@json_option
def export_uco(case_ref: str, out_file: Path, reason: str, as_json: bool) -> None:
    """Write the case's custody events, exhibits, derivatives and findings as CASE/UCO JSON-LD."""
    from evidence_store.case_uco import write_case_uco

    with _coded(as_json):
        system, actor = _acting()
        outcome = write_case_uco(system, actor, case_ref, out_file, reason=reason)
    if as_json:
        _emit_json(outcome.to_dict())
        return
    out.print(
        f"wrote {outcome.out}: CASE {outcome.to_dict()['case_version']} JSON-LD of case {outcome.case_ref}, "
        f"{len(outcome.exhibits)} exhibit(s), {outcome.custody_events} custody event(s), "
        f"{outcome.derivatives} derivative action(s), {outcome.nodes} nodes"
    )
    out.print(f"document sha256 {outcome.document_sha256} (recorded on the ledger as EXPORTED)")
