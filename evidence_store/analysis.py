"""Analysis tables: Parquet objects in the store, one per (exhibit, table), registered in the catalog.

Tables are encrypted like any object; a query reads them back through the decrypting, seekable reader, so
Parquet's footer-first reads fetch only the chunks they need.
"""

from __future__ import annotations

import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evidence_store.access import Actor, Permission, authorize, record_view
from evidence_store.cases import get_case
from evidence_store.catalog import AnalysisResult, Case, Exhibit, ensure_object_row
from evidence_store.errors import NotFoundError, UnknownTableError
from evidence_store.ledger import format_time
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction
from schemas.tables import CASE_TABLES, TABLES

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def table_schema(name: str) -> pa.Schema:
    try:
        return TABLES[name]
    except KeyError:
        raise UnknownTableError(
            f"no analysis table {name!r}; known tables: {', '.join(sorted(TABLES))}", table=name
        ) from None


def record_table(
    system: EvidenceSystem,
    actor: Actor,
    exhibit_id: int,
    name: str,
    table: pa.Table,
    *,
    tool: str,
    tool_version: str,
) -> AnalysisResult:
    """Stores `table` (conformed to the registered schema) for an exhibit and records an ANALYSED event."""
    from evidence_store.facts import project_facts  # facts reads tables through this module

    result = record_table_batches(
        system, actor, exhibit_id, name, table.to_batches(), tool=tool, tool_version=tool_version
    )
    project_facts(system, exhibit_id, name, table)
    return result


def record_table_batches(
    system: EvidenceSystem,
    actor: Actor,
    exhibit_id: int,
    name: str,
    batches: Iterable[pa.RecordBatch],
    *,
    tool: str,
    tool_version: str,
) -> AnalysisResult:
    """As `record_table`, for a table that arrives in batches (a device's file listing: millions of rows),
    written as it comes so that memory holds one batch, never the table."""
    schema = table_schema(name)
    with system.catalog.reading() as session:
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None:
            raise NotFoundError(f"no exhibit {exhibit_id}", exhibit=exhibit_id)
        authorize(system, session, actor, Permission.ANALYSE, exhibit.case, exhibit_id=exhibit_id)
    return _store_table(system, actor, exhibit.case_id, exhibit_id, name, schema, batches, tool, tool_version)


def record_case_table(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    name: str,
    table: pa.Table,
    *,
    tool: str,
    tool_version: str,
) -> AnalysisResult:
    """Stores a table about a whole case (`CASE_TABLES`: the persons its faces cluster into), replacing the
    case's earlier one for reading, and records an ANALYSED event on the case."""
    schema = table_schema(name)
    if name not in CASE_TABLES:
        raise UnknownTableError(f"{name} is a table per exhibit, not per case", table=name)
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.ANALYSE, case)
        case_id = case.id
    return _store_table(system, actor, case_id, None, name, schema, table.to_batches(), tool, tool_version)


def _store_table(
    system: EvidenceSystem,
    actor: Actor,
    case_id: int,
    exhibit_id: int | None,
    name: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    tool: str,
    tool_version: str,
) -> AnalysisResult:
    rows = 0
    # Spooled: small tables stay in memory, large ones spill to disk.
    with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
        with pq.ParquetWriter(cast(Any, spool), schema, compression="zstd") as writer:
            for batch in batches:
                conformed = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
                writer.write_table(conformed)
                rows += conformed.num_rows
        spool.seek(0)
        result = system.store.put_stream(cast(Any, spool))
    now = format_time(datetime.now(UTC))
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        case = session.get(Case, case_id)
        assert case is not None
        exhibit = session.get(Exhibit, exhibit_id) if exhibit_id is not None else None
        ensure_object_row(session, result, PARQUET_MEDIA_TYPE, now)
        row = AnalysisResult(
            case_id=case_id,
            exhibit_id=exhibit_id,
            table_name=name,
            sha256=result.digests.sha256,
            rows=rows,
            tool=tool,
            tool_version=tool_version,
            created_at=now,
        )
        session.add(row)
        session.flush()
        system.ledger.append(
            session,
            CustodyAction.ANALYSED,
            actor=actor.name,
            role=actor.role,
            case_ref=case.reference,
            exhibit_id=exhibit_id,
            object_sha256=exhibit.original_sha256 if exhibit is not None else None,
            details={
                "table": name,
                "rows": rows,
                "result_sha256": result.digests.sha256,
                "tool": tool,
                "tool_version": tool_version,
            },
        )
    return row


def newest_results(session: Session, query: Select[AnalysisResult]) -> list[str]:
    """The newest result of each producer for each exhibit, by exhibit then producer.

    Most tables have one producer (the step named after them); `warnings` has one per step that noticed
    something, and a re-run of one step must replace its own rows without hiding another step's.
    """
    newest: dict[tuple[int, str], str] = {}
    for result in session.execute(query.order_by(AnalysisResult.id)).scalars():
        newest[(result.exhibit_id or 0, result.tool)] = result.sha256  # 0: a case-level table
    return [newest[key] for key in sorted(newest)]


