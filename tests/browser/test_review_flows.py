"""The review app in a real browser (Debian chromium driven by Playwright) against the demo case: the flows an
investigator clicks through. Screenshots of each page go to docs/screenshots/ (kept current by this test)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_store.catalog import Exhibit
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from pipelines.orchestration import review_command
from tests.review_app.conftest import DEMO_CASE, OTHER_CASE, PASSWORD, demo_home  # noqa: F401

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make setup installs it)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def review_url(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: F811
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXHIBIT_", "DAGSTER_"))}
    env.update({"EXHIBIT_HOME": str(demo_home), "EXHIBIT_DAGSTER_URL": "http://127.0.0.1:9"})
    log = (tmp_path_factory.mktemp("review-log") / "review.log").open("wb")
    proc = subprocess.Popen(review_command("127.0.0.1", port), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "the review app did not start"
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def _ids(demo_home: Path) -> dict[str, int | str]:  # noqa: F811
    system = EvidenceSystem.open(Settings.from_env({"EXHIBIT_HOME": str(demo_home)}))
    try:
        with system.catalog.reading() as session:
            video = session.execute(select(Exhibit.id).where(Exhibit.kind == "bwv").order_by(Exhibit.id)).scalar()
            photo = session.execute(select(Exhibit).where(Exhibit.source_name == "scene-photo.jpg")).scalars().first()
            assert video is not None and photo is not None
            return {"video": video, "photo": photo.id, "sha256": photo.original_sha256, "photo_ref": photo.reference}
    finally:
        system.close()


def _open(browser: object, url: str, user: str = "dc.brown") -> object:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page.goto(url)
    page.get_by_label("User name", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(user, exact=False).first.wait_for(timeout=30_000)
    return page


def _shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_sign_in_and_open_the_case(review_url: str, browser: object) -> None:
    page = _open(browser, f"{review_url}/case")
    page.get_by_text(DEMO_CASE).first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    page.get_by_text("exhibit(s) match").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    _shot(page, "case")


def test_a_video_plays(review_url: str, browser: object, demo_home: Path) -> None:  # noqa: F811
    ids = _ids(demo_home)
    page = _open(browser, f"{review_url}/exhibit?exhibit={ids['video']}")
    page.wait_for_selector("video", timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('video').readyState >= 2", timeout=60_000)  # type: ignore[attr-defined]
    page.evaluate("v => { v.muted = true; return v.play(); }", page.query_selector("video"))  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('video').currentTime > 0.3", timeout=30_000)  # type: ignore[attr-defined]
    _shot(page, "exhibit-video")


def test_a_photo_shows_its_map_pin(review_url: str, browser: object, demo_home: Path) -> None:  # noqa: F811
    ids = _ids(demo_home)
    page = _open(browser, f"{review_url}/exhibit?exhibit={ids['photo']}")
    page.get_by_text("Taken at").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_selector("[data-testid='stDeckGlJsonChart']", timeout=60_000)  # type: ignore[attr-defined]
    _shot(page, "exhibit-photo")


def test_search_a_sha256(review_url: str, browser: object, demo_home: Path) -> None:  # noqa: F811
    ids = _ids(demo_home)
    page = _open(browser, f"{review_url}/search")
    page.get_by_role("textbox", name="Search").fill(str(ids["sha256"]))  # type: ignore[attr-defined]
    page.get_by_role("button", name="Search").click()  # type: ignore[attr-defined]
    page.get_by_text(f"{ids['photo_ref']} — original").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    _shot(page, "search")


def test_a_persons_appearances(review_url: str, browser: object) -> None:
    page = _open(browser, f"{review_url}/persons")
    page.get_by_text("Suspect A").first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
    page.get_by_role("button", name="★").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    page.get_by_text("best face").first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
    _shot(page, "persons")


def test_custody_badge(review_url: str, browser: object, demo_home: Path) -> None:  # noqa: F811
    ids = _ids(demo_home)
    page = _open(browser, f"{review_url}/custody?exhibit={ids['photo']}")
    page.get_by_text("CUSTODY VERIFIED").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    _shot(page, "custody")


def test_timeline_and_map(review_url: str, browser: object) -> None:
    page = _open(browser, f"{review_url}/timeline")
    page.get_by_text("event(s)").first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
    _shot(page, "timeline")


def test_a_case_the_user_is_not_a_member_of_is_refused(review_url: str, browser: object) -> None:
    page = _open(browser, f"{review_url}/case?case={OTHER_CASE}")
    page.get_by_text("EX-ACCESS-DENIED").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    assert page.get_by_text("Traceback").count() == 0  # type: ignore[attr-defined]
    _shot(page, "refused")


def test_an_officer_uploads_an_exhibit(review_url: str, browser: object, tmp_path: Path) -> None:
    statement = tmp_path / "witness-statement.txt"
    statement.write_text("I saw a man in a grey hoodie leave number 14 at about 10 pm.\n")
    page = _open(browser, f"{review_url}/intake")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(statement))  # type: ignore[attr-defined]
    page.get_by_label("Produced or seized by (name)").fill("Sam Brown")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Ingest").click()  # type: ignore[attr-defined]
    page.get_by_text("witness-statement.txt stored").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    _shot(page, "intake")


def test_media_links_serve_ranges_and_refuse_forgeries(
    review_url: str,
    browser: object,
    demo_home: Path,  # noqa: F811
) -> None:
    from review_app.media import mint

    ids = _ids(demo_home)
    page = _open(browser, f"{review_url}/exhibit?exhibit={ids['video']}")
    link = page.wait_for_selector("video", timeout=60_000).get_attribute("src")  # type: ignore[attr-defined]
    assert link and "/api/media/" in link
    link = link if link.startswith("http") else f"{review_url}{link}"
    sha256 = _proxy_sha256(demo_home, int(ids["video"]))
    system = EvidenceSystem.open(Settings.from_env({"EXHIBIT_HOME": str(demo_home)}))
    try:
        size = system.store.plaintext_size(sha256)
        expected = system.store.read_range(sha256, size - 1000, 1000)
    finally:
        system.close()
    request = urllib.request.Request(link, headers={"Range": f"bytes={size - 1000}-"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 206
        assert answer.headers["Content-Range"] == f"bytes {size - 1000}-{size - 1}/{size}"
        assert answer.read() == expected
    # A link signed by any other process (this one) is refused, as is an edited one.
    for forged in (mint(sha256, "video/mp4", "dc.brown"), link.rsplit("/", 1)[1][:-3] + "AAA"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{review_url}/api/media/{forged}", timeout=10)
        assert refused.value.code == 403
        assert b"EX-MEDIA-LINK" in refused.value.read()


def _proxy_sha256(demo_home: Path, exhibit_id: int) -> str:  # noqa: F811
    from evidence_store.derivatives import latest_derivative

    system = EvidenceSystem.open(Settings.from_env({"EXHIBIT_HOME": str(demo_home)}))
    try:
        proxy = latest_derivative(system, exhibit_id, "review_proxy")
        assert proxy is not None
        return proxy.sha256
    finally:
        system.close()
