"""Unit tests of alb_target_group: the pure comparison, and main() against botocore's Stubber."""

from __future__ import annotations

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.modules import alb_target_group as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    expect_elbv2_tags,
    run_module,
    stubbed_client,
)

NAME = "asset-manager-web-tg"
ARN = f"arn:aws:elasticloadbalancing:us-west-1:123456789012:targetgroup/{NAME}/73e2d6bc24d8a067"
TAGS = {"Application": "asset-manager", "Name": NAME}
HEALTH_CHECK = {
    "enabled": True,
    "protocol": "HTTP",
    "port": "traffic-port",
    "path": "/server_info",
    "interval": 30,
    "timeout": 5,
    "healthy_threshold": 2,
    "unhealthy_threshold": 3,
    "matcher": "200",
}
ATTRIBUTES = {"deregistration_delay.timeout_seconds": 300, "stickiness.enabled": False}


@pytest.fixture
def elbv2():
    with stubbed_client("elbv2") as client:
        yield client


def described(**overrides):
    group = {
        "TargetGroupArn": ARN,
        "TargetGroupName": NAME,
        "Protocol": "HTTP",
        "Port": 3000,
        "VpcId": "vpc-1",
        "HealthCheckProtocol": "HTTP",
        "HealthCheckPort": "traffic-port",
        "HealthCheckEnabled": True,
        "HealthCheckIntervalSeconds": 30,
        "HealthCheckTimeoutSeconds": 5,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 3,
        "HealthCheckPath": "/server_info",
        "Matcher": {"HttpCode": "200"},
        "TargetType": "ip",
        "ProtocolVersion": "HTTP1",
    }
    group.update(overrides)
    return group


def expect_reads(client, group=None, attributes=None, tags=None):
    tags = TAGS if tags is None else tags
    stub = client.stubber
    stub.add_response(
        "describe_target_groups", {"TargetGroups": [group or described()]}, {"Names": [NAME]}
    )
    attributes = attributes or {
        "deregistration_delay.timeout_seconds": "300",
        "stickiness.enabled": "false",
        "slow_start.duration_seconds": "0",
    }
    stub.add_response(
        "describe_target_group_attributes",
        {"Attributes": [{"Key": k, "Value": v} for k, v in attributes.items()]},
        {"TargetGroupArn": ARN},
    )
    expect_elbv2_tags(stub, ARN, tags)


def run(client, check_mode=False, diff=False, **args):
    args = {
        "name": NAME,
        "protocol": "HTTP",
        "port": 3000,
        "vpc_id": "vpc-1",
        "target_type": "ip",
        "health_check": HEALTH_CHECK,
        "attributes": ATTRIBUTES,
        "tags": TAGS,
        **args,
    }
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


# --- the pure comparison ---------------------------------------------------------------------


def params(**overrides):
    return {
        "name": NAME,
        "protocol": "HTTP",
        "port": 3000,
        "vpc_id": "vpc-1",
        "target_type": "ip",
        "protocol_version": None,
        "health_check": HEALTH_CHECK,
        "attributes": ATTRIBUTES,
        **overrides,
    }


def current(group=None, attributes=None, tags=None):
    tags = TAGS if tags is None else tags
    attributes = attributes or {
        "deregistration_delay.timeout_seconds": "300",
        "stickiness.enabled": "false",
    }
    return m.current_settings(group or described(), attributes, tags)


def test_a_converged_group_needs_nothing():
    plan = m.compare_target_group(m.desired_settings(params()), current(), TAGS)
    assert plan["changes"] == [] and plan["immutable"] == []
    assert plan["before"] == plan["after"]


def test_every_health_check_setting_and_attribute_is_compared():
    group = described(
        HealthCheckPath="/",
        HealthCheckPort="8080",
        HealthCheckProtocol="HTTPS",
        HealthCheckIntervalSeconds=10,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=5,
        UnhealthyThresholdCount=10,
        Matcher={"HttpCode": "200-399"},
        HealthCheckEnabled=False,
    )
    attributes = {"deregistration_delay.timeout_seconds": "5", "stickiness.enabled": "true"}
    plan = m.compare_target_group(
        m.desired_settings(params()), current(group, attributes, {"Name": "x"}), TAGS
    )
    assert plan["changes"] == [
        "health_check.enabled",
        "health_check.protocol",
        "health_check.port",
        "health_check.path",
        "health_check.interval",
        "health_check.timeout",
        "health_check.healthy_threshold",
        "health_check.unhealthy_threshold",
        "health_check.matcher",
        "attributes.deregistration_delay.timeout_seconds",
        "attributes.stickiness.enabled",
        "tags",
    ]
    assert plan["before"]["health_check"]["path"] == "/"
    assert plan["after"]["attributes"]["deregistration_delay.timeout_seconds"] == "300"
    assert m.health_check_request(plan["health_check"])["Matcher"] == {"HttpCode": "200"}


