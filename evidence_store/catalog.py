"""The catalog: cases, exhibits, objects, derivatives, analysis results and custody events in SQL.

SQLite by default, PostgreSQL at scale; the schema is owned by Alembic migrations in
`evidence_store/migrations`. Custody event fields are stored exactly as they were hashed (text timestamps,
canonical JSON details) so verification never depends on how a database normalises types.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from evidence_store.digests import Digests
from evidence_store.errors import NotInitialisedError

if TYPE_CHECKING:
    from evidence_store.objects import PutResult

SCHEMA_HEAD = "0011"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    officer_in_charge: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    retention_class: Mapped[str] = mapped_column(String(50), default="standard")
    created_at: Mapped[str] = mapped_column(String(40))

    exhibits: Mapped[list[Exhibit]] = relationship(back_populates="case")


class StoredObject(Base):
    __tablename__ = "objects"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32), index=True)
    sha1: Mapped[str] = mapped_column(String(40), index=True)
    media_type: Mapped[str] = mapped_column(String(100))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    store_key: Mapped[str] = mapped_column(String(200))
    stored_at: Mapped[str] = mapped_column(String(40))

    @property
    def digests(self) -> Digests:
        return Digests(self.size, self.md5, self.sha1, self.sha256)

    def differs_from_receipt(self, receipt: Mapping[str, Any]) -> list[str]:
        """The digests (and size) in which this catalog row and a signed RECEIVED event's details disagree."""
        return [name for name in ("sha256", "md5", "sha1", "size") if receipt.get(name) != getattr(self, name)]


class Exhibit(Base):
    __tablename__ = "exhibits"
    __table_args__ = (
        UniqueConstraint("case_id", "reference", name="uq_exhibit_case_reference"),
        UniqueConstraint("uid", name="uq_exhibit_uid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Chosen by whoever starts the intake, possibly before the bytes arrive (a drop-folder sensor names the
    # pipeline partition with it), so a retried intake finds the exhibit it already made instead of a second one.
    uid: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reference: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    producer: Mapped[str] = mapped_column(String(200))
    seized_from: Mapped[str | None] = mapped_column(String(300))
    seized_at: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("exhibits.id"))
    original_sha256: Mapped[str] = mapped_column(ForeignKey("objects.sha256"), index=True)
    source_name: Mapped[str] = mapped_column(String(500))
    source_path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="stored")
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    received_at: Mapped[str] = mapped_column(String(40))

    case: Mapped[Case] = relationship(back_populates="exhibits")
    original: Mapped[StoredObject] = relationship()


class ExhibitAlias(Base):
    """A uid chosen for an intake that turned out to be bytes the case already had: it names that exhibit."""

    __tablename__ = "exhibit_aliases"

    uid: Mapped[str] = mapped_column(String(40), primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"))
    created_at: Mapped[str] = mapped_column(String(40))


class ExhibitSegment(Base):
    """One file of an original acquired as several (split raw, EWF .E01/.E02): position 0 is the exhibit's
    `original`; the image is the segments read in order."""

    __tablename__ = "exhibit_segments"

    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("objects.sha256"))
    name: Mapped[str] = mapped_column(String(500))


