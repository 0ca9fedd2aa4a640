# The two commands a newcomer needs: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)
UV_RUN := uv run --locked --quiet

.PHONY: setup demo test lint unit bench clean

setup:
	@.ci/setup.sh

# Builds the sample case through the Dagster pipeline, then serves the Dagster UI and the review app until Ctrl-C.
demo: setup
	$(UV_RUN) exhibit demo
	$(UV_RUN) exhibit serve

lint: setup
	$(UV_RUN) ruff check .
	$(UV_RUN) ruff format --check .
	$(UV_RUN) mypy
	$(UV_RUN) lint-imports

unit: setup
	$(UV_RUN) pytest -q

test: lint unit

bench: setup
	$(UV_RUN) python bench/ingest.py
	$(UV_RUN) python bench/ledger.py
	$(UV_RUN) python bench/pipeline.py
	$(UV_RUN) python bench/transcode.py
	$(UV_RUN) python bench/media_analysis.py
	$(UV_RUN) python bench/device_image.py
	$(UV_RUN) python bench/faces.py
	$(UV_RUN) python bench/review_app.py
	$(UV_RUN) python bench/bundle.py

clean:
	rm -rf .exhibit .pytest_cache .mypy_cache .ruff_cache
