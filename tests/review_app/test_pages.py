"""Each page of the review app, run by Streamlit's AppTest against the demo case (real store, real ledger)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from evidence_store.catalog import CustodyEventRow, Exhibit
from evidence_store.errors import AccessDeniedError
from evidence_store.system import EvidenceSystem
from review_app.services import Services
from tests.review_app.conftest import DEMO_CASE, OTHER_CASE, PASSWORD, actor

APP = str(Path(__file__).resolve().parents[2] / "review_app" / "streamlit_app.py")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def _app(system: EvidenceSystem, user: str | None = "dc.brown", **state: Any) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["services"] = Services(system)
    if user is not None:
        at.session_state["actor"] = actor(system, user)
        at.session_state["last_seen"] = time.time()
        at.session_state["case"] = DEMO_CASE
    for key, value in state.items():
        at.session_state[key.replace("__", ".")] = value
    return at


def _events(system: EvidenceSystem, action: str, actor_name: str) -> list[CustodyEventRow]:
    with system.catalog.reading() as session:
        return list(
            session.execute(
                select(CustodyEventRow).where(CustodyEventRow.action == action, CustodyEventRow.actor == actor_name)
            ).scalars()
        )


def _exhibit_id(system: EvidenceSystem, kind: str) -> int:
    with system.catalog.reading() as session:
        return int(
            session.execute(select(Exhibit.id).where(Exhibit.kind == kind).order_by(Exhibit.id).limit(1)).scalar_one()
        )


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [str(e.value) for e in at.error] + [str(s.value) for s in at.success] + [str(i.value) for i in at.info]
    return "\n".join(parts)


def test_sign_in_refuses_a_wrong_password_and_records_it(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, user=None).run()
    before = len(_events(demo_system, "ACCESS_DENIED", "dc.brown"))
    at.text_input(key="sign_in.name").input("dc.brown")
    at.text_input(key="sign_in.password").input("wrong")
    at.button[0].click().run()
    assert "EX-ACCESS-DENIED" in _text(at)
    assert "Traceback" not in _text(at)
    assert len(_events(demo_system, "ACCESS_DENIED", "dc.brown")) == before + 1

    at.text_input(key="sign_in.password").input(PASSWORD)
    at.button[0].click().run()
    assert at.session_state["actor"].name == "dc.brown"
    assert _events(demo_system, "SIGNED_IN", "dc.brown")
    picker = at.sidebar.selectbox(key="picker.case")
    assert picker.options == [f"{DEMO_CASE} — Burglary at 14 Acacia Avenue (demo) ({picker.options[0].split('(')[-1]}"]
    assert OTHER_CASE not in " ".join(picker.options)  # need to know: another team's case is not even named


def test_an_idle_session_expires_and_is_recorded(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system)
    at.session_state["last_seen"] = time.time() - 3 * 3600
    at.run()
    assert "session expired" in _text(at)
    assert any("expired" in (e.reason or "") for e in _events(demo_system, "SIGNED_OUT", "dc.brown"))


def test_a_link_to_a_case_the_user_is_not_a_member_of_is_refused(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system)
    at.query_params["case"] = OTHER_CASE
    at.run()
    assert "EX-ACCESS-DENIED" in _text(at)
    assert "not a member" in _text(at)
    assert any(e.case_ref == OTHER_CASE for e in _events(demo_system, "ACCESS_DENIED", "dc.brown"))


def test_case_page_counts_and_pages_exhibits(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["photo"]) >= 3 and int(metrics["bwv"]) >= 2
    table = at.dataframe[0].value
    assert len(table) >= 8 and {"exhibit", "kind", "status", "analysed"} <= set(table.columns)
    at.selectbox(key="cases.kind").select("photo").run()
    assert set(at.dataframe[0].value["kind"]) == {"photo"}
    assert any("case exhibit list" in e.details for e in _events(demo_system, "VIEWED", "dc.brown"))


def test_video_exhibit_plays_its_review_proxy_from_a_time(demo_system: EvidenceSystem) -> None:
    video = _exhibit_id(demo_system, "bwv")
    at = _app(demo_system, exhibit__id=video, exhibit__seek=1.0)
    at.switch_page("app_pages/exhibit.py").run()
    assert not at.exception, at.exception
    players = at.get("video")
    assert players and "/api/media/" in players[0].proto.url
    assert players[0].proto.start_time == 1
    assert any("digest" in d.value.columns and "SHA-256" in set(d.value["digest"]) for d in at.dataframe)


def test_photo_exhibit_shows_exif_and_its_map_pin(demo_system: EvidenceSystem) -> None:
    with demo_system.catalog.reading() as session:
        photo = session.execute(
            select(Exhibit.id).where(Exhibit.source_name == "scene-photo.jpg").limit(1)
        ).scalar_one_or_none()
    assert photo is not None
    at = _app(demo_system, exhibit__id=photo)
    at.switch_page("app_pages/exhibit.py").run()
    assert not at.exception, at.exception
    assert "Taken at" in _text(at)
    assert at.get("deck_gl_json_chart") or at.get("map")


def test_search_finds_where_a_sha256_is(demo_system: EvidenceSystem) -> None:
    with demo_system.catalog.reading() as session:
        exhibit = session.execute(select(Exhibit).where(Exhibit.kind == "photo").limit(1)).scalar_one()
        digest, ref = exhibit.original_sha256, exhibit.reference
    at = _app(demo_system)
    at.switch_page("app_pages/search.py").run()
    at.text_input(key="search.text").input(digest.upper())
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert f"**{ref}** — original" in [m.value for m in at.markdown]


def test_persons_page_lists_appearances_and_names(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system)
    at.switch_page("app_pages/persons.py").run()
    assert not at.exception, at.exception
    assert any("Suspect A" in e.label for e in at.expander)
    assert any(b.label.startswith("★") for b in at.button)
    assert len(at.get("image")) >= 2  # each person's best face, cut from the recording or photo


def test_timeline_fuses_sources_and_map_lists_geotagged(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system)
    at.switch_page("app_pages/timeline.py").run()
    assert not at.exception, at.exception
    timeline = at.dataframe[0].value
    assert "photo taken" in set(timeline["what"])
    assert any(str(w).startswith("custody:") for w in timeline["what"])
    assert any(str(w).startswith("file ") for w in timeline["what"])  # the seized card's file-system times
    assert len(at.dataframe[1].value) >= 1  # geotagged


def test_custody_page_shows_a_verified_badge_and_the_proof(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, exhibit__id=_exhibit_id(demo_system, "photo"))
    at.switch_page("app_pages/custody.py").run()
    assert not at.exception, at.exception
    assert "CUSTODY VERIFIED" in at.success[0].value
    assert len(at.dataframe[0].value) >= 3


def test_runs_page_says_when_dagster_is_down(demo_system: EvidenceSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHIBIT_DAGSTER_URL", "http://127.0.0.1:9")
    at = _app(demo_system, user="jane.smith")
    at.switch_page("app_pages/runs.py").run()
    assert "EX-DAGSTER-UNAVAILABLE" in _text(at)


def test_intake_page_renders_and_intake_goes_through_the_store(demo_system: EvidenceSystem, tmp_path: Path) -> None:
    at = _app(demo_system)
    at.switch_page("app_pages/intake.py").run()
    assert not at.exception, at.exception
    from evidence_store.intake import IngestRequest

    [outcome] = Services(demo_system).intake(
        actor(demo_system, "dc.brown"),
        DEMO_CASE,
        [("statement.txt", b"statement of PC 1234, typed up")],
        IngestRequest(case_ref=DEMO_CASE, by="Sam Brown", description="officer's statement"),
    )
    assert outcome.error is None and outcome.exhibit_ref
    assert _events(demo_system, "RECEIVED", "dc.brown")


def test_device_image_page_browses_partitions_and_files(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, exhibit__id=_exhibit_id(demo_system, "device_image"))
    at.switch_page("app_pages/exhibit.py").run()
    assert not at.exception, at.exception
    assert "Image verified" in _text(at)
    headers = [h.value for h in at.subheader]
    assert "Partitions" in headers and "Files" in headers
    files = next(d.value for d in at.dataframe if "deleted" in d.value.columns)
    assert len(files) >= 1
    at.checkbox(key="exhibit.deleted").check().run()
    deleted = next(d.value for d in at.dataframe if "deleted" in d.value.columns)
    assert len(deleted) == 0 or set(deleted["deleted"]) == {True}


def test_audio_page_plays_and_lists_speech(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, exhibit__id=_exhibit_id(demo_system, "audio"))
    at.switch_page("app_pages/exhibit.py").run()
    assert not at.exception, at.exception
    players = at.get("audio")
    assert players and "/api/media/" in players[0].proto.url
    assert "Speech" in [h.value for h in at.subheader]
    speech = [b for b in at.button if b.key and b.key.startswith("exhibit.speech.")]
    assert speech
    speech[0].click().run()
    assert at.session_state["exhibit.seek"] is not None  # jumped to the moment


def test_download_needs_a_reason_and_is_recorded(demo_system: EvidenceSystem) -> None:
    exhibit_id = _exhibit_id(demo_system, "photo")
    at = _app(demo_system, exhibit__id=exhibit_id)
    at.switch_page("app_pages/exhibit.py").run()
    before = len(_events(demo_system, "DOWNLOADED", "dc.brown"))
    download = next(b for b in at.button if b.label == "Download original")
    download.click().run()
    assert "needs a stated reason" in _text(at)
    assert len(_events(demo_system, "DOWNLOADED", "dc.brown")) == before
    at.text_input[-1].input("copy for the forensic image expert")  # a form: sent by its button
    next(b for b in at.button if b.label == "Download original").click().run()
    links = at.get("link_button")
    assert links and "/api/media/" in links[0].proto.url
    recorded = _events(demo_system, "DOWNLOADED", "dc.brown")
    assert len(recorded) == before + 1 and recorded[-1].reason == "copy for the forensic image expert"


def test_naming_a_person_is_a_recorded_decision(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system)
    at.switch_page("app_pages/persons.py").run()
    unnamed = next(e.label.split(" ")[0] for e in at.expander if "unnamed" in e.label)
    at.selectbox(key="persons.name.who").select(unnamed)
    at.text_input(key="persons.name.text").input("Witness B")
    at.text_input(key="persons.name.why").input("recognised by DC Brown")
    next(b for b in at.button if b.label == "Name").click().run()
    assert not at.exception, at.exception
    assert any(f"{unnamed} — Witness B" in e.label for e in at.expander)
    decided = _events(demo_system, "PERSON_DECIDED", "dc.brown")
    assert decided and decided[-1].reason == "recognised by DC Brown"


def test_admins_add_users_and_members(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, user="demo.admin")
    at.session_state["case"] = None
    at.switch_page("app_pages/admin.py").run()
    assert not at.exception, at.exception
    assert "dc.brown" in set(at.dataframe[0].value["name"])
    at.text_input(key="admin.user.name").input("pc.newcomer")
    at.selectbox(key="admin.user.role").select("investigator")
    at.text_input(key="admin.user.password").input("a long enough passphrase")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert not at.exception, at.exception
    at.text_input(key="admin.case").input(DEMO_CASE).run()
    at.text_input(key="admin.member.user").input("pc.newcomer")
    next(b for b in at.button if b.label == "Add member").click().run()
    assert "pc.newcomer" in set(at.dataframe[-1].value["name"])
    assert _events(demo_system, "MEMBER_ADDED", "demo.admin")


def test_supervisors_see_members_of_their_case_but_not_the_users(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, user="sup.khan")
    at.switch_page("app_pages/admin.py").run()
    assert not at.exception, at.exception
    assert "Users" not in [h.value for h in at.subheader]
    assert "dc.brown" in set(at.dataframe[0].value["name"])  # members of the case in the sidebar
    with pytest.raises(AccessDeniedError):
        Services(demo_system).users(actor(demo_system, "dc.brown"))


def test_device_browser_opens_a_folder_from_the_tree(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, exhibit__id=_exhibit_id(demo_system, "device_image"))
    at.switch_page("app_pages/exhibit.py").run()
    folders = [b for b in at.button if b.key and b.key.startswith("exhibit.dir.sub.")]
    assert folders, "the seized card's root has a folder"
    path = folders[0].key.removeprefix("exhibit.dir.sub.")
    folders[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["exhibit.dir"] == path
    assert f"in {path}" in _text(at)


def test_disclosure_officer_decides_and_downloads_schedules(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, user="do.patel")
    at.switch_page("app_pages/disclosure.py").run()
    assert not at.exception, at.exception
    undecided = at.multiselect(key="disclosure.ex").options
    assert undecided, "the demo case starts with nothing decided"
    at.multiselect(key="disclosure.ex").select(undecided[0])
    at.radio(key="disclosure.sch").set_value("MG6C")
    at.text_area(key="disclosure.desc").input("Body-worn video of the arrest outside number 14")
    next(b for b in at.button if b.label == "Record decision").click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("MG6C item 1") for s in at.success)
    assert "Body-worn video of the arrest outside number 14" in set(at.dataframe[0].value["description"])
    assert "nil return" in _text(at)  # nothing sensitive scheduled
    assert _events(demo_system, "DISCLOSURE_DECIDED", "do.patel")
    assert len(at.get("download_button")) == 6  # MG6C, MG6D, MG6E as CSV and PDF


def test_disclosure_officer_reviews_a_redacted_copy(demo_system: EvidenceSystem) -> None:
    at = _app(demo_system, user="do.patel")
    at.switch_page("app_pages/disclosure.py").run()
    pending = [e for e in at.expander if "pending review" in e.label]
    assert pending, "the demo makes a redacted copy pending review"
    at.radio(key="disclosure.v.0").set_value("approved")
    at.text_input(key="disclosure.note.0").input("watched it through: both bystanders blurred throughout")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert not at.exception, at.exception
    assert any("approved" in e.label for e in at.expander)
    assert _events(demo_system, "REDACTION_REVIEWED", "do.patel")


def test_retention_hold_request_and_a_second_persons_approval(demo_system: EvidenceSystem, tmp_path: Path) -> None:
    from evidence_store.access import add_member
    from evidence_store.cases import create_case
    from evidence_store.intake import IngestRequest, ingest

    # A case of its own, so that disposing of an exhibit leaves the demo case whole for the other tests.
    admin, analyst = actor(demo_system, "demo.admin"), actor(demo_system, "jane.smith")
    create_case(demo_system, analyst, "OP-RETAIN-003", "Non-evidential footage")
    clip = tmp_path / "bwv-non-evidential.mp4"
    clip.write_bytes(b"non-evidential footage" * 1000)
    ingest(demo_system, analyst, [clip], IngestRequest(case_ref="OP-RETAIN-003", by="PC Amy Lee"))
    for name in ("do.patel", "sup.khan"):
        add_member(demo_system, admin, "OP-RETAIN-003", name)

    at = _app(demo_system, user="do.patel", case="OP-RETAIN-003")
    at.switch_page("app_pages/retention.py").run()
    assert not at.exception, at.exception
    assert "waits for the case outcome" in set(at.dataframe[0].value["due"])
    at.text_input(key="retention.hold.reason").input("complaint received")
    next(b for b in at.button if b.label == "Place hold").click().run()
    at.text_input(key="retention.request.reason").input("not evidential")
    at.checkbox(key="retention.request.early").check()
    next(b for b in at.button if b.label == "Request disposal").click().run()
    assert "EX-DISPOSAL-REFUSED" in _text(at) and "legal hold" in _text(at)

    sup = _app(demo_system, user="sup.khan", case="OP-RETAIN-003")
    sup.switch_page("app_pages/retention.py").run()
    sup.text_input(key="retention.release.reason").input("complaint withdrawn")
    next(b for b in sup.button if b.label == "Release").click().run()
    assert not sup.exception, sup.exception

    at.run()
    at.text_input(key="retention.request.reason").input("not evidential")
    at.checkbox(key="retention.request.early").check()
    next(b for b in at.button if b.label == "Request disposal").click().run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.label == "Approve and dispose"]  # not the requester's to approve

    sup.run()
    request_id = int(next(e for e in sup.expander if "requested" in e.label).label.split(":")[0].split()[-1])
    sup.text_input(key=f"retention.decide.why.{request_id}").input("checked: no evidential value")
    next(b for b in sup.button if b.label == "Approve and dispose").click().run()
    assert not sup.exception, sup.exception
    assert "disposed" in set(sup.dataframe[0].value["state"])
    assert len(sup.get("download_button")) == 2  # the certificate as PDF and signed JSON
    assert _events(demo_system, "DISPOSED", "sup.khan")

    # The disposed exhibit's page says so instead of failing on its deleted objects; it cannot be analysed.
    with demo_system.catalog.reading() as session:
        disposed_id = session.execute(
            select(Exhibit.id).where(Exhibit.source_name == "bwv-non-evidential.mp4")
        ).scalar_one()
    page = _app(demo_system, user="do.patel", case="OP-RETAIN-003", exhibit__id=disposed_id)
    page.switch_page("app_pages/exhibit.py").run()
    assert not page.exception, page.exception
    assert "Disposed of" in _text(page) and "EX-" not in _text(page)
    assert Services(demo_system).uids(actor(demo_system, "jane.smith"), "OP-RETAIN-003", None) == []


def test_disclosure_officer_exports_an_encrypted_bundle_for_download(demo_system: EvidenceSystem) -> None:
    from evidence_store.bundle_verify import verify_bundle
    from review_app import media
    from review_app.services import exports_folder

    at = _app(demo_system, user="do.patel")
    at.switch_page("app_pages/disclosure.py").run()
    at.text_input(key="disclosure.export.recipient").input("CPS Area East")
    at.text_input(key="disclosure.export.reason").input("file build for the first hearing")
    at.text_input(key="disclosure.export.passphrase").input("seven words sent by phone")
    next(b for b in at.button if b.label == "Export bundle").click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Bundle for CPS Area East") for s in at.success), _text(at)
    (link,) = [b for b in at.get("link_button") if "Download the bundle" in b.proto.label]
    grant = media.check(link.proto.url.rsplit("/", 1)[-1])
    assert grant is not None and grant.file_name and grant.file_name.endswith(".zip.enc")
    bundle = exports_folder(demo_system) / grant.sha256
    report = verify_bundle(bundle, passphrase="seven words sent by phone")
    assert report.ok and report.encrypted, report.problems
    exported = _events(demo_system, "EXPORTED", "do.patel")
    assert exported and all("seven words" not in e.details for e in exported)
