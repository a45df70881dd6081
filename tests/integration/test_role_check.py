"""leverslabs.asset_manager.role_check, run by ansible-playbook in a role of its own: the role's
argument spec first, then the role's problems, in one task."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.leverslabs.asset_manager.tests.harness import ansible_env

BIN = Path(sys.executable).parent

SPEC = """\
argument_specs:
  check:
    short_description: A probe
    options:
      probe_port:
        type: int
        required: true
      probe_state:
        type: str
        choices: [present, absent]
        default: present
"""
# A rule that trips over a port that is not a number (int() of a string), as the roles' do: the
# spec must report that first.
VARS = """\
__probe_problems: >-
  {{ [] if probe_port | int(-1) > 0 and probe_port < 65536
     else ['probe_port must be a port,
            1 to 65535 (got ' ~ probe_port ~ ').', 'A second sentence.'] }}
"""
CHECK = """\
- name: Check the probe
  leverslabs.asset_manager.role_check:
    problems_from: __probe_problems
    apply_rules: "{{ probe_state == 'present' }}"
    entry_point: "{{ probe_entry_point | default('check') }}"
    closing: Nothing was written.
  register: __probe_checked
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("role-check")
    role = root / "roles/probe"
    for sub, text in (("meta/argument_specs.yml", SPEC), ("vars/main.yml", VARS),
                      ("defaults/main.yml", "probe_state: present\n"),
                      ("tasks/check.yml", CHECK)):  # fmt: skip
        (role / sub).parent.mkdir(parents=True, exist_ok=True)
        (role / sub).write_text(text)
    play = [{
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [{"ansible.builtin.import_role": {
            "name": "probe", "tasks_from": "check", "rolespec_validate": False}}],
    }]  # fmt: skip
    (root / "play.json").write_text(json.dumps(play))

    def run(**variables):
        proc = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
             "-e", json.dumps(variables), str(root / "play.json")],
            capture_output=True, text=True, env=ansible_env(ANSIBLE_STDOUT_CALLBACK="json"),
            check=False,
        )  # fmt: skip
        report = json.loads(proc.stdout[proc.stdout.index("{") :])
        (task,) = report["plays"][0]["tasks"]
        return proc.returncode, task["hosts"]["localhost"]

    return run


def test_a_good_input_passes_in_one_task(probe):
    rc, result = probe(probe_port=5432)
    assert rc == 0
    assert result["msg"] == "All checks passed"
    assert not result.get("failed") and not result.get("changed")


def test_the_spec_is_checked_before_any_rule(probe):
    rc, result = probe(probe_port="abc")
    assert rc == 2
    assert result["msg"].startswith("Validation of arguments failed:")
    (error,) = result["argument_errors"]
    assert error.startswith("argument 'probe_port' is of type str and we were unable to convert")
    assert "problems" not in result


def test_the_problems_are_one_message_ending_with_the_closing(probe):
    rc, result = probe(probe_port=70000)
    assert rc == 2
    assert result["msg"] == (
        "probe_port must be a port, 1 to 65535 (got 70000). A second sentence. Nothing was written."
    )
    assert len(result["problems"]) == 2


def test_rules_not_applied_still_check_the_spec(probe):
    rc, result = probe(probe_port=70000, probe_state="absent")
    assert rc == 0, result
    rc, result = probe(probe_port=1, probe_state="gone")
    assert rc == 2
    assert "probe_state must be one of: present, absent" in result["msg"]


def test_no_entry_point_applies_the_rules_alone(probe):
    """For a role whose spec Ansible validates in its own task (asset_manager's main)."""
    rc, result = probe(probe_port=1, probe_state="gone", probe_entry_point="")
    assert rc == 0, result
    rc, result = probe(probe_port=70000, probe_entry_point="")
    assert rc == 2
    assert len(result["problems"]) == 2
