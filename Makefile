# Video Detective — the two commands: `make demo` (run the product) and `make test` (run the tests).
# Both set up a fresh machine first (idempotent; seconds when already set up).
SHELL := /bin/bash
PY := .venv/bin/python
MEDIA ?= $(HOME)/.cache/video-detective/test-media

.PHONY: setup demo test bench clean-home

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m orchestrator ingest $(MEDIA)/bigbuckbunny.mp4
	$(PY) -m orchestrator events $$($(PY) -m orchestrator videos --json | $(PY) -c "import json,sys; print(json.load(sys.stdin)[0]['video_id'])")

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) scripts/bench_ingest.py
	$(PY) scripts/bench_detector_batching.py
