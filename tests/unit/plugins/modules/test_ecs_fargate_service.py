"""Unit tests of ecs_fargate_service: the comparison, the requests it builds, the waits, and
the module's real main() against botocore's Stubber (through the shared run_module helper).

The waits' failure paths (a rolled-back deployment, a timeout) cannot happen on the emulator,
which settles every deployment at once, so they run here against botocore's Stubber.
"""

from __future__ import annotations

import copy
import datetime
from unittest import mock

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import (
    AWSRetry,
    RetryingBotoClientWrapper,
)
from botocore.stub import Stubber

from ansible_collections.leverslabs.asset_manager.plugins.modules import ecs_fargate_service as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
)

REGION = "us-west-1"
ACCOUNT = "123456789012"
CLUSTER = "asset-manager"
NAME = "asset-manager-web"
TD_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/asset-manager-web:3"
TD_ARN_4 = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/asset-manager-web:4"
TG_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web/0123456789abcdef"
TG2_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web2/0123456789abcdef"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{NAME}"
T0 = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def described(**overrides):
    """A service as DescribeServices returns it, matching PARAMS below."""
    service = {
        "serviceArn": SERVICE_ARN,
        "serviceName": NAME,
        "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}",
        "status": "ACTIVE",
        "taskDefinition": TD_ARN,
        "desiredCount": 2,
        "runningCount": 2,
        "pendingCount": 0,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-a", "subnet-b"],
                "securityGroups": ["sg-1", "sg-2"],
                "assignPublicIp": "DISABLED",
            }
        },
        "loadBalancers": [
            {"targetGroupArn": TG_ARN, "containerName": "web", "containerPort": 3000},
            {"targetGroupArn": TG2_ARN, "containerName": "web", "containerPort": 3001},
        ],
        "healthCheckGracePeriodSeconds": 60,
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
            "alarms": {"alarmNames": [], "enable": False, "rollback": False},
        },
        "propagateTags": "SERVICE",
        "enableExecuteCommand": False,
        "deployments": [deployment("ecs-svc/1", "COMPLETED", running=2)],
        "events": [],
    }
    service.update(overrides)
    return service


def deployment(deployment_id, rollout, status="PRIMARY", running=2, desired=2, reason=None):
    return {
        "id": deployment_id,
        "status": status,
        "taskDefinition": TD_ARN,
        "desiredCount": desired,
        "pendingCount": desired - running,
        "runningCount": running,
        "failedTasks": 0,
        "rolloutState": rollout,
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} {rollout.lower()}.",
        "createdAt": T0,
        "updatedAt": T0,
    }


PARAMS = {
    "task_definition": "asset-manager-web:3",
    "desired_count": 2,
    # Deliberately in another order than AWS describes them.
    "subnets": ["subnet-b", "subnet-a"],
    "security_groups": ["sg-2", "sg-1"],
    "assign_public_ip": False,
    "load_balancers": [
        {"target_group_arn": TG2_ARN, "container_name": "web", "container_port": 3001},
        {"target_group_arn": TG_ARN, "container_name": "web", "container_port": 3000},
    ],
    "health_check_grace_period_seconds": 60,
    "deployment_configuration": {
        "minimum_healthy_percent": 100,
        "maximum_percent": 200,
        "circuit_breaker_enable": True,
        "circuit_breaker_rollback": True,
    },
    "platform_version": "LATEST",
    "propagate_tags": "SERVICE",
    "enable_execute_command": False,
}


def desired(td_arn=TD_ARN, **overrides):
    params = copy.deepcopy(PARAMS)
    params.update(overrides)
    return m.desired_settings(params, td_arn)


@pytest.fixture
def ecs():
    """A raw ECS client and its Stubber: run_module wraps it like module.client() does."""
    client = boto3.client(
        "ecs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.fixture
def stubbed(ecs):
    """The ECS client wrapped like module.client() wraps it, for calling the waits directly."""
    client, stubber = ecs
    return RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff()), stubber


