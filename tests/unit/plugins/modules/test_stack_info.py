"""Unit tests of stack_info through its real main(): one stubbed client per service."""

from __future__ import annotations

import json
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.leverslabs.asset_manager.plugins.modules import stack_info as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
)

REGION = "us-west-1"
ACCOUNT = "123456789012"
LB_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/alb/1"


class Clients(dict):
    """Stubbed clients by service, made on first use: clients.stub(service) adds responses."""

    def __missing__(self, service):
        client = boto3.client(
            service, region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
        )
        client.stubber = Stubber(client)
        client.stubber.activate()
        self[service] = client
        return client

    def stub(self, service):
        return self[service].stubber

    def get(self, service, default=None):
        return self[service]

    def verify(self):
        for client in self.values():
            client.stubber.assert_no_pending_responses()


def run(clients, args, **kwargs):
    return run_module(m, args, clients, **kwargs)


def base(clients, vpcs=1, zones=("a", "b")):
    clients.stub("sts").add_response(
        "get_caller_identity",
        {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/x", "UserId": "x"},
    )
    clients.stub("ec2").add_response(
        "describe_vpcs", {"Vpcs": [{"VpcId": f"vpc-{i}"} for i in range(vpcs)]}
    )
    if vpcs == 1:
        subnets = [
            {
                "SubnetId": f"subnet-{kind}{zone}",
                "AvailabilityZone": f"{REGION}{zone}",
                "Tags": [{"Key": "Type", "Value": kind}],
            }
            for kind in ("public", "private")
            for zone in zones
        ]
        clients.stub("ec2").add_response("describe_subnets", {"Subnets": subnets})


def test_network_only_found_with_sorted_subnets_and_fact():
    clients = Clients()
    base(clients)
    result = run(clients, {"vpc_name": "fulcrum-vpc", "require": ["vpc", "subnets"]})
    clients.verify()
    assert result["changed"] is False
    assert result["vpc_id"] == "vpc-0"
    assert result["public_subnet_ids"] == ["subnet-publica", "subnet-publicb"]
    assert result["private_subnet_ids"] == ["subnet-privatea", "subnet-privateb"]
    assert result["found"] == ["account", "subnets", "vpc"]
    assert result["missing"] == []
    assert result["ansible_facts"]["asset_manager_stack"]["vpc_id"] == "vpc-0"


def test_every_missing_required_part_is_named_at_once():
    clients = Clients()
    base(clients, vpcs=0)
    clients.stub("ecs").add_response("describe_clusters", {"clusters": [], "failures": []})
    clients.stub("acm").add_response("list_certificates", {"CertificateSummaryList": []})
    clients.stub("iam").add_client_error(
        "get_role", "NoSuchEntity", expected_params={"RoleName": "exec"}
    )
    with pytest.raises(Failed) as failed:
        run(
            clients,
            {
                "vpc_name": "no-such-vpc",
                "cluster": "c",
                "roles": {"execution": "exec"},
                "certificate_domain": "*.example.com",
                "require": ["vpc", "cluster", "roles", "certificate"],
                "variables": {"vpc_name": "asset_manager_vpc_name", "roles.execution": "x_role"},
            },
        )
    message = failed.value.result["msg"]
    assert "Found 0 VPCs tagged Name=no-such-vpc (variable asset_manager_vpc_name)" in message
    assert "ECS cluster c not found" in message
    assert "IAM execution role 'exec' not found (variables x_role)" in message
    assert "Found 0 ISSUED ACM certificates for *.example.com" in message


def test_the_inline_policies_asked_for_are_read_from_their_roles():
    clients = Clients()
    base(clients)
    iam = clients.stub("iam")
    # read_roles in purpose order, then the policies in purpose order.
    iam.add_response("get_role", role_answer("exec"), {"RoleName": "exec"})
    iam.add_response("get_role", role_answer("task"), {"RoleName": "task"})
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
    iam.add_client_error(
        "get_role_policy", "NoSuchEntity", expected_params={"RoleName": "exec", "PolicyName": "p-e"}
    )
    iam.add_response(
        "get_role_policy",
        # IAM sends the document URL-encoded; botocore decodes it into a dict.
        {"RoleName": "task", "PolicyName": "p-t", "PolicyDocument": quote(json.dumps(document))},
        {"RoleName": "task", "PolicyName": "p-t"},
    )
    result = run(
        clients,
        {
            "vpc_name": "v",
            "roles": {"execution": "exec", "task": "task"},
            "role_policies": {"execution": "p-e", "task": "p-t"},
        },
    )
    clients.verify()
    assert result["role_policies"] == {"execution": None, "task": document}


def role_answer(name):
    return {
        "Role": {
            "RoleName": name,
            "RoleId": "AROAEXAMPLEEXAMPLE01",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "Path": "/",
            "CreateDate": "2026-01-01T00:00:00Z",
        }
    }


def test_missing_but_not_required_is_reported_not_failed():
    clients = Clients()
    base(clients)
    clients.stub("elbv2").add_client_error("describe_load_balancers", "LoadBalancerNotFound")
    clients.stub("elbv2").add_client_error("describe_target_groups", "TargetGroupNotFound")
    result = run(clients, {"vpc_name": "v", "load_balancer": "alb", "target_group": "tg"})
    assert result["load_balancer"] is None and result["target_group"] is None
    assert result["missing"] == ["load_balancer", "target_group"]
    assert "the alb_oidc role creates it" in result["messages"]["load_balancer"]


def test_subnets_in_one_zone_are_missing():
    clients = Clients()
    base(clients, zones=("a",))
    with pytest.raises(Failed) as failed:
        run(clients, {"vpc_name": "v", "require": ["subnets"]})
    assert "at least two availability zones" in failed.value.result["msg"]


def test_load_balancer_with_listeners_and_attributes():
    clients = Clients()
    base(clients)
    clients.stub("elbv2").add_response(
        "describe_load_balancers",
        {
            "LoadBalancers": [
                {
                    "LoadBalancerArn": LB_ARN,
                    "DNSName": "alb.example",
                    "CanonicalHostedZoneId": "Z1",
                    "SecurityGroups": ["sg-2", "sg-1"],
                }
            ]
        },
        {"Names": ["alb"]},
    )
    clients.stub("elbv2").add_response(
        "describe_listeners",
        {"Listeners": [{"Port": 443, "ListenerArn": "l443"}, {"Port": 80, "ListenerArn": "l80"}]},
        {"LoadBalancerArn": LB_ARN},
    )
    clients.stub("elbv2").add_response(
        "describe_load_balancer_attributes",
        {"Attributes": [{"Key": "deletion_protection.enabled", "Value": "true"}]},
        {"LoadBalancerArn": LB_ARN},
    )
    result = run(clients, {"vpc_name": "v", "load_balancer": "alb", "require": ["load_balancer"]})
    balancer = result["load_balancer"]
    assert balancer["https_listener_arn"] == "l443" and balancer["http_listener_arn"] == "l80"
    assert balancer["security_groups"] == ["sg-1", "sg-2"]
    assert balancer["attributes"] == {"deletion_protection.enabled": "true"}


def test_security_groups_and_services_by_purpose():
    clients = Clients()
    base(clients)
    clients.stub("ec2").add_response(
        "describe_security_groups",
        {
            "SecurityGroups": [
                {
                    "GroupName": "alb-sg",
                    "GroupId": "sg-1",
                    "Description": "the ALB's",
                    "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}],
                    "Tags": [{"Key": "Name", "Value": "alb-sg"}],
                }
            ]
        },
        {
            "Filters": [
                {"Name": "vpc-id", "Values": ["vpc-0"]},
                {"Name": "group-name", "Values": ["alb-sg", "svc-sg"]},
            ]
        },
    )
    clients.stub("ecs").add_response(
        "describe_clusters",
        {
            "clusters": [
                {
                    "clusterArn": "c-arn",
                    "status": "ACTIVE",
                    "settings": [{"name": "containerInsights", "value": "enhanced"}],
                }
            ]
        },
        {"clusters": ["c"], "include": ["SETTINGS"]},
    )
    clients.stub("ecs").add_response(
        "describe_services",
        {
            "services": [
                {
                    "serviceName": "web",
                    "serviceArn": "w",
                    "status": "ACTIVE",
                    "taskDefinition": "td:2",
                    "desiredCount": 2,
                    "runningCount": 1,
                    "pendingCount": 1,
                    "deployments": [],
                },
                {
                    "serviceName": "daemon",
                    "serviceArn": "d",
                    "status": "INACTIVE",
                    "taskDefinition": "x",
                },
            ]
        },
        {"cluster": "c", "services": ANY},
    )
    clients.stub("ecs").add_response(
        "describe_task_definition",
        {
            "taskDefinition": {
                "containerDefinitions": [
                    {
                        "name": "app",
                        "image": "repo@sha256:1",
                        "environment": [
                            {"name": "RUN_TD", "value": "run:3"},
                            {"name": "OTHER", "value": "not reported"},
                        ],
                    },
                    {"name": "sidecar", "image": "proxy:1"},
                ]
            }
        },
        {"taskDefinition": "td:2"},
    )
    result = run(
        clients,
        {
            "vpc_name": "v",
            "cluster": "c",
            "security_groups": {"alb": "alb-sg", "services": "svc-sg"},
            "services": {"web": "web", "daemon": "daemon"},
            "environment_variables": ["RUN_TD"],
        },
    )
    assert result["security_groups"] == {"alb": "sg-1", "services": None}
    # Each group's rules as EC2 describes them, for the role's call-free comparison.
    assert result["security_group_rules"] == {
        "alb": {
            "description": "the ALB's",
            "ingress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}],
            "egress": [],
            "tags": {"Name": "alb-sg"},
        },
        "services": None,
    }
    assert result["container_insights"] == "enhanced"
    assert result["services"]["daemon"] is None
    assert result["services"]["web"]["task_definition"] == "td:2"
    assert result["services"]["web"]["running_count"] == 1
    # The revision the service runs: each container's image, only the variables asked for.
    assert result["services"]["web"]["containers"] == {
        "app": {"image": "repo@sha256:1", "environment": {"RUN_TD": "run:3"}},
        "sidecar": {"image": "proxy:1", "environment": {}},
    }
    assert set(result["missing"]) == {"security_groups", "services"}
    assert "svc-sg" in result["messages"]["security_groups"]


def test_image_tag_resolves_to_its_digest():
    clients = Clients()
    base(clients)
    repository = {"repositoryArn": "r-arn", "repositoryUri": "1.dkr/asset-manager"}
    clients.stub("ecr").add_response("describe_repositories", {"repositories": [repository]})
    clients.stub("ecr").add_response(
        "describe_images",
        {"imageDetails": [{"imageDigest": "sha256:abc", "imageTags": ["v42"]}]},
        {"repositoryName": "asset-manager", "imageIds": [{"imageTag": "v42"}]},
    )
    result = run(clients, {"vpc_name": "v", "repository": "asset-manager", "image_tag": "v42"})
    assert result["image"] == {"tag": "v42", "digest": "sha256:abc"}
    assert "image" in result["found"]


def test_unknown_image_tag_is_missing_and_named():
    clients = Clients()
    base(clients)
    repository = {"repositoryArn": "r-arn", "repositoryUri": "1.dkr/asset-manager"}
    clients.stub("ecr").add_response("describe_repositories", {"repositories": [repository]})
    clients.stub("ecr").add_client_error("describe_images", "ImageNotFoundException")
    with pytest.raises(Failed) as failed:
        run(
            clients,
            {
                "vpc_name": "v",
                "repository": "asset-manager",
                "image_tag": "v43",
                "require": ["image"],
                "variables": {"image_tag": "ecs_taskdefs_image_tag"},
            },
        )
    assert "'v43' (variable ecs_taskdefs_image_tag) not found" in failed.value.result["msg"]


def test_unknown_required_part_fails_before_any_call():
    clients = Clients()
    with pytest.raises(Failed) as failed:
        run(clients, {"vpc_name": "v", "require": ["vpcs"]})
    assert "unknown part(s) vpcs" in failed.value.result["msg"]
    assert dict(clients) == {}


def test_public_zone_ids_exact_and_public_only():
    zones = [
        {"Id": "/hostedzone/Z1", "Name": "example.com.", "Config": {"PrivateZone": False}},
        {"Id": "/hostedzone/Z2", "Name": "example.com.", "Config": {"PrivateZone": True}},
        {"Id": "/hostedzone/Z3", "Name": "sub.example.com."},
    ]
    assert m.public_zone_ids(zones, "example.com") == ["Z1"]
    assert m.public_zone_ids(zones, "example.com.") == ["Z1"]


def test_parameter_names_relative_sorted_and_none_is_missing():
    clients = Clients()
    base(clients)
    where = {"ParameterFilters": [{"Key": "Path", "Option": "Recursive", "Values": ["/app"]}]}
    clients.stub("ssm").add_response(
        "describe_parameters",
        {"Parameters": [{"Name": "/app/Z", "Type": "String"}, {"Name": "/app/a/B"}]},
        where,
    )
    result = run(clients, {"vpc_name": "v", "parameter_path": "/app/"})
    assert result["parameters"] == ["Z", "a/B"]
    assert "parameters" in result["found"]

    clients = Clients()
    base(clients)
    clients.stub("ssm").add_response("describe_parameters", {"Parameters": []}, where)
    args = {"vpc_name": "v", "parameter_path": "/app", "variables": {"parameter_path": "p"}}
    with pytest.raises(Failed) as failed:
        run(clients, {**args, "require": ["parameters"]})
    assert (
        failed.value.result["msg"]
        == "Missing, before any change: No SSM parameters under /app (variable p)."
    )


ZONES = {
    "HostedZones": [{"Id": "/hostedzone/Z9", "Name": "example.com.", "CallerReference": "r"}],
    "IsTruncated": False,
    "MaxItems": "100",
}


# Every option a site run gives: parts= then decides what is read.
EVERY_OPTION = {
    "vpc_name": "v",
    "cluster": "c",
    "repository": "asset-manager",
    "roles": {"execution": "exec", "task": "task"},
    "role_policies": {"execution": "p"},
    "certificate_domain": "*.example.com",
    "hosted_zone": "example.com",
    "security_groups": {"alb": "alb-sg"},
    "load_balancer": "alb",
    "target_group": "tg",
    "services": {"web": "w"},
    "image_tag": "v42",
}


def test_parts_read_only_what_is_asked_and_make_no_other_client():
    clients = Clients()
    clients.stub("route53").add_response("list_hosted_zones_by_name", ZONES)
    clients.stub("elbv2").add_client_error("describe_load_balancers", "LoadBalancerNotFound")
    result = run(clients, {**EVERY_OPTION, "parts": ["load_balancer"], "require": ["hosted_zone"]})
    clients.verify()
    # The load balancer asked, the zone required: no account, VPC or anything else.
    assert set(clients) == {"route53", "elbv2"}
    assert result["found"] == ["hosted_zone"]
    assert result["missing"] == ["load_balancer"]
    # What was not read is neither found nor missing, and keeps its keys, each None.
    assert result["account_id"] is None and result["vpc_id"] is None
    assert result["private_subnet_ids"] == []
    assert result["cluster_arn"] is None and result["repository"] is None
    assert result["services"] == {"web": None}
    assert result["roles"] == {"execution": None, "task": None}
    assert result["role_policies"] == {"execution": None}
    assert result["security_groups"] == {"alb": None}


def test_a_part_read_through_another_brings_it():
    clients = Clients()
    base(clients)
    clients.stub("ecr").add_response(
        "describe_repositories",
        {"repositories": [{"repositoryArn": "arn:r", "repositoryUri": "uri/asset-manager"}]},
    )
    clients.stub("ecr").add_response(
        "describe_images",
        {"imageDetails": [{"imageDigest": "sha256:abc", "imageTags": ["v42"]}]},
    )
    # The image through its repository, the subnets through their VPC.
    result = run(clients, {**EVERY_OPTION, "parts": ["account", "image", "subnets"]})
    clients.verify()
    assert set(clients) == {"sts", "ec2", "ecr"}
    assert result["found"] == ["account", "image", "repository", "subnets", "vpc"]
    assert result["image"]["digest"] == "sha256:abc"


def test_an_unknown_part_fails_before_any_call():
    clients = Clients()
    with pytest.raises(Failed) as failed:
        run(clients, {"vpc_name": "v", "parts": ["balancer"]})
    assert failed.value.result["msg"].startswith("parts names unknown part(s) balancer; known:")
    assert not clients


def records(*record_sets):
    return {"ResourceRecordSets": list(record_sets), "IsTruncated": False, "MaxItems": "2"}


def test_the_host_record_is_read_with_the_zone_in_one_shape():
    clients = Clients()
    base(clients)
    clients.stub("route53").add_response("list_hosted_zones_by_name", ZONES)
    alias = {
        "Name": "am.example.com.",
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": "Z1",
            "DNSName": "ALB-1.us-west-1.elb.amazonaws.com.",
            "EvaluateTargetHealth": False,
        },
    }
    clients.stub("route53").add_response(
        "list_resource_record_sets",
        records(alias),
        {
            "HostedZoneId": "Z9",
            "StartRecordName": "am.example.com",
            "StartRecordType": "A",
            "MaxItems": "2",
        },
    )
    args = {"vpc_name": "v", "hosted_zone": "example.com", "host_name": "am.example.com"}
    result = run(clients, args)
    clients.verify()
    assert result["host_record"] == {
        "alias_target": {
            "dns_name": "alb-1.us-west-1.elb.amazonaws.com",
            "hosted_zone_id": "Z1",
            "evaluate_target_health": False,
        },
        "other": [],
    }


def test_host_record_is_none_without_that_a_record_and_names_what_else_a_record_has():
    plain = {"Name": "am.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "1"}]}
    after = {"Name": "an.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": []}
    txt = {"Name": "am.example.com.", "Type": "TXT", "TTL": 60, "ResourceRecords": []}
    assert m.host_record([plain, after], "AM.example.com.") == {
        "alias_target": None,
        "other": ["ResourceRecords", "TTL"],
    }
    assert m.host_record([after], "am.example.com") is None
    assert m.host_record([txt], "am.example.com") is None
    assert m.host_record([], "am.example.com") is None
