"""Unit tests of ecs_taskdef's AWS path, with botocore's Stubber and AWS-shaped responses."""

from __future__ import annotations

import copy
import datetime

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import (
    AWSRetry,
    RetryingBotoClientWrapper,
)
from botocore.stub import ANY, Stubber

from ansible_collections.leverslabs.asset_manager.plugins.modules import ecs_taskdef

FAMILY = "asset_manager-web-task"
ARN = "arn:aws:ecs:us-west-1:123456789012:task-definition/" + FAMILY
IMAGE = "123456789012.dkr.ecr.us-west-1.amazonaws.com/asset-manager:latest"
SSM = "arn:aws:ssm:us-west-1:123456789012:parameter/asset-manager"


class Exited(Exception):
    pass


class Failed(Exception):
    pass


class FakeModule:
    """What ecs_taskdef uses of AnsibleAWSModule; exit and fail raise so a test can inspect them."""

    def __init__(self, check_mode=False, diff=False, **params):
        self.params = {
            "family": FAMILY,
            "state": "present",
            "definition": None,
            "placeholders": {},
            "image": None,
            "image_containers": None,
            "env_file": None,
            "env_containers": None,
            "ssm_parameter_arn_prefix": None,
            "execution_role_arn": None,
            "task_role_arn": None,
            "tags": None,
            "purge_tags": True,
            **params,
        }
        self.check_mode = check_mode
        self._diff = diff
        self.region = "us-west-1"

    def exit_json(self, **result):
        raise Exited(result)

    def fail_json(self, **result):
        raise Failed(result)

    def fail_json_aws(self, exception, msg=None, **kwargs):
        raise Failed({"msg": msg, "exception": exception})


def app_definition():
    """web-task-definition.json, placeholders and all."""
    return {
        "family": "ignored-family-from-the-json",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "executionRoleArn": "arn:aws:iam::$account:role/ecsTaskExecutionRole",
        "containerDefinitions": [
            {
                "name": "asset-manager-web",
                "image": "placeholder",
                "portMappings": [{"containerPort": 3000}],
                "environment": [{"name": "PORT", "value": "3000"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/$app/web", "awslogs-region": "us-west-1"},
                },
                "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:3000/server_info"]},
            }
        ],
    }


def params(**overrides):
    result = {
        "definition": app_definition(),
        "placeholders": {"account": "123456789012", "app": "asset_manager"},
        "image": IMAGE,
        "env_file": {
            "environment": [{"name": "DAGSTER_HOME", "value": "/opt/dagster/dagster_home"}],
            "secrets": [{"name": "DAGSTER_PG_PASSWORD", "valueFrom": "prod/postgres_password"}],
        },
        "ssm_parameter_arn_prefix": SSM,
    }
    result.update(overrides)
    return result


def aws_description(revision=3, cpu="1024"):
    """A DescribeTaskDefinition response as AWS returns it for what params() renders.

    AWS adds defaults (cpu 0, essential, hostPort, protocol, health check timings, empty lists,
    secretOptions, systemControls), read-only fields, and orders variables its own way.
    """
    return {
        "taskDefinition": {
            "taskDefinitionArn": f"{ARN}:{revision}",
            "containerDefinitions": [
                {
                    "name": "asset-manager-web",
                    "image": IMAGE,
                    "cpu": 0,
                    "portMappings": [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
                    "essential": True,
                    "environment": [
                        {"name": "PORT", "value": "3000"},
                        {"name": "DAGSTER_HOME", "value": "/opt/dagster/dagster_home"},
                    ],
                    "mountPoints": [],
                    "volumesFrom": [],
                    "secrets": [
                        {
                            "name": "DAGSTER_PG_PASSWORD",
                            "valueFrom": SSM + "/prod/postgres_password",
                        }
                    ],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": "/ecs/asset_manager/web",
                            "awslogs-region": "us-west-1",
                        },
                        "secretOptions": [],
                    },
                    "healthCheck": {
                        "command": ["CMD-SHELL", "curl -f localhost:3000/server_info"],
                        "interval": 30,
                        "timeout": 5,
                        "retries": 3,
                    },
                    "systemControls": [],
                }
            ],
            "family": FAMILY,
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "networkMode": "awsvpc",
            "revision": revision,
            "volumes": [],
            "status": "ACTIVE",
            "requiresAttributes": [
                {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
                {"name": "ecs.capability.execution-role-awslogs"},
                {"name": "ecs.capability.secrets.ssm.environment-variables"},
                {"name": "ecs.capability.container-health-check"},
                {"name": "ecs.capability.task-eni"},
            ],
            "placementConstraints": [],
            "compatibilities": ["EC2", "FARGATE"],
            "requiresCompatibilities": ["FARGATE"],
            "cpu": cpu,
            "memory": "2048",
            "registeredAt": datetime.datetime(2026, 11, 26, 19, 0, tzinfo=datetime.UTC),
            "registeredBy": "arn:aws:sts::123456789012:assumed-role/deployer/ansible",
            "enableFaultInjection": False,
        },
        "tags": [{"key": "app", "value": "asset_manager"}],
    }


