"""Jobs over the exhibit assets."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from pipelines.graph import EXHIBIT_ASSETS

# Every exhibit-partitioned asset and its checks: an analysis added to EXHIBIT_ASSETS runs for each new exhibit.
process_exhibit_job = define_asset_job(
    name="process_exhibit",
    selection=AssetSelection.assets(*EXHIBIT_ASSETS),
    description="Ingest one exhibit (if its bytes are not yet stored) and run every analysis that applies.",
)