class FakeClock:
    """time.monotonic and time.sleep that only move when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


# ---- comparison ----------------------------------------------------------------------------


def test_identical_settings_need_no_update():
    result = m.compare_service(desired(), described())
    assert result["updated_fields"] == []
    assert result["update"] == {}
    assert result["before"] == result["after"]


@pytest.mark.parametrize("reference", ["asset-manager-web:3", TD_ARN, "asset-manager-web"])
def test_task_definition_in_any_form_resolves_to_the_same_arn(stubbed, reference):
    client, stubber = stubbed
    stubber.add_response(
        "describe_task_definition",
        {"taskDefinition": {"taskDefinitionArn": TD_ARN, "family": "asset-manager-web"}},
        {"taskDefinition": reference},
    )
    arn = m.describe_task_definition_arn(client, reference)
    stubber.assert_no_pending_responses()
    result = m.compare_service(desired(td_arn=arn, task_definition=reference), described())
    assert result["updated_fields"] == []


def test_family_revision_string_is_never_compared_as_is():
    # The ARN is what AWS describes; a comparison against the raw option would always differ.
    assert m.desired_settings(PARAMS, TD_ARN)["task_definition"] == TD_ARN


def test_order_of_subnets_groups_and_load_balancers_does_not_matter():
    service = described()
    service["networkConfiguration"]["awsvpcConfiguration"]["subnets"].reverse()
    service["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"].reverse()
    service["loadBalancers"].reverse()
    assert m.compare_service(desired(), service)["updated_fields"] == []


LB_ONLY_FIRST = [{"target_group_arn": TG_ARN, "container_name": "web", "container_port": 3000}]


@pytest.mark.parametrize(
    ("overrides", "field", "request_key", "request_value"),
    [
        ({"desired_count": 3}, "desired_count", "desiredCount", 3),
        ({"health_check_grace_period_seconds": 120}, "health_check_grace_period_seconds",
         "healthCheckGracePeriodSeconds", 120),
        ({"platform_version": "1.4.0"}, "platform_version", "platformVersion", "1.4.0"),
        ({"propagate_tags": "TASK_DEFINITION"}, "propagate_tags", "propagateTags",
         "TASK_DEFINITION"),
        ({"enable_execute_command": True}, "enable_execute_command", "enableExecuteCommand",
         True),
        ({"load_balancers": LB_ONLY_FIRST}, "load_balancers", "loadBalancers",
         [{"targetGroupArn": TG_ARN, "containerName": "web", "containerPort": 3000}]),
        ({"load_balancers": []}, "load_balancers", "loadBalancers", []),
        ({"subnets": ["subnet-a", "subnet-c"]}, "subnets", "networkConfiguration",
         {"awsvpcConfiguration": {"subnets": ["subnet-a", "subnet-c"],
                                  "securityGroups": ["sg-1", "sg-2"],
                                  "assignPublicIp": "DISABLED"}}),
    ],
)  # fmt: skip
def test_each_setting_change_is_detected_and_sent_alone(
    overrides, field, request_key, request_value
):
    result = m.compare_service(desired(**overrides), described())
    assert result["updated_fields"] == [field]
    assert result["update"] == {request_key: request_value}


def test_task_definition_change_is_detected():
    result = m.compare_service(desired(td_arn=TD_ARN_4), described())
    assert result["updated_fields"] == ["task_definition"]
    assert result["update"] == {"taskDefinition": TD_ARN_4}
    assert result["before"]["task_definition"] == TD_ARN
    assert result["after"]["task_definition"] == TD_ARN_4


def test_security_group_change_keeps_subnets_and_public_ip():
    result = m.compare_service(desired(security_groups=["sg-3"]), described())
    assert result["updated_fields"] == ["security_groups"]
    assert result["update"] == {
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-a", "subnet-b"],
                "securityGroups": ["sg-3"],
                "assignPublicIp": "DISABLED",
            }
        }
    }
    assert result["before"]["security_groups"] == ["sg-1", "sg-2"]
    assert result["after"]["security_groups"] == ["sg-3"]


def test_one_security_group_fewer_is_a_change():
    assert m.compare_service(desired(security_groups=["sg-1"]), described())["updated_fields"] == [
        "security_groups"
    ]


def test_assign_public_ip_change_keeps_the_current_network_when_not_given():
    result = m.compare_service(
        desired(assign_public_ip=True, subnets=None, security_groups=None), described()
    )
    assert result["updated_fields"] == ["assign_public_ip"]
    assert result["update"]["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": ["subnet-a", "subnet-b"],
            "securityGroups": ["sg-1", "sg-2"],
            "assignPublicIp": "ENABLED",
        }
    }


def test_public_ip_enabled_on_aws_is_a_change_when_false_is_wanted():
    service = described()
    service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] = "ENABLED"
    result = m.compare_service(desired(), service)
    assert result["updated_fields"] == ["assign_public_ip"]
    assert result["update"]["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == (
        "DISABLED"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"minimum_healthy_percent": 50},
         {"minimumHealthyPercent": 50, "maximumPercent": 200,
          "deploymentCircuitBreaker": {"enable": True, "rollback": True}}),
        ({"maximum_percent": 150},
         {"minimumHealthyPercent": 100, "maximumPercent": 150,
          "deploymentCircuitBreaker": {"enable": True, "rollback": True}}),
        ({"circuit_breaker_enable": False},
         {"minimumHealthyPercent": 100, "maximumPercent": 200,
          "deploymentCircuitBreaker": {"enable": False, "rollback": True}}),
        ({"circuit_breaker_rollback": False},
         {"minimumHealthyPercent": 100, "maximumPercent": 200,
          "deploymentCircuitBreaker": {"enable": True, "rollback": False}}),
    ],
)  # fmt: skip
def test_deployment_configuration_changes_only_the_keys_given(given, expected):
    params = {key: None for key in m.DEFAULT_DEPLOYMENT_CONFIGURATION}
    params.update(given)
    result = m.compare_service(desired(deployment_configuration=params), described())
    assert result["updated_fields"] == ["deployment_configuration"]
    # Alarms are not managed by the module, and survive the update.
    assert result["update"]["deploymentConfiguration"] == {
        **expected,
        "alarms": {"alarmNames": [], "enable": False, "rollback": False},
    }


def test_deployment_configuration_keys_not_given_are_not_compared():
    service = described()
    service["deploymentConfiguration"]["maximumPercent"] = 300
    params = {key: None for key in m.DEFAULT_DEPLOYMENT_CONFIGURATION}
    params["minimum_healthy_percent"] = 100
    result = m.compare_service(desired(deployment_configuration=params), service)
    assert (result["updated_fields"], result["update"]) == ([], {})
    assert m.compare_service(desired(), service)["updated_fields"] == ["deployment_configuration"]


def test_options_left_out_are_not_managed():
    unmanaged = {key: None for key in PARAMS}
    service = described(
        desiredCount=9,
        loadBalancers=[],
        healthCheckGracePeriodSeconds=5,
        propagateTags="NONE",
        taskDefinition=TD_ARN_4,
        platformVersion="1.4.0",
        enableExecuteCommand=True,
    )
    service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] = "ENABLED"
    result = m.compare_service(desired(td_arn=None, **unmanaged), service)
    assert result["updated_fields"] == []
    assert result["before"] == result["after"]
    assert "desired_count" not in result["before"]


def test_settings_aws_omits_compare_as_their_defaults():
    service = described()
    for key in ("healthCheckGracePeriodSeconds", "enableExecuteCommand", "platformVersion"):
        del service[key]
    result = m.compare_service(desired(health_check_grace_period_seconds=0), service)
    assert result["updated_fields"] == []


def test_several_changes_are_sent_in_one_update():
    result = m.compare_service(
        desired(desired_count=1, security_groups=["sg-9"], assign_public_ip=True), described()
    )
    assert result["updated_fields"] == ["desired_count", "security_groups", "assign_public_ip"]
    assert set(result["update"]) == {"desiredCount", "networkConfiguration"}


def test_force_new_deployment_always_updates():
    result = m.compare_service(desired(), described(), force_new_deployment=True)
    assert result["updated_fields"] == ["force_new_deployment"]
    assert result["update"] == {"forceNewDeployment": True}


def test_create_request_is_fargate_with_aws_default_deployment_settings():
    params = copy.deepcopy(PARAMS)
    params["deployment_configuration"] = {
        "minimum_healthy_percent": 0,
        "maximum_percent": None,
        "circuit_breaker_enable": None,
        "circuit_breaker_rollback": None,
    }
    params["load_balancers"] = LB_ONLY_FIRST
    request = m.create_request(CLUSTER, NAME, m.desired_settings(params, TD_ARN), {"a": "b"})
    assert request == {
        "cluster": CLUSTER,
        "serviceName": NAME,
        "taskDefinition": TD_ARN,
        "desiredCount": 2,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-a", "subnet-b"],
                "securityGroups": ["sg-1", "sg-2"],
                "assignPublicIp": "DISABLED",
            }
        },
        "deploymentConfiguration": {
            "minimumHealthyPercent": 0,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        },
        "enableExecuteCommand": False,
        "loadBalancers": [
            {"targetGroupArn": TG_ARN, "containerName": "web", "containerPort": 3000}
        ],
        "healthCheckGracePeriodSeconds": 60,
        "propagateTags": "SERVICE",
        "tags": [{"key": "a", "value": "b"}],
    }


def test_service_result_is_snake_case_with_tags_as_a_dict():
    result = m.service_result(described(tags=[{"key": "Team", "value": "data"}]))
    assert result["tags"] == {"Team": "data"}
    assert result["network_configuration"]["awsvpc_configuration"]["security_groups"] == [
        "sg-1",
        "sg-2",
    ]
    assert m.deployment_result(described())["rollout_state"] == "COMPLETED"


# ---- waiting -------------------------------------------------------------------------------


def in_progress(deployment_id="ecs-svc/2", running=0, events=None):
    return described(
        runningCount=running,
        deployments=[
            deployment(deployment_id, "IN_PROGRESS", running=running),
            deployment("ecs-svc/1", "COMPLETED", status="ACTIVE"),
        ],
        events=events or [],
    )


def completed(deployment_id="ecs-svc/2"):
    return described(deployments=[deployment(deployment_id, "COMPLETED")])


def events(*messages):
    return [
        {"id": str(i), "createdAt": T0 + datetime.timedelta(minutes=i), "message": message}
        for i, message in enumerate(messages)
    ]


DESCRIBE = {"cluster": CLUSTER, "services": [NAME]}


def test_wait_returns_at_once_without_polling_when_already_steady(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    service = completed()
    result = m.wait_for_deployment(
        client, CLUSTER, NAME, service, 600, 10, sleep=clock.sleep, clock=clock.clock
    )
    assert result is service
    assert clock.sleeps == []
    stubber.assert_no_pending_responses()


def test_wait_ignores_inactive_deployments(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    service = completed()
    service["deployments"].append(deployment("ecs-svc/0", "FAILED", status="INACTIVE"))
    m.wait_for_deployment(
        client, CLUSTER, NAME, service, 600, 10, sleep=clock.sleep, clock=clock.clock
    )
    assert clock.sleeps == []


def test_wait_polls_until_the_rollout_completes(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    stubber.add_response("describe_services", {"services": [in_progress(running=1)]}, DESCRIBE)
    # Rolled out, but the old deployment is still draining: not done yet.
    old_still_active = completed()
    old_still_active["deployments"].append(deployment("ecs-svc/1", "COMPLETED", status="ACTIVE"))
    stubber.add_response("describe_services", {"services": [old_still_active]}, DESCRIBE)
    stubber.add_response("describe_services", {"services": [completed()]}, DESCRIBE)
    result = m.wait_for_deployment(
        client, CLUSTER, NAME, in_progress(), 600, 10, sleep=clock.sleep, clock=clock.clock
    )
    assert m.primary_deployment(result)["rolloutState"] == "COMPLETED"
    assert clock.sleeps == [10, 10, 10]
    stubber.assert_no_pending_responses()


def test_wait_needs_running_count_to_reach_desired_count(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    short = described(runningCount=1, deployments=[deployment("ecs-svc/2", "COMPLETED")])
    stubber.add_response("describe_services", {"services": [short]}, DESCRIBE)
    stubber.add_response("describe_services", {"services": [completed()]}, DESCRIBE)
    m.wait_for_deployment(
        client, CLUSTER, NAME, in_progress(), 600, 5, sleep=clock.sleep, clock=clock.clock
    )
    assert clock.sleeps == [5, 5]
    stubber.assert_no_pending_responses()


def test_wait_fails_with_the_events_when_the_circuit_breaker_rolls_back(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    history = events(
        "(service asset-manager-web) has started 1 tasks: (task abc).",
        "(service asset-manager-web) task abc failed container health checks.",
        "(service asset-manager-web) deployment ecs-svc/2 deployment failed: tasks failed to "
        "start.",
        "(service asset-manager-web) rolling back to deployment ecs-svc/1.",
        "(service asset-manager-web) has started 1 tasks: (task def).",
        "(service asset-manager-web) this oldest event is beyond the last five.",
    )
    failed = described(
        runningCount=1,
        deployments=[
            deployment("ecs-svc/1", "IN_PROGRESS", running=1),
            deployment(
                "ecs-svc/2",
                "FAILED",
                status="ACTIVE",
                running=0,
                reason="ECS deployment circuit breaker: tasks failed to start.",
            ),
        ],
        events=history,
    )
    stubber.add_response("describe_services", {"services": [in_progress(running=0)]}, DESCRIBE)
    stubber.add_response("describe_services", {"services": [failed]}, DESCRIBE)
    with pytest.raises(m.ServiceWaitError) as error:
        m.wait_for_deployment(
            client, CLUSTER, NAME, in_progress(), 600, 10, sleep=clock.sleep, clock=clock.clock
        )
    message = str(error.value)
    assert f"ECS service {NAME} in cluster {CLUSTER}" in message
    assert "deployment ecs-svc/2 failed: ECS deployment circuit breaker" in message
    for event in history[:5]:
        assert event["message"] in message
    assert history[5]["message"] not in message
    assert error.value.service is not None
    stubber.assert_no_pending_responses()


def test_wait_fails_when_the_deployment_it_follows_was_replaced(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    rolled_back = described(
        deployments=[deployment("ecs-svc/3", "COMPLETED")],
        events=events("(service asset-manager-web) rolling back to deployment ecs-svc/1."),
    )
    stubber.add_response("describe_services", {"services": [rolled_back]}, DESCRIBE)
    with pytest.raises(m.ServiceWaitError, match="ecs-svc/2 is no longer the primary") as error:
        m.wait_for_deployment(
            client, CLUSTER, NAME, in_progress(), 600, 10, sleep=clock.sleep, clock=clock.clock
        )
    assert "rolling back to deployment ecs-svc/1" in str(error.value)


def test_wait_times_out_naming_the_service(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    stuck = in_progress(events=events("(service asset-manager-web) was unable to place a task."))
    for _poll in range(3):
        stubber.add_response("describe_services", {"services": [stuck]}, DESCRIBE)
    with pytest.raises(m.ServiceWaitError) as error:
        m.wait_for_deployment(
            client, CLUSTER, NAME, stuck, 25, 10, sleep=clock.sleep, clock=clock.clock
        )
    message = str(error.value)
    assert f"ECS service {NAME} in cluster {CLUSTER}" in message
    assert "timed out after 25 seconds" in message
    assert "was unable to place a task" in message
    # It never sleeps past the deadline.
    assert clock.sleeps == [10, 10, 5]
    stubber.assert_no_pending_responses()


def test_wait_times_out_on_the_real_clock_with_a_tiny_timeout(stubbed):
    client, stubber = stubbed
    for _poll in range(5):
        stubber.add_response("describe_services", {"services": [in_progress()]}, DESCRIBE)
    with pytest.raises(m.ServiceWaitError, match=f"ECS service {NAME} .* timed out after 0.2"):
        m.wait_for_deployment(client, CLUSTER, NAME, in_progress(), 0.2, 1)


def test_wait_fails_when_the_service_disappears(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    stubber.add_response("describe_services", {"services": [], "failures": []}, DESCRIBE)
    with pytest.raises(m.ServiceWaitError, match="disappeared"):
        m.wait_for_deployment(
            client, CLUSTER, NAME, in_progress(), 600, 10, sleep=clock.sleep, clock=clock.clock
        )


def test_wait_for_inactive_polls_a_draining_service(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    stubber.add_response(
        "describe_services", {"services": [described(status="DRAINING")]}, DESCRIBE
    )
    stubber.add_response(
        "describe_services", {"services": [described(status="INACTIVE")]}, DESCRIBE
    )
    result = m.wait_for_inactive(
        client, CLUSTER, NAME, described(status="DRAINING"), 600, 10,
        sleep=clock.sleep, clock=clock.clock,
    )  # fmt: skip
    assert result["status"] == "INACTIVE"
    assert clock.sleeps == [10, 10]
    stubber.assert_no_pending_responses()


def test_wait_for_inactive_does_not_poll_an_inactive_service(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    m.wait_for_inactive(
        client, CLUSTER, NAME, described(status="INACTIVE"), 600, 10,
        sleep=clock.sleep, clock=clock.clock,
    )  # fmt: skip
    assert clock.sleeps == []


def test_wait_for_inactive_times_out(stubbed):
    client, stubber = stubbed
    clock = FakeClock()
    for _poll in range(2):
        stubber.add_response(
            "describe_services", {"services": [described(status="DRAINING")]}, DESCRIBE
        )
    with pytest.raises(m.ServiceWaitError, match="INACTIVE .*it is DRAINING"):
        m.wait_for_inactive(
            client, CLUSTER, NAME, described(status="DRAINING"), 15, 10,
            sleep=clock.sleep, clock=clock.clock,
        )  # fmt: skip


# ---- the module's real main(), through run_module -------------------------------------------


def run(client, check_mode=False, diff=False, **args):
    """main() with cluster, name and ``args``, talking to the stubbed ``client``."""
    args = {"cluster": CLUSTER, "name": NAME, **args}
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


def given(**overrides):
    """PARAMS as the role passes them, with some options changed."""
    return {**copy.deepcopy(PARAMS), **overrides}


def expect_describe(stubber, service):
    """main()'s first call: the service, with its tags, or none."""
    stubber.add_response(
        "describe_services",
        {"services": [service] if service else [], "failures": []},
        {**DESCRIBE, "include": ["TAGS"]},
    )


