"""`exhibit export` and `exhibit verify-bundle`: signed case bundles, made from the store and checked offline.

Registered on the `exhibit` group by `pipelines.cli`. `verify-bundle` opens no deployment: no server, no
database, no object store, only the zip (and, if given, the keys the recipient trusts).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipelines.cli import EXIT_FAILED, _acting, _coded, _emit_json, _fail, cli, json_option, out

passphrase_file_option = click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Read the bundle passphrase from the first line of this file instead of asking for it.",
)


def _passphrase(passphrase_file: Path | None, confirm: bool) -> str:
    """The passphrase from a file or the terminal (hidden). It is handed to the cipher and kept nowhere."""
    from evidence_store.bundle_crypto import check_passphrase

    if passphrase_file is not None:
        lines = passphrase_file.read_text(encoding="utf-8").splitlines()
        passphrase = lines[0] if lines else ""
    else:
        passphrase = click.prompt("Bundle passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    if confirm:
        check_passphrase(passphrase)
    return passphrase


@cli.command("export")
@click.option("--case", "case_ref", required=True)
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), required=True, help="BUNDLE.zip")
@click.option("--recipient", required=True, help="Who receives the bundle (recorded on the custody ledger).")
@click.option("--reason", required=True, help="Why it is exported (recorded on the custody ledger).")
@click.option("--schedule", type=click.Choice(["MG6C", "MG6D"]), help="Only the exhibits on this schedule, with it.")
@click.option("--redacted", is_flag=True, help="Approved redacted copies instead of originals where they exist.")
@click.option("--encrypt", is_flag=True, help="Encrypt the bundle for transfer (AES-256-GCM; asks for a passphrase).")
@passphrase_file_option
@json_option
def export(
    case_ref: str,
    out_file: Path,
    recipient: str,
    reason: str,
    schedule: str | None,
    redacted: bool,
    encrypt: bool,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Write a signed case bundle: exhibits, schedule, custody proofs, checkpoint, public key, manifest."""
    from evidence_store.bundles import export_bundle

    with _coded(as_json):
        passphrase = _passphrase(passphrase_file, confirm=True) if encrypt or passphrase_file else None
        system, actor = _acting()
        outcome = export_bundle(
            system,
            actor,
            case_ref,
            out_file,
            recipient=recipient,
            reason=reason,
            schedule=schedule,
            redacted=redacted,
            passphrase=passphrase,
        )
    if as_json:
        _emit_json(outcome.to_dict())
        return
    out.print(
        f"wrote {outcome.out}: {len(outcome.exhibits)} exhibit(s) ({', '.join(outcome.exhibits)}), "
        f"{outcome.files} files, {outcome.bytes_written} bytes, for {outcome.recipient}"
    )
    out.print(
        f"manifest sha256 {outcome.manifest_sha256}, signed by {outcome.key_id}; checkpoint of "
        f"{outcome.checkpoint_size} events; check it with `exhibit verify-bundle {outcome.out}`"
    )
    if outcome.encrypted:
        out.print("encrypted (AES-256-GCM under the passphrase, which is not kept): send the passphrase separately")


@cli.command("verify-bundle")
@click.argument("bundle", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--key",
    "keys",
    type=click.Path(path_type=Path, exists=True),
    multiple=True,
    help="Trusted Ed25519 public key (PEM) or folder of *.pub.pem; the bundle must be signed by one of them.",
)
@passphrase_file_option
@json_option
def verify_bundle_command(bundle: Path, keys: tuple[Path, ...], passphrase_file: Path | None, as_json: bool) -> None:
    """Check a case bundle offline (no server, no database): every digest, the manifest signature, every
    custody proof and the checkpoint signature. Exits non-zero naming what failed. An encrypted bundle is read
    through its decryption (the passphrase is asked for), never written out in plain."""
    from evidence_store.bundle_crypto import MAGIC, is_encrypted
    from evidence_store.bundle_verify import public_key_raw, signing_key_id, verify_bundle
    from evidence_store.errors import ProofFormatError

    trusted: dict[str, bytes] | None = None
    if keys:
        trusted = {}
        try:
            for path in keys:
                for pem in sorted(path.glob("*.pub.pem")) if path.is_dir() else [path]:
                    raw = public_key_raw(pem.read_bytes())
                    trusted[signing_key_id(raw)] = raw
        except ValueError as exc:
            _fail(ProofFormatError(f"cannot read a key: {exc}"), as_json)
    passphrase = None
    with bundle.open("rb") as head, _coded(as_json):
        if is_encrypted(head.read(len(MAGIC))):
            passphrase = _passphrase(passphrase_file, confirm=False)
    report = verify_bundle(bundle, trusted, passphrase)
    if as_json:
        _emit_json(report.to_dict())
    else:
        for line in report.verdict():
            style = "bold green" if report.ok and line.startswith("VERIFIED") else ""
            style = "bold red" if not report.ok and line.startswith(("NOT VERIFIED", "[EX-")) else style
            out.print(line, style=style or None, markup=False)
    if not report.ok:
        sys.exit(EXIT_FAILED)


@cli.command("decrypt-bundle")
@click.argument("bundle", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), required=True, help="BUNDLE.zip")
@passphrase_file_option
@json_option
def decrypt_bundle(bundle: Path, out_file: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Decrypt an encrypted bundle to the plain zip (every chunk authenticated; nothing is left on failure)."""
    from evidence_store.bundle_crypto import decrypt_file
    from evidence_store.workspace import written_whole

    with _coded(as_json):
        passphrase = _passphrase(passphrase_file, confirm=False)
        with written_whole(out_file) as partial, bundle.open("rb") as source, partial.open("wb") as sink:
            size = decrypt_file(source, sink, passphrase)
    if as_json:
        _emit_json({"out": str(out_file), "bytes": size})
        return
    out.print(f"wrote {out_file} ({size} bytes); check it with `exhibit verify-bundle {out_file}`")
