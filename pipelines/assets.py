"""Exhibit assets: one dynamic partition per exhibit (its uid), thin adapters over `evidence_store/`.

The asset graph, as the architecture draws it (built so far: original, media_probe, review_proxy,
thumbnails + keyframes (one step, one decode), photo_metadata, audio_analysis)::

    original ─┬─ media_probe ─ review_proxy, thumbnails, keyframes ─ face_detections ─ case_persons
              ├─ photo_metadata ─ face_detections
              ├─ audio_analysis
              └─ device_verification ─ device_file_listing ─ extracted_media (child exhibits -> new partitions)

Each analysis is an asset with `deps=[original]` (or its own upstream), `partitions_def=exhibit_partitions`
and the same retry policy; the `process_exhibit` job picks it up without further wiring because it selects
every exhibit-partitioned asset. An analysis that does not apply to an exhibit's kind returns without output
(`output_required=False`), so a photo never waits on a device-image step.
"""

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import exifread
import PIL
import pyarrow as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    Config,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    multi_asset,
)

from evidence_store import __version__
from evidence_store.access import SERVICE
from evidence_store.analysis import newest_rows, record_table, record_table_batches, record_warnings
from evidence_store.catalog import AnalysisResult
from evidence_store.custody import verify_exhibit_events
from evidence_store.derivatives import DerivativeFile, Provenance, record_derivative, record_derivatives
from evidence_store.device_images import record_device_verification
from evidence_store.extraction import Extracted, record_extracted
from evidence_store.file_index import index_device_files
from evidence_store.hashsets import any_hashsets, known_matches
from evidence_store.intake import ingest
from evidence_store.intake_folders import DropTicket, ingest_dropped
from evidence_store.processing import ExhibitSummary, exhibit_summary
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify_exhibit_original
from evidence_store.workspace import mark_exhibit, suffix_for, working_copy, working_segments
from forensics.audio import analyse_audio, render_waveform, transcriber
from forensics.device_files import DeviceFile, read_content, walk_file_system
from forensics.device_image import (
    DEVICE_IMAGE_ERRORS,
    DeviceImage,
    DeviceVerification,
    DeviceWarning,
    Volume,
    device_tool_versions,
    list_volumes,
    open_device_image,
    verify_device_image,
)
from forensics.errors import (
    AudioUndecodableError,
    MediaDamagedError,
    NotImageError,
    NotMediaError,
    PhotoDamagedError,
    PhotoTooLargeError,
)
from forensics.media_probe import MediaProbe, probe_media, tool_version
from forensics.photo_derivatives import make_display_copy
from forensics.photo_metadata import extract_exif_thumbnail, read_photo_metadata
from forensics.transcode import make_review_proxy
from forensics.video_frames import (
    SHEET_COLUMNS,
    SHEET_ROWS,
    ContactSheet,
    VideoFrames,
    extract_frames,
    make_contact_sheets,
    wall_clock,
)
from pipelines.execution import coded_failures, deadline, failure, retry_policy, step_timeout
from pipelines.resources import EvidenceStoreResource
from schemas.records import CustodyAction
from schemas.tables import (
    AUDIO_ANALYSIS,
    DEVICE_FILES,
    DEVICE_VERIFICATION,
    DEVICE_VOLUMES,
    KEYFRAMES,
    MEDIA_PROBE,
    PHOTO_METADATA,
    THUMBNAILS,
    TRANSCRIPT,
)

exhibit_partitions = DynamicPartitionsDefinition(name="exhibits")

# Checks per exhibit partition are "preview" in Dagster 1.13; without them a check would re-verify every
# exhibit at once. The warning says nothing an operator can act on.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


class IntakeConfig(Config):
    """Where the bytes of a new exhibit are: a drop-folder file (set by the intake sensor) or a path.

    Left empty for an exhibit that is already in the store (re-runs and `exhibit analyze`).
    """

    intake: str | None = None  # the drop folder's name; `name` is then the file's name in it
    name: str | None = None
    path: str | None = None  # a file to ingest directly (no drop folder)
    case: str = ""
    by: str = ""
    kind: str = "auto"
    exhibit_ref: str | None = None
    producer: str | None = None
    seized_from: str | None = None
    seized_at: str | None = None
    description: str | None = None
    segments: list[str] = []  # the later files of a split device image, in order  # noqa: RUF012

    def ticket(self) -> DropTicket:
        """The drop ticket (for a path: the same details; the folder name then goes unused)."""
        fields = self.model_dump(exclude={"intake", "name", "path", "segments"})
        return DropTicket(
            intake=self.intake or "", name=self.name or self.path or "", segments=tuple(self.segments), **fields
        )


def review_link(summary: ExhibitSummary) -> str:
    base = os.environ.get("EXHIBIT_REVIEW_URL", "http://127.0.0.1:8501").rstrip("/")
    return f"{base}/exhibit?uid={summary.uid}"


def original_metadata(summary: ExhibitSummary, **extra: Any) -> dict[str, Any]:
    """What an analyst wants to see on the materialization: identity, digests, size, warnings, links."""
    return {
        "exhibit": MetadataValue.text(f"{summary.case_ref}:{summary.exhibit_ref}"),
        "exhibit_id": MetadataValue.int(summary.exhibit_id),
        "kind": MetadataValue.text(summary.kind),
        "media_type": MetadataValue.text(summary.media_type),
        "size_bytes": MetadataValue.int(summary.digests.size),
        "md5": MetadataValue.text(summary.digests.md5),
        "sha1": MetadataValue.text(summary.digests.sha1),
        "sha256": MetadataValue.text(summary.digests.sha256),
        "warnings": MetadataValue.int(summary.warnings),
        "custody_events": MetadataValue.int(summary.custody_events),
        "source_name": MetadataValue.text(summary.source_name),
        "review": MetadataValue.url(review_link(summary)),
        "inspect": MetadataValue.md(
            f"`exhibit show {summary.uid}` · `exhibit custody show {summary.uid}` · "
            f"`exhibit custody proof {summary.uid}`"
        ),
        **extra,
    }


