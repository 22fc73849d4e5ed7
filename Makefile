# Two commands for a newcomer: `make demo` and `make test`. Both set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := intake dispatch maintenance quality reporting feedback telemetry console
WORKSPACE := libs/contracts libs/kit $(addprefix services/,$(SERVICES))
PACKAGE_FILES := $(wildcard libs/*/pyproject.toml services/*/pyproject.toml) requirements-dev.lock

.PHONY: setup infra-up infra-down run stop demo test test-fast bench lint docs i18n clean dlq dlq-replay outbox-stuck outbox-retry backup lock

# Every third-party package comes from requirements-dev.lock, pinned with its hashes (pip refuses a file
# whose hash differs); the workspace's own packages are installed editable from the checkout, built
# with the locked hatchling, so nothing is resolved or downloaded unpinned.
setup: $(VENV)/.installed ## Python environment: the locked dependencies, every package editable

$(VENV)/.installed: $(PACKAGE_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation $(addprefix -e ,$(WORKSPACE))
	$(BIN)/python -m pip check
	touch $@

# After changing a dependency in a pyproject.toml or requirements-dev.txt: the service images install
# requirements.lock, the venv and CI requirements-dev.lock (the same versions: it is constrained by the first).
NOT_LOCKED := $(foreach p,compressor-contracts compressor-kit $(addsuffix -service,$(SERVICES)),--no-emit-package $(p))
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes $(NOT_LOCKED)
lock: ## re-resolve requirements.lock, requirements-dev.lock and infra/requirements.lock (uv, hashes for every platform)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(LOCK) requirements.in -o requirements.lock
	$(LOCK) requirements-dev.txt requirements.in -c requirements.lock -o requirements-dev.lock
	$(LOCK) infra/requirements.txt -o infra/requirements.lock

infra-up: ## RabbitMQ, MongoDB (replica set), the S3 object store, the OpenID Connect provider and Mosquitto on 127.0.0.1
	bash infra/up.sh

infra-down:
	bash infra/down.sh

run: setup infra-up assets ## the six phase services, telemetry and the console as separate processes (logs in var/log/)
	bash infra/services.sh start

stop:
	bash infra/services.sh stop

JOBS ?= 1
demo: run ## bring everything up and drive a service job through the nine phases (JOBS=n for many at once)
	ENVIRONMENT=$${ENVIRONMENT:-local} $(BIN)/python -m demo --jobs $(JOBS)

# Tests run in parallel (pytest-xdist): each has its own vhost, databases, buckets and ports, and most
# of their time is spent waiting on the servers. On 2 cores 3 and 4 workers measured alike (3:00-3:05
# for ~750 tests, other work on the machine), 6 slower (3:45): the suite is CPU-bound by then.
# Tests go out one at a time (--maxschedchunk 1) in the plugin's order, the heaviest first, so that
# no worker is left with a queue of slow ones at the end. TEST_WORKERS=0 runs them one by one.
TEST_WORKERS ?= 3
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist load --maxschedchunk 1)

test: setup infra-up browsers assets ## the whole suite against the real servers, the cluster tests included
	$(BIN)/python -m pytest $(XDIST)

.PHONY: test-cluster
test-cluster: setup infra-up ## only the node-loss tests: their own 3-node RabbitMQ cluster and 3-member MongoDB replica set
	$(BIN)/python -m pytest -m cluster

.PHONY: assets
assets: ## the console's browser code from npm (signature_pad, pinned in services/console/package-lock.json) into its static/vendor/
	bash infra/assets.sh

.PHONY: browsers
browsers: ## Debian's Chromium and axe-core (npm) for the browser tests, installed when missing
	bash infra/chromium.sh

# No server, no waiting: these are CPU-bound, and on 2 cores one process beats workers that each
# import everything first.
test-fast: setup ## the tests that need no server (no infra started), in well under a minute
	$(BIN)/python -m pytest -m "not needs_servers"

bench: setup infra-up ## the job benchmark (bench/__main__.py) and the telemetry ingest run (bench/ingest.py), each beside its baseline
	$(BIN)/python -m bench
	$(BIN)/python -m bench.ingest

.PHONY: bench-ingest
bench-ingest: setup infra-up ## the ingest run alone: telemetry readings through MQTT into storage beside a raw insert_many baseline (bench/ingest.py)
	$(BIN)/python -m bench.ingest

lint: setup ## ruff (lint and format) and mypy (strict for libs/, checked bodies for services/)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

docs: setup ## JSON Schemas, the event catalogue, every service's AsyncAPI and OpenAPI documents
	$(BIN)/python -m compressor_contracts schemas docs/schemas
	$(BIN)/python -m compressor_contracts catalogue docs/events.md
	$(BIN)/python -m compressor_kit.asyncapi docs/asyncapi $(SERVICES)
	$(BIN)/python -m compressor_kit.openapi docs/openapi $(SERVICES)
	$(BIN)/python -m compressor_kit.roles docs/roles.md $(SERVICES)
	$(BIN)/python infra/access.py
	$(BIN)/python deploy/kubernetes/generate.py

i18n: setup ## extract every marked text into each service's catalogues (locale/{ms,en}/LC_MESSAGES/messages.po)
	$(BIN)/python -m compressor_kit.i18n extract $(SERVICES)

# Machine callers sign in as their own clients (client credentials; OIDC_CLIENT_SECRET defaults to the
# local provider's development secret, accepted only with ENVIRONMENT=local or test: these targets say local
# unless ENVIRONMENT is set) and go through the services' HTTP APIs.
# Each service is called at <SERVICE>_URL (e.g. DISPATCH_URL), by default where `make run` serves it.
dlq: setup ## dead letters per service, with the reason each failed (signed in as client dlq-replay)
	ENVIRONMENT=$${ENVIRONMENT:-local} OIDC_CLIENT_ID=dlq-replay $(BIN)/python -m compressor_kit.deadletters list

dlq-replay: setup ## after a fix: make dlq-replay SERVICE=dispatch IDS="id1 id2" (or ALL=1), as client dlq-replay
	@test -n "$(SERVICE)" || { echo 'usage: make dlq-replay SERVICE=<service> IDS="<event ids>" | ALL=1'; exit 2; }
	ENVIRONMENT=$${ENVIRONMENT:-local} OIDC_CLIENT_ID=dlq-replay $(BIN)/python -m compressor_kit.deadletters replay $(SERVICE) $(if $(ALL),--all,$(foreach id,$(IDS),--id $(id)))

outbox-stuck: setup ## outbox events parked after failing every attempt, per service, with why (signed in as client dlq-replay)
	ENVIRONMENT=$${ENVIRONMENT:-local} OIDC_CLIENT_ID=dlq-replay $(BIN)/python -m compressor_kit.outbox_stuck list

outbox-retry: setup ## after a fix: make outbox-retry SERVICE=intake IDS="id1 id2" (or ALL=1) retries parked events now
	@test -n "$(SERVICE)" || { echo 'usage: make outbox-retry SERVICE=<service> IDS="<event ids>" | ALL=1'; exit 2; }
	ENVIRONMENT=$${ENVIRONMENT:-local} OIDC_CLIENT_ID=dlq-replay $(BIN)/python -m compressor_kit.outbox_stuck retry $(SERVICE) $(if $(ALL),--all,$(foreach id,$(IDS),--id $(id)))

backup: setup ## a backup of every service database now, waited for (signed in as client backups; REPORTING_URL)
	ENVIRONMENT=$${ENVIRONMENT:-local} OIDC_CLIENT_ID=backups $(BIN)/python -m reporting_service.backups.client $(if $(REPORTING_URL),--url $(REPORTING_URL))
