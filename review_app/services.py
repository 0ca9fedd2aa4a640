"""The one way the review app reaches evidence: every page calls these methods, which call `evidence_store`
(authorisation, `VIEWED` events and all) and the Dagster GraphQL client. No page opens the store, SQL or
Parquet itself.

`current()` hands a page the process-wide `Services` (one `EvidenceSystem` per server process, opened from the
deployment's settings: EXHIBIT_HOME and friends). A test about a page, not the data, puts a fake in
`st.session_state["services"]`.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from evidence_store import access, bundles, disclosure, faces, file_index, inspect, redaction, retention, review
from evidence_store.access import Actor, authenticate
from evidence_store.bundles import ExportOutcome
from evidence_store.disclosure import ScheduledItem
from evidence_store.intake import IngestOutcome, IngestRequest, ingest
from evidence_store.processing import exhibit_uids
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from review_app import media
from review_app.runs import RunsClient
from schemas.records import CustodyAction

SESSION_MINUTES = int(os.environ.get("EXHIBIT_SESSION_MINUTES", "30"))


def dagster_url() -> str:
    return os.environ.get("EXHIBIT_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


def app_origin() -> str:
    """Where the browser reaches this app (media links must be absolute for the players)."""
    try:
        url = st.context.url
    except Exception:  # outside a browser session (AppTest)
        url = None
    if url:
        scheme, _sep, rest = url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"
    return os.environ.get("EXHIBIT_REVIEW_URL", "http://127.0.0.1:8501").rstrip("/")


EXPORT_LINK_SECONDS = 3600


def exports_folder(system: EvidenceSystem) -> Path:
    """Where bundles exported from the app wait to be downloaded (private to the service's user)."""
    folder = system.settings.home / "exports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def sweep_exports(folder: Path, now: float | None = None) -> list[str]:
    """Removes bundles whose download links have expired: a bundle is a copy of evidence (plain unless it was
    encrypted) and must not pile up on the server. Returns the names removed."""
    cutoff = (now if now is not None else time.time()) - 2 * EXPORT_LINK_SECONDS
    removed = []
    for path in folder.iterdir():
        try:
            if path.is_file() and not path.name.endswith(".partial") and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        except FileNotFoundError:  # renamed or removed by another export meanwhile
            continue
    return removed


@dataclass
class Services:
    system: EvidenceSystem

    # -- people -------------------------------------------------------------------------------------------

    def sign_in(self, name: str, password: str) -> Actor:
        actor = authenticate(self.system, name.strip(), password)
        self.system.record(CustodyAction.SIGNED_IN, actor=actor.name, role=actor.role, details={"via": "review app"})
        return actor

    def sign_out(self, actor: Actor, why: str) -> None:
        self.system.record(CustodyAction.SIGNED_OUT, actor=actor.name, role=actor.role, reason=why)

    # -- cases and exhibits ---------------------------------------------------------------------------------

    def cases(self, actor: Actor) -> list[review.CaseListing]:
        return review.member_cases(self.system, actor)

    def open_case(self, actor: Actor, case_ref: str) -> None:
        review.open_case(self.system, actor, case_ref)

    def overview(self, actor: Actor, case_ref: str) -> review.CaseOverview:
        return review.case_overview(self.system, actor, case_ref)

    def exhibits(
        self, actor: Actor, case_ref: str, chosen: review.ExhibitFilter, offset: int, limit: int
    ) -> review.ExhibitPage:
        return review.exhibit_page(self.system, actor, case_ref, chosen, offset, limit)

    def exhibit_case(self, ident: str | int) -> tuple[int, str, str, str]:
        return review.exhibit_case(self.system, ident)

    def exhibit(self, actor: Actor, exhibit_id: int) -> dict[str, Any]:
        return inspect.exhibit_record(self.system, actor, exhibit_id)

    def table(self, actor: Actor, exhibit_id: int, name: str, limit: int = 1000) -> list[dict[str, Any]]:
        return review.exhibit_table(self.system, actor, exhibit_id, name, limit)

    def image(self, actor: Actor, exhibit_id: int, sha256: str) -> bytes:
        """A small picture of the exhibit (thumbnail, keyframe, display copy, contact sheet, waveform)."""
        grant = review.grant_object(self.system, actor, exhibit_id, sha256)
        return review.read_object(self.system, grant)

    def media_url(self, actor: Actor, exhibit_id: int, sha256: str) -> str:
        """A link the browser's player streams by range (the view is recorded once, here)."""
        grant = review.grant_object(self.system, actor, exhibit_id, sha256)
        return f"{app_origin()}/api/media/{media.mint(grant.sha256, grant.media_type, actor.name)}"

    def download_url(self, actor: Actor, exhibit_id: int, reason: str) -> str:
        """A ten-minute link to the decrypted original, given only with a stated reason (a DOWNLOADED event)."""
        sha256, file_name = review.original_of(self.system, exhibit_id)
        grant = review.grant_object(self.system, actor, exhibit_id, sha256, download=True, reason=reason)
        token = media.mint(grant.sha256, grant.media_type, actor.name, seconds=600, file_name=file_name)
        return f"{app_origin()}/api/media/{token}"

    def position(self, exhibit_id: int) -> tuple[float, float] | None:
        return review.exhibit_position(self.system, exhibit_id)

    # -- device images ----------------------------------------------------------------------------------------

    def directory(
        self, actor: Actor, exhibit_id: int, parent: str, filters: dict[str, bool], offset: int, limit: int
    ) -> file_index.FileListingPage:
        return file_index.directory_listing(
            self.system, actor, exhibit_id, parent, offset=offset, limit=limit, **filters
        )

    def subdirectories(self, actor: Actor, exhibit_id: int, parent: str) -> list[str]:
        return file_index.subdirectories(self.system, actor, exhibit_id, parent)

    # -- persons ------------------------------------------------------------------------------------------

    def persons(self, actor: Actor, case_ref: str) -> list[faces.Person]:
        return faces.case_persons(self.system, actor, case_ref)

    def exhibit_faces(self, actor: Actor, case_ref: str, exhibit_id: int) -> list[dict[str, Any]]:
        return faces.face_detections_with_persons(self.system, actor, case_ref, exhibit_id)

    def face_picture(self, actor: Actor, exhibit_id: int, track: int, time_s: float | None) -> bytes:
        return faces.face_picture(self.system, actor, exhibit_id, track, time_s)

    def merge(self, actor: Actor, case_ref: str, person_ids: Sequence[str], name: str | None, reason: str) -> None:
        faces.merge_persons(self.system, actor, case_ref, person_ids, name, reason=reason)

    def split(
        self, actor: Actor, case_ref: str, person_id: str, chosen: Sequence[tuple[int, int]], reason: str
    ) -> None:
        faces.split_person(self.system, actor, case_ref, person_id, chosen, reason=reason)

    def name(self, actor: Actor, case_ref: str, person_id: str, name: str, reason: str) -> None:
        faces.name_person(self.system, actor, case_ref, person_id, name, reason=reason)

    def match(self, actor: Actor, case_ref: str, photo: bytes, suffix: str, name: str) -> faces.ReferenceMatch:
        with tempfile.TemporaryDirectory(prefix="exhibit-reference-") as folder:
            path = Path(folder) / f"reference{suffix}"
            path.write_bytes(photo)
            return faces.match_reference(self.system, actor, case_ref, path, name)

    # -- search, timeline, map, custody ------------------------------------------------------------------------

    def search(self, actor: Actor, case_ref: str, text: str) -> review.SearchResults:
        return review.search_case(self.system, actor, case_ref, text)

    def timeline(
        self, actor: Actor, case_ref: str, start: str | None, end: str | None, files: bool, custody_events: bool
    ) -> list[dict[str, Any]]:
        return review.case_timeline(
            self.system, actor, case_ref, start, end, include_files=files, include_custody=custody_events
        )

    def geotagged(self, actor: Actor, case_ref: str) -> list[dict[str, Any]]:
        return review.geotagged(self.system, actor, case_ref)

    def custody(self, actor: Actor, exhibit_id: int) -> dict[str, Any]:
        return inspect.custody_history(self.system, actor, exhibit_id)

    def badge(self, actor: Actor, exhibit_id: int) -> review.CustodyBadge:
        return review.custody_badge(self.system, actor, exhibit_id)

    def run_states(self, uids: list[str]) -> dict[str, str]:
        """The newest Dagster run's status per exhibit uid; empty when Dagster does not answer (the page says so)."""
        client = RunsClient(dagster_url(), timeout=5.0)
        if not uids or not client.answers():
            return {}
        return {uid: run.status for uid, run in client.newest_per_exhibit(uids).items()}

    # -- disclosure -----------------------------------------------------------------------------------------

    def disclosure_items(self, actor: Actor, case_ref: str, schedule: str | None = None) -> list[ScheduledItem]:
        return disclosure.case_items(self.system, actor, case_ref, schedule)

    def undecided(self, actor: Actor, case_ref: str) -> list[str]:
        return disclosure.undecided_exhibits(self.system, actor, case_ref)

    def decide(self, actor: Actor, case_ref: str, exhibits: list[str], schedule: str, **fields: Any) -> ScheduledItem:
        return disclosure.decide_item(self.system, actor, case_ref, exhibits, schedule, **fields)

    def mark(self, actor: Actor, case_ref: str, schedule: str, number: int, mark: str, comment: str) -> None:
        disclosure.mark_item(self.system, actor, case_ref, schedule, number, mark, comment)

    def schedule_csv(self, actor: Actor, case_ref: str, schedule: str) -> str:
        items = disclosure.case_items(self.system, actor, case_ref, schedule)
        return disclosure.schedule_csv(case_ref, schedule, items, actor.name)

    def schedule_pdf(self, actor: Actor, case_ref: str, schedule: str) -> bytes:
        items = disclosure.case_items(self.system, actor, case_ref, schedule)
        return disclosure.schedule_pdf(case_ref, schedule, items, actor.name)

    def export_bundle(
        self,
        actor: Actor,
        case_ref: str,
        *,
        recipient: str,
        reason: str,
        schedule: str | None,
        redacted: bool,
        passphrase: str | None,
    ) -> tuple[ExportOutcome, str]:
        """Writes a signed case bundle into the exports folder (EXPORTED events, as the CLI) and returns it with a
        one-hour download link. With a passphrase the bundle is encrypted; the passphrase is not kept."""
        sweep_exports(exports_folder(self.system))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{bundles.safe_name(case_ref)}-{stamp}-{secrets.token_hex(4)}.zip" + (".enc" if passphrase else "")
        out = exports_folder(self.system) / name
        outcome = bundles.export_bundle(
            self.system,
            actor,
            case_ref,
            out,
            recipient=recipient,
            reason=reason,
            schedule=schedule,
            redacted=redacted,
            passphrase=passphrase,
        )
        media_type = "application/octet-stream" if passphrase else "application/zip"
        token = media.mint(name, media_type, actor.name, seconds=EXPORT_LINK_SECONDS, file_name=name)
        return outcome, f"{app_origin()}/api/bundle/{token}"

    def redactions(self, actor: Actor, case_ref: str) -> list[dict[str, Any]]:
        return redaction.case_redactions(self.system, actor, case_ref)

    def review_redaction(self, actor: Actor, exhibit_id: int, sha256: str, verdict: str, note: str) -> None:
        redaction.review_redaction(self.system, actor, exhibit_id, sha256, verdict, note)

    # -- retention --------------------------------------------------------------------------------------------

    def retention_status(self, actor: Actor, case_ref: str) -> list[retention.RetentionState]:
        return retention.retention_status(self.system, actor, case_ref)

    def set_retention(self, actor: Actor, case_ref: str, name: str, exhibit: str | None, reason: str) -> None:
        retention.set_retention(self.system, actor, case_ref, name, exhibit=exhibit, reason=reason or None)

    def record_outcome(
        self, actor: Actor, case_ref: str, outcome: str, outcome_date: str, release_date: str | None
    ) -> None:
        retention.record_outcome(self.system, actor, case_ref, outcome, outcome_date, release_date=release_date)

    def holds(self, actor: Actor, case_ref: str) -> list[dict[str, Any]]:
        return retention.list_holds(self.system, actor, case_ref)

    def place_hold(self, actor: Actor, case_ref: str, exhibit: str | None, reason: str, authority: str) -> int:
        return retention.place_hold(
            self.system, actor, case_ref, exhibit=exhibit, reason=reason, authority=authority or None
        )

    def release_hold(self, actor: Actor, case_ref: str, hold_id: int, reason: str) -> None:
        retention.release_hold(self.system, actor, case_ref, hold_id, reason=reason)

    def disposals(self, actor: Actor, case_ref: str) -> list[retention.DisposalRequest]:
        return retention.list_disposals(self.system, actor, case_ref)

    def request_disposal(self, actor: Actor, case_ref: str, exhibit: str, reason: str, before_due: bool) -> None:
        retention.request_disposal(self.system, actor, case_ref, exhibit, reason=reason, before_due=before_due)

    def decide_disposal(self, actor: Actor, request_id: int, approve: bool, reason: str) -> None:
        retention.decide_disposal(self.system, actor, request_id, approve=approve, reason=reason)

    def certificate_pdf(self, actor: Actor, request_id: int) -> bytes:
        return retention.certificate_pdf(retention.get_certificate(self.system, actor, request_id))

    def certificate_json(self, actor: Actor, request_id: int) -> str:
        certificate = retention.get_certificate(self.system, actor, request_id)
        return json.dumps(certificate, indent=1, sort_keys=True)

    # -- administration ---------------------------------------------------------------------------------------

    def users(self, actor: Actor) -> list[dict[str, object]]:
        return access.list_users(self.system, actor)

    def add_user(self, actor: Actor, name: str, role: str, display_name: str, password: str) -> None:
        access.add_user(self.system, actor, name, role, display_name or None, password or None)

    def members(self, actor: Actor, case_ref: str) -> list[dict[str, object]]:
        return access.case_members(self.system, actor, case_ref)

    def add_member(self, actor: Actor, case_ref: str, user_name: str) -> None:
        access.add_member(self.system, actor, case_ref, user_name)

    # -- runs and intake ------------------------------------------------------------------------------------

    def uids(self, actor: Actor, case_ref: str | None, exhibit: str | None) -> list[str]:
        """The exhibits `actor` may have analysed (ANALYSE is checked and refusals recorded)."""
        return exhibit_uids(self.system, actor, case_ref=case_ref, exhibit=exhibit)

    def references(self, uids: list[str]) -> dict[str, str]:
        return review.references_of(self.system, uids)

    def intake(
        self, actor: Actor, case_ref: str, files: Sequence[tuple[str, bytes]], request: IngestRequest
    ) -> list[IngestOutcome]:
        """Ingests uploaded files exactly as the command line and drop folders do (same checks, same events)."""
        with tempfile.TemporaryDirectory(prefix="exhibit-upload-") as folder:
            paths = []
            for name, data in files:
                path = Path(folder) / Path(name).name
                path.write_bytes(data)
                paths.append(path)
            return ingest(self.system, actor, paths, request)


@st.cache_resource(show_spinner=False)
def shared() -> Services:
    """The process's services (also used by the media route, which runs outside any page)."""
    return Services(EvidenceSystem.open(Settings.from_env()))


def current() -> Services:
    fake = st.session_state.get("services")
    return fake if fake is not None else shared()
