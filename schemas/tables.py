"""Arrow schemas of the analysis tables, by table name. Later analyses register theirs here."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

_WARNING_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("code", pa.string(), nullable=False),
    pa.field("severity", pa.string(), nullable=False),  # "warning" (damaged but readable) or "info"
    pa.field("message", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),  # the step or analyser that noticed it
]
WARNINGS = pa.schema(
    _WARNING_FIELDS,
    metadata={"description": "problems noticed with an exhibit that did not stop its processing"},
)

TABLES: dict[str, pa.Schema] = {"warnings": WARNINGS}
