"""Drop folders: evidence arrives as a file (plus an optional sidecar JSON) in a watched folder.

The orchestration layer watches the folders (a Dagster sensor per folder); everything it decides with lives
here, so the CLI, the review app's upload and the sensor share one set of rules:

- a file is ready when a `NAME.done` marker exists, or when its size and modification time are the same at two
  looks in a row (a copy in progress keeps changing both);
- `NAME.exhibit.json` beside it says what it is (case, exhibit reference, producer, seized from/at,
  description, kind); without one the folder's own defaults apply; if no case can be named the file is
  quarantined with a coded reason, never dropped;
- after the custody events are committed the file (with its sidecar and marker) is kept, moved to
  `processed/` or deleted, as the folder is configured; a refused file goes to `quarantine/` with a
  `NAME.reason.json` beside it and an `INGEST_REFUSED` event on the ledger.

Folders are configured in `$EXHIBIT_HOME/intake.toml` (or the file `EXHIBIT_INTAKE_CONFIG` names)::

    [[intake]]
    name = "bwv-dock"             # the sensor is called intake_bwv_dock
    folder = "/srv/exhibit/intake/bwv"
    case = "OP-FALCON"            # optional: the case for files without a sidecar naming one
    kind = "bwv"                  # optional: auto (by content) unless set here or in the sidecar
    by = "PC 1234 Smith"          # optional: who produced files that arrive without a sidecar
    after = "move"                # keep | move | delete

With no configuration file there is one folder, `default`, at `$EXHIBIT_HOME/intake`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence_store.access import Actor
from evidence_store.cases import check_case_reference, check_exhibit_reference
from evidence_store.errors import BadSettingError
from evidence_store.intake import IngestOutcome, IngestRequest, display_path, image_sets, ingest
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from schemas.errors import ExhibitError, InputError
from schemas.records import CustodyAction, ExhibitKind

SIDECAR_SUFFIX = ".exhibit.json"
DONE_SUFFIX = ".done"
REASON_SUFFIX = ".reason.json"
PROCESSED = "processed"
QUARANTINE = "quarantine"
AFTER_CHOICES = ("keep", "move", "delete")
# Names that are never evidence themselves: our own companions, hidden files and common partial-download names.
_IGNORED_SUFFIXES = (SIDECAR_SUFFIX, DONE_SUFFIX, REASON_SUFFIX, ".part", ".partial", ".tmp", ".crdownload")
_SIDECAR_FIELDS = {"case", "exhibit_ref", "producer", "by", "seized_from", "seized_at", "description", "kind"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


class SidecarError(InputError):
    code = "EX-INTAKE-SIDECAR"


class NoCaseError(InputError):
    code = "EX-INTAKE-NO-CASE"


@dataclass(frozen=True, slots=True)
class IntakeFolder:
    """One watched folder and the defaults for what arrives in it."""

    name: str
    folder: Path
    case: str | None = None
    kind: str = "auto"
    by: str | None = None
    after: str = "move"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise BadSettingError(f"intake name {self.name!r}: use lower-case letters, digits, '-' or '_'")
        if self.after not in AFTER_CHOICES:
            raise BadSettingError(f"intake {self.name}: after = {self.after!r} is not one of {AFTER_CHOICES}")
        if self.case is not None:
            check_case_reference(self.case)
        _check_kind(self.kind, BadSettingError)

    @property
    def processed(self) -> Path:
        return self.folder / PROCESSED

    @property
    def quarantine(self) -> Path:
        return self.folder / QUARANTINE

    def source(self, name: str) -> Path:
        if "/" in name or name in ("", ".", ".."):
            raise SidecarError(f"{name!r} is not a file name in intake folder {self.name}")
        return self.folder / name


def _check_kind(kind: str, error: type[ExhibitError]) -> None:
    choices = ["auto", *(k.value for k in ExhibitKind)]
    if kind not in choices:
        raise error(f"kind {kind!r} is not one of {', '.join(choices)}")


def config_path(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("EXHIBIT_INTAKE_CONFIG")
    return Path(configured).expanduser().resolve() if configured else settings.home / "intake.toml"


def load_intake_folders(settings: Settings, env: Mapping[str, str] | None = None) -> list[IntakeFolder]:
    """The configured drop folders (or the one default folder).

    Raises:
        BadSettingError: the configuration file is not valid TOML, or a folder's settings are unusable.
    """
    path = config_path(settings, env)
    if not path.exists():
        return [IntakeFolder(name="default", folder=settings.home / "intake")]
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadSettingError(f"intake configuration {path} cannot be read: {exc}", path=str(path)) from exc
    entries = document.get("intake", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BadSettingError(f"intake configuration {path}: expected [[intake]] tables", path=str(path))
    folders = []
    for entry in entries:
        unknown = set(entry) - {"name", "folder", "case", "kind", "by", "after"}
        if unknown or "name" not in entry or "folder" not in entry:
            raise BadSettingError(
                f"intake configuration {path}: each [[intake]] needs name and folder"
                + (f"; unknown settings {sorted(unknown)}" if unknown else ""),
                path=str(path),
            )
        folder = Path(str(entry["folder"])).expanduser()
        folders.append(
            IntakeFolder(
                name=str(entry["name"]),
                folder=folder if folder.is_absolute() else (settings.home / folder).resolve(),
                case=entry.get("case"),
                kind=str(entry.get("kind", "auto")),
                by=entry.get("by"),
                after=str(entry.get("after", "move")),
            )
        )
    if len({f.name for f in folders}) != len(folders):
        raise BadSettingError(f"intake configuration {path}: two folders share a name", path=str(path))
    return folders


# -- what is waiting ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    """A file in a drop folder, as seen at one look."""

    name: str
    size: int
    mtime_ns: int
    marked_done: bool
    segments: tuple[str, ...] = ()  # the later files of a split image whose first file this is

    @property
    def fingerprint(self) -> list[int]:
        return [self.size, self.mtime_ns]


def look(folder: IntakeFolder) -> Iterator[Arrival]:
    """Candidate evidence files at the top of the folder, in name order (creates the folder if missing)."""
    folder.folder.mkdir(parents=True, exist_ok=True)
    with os.scandir(folder.folder) as entries:
        names = sorted(e.name for e in entries if e.is_file(follow_symlinks=False))
    present = set(names)
    for name in names:
        if name.startswith(".") or name.endswith(_IGNORED_SUFFIXES):
            continue
        try:
            st = (folder.folder / name).stat()
        except OSError:
            continue  # gone between the listing and the look
        yield Arrival(name, st.st_size, st.st_mtime_ns, marked_done=name + DONE_SUFFIX in present)


@dataclass
class WatchState:
    """What a watcher remembers between looks: the last fingerprint of each file, and those already handed on.

    Kept as a small JSON document (a Dagster sensor cursor). A file handed on is not handed on again while it
    is unchanged; one that changes afterwards (new size or time) is new evidence and is handed on again.
    """

    seen: dict[str, list[int]] = field(default_factory=dict)
    handed_on: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> WatchState:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(seen=dict(data.get("seen", {})), handed_on=dict(data.get("handed_on", {})))
        except (ValueError, AttributeError):
            return cls()  # an unreadable cursor only costs one extra look

    def to_json(self) -> str:
        return json.dumps({"seen": self.seen, "handed_on": self.handed_on}, sort_keys=True)


def ready_files(folder: IntakeFolder, state: WatchState) -> tuple[list[Arrival], WatchState]:
    """The files ready to hand on at this look, and the state for the next look.

    The files of a split device image (`disk.E01` + `disk.E02`, `disk.001` + `disk.002`) are one exhibit: they
    are handed on together, as their first file with the others in `segments`, once every one of them is ready.
    Copy the segments first and write the first one's `.done` marker last.
    """
    seen: dict[str, list[int]] = {}
    handed_on: dict[str, list[int]] = {}
    arrivals = {a.name: a for a in look(folder)}
    ready_now: set[str] = set()
    for name, arrival in arrivals.items():
        seen[name] = arrival.fingerprint
        if state.handed_on.get(name) == arrival.fingerprint:
            handed_on[name] = arrival.fingerprint
        elif arrival.marked_done or state.seen.get(name) == arrival.fingerprint:
            ready_now.add(name)
    ready = []
    for paths in image_sets([folder.folder / name for name in arrivals]):
        group = [p.name for p in paths]
        if not all(name in ready_now for name in group):
            continue  # a set goes when all of it is ready; a file already handed on is not handed on again
        first = arrivals[group[0]]
        ready.append(replace(first, segments=tuple(group[1:])))
        handed_on.update({name: arrivals[name].fingerprint for name in group})
    return ready, WatchState(seen=seen, handed_on=handed_on)


# -- what it is ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DropTicket:
    """Everything needed to ingest one dropped file; plain strings so it travels as run configuration."""

    intake: str
    name: str
    case: str
    by: str
    kind: str = "auto"
    exhibit_ref: str | None = None
    producer: str | None = None
    seized_from: str | None = None
    seized_at: str | None = None
    description: str | None = None
    segments: tuple[str, ...] = ()  # the later files of a split image, in order

    def request(self, exhibit_uid: str) -> IngestRequest:
        return IngestRequest(
            case_ref=self.case,
            by=self.by,
            kind=self.kind,
            exhibit_ref=self.exhibit_ref,
            description=self.description,
            producer=self.producer,
            seized_from=self.seized_from,
            seized_at=self.seized_at,
            exhibit_uid=exhibit_uid,
        )

    def to_config(self) -> dict[str, Any]:
        config = {k: getattr(self, k) for k in self.__slots__}
        config["segments"] = list(self.segments)
        return config

    @property
    def names(self) -> tuple[str, ...]:
        """Every file of the drop: the file, or a split image's files in order."""
        return (self.name, *self.segments)


