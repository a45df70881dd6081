"""The day-two playbooks refuse bad input with a message that names the variable, before their
first AWS call (the recap shows no task but the failed check)."""

from __future__ import annotations

import re

import pytest

NOTHING_RAN = re.compile(r"localhost\s+:\s+ok=0\s+changed=0\s+unreachable=0\s+failed=1")

CASES = {
    "rolling update without tag or revisions": (
        "playbooks/rolling_update.yml",
        [],
        "Give either rolling_update_image_tag (an image tag such as v42) or both",
    ),
    "rolling update with a tag and a revision": (
        "playbooks/rolling_update.yml",
        ["-e", "rolling_update_image_tag=v2", "-e", "rolling_update_web_revision=3"],
        "got tag 'v2', web revision '3', daemon revision ''",
    ),
    "rolling update with one revision only": (
        "playbooks/rolling_update.yml",
        ["-e", "rolling_update_web_revision=3"],
        "or both rolling_update_web_revision and rolling_update_daemon_revision",
    ),
    "rolling update with a tag docker refuses": (
        "playbooks/rolling_update.yml",
        ["-e", "rolling_update_image_tag=feature/x"],
        "got tag 'feature/x'",
    ),
    "scale with two daemons": (
        "playbooks/scale.yml",
        ["-e", "scale_web_count=2", "-e", "scale_daemon_count=2"],
        "scale_daemon_count is 2, but the Dagster daemon runs exactly one task",
    ),
    "teardown without confirmation": (
        "playbooks/teardown.yml",
        [],
        "To confirm, run again with -e teardown_confirm=local.",
    ),
    "teardown confirming another environment": (
        "playbooks/teardown.yml",
        ["-e", "teardown_confirm=prod"],
        "To confirm, run again with -e teardown_confirm=local (got 'prod').",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_refused_before_any_aws_call(run_site, case):
    playbook, args, message = CASES[case]
    proc = run_site(*args, playbook=playbook)
    assert proc.returncode != 0
    assert message in proc.stdout
    assert NOTHING_RAN.search(proc.stdout), proc.stdout[-2000:]


@pytest.mark.parametrize("count", ["0", "two", ""])
def test_scale_needs_a_whole_web_count(run_site, count):
    proc = run_site("-e", f"scale_web_count={count}", playbook="playbooks/scale.yml")
    assert proc.returncode != 0
    flat = " ".join(proc.stdout.split())
    assert "a whole number from 1 to ecs_services_web_max_count" in flat, flat[-2000:]
    assert f"got '{count}'" in flat, flat[-2000:]
    # Only the daemon check ran before, and it needs no AWS call either.
    assert re.search(r"localhost\s+:\s+ok=1\s+changed=0\s+unreachable=0\s+failed=1", proc.stdout)