@asset(
    partitions_def=exhibit_partitions,
    retry_policy=retry_policy(),
    group_name="exhibits",
    kinds={"python"},
    description="The original: hashed (MD5, SHA-1, SHA-256 in one pass), encrypted, stored, and on the ledger.",
)
def original(
    context: AssetExecutionContext, config: IntakeConfig, evidence: EvidenceStoreResource
) -> MaterializeResult[None]:
    uid = context.partition_key
    system = evidence.system()
    extra: dict[str, Any] = {}
    summary = exhibit_summary(system, uid)
    with coded_failures():
        if config.intake:
            # Also when the exhibit exists: a retry after the commit but before the file was moved moves it now.
            folder = evidence.intake_folder(config.intake)
            source = folder.source(config.name or "")
            size = source.stat().st_size if source.exists() else 0
            with deadline(step_timeout(size), f"ingest of {config.name}"):
                dropped = ingest_dropped(system, SERVICE, folder, config.ticket(), uid)
            context.log.info(f"{config.name}: {dropped.disposition} ({dropped.now_at or 'gone'})")
            extra["intake"] = MetadataValue.text(f"{config.intake}: {config.name} ({dropped.disposition})")
            outcome = dropped.outcome
        elif summary is None and config.path:
            size = os.stat(config.path).st_size if os.path.exists(config.path) else 0
            with deadline(step_timeout(size), f"ingest of {config.path}"):
                outcome = ingest(system, SERVICE, [config.path], config.ticket().request(uid))[0]
        elif summary is None:
            message = f"partition {uid} names no exhibit in the store and the run names no file to ingest"
            raise failure({"code": "EX-PIPELINE-NO-SOURCE", "message": message})
        else:
            outcome = None
    if outcome is not None:
        if outcome.error is not None:
            raise failure(outcome.error, transient=outcome.transient, file=MetadataValue.text(outcome.path))
        summary = exhibit_summary(system, uid)
        assert summary is not None
        if outcome.duplicate_of is not None:
            extra["duplicate_of"] = MetadataValue.text(summary.uid)
            context.log.info(f"same bytes as exhibit {summary.exhibit_ref} ({summary.uid}): a further receipt")
    assert summary is not None
    return MaterializeResult(metadata=original_metadata(summary, **extra))


@asset_check(
    asset=original,
    name="fixity",
    partitions_def=exhibit_partitions,
    retry_policy=retry_policy(),
    description="The stored original re-reads, decrypts and re-hashes to the digests recorded at receipt.",
)
def fixity(context: AssetCheckExecutionContext, evidence: EvidenceStoreResource) -> AssetCheckResult:
    system = evidence.system()
    summary = exhibit_summary(system, context.partition_key)
    if summary is None:
        return AssetCheckResult(passed=False, metadata={"code": "EX-NOT-FOUND"}, description="no exhibit yet")
    with coded_failures(), deadline(step_timeout(summary.digests.size), f"fixity of {summary.uid}"):
        result = verify_exhibit_original(system, SERVICE, summary.uid)
    metadata: dict[str, Any] = {"sha256": summary.digests.sha256, "size_bytes": summary.digests.size}
    if result.error is not None:
        metadata.update(code=result.error["code"], message=result.error["message"])
    return AssetCheckResult(
        passed=result.ok,
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=None if result.ok else f"[{result.error['code']}] {result.error['message']}",  # type: ignore[index]
    )


@asset_check(
    asset=original,
    name="custody_chain",
    partitions_def=exhibit_partitions,
    description="The exhibit's ledger events hash, are signed by known keys, chain to the entries before them, "
    "and its first receipt signs for the catalog's digests.",
)
def custody_chain(context: AssetCheckExecutionContext, evidence: EvidenceStoreResource) -> AssetCheckResult:
    system = evidence.system()
    summary = exhibit_summary(system, context.partition_key)
    if summary is None:
        return AssetCheckResult(passed=False, metadata={"code": "EX-NOT-FOUND"}, description="no exhibit yet")
    verdict = verify_exhibit_events(system, summary.uid)
    return AssetCheckResult(
        passed=verdict.ok,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "events_checked": verdict.checked,
            "head_hash": verdict.head_hash or "",
            **({"code": verdict.code, "first_bad_seq": verdict.first_bad_seq or 0} if not verdict.ok else {}),
        },
        description=None if verdict.ok else f"[{verdict.code}] {verdict.reason}",
    )


# A Dagster step process is already ~200 MB before it decodes anything; the decode budget keeps it under 500 MB.
STEP_DECODE_BYTES = 256 << 20


