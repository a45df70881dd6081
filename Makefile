# Set-up and test entry points. Needs only Python 3.11 and the package registries.
#   make deploy-local   full deploy onto the local AWS emulator, then a summary (emulator left running)
#   make test           lint, unit and integration tests, molecule (own emulator, on a free port)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 4566
ENDPOINT := http://127.0.0.1:$(PORT)
LINK := .collections/ansible_collections/leverslabs/asset_manager
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ASSET_MANAGER_ENDPOINT_URL := $(ENDPOINT)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv link emulator-start emulator-stop seed deploy-local summary test lint unit molecule build clean benchmark

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# The repository is the collection: link it where Ansible looks for leverslabs.asset_manager.
link: $(LINK)
$(LINK):
	mkdir -p $(dir $(LINK))
	ln -sfn $(CURDIR) $(LINK)

emulator-start: venv
	PYTHON=$(BIN)/python emulator/start.sh $(PORT)

emulator-stop:
	emulator/stop.sh $(PORT)

seed: venv link emulator-start
	$(BIN)/ansible-playbook -i inventories/local playbooks/emulator_prerequisites.yml

deploy-local: seed
	$(BIN)/ansible-playbook -i inventories/local site.yml
	$(MAKE) --no-print-directory summary

summary:
	$(BIN)/ansible-playbook -i inventories/local playbooks/summary.yml

# Lint, pytest and molecule side by side, each printing its output when it ends. Molecule is the
# longest chain (its scenarios share one stack, in order), so lint and pytest run at a lower
# priority and take the CPU it leaves.
test: venv link
	$(MAKE) --no-print-directory -j3 --output-sync=target lint unit molecule NICE="nice -n 10"

lint: venv link
	$(NICE) $(BIN)/ruff check .
	$(NICE) $(BIN)/ruff format --check .
	$(NICE) $(BIN)/ansible-lint

# Two workers, a test file each at a time; each worker starts its own emulator.
unit: venv link
	$(NICE) $(BIN)/pytest -q -n 2 --dist loadfile tests

# Molecule starts its own emulator on a free port (extensions/molecule/shared/create.yml).
molecule: venv link
	ASSET_MANAGER_TEST_PORT=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
	  $(BIN)/molecule test --all

build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path .cache/build

clean:
	rm -rf .cache .collections $(VENV)

# First deploy, no-op rerun, check plan and a one-role tag rerun on fresh emulators, beside the
# floor (the same AWS calls in one boto3 process) and the guide's CLI steps; medians of RUNS (3).
benchmark: venv link
	scripts/benchmark.sh $(or $(RUNS),3)
