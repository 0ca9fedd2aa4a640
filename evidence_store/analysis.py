"""Analysis tables: Parquet objects in the store, one per (exhibit, table), registered in the catalog.

Tables are encrypted like any object; a query reads them back through the decrypting, seekable reader, so
Parquet's footer-first reads fetch only the chunks they need.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from evidence_store.access import Actor, Permission, authorize, record_view
from evidence_store.cases import get_case
from evidence_store.catalog import AnalysisResult, Case, Exhibit, ensure_object_row
from evidence_store.errors import NotFoundError, UnknownTableError
from evidence_store.ledger import format_time
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction
from schemas.tables import TABLES

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
    table = table.select(table_schema(name).names).cast(table_schema(name))
    with system.catalog.reading() as session:
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None:
            raise NotFoundError(f"no exhibit {exhibit_id}", exhibit=exhibit_id)
        authorize(system, session, actor, Permission.ANALYSE, exhibit.case, exhibit_id=exhibit_id)
    # Spooled: small tables stay in memory, large ones (a device's file listing) spill to disk.
    with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
        pq.write_table(table, spool, compression="zstd")
        spool.seek(0)
        result = system.store.put_stream(cast(Any, spool))
    now = format_time(datetime.now(UTC))
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        exhibit = session.get(Exhibit, exhibit_id)
        assert exhibit is not None
        case = session.get(Case, exhibit.case_id)
        assert case is not None
        ensure_object_row(session, result, PARQUET_MEDIA_TYPE, now)
        row = AnalysisResult(
            case_id=exhibit.case_id,
            exhibit_id=exhibit.id,
            table_name=name,
            sha256=result.digests.sha256,
            rows=table.num_rows,
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
            exhibit_id=exhibit.id,
            object_sha256=exhibit.original_sha256,
            details={
                "table": name,
                "rows": table.num_rows,
                "result_sha256": result.digests.sha256,
                "tool": tool,
                "tool_version": tool_version,
            },
        )
    return row


def read_table(
    system: EvidenceSystem,
    actor: Actor,
    name: str,
    case_ref: str,
    exhibit_id: int | None = None,
    limit: int | None = None,
    reason: str | None = None,
) -> pa.Table:
    """The rows of table `name` for a case (or one exhibit of it): the newest result per exhibit.

    With `limit`, reading stops once that many rows are in hand (a device's file listing can hold millions).
    """
    schema = table_schema(name)
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case, exhibit_id=exhibit_id)
        query = select(AnalysisResult).where(AnalysisResult.case_id == case.id, AnalysisResult.table_name == name)
        if exhibit_id is not None:
            query = query.where(AnalysisResult.exhibit_id == exhibit_id)
        newest: dict[int, str] = {}
        for result in session.execute(query.order_by(AnalysisResult.id)).scalars():
            newest[result.exhibit_id] = result.sha256
    batches: list[pa.RecordBatch] = []
    wanted = limit if limit is not None else -1
    for exhibit in sorted(newest):
        if wanted == 0:
            break
        # The Parquet reader is closed before the decrypting reader under it: a pyarrow file wrapper left for
        # the garbage collector is destroyed during interpreter shutdown and aborts the process.
        with system.store.open(newest[exhibit]) as reader, pa.PythonFile(reader, mode="r") as source:
            parquet = pq.ParquetFile(source, pre_buffer=False)
            try:
                for batch in parquet.iter_batches(batch_size=65536, use_threads=False):
                    if wanted >= 0:
                        batch = batch.slice(0, wanted)
                        wanted -= batch.num_rows
                    batches.append(batch)
                    if wanted == 0:
                        break
            finally:
                parquet.close()
    parts = [pa.Table.from_batches([b]).cast(schema) for b in batches]
    record_view(system, actor, f"table:{name}", case_ref, exhibit_id, reason=reason)
    return pa.concat_tables(parts) if parts else schema.empty_table()


def newest_rows(system: EvidenceSystem, exhibit_id: int, name: str, limit: int = 100) -> list[dict[str, Any]]:
    """The newest `name` table of one exhibit as rows, for a caller that has already authorised and recorded
    the view (the exhibit record shows its small tables inline)."""
    schema = table_schema(name)
    with system.catalog.reading() as session:
        sha256 = session.execute(
            select(AnalysisResult.sha256)
            .where(AnalysisResult.exhibit_id == exhibit_id, AnalysisResult.table_name == name)
            .order_by(AnalysisResult.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    if sha256 is None:
        return []
    with system.store.open(sha256) as reader, pa.PythonFile(reader, mode="r") as source:
        parquet = pq.ParquetFile(source, pre_buffer=False)
        try:
            rows: list[dict[str, Any]] = []
            for batch in parquet.iter_batches(batch_size=limit, use_threads=False):
                rows.extend(pa.Table.from_batches([batch]).cast(schema).to_pylist())
                if len(rows) >= limit:
                    break
        finally:
            parquet.close()
    return rows[:limit]
