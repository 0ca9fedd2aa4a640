"""The Streamlit review app for investigators, analysts and disclosure officers (issue 9)."""
