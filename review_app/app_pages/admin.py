"""Users and case membership: admins add users (with a password to sign in here) and members to any case;
supervisors add members to their own cases. Every change is a ledger event (USER_ADDED, MEMBER_ADDED)."""

from __future__ import annotations

import streamlit as st

from evidence_store.access import ROLES
from review_app import components
from review_app.services import current

actor = components.actor()
services = current()
st.title("Users and members")

if actor.role == "admin":
    st.subheader("Users")
    st.dataframe(services.users(actor), hide_index=True, width="stretch")
    with st.form("admin.user", clear_on_submit=True):
        left, right = st.columns(2)
        name = left.text_input("User name (e.g. jane.smith)", key="admin.user.name")
        role = right.selectbox("Role", ROLES, key="admin.user.role")
        display = left.text_input("Full name and post", key="admin.user.display")
        password = right.text_input("Initial password", type="password", key="admin.user.password")
        if st.form_submit_button("Add user"):
            services.add_user(actor, name.strip(), role, display.strip(), password)
            st.success(f"{name} added as {role}")

st.subheader("Members of a case")
case_ref = st.text_input("Case reference", value=st.session_state.get("case") or "", key="admin.case")
if case_ref.strip():
    st.dataframe(services.members(actor, case_ref.strip()), hide_index=True, width="stretch")
    with st.form("admin.member", clear_on_submit=True):
        user_name = st.text_input("User to add", key="admin.member.user")
        if st.form_submit_button("Add member"):
            services.add_member(actor, case_ref.strip(), user_name.strip())
            st.success(f"{user_name} is now a member of {case_ref}")
            st.rerun()
