# Tawa — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(BIN):$(PATH)
export TAWA_HELM := $(CURDIR)/.tools/bin/helm

.PHONY: setup test test-fast lint format crds demo bench clean kind-up kind-install e2e

$(BIN)/python:
	$(PY) -m venv $(VENV)

.tools/setup.stamp: pyproject.toml scripts/fetch-helm.sh scripts/system-packages.sh | $(BIN)/python
	bash scripts/system-packages.sh
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	bash scripts/fetch-helm.sh
	@mkdir -p .tools && touch $@

## setup: install everything a fresh machine needs (venv, Redis, Helm)
setup: .tools/setup.stamp

## test: every suite CI runs (unit, integration, end-to-end), plus lint
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash scripts/typecheck.sh
	$(BIN)/pytest -q

## test-fast: unit suites only
test-fast: setup
	$(BIN)/pytest -q -m "not integration and not e2e"

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && bash scripts/typecheck.sh

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

## crds: regenerate crds/ from the pydantic models
crds: setup
	$(BIN)/python -m tawa.resource > crds/tawaservices.yaml.tmp
	mv crds/tawaservices.yaml.tmp crds/tawaservices.yaml
	cp crds/tawaservices.yaml charts/tawa/crds/tawaservices.yaml

## demo: run the whole platform locally and deploy the examples
demo: setup
	$(BIN)/python -m tawa.cli.main dev demo

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .tools build *.egg-info

# Real clusters (needs Docker and kind; not runnable on machines without them).
kind-up:
	kind create cluster --name tawa
kind-install:
	docker build -t ghcr.io/tawa-platform/tawa:0.1.0 . && kind load docker-image ghcr.io/tawa-platform/tawa:0.1.0 --name tawa
	kubectl create namespace tawa-system --dry-run=client -o yaml | kubectl apply -f -
	kubectl -n tawa-system get secret tawa-internal >/dev/null 2>&1 || kubectl -n tawa-system create secret generic tawa-internal --from-literal=internal-key="$$(openssl rand -hex 32)"
	helm upgrade --install tawa charts/tawa --namespace tawa-system --set internalKey.existingSecret=tawa-internal
e2e:
	TAWA_E2E_KUBECONFIG=$${KUBECONFIG:-$$HOME/.kube/config} $(BIN)/pytest -q -m e2e
