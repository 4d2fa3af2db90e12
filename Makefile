# Video Detective — the two commands: `make demo` (run the product) and `make test` (run the tests).
# Both set up a fresh machine first (idempotent; seconds when already set up).
SHELL := /bin/bash
PY := .venv/bin/python
MEDIA ?= $(HOME)/.cache/video-detective/test-media

.PHONY: setup demo test bench clean-home

setup:
	@bash scripts/setup.sh

# The app on its embedded default (Triton, Redis, DuckDB started locally), with two real videos in the library.
demo: setup
	$(PY) app.py --preload $(MEDIA)/bikes.mp4 $(MEDIA)/bigbuckbunny.mp4

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q -p no:cacheprovider --doctest-modules orchestrator
	$(PY) -m pytest -q tests

bench: setup
	$(PY) scripts/bench_ingest.py
	$(PY) scripts/bench_detector_batching.py
	$(PY) scripts/bench_query.py