def expect_task_definition(stubber, reference="asset-manager-web:3", arn=TD_ARN):
    stubber.add_response(
        "describe_task_definition",
        {"taskDefinition": {"taskDefinitionArn": arn}},
        {"taskDefinition": reference},
    )


def drifted(**overrides):
    """A service whose every setting differs from what the argument_spec could default to."""
    service = described(
        platformVersion="1.4.0",
        enableExecuteCommand=True,
        propagateTags="TASK_DEFINITION",
        healthCheckGracePeriodSeconds=5,
        tags=[{"key": "Team", "value": "data"}],
    )
    service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] = "ENABLED"
    service.update(overrides)
    return service


@pytest.fixture
def no_real_sleep(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(m.time, "sleep", clock.sleep)
    monkeypatch.setattr(m.time, "monotonic", clock.clock)
    return clock


@pytest.mark.parametrize("check_mode", [False, True])
def test_scaling_alone_sends_only_the_count(ecs, check_mode):
    # scale.yml gives cluster, name and desired_count: ECS Exec, the platform version and the
    # public IP of the service must survive, and the diff must name the count alone.
    client, stubber = ecs
    expect_describe(stubber, drifted())
    if not check_mode:
        # Stubber checks the parameters exactly: any other key sent fails the test.
        stubber.add_response(
            "update_service",
            {"service": drifted(desiredCount=3)},
            {"cluster": CLUSTER, "service": NAME, "desiredCount": 3},
        )
        expect_describe(stubber, drifted(desiredCount=3))
    result = run(client, check_mode=check_mode, diff=True, desired_count=3)
    stubber.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["updated_fields"] == ["desired_count"]
    assert result["diff"] == {"before": {"desired_count": 2}, "after": {"desired_count": 3}}


def test_nothing_given_manages_nothing(ecs):
    client, stubber = ecs
    expect_describe(stubber, drifted())
    # No DescribeTaskDefinition, no UpdateService, no tag call: none is queued.
    result = run(client, diff=True)
    stubber.assert_no_pending_responses()
    assert result["changed"] is False
    assert result["updated_fields"] == []
    assert result["diff"] == {"before": {}, "after": {}}
    assert result["service"]["enable_execute_command"] is True
    assert result["service"]["platform_version"] == "1.4.0"


def test_network_change_keeps_the_public_ip_not_given(ecs):
    client, stubber = ecs
    expect_describe(stubber, drifted())
    network = {
        "awsvpcConfiguration": {
            "subnets": ["subnet-c"],
            "securityGroups": ["sg-1", "sg-2"],
            "assignPublicIp": "ENABLED",
        }
    }
    stubber.add_response(
        "update_service",
        {"service": drifted()},
        {"cluster": CLUSTER, "service": NAME, "networkConfiguration": network},
    )
    expect_describe(stubber, drifted())
    result = run(client, subnets=["subnet-c"])
    stubber.assert_no_pending_responses()
    assert result["updated_fields"] == ["subnets"]


def test_every_option_the_role_passes_converges_a_drifted_service(ecs):
    client, stubber = ecs
    expect_describe(stubber, drifted())
    expect_task_definition(stubber)
    network = {
        "awsvpcConfiguration": {
            "subnets": ["subnet-a", "subnet-b"],
            "securityGroups": ["sg-1", "sg-2"],
            "assignPublicIp": "DISABLED",
        }
    }
    stubber.add_response(
        "update_service",
        {"service": described()},
        {
            "cluster": CLUSTER,
            "service": NAME,
            "networkConfiguration": network,
            "healthCheckGracePeriodSeconds": 60,
            "platformVersion": "LATEST",
            "propagateTags": "SERVICE",
            "enableExecuteCommand": False,
        },
    )
    expect_describe(stubber, described())
    result = run(client, **given())
    stubber.assert_no_pending_responses()
    assert result["updated_fields"] == [
        "assign_public_ip",
        "health_check_grace_period_seconds",
        "platform_version",
        "propagate_tags",
        "enable_execute_command",
    ]


def test_create_with_every_option_sends_each(ecs):
    # What the ecs_services role creates: the same request as before options lost their defaults.
    client, stubber = ecs
    expect_describe(stubber, None)
    expect_task_definition(stubber)
    stubber.add_response(
        "create_service",
        {"service": described()},
        {
            "cluster": CLUSTER,
            "serviceName": NAME,
            "taskDefinition": TD_ARN,
            "desiredCount": 2,
            "launchType": "FARGATE",
            "platformVersion": "LATEST",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-a", "subnet-b"],
                    "securityGroups": ["sg-1", "sg-2"],
                    "assignPublicIp": "DISABLED",
                }
            },
            "deploymentConfiguration": {
                "minimumHealthyPercent": 100,
                "maximumPercent": 200,
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            },
            "enableExecuteCommand": False,
            "loadBalancers": [
                {"targetGroupArn": TG_ARN, "containerName": "web", "containerPort": 3000},
                {"targetGroupArn": TG2_ARN, "containerName": "web", "containerPort": 3001},
            ],
            "healthCheckGracePeriodSeconds": 60,
            "propagateTags": "SERVICE",
            "tags": [{"key": "a", "value": "b"}],
        },
    )
    expect_describe(stubber, described(tags=[{"key": "a", "value": "b"}]))
    result = run(client, **given(tags={"a": "b"}))
    stubber.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["updated_fields"] == ["state", *m.SETTINGS, "tags"]
    assert result["service"]["tags"] == {"a": "b"}


