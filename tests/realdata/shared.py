"""Where the team's real test data lives (`../shared/data`, or EXHIBIT_SHARED_DATA), and its manifest."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest


def _shared_data() -> Path:
    override = os.environ.get("EXHIBIT_SHARED_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


DATA = _shared_data()
MANIFEST = DATA / "MANIFEST.tsv"


def skip_without_data() -> None:
    """Skips the calling test module, saying why, where the data folder is absent (a checkout elsewhere)."""
    if not MANIFEST.is_file():
        pytest.skip(
            f"real test data not found at {DATA} (set EXHIBIT_SHARED_DATA to its folder); "
            "these tests only run inside the team's checkout",
            allow_module_level=True,
        )


def manifest_rows() -> list[dict[str, str]]:
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))
