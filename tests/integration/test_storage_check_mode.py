"""Check mode never writes a log group's retention (amazon.aws's module would), yet reports it."""

from __future__ import annotations

import re

PREFIX = "check-mode-test"


def run_storage(run_site, *extra):
    proc = run_site(
        "--tags",
        "storage",
        "-e",
        f"asset_manager_log_group_prefix={PREFIX}",
        "-e",
        f"asset_manager_artifacts_bucket={PREFIX}-bucket",
        *extra,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def retentions(boto3_client):
    groups = boto3_client("logs").describe_log_groups(logGroupNamePrefix=PREFIX)["logGroups"]
    return {g["logGroupName"]: g.get("retentionInDays") for g in groups}


def test_retention_change_is_planned_not_made_in_check_mode(run_site, boto3_client, seeded):
    run_storage(run_site)
    names = {f"{PREFIX}/web", f"{PREFIX}/daemon", f"{PREFIX}/runs"}
    assert retentions(boto3_client) == dict.fromkeys(names, 365)

    plan = run_storage(run_site, "--check", "--diff", "-e", "storage_log_retention_days=30")
    assert "changed=1 " in plan, plan[-2000:]  # one task for the three groups
    # The diff gives each group's retention before and after.
    assert len(re.findall(r"^-\s+retention_days: 365$", plan, re.MULTILINE)) == 3, plan[-3000:]
    assert len(re.findall(r"^\+\s+retention_days: 30$", plan, re.MULTILINE)) == 3, plan[-3000:]
    assert retentions(boto3_client) == dict.fromkeys(names, 365), "check mode wrote retention"

    run_storage(run_site, "-e", "storage_log_retention_days=30")
    assert retentions(boto3_client) == dict.fromkeys(names, 30)
    assert "changed=0" in run_storage(run_site, "--check", "-e", "storage_log_retention_days=30")
