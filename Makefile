# One command per job, the same locally and in CI. Everything runs offline once setup is done.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export npm_config_update_notifier := false
BASE ?= origin/main
CDK := npx --no-install cdk
MUTATION_JOBS ?= 2

.PHONY: setup setup-dev synth test diff bench lint clean step-env parity container-check picture mutation

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-run pip only when a requirements file changes; a second `make` skips it.
$(VENV)/.synth-deps: requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# cdk.json runs `python -O`; pip writes only plain bytecode, so without this step every synth recompiles every
# aws-cdk module where PYTHONDONTWRITEBYTECODE is set (benchmarks/synth_bytecode.py, docs/performance.md).
$(VENV)/.opt-bytecode: $(VENV)/.synth-deps
	$(PY) -O -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt $(VENV)/.synth-deps
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.mutation-deps: requirements-mutation.txt $(VENV)/.dev-deps
	$(PY) -m pip install --quiet -r requirements-mutation.txt
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.synth-deps
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.synth-deps $(VENV)/.opt-bytecode node_modules/.installed

setup-dev: setup $(VENV)/.dev-deps

synth: setup
	rm -rf cdk.out
	$(CDK) synth --no-lookups --no-notices --quiet > /dev/null
	$(PY) -m mlops_cli.synth_summary cdk.out

test: setup-dev
	$(PY) -m pytest -n 2 --durations=8

# The step environment of an XGBoost image (IMAGE=3.0-5 or 1.7-1): its Python (pyenv) and exact library versions,
# from mlops_constructs/build/sagemaker_pipeline/step_images.json. `mlops run-local` runs the steps there.
IMAGE ?= 3.0-5
step-env: setup-dev
	$(PY) -m mlops_cli.step_env --image "$(IMAGE)"

# run-local against SageMaker's XGBoost images, byte for byte (docs/model-build.md, "Environment parity").
# MLOPS_PARITY_REQUIRED=1: a missing interpreter or wheel fails here instead of skipping.
PARITY_IMAGES ?= 3.0-5 1.7-1
parity: setup-dev
	for image in $(PARITY_IMAGES); do $(PY) -m mlops_cli.step_env --image "$$image"; done
	MLOPS_PARITY_REQUIRED=1 MLOPS_PARITY_IMAGES="$(PARITY_IMAGES)" $(PY) -m pytest parity -n 0 -p no:cacheprovider -q

diff: setup
	$(PY) -m mlops_cli.review_diff --base "$(BASE)" $(if $(OUTPUT),--output "$(OUTPUT)")

bench: setup-dev
	$(PY) benchmarks/synth_scale.py
	$(PY) benchmarks/local_pipeline.py
	$(PY) benchmarks/drift.py
	$(PY) benchmarks/serving.py

# The README's architecture picture, rendered offline by the pinned D2 binary (tests/end_to_end/test_picture.py checks it).
picture: setup-dev
	$(VENV)/bin/d2 --layout=dagre docs/images/architecture.d2 docs/images/architecture.svg

# Mutation testing of the release-critical modules, one module at a time with its fast tests (tests/support/mutation.py);
# not part of `make test`. Offline, on 2 cores (figures in docs/testing.md). A re-run retests changed functions only;
# MUTATION_MODULES=pipeline_code/training/gate.py limits it to some modules.
mutation: setup-dev $(VENV)/.mutation-deps
	nice $(PY) tests/support/mutation.py $(MUTATION_MODULES) --jobs $(MUTATION_JOBS) --min-score 85

lint: setup-dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf cdk.out .pytest_cache .diff mutants mutants-work

# The served package inside the XGBoost framework container's serving library (sagemaker-containers, installed
# without its stale pins and patched exactly as docker/3.0-5/final/Dockerfile.cpu patches it).
CONTAINER_VENV := .venv-container
CONTAINER_PYTHON ?= $(shell pyenv root 2>/dev/null)/versions/3.10.13/bin/python3.10
$(CONTAINER_VENV)/.deps: requirements-container.txt
	$(if $(wildcard $(CONTAINER_PYTHON)),$(CONTAINER_PYTHON),python3.10) -m venv $(CONTAINER_VENV)
	$(CONTAINER_VENV)/bin/python -m pip install --quiet -r requirements-container.txt
	$(CONTAINER_VENV)/bin/python -m pip install --quiet --no-deps sagemaker-containers==2.8.6.post2
	sed -i 's/collections\.Mapping/collections.abc.Mapping/g' \
		$(CONTAINER_VENV)/lib/python3.10/site-packages/sagemaker_containers/_mapping.py
	touch $@

container-check: $(CONTAINER_VENV)/.deps
	PYTHONPATH=$(CURDIR) $(CONTAINER_VENV)/bin/python -m pytest tests/container -q -p no:cacheprovider