def test_create_leaves_what_is_not_given_to_aws(ecs):
    client, stubber = ecs
    expect_describe(stubber, None)
    expect_task_definition(stubber)
    stubber.add_response(
        "create_service",
        {"service": described()},
        {
            "cluster": CLUSTER,
            "serviceName": NAME,
            "taskDefinition": TD_ARN,
            "desiredCount": 1,
            "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"]}},
            "deploymentConfiguration": {
                "minimumHealthyPercent": 100,
                "maximumPercent": 200,
                "deploymentCircuitBreaker": {"enable": False, "rollback": False},
            },
        },
    )
    expect_describe(stubber, described())
    result = run(
        client,
        diff=True,
        task_definition="asset-manager-web:3",
        desired_count=1,
        subnets=["subnet-a"],
    )
    stubber.assert_no_pending_responses()
    fields = ["state", "task_definition", "desired_count", "subnets", "deployment_configuration"]
    assert result["updated_fields"] == fields
    assert result["diff"]["after"] == {
        "state": "present",
        "task_definition": TD_ARN,
        "desired_count": 1,
        "subnets": ["subnet-a"],
        "deployment_configuration": m.DEFAULT_DEPLOYMENT_CONFIGURATION,
    }


def test_create_without_what_it_needs_fails_naming_it(ecs):
    client, stubber = ecs
    expect_describe(stubber, None)
    with pytest.raises(Failed, match="creating it needs task_definition, desired_count, subnets"):
        run(client)