def read_ticket(folder: IntakeFolder, name: str, segments: tuple[str, ...] = ()) -> DropTicket:
    """What a dropped file is, from its sidecar and the folder's defaults.

    Raises:
        SidecarError: the sidecar is not a JSON object of known, well-formed fields.
        NoCaseError: neither the sidecar nor the folder names a case.
    """
    sidecar_path = folder.source(name + SIDECAR_SUFFIX)
    fields: dict[str, Any] = {}
    if sidecar_path.exists():
        try:
            fields = json.loads(sidecar_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise SidecarError(f"sidecar {sidecar_path.name} is not readable JSON: {exc}", file=name) from exc
        if not isinstance(fields, dict):
            raise SidecarError(f"sidecar {sidecar_path.name} must hold a JSON object", file=name)
        unknown = set(fields) - _SIDECAR_FIELDS
        if unknown:
            raise SidecarError(
                f"sidecar {sidecar_path.name} has unknown fields {sorted(unknown)}; known: {sorted(_SIDECAR_FIELDS)}",
                file=name,
            )
        for key, value in fields.items():
            if value is not None and not isinstance(value, str):
                raise SidecarError(f"sidecar {sidecar_path.name}: {key} must be text", file=name)
    case = fields.get("case") or folder.case
    if not case:
        raise NoCaseError(
            f"{name} arrived in intake folder {folder.name} with no sidecar naming a case, and the folder has no "
            f"default case: add {name}{SIDECAR_SUFFIX} with a case, or set case for the folder",
            file=name,
        )
    try:
        check_case_reference(case)
        exhibit_ref = check_exhibit_reference(fields["exhibit_ref"]) if fields.get("exhibit_ref") else None
        kind = fields.get("kind") or folder.kind
        _check_kind(kind, SidecarError)
    except InputError as exc:
        raise SidecarError(f"sidecar of {name}: {exc.message}", file=name) from exc
    producer = fields.get("producer") or fields.get("by") or folder.by
    return DropTicket(
        intake=folder.name,
        name=name,
        case=case,
        by=producer or f"intake {folder.name}",
        kind=kind,
        exhibit_ref=exhibit_ref,
        producer=producer,
        seized_from=fields.get("seized_from"),
        seized_at=fields.get("seized_at"),
        description=fields.get("description"),
        segments=segments,
    )


# -- what happens to it -------------------------------------------------------------------------------------


def companions(folder: IntakeFolder, name: str) -> list[Path]:
    """The file and the sidecar and marker that came with it."""
    return [p for p in (folder.source(name + s) for s in ("", SIDECAR_SUFFIX, DONE_SUFFIX)) if p.exists()]


def _unique_target(directory: Path, name: str) -> Path:
    target = directory / name
    number = 1
    while target.exists() or target.is_symlink():
        target = directory / f"{name}.{number}"
        number += 1
    return target


def _move_together(folder: IntakeFolder, name: str, directory: Path) -> Path:
    """Moves the file and its companions into `directory`, keeping them together under one free name."""
    directory.mkdir(parents=True, exist_ok=True)
    target = _unique_target(directory, name)
    suffix = target.name[len(name) :]
    for path in companions(folder, name):
        companion = path.name[len(name) :]
        shutil.move(path, directory / (name + suffix + companion if companion else target.name))
    return target


@dataclass(frozen=True, slots=True)
class DropResult:
    outcome: IngestOutcome
    disposition: str  # kept | moved | deleted | quarantined | left (transient failure: try again later)
    now_at: str | None


def ingest_dropped(
    system: EvidenceSystem, actor: Actor, folder: IntakeFolder, ticket: DropTicket, uid: str
) -> DropResult:
    """Ingests one dropped file as exhibit `uid`, then keeps, moves or deletes it as the folder says.

    The file is touched only after `ingest` returned, i.e. after the custody events were committed. A retry
    under the same uid returns the exhibit already made, with no second receipt, and tidies up the file if
    the earlier attempt had not.
    A refusal quarantines the file; a storage failure leaves it where it is so the retry finds it.
    """
    source = folder.source(ticket.name)
    sources = [folder.source(name) for name in ticket.names]
    if not source.exists():
        # Already handled by an earlier attempt, or never there: `ingest` tells which (repeat or missing).
        outcome = ingest(system, actor, [source], ticket.request(uid))[0]
        return DropResult(outcome, "kept" if outcome.repeated else "left", None)
    try:
        outcome = ingest(system, actor, sources, ticket.request(uid))[0]
    except InputError as exc:
        # Refused before a byte was read (unknown case, reference taken): not yet on the ledger.
        where = _quarantine_all(folder, ticket, exc.code, exc.message, system, actor, recorded=False)
        return DropResult(IngestOutcome(path=display_path(source), error=exc.to_dict()), "quarantined", str(where))
    if outcome.error is not None:
        if outcome.transient:
            return DropResult(outcome, "left", str(source))
        code, message = outcome.error["code"], outcome.error["message"]
        where = _quarantine_all(folder, ticket, code, message, system, actor, recorded=True)
        return DropResult(outcome, "quarantined", str(where))
    if folder.after == "keep":
        return DropResult(outcome, "kept", str(source))
    # A repeat means an earlier attempt committed the custody events but stopped before tidying up. The file
    # still here was not re-read this time, so it is moved rather than deleted even where the folder deletes.
    if folder.after == "delete" and not outcome.repeated:
        for name in ticket.names:
            for path in companions(folder, name):
                path.unlink()
        return DropResult(outcome, "deleted", None)
    moved = [_move_together(folder, name, folder.processed) for name in ticket.names]
    return DropResult(outcome, "moved", str(moved[0]))


def _quarantine_all(
    folder: IntakeFolder,
    ticket: DropTicket,
    code: str,
    message: str,
    system: EvidenceSystem,
    actor: Actor,
    *,
    recorded: bool,
) -> Path:
    """Quarantines every file of the drop (all segments of a split image stay together)."""
    first = quarantine(system, actor, folder, ticket.name, code, message, recorded=recorded, case_ref=ticket.case)
    for name in ticket.segments:
        if folder.source(name).exists():
            quarantine(system, actor, folder, name, code, message, recorded=True)
    return first


def quarantine(
    system: EvidenceSystem,
    actor: Actor,
    folder: IntakeFolder,
    name: str,
    code: str,
    message: str,
    *,
    recorded: bool = False,
    case_ref: str | None = None,
) -> Path:
    """Moves a file that cannot be ingested (with its companions) to `quarantine/`, with the reason beside it.

    The refusal goes on the ledger unless `ingest` already recorded it (`recorded`).
    """
    source = folder.source(name)
    if not recorded:
        system.record(
            CustodyAction.INGEST_REFUSED,
            actor=actor.name,
            role=actor.role,
            case_ref=case_ref,
            reason=message,
            details={"code": code, "paths": [display_path(source.absolute())], "intake": folder.name},
        )
    target = _move_together(folder, name, folder.quarantine)
    reason = {
        "code": code,
        "message": message,
        "file": display_path(name),
        "intake": folder.name,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    target.with_name(target.name + REASON_SUFFIX).write_text(json.dumps(reason, indent=2) + "\n")
    return target
