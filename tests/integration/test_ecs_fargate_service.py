"""ecs_fargate_service against the emulator, run as an Ansible task.

The network, cluster, task definition and load balancer come from boto3 in a module-scoped
fixture. One service is created through the module once; every test that changes it first puts it
back to BASE with boto3 (milliseconds, where an Ansible run costs seconds), so each test also runs
on its own. The emulator settles every deployment at once: the failing paths of ``wait`` are unit
tests.
"""

from __future__ import annotations

import time
import uuid

import pytest

MODULE = "leverslabs.asset_manager.ecs_fargate_service"
SUFFIX = uuid.uuid4().hex[:8]
CLUSTER = f"efs-{SUFFIX}"
FAMILY = f"efs-web-{SUFFIX}"
NAME = f"web-{SUFFIX}"
BASE_TAGS = {"Application": "asset-manager", "Environment": "test"}


@pytest.fixture(scope="module")
def infra(boto3_client):
    ec2, ecs, elbv2 = boto3_client("ec2"), boto3_client("ecs"), boto3_client("elbv2")
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.77.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(zones[:2])
    ]
    sg_a, sg_b = (
        ec2.create_security_group(GroupName=f"{n}-{SUFFIX}", Description=n, VpcId=vpc)["GroupId"]
        for n in ("services-a", "services-b")
    )
    ecs.create_cluster(clusterName=CLUSTER)
    task_definition = ecs.register_task_definition(
        family=FAMILY,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "web", "image": "nginx", "portMappings": [{"containerPort": 3000}]}
        ],
    )["taskDefinition"]
    target_group = elbv2.create_target_group(
        Name=f"tg-{SUFFIX}", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    alb = elbv2.create_load_balancer(
        Name=f"alb-{SUFFIX}", Subnets=subnets, SecurityGroups=[sg_a], Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.create_listener(
        LoadBalancerArn=alb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )
    return {
        "ecs": ecs,
        "subnets": subnets,
        "sg_a": sg_a,
        "sg_b": sg_b,
        "td_arn": task_definition["taskDefinitionArn"],
        "td_family_revision": f"{FAMILY}:{task_definition['revision']}",
        "target_group": target_group,
    }


@pytest.fixture(scope="module")
def run_checked(run_task):
    """Run the module as a task in check and diff mode."""

    def run(module, args):
        return run_task(module, args, check=True, diff=True)

    return run


def base_args(infra, **overrides):
    args = {
        "cluster": CLUSTER,
        "name": NAME,
        "task_definition": infra["td_arn"],
        "desired_count": 1,
        "subnets": infra["subnets"],
        "security_groups": [infra["sg_a"]],
        "assign_public_ip": False,
        "load_balancers": [
            {
                "target_group_arn": infra["target_group"],
                "container_name": "web",
                "container_port": 3000,
            }
        ],
        "health_check_grace_period_seconds": 30,
        "deployment_configuration": {
            "minimum_healthy_percent": 100,
            "maximum_percent": 200,
            "circuit_breaker_enable": False,
            "circuit_breaker_rollback": False,
        },
        "tags": BASE_TAGS,
    }
    args.update(overrides)
    return args


def describe(infra, name=NAME):
    services = infra["ecs"].describe_services(cluster=CLUSTER, services=[name], include=["TAGS"])
    return services["services"][0] if services["services"] else None


def awsvpc(service):
    return service["networkConfiguration"]["awsvpcConfiguration"]


def tags(service):
    return {t["key"]: t["value"] for t in service.get("tags") or []}


@pytest.fixture(scope="module")
def created(infra, run_task):
    """The module's create run; every other test of the service starts from what it made."""
    return run_task(MODULE, base_args(infra))


@pytest.fixture
def service(infra, created):
    """The service, put back to the BASE settings with boto3."""
    assert not created.failed, created.output
    ecs = infra["ecs"]
    ecs.update_service(
        cluster=CLUSTER,
        service=NAME,
        taskDefinition=infra["td_arn"],
        desiredCount=1,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": infra["subnets"],
                "securityGroups": [infra["sg_a"]],
                "assignPublicIp": "DISABLED",
            }
        },
        loadBalancers=[
            {"targetGroupArn": infra["target_group"], "containerName": "web", "containerPort": 3000}
        ],
        healthCheckGracePeriodSeconds=30,
        deploymentConfiguration={
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        },
        platformVersion="LATEST",
        enableExecuteCommand=False,
    )
    arn = describe(infra)["serviceArn"]
    current = tags(describe(infra))
    if current:
        ecs.untag_resource(resourceArn=arn, tagKeys=list(current))
    ecs.tag_resource(resourceArn=arn, tags=[{"key": k, "value": v} for k, v in BASE_TAGS.items()])
    return describe(infra)