def _batches(system: EvidenceSystem, sha256: str, batch_size: int) -> Generator[pa.RecordBatch]:
    # The Parquet reader is closed before the decrypting reader under it: a pyarrow file wrapper left for
    # the garbage collector is destroyed during interpreter shutdown and aborts the process.
    with system.store.open(sha256) as reader, pa.PythonFile(reader, mode="r") as source:
        parquet = pq.ParquetFile(source, pre_buffer=False)
        try:
            yield from parquet.iter_batches(batch_size=batch_size, use_threads=False)
        finally:
            parquet.close()


def _read(system: EvidenceSystem, results: list[str], schema: pa.Schema, limit: int | None) -> pa.Table:
    parts: list[pa.Table] = []
    wanted = limit if limit is not None else -1
    for sha256 in results:
        if wanted == 0:
            break
        batches = _batches(system, sha256, 65536)
        try:
            for batch in batches:
                if wanted >= 0:
                    batch = batch.slice(0, wanted)
                    wanted -= batch.num_rows
                parts.append(pa.Table.from_batches([batch]).cast(schema))
                if wanted == 0:
                    break
        finally:
            batches.close()
    return pa.concat_tables(parts) if parts else schema.empty_table()


def read_table(
    system: EvidenceSystem,
    actor: Actor,
    name: str,
    case_ref: str,
    exhibit_id: int | None = None,
    limit: int | None = None,
    reason: str | None = None,
) -> pa.Table:
    """The rows of table `name` for a case (or one exhibit of it): the newest result per exhibit (and per
    producing step, for tables several steps write).

    With `limit`, reading stops once that many rows are in hand (a device's file listing can hold millions).
    """
    schema = table_schema(name)
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case, exhibit_id=exhibit_id)
        query = select(AnalysisResult).where(AnalysisResult.case_id == case.id, AnalysisResult.table_name == name)
        if exhibit_id is not None:
            query = query.where(AnalysisResult.exhibit_id == exhibit_id)
        results = newest_results(session, query)
    table = _read(system, results, schema, limit)
    record_view(system, actor, f"table:{name}", case_ref, exhibit_id, reason=reason)
    return table


def newest_batches(system: EvidenceSystem, exhibit_id: int, name: str) -> Iterator[pa.RecordBatch]:
    """The newest `name` rows of one exhibit, batch by batch (a device listing is read without holding it),
    for a caller that has already authorised and recorded the view."""
    table_schema(name)  # an unknown table is a coded error, not an empty answer
    with system.catalog.reading() as session:
        query = select(AnalysisResult).where(AnalysisResult.exhibit_id == exhibit_id, AnalysisResult.table_name == name)
        results = newest_results(session, query)
    yield from result_batches(system, results)


def result_batches(system: EvidenceSystem, results: Iterable[str]) -> Iterator[pa.RecordBatch]:
    """The rows of stored tables (`newest_results`), batch by batch, each table closed once read."""
    for sha256 in results:
        batches = _batches(system, sha256, 65536)
        try:
            yield from batches
        finally:
            batches.close()


def newest_rows(system: EvidenceSystem, exhibit_id: int, name: str, limit: int = 100) -> list[dict[str, Any]]:
    """The newest `name` rows of one exhibit, for a caller that has already authorised and recorded the view
    (the exhibit record shows its small tables inline), or that is the system itself (a step reading the
    result of the step before it)."""
    with system.catalog.reading() as session:
        query = select(AnalysisResult).where(AnalysisResult.exhibit_id == exhibit_id, AnalysisResult.table_name == name)
        results = newest_results(session, query)
    rows: list[dict[str, Any]] = _read(system, results, table_schema(name), limit).to_pylist()
    return rows


def record_warnings(
    system: EvidenceSystem,
    actor: Actor,
    exhibit_id: int,
    exhibit_ref: str,
    source: str,
    warnings: Sequence[tuple[str, str]],
    *,
    tool: str,
    tool_version: str,
) -> AnalysisResult | None:
    """The (code, message) warnings one step noticed on an exhibit, as its rows of the `warnings` table.

    A step with nothing to say writes nothing, unless an earlier run of it left rows: then an empty table
    replaces them, so a warning that no longer holds stops being shown.
    """
    if not warnings:
        with system.catalog.reading() as session:
            earlier = session.execute(
                select(AnalysisResult.id).where(
                    AnalysisResult.exhibit_id == exhibit_id,
                    AnalysisResult.table_name == "warnings",
                    AnalysisResult.tool == tool,
                )
            ).first()
        if earlier is None:
            return None
    rows = [
        {
            "exhibit_id": exhibit_id,
            "exhibit_ref": exhibit_ref,
            "code": code,
            "severity": "warning",
            "message": message,
            "source": source,
        }
        for code, message in warnings
    ]
    table = pa.Table.from_pylist(rows, schema=table_schema("warnings"))
    return record_table(system, actor, exhibit_id, "warnings", table, tool=tool, tool_version=tool_version)
