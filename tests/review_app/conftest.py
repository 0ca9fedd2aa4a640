"""The demo case, built once per test session by `exhibit demo` (the real pipeline), for the review app's tests:
AppTest per page and the browser flows read real evidence, not fakes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence_store.access import Actor, add_member, add_user, resolve_actor
from evidence_store.cases import create_case
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem

EXHIBIT = str(Path(sys.executable).parent / "exhibit")
DEMO_CASE = "OP-DEMO-001"
OTHER_CASE = "OP-OTHER-002"  # a case dc.brown is not a member of
PASSWORD = "exhibit-demo"


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("review-demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXHIBIT_", "DAGSTER_"))}
    env["EXHIBIT_HOME"] = str(home)
    done = subprocess.run([EXHIBIT, "demo", "--json"], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    system = EvidenceSystem.open(Settings.from_env({"EXHIBIT_HOME": str(home)}))
    try:
        admin = resolve_actor(system, "demo.admin")
        analyst = resolve_actor(system, "jane.smith")
        create_case(system, analyst, OTHER_CASE, "Another team's case")
        add_user(system, admin, "pc.outsider", "investigator", password=PASSWORD)
        add_member(system, admin, OTHER_CASE, "pc.outsider")
    finally:
        system.close()
    yield home


@pytest.fixture
def demo_system(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EvidenceSystem]:
    for key in [k for k in os.environ if k.startswith("EXHIBIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("EXHIBIT_HOME", str(demo_home))
    system = EvidenceSystem.open(Settings.from_env())
    yield system
    system.close()


def actor(system: EvidenceSystem, name: str) -> Actor:
    return resolve_actor(system, name)
