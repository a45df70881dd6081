"""Unit tests of ecs_cluster_settings: main() against botocore's Stubber."""

from __future__ import annotations

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.modules import ecs_cluster_settings as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
    stubbed_client,
)

NAME = "asset-manager"
ARN = f"arn:aws:ecs:us-west-1:123456789012:cluster/{NAME}"


@pytest.fixture
def ecs():
    with stubbed_client("ecs") as client:
        yield client


def expect_describe(client, insights="disabled", status="ACTIVE", found=True):
    cluster = {"clusterArn": ARN, "clusterName": NAME, "status": status}
    if insights is not None:
        cluster["settings"] = [{"name": "containerInsights", "value": insights}]
    client.stubber.add_response(
        "describe_clusters",
        {"clusters": [cluster] if found else [], "failures": []},
        {"clusters": [NAME], "include": ["SETTINGS"]},
    )


def expect_update(client, value):
    client.stubber.add_response(
        "update_cluster",
        {"cluster": {"clusterArn": ARN}},
        {"cluster": ARN, "settings": [{"name": "containerInsights", "value": value}]},
    )


def run(client, value="enabled", check_mode=False, diff=False):
    args = {"cluster": NAME, "container_insights": value}
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


def test_a_different_setting_is_planned_with_its_diff_and_not_written_in_check_mode(ecs):
    expect_describe(ecs, "disabled")
    result = run(ecs, check_mode=True, diff=True)
    assert result["changed"] is True and result["container_insights"] == "enabled"
    assert result["diff"] == {
        "before": {"container_insights": "disabled"},
        "after": {"container_insights": "enabled"},
    }


def test_a_different_setting_is_written(ecs):
    expect_describe(ecs, "enhanced")
    expect_update(ecs, "enabled")
    result = run(ecs)
    assert result["changed"] is True and result["cluster_arn"] == ARN


def test_the_same_setting_changes_nothing(ecs):
    expect_describe(ecs, "enhanced")
    result = run(ecs, value="enhanced", diff=True)
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]


def test_a_cluster_without_the_setting_gets_it(ecs):
    expect_describe(ecs, insights=None)
    expect_update(ecs, "disabled")
    assert run(ecs, value="disabled")["changed"] is True


@pytest.mark.parametrize("kind", ["missing", "inactive"])
def test_a_missing_or_inactive_cluster_fails_naming_it_and_is_not_created(ecs, kind):
    expect_describe(ecs, found=kind != "missing", status="INACTIVE")
    with pytest.raises(Failed, match=f"ECS cluster {NAME} not found or not ACTIVE"):
        run(ecs)
