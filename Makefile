# Set-up and test entry points. Needs only Python 3.11 and the package registries.
#   make deploy-local   full deploy onto the local AWS emulator, then a summary (emulator left running)
#   make release-local TAG=<tag>   build, push and release the small local image onto that stack
#   make test           lint, unit and integration tests, molecule (own emulator, on a free port)
# The local stack and the tests need a Docker engine and registry (apt-get install docker.io
# docker-registry): they stand in for the build host and ECR's registry endpoint.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 4566
ENDPOINT := http://127.0.0.1:$(PORT)
LINK := .collections/ansible_collections/leverslabs/asset_manager
# The local Docker engine and registry (scripts/local_docker.sh); recipes read their settings.
DOCKER_STATE := $(CURDIR)/.cache/docker
WITH_DOCKER := set -a && . $(DOCKER_STATE)/env && set +a &&
TAG ?= local-1
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ASSET_MANAGER_ENDPOINT_URL := $(ENDPOINT)
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Nothing is written outside the checkout: Ansible's home (temporary files, galaxy cache, the
# collections ansible-lint and molecule install), the remote temporary directory of the local
# connection, and the caches of ansible-lint and molecule.
export ANSIBLE_HOME := $(CURDIR)/.cache/ansible
export ANSIBLE_REMOTE_TEMP := $(CURDIR)/.cache/ansible/tmp
export XDG_CACHE_HOME := $(CURDIR)/.cache/xdg

.PHONY: venv link docker-check docker-start docker-stop emulator-start emulator-stop seed deploy-local release-local summary test lint changelog-lint unit molecule build clean benchmark sanity

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# The repository is the collection: link it where Ansible looks for leverslabs.asset_manager.
# The collection on Ansible's path, and in the directory ansible-lint and molecule install it
# into (ANSIBLE_HOME's collections): a link to this checkout there makes them skip the copy.
LINT_LINK := .cache/ansible/collections/ansible_collections/leverslabs/asset_manager
link:
	@for link in $(LINK) $(LINT_LINK); do \
	  if [ "$$(readlink $$link)" != "$(CURDIR)" ]; then \
	    rm -rf $$link && mkdir -p $$(dirname $$link) && ln -sfn $(CURDIR) $$link; fi; done

docker-check:
	@scripts/local_docker.sh check

docker-start: docker-check
	scripts/local_docker.sh start $(DOCKER_STATE)

docker-stop:
	scripts/local_docker.sh stop $(DOCKER_STATE)

# The emulator's ECR API answers for the images pushed to the local registry.
emulator-start: venv docker-start
	$(WITH_DOCKER) EMULATOR_ECR_REGISTRY=http://$$ASSET_MANAGER_REGISTRY PYTHON=$(BIN)/python emulator/start.sh $(PORT)

emulator-stop:
	emulator/stop.sh $(PORT)

seed: venv link emulator-start
	$(BIN)/ansible-playbook -i inventories/local playbooks/emulator_prerequisites.yml

# A first deploy names its image: build and push the local one (release.yml's image role alone),
# then deploy the site with that tag.
deploy-local: seed
	$(WITH_DOCKER) $(BIN)/ansible-playbook -i inventories/local playbooks/release.yml --tags image -e release_tag=$(TAG)
	$(WITH_DOCKER) $(BIN)/ansible-playbook -i inventories/local site.yml -e ecs_taskdefs_image_tag=$(TAG)
	$(MAKE) --no-print-directory summary

# One release onto the stack deploy-local built: the local image with TAG in it (a new digest
# per tag), pushed, registered, rolled out and validated.
release-local: venv link emulator-start
	$(WITH_DOCKER) $(BIN)/ansible-playbook -i inventories/local playbooks/release.yml -e release_tag=$(TAG)

summary:
	$(BIN)/ansible-playbook -i inventories/local playbooks/summary.yml

# Lint, pytest and molecule side by side, each printing its output and its time when it ends.
# pytest is the longest chain (about 20 minutes on two cores), so lint and molecule run at a lower
# priority and take the CPU it leaves.
test: venv link docker-check
	$(MAKE) --no-print-directory -j3 --output-sync=target lint unit molecule LOW="nice -n 10"

lint: venv link changelog-lint sanity
	$(LOW) $(BIN)/ruff check .
	$(LOW) $(BIN)/ruff format --check .
	$(LOW) $(BIN)/ansible-lint

# Every change adds a fragment under changelogs/fragments/ (README.md, "Changelog").
changelog-lint: venv
	$(LOW) $(BIN)/antsibull-changelog lint
	$(LOW) $(BIN)/antsibull-changelog lint-changelog-yaml --strict changelogs/changelog.yaml

# Two workers, a test file each at a time; each worker starts its own emulator. (Three took as long
# on two cores, 22:02 against 22:20, with more CPU time.)
unit: venv link
	@TIMEFORMAT='$@: %0R s'; time $(BIN)/pytest -q -n 2 --dist loadfile tests

# ansible-test sanity (shellcheck included) from a copy of the collection in the collection tree
# ansible-test needs, offline, all under .cache/ansible-test (scripts/sanity.sh says how and why).
# `scripts/sanity.sh units` runs ansible-test units the same way.
sanity: venv
	@TIMEFORMAT='$@: %0R s'; time $(LOW) scripts/sanity.sh sanity

# Molecule starts its own emulator on a free port (extensions/molecule/shared/create.yml).
molecule: venv link
	ASSET_MANAGER_TEST_PORT=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
	  bash -c "TIMEFORMAT='$@: %0R s'; time $(LOW) $(BIN)/molecule test --all"

build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path .cache/build

clean:
	rm -rf .cache .collections $(VENV)

# First deploy, no-op rerun, check plan and a one-role tag rerun on fresh emulators, beside the
# floor (the same AWS calls in one boto3 process) and the guide's CLI steps; medians of RUNS (3).
benchmark: venv link
	scripts/benchmark.sh $(or $(RUNS),3)