def test_module_fails_a_rolled_back_update_with_the_events(ecs, no_real_sleep):
    client, stubber = ecs
    expect_describe(stubber, described())
    expect_task_definition(stubber)
    network = {
        "awsvpcConfiguration": {
            "subnets": ["subnet-a", "subnet-b"],
            "securityGroups": ["sg-9"],
            "assignPublicIp": "DISABLED",
        }
    }
    stubber.add_response(
        "update_service",
        {"service": in_progress()},
        {"cluster": CLUSTER, "service": NAME, "networkConfiguration": network},
    )
    failed = described(
        deployments=[
            deployment("ecs-svc/1", "IN_PROGRESS"),
            deployment("ecs-svc/2", "FAILED", status="ACTIVE", reason="tasks failed to start."),
        ],
        events=events("(service asset-manager-web) rolling back to deployment ecs-svc/1."),
    )
    stubber.add_response("describe_services", {"services": [failed]}, DESCRIBE)
    with pytest.raises(Failed) as outcome:
        run(client, **given(security_groups=["sg-9"], wait=True))
    result = outcome.value.result
    assert f"ECS service {NAME} in cluster {CLUSTER}" in result["msg"]
    assert "ecs-svc/2 failed: tasks failed to start." in result["msg"]
    assert "rolling back to deployment ecs-svc/1" in result["msg"]
    assert result["changed"] is True
    assert result["updated_fields"] == ["security_groups"]
    assert no_real_sleep.sleeps == [10]
    stubber.assert_no_pending_responses()