def exhibit_asset(
    *, deps: list[Any], group: str, kinds: set[str], description: str
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """An analysis of one exhibit: partitioned by exhibit, retried like every step, and free to produce nothing
    for an exhibit it does not apply to (`output_required=False`)."""
    return asset(
        partitions_def=exhibit_partitions,
        deps=deps,
        retry_policy=retry_policy(),
        group_name=group,
        kinds=kinds,
        output_required=False,
        description=description,
    )


VIDEO_AUDIO = (frozenset({"bwv", "audio"}), ("video/", "audio/"))
PHOTO = (frozenset({"photo"}), ("image/",))


def _exhibit_for(
    context: AssetExecutionContext, evidence: EvidenceStoreResource, applies: tuple[frozenset[str], tuple[str, ...]]
) -> tuple[EvidenceSystem, ExhibitSummary] | None:
    """The partition's exhibit, if this analysis applies to it (by declared kind or by content type)."""
    system = evidence.system()
    summary = exhibit_summary(system, context.partition_key)
    if summary is None:
        raise failure({"code": "EX-NOT-FOUND", "message": f"no exhibit {context.partition_key} in the store"})
    kinds, prefixes = applies
    if summary.kind in kinds or summary.media_type.startswith(prefixes):
        return system, summary
    context.log.info(f"{summary.exhibit_ref} is {summary.kind} ({summary.media_type}): not for {context.op_def.name}")
    return None


@contextlib.contextmanager
def _on_copy(system: EvidenceSystem, summary: ExhibitSummary, step: str) -> Iterator[Path]:
    """A verified working copy of the original, coded failures and the step's deadline, for one analysis."""
    with (
        coded_failures(),
        working_copy(system, summary.digests.sha256, suffix_for(summary.source_name)) as copy,
        deadline(step_timeout(summary.digests.size), f"{step} of {summary.uid}"),
    ):
        yield copy


def _record_rows(
    system: EvidenceSystem,
    summary: ExhibitSummary,
    name: str,
    schema: pa.Schema,
    rows: list[dict[str, Any]],
    tool: str,
) -> AnalysisResult:
    identity = {"exhibit_id": summary.exhibit_id, "exhibit_ref": summary.exhibit_ref}
    return record_table(
        system,
        SERVICE,
        summary.exhibit_id,
        name,
        pa.Table.from_pylist([{**identity, **row} for row in rows], schema=schema),
        tool=f"exhibit {name}",
        tool_version=f"{__version__}; {tool}",
    )


def _record_warnings(
    system: EvidenceSystem, summary: ExhibitSummary, step: str, warnings: Iterable[Any], tool: str
) -> None:
    """A step's warnings (records with `code` and `message`) as its rows of the exhibit's `warnings` table."""
    found = [(w.code, w.message) for w in warnings]
    record_warnings(
        system,
        SERVICE,
        summary.exhibit_id,
        summary.exhibit_ref,
        step,
        found,
        tool=f"exhibit {step}",
        tool_version=f"{__version__}; {tool}",
    )


def _stored_probe(system: EvidenceSystem, summary: ExhibitSummary, copy: Path) -> MediaProbe:
    """The media_probe step's result for this exhibit, or a fresh probe where there is none yet."""
    rows = newest_rows(system, summary.exhibit_id, "media_probe", limit=1)
    if rows and rows[0]["tool"] == tool_version("ffprobe"):
        return MediaProbe.from_row(rows[0])
    return probe_media(copy, looks_like_media=True)


@exhibit_asset(
    deps=[original],
    group="media",
    kinds={"ffmpeg"},
    description="Container, streams, device, time and place of a video or audio exhibit (ffprobe), one row.",
)
def media_probe(context: AssetExecutionContext, evidence: EvidenceStoreResource) -> Iterator[MaterializeResult[None]]:
    found = _exhibit_for(context, evidence, VIDEO_AUDIO)
    if found is None:
        return
    system, summary = found
    with _on_copy(system, summary, "media_probe") as copy:
        looks_like_media = summary.media_type.startswith(("video/", "audio/"))
        try:
            probe = probe_media(copy, looks_like_media=looks_like_media)
        except NotMediaError as exc:
            # Declared video or audio, but neither its bytes nor ffprobe agree: said on the record, no table.
            mark_exhibit(system, SERVICE, summary.uid, "damaged", exc.code, exc.message, "media_probe")
            context.log.warning(str(exc))
            return
        except MediaDamagedError as exc:
            mark_exhibit(system, SERVICE, summary.uid, "quarantined", exc.code, exc.message, "media_probe")
            raise
        row = probe.to_row()
        result = _record_rows(system, summary, "media_probe", MEDIA_PROBE, [row], probe.tool)
        _record_warnings(system, summary, "media_probe", probe.warnings, probe.tool)
        if probe.warnings and summary.status == "stored":
            first = probe.warnings[-1]
            mark_exhibit(system, SERVICE, summary.uid, "damaged", first.code, first.message, "media_probe")
    yield MaterializeResult(
        metadata={
            "container": MetadataValue.text(probe.container),
            "duration_s": MetadataValue.float(probe.duration or 0.0),
            "streams": MetadataValue.text(", ".join(f"{s.kind}:{s.codec}" for s in probe.streams)),
            "recorded_at": MetadataValue.text(row["recorded_at_utc"] or row["recorded_at_local"] or "unknown"),
            "location": MetadataValue.text(
                f"{probe.location.latitude:.6f}, {probe.location.longitude:.6f}" if probe.location else "none"
            ),
            "decodable": MetadataValue.bool(bool(probe.decodable)),
            "warnings": MetadataValue.int(len(probe.warnings)),
            "table_sha256": MetadataValue.text(result.sha256),
        }
    )


@exhibit_asset(
    deps=[media_probe],
    group="media",
    kinds={"ffmpeg"},
    description="A copy every browser plays: H.264/AAC MP4, faststart, at most 720p, upright; with provenance.",
)
def review_proxy(context: AssetExecutionContext, evidence: EvidenceStoreResource) -> Iterator[MaterializeResult[None]]:
    found = _exhibit_for(context, evidence, VIDEO_AUDIO)
    if found is None:
        return
    system, summary = found
    with _on_copy(system, summary, "review_proxy") as copy:
        probe = _stored_probe(system, summary, copy)
        try:
            proxy = make_review_proxy(
                copy, copy.with_name("review_proxy.mp4"), probe, timeout=step_timeout(summary.digests.size)
            )
        except MediaDamagedError as exc:
            # Described but not playable: the exhibit says so on the record, and the run fails saying why.
            mark_exhibit(system, SERVICE, summary.uid, "damaged", exc.code, exc.message, "review_proxy")
            raise
        provenance = Provenance(summary.digests.sha256, "ffmpeg", proxy.tool_version, {"command": list(proxy.command)})
        derivative = record_derivative(
            system,
            SERVICE,
            summary.exhibit_id,
            "review_proxy",
            proxy.path,
            provenance,
            run_id=context.run.run_id,
            media_type="video/mp4" if probe.video is not None else "audio/mp4",
        )
        size = proxy.path.stat().st_size
    yield MaterializeResult(
        metadata={
            "sha256": MetadataValue.text(derivative.sha256),
            "size_bytes": MetadataValue.int(size),
            "source_sha256": MetadataValue.text(summary.digests.sha256),
            "tool": MetadataValue.text(proxy.tool_version),
            "command": MetadataValue.text(" ".join(proxy.command)),
        }
    )


VIDEO = (frozenset({"bwv"}), ("video/",))


@multi_asset(
    specs=[
        AssetSpec(
            "thumbnails",
            deps=[media_probe],
            skippable=True,
            group_name="media",
            kinds={"ffmpeg"},
            description="A frame every N seconds with its time, as contact sheets (derivatives) and a table.",
        ),
        AssetSpec(
            "keyframes",
            deps=[media_probe],
            skippable=True,
            group_name="media",
            kinds={"ffmpeg"},
            description="The first frame and every scene change, with times and scene scores (derivatives, table).",
        ),
    ],
    partitions_def=exhibit_partitions,
    retry_policy=retry_policy(),
    can_subset=False,
)
def video_frames(context: AssetExecutionContext, evidence: EvidenceStoreResource) -> Iterator[MaterializeResult[None]]:
    """Thumbnails, contact sheets and keyframes of a video, from one decode."""
    found = _exhibit_for(context, evidence, VIDEO)
    if found is None:
        return
    system, summary = found
    with _on_copy(system, summary, "video_frames") as copy:
        probe = _stored_probe(system, summary, copy)
        if probe.video is None:
            context.log.info(f"{summary.exhibit_ref} has no video stream: no frames to take")
            return
        folder = copy.parent / "frames"
        folder.mkdir()
        start_utc = probe.to_row()["recorded_at_utc"]
        every = float(os.environ.get("EXHIBIT_THUMBNAIL_EVERY", "0")) or None
        try:
            frames = extract_frames(copy, folder, probe, timeout=step_timeout(summary.digests.size), every=every)
        except MediaDamagedError as exc:
            mark_exhibit(system, SERVICE, summary.uid, "damaged", exc.code, exc.message, "video_frames")
            raise
        sheets = make_contact_sheets(frames.thumbnails, folder, start_utc=start_utc)
        stored = record_video_frames(system, summary, frames, sheets, context.run.run_id)
        sheet_of = {tile.thumbnail: (sheet, tile) for sheet in sheets for tile in sheet.tiles}
        thumbnail_rows = [
            {
                "index": t.index,
                "time_s": t.time_s,
                "at_utc": wall_clock(start_utc, t.time_s),
                "sheet_sha256": stored[sheet_of[t.index][0].path],
                "sheet_page": sheet_of[t.index][0].page,
                "x": sheet_of[t.index][1].x,
                "y": sheet_of[t.index][1].y,
                "width": t.width,
                "height": t.height,
                "tool": frames.tool_version,
            }
            for t in frames.thumbnails
        ]
        keyframe_rows = [
            {
                "index": k.index,
                "time_s": k.time_s,
                "at_utc": wall_clock(start_utc, k.time_s),
                "scene_score": k.scene_score,
                "sha256": stored[k.path],
                "width": k.width,
                "height": k.height,
                "phash": k.phash,
                "tool": frames.tool_version,
            }
            for k in frames.keyframes
        ]
        thumbs = _record_rows(system, summary, "thumbnails", THUMBNAILS, thumbnail_rows, frames.tool_version)
        keys = _record_rows(system, summary, "keyframes", KEYFRAMES, keyframe_rows, frames.tool_version)
        _record_warnings(system, summary, "video_frames", frames.warnings, frames.tool_version)
    yield MaterializeResult(
        asset_key="thumbnails",
        metadata={
            "thumbnails": MetadataValue.int(len(frames.thumbnails)),
            "every_s": MetadataValue.float(frames.interval_s),
            "contact_sheets": MetadataValue.int(len(sheets)),
            "table_sha256": MetadataValue.text(thumbs.sha256),
        },
    )
    yield MaterializeResult(
        asset_key="keyframes",
        metadata={
            "keyframes": MetadataValue.int(len(frames.keyframes)),
            "times_s": MetadataValue.text(", ".join(f"{k.time_s:g}" for k in frames.keyframes[:50])),
            "scene_threshold": MetadataValue.float(frames.scene_threshold),
            "table_sha256": MetadataValue.text(keys.sha256),
        },
    )


def record_video_frames(
    system: EvidenceSystem, summary: ExhibitSummary, frames: VideoFrames, sheets: Sequence[ContactSheet], run_id: str
) -> dict[Path, str]:
    """Contact sheets, the poster frame and keyframes as derivatives; the SHA-256 each file was stored as."""
    # The interval and the scene threshold are in the command; custody details hold no floats (they do not
    # hash portably), so a frame's time is written as text.
    command: dict[str, Any] = {"command": list(frames.command)}
    made_by = Provenance(summary.digests.sha256, "ffmpeg", frames.tool_version, command)
    sheet_by = Provenance(
        summary.digests.sha256,
        "ffmpeg + Pillow",
        f"{frames.tool_version}; Pillow {PIL.__version__}",
        {**command, "columns": SHEET_COLUMNS, "rows": SHEET_ROWS, "jpeg_quality": 85},
    )
    files = [
        DerivativeFile("contact_sheet", s.path, replace(sheet_by, parameters={**sheet_by.parameters, "page": s.page}))
        for s in sheets
    ]
    if frames.thumbnails:
        poster = frames.thumbnails[0]
        files.append(DerivativeFile("thumbnail", poster.path, replace(made_by, parameters={**command, "frame": 0})))
    files += [
        DerivativeFile("keyframe", k.path, replace(made_by, parameters={**command, "time_s": f"{k.time_s:.3f}"}))
        for k in frames.keyframes
    ]
    rows = record_derivatives(system, SERVICE, summary.exhibit_id, files, run_id=run_id)
    return {Path(made.path): row.sha256 for made, row in zip(files, rows, strict=True)}


@exhibit_asset(
    deps=[original],
    group="photos",
    kinds={"python"},
    description="EXIF of a photo (exifread): device, time with its source, GPS, orientation, editing; pHash.",
)
def photo_metadata(
    context: AssetExecutionContext, evidence: EvidenceStoreResource
) -> Iterator[MaterializeResult[None]]:
    found = _exhibit_for(context, evidence, PHOTO)
    if found is None:
        return
    system, summary = found
    with _on_copy(system, summary, "photo_metadata") as copy:
        try:
            photo = read_photo_metadata(copy, max_decode_bytes=STEP_DECODE_BYTES)
        except NotImageError as exc:
            mark_exhibit(system, SERVICE, summary.uid, "damaged", exc.code, exc.message, "photo_metadata")
            context.log.warning(str(exc))
            return
        row = photo.to_row()
        result = _record_rows(system, summary, "photo_metadata", PHOTO_METADATA, [row], photo.tool)
        _record_warnings(system, summary, "photo_metadata", photo.warnings, photo.tool)
        thumbnail = extract_exif_thumbnail(copy) if photo.has_thumbnail else None
        if thumbnail is not None:
            # Extracted byte for byte, not remade: an edited photo often still carries the camera's thumbnail.
            kind = "image/jpeg" if thumbnail.startswith(b"\xff\xd8") else "image/tiff"
            embedded = copy.with_name("exif_thumbnail.jpg" if kind == "image/jpeg" else "exif_thumbnail.tif")
            embedded.write_bytes(thumbnail)
            made = Provenance(
                summary.digests.sha256, "exifread", exifread.__version__, {"extracted": "EXIF IFD1 thumbnail"}
            )
            record_derivative(
                system,
                SERVICE,
                summary.exhibit_id,
                "exif_thumbnail",
                embedded,
                made,
                run_id=context.run.run_id,
                media_type=kind,
            )
        unreadable = [w for w in photo.warnings if w.code == "EX-PHOTO-PIXELS"]
        if unreadable and summary.status == "stored":
            first = unreadable[0]
            mark_exhibit(system, SERVICE, summary.uid, "damaged", first.code, first.message, "photo_metadata")
    yield MaterializeResult(
        metadata={
            "camera": MetadataValue.text(" ".join(filter(None, [photo.make, photo.model])) or "unknown"),
            "taken": MetadataValue.text(row["taken_utc"] or row["taken_local"] or "unknown"),
            "location": MetadataValue.text(
                f"{photo.gps.latitude:.6f}, {photo.gps.longitude:.6f}" if photo.gps else "none"
            ),
            "edited": MetadataValue.bool(photo.edited),
            "phash": MetadataValue.text(photo.phash or ""),
            "thumbnail_mismatch": MetadataValue.bool(photo.thumbnail_mismatch),
            "warnings": MetadataValue.int(len(photo.warnings)),
            "table_sha256": MetadataValue.text(result.sha256),
        }
    )


@exhibit_asset(
    deps=[photo_metadata],
    group="photos",
    kinds={"python"},
    description="A copy of a photo any browser shows: upright, at most 2048 px, sRGB, no metadata; with provenance.",
)
def display_copy(context: AssetExecutionContext, evidence: EvidenceStoreResource) -> Iterator[MaterializeResult[None]]:
    found = _exhibit_for(context, evidence, PHOTO)
    if found is None:
        return
    system, summary = found
    with _on_copy(system, summary, "display_copy") as copy:
        try:
            made = make_display_copy(copy, copy.with_name("display"), max_decode_bytes=STEP_DECODE_BYTES)
        except (PhotoDamagedError, PhotoTooLargeError) as exc:
            mark_exhibit(system, SERVICE, summary.uid, "damaged", exc.code, exc.message, "display_copy")
            raise
        provenance = Provenance(summary.digests.sha256, "Pillow", PIL.__version__, dict(made.parameters))
        derivative = record_derivative(
            system,
            SERVICE,
            summary.exhibit_id,
            "display_copy",
            made.path,
            provenance,
            run_id=context.run.run_id,
            media_type=made.media_type,
        )
        _record_warnings(system, summary, "display_copy", made.warnings, f"Pillow {PIL.__version__}")
    yield MaterializeResult(
        metadata={
            "sha256": MetadataValue.text(derivative.sha256),
            "size": MetadataValue.text(f"{made.width}x{made.height} from {made.source_width}x{made.source_height}"),
            "orientation_applied": MetadataValue.int(made.orientation_applied),
            "warnings": MetadataValue.int(len(made.warnings)),
        }
    )


@exhibit_asset(
    deps=[media_probe],
    group="audio",
    kinds={"ffmpeg"},
    description="Loudness (EBU R128), silences, speech segments and a waveform image of a recording's sound.",
)
def audio_analysis(
    context: AssetExecutionContext, evidence: EvidenceStoreResource
) -> Iterator[MaterializeResult[None]]:
    found = _exhibit_for(context, evidence, VIDEO_AUDIO)  # body-worn video's sound too: who spoke, when
    if found is None:
        return
    system, summary = found
    with _on_copy(system, summary, "audio_analysis") as copy:
        probe = _stored_probe(system, summary, copy)
        if probe.audio is None:
            context.log.info(f"{summary.exhibit_ref} has no audio stream: nothing to analyse")
            return
        try:
            analysis = analyse_audio(copy, timeout=step_timeout(summary.digests.size), probe=probe)
        except AudioUndecodableError as exc:
            mark_exhibit(system, SERVICE, summary.uid, "damaged", exc.code, exc.message, "audio_analysis")
            raise
        tools = "; ".join(analysis.tools)
        result = _record_rows(system, summary, "audio_analysis", AUDIO_ANALYSIS, [analysis.to_row()], tools)
        _record_warnings(system, summary, "audio_analysis", analysis.warnings, tools)
        if analysis.waveform:
            picture = render_waveform(analysis, copy.with_name("waveform.png"))
            made = Provenance(
                summary.digests.sha256,
                "ffmpeg + webrtcvad + Pillow",
                f"{tools}; Pillow {PIL.__version__}",
                {"command": list(analysis.command), "width": 1200, "height": 200},
            )
            record_derivative(
                system,
                SERVICE,
                summary.exhibit_id,
                "waveform",
                picture,
                made,
                run_id=context.run.run_id,
                media_type="image/png",
            )
    yield MaterializeResult(
        metadata={
            "integrated_lufs": MetadataValue.float(analysis.integrated_lufs or float("nan")),
            "true_peak_dbtp": MetadataValue.float(analysis.true_peak_dbtp or float("nan")),
            "speech_s": MetadataValue.float(float(analysis.speech_seconds)),
            "speech_segments": MetadataValue.int(len(analysis.speech)),
            "silences": MetadataValue.int(len(analysis.silences)),
            "warnings": MetadataValue.int(len(analysis.warnings)),
            "table_sha256": MetadataValue.text(result.sha256),
        }
    )


@exhibit_asset(
    deps=[audio_analysis],
    group="audio",
    kinds={"python"},
    description="A machine transcript, word by word with times, where a transcriber is configured "
    "(EXHIBIT_TRANSCRIBER; off by default).",
)
def transcript(context: AssetExecutionContext, evidence: EvidenceStoreResource) -> Iterator[MaterializeResult[None]]:
    engine_name = os.environ.get("EXHIBIT_TRANSCRIBER", "").strip()
    if not engine_name:
        context.log.info("no transcriber configured (EXHIBIT_TRANSCRIBER): nothing transcribed")
        return
    found = _exhibit_for(context, evidence, VIDEO_AUDIO)
    if found is None:
        return
    system, summary = found
    analysed = newest_rows(system, summary.exhibit_id, "audio_analysis", limit=1)
    if not analysed or not analysed[0]["speech_seconds"]:
        context.log.info(f"{summary.exhibit_ref}: no speech was found, so there is nothing to transcribe")
        return
    with coded_failures():
        engine = transcriber(engine_name)
    # Speech recognition runs at about real time on one core: allow for the recording's length, not its bytes.
    timeout = step_timeout(summary.digests.size) + 3 * (analysed[0]["duration_s"] or 0.0)
    with _on_copy(system, summary, "transcript") as copy:
        heard = engine.transcribe(copy, timeout=timeout, probe=_stored_probe(system, summary, copy))
        tools = "; ".join(heard.tools)
        result = _record_rows(system, summary, "transcript", TRANSCRIPT, [heard.to_row()], tools)
        _record_warnings(system, summary, "transcript", heard.warnings, tools)
    yield MaterializeResult(
        metadata={
            "engine": MetadataValue.text(f"{heard.engine} {heard.engine_version} ({heard.model}, {heard.language})"),
            "words": MetadataValue.int(len(heard.segments)),
            "text": MetadataValue.text(heard.text[:2000]),
            "table_sha256": MetadataValue.text(result.sha256),
        }
    )


DEVICE = (frozenset({"device_image"}), ("application/x-ewf", "application/x-raw-disk-image"))


def verification_row(verification: DeviceVerification, tool: str) -> dict[str, Any]:
    """The verification as a row of the `device_verification` table."""
    acquisition = verification.acquisition
    taken = {k: getattr(acquisition, k) if acquisition else None for k in _ACQUISITION_COLUMNS}
    return {
        "format": verification.format,
        "media_size": verification.media_size,
        **{f"computed_{a}": v for a, v in verification.computed.items()},
        "stored_md5": verification.stored.md5,
        "stored_sha1": verification.stored.sha1,
        "matches": verification.matches,
        "verified": verification.verified,
        "unreadable_bytes": verification.unreadable_bytes,
        "checksum_errors": [
            {"first_sector": r.first_sector, "sector_count": r.sector_count} for r in verification.checksum_errors or ()
        ],
        **taken,
        "warnings": [{"code": w.code, "message": w.message} for w in verification.warnings],
        "tool": tool,
    }


_ACQUISITION_COLUMNS = (
    "case_number",
    "description",
    "examiner",
    "evidence_number",
    "notes",
    "acquisition_date",
    "system_date",
    "acquisition_software",
    "acquisition_software_version",
    "operating_system",
    "model",
    "serial_number",
    "bytes_per_sector",
    "sector_count",
    "ewf_format",
)


@exhibit_asset(
    deps=[original],
    group="devices",
    kinds={"python"},
    description="A device image's media re-hashed (MD5, SHA-1, SHA-256) against the hashes its acquisition "
    "stored, its acquisition details, and its partitions and file systems.",
)
def device_verification(
    context: AssetExecutionContext, evidence: EvidenceStoreResource
) -> Iterator[MaterializeResult[None]]:
    found = _exhibit_for(context, evidence, DEVICE)
    if found is None:
        return
    system, summary = found
    tool = device_tool_versions()
    with (
        coded_failures(),
        working_segments(system, summary.exhibit_id) as segments,
        deadline(step_timeout(summary.digests.size), f"device_verification of {summary.uid}"),
    ):
        try:
            with open_device_image(segments) as image:
                verification = verify_device_image(image)
                volumes = list_volumes(image)
        except DEVICE_IMAGE_ERRORS as exc:
            # Not an image any library opens (a mislabelled file, a missing segment): said on the record.
            mark_exhibit(system, SERVICE, summary.uid, "damaged", exc.code, exc.message, "device_verification")
            raise
        action = record_device_verification(system, SERVICE, summary.exhibit_id, verification)
        result = _record_rows(
            system, summary, "device_verification", DEVICE_VERIFICATION, [verification_row(verification, tool)], tool
        )
        volume_rows = [
            {
                **{k: getattr(v, k) for k in Volume.__slots__ if k != "warnings"},
                "warnings": [{"code": w.code, "message": w.message} for w in v.warnings],
            }
            for v in volumes
        ]
        _record_rows(system, summary, "device_volumes", DEVICE_VOLUMES, volume_rows, tool)
        warnings = [*verification.warnings, *(w for v in volumes for w in v.warnings)]
        if action == CustodyAction.FIXITY_FAILED:
            warnings.insert(0, DeviceWarning("EX-DEVICE-HASH-MISMATCH", _device_mismatch(verification)))
            first = warnings[0]
            mark_exhibit(system, SERVICE, summary.uid, "damaged", first.code, first.message, "device_verification")
        _record_warnings(system, summary, "device_verification", warnings, tool)
    yield MaterializeResult(
        metadata={
            "format": MetadataValue.text(verification.format),
            "media_size": MetadataValue.int(verification.media_size),
            "verified": MetadataValue.bool(verification.verified),
            "stored_md5": MetadataValue.text(verification.stored.md5 or "none stored"),
            "computed_md5": MetadataValue.text(verification.computed.md5 or ""),
            "ledger": MetadataValue.text(action.value),
            "volumes": MetadataValue.text(
                "; ".join(f"{v.start_sector}+{v.sector_count} {v.file_system or v.description}" for v in volumes)
            ),
            "table_sha256": MetadataValue.text(result.sha256),
        }
    )


def _device_mismatch(verification: DeviceVerification) -> str:
    parts = [f"{m.algorithm}: stored {m.expected}, media {m.observed}" for m in verification.mismatches]
    if verification.unreadable_bytes:
        parts.append(f"{verification.unreadable_bytes:,} bytes unreadable")
    if verification.checksum_errors:
        parts.append(f"{len(verification.checksum_errors)} checksum error range(s)")
    return "the image is not the one acquired, or is damaged: " + "; ".join(parts)


LISTING_BATCH_ROWS = 10_000  # rows held at once: the listing of a phone with millions of files streams


EXTRACTED_KINDS = frozenset({"photo", "bwv", "audio"})  # by content, whatever the name or extension


@multi_asset(
    specs=[
        AssetSpec(
            "device_file_listing",
            deps=[device_verification],
            skippable=True,
            group_name="devices",
            kinds={"python"},
            description="Every file, directory and NTFS stream of a device image, allocated and deleted, with "
            "times, MD5/SHA-1/SHA-256, content type and known-file flags: the device_files table.",
        ),
        AssetSpec(
            "extracted_media",
            deps=[device_verification],
            skippable=True,
            group_name="devices",
            kinds={"python"},
            description="Photos, video and audio found on a device image (deleted and in streams too), each a "
            "child exhibit that then goes through the media assets.",
        ),
    ],
    partitions_def=exhibit_partitions,
    retry_policy=retry_policy(),
    can_subset=False,
)
def device_contents(
    context: AssetExecutionContext, evidence: EvidenceStoreResource
) -> Iterator[MaterializeResult[None]]:
    """Lists a device image's files and extracts its media as child exhibits, in one walk."""
    found = _exhibit_for(context, evidence, DEVICE)
    if found is None:
        return
    system, summary = found
    volumes = [v for v in newest_rows(system, summary.exhibit_id, "device_volumes", limit=10_000) if v["file_system"]]
    if not volumes:
        context.log.info(f"{summary.exhibit_ref}: no file system was found, so there are no files to list")
        return
    verified = newest_rows(system, summary.exhibit_id, "device_verification", limit=1)
    media_size = verified[0]["media_size"] if verified else summary.digests.size
    tool = device_tool_versions()
    counts = {"entries": 0, "deleted": 0, "hashed_bytes": 0, "known": 0, "alerts": 0, "extracted": 0, "children": 0}
    extract_limit = int(os.environ.get("EXHIBIT_EXTRACT_MAX", "10000"))
    volume_start = {v["index"]: v["start"] for v in volumes}
    codes: dict[str, tuple[int, str]] = {}

    check_known = any_hashsets(system)

    def extract(image: DeviceImage, entry: DeviceFile, folder: Path) -> Extracted | None:
        """The entry's content as a child exhibit, when it is media worth a look and the limit allows."""
        if entry.magic_kind not in EXTRACTED_KINDS or not entry.size or entry.virtual or entry.md5 is None:
            return None
        if counts["extracted"] >= extract_limit:
            codes.setdefault("EX-DEVICE-EXTRACT-LIMIT", (1, f"at most {extract_limit} files are extracted"))
            return None
        assert entry.inode is not None and entry.volume is not None
        target = folder / "extracted"
        with target.open("wb") as out:
            content = read_content(
                image.img_info, volume_start[entry.volume], entry.inode, entry.attr_type, entry.attr_id
            )
            for chunk in content:
                out.write(chunk)
        origin = {
            "volume": entry.volume,
            "path": entry.path,
            "inode": entry.inode,
            "stream": entry.stream,
            "deleted": entry.deleted,
            "recovery_unreliable": entry.recovery_unreliable,
        }
        warnings = (
            [
                {
                    "code": "EX-DEVICE-RECOVERY-UNRELIABLE",
                    "message": "recovered from a deleted FAT entry: its "
                    "clusters may have been reused or fragmented, so the content may not be what was deleted",
                }
            ]
            if entry.recovery_unreliable
            else []
        )
        try:
            child = record_extracted(system, SERVICE, summary.exhibit_id, target, origin, warnings)
        finally:
            target.unlink(missing_ok=True)
        counts["extracted"] += 1
        counts["children"] += child.new
        return child

    def as_rows(entries: list[DeviceFile], image: DeviceImage, folder: Path) -> pa.RecordBatch:
        identity = {"exhibit_id": summary.exhibit_id, "exhibit_ref": summary.exhibit_ref}
        digests = [d for e in entries for d in (e.md5, e.sha1, e.sha256) if d]
        matches = known_matches(system, digests) if check_known else {}
        rows = []
        for entry in entries:
            found = {m for d in (entry.md5, entry.sha1, entry.sha256) if d for m in matches.get(d, ())}
            hashed = check_known and entry.md5 is not None
            counts["known"] += bool(found)
            alert = any(m.kind == "known_bad" for m in found)
            counts["alerts"] += alert
            # Benign known files (an operating system's icons) are listed, not extracted.
            child = None if found and not alert else extract(image, entry, folder)
            rows.append(
                {
                    **identity,
                    **entry.to_row(),
                    "known": bool(found) if hashed else None,
                    "known_sets": sorted({m.hashset for m in found}),
                    "alert": alert,
                    "child_exhibit_id": child.exhibit_id if child else None,
                    "child_exhibit_ref": child.exhibit_ref if child else None,
                }
            )
        return pa.RecordBatch.from_pylist(rows, schema=DEVICE_FILES)

    def rows(image: DeviceImage, folder: Path) -> Iterator[pa.RecordBatch]:
        batch: list[DeviceFile] = []
        for volume in volumes:
            for entry in walk_file_system(image.img_info, volume["start"], volume=volume["index"]):
                counts["entries"] += 1
                counts["deleted"] += entry.deleted
                counts["hashed_bytes"] += (entry.size or 0) if entry.md5 else 0
                for w in entry.warnings:
                    seen, _message = codes.get(w.code, (0, ""))
                    codes[w.code] = (seen + 1, f"{entry.path}: {w.message}")
                batch.append(entry)
                if len(batch) == LISTING_BATCH_ROWS:
                    yield as_rows(batch, image, folder)
                    batch = []
        if batch:
            yield as_rows(batch, image, folder)

    with (
        coded_failures(),
        working_segments(system, summary.exhibit_id) as segments,
        deadline(step_timeout(media_size), f"device_file_listing of {summary.uid}"),
        open_device_image(segments) as image,
    ):
        result = record_table_batches(
            system,
            SERVICE,
            summary.exhibit_id,
            "device_files",
            rows(image, segments[0].parent),
            tool="exhibit device_files",
            tool_version=f"{__version__}; {tool}",
        )
        if image.unreadable:
            lost = sum(r.length for r in image.unreadable)
            message = f"{lost:,} bytes of the image could not be read: content from there was listed as zeros"
            codes["EX-DEVICE-UNREADABLE"] = (len(image.unreadable), message)
    index_device_files(system, summary.exhibit_id)
    # One warning row per kind of problem (with how many entries had it), not one per entry: a damaged
    # volume can put a warning on a million rows, which stay in device_files.
    summarised = [
        DeviceWarning(code, f"{count} entr{'y' if count == 1 else 'ies'}; e.g. {example}")
        for code, (count, example) in sorted(codes.items())
    ]
    if counts["alerts"]:
        message = f"{counts['alerts']} file(s) match a known-bad hash set: query device_files where alert"
        summarised.insert(0, DeviceWarning("EX-DEVICE-KNOWN-BAD", message))
    _record_warnings(system, summary, "device_file_listing", summarised, tool)
    yield MaterializeResult(
        asset_key="extracted_media",
        metadata={
            "extracted": MetadataValue.int(counts["extracted"]),
            "new_child_exhibits": MetadataValue.int(counts["children"]),
            "limit": MetadataValue.int(extract_limit),
        },
    )
    yield MaterializeResult(
        asset_key="device_file_listing",
        metadata={
            "entries": MetadataValue.int(counts["entries"]),
            "deleted": MetadataValue.int(counts["deleted"]),
            "known": MetadataValue.int(counts["known"]),
            "alerts": MetadataValue.int(counts["alerts"]),
            "hashed_mib": MetadataValue.float(counts["hashed_bytes"] / (1 << 20)),
            "volumes": MetadataValue.int(len(volumes)),
            "warnings": MetadataValue.int(sum(c for c, _m in codes.values())),
            "table_sha256": MetadataValue.text(result.sha256),
            "query": MetadataValue.md(
                f"`exhibit query device_files --case {summary.case_ref} --exhibit {summary.uid}`"
            ),
        },
    )