def test_create_applies_every_setting(infra, created):
    assert created.changed and not created.failed, created.output
    assert created.result["updated_fields"][0] == "state"
    assert "security_groups" in created.result["updated_fields"]
    service = describe(infra)
    assert service["status"] == "ACTIVE"
    assert service["launchType"] == "FARGATE"
    assert service["taskDefinition"] == infra["td_arn"]
    assert service["desiredCount"] == 1
    assert sorted(awsvpc(service)["subnets"]) == sorted(infra["subnets"])
    assert awsvpc(service)["securityGroups"] == [infra["sg_a"]]
    assert awsvpc(service)["assignPublicIp"] == "DISABLED"
    assert service["loadBalancers"] == [
        {"targetGroupArn": infra["target_group"], "containerName": "web", "containerPort": 3000}
    ]
    assert service["healthCheckGracePeriodSeconds"] == 30
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": False,
        "rollback": False,
    }
    assert tags(service) == BASE_TAGS
    returned = created.result["service"]
    assert returned["service_name"] == NAME
    assert returned["tags"] == BASE_TAGS
    assert created.result["deployment"]["status"] == "PRIMARY"
    assert created.result["deployment"]["rollout_state"] == "COMPLETED"


def test_rerun_is_unchanged_with_the_arn_and_with_family_revision(infra, service, run_task):
    by_arn = run_task(MODULE, base_args(infra))
    assert not by_arn.failed, by_arn.output
    assert not by_arn.changed, by_arn.result["updated_fields"]
    assert by_arn.result["updated_fields"] == []
    by_revision = run_task(MODULE, base_args(infra, task_definition=infra["td_family_revision"]))
    assert not by_revision.failed, by_revision.output
    assert not by_revision.changed, by_revision.result["updated_fields"]
    assert describe(infra)["deployments"][0]["id"] == service["deployments"][0]["id"]


def test_security_group_change_is_applied(infra, service, run_task):
    run = run_task(MODULE, base_args(infra, security_groups=[infra["sg_b"]]))
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"] == ["security_groups"]
    assert awsvpc(describe(infra))["securityGroups"] == [infra["sg_b"]]
    assert run.result["service"]["network_configuration"]["awsvpc_configuration"][
        "security_groups"
    ] == [infra["sg_b"]]
    # Same settings, subnets in another order: nothing to do.
    again = run_task(
        MODULE,
        base_args(infra, security_groups=[infra["sg_b"]], subnets=infra["subnets"][::-1]),
    )
    assert not again.changed, again.result["updated_fields"]


def test_assign_public_ip_change_is_applied(infra, service, run_task):
    run = run_task(MODULE, base_args(infra, assign_public_ip=True))
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"] == ["assign_public_ip"]
    network = awsvpc(describe(infra))
    assert network["assignPublicIp"] == "ENABLED"
    assert network["securityGroups"] == [infra["sg_a"]]


def test_desired_count_change_is_applied(infra, service, run_task):
    run = run_task(MODULE, base_args(infra, desired_count=3))
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"] == ["desired_count"]
    assert describe(infra)["desiredCount"] == 3


def test_scaling_alone_leaves_every_other_setting(infra, service, run_task, run_checked):
    # What scale.yml gives: settings the run leaves out (ECS Exec, platform, public IP) survive.
    infra["ecs"].update_service(
        cluster=CLUSTER,
        service=NAME,
        platformVersion="1.4.0",
        enableExecuteCommand=True,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": infra["subnets"],
                "securityGroups": [infra["sg_a"]],
                "assignPublicIp": "ENABLED",
            }
        },
    )
    scale = {"cluster": CLUSTER, "name": NAME, "desired_count": 2}
    checked = run_checked(MODULE, scale)
    assert checked.changed and not checked.failed, checked.output
    assert checked.result["updated_fields"] == ["desired_count"]
    assert checked.result["diff"] == {
        "before": {"desired_count": 1},
        "after": {"desired_count": 2},
    }
    run = run_task(MODULE, scale)
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"] == ["desired_count"]
    current = describe(infra)
    assert current["desiredCount"] == 2
    assert current["platformVersion"] == "1.4.0"
    assert current["enableExecuteCommand"] is True
    assert awsvpc(current)["assignPublicIp"] == "ENABLED"
    assert tags(current) == BASE_TAGS
    untouched = run_task(MODULE, {"cluster": CLUSTER, "name": NAME})
    assert not untouched.changed and not untouched.failed, untouched.output


