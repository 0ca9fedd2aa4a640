"""Orchestration and operations: the `exhibit` command line (Dagster definitions arrive with issue 5)."""
