"""The emulator fidelity layer: each patch shown over HTTP, behaving as AWS does."""

from __future__ import annotations

import json
import urllib.request

import botocore.exceptions
import fidelity
import pytest


def test_refuses_an_unpinned_moto_version():
    with pytest.raises(fidelity.FidelityError, match="5.2.5"):
        fidelity.check_version("5.2.4")
    fidelity.check_version(fidelity.PINNED_MOTO_VERSION)


def test_health_lists_every_patch(emulator):
    health = json.load(urllib.request.urlopen(f"{emulator}/_asset_manager/health"))
    assert health["moto"] == fidelity.PINNED_MOTO_VERSION
    assert health["patches"] == [patch.__name__ for patch in fidelity.PATCHES]


@pytest.fixture(scope="module")
def network(boto3_client):
    ec2 = boto3_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.90.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(("us-west-1a", "us-west-1b"))
    ]
    group = ec2.create_security_group(GroupName="fidelity", Description="t", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "subnets": subnets, "group": group}


@pytest.fixture(scope="module")
def balancer(boto3_client, network):
    elbv2 = boto3_client("elbv2")
    return elbv2.create_load_balancer(
        Name="fidelity-alb", Subnets=network["subnets"], SecurityGroups=[network["group"]]
    )["LoadBalancers"][0]["LoadBalancerArn"]


def oidc_action(secret=None, use_existing=False):
    config = {
        "Issuer": "https://tenant.example/",
        "AuthorizationEndpoint": "https://tenant.example/authorize",
        "TokenEndpoint": "https://tenant.example/oauth/token",
        "UserInfoEndpoint": "https://tenant.example/userinfo",
        "ClientId": "client",
    }
    if secret is not None:
        config["ClientSecret"] = secret
    if use_existing:
        config["UseExistingClientSecret"] = True
    return {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": config}


def test_oidc_client_secret_is_write_only(boto3_client, balancer, emulator):
    elbv2 = boto3_client("elbv2")
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    fixed = {"Type": "fixed-response", "Order": 2, "FixedResponseConfig": {"StatusCode": "200"}}
    conditions = [{"Field": "host-header", "Values": ["a.example"]}]

    with pytest.raises(botocore.exceptions.ClientError, match="ClientSecret is required"):
        elbv2.create_rule(
            ListenerArn=listener, Priority=5, Conditions=conditions, Actions=[oidc_action(), fixed]
        )

    created = elbv2.create_rule(
        ListenerArn=listener,
        Priority=5,
        Conditions=conditions,
        Actions=[oidc_action("first-secret"), fixed],
    )["Rules"][0]
    described = elbv2.describe_rules(RuleArns=[created["RuleArn"]])["Rules"][0]
    for rule in (created, described):
        config = rule["Actions"][0]["AuthenticateOidcConfig"]
        assert "ClientSecret" not in config
        assert "UseExistingClientSecret" not in config
        assert config["ClientId"] == "client"

    def digest():
        digests = json.load(
            urllib.request.urlopen(f"{emulator}/_asset_manager/oidc-secret-digests")
        )
        return digests[created["RuleArn"]]

    first = digest()
    assert first == fidelity._digest("first-secret")
    elbv2.modify_rule(RuleArn=created["RuleArn"], Actions=[oidc_action(use_existing=True), fixed])
    assert digest() == first, "UseExistingClientSecret must keep the stored secret"
    elbv2.modify_rule(RuleArn=created["RuleArn"], Actions=[oidc_action("rotated"), fixed])
    assert digest() == fidelity._digest("rotated")
    with pytest.raises(botocore.exceptions.ClientError, match="UseExistingClientSecret"):
        elbv2.modify_rule(RuleArn=created["RuleArn"], Actions=[oidc_action(), fixed])


def test_alb_has_aws_full_attribute_set(boto3_client, balancer):
    attributes = {
        item["Key"]: item["Value"]
        for item in boto3_client("elbv2").describe_load_balancer_attributes(
            LoadBalancerArn=balancer
        )["Attributes"]
    }
    assert set(fidelity.ALB_DEFAULT_ATTRIBUTES) <= set(attributes)
    assert attributes["routing.http.desync_mitigation_mode"] == "defensive"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "false"
    assert attributes["idle_timeout.timeout_seconds"] == "60"
    assert attributes["load_balancing.cross_zone.enabled"] == "true"  # moto seeds "false"


def test_alb_deletion_protection_is_enforced(boto3_client, network):
    elbv2 = boto3_client("elbv2")
    arn = elbv2.create_load_balancer(
        Name="fidelity-protected", Subnets=network["subnets"], SecurityGroups=[network["group"]]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    with pytest.raises(botocore.exceptions.ClientError, match="OperationNotPermitted"):
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elbv2.delete_load_balancer(LoadBalancerArn=arn)
    remaining = [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]]
    assert arn not in remaining


def test_describe_clusters_returns_capacity_providers(boto3_client):
    ecs = boto3_client("ecs")
    ecs.create_cluster(clusterName="fidelity-plain")
    cluster = ecs.describe_clusters(clusters=["fidelity-plain"])["clusters"][0]
    assert cluster["capacityProviders"] == []
    assert cluster["defaultCapacityProviderStrategy"] == []


@pytest.fixture(scope="module")
def task_definition(boto3_client):
    ecs = boto3_client("ecs")
    ecs.create_cluster(clusterName="fidelity")
    register = {
        "family": "fidelity",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "app", "image": "busybox", "essential": True}],
    }
    first = ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    second = ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    return first, second