def test_deployment_configuration_change_is_applied(infra, service, run_task):
    deployment = {
        "minimum_healthy_percent": 50,
        "maximum_percent": 150,
        "circuit_breaker_enable": True,
        "circuit_breaker_rollback": True,
    }
    run = run_task(MODULE, base_args(infra, deployment_configuration=deployment))
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"] == ["deployment_configuration"]
    config = describe(infra)["deploymentConfiguration"]
    assert config["minimumHealthyPercent"] == 50
    assert config["maximumPercent"] == 150
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_new_task_definition_revision_is_deployed(infra, service, run_task):
    ecs = infra["ecs"]
    newer = ecs.register_task_definition(
        family=FAMILY,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="512",
        memory="1024",
        containerDefinitions=[{"name": "web", "image": "nginx:2"}],
    )["taskDefinition"]["taskDefinitionArn"]
    try:
        run = run_task(MODULE, base_args(infra, task_definition=FAMILY))
        assert run.changed and not run.failed, run.output
        assert run.result["updated_fields"] == ["task_definition"]
        current = describe(infra)
        assert current["taskDefinition"] == newer
        assert run.result["deployment"]["task_definition"] == newer
        assert current["deployments"][0]["id"] != service["deployments"][0]["id"]
        again = run_task(MODULE, base_args(infra, task_definition=FAMILY))
        assert not again.changed, again.result["updated_fields"]
    finally:
        # Other tests name the family's first revision explicitly; keep "latest" predictable.
        ecs.deregister_task_definition(taskDefinition=newer)


def test_tags_are_converged(infra, service, run_task):
    wanted = {"Application": "asset-manager", "Owner": "data"}
    run = run_task(MODULE, base_args(infra, tags=wanted))
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"] == ["tags"]
    assert tags(describe(infra)) == wanted
    assert run.result["service"]["tags"] == wanted


def test_load_balancers_can_be_removed(infra, service, run_task):
    run = run_task(MODULE, base_args(infra, load_balancers=[]))
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"] == ["load_balancers"]
    assert describe(infra)["loadBalancers"] == []


def test_wait_returns_promptly_when_the_deployment_settles(infra, service, run_task):
    started = time.monotonic()
    run = run_task(MODULE, base_args(infra, desired_count=2, wait=True, wait_delay=30))
    elapsed = time.monotonic() - started
    assert run.changed and not run.failed, run.output
    # One poll interval would take 30 s: the settled service was never slept on.
    assert elapsed < 20, elapsed
    assert run.result["deployment"]["rollout_state"] == "COMPLETED"
    assert run.result["service"]["running_count"] == 2


def test_check_mode_predicts_the_change_and_writes_nothing(infra, service, run_checked):
    run = run_checked(MODULE, base_args(infra, security_groups=[infra["sg_b"]], desired_count=4))
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"] == ["desired_count", "security_groups"]
    assert run.result["diff"]["before"]["security_groups"] == [infra["sg_a"]]
    assert run.result["diff"]["after"]["security_groups"] == [infra["sg_b"]]
    assert run.result["diff"]["before"]["desired_count"] == 1
    assert run.result["diff"]["after"]["desired_count"] == 4
    current = describe(infra)
    assert awsvpc(current)["securityGroups"] == [infra["sg_a"]]
    assert current["desiredCount"] == 1
    assert current["deployments"][0]["id"] == service["deployments"][0]["id"]


def test_check_mode_create_writes_nothing(infra, run_checked):
    name = f"check-{SUFFIX}"
    run = run_checked(MODULE, base_args(infra, name=name))
    assert run.changed and not run.failed, run.output
    assert run.result["updated_fields"][0] == "state"
    assert run.result["diff"]["before"] == {"state": "absent"}
    assert run.result["diff"]["after"]["security_groups"] == [infra["sg_a"]]
    assert describe(infra, name) is None


def test_create_without_subnets_fails_naming_what_is_missing(infra, run_task):
    name = f"nosubnets-{SUFFIX}"
    args = base_args(infra, name=name)
    del args["subnets"]
    run = run_task(MODULE, args)
    assert run.failed
    assert "creating it needs subnets" in run.result["msg"]
    assert describe(infra, name) is None


def test_absent_deletes_once(infra, run_task, run_checked):
    name = f"doomed-{SUFFIX}"
    infra["ecs"].create_service(
        cluster=CLUSTER,
        serviceName=name,
        taskDefinition=infra["td_arn"],
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": infra["subnets"], "securityGroups": [infra["sg_a"]]}
        },
    )
    absent = {"cluster": CLUSTER, "name": name, "state": "absent", "wait": True}

    checked = run_checked(MODULE, absent)
    assert checked.changed and not checked.failed, checked.output
    assert describe(infra, name)["status"] == "ACTIVE"

    deleted = run_task(MODULE, absent)
    assert deleted.changed and not deleted.failed, deleted.output
    assert deleted.result["updated_fields"] == ["state"]
    gone = describe(infra, name)
    assert gone is None or gone["status"] == "INACTIVE"

    again = run_task(MODULE, absent)
    assert not again.changed and not again.failed, again.output
