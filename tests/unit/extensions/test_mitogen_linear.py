# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's strategy: mitogen's, with the installed collections listed once per run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible_mitogen import planner

from ansible_collections.leverslabs.asset_manager.tests.harness import ansible_env

STRATEGY = Path(__file__).parents[3] / "extensions/strategy/mitogen_linear.py"


@pytest.fixture
def strategy(monkeypatch):
    spec = importlib.util.spec_from_file_location("asset_manager_mitogen_linear", STRATEGY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # run() replaces the planner's function: put mitogen's back after the test.
    monkeypatch.setattr(planner, "_load_collections", planner._load_collections)
    return module


def paths_from(load):
    invocation = SimpleNamespace(_extra_sys_paths=set())
    load(invocation)
    return invocation._extra_sys_paths


# Ansible's collection finder, as in a run, in a process of its own (it replaces the test
# process's import machinery): mitogen's function, then the strategy's, on one invocation each.
COMPARE = """
import importlib.util, json, sys
from types import SimpleNamespace
from ansible import constants as C
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=C.COLLECTIONS_PATHS, scan_sys_paths=True)._install()
from ansible_mitogen import planner
spec = importlib.util.spec_from_file_location("strategy", sys.argv[1])
strategy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(strategy)
out = []
for load in (planner._load_collections, strategy._load_collections):
    invocation = SimpleNamespace(_extra_sys_paths=set())
    load(invocation)
    out.append(sorted(invocation._extra_sys_paths))
print(json.dumps(out))
"""


def test_the_cached_list_puts_the_paths_mitogen_would_on_the_interpreter():
    run = subprocess.run(
        [sys.executable, "-c", COMPARE, str(STRATEGY)],
        capture_output=True,
        text=True,
        env=ansible_env(),
        check=True,
    )
    mitogens, ours = json.loads(run.stdout)
    assert any(p.endswith("/amazon/aws") for p in mitogens)
    assert ours == mitogens


def test_run_lists_once_and_replaces_mitogens_function(strategy, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "ansible.collections.list.list_collection_dirs",
        lambda: calls.append(1) or iter([b"/c/ansible_collections/a/b"]),
    )
    monkeypatch.setattr(strategy._Mitogen, "run", lambda self, *args: "ran")
    module = strategy.StrategyModule.__new__(strategy.StrategyModule)
    assert module.run(None, None) == "ran"
    # Listed by run() itself, in the controller, before any worker forks.
    assert len(calls) == 1
    assert planner._load_collections is strategy._load_collections
    first, second = paths_from(planner._load_collections), paths_from(planner._load_collections)
    assert first == second == {"/c/ansible_collections/a/b"}
    assert len(calls) == 1
