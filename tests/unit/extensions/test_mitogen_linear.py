# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's strategy: mitogen's, with the installed collections listed once per run."""

from __future__ import annotations

import gc
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


def script(source, **env):
    """The stdout of Python `source`, run with the strategy file's path as its argument."""
    return subprocess.run(
        [sys.executable, "-c", source, str(STRATEGY)],
        capture_output=True,
        text=True,
        env=ansible_env(**env),
        check=True,
    ).stdout


def test_the_cached_list_puts_the_paths_mitogen_would_on_the_interpreter():
    mitogens, ours = json.loads(script(COMPARE))
    assert any(p.endswith("/amazon/aws") for p in mitogens)
    assert ours == mitogens


# Ansible's own listing beside the strategy's, in a process with the collection finder.
LISTS = """
import importlib.util, json, sys
from ansible import constants as C
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=C.COLLECTIONS_PATHS, scan_sys_paths=False)._install()
from ansible.collections.list import list_collection_dirs
spec = importlib.util.spec_from_file_location("strategy", sys.argv[1])
strategy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(strategy)
lists = (list_collection_dirs, strategy.list_collection_dirs)
print(json.dumps([sorted(path.decode() for path in listed()) for listed in lists]))
"""


def test_the_listing_is_ansibles_with_a_collection_in_two_paths_and_a_stray_file(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for root in (first, second):
        (root / "ansible_collections/acme/tools").mkdir(parents=True)
    (second / "ansible_collections/acme/only_here").mkdir()
    (second / "ansible_collections/acme/README").write_text("not a collection")
    ansibles, ours = json.loads(script(LISTS, ANSIBLE_COLLECTIONS_PATH=f"{first}:{second}"))
    # The first path's copy only, the second path's other collection, no file.
    assert ansibles == sorted(
        [f"{first}/ansible_collections/acme/tools", f"{second}/ansible_collections/acme/only_here"]
    )
    assert ours == ansibles


def test_run_lists_once_and_replaces_mitogens_function(strategy, monkeypatch):
    calls = []
    monkeypatch.setattr(
        strategy, "list_collection_dirs", lambda: calls.append(1) or [b"/c/ansible_collections/a/b"]
    )
    monkeypatch.setattr(strategy._Mitogen, "run", lambda self, *args: "ran")
    module = strategy.StrategyModule.__new__(strategy.StrategyModule)
    gc.unfreeze()
    assert module.run(None, None) == "ran"
    # The heap the workers are forked from is out of their collections' way.
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    # Listed by run() itself, in the controller, before any worker forks.
    assert len(calls) == 1
    assert planner._load_collections is strategy._load_collections
    first, second = paths_from(planner._load_collections), paths_from(planner._load_collections)
    assert first == second == {"/c/ansible_collections/a/b"}
    assert len(calls) == 1


# The warm-up, in real runs of the strategy on a local host.

# Prints whether a mitogen interpreter ("python...(mitogen:...)") descends from the
# ansible-playbook that runs it (the topmost ansible-playbook among its ancestors).
STARTED = """
import os
from pathlib import Path

def parent(pid):
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""

pid, controller = os.getpid(), None
while pid > 1:
    if b"ansible-playbook" in cmdline(pid):
        controller = pid
    pid = parent(pid)
children = {}
for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
        children.setdefault(parent(entry), []).append(int(entry))
    except OSError:
        pass
todo, found = list(children.get(controller, [])), False
while todo:
    pid = todo.pop()
    found = found or b"(mitogen:" in cmdline(pid)
    todo.extend(children.get(pid, []))
print("started" if found else "none")
"""

# A controller-side task waits for the host's interpreter (unless attempts is 0), then the host's
# first module runs.
PLAY = """
- hosts: target
  gather_facts: false
  tasks:
    - name: Wait, in the controller, for the host's interpreter
      ansible.builtin.debug:
        msg: waiting
      until: lookup('ansible.builtin.pipe', ansible_playbook_python ~ ' ' ~ started) == 'started'
      retries: "{{ attempts }}"
      delay: 0.2
      when: attempts | int > 0
    - name: The host's first module, until boto3 is imported in its interpreter
      imported:
      register: imported
      until: imported.boto3
      retries: 50
      delay: 0.2
"""

# Reports whether the interpreter that runs it has imported boto3 (mitogen runs it in-process).
IMPORTED = """#!/usr/bin/python
import sys

from ansible.module_utils.basic import AnsibleModule

AnsibleModule(argument_spec={}).exit_json(boto3="boto3" in sys.modules)
"""


# A play without any module: it ends while its warm-up may still be starting the interpreter.
CONTROLLER_ONLY = """
- hosts: target
  gather_facts: false
  tasks:
    - name: Only the controller
      ansible.builtin.debug:
        msg: no module
"""


def play(tmp_path, warm_up, retries=0, python=sys.executable, text=PLAY):
    (tmp_path / "started.py").write_text(STARTED)
    (tmp_path / "play.yml").write_text(text)
    (tmp_path / "library").mkdir(exist_ok=True)
    (tmp_path / "library/imported.py").write_text(IMPORTED)
    (tmp_path / "hosts").write_text(
        f"target ansible_connection=local ansible_python_interpreter={python}\n"
    )
    return subprocess.run(
        [
            Path(sys.executable).parent / "ansible-playbook",
            "-vvv",
            "-i",
            tmp_path / "hosts",
            tmp_path / "play.yml",
            "-e",
            f"started={tmp_path / 'started.py'} attempts={retries}",
        ],
        capture_output=True,
        text=True,
        env=ansible_env(ASSET_MANAGER_WARM_UP=warm_up, ANSIBLE_LIBRARY=str(tmp_path / "library")),
        timeout=120,
        check=False,  # the tests read the return code
    )


def test_the_warm_up_starts_the_interpreter_before_the_first_module_and_imports_boto3(tmp_path):
    run = play(tmp_path, "true", retries=150)
    assert run.returncode == 0, run.stdout[-2000:]
    # Its ping went to no callback, even at -vvv.
    assert "pong" not in run.stdout + run.stderr
    assert "ok=2" in run.stdout


def test_without_the_warm_up_the_first_module_starts_the_interpreter(tmp_path):
    run = play(tmp_path, "false", retries=10)
    assert run.returncode == 2
    assert "FAILED - RETRYING: [target]: Wait, in the controller" in run.stdout


def test_a_host_the_warm_up_cannot_reach_fails_at_its_first_module_as_without_it(tmp_path):
    recaps = {}
    for warm_up in ("true", "false"):
        run = play(tmp_path, warm_up, retries=0, python="/nonexistent/python3")
        # Nothing of the warm-up's failure is shown; the module's own error is.
        assert "Traceback" not in run.stdout + run.stderr
        assert (
            "Child start failed: [Errno 2] No such file or directory: '/nonexistent/python3'"
            in run.stdout
        )
        assert "unreachable=1" in run.stdout
        recaps[warm_up] = run.stdout[run.stdout.index("PLAY RECAP") :]
    assert recaps["true"] == recaps["false"]


def test_a_play_that_ends_before_its_warm_up_waits_for_it(tmp_path):
    run = play(tmp_path, "true", text=CONTROLLER_ONLY)
    assert run.returncode == 0, run.stdout[-2000:]
    # Exiting mid-connection, mitogen's multiplexer waits 5 s for the interpreter and says so.
    assert "pending work still existed" not in run.stderr
    assert "[ERROR]" not in run.stderr


def test_a_play_warms_up_each_new_host_once_and_no_more_hosts_than_forks(strategy, monkeypatch):
    started, queued = [], []
    monkeypatch.setattr(
        strategy._multiprocessing,
        "Process",
        lambda **kwargs: SimpleNamespace(start=lambda: started.append(kwargs["args"][0].name)),
    )
    monkeypatch.setattr(
        strategy._Mitogen, "_queue_task", lambda self, host, *rest: queued.append(host.name)
    )
    module = strategy.StrategyModule.__new__(strategy.StrategyModule)
    module._loader = module._variable_manager = None
    module._workers = [None, None]  # forks = 2
    module._warm_ups = []
    task = SimpleNamespace(get_play=lambda: None)
    local = {"ansible_connection": "local"}
    for name, task_vars in [("a", local), ("a", local), ("w", {"ansible_connection": "winrm"}),
                            ("b", local), ("c", local)]:  # fmt: skip
        module._queue_task(SimpleNamespace(name=name), task, task_vars, SimpleNamespace())
    # Every task is queued; a host once, a connection mitogen does not run never, two at most.
    assert queued == ["a", "a", "w", "b", "c"]
    assert started == ["a", "b"]


# Without mitogen: the strategy file in a process where it cannot be imported.
FALLBACK = """
import gc, importlib.util, sys
sys.modules["ansible_mitogen"] = None  # import fails, as when it is not installed
from ansible.plugins.strategy.linear import StrategyModule as Linear
Linear.run = lambda self, *args: "ran"
spec = importlib.util.spec_from_file_location("strategy", sys.argv[1])
strategy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(strategy)
module = strategy.StrategyModule.__new__(strategy.StrategyModule)
ran = module.run(None, None)
print(issubclass(strategy.StrategyModule, Linear), ran, gc.get_freeze_count() > 0)
"""


def test_without_mitogen_it_is_the_linear_strategy_on_a_frozen_heap():
    assert script(FALLBACK).split() == ["True", "ran", "True"]
