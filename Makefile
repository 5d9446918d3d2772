# comms-sandbox: `make up` starts the sandbox, `make test` tests it.
# Each target installs what it needs first (Docker engine on a Debian root
# host, the Python environment from requirements.lock, the images), so both
# commands work on a fresh machine.


SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
IMAGES := .sandbox/images.env
STACK  := $(PY) -m scripts.stack

.PHONY: help up down ps logs test unit integration bench report lint format proxy-config protos lock engine browser images clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

up: engine $(VENV)/.synced protos ## Start the sandbox (LESSON=name: only that lesson's services), wait until healthy, print where to look
	@$(STACK) up $(if $(LESSON),--lesson $(LESSON))

down: ## Stop the sandbox, whole or one lesson's (keeps the broker volumes; `make clean` removes them)
	@$(STACK) down

ps: ## Show the sandbox's containers and their health
	@$(STACK) compose ps

logs: ## Follow the sandbox's logs (SERVICE=name for one service)
	@$(STACK) compose logs -f --tail=100 $(SERVICE)

test: engine browser $(VENV)/.synced images protos lint ## Lint, unit tests, then integration tests against the real stack, in two lanes side by side (LESSON=name: one lesson's tests and page; LANES=1: one lane)
ifeq ($(LESSON),)
ifeq ($(LANES),1)
	$(PY) -m pytest tests/unit
	$(PY) -m pytest tests/integration --durations=15
else
	$(PY) -m tests.lanes
endif
else
	$(PY) -m pytest $$($(PY) -m scenarios tests $(LESSON) --kind unit)
	$(PY) -m pytest $$($(PY) -m scenarios tests $(LESSON) --kind integration) --durations=15
endif

unit: $(VENV)/.synced protos ## Unit tests only (no Docker)
	$(PY) -m pytest tests/unit

integration: engine browser $(VENV)/.synced images protos ## Integration tests only, in two lanes (tests/lanes.py; LANES=1: one lane)
ifeq ($(LANES),1)
	$(PY) -m pytest tests/integration --durations=15
else
	$(PY) -m tests.lanes --no-unit
endif

bench: engine $(VENV)/.synced images protos ## Benchmarks: start-up time, idle memory (results/bench-*.json)
	$(PY) -m bench

report: $(VENV)/.synced protos ## Rebuild results/index.html from the lessons' last runs (ALL=1: every report too), print where it is
	@$(PY) -m scenarios.reports $(if $(ALL),--all)

.PHONY: capture
capture: engine $(VENV)/.synced protos ## Capture a service's packets (SERVICE=proxy, SECONDS=10) into results/captures/ to read with Wireshark or tshark
	@$(PY) -m scenarios capture $(or $(SERVICE),proxy) --seconds $(or $(SECONDS),10)

.PHONY: figures
figures: $(VENV)/.synced protos ## Redraw the pages' charts from the lessons' last runs into scenarios/*/figures/ (FROM=dir, LESSON=name)
	@$(PY) -m scenarios.reports figures $(LESSON) $(if $(FROM),--from $(FROM))

lint: $(VENV)/.synced ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.synced ## ruff fix and format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

proxy-config: $(VENV)/.synced ## Regenerate proxy/nginx.conf and proxy/sidecar.conf from their Python descriptions
	$(PY) -m proxy generate

protos: $(VENV)/.synced ## Generate the host's gRPC stubs into .sandbox/generated (up, test, unit, integration, bench run it)
	@$(PY) -m comms_sandbox.protos

lock: $(VENV)/.synced ## Re-resolve the lock files from pyproject.toml's dependency groups
	$(PY) -m scripts.locks compile

engine: ## Make sure a Docker engine and Compose v2 answer (installs them on a Debian root host)
	@scripts/ensure-docker.sh

browser: ## Make sure Debian's chromium is there for the browser test (installs it on a Debian root host)
	@scripts/ensure-browser.sh

images: engine $(VENV)/.synced ## Pull or build the default stack's images, and LESSON's (SANDBOX_IMAGES=auto|upstream|local)
	@$(STACK) images $(if $(LESSON),--lesson $(LESSON))

# The script too: a .venv made by an older one lacks what it writes now (its .pth file).
$(VENV)/.synced: requirements.lock scripts/bootstrap-venv.sh
	@scripts/bootstrap-venv.sh
	@touch $@

clean: ## Remove the sandbox's containers, volumes and generated files
	-@$(STACK) compose down --volumes --remove-orphans
	rm -rf .sandbox/generated results .pytest_cache
