"""Exhibit's review app: sign-in, the case picker and the pages (`streamlit run review_app/server.py`)."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from review_app import components
from review_app.services import SESSION_MINUTES, current
from schemas.errors import ExhibitError

st.set_page_config(page_title="Exhibit review", page_icon=":material/search:", layout="wide")
PAGES = Path(__file__).parent / "app_pages"


def signed_in() -> bool:
    """Whether a user is signed in and active within the session limit; an idle session ends (recorded)."""
    actor = st.session_state.get("actor")
    if actor is None:
        return False
    idle = time.time() - st.session_state.get("last_seen", 0.0)
    if idle > SESSION_MINUTES * 60:
        current().sign_out(actor, f"session expired after {SESSION_MINUTES} minutes idle")
        for key in ("actor", "case", "last_seen"):
            st.session_state.pop(key, None)
        st.session_state["sign_in.notice"] = "Your session expired. Sign in again."
        return False
    st.session_state["last_seen"] = time.time()
    return True


def remember_link() -> None:
    """The page and parameters a link asked for, kept across the sign-in (which starts at the app's root)."""
    if "link.page" in st.session_state:
        return
    url = st.context.url or ""
    path = url.split("://", 1)[-1].partition("/")[2].split("?", 1)[0].strip("/")
    st.session_state["link.page"] = path.rsplit("/", 1)[-1]
    st.session_state["link.params"] = st.query_params.to_dict()


def restore_link_params() -> None:
    for key, value in (st.session_state.get("link.params") or {}).items():
        st.query_params[key] = value


def follow_remembered_link(listed: list[st.Page]) -> None:
    wanted = st.session_state.pop("link.page", None)
    params = st.session_state.pop("link.params", None) or {}
    for page in listed:
        if wanted and page.url_path == wanted:
            st.switch_page(page, query_params=params)


def sign_in_form() -> None:
    remember_link()
    st.title("Exhibit review")
    if notice := st.session_state.pop("sign_in.notice", None):
        st.info(notice)
    with st.form("sign_in"):
        name = st.text_input("User name", key="sign_in.name")
        password = st.text_input("Password", type="password", key="sign_in.password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            st.session_state["actor"] = current().sign_in(name, password)
        except ExhibitError as exc:
            components.coded_error(exc)
            return
        st.session_state["last_seen"] = time.time()
        st.rerun()


def case_picker() -> None:
    actor = st.session_state["actor"]
    cases = current().cases(actor)
    with st.sidebar:
        st.markdown(f"**{actor.name}** · {actor.role.replace('_', ' ')}")
        if not cases:
            st.warning("You are not a member of any case. A supervisor or admin adds members.")
            st.session_state.pop("case", None)
        else:
            references = [c.reference for c in cases]
            linked = st.query_params.get("case")
            if linked and linked != st.session_state.get("case.linked"):
                st.session_state["case.linked"] = linked
                if linked not in references:
                    current().open_case(actor, linked)  # raises, recorded: the user is not a member
                st.session_state["case"] = linked
            chosen = st.session_state.get("case")
            index = references.index(chosen) if chosen in references else 0
            labels = {c.reference: f"{c.reference} — {c.title} ({c.exhibits})" for c in cases}
            picked = st.selectbox("Case", references, index=index, format_func=labels.__getitem__, key="picker.case")
            if picked != chosen:
                st.session_state["case"] = picked
                st.session_state.pop("exhibit.id", None)
        if st.button("Sign out", key="picker.sign_out"):
            current().sign_out(actor, "signed out")
            st.session_state.clear()
            st.rerun()


def follow_exhibit_link() -> None:
    """`?exhibit=ID&t=SECONDS` opens an exhibit (at a moment): links survive a sign-in, a reload or an e-mail."""
    linked = st.query_params.get("exhibit")
    if not linked or linked == st.session_state.get("exhibit.linked"):
        return
    st.session_state["exhibit.linked"] = linked
    try:
        st.session_state["exhibit.id"] = int(linked)
        st.session_state["exhibit.seek"] = float(st.query_params.get("t", "0")) or None
    except ValueError:
        st.session_state.pop("exhibit.id", None)


def pages() -> list[st.Page]:
    role = st.session_state["actor"].role
    listed = [
        st.Page(PAGES / "cases.py", title="Case", icon=":material/folder_open:", default=True, url_path="case"),
        st.Page(PAGES / "exhibit.py", title="Exhibit", icon=":material/movie:", url_path="exhibit"),
        st.Page(PAGES / "persons.py", title="Persons", icon=":material/person:", url_path="persons"),
        st.Page(PAGES / "timeline.py", title="Timeline and map", icon=":material/map:", url_path="timeline"),
        st.Page(PAGES / "search.py", title="Search", icon=":material/search:", url_path="search"),
        st.Page(PAGES / "custody.py", title="Custody", icon=":material/link:", url_path="custody"),
    ]
    if role in ("analyst", "admin"):
        listed.append(st.Page(PAGES / "runs.py", title="Runs", icon=":material/settings:", url_path="runs"))
    if role in ("analyst", "admin", "investigator"):
        listed.append(st.Page(PAGES / "intake.py", title="Intake", icon=":material/upload:", url_path="intake"))
    if role in ("disclosure_officer", "supervisor", "investigator", "analyst"):
        listed.append(
            st.Page(PAGES / "disclosure.py", title="Disclosure", icon=":material/gavel:", url_path="disclosure")
        )
    if role in ("disclosure_officer", "supervisor"):
        listed.append(
            st.Page(PAGES / "retention.py", title="Retention", icon=":material/auto_delete:", url_path="retention")
        )
    if role in ("admin", "supervisor"):
        listed.append(st.Page(PAGES / "admin.py", title="Users and members", icon=":material/group:", url_path="admin"))
    return listed


if not signed_in():
    sign_in_form()
else:
    try:
        restore_link_params()
        case_picker()
        listed = pages()
        page = st.navigation(listed)
        if "link.page" in st.session_state:
            follow_remembered_link(listed)
        follow_exhibit_link()
        page.run()
    except ExhibitError as exc:
        components.coded_error(exc)
