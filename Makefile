# Entry points for humans and CI. Everything runs from the one uv workspace in .venv.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_LINK_MODE := copy

.PHONY: help bootstrap sync proto proto-check run test lint fmt docs bench-api bench-sfu bench-recording clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	@touch $@

bootstrap: $(VENV)/.synced ## create .venv and install the workspace from uv.lock

sync: $(UV) ## re-lock after editing a pyproject, then install
	$(UV) lock
	$(UV) sync --all-packages --python $(PYTHON)
	@touch $(VENV)/.synced

proto: bootstrap ## regenerate Python code from protos/ into libs/realtime-protos
	$(PY) scripts/gen_protos.py

proto-check: bootstrap ## fail when the checked-in generated code drifts from protos/
	$(PY) scripts/gen_protos.py --check

run: bootstrap ## run the whole stack locally (embedded Postgres + NATS unless RTK_DATABASE_URL / RTK_NATS_URL)
	$(VENV)/bin/rtk run

test: bootstrap ## unit + integration + end-to-end tests against real Postgres, NATS and the running stack
	$(PY) scripts/gen_protos.py --check
	$(PY) -m pytest -q $(PYTEST_ARGS)

docs: bootstrap ## regenerate docs/configuration.md from the settings classes
	$(PY) scripts/gen_config_docs.py

lint: bootstrap ## ruff
	$(VENV)/bin/ruff check .

fmt: bootstrap ## format
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench-api: bootstrap ## add-participant throughput and latency through REST -> gRPC -> Postgres -> RS256
	$(PY) benchmarks/bench_api.py $(BENCH_ARGS)

bench-sfu: bootstrap ## SFU media plane: forwarded pkt/s, CPU/packet, loss, join->first frame, vs stock MediaRelay
	$(PY) benchmarks/bench_sfu.py $(BENCH_ARGS)

bench-recording: bootstrap ## recorder CPU per recorded stream: receive only, per-track files, composite
	$(PY) benchmarks/bench_recording.py $(BENCH_ARGS)

clean: ## remove caches and the virtualenvs (keeps .rtk data)
	rm -rf $(VENV) $(TOOLS) .pytest_cache .hypothesis .ruff_cache
-include deploy/k8s/deploy.mk
