"""Check mode never writes a log group's retention (amazon.aws's module would), yet reports it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "check-mode-test"


def run_storage(aws_env, emulator, *extra):
    env = {
        **os.environ,
        **aws_env,
        "ASSET_MANAGER_ENDPOINT_URL": emulator,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    cmd = [
        "ansible-playbook",
        "-i",
        str(ROOT / "inventories/local"),
        str(ROOT / "site.yml"),
        "--tags",
        "storage",
        "-e",
        f"asset_manager_log_group_prefix={PREFIX}",
        "-e",
        f"asset_manager_artifacts_bucket={PREFIX}-bucket",
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def retentions(boto3_client):
    groups = boto3_client("logs").describe_log_groups(logGroupNamePrefix=PREFIX)["logGroups"]
    return {g["logGroupName"]: g.get("retentionInDays") for g in groups}


def test_retention_change_is_planned_not_made_in_check_mode(aws_env, emulator, boto3_client):
    run_storage(aws_env, emulator)
    names = {f"{PREFIX}/web", f"{PREFIX}/daemon", f"{PREFIX}/runs"}
    assert retentions(boto3_client) == dict.fromkeys(names, 365)

    plan = run_storage(aws_env, emulator, "--check", "-e", "storage_log_retention_days=30")
    assert "changed=1 " in plan, plan[-2000:]  # one task, three items
    flat = " ".join(plan.split())  # the YAML callback folds long messages
    for name in names:
        assert f"Would change the retention of {name} to 30 days." in flat, plan
    assert retentions(boto3_client) == dict.fromkeys(names, 365), "check mode wrote retention"

    run_storage(aws_env, emulator, "-e", "storage_log_retention_days=30")
    assert retentions(boto3_client) == dict.fromkeys(names, 30)
    assert "changed=0" in run_storage(
        aws_env, emulator, "--check", "-e", "storage_log_retention_days=30"
    )
