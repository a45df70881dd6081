"""Unit tests of ec2_new_security_groups: main() against botocore's Stubber."""

from __future__ import annotations

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.modules import (
    ec2_new_security_groups as m,
)
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
    stubbed_client,
)

VPC = "vpc-0123456789abcdef0"
SERVICES = {"name": "svc-sg", "description": "services", "tags": {"Application": "am"}}
ALB = {"name": "alb-sg", "description": "ALB", "tags": {}}
DEFAULT_EGRESS = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@pytest.fixture
def ec2():
    with stubbed_client("ec2") as client:
        yield client


def expect_describe(client, existing, names=("alb-sg", "svc-sg")):
    client.stubber.add_response(
        "describe_security_groups",
        {"SecurityGroups": [{"GroupName": n, "GroupId": i} for n, i in existing.items()]},
        {
            "Filters": [
                {"Name": "vpc-id", "Values": [VPC]},
                {"Name": "group-name", "Values": sorted(names)},
            ]
        },
    )


def expect_create(client, group, group_id, duplicate=False):
    params = {"GroupName": group["name"], "Description": group["description"], "VpcId": VPC}
    if group["tags"]:
        params["TagSpecifications"] = [
            {
                "ResourceType": "security-group",
                "Tags": [{"Key": k, "Value": v} for k, v in group["tags"].items()],
            }
        ]
    if duplicate:
        client.stubber.add_client_error(
            "create_security_group", "InvalidGroup.Duplicate", expected_params=params
        )
        expect_describe(client, {group["name"]: group_id}, names=[group["name"]])
    else:
        client.stubber.add_response("create_security_group", {"GroupId": group_id}, params)


def expect_revoke(client, group_id, not_found=False):
    params = {"GroupId": group_id, "IpPermissions": DEFAULT_EGRESS}
    if not_found:
        client.stubber.add_client_error(
            "revoke_security_group_egress", "InvalidPermission.NotFound", expected_params=params
        )
    else:
        client.stubber.add_response("revoke_security_group_egress", {"Return": True}, params)


def run(client, groups=(SERVICES, ALB), check_mode=False, diff=False):
    args = {"vpc_id": VPC, "groups": [dict(g) for g in groups]}
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


def test_existing_groups_are_left_alone(ec2):
    expect_describe(ec2, {"svc-sg": "sg-1", "alb-sg": "sg-2"})
    result = run(ec2, diff=True)
    assert result["changed"] is False and result["created"] == []
    assert result["group_ids"] == {"svc-sg": "sg-1", "alb-sg": "sg-2"}
    assert result["diff"] == {"before": {}, "after": {}}


def test_missing_groups_are_planned_in_check_mode_without_a_write(ec2):
    expect_describe(ec2, {"svc-sg": "sg-1"})
    result = run(ec2, check_mode=True, diff=True)
    assert result["changed"] is True and result["created"] == ["alb-sg"]
    assert result["group_ids"] == {"svc-sg": "sg-1", "alb-sg": None}
    assert result["diff"] == {
        "before": {"alb-sg": None},
        "after": {"alb-sg": {"description": "ALB", "tags": {}}},
    }


def test_missing_groups_are_created_in_order_closed_and_tagged(ec2):
    expect_describe(ec2, {})
    expect_create(ec2, SERVICES, "sg-1")
    expect_revoke(ec2, "sg-1")
    expect_create(ec2, ALB, "sg-2")
    expect_revoke(ec2, "sg-2")
    result = run(ec2)
    assert result["created"] == ["svc-sg", "alb-sg"]
    assert result["group_ids"] == {"svc-sg": "sg-1", "alb-sg": "sg-2"}


def test_a_retried_create_adopts_the_group_its_lost_first_attempt_made(ec2):
    expect_describe(ec2, {"alb-sg": "sg-2"})
    expect_create(ec2, SERVICES, "sg-1", duplicate=True)
    expect_revoke(ec2, "sg-1", not_found=True)
    assert run(ec2)["group_ids"] == {"svc-sg": "sg-1", "alb-sg": "sg-2"}


def test_a_failed_create_fails_naming_the_group(ec2):
    expect_describe(ec2, {"alb-sg": "sg-2"})
    ec2.stubber.add_client_error("create_security_group", "InvalidParameterValue")
    with pytest.raises(Failed, match="Failed to create security group svc-sg"):
        run(ec2)


def test_names_must_be_unique():
    with pytest.raises(Failed, match="unique name"):
        run(None, groups=(ALB, ALB))