def test_module_does_not_poll_a_steady_service_that_needs_no_change(ecs, no_real_sleep):
    client, stubber = ecs
    expect_describe(stubber, described())
    expect_task_definition(stubber)
    result = run(client, **given(wait=True))
    assert result["changed"] is False
    assert result["deployment"]["rollout_state"] == "COMPLETED"
    assert no_real_sleep.sleeps == []
    stubber.assert_no_pending_responses()


def test_module_waits_for_a_rollout_already_in_progress(ecs, no_real_sleep):
    client, stubber = ecs
    expect_describe(stubber, in_progress(running=2))
    expect_task_definition(stubber)
    stubber.add_response("describe_services", {"services": [completed()]}, DESCRIBE)
    expect_describe(stubber, completed())
    result = run(client, **given(wait=True))
    assert result["changed"] is False
    assert no_real_sleep.sleeps == [10]
    stubber.assert_no_pending_responses()


def test_module_check_mode_writes_nothing_and_shows_the_diff(ecs):
    client, stubber = ecs
    expect_describe(stubber, described(tags=[{"key": "c", "value": "d"}]))
    expect_task_definition(stubber)
    # Stubber raises on any call not queued: an update or a tag call would fail the test.
    result = run(client, check_mode=True, diff=True, **given(desired_count=5, tags={"a": "b"}))
    assert result["changed"] is True
    assert result["updated_fields"] == ["desired_count", "tags"]
    assert result["diff"]["before"]["desired_count"] == 2
    assert result["diff"]["after"]["desired_count"] == 5
    assert result["diff"]["before"]["tags"] == {"c": "d"}
    assert result["diff"]["after"]["tags"] == {"a": "b"}
    stubber.assert_no_pending_responses()