@pytest.fixture
def ecs():
    client = boto3.client(
        "ecs", region_name="us-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff()), stubber
        stubber.assert_no_pending_responses()


def expect_latest(stubber, revision=3, cpu="1024"):
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": [f"{ARN}:{revision}"]},
        {"familyPrefix": FAMILY, "status": "ACTIVE", "sort": "DESC", "maxResults": 1},
    )
    stubber.add_response(
        "describe_task_definition",
        aws_description(revision, cpu),
        {"taskDefinition": f"{ARN}:{revision}", "include": ["TAGS"]},
    )


def run(module, client):
    rendered = ecs_taskdef.render(module)
    with pytest.raises(Exited) as exited:
        ecs_taskdef.ensure_present(module, client, rendered)
    return exited.value.args[0]


def test_unchanged_definition_registers_nothing(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    result = run(FakeModule(**params()), client)
    assert result["changed"] is False
    assert result["changes"] == []
    assert (result["revision"], result["arn"]) == (3, f"{ARN}:3")
    assert result["tags"] == {"app": "asset_manager"}
    # The normal form carries no read-only field and no secret value, only references.
    assert "registeredAt" not in result["task_definition"]
    assert result["task_definition"]["family"] == FAMILY


def test_cpu_change_registers_a_new_revision_keeping_tags(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    definition = app_definition()
    definition["cpu"] = "2048"
    registered = aws_description(4, cpu="2048")["taskDefinition"]
    stubber.add_response(
        "register_task_definition",
        {"taskDefinition": registered, "tags": [{"key": "app", "value": "asset_manager"}]},
        {
            "family": FAMILY,
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "2048",
            "memory": "2048",
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "containerDefinitions": ANY,
            "tags": [{"key": "app", "value": "asset_manager"}],
        },
    )
    result = run(FakeModule(diff=True, **params(definition=definition)), client)
    assert result["changed"] is True
    assert result["changes"] == ["cpu"]
    assert (result["revision"], result["arn"]) == (4, f"{ARN}:4")
    assert result["diff"]["before"]["cpu"] == "1024"
    assert result["diff"]["after"]["cpu"] == "2048"


def test_check_mode_predicts_the_revision_after_deregistered_ones(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": [f"{ARN}:5"]},
        {"familyPrefix": FAMILY, "status": "INACTIVE", "sort": "DESC", "maxResults": 1},
    )
    result = run(FakeModule(check_mode=True, **params(image="app:2")), client)
    assert result["changed"] is True
    assert result["changes"] == ["containerDefinitions[asset-manager-web].image"]
    assert (result["revision"], result["arn"]) == (6, f"{ARN}:6")


def test_tags_only_change_retags_the_revision_in_place(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    stubber.add_response("untag_resource", {}, {"resourceArn": f"{ARN}:3", "tagKeys": ["app"]})
    stubber.add_response(
        "tag_resource", {}, {"resourceArn": f"{ARN}:3", "tags": [{"key": "team", "value": "data"}]}
    )
    result = run(FakeModule(**params(tags={"team": "data"})), client)
    assert result["changed"] is True
    assert result["changes"] == ["tags"]
    assert result["revision"] == 3
    assert result["tags"] == {"team": "data"}


def test_new_family_registers_revision_one(ecs):
    client, stubber = ecs
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": []},
        {"familyPrefix": FAMILY, "status": "ACTIVE", "sort": "DESC", "maxResults": 1},
    )
    stubber.add_response(
        "register_task_definition",
        {"taskDefinition": aws_description(1)["taskDefinition"]},
        ANY_REGISTER,
    )
    result = run(FakeModule(**params()), client)
    assert result["changed"] is True and result["revision"] == 1


ANY_REGISTER = {
    key: ANY
    for key in (
        "family",
        "networkMode",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "executionRoleArn",
        "containerDefinitions",
    )
}


def test_unknown_field_fails_before_any_aws_call(ecs):
    client, _stubber = ecs
    definition = app_definition()
    definition["containerDefinitions"][0]["essentail"] = True
    module = FakeModule(**params(definition=definition))
    with pytest.raises(Failed) as failed:
        ecs_taskdef.ensure_present(module, client, ecs_taskdef.render(module))
    assert "essentail" in failed.value.args[0]["msg"]


def test_missing_container_definitions_fails_before_a_client_exists():
    definition = app_definition()
    del definition["containerDefinitions"]
    with pytest.raises(Failed) as failed:
        ecs_taskdef.render(FakeModule(**params(definition=definition)))
    assert "containerDefinitions" in failed.value.args[0]["msg"]


def test_source_definition_is_not_modified(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    module = FakeModule(**params())
    pristine = copy.deepcopy(module.params)
    run(module, client)
    assert module.params == pristine


def test_absent_deregisters_every_active_revision(ecs):
    client, stubber = ecs
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": [f"{ARN}:2", f"{ARN}:3"]},
        {"familyPrefix": FAMILY, "status": "ACTIVE", "sort": "DESC"},
    )
    for revision in (3, 2):
        stubber.add_response(
            "deregister_task_definition",
            {"taskDefinition": aws_description(revision)["taskDefinition"]},
            {"taskDefinition": f"{ARN}:{revision}"},
        )
    with pytest.raises(Exited) as exited:
        ecs_taskdef.ensure_absent(FakeModule(state="absent"), client)
    result = exited.value.args[0]
    assert result["changed"] is True
    assert sorted(result["deregistered"]) == [f"{ARN}:2", f"{ARN}:3"]
