"""An exhibit's custody: its ledger events, a verification badge (chain, signatures, inclusion in the newest
signed checkpoint) and the proof file a recipient verifies offline with `exhibit verify-proof`."""

from __future__ import annotations

import json

import streamlit as st

from review_app import components
from review_app.services import current

actor, case_ref = components.actor(), components.case_ref()
services = current()
st.title("Custody")
exhibit_id = st.session_state.get("exhibit.id")
if exhibit_id is None:
    st.info("Open an exhibit first (Case page or Search); its custody is shown here.")
    st.stop()
badge = services.badge(actor, int(exhibit_id))
history = services.custody(actor, int(exhibit_id))
st.subheader(f"{history['exhibit_ref']} in {history['case']}")

marks = {"ok": "✅", "failed": "❌", "not reached": "⚪"}
verdict = "CUSTODY VERIFIED" if badge.ok else "CUSTODY NOT VERIFIED"
(st.success if badge.ok else st.error)(
    f"**{verdict}** · chain {marks[badge.chain]} {badge.chain} · signatures {marks[badge.signatures]} "
    f"{badge.signatures} · included in signed checkpoint of {badge.checkpoint_size:,} events "
    f"{marks[badge.inclusion]} {badge.inclusion}"
)
for problem in badge.problems:
    st.error(problem)
st.download_button(
    "Download custody proof (JSON)",
    json.dumps(badge.proof, indent=2, sort_keys=True),
    file_name=f"{history['case']}-{history['exhibit_ref'].replace('/', '-')}-custody-proof.json",
    mime="application/json",
    key="custody.proof",
)
st.caption("Verify it anywhere, offline: `exhibit custody verify-proof PROOF.json --key PUBKEY.pem`")
st.dataframe(
    [
        {
            "seq": e["seq"],
            "time": e["recorded_at"],
            "action": e["action"],
            "actor": f"{e['actor']} ({e['role']})",
            "reason": e.get("reason") or "",
            "details": json.dumps(e.get("details") or {}, sort_keys=True)[:200],
            "entry hash": e["entry_hash"][:16] + "…",
        }
        for e in history["events"]
    ],
    hide_index=True,
    width="stretch",
)
