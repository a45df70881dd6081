"""Bad input fails before any AWS write, with a message that names the variable."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(run_site):
    return run_site


@pytest.fixture
def nothing_written(boto3_client):
    """After the test: the stack's security groups, bucket and parameters do not exist."""
    yield
    groups = boto3_client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["asset-manager-*"]}]
    )["SecurityGroups"]
    assert groups == []
    buckets = [b["Name"] for b in boto3_client("s3").list_buckets()["Buckets"]]
    assert "asset-manager-artifacts" not in buckets
    params = boto3_client("ssm").get_parameters_by_path(Path="/asset-manager", Recursive=True)
    assert params["Parameters"] == []


def test_vpc_tag_that_matches_nothing(site, nothing_written):
    proc = site("-e", "asset_manager_vpc_name=no-such-vpc")
    assert proc.returncode != 0
    assert "Found 0 VPCs tagged Name=no-such-vpc (variable asset_manager_vpc_name)" in proc.stdout


def test_retention_cloudwatch_does_not_accept(site, nothing_written, aws_tasks):
    proc = site("-e", "storage_log_retention_days=42")
    assert proc.returncode != 0
    assert "storage_log_retention_days" in proc.stdout
    assert "value of storage_log_retention_days must be one of" in proc.stdout
    # Refused in the pre-flight validation, before the first AWS call.
    assert aws_tasks(proc.stdout) == []


def test_missing_secret_variable(site, nothing_written, tmp_path, aws_tasks):
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories/local", inventory)
    main = inventory / "group_vars/all/main.yml"
    main.write_text(
        "\n".join(
            line
            for line in main.read_text().splitlines()
            if not line.startswith("ssm_params_pg_password")
        )
    )
    proc = site(inventory=inventory)
    assert proc.returncode != 0
    assert "Variable ssm_params_pg_password is not set" in proc.stdout
    assert aws_tasks(proc.stdout) == []