def test_services_run_their_tasks_and_keep_deployment_settings(
    boto3_client, network, task_definition
):
    ecs = boto3_client("ecs")
    first, second = task_definition
    safety = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    ecs.create_service(
        cluster="fidelity",
        serviceName="web",
        taskDefinition=first,
        desiredCount=2,
        launchType="FARGATE",
        deploymentConfiguration=safety,
        healthCheckGracePeriodSeconds=60,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": network["subnets"],
                "securityGroups": [network["group"]],
                "assignPublicIp": "DISABLED",
            }
        },
    )
    service = ecs.describe_services(cluster="fidelity", services=["web"])["services"][0]
    assert service["runningCount"] == 2 and service["pendingCount"] == 0
    assert service["deploymentConfiguration"] == safety
    assert service["healthCheckGracePeriodSeconds"] == 60
    (deployment,) = service["deployments"]
    assert deployment["rolloutState"] == "COMPLETED" and deployment["status"] == "PRIMARY"
    assert "steady state" in service["events"][0]["message"]

    ecs.update_service(cluster="fidelity", service="web", taskDefinition=second, desiredCount=3)
    service = ecs.describe_services(cluster="fidelity", services=["web"])["services"][0]
    (new_deployment,) = service["deployments"]
    assert new_deployment["id"] != deployment["id"]
    assert new_deployment["taskDefinition"] == second
    assert service["runningCount"] == new_deployment["runningCount"] == 3


def test_service_without_deployment_configuration_gets_aws_defaults(
    boto3_client, network, task_definition
):
    ecs = boto3_client("ecs")
    ecs.create_service(
        cluster="fidelity", serviceName="plain", taskDefinition=task_definition[0], desiredCount=1
    )
    service = ecs.describe_services(cluster="fidelity", services=["plain"])["services"][0]
    assert service["deploymentConfiguration"] == fidelity.ECS_DEFAULT_DEPLOYMENT_CONFIGURATION


def test_bare_family_resolves_to_latest_active_revision(boto3_client):
    ecs = boto3_client("ecs")
    register = {
        "family": "fidelity-active",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 128}],
    }
    first = ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    second = ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=second)
    described = ecs.describe_task_definition(taskDefinition="fidelity-active")["taskDefinition"]
    assert described["taskDefinitionArn"] == first
    ecs.deregister_task_definition(taskDefinition=first)
    with pytest.raises(botocore.exceptions.ClientError):
        ecs.describe_task_definition(taskDefinition="fidelity-active")


def test_service_describes_its_task_definition_as_an_arn(boto3_client, network, task_definition):
    ecs = boto3_client("ecs")
    first, second = task_definition
    ecs.create_service(
        cluster="fidelity", serviceName="by-family", taskDefinition=first, desiredCount=1
    )
    ecs.update_service(cluster="fidelity", service="by-family", taskDefinition="fidelity:2")
    service = ecs.describe_services(cluster="fidelity", services=["by-family"])["services"][0]
    assert service["taskDefinition"] == second
    assert service["deployments"][0]["taskDefinition"] == second


def test_deleted_rule_leaves_no_secret_behind(boto3_client, balancer, emulator):
    elbv2 = boto3_client("elbv2")
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=8081,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    fixed = {"Type": "fixed-response", "Order": 2, "FixedResponseConfig": {"StatusCode": "200"}}
    rule = elbv2.create_rule(
        ListenerArn=listener,
        Priority=7,
        Conditions=[{"Field": "host-header", "Values": ["b.example"]}],
        Actions=[oidc_action("short-lived"), fixed],
    )["Rules"][0]["RuleArn"]
    elbv2.delete_rule(RuleArn=rule)
    digests = json.load(urllib.request.urlopen(f"{emulator}/_asset_manager/oidc-secret-digests"))
    assert rule not in digests
