"""`exhibit export` and `exhibit verify-bundle` as a disclosure officer and a recipient run them."""

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from evidence_store.settings import Settings
from tests.pipelines.test_cli import EXHIBIT, run, run_json, setup_users


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_export_then_verify_offline_and_a_tampered_copy_fails(settings: Settings, tmp_path: Path) -> None:
    setup_users(settings)
    run(settings, "--as", "test.admin", "user", "add", "do.patel", "--role", "disclosure_officer")
    run(settings, "case", "create", "OP-ZIP", "--title", "Bundles")
    run(settings, "--as", "test.admin", "case", "add-member", "OP-ZIP", "do.patel")
    for name in ("bwv.txt", "notebook.txt"):
        (tmp_path / name).write_text(f"{name}\n" * 100)
        run(settings, "ingest", str(tmp_path / name), "--case", "OP-ZIP", "--by", "Jane Smith")
    officer = ("--as", "do.patel")
    run(settings, *officer, "disclosure", "decide", "--case", "OP-ZIP", "JS/1", "--schedule", "MG6C",
        "--description", "Body-worn video of PC 123 arriving at the scene")  # fmt: skip
    bundle = tmp_path / "out" / "OP-ZIP.zip"

    # An analyst may not export; the officer must say to whom and why.
    refused = run(settings, "export", "--case", "OP-ZIP", "--out", str(bundle), "--recipient", "CPS",
                  "--reason", "disclosure", ok=False)  # fmt: skip
    assert refused.returncode == 2 and "EX-ACCESS-DENIED" in refused.stderr
    made = run_json(settings, *officer, "export", "--case", "OP-ZIP", "--out", str(bundle), "--schedule", "MG6C",
                    "--recipient", "CPS Wessex", "--reason", "initial disclosure")  # fmt: skip
    assert made["exhibits"] == ["JS/1"] and bundle.exists()

    # The recipient's side: no deployment at all (an empty environment), only the zip.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    checked = subprocess.run([EXHIBIT, "verify-bundle", str(bundle)], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "VERIFIED: this bundle for case OP-ZIP" in checked.stdout
    as_json = json.loads(
        subprocess.run(
            [EXHIBIT, "verify-bundle", str(bundle), "--json"], env=env, capture_output=True, text=True
        ).stdout
    )
    assert as_json["ok"] and as_json["exhibits_checked"] == 1

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, data.replace(b"bwv.txt\n", b"bwv.TXT\n", 1) if name.startswith("exhibits/") else data)
    failed = subprocess.run([EXHIBIT, "verify-bundle", str(tampered)], env=env, capture_output=True, text=True)
    assert failed.returncode == 1
    assert "NOT VERIFIED" in failed.stdout and "[EX-BUNDLE-INVALID] exhibits/JS-1/bwv.txt was altered" in failed.stdout
    assert "Traceback" not in failed.stderr
    custody = run_json(settings, *officer, "custody", "show", "OP-ZIP:JS/1", "--reason", "check export")
    assert "EXPORTED" in json.dumps(custody)


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_an_encrypted_export_is_checked_and_decrypted_with_the_passphrase(settings: Settings, tmp_path: Path) -> None:
    setup_users(settings)
    run(settings, "--as", "test.admin", "user", "add", "do.patel", "--role", "disclosure_officer")
    run(settings, "case", "create", "OP-ENC", "--title", "Encrypted")
    run(settings, "--as", "test.admin", "case", "add-member", "OP-ENC", "do.patel")
    (tmp_path / "bwv.txt").write_text("bwv\n" * 100)
    run(settings, "ingest", str(tmp_path / "bwv.txt"), "--case", "OP-ENC", "--by", "Jane Smith")
    secret = tmp_path / "passphrase.txt"
    secret.write_text("a long shared passphrase\n")
    bundle = tmp_path / "OP-ENC.zip.enc"
    made = run_json(settings, "--as", "do.patel", "export", "--case", "OP-ENC", "--out", str(bundle), "--encrypt",
                    "--passphrase-file", str(secret), "--recipient", "CPS", "--reason", "disclosure")  # fmt: skip
    assert made["encrypted"] is True

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    checked = subprocess.run([EXHIBIT, "verify-bundle", str(bundle)], input="a long shared passphrase\n", env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "encrypted for transfer" in checked.stdout
    wrong = subprocess.run([EXHIBIT, "verify-bundle", str(bundle)], input="not the passphrase at all\n", env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert wrong.returncode == 1 and "[EX-BUNDLE-PASSPHRASE]" in wrong.stdout
    plain = tmp_path / "OP-ENC.zip"
    opened = subprocess.run([EXHIBIT, "decrypt-bundle", str(bundle), "--out", str(plain), "--passphrase-file",
                             str(secret)], env=env, capture_output=True, text=True)  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert zipfile.ZipFile(plain).testzip() is None
    refused = subprocess.run([EXHIBIT, "decrypt-bundle", str(bundle), "--out", str(tmp_path / "x.zip")],
                             input="wrong wrong wrong\n", env=env, capture_output=True, text=True)  # fmt: skip
    assert refused.returncode == 2 and "EX-BUNDLE-PASSPHRASE" in refused.stderr
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.partial").exists()