def test_unmanaged_settings_are_not_compared():
    desired = m.desired_settings(params(health_check={"path": "/server_info"}, attributes={}))
    plan = m.compare_target_group(desired, current(described(HealthCheckIntervalSeconds=10)))
    assert plan["changes"] == []
    assert plan["before"]["health_check"] == {"path": "/server_info"}
    assert plan["before"]["attributes"] == {}


def test_immutable_settings_are_refused():
    plan = m.compare_target_group(
        m.desired_settings(params(port=8080, protocol_version="HTTP2")), current()
    )
    assert plan["immutable"] == ["port", "protocol_version"]


# --- main() ----------------------------------------------------------------------------------


def test_noop_makes_three_reads(elbv2):
    expect_reads(elbv2)
    assert run(elbv2) == {"changed": False, "changes": [], "target_group_arn": ARN}


def test_check_mode_reports_a_changed_path_with_a_diff_and_writes_nothing(elbv2):
    expect_reads(elbv2, described(HealthCheckPath="/"))
    result = run(elbv2, check_mode=True, diff=True)
    assert result["changes"] == ["health_check.path"]
    assert result["diff"]["before"]["health_check"]["path"] == "/"
    assert result["diff"]["after"]["health_check"]["path"] == "/server_info"


def test_run_modifies_only_what_differs(elbv2):
    expect_reads(
        elbv2,
        described(HealthCheckIntervalSeconds=10),
        {"deregistration_delay.timeout_seconds": "5", "stickiness.enabled": "false"},
        {**TAGS, "Extra": "1"},
    )
    stub = elbv2.stubber
    stub.add_response(
        "modify_target_group", {}, {"TargetGroupArn": ARN, "HealthCheckIntervalSeconds": 30}
    )
    stub.add_response(
        "modify_target_group_attributes",
        {},
        {
            "TargetGroupArn": ARN,
            "Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}],
        },
    )
    stub.add_response("remove_tags", {}, {"ResourceArns": [ARN], "TagKeys": ["Extra"]})
    result = run(elbv2)
    assert result["changes"] == [
        "health_check.interval",
        "attributes.deregistration_delay.timeout_seconds",
        "tags",
    ]


def test_a_missing_group_is_created_with_its_attributes(elbv2):
    stub = elbv2.stubber
    stub.add_client_error("describe_target_groups", service_error_code="TargetGroupNotFound")
    stub.add_response(
        "create_target_group",
        {"TargetGroups": [described()]},
        {
            "Name": NAME,
            "Protocol": "HTTP",
            "Port": 3000,
            "VpcId": "vpc-1",
            "TargetType": "ip",
            "HealthCheckEnabled": True,
            "HealthCheckProtocol": "HTTP",
            "HealthCheckPort": "traffic-port",
            "HealthCheckPath": "/server_info",
            "HealthCheckIntervalSeconds": 30,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
            "Matcher": {"HttpCode": "200"},
            "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()],
        },
    )
    stub.add_response(
        "modify_target_group_attributes",
        {},
        {
            "TargetGroupArn": ARN,
            "Attributes": [
                {"Key": "deregistration_delay.timeout_seconds", "Value": "300"},
                {"Key": "stickiness.enabled", "Value": "false"},
            ],
        },
    )
    result = run(elbv2)
    assert result == {"changed": True, "changes": ["target_group"], "target_group_arn": ARN}


def test_check_mode_on_a_missing_group_has_no_arn(elbv2):
    elbv2.stubber.add_client_error(
        "describe_target_groups", service_error_code="TargetGroupNotFound"
    )
    result = run(elbv2, check_mode=True, diff=True)
    assert result["target_group_arn"] is None and result["diff"]["before"] == {}


def test_a_changed_port_fails_before_any_write(elbv2):
    expect_reads(elbv2, described(Port=80))
    with pytest.raises(Failed, match=r"port 80 \(wanted 3000\), which AWS cannot change"):
        run(elbv2)