class HashSet(Base):
    """A reference list of known files, imported once: `known` (benign: NSRL, the force's own builds) or
    `known_bad` (alerts: the CAID categories, a case's contraband). Its source file is a stored object."""

    __tablename__ = "hashsets"
    __table_args__ = (UniqueConstraint("name", name="uq_hashset_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(20))
    source_sha256: Mapped[str] = mapped_column(ForeignKey("objects.sha256"))
    source_name: Mapped[str] = mapped_column(String(500))
    entries: Mapped[int] = mapped_column(BigInteger)
    bad_lines: Mapped[int] = mapped_column(BigInteger)
    imported_at: Mapped[str] = mapped_column(String(40))
    imported_by: Mapped[str] = mapped_column(String(200))


known_hashes = Table(
    "known_hashes",
    Base.metadata,
    Column("hashset_id", Integer, ForeignKey("hashsets.id"), nullable=False),
    Column("algorithm", String(10), nullable=False),
    Column("digest", String(64), nullable=False),
    Index("ix_known_hashes_digest", "digest"),
    Column("name", String(500)),
)


class Derivative(Base):
    __tablename__ = "derivatives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), index=True)
    role: Mapped[str] = mapped_column(String(50))
    source_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(ForeignKey("objects.sha256"))
    tool: Mapped[str] = mapped_column(String(100))
    tool_version: Mapped[str] = mapped_column(String(500))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[str] = mapped_column(String(40))


class AnalysisResult(Base):
    """One analysis table (a Parquet object in the store) for one exhibit, or for a whole case (no exhibit)."""

    __tablename__ = "analysis_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    exhibit_id: Mapped[int | None] = mapped_column(ForeignKey("exhibits.id"), index=True)
    table_name: Mapped[str] = mapped_column(String(100), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("objects.sha256"))
    rows: Mapped[int] = mapped_column(BigInteger)
    tool: Mapped[str] = mapped_column(String(100))
    tool_version: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[str] = mapped_column(String(40))


# Byte-ordered on PostgreSQL (collation "C"), so a prefix is a range of the index whatever the server's locale.
_ORDERED_TEXT = Text().with_variant(Text(collation="C"), "postgresql")


class DeviceFileIndex(Base):
    """One row of an exhibit's newest `device_files` table, in SQL for browsing and search.

    A copy for finding things fast, rebuilt from the Parquet table it names (`result_sha256`, `row`), which
    stays the record. Each build of an exhibit's rows has a number (`build`); readers see only the build
    `DeviceFileIndexBuild` names as current, so a build can be written in many short transactions (other
    writers go on between them) and still replace the old rows all at once.
    """

    __tablename__ = "device_file_index"
    __table_args__ = (
        Index("ix_device_file_index_listing", "exhibit_id", "build", "parent", "name_lower"),
        # A substring search (LIKE '%x%') scans this index, not the table: the case's names and nothing else.
        # SQLite's index entries carry the rowid (= id); PostgreSQL's must be given it for an index-only scan.
        Index("ix_device_file_index_case_name", "case_id", "name_lower", "build", postgresql_include=["id"]),
        Index("ix_device_file_index_sha256", "sha256"),
        Index("ix_device_file_index_md5", "md5"),
        Index("ix_device_file_index_sha1", "sha1"),
        # The timeline pages through each kind of time in order; without these, a page of a million-row
        # case reads every row for the three times not indexed (measured: 2 s a page instead of 20 ms).
        Index("ix_device_file_index_case_mtime", "case_id", "mtime", "build"),
        Index("ix_device_file_index_case_atime", "case_id", "atime", "build"),
        Index("ix_device_file_index_case_ctime", "case_id", "ctime", "build"),
        Index("ix_device_file_index_case_crtime", "case_id", "crtime", "build"),
    )

    # 64-bit on PostgreSQL: every re-listing of a device takes a million new ids. SQLite's rowid is 64-bit
    # already, and only INTEGER PRIMARY KEY is the rowid.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"))
    build: Mapped[int] = mapped_column(BigInteger)
    result_sha256: Mapped[str] = mapped_column(String(64))
    row: Mapped[int] = mapped_column(BigInteger)
    volume: Mapped[int | None] = mapped_column(Integer)
    parent: Mapped[str] = mapped_column(_ORDERED_TEXT)
    name: Mapped[str] = mapped_column(Text)
    name_lower: Mapped[str] = mapped_column(_ORDERED_TEXT)
    path: Mapped[str] = mapped_column(Text)
    file_type: Mapped[str] = mapped_column(String(20))
    size: Mapped[int | None] = mapped_column(BigInteger)
    deleted: Mapped[bool]
    known: Mapped[bool | None]
    alert: Mapped[bool]
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    magic_kind: Mapped[str | None] = mapped_column(String(40))
    mtime: Mapped[str | None] = mapped_column(String(40))
    atime: Mapped[str | None] = mapped_column(String(40))
    ctime: Mapped[str | None] = mapped_column(String(40))
    crtime: Mapped[str | None] = mapped_column(String(40))
    times_are_local: Mapped[bool]
    child_exhibit_id: Mapped[int | None] = mapped_column(Integer)
    child_exhibit_ref: Mapped[str | None] = mapped_column(String(100))


class DeviceFileIndexBuild(Base):
    """Which build of an exhibit's `device_file_index` rows readers see (written last, in one short
    transaction, once every row of the build is in)."""

    __tablename__ = "device_file_index_builds"

    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    build: Mapped[int] = mapped_column(BigInteger)
    result_sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(BigInteger)
    built_at: Mapped[str] = mapped_column(String(40))


class CustodyEventRow(Base):
    __tablename__ = "custody_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(40), index=True)
    case_ref: Mapped[str | None] = mapped_column(String(100), index=True)
    exhibit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    object_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(String(200))


class CheckpointRow(Base):
    """A signed Merkle tree head over the first `tree_size` ledger events."""

    __tablename__ = "checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(200))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[str] = mapped_column(String(40))


class ExhibitFact(Base):
    """What the review app filters, maps and puts on a timeline without opening each exhibit's tables: the
    time, place and camera of a photo (photo_metadata) or recording (media_probe), projected when the table
    is recorded. The Parquet table stays the record; this row can be rebuilt from it."""

    __tablename__ = "exhibit_facts"

    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    source_table: Mapped[str] = mapped_column(String(40))
    time_utc: Mapped[str | None] = mapped_column(String(40), index=True)
    time_local: Mapped[str | None] = mapped_column(String(40))
    time_source: Mapped[str | None] = mapped_column(String(200))
    time_reliability: Mapped[str | None] = mapped_column(String(40))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    make: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(200))
    software: Mapped[str | None] = mapped_column(String(300))


class DisclosureItem(Base):
    """One item of a case's unused material as the disclosure officer decided it: an exhibit, or a block of
    similar exhibits, on the non-sensitive (MG6C) or sensitive (MG6D) schedule, or found not relevant. Item
    numbers run on across continuation schedules and never change once given. Every change is also a
    DISCLOSURE_DECIDED or CPS_MARKED ledger event holding the whole new state: the ledger is the history."""

    __tablename__ = "disclosure_items"
    __table_args__ = (UniqueConstraint("case_id", "schedule", "number", name="uq_disclosure_item_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    schedule: Mapped[str] = mapped_column(String(20))  # MG6C, MG6D, not_relevant
    number: Mapped[int | None] = mapped_column(Integer)  # in its schedule; none for not relevant
    exhibit_ids: Mapped[list[int]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text)
    sensitivity: Mapped[str | None] = mapped_column(Text)  # MG6D: why it is sensitive
    undermines: Mapped[str | None] = mapped_column(Text)  # MG6E: why it might undermine or assist
    copy_supplied: Mapped[bool] = mapped_column(default=False)
    cps_mark: Mapped[str | None] = mapped_column(String(10))  # D, CND, I
    cps_comment: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[str] = mapped_column(String(40))


class ExhibitRetention(Base):
    """An exhibit's own retention class, where it differs from its case's (e.g. non-evidential BWV)."""

    __tablename__ = "exhibit_retention"

    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), primary_key=True)
    retention_class: Mapped[str] = mapped_column(String(50))
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[str] = mapped_column(String(40))


class CaseOutcome(Base):
    """How a case ended, which starts its CPIA retention period; the newest row is the case's outcome."""

    __tablename__ = "case_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(40))
    outcome_date: Mapped[str] = mapped_column(String(10))
    release_date: Mapped[str | None] = mapped_column(String(10))  # after a conviction: release from custody
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[str] = mapped_column(String(40))


class LegalHold(Base):
    """A hold on a whole case (no exhibit) or one exhibit: nothing under it can be disposed of until released."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    exhibit_id: Mapped[int | None] = mapped_column(ForeignKey("exhibits.id"))
    reason: Mapped[str] = mapped_column(Text)
    authority: Mapped[str | None] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(100))
    placed_at: Mapped[str] = mapped_column(String(40))
    released_by: Mapped[str | None] = mapped_column(String(100))
    released_at: Mapped[str | None] = mapped_column(String(40))
    release_reason: Mapped[str | None] = mapped_column(Text)


class Disposal(Base):
    """A request to dispose of an exhibit (and the exhibits extracted from it), and a second person's decision.

    status: requested -> approved -> disposed, or requested -> rejected, or "superseded" (its exhibit went with
    another request's). "approved" lasts only while the objects are being deleted; a disposal interrupted there
    is finished by approving it again.
    """

    __tablename__ = "disposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    before_due: Mapped[bool] = mapped_column(default=False)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[str] = mapped_column(String(40))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[str | None] = mapped_column(String(40))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # set on approval: what the disposal deletes
    certificate: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Membership(Base):
    __tablename__ = "memberships"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[str] = mapped_column(String(40))


def ensure_object_row(session: Session, result: PutResult, media_type: str, stored_at: str) -> StoredObject:
    """The catalog row of a stored object, made on its first put (later puts of the same bytes reuse it)."""
    row = session.get(StoredObject, result.digests.sha256)
    if row is None:
        row = StoredObject(
            sha256=result.digests.sha256,
            size=result.digests.size,
            md5=result.digests.md5,
            sha1=result.digests.sha1,
            media_type=media_type,
            envelope=result.envelope.to_dict(),
            store_key=result.key,
            stored_at=stored_at,
        )
        session.add(row)
        # Rows that refer to it by digest carry no ORM relationship, so it must be in the database first.
        session.flush()
    elif row.envelope.get("wrapped_key") is None:
        # Disposed of once and now stored again: the new object's envelope is the one that opens it.
        row.envelope = result.envelope.to_dict()
    return row


def _sqlite_setup(engine: Engine, begin: str) -> None:
    """SQLite: WAL for concurrent readers; writers BEGIN IMMEDIATE so they queue instead of failing late.

    pysqlite's own transaction handling defers BEGIN until the first write, so two processes could both read
    the last ledger entry and then race; taking the write lock at BEGIN serialises appends. Readers use a
    plain (deferred) BEGIN on a separate engine, so a long read such as `verify` never holds the write lock.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def make_engine(url: str, *, for_writing: bool = True) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Pooled: a new SQLite connection per transaction (and its PRAGMAs) costs more than the append itself.
        engine = create_engine(url, pool_size=2, max_overflow=8)
        _sqlite_setup(engine, "BEGIN IMMEDIATE" if for_writing else "BEGIN")
        return engine
    return create_engine(url, pool_pre_ping=True)


class Catalog:
    """Owns the engine and hands out sessions; `transaction()` is the unit of work for a write."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_engine = make_engine(url, for_writing=False) if url.startswith("sqlite") else self.engine
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Brings the schema to the newest migration (creating it on an empty database)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_version(self) -> str | None:
        with self.engine.connect() as connection:
            try:
                row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
            except Exception:
                return None
        return str(row[0]) if row else None

    def require_schema(self) -> None:
        version = self.schema_version()
        if version is None:
            raise NotInitialisedError(
                "the catalog has no schema yet: run `exhibit init` first",
                database=self.engine.url.render_as_string(hide_password=True),
            )
        if version != SCHEMA_HEAD:
            raise NotInitialisedError(
                f"the catalog schema is at {version}, this version needs {SCHEMA_HEAD}: run `exhibit init`"
            )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