def test_module_check_mode_accepts_a_task_definition_not_registered_yet(ecs):
    client, stubber = ecs
    expect_describe(stubber, described())
    stubber.add_client_error(
        "describe_task_definition",
        "ClientException",
        "Unable to describe task definition.",
        expected_params={"taskDefinition": "new-family"},
    )
    with mock.patch.object(m.AssetManagerModule, "warn") as warn:
        result = run(client, check_mode=True, **given(task_definition="new-family"))
    assert result["updated_fields"] == ["task_definition"]
    assert "new-family" in warn.call_args.args[0]
    stubber.assert_no_pending_responses()


def test_module_fails_on_a_missing_task_definition_outside_check_mode(ecs):
    client, stubber = ecs
    expect_describe(stubber, described())
    stubber.add_client_error("describe_task_definition", "ClientException", "Unable to describe")
    with pytest.raises(Failed, match="nope"):
        run(client, **given(task_definition="nope"))


def test_module_absent_scales_down_deletes_and_waits(ecs, no_real_sleep):
    client, stubber = ecs
    expect_describe(stubber, described())
    stubber.add_response(
        "update_service",
        {"service": described(desiredCount=0)},
        {"cluster": CLUSTER, "service": NAME, "desiredCount": 0},
    )
    stubber.add_response(
        "delete_service",
        {"service": described(status="DRAINING")},
        {"cluster": CLUSTER, "service": NAME, "force": True},
    )
    stubber.add_response(
        "describe_services", {"services": [described(status="INACTIVE")]}, DESCRIBE
    )
    result = run(client, state="absent", wait=True)
    assert result["changed"] is True
    assert result["service"]["status"] == "INACTIVE"
    stubber.assert_no_pending_responses()


def test_module_absent_is_unchanged_for_an_inactive_service(ecs):
    client, stubber = ecs
    expect_describe(stubber, described(status="INACTIVE"))
    result = run(client, state="absent")
    assert result["changed"] is False
    stubber.assert_no_pending_responses()
