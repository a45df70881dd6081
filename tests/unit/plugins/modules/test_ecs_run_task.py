"""Unit tests of ecs_run_task: the pure parts, and the real main() with a stubbed ECS client."""

from __future__ import annotations

from unittest import mock

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.modules import ecs_run_task as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
    stubbed_client,
)

CLUSTER = "asset-manager"
REVISION = "arn:aws:ecs:us-west-1:123456789012:task-definition/asset-manager-run:7"
TASK = "arn:aws:ecs:us-west-1:123456789012:task/asset-manager/0f6e0b5c0a8f4b8e9f1d2c3b4a596877"
CONTAINER = "asset-manager-run"
LOGS = {
    "logDriver": "awslogs",
    "options": {"awslogs-group": "fulcrum/asset-manager/runs", "awslogs-stream-prefix": "run"},
}
ARGS = {
    "cluster": CLUSTER,
    "task_definition": "asset-manager-run:7",
    "container": CONTAINER,
    "command": ["dagster", "--version"],
    "subnets": ["subnet-a", "subnet-b"],
    "security_groups": ["sg-services"],
    "poll_interval": 0.1,
}


@pytest.fixture
def client():
    with stubbed_client("ecs") as stubbed:
        yield stubbed


def definition(containers=None):
    containers = containers or [{"name": CONTAINER, "image": "x", "logConfiguration": LOGS}]
    return {
        "taskDefinitionArn": REVISION,
        "family": "asset-manager-run",
        "containerDefinitions": containers,
    }


def expect_definition(client, containers=None):
    client.stubber.add_response(
        "describe_task_definition",
        {"taskDefinition": definition(containers)},
        {"taskDefinition": "asset-manager-run:7"},
    )


def described(status, **task):
    containers = [{"name": CONTAINER, **task.pop("container", {})}]
    return {"tasks": [{"taskArn": TASK, "lastStatus": status, "containers": containers, **task}]}


def expect_run(client):
    client.stubber.add_response(
        "run_task",
        {"tasks": [{"taskArn": TASK, "lastStatus": "PROVISIONING"}], "failures": []},
        m.run_request({**ARGS, "launch_type": "FARGATE", "started_by": "leverslabs.asset_manager",
                       "assign_public_ip": False}, REVISION),
    )  # fmt: skip


def expect_status(client, *responses):
    for response in responses:
        client.stubber.add_response(
            "describe_tasks", response, {"cluster": CLUSTER, "tasks": [TASK]}
        )


# --- the pure parts ---------------------------------------------------------------------------


def test_run_request_overrides_only_the_command_and_keeps_the_network_private():
    params = {**ARGS, "launch_type": "FARGATE", "started_by": "canary", "assign_public_ip": False}
    request = m.run_request(params, REVISION)
    assert request["taskDefinition"] == REVISION
    assert request["count"] == 1
    assert request["overrides"] == {
        "containerOverrides": [{"name": CONTAINER, "command": ["dagster", "--version"]}]
    }
    assert request["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["subnet-a", "subnet-b"],
        "securityGroups": ["sg-services"],
        "assignPublicIp": "DISABLED",
    }
    public = m.run_request({**params, "assign_public_ip": True}, REVISION)
    assert public["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"


def test_log_location_is_the_stream_ecs_names():
    container = {"name": CONTAINER, "logConfiguration": LOGS}
    assert m.log_location(container, TASK) == (
        "fulcrum/asset-manager/runs",
        "run/asset-manager-run/0f6e0b5c0a8f4b8e9f1d2c3b4a596877",
    )
    assert m.log_location(container, None) == ("fulcrum/asset-manager/runs", None)
    assert m.log_location({"name": CONTAINER}, TASK) == (None, None)
    no_prefix = {"name": CONTAINER, "logConfiguration": {**LOGS, "options": {"awslogs-group": "g"}}}
    assert m.log_location(no_prefix, TASK) == ("g", None)


def test_container_definition_names_the_containers_there_are():
    with pytest.raises(
        m.NoSuchContainer, match=r"has no container 'web' \(it has: asset-manager-run\)"
    ):
        m.container_definition(definition(), "web")


def test_outcome_succeeds_only_on_a_stop_with_exit_code_zero():
    assert m.outcome(described("STOPPED", container={"exitCode": 0})["tasks"][0], CONTAINER)[
        "succeeded"
    ]
    failed = m.outcome(described("STOPPED", container={"exitCode": 2})["tasks"][0], CONTAINER)
    assert not failed["succeeded"] and failed["exit_code"] == 2
    reason = "CannotPullContainerError: x"
    pull_task = described(
        "STOPPED", stopCode="TaskFailedToStart", stoppedReason=reason, container={"reason": reason}
    )["tasks"][0]
    pull = m.outcome(pull_task, CONTAINER)
    assert not pull["succeeded"] and pull["exit_code"] is None
    assert pull["stop_code"] == "TaskFailedToStart" and pull["container_reason"].startswith(
        "Cannot"
    )
    running = m.outcome(described("RUNNING")["tasks"][0], CONTAINER, timed_out=True)
    assert not running["succeeded"] and running["timed_out"]
    timed_out_at_zero = described("STOPPED", container={"exitCode": 0})["tasks"][0]
    assert not m.outcome(timed_out_at_zero, CONTAINER, timed_out=True)["succeeded"]


def test_run_failure_message_gives_every_reason():
    message = m.run_failure_message(
        [{"reason": "MISSING", "detail": "capacity provider"}, {"arn": "arn:x", "reason": "AGENT"}]
    )
    assert message == "ECS did not start the task: MISSING (capacity provider); AGENT [arn:x]"


# --- main() -----------------------------------------------------------------------------------


def test_main_runs_the_task_until_it_stops_and_reports_it(client):
    expect_definition(client)
    expect_run(client)
    expect_status(
        client,
        described("PENDING"),
        described("RUNNING"),
        described("STOPPED", stopCode="EssentialContainerExited", container={"exitCode": 0}),
    )
    with mock.patch.object(m.time, "sleep") as sleep:
        result = run_module(m, ARGS, client)
    assert sleep.call_count == 2
    assert result["changed"] is True
    assert result["succeeded"] is True
    assert (result["task_arn"], result["task_definition_arn"]) == (TASK, REVISION)
    assert result["log_stream"] == "run/asset-manager-run/0f6e0b5c0a8f4b8e9f1d2c3b4a596877"
    assert result["stop_code"] == "EssentialContainerExited" and result["exit_code"] == 0


def test_main_reports_a_failed_start_as_its_result(client):
    reason = "ResourceInitializationError: unable to pull secrets or registry auth"
    expect_definition(client)
    expect_run(client)
    expect_status(client, described("STOPPED", stopCode="TaskFailedToStart", stoppedReason=reason))
    result = run_module(m, ARGS, client)
    assert result["succeeded"] is False
    assert result["stopped_reason"] == reason and result["exit_code"] is None


def test_main_stops_a_task_that_outlives_the_timeout(client):
    expect_definition(client)
    expect_run(client)
    expect_status(client, described("RUNNING"), described("RUNNING"))
    client.stubber.add_response(
        "stop_task",
        {"task": {"taskArn": TASK}},
        {
            "cluster": CLUSTER,
            "task": TASK,
            "reason": "Still running after 1 s (stopped by ecs_run_task)",
        },
    )
    ticks = iter(range(100))  # every clock read is 0.6 s later: two polls fit in 1 s
    with (
        mock.patch.object(m.time, "monotonic", lambda: next(ticks) * 0.6),
        mock.patch.object(m.time, "sleep"),
    ):
        result = run_module(m, {**ARGS, "timeout": 1}, client)
    assert result["timed_out"] is True and result["succeeded"] is False
    assert result["last_status"] == "RUNNING"


def test_main_fails_when_ecs_starts_no_task(client):
    expect_definition(client)
    client.stubber.add_response(
        "run_task",
        {"tasks": [], "failures": [{"reason": "RESOURCE:ENI", "detail": "subnet full"}]},
    )
    with pytest.raises(Failed, match=r"ECS did not start the task: RESOURCE:ENI \(subnet full\)"):
        run_module(m, ARGS, client)


def test_main_refuses_an_unknown_container_before_starting_anything(client):
    expect_definition(client)
    with pytest.raises(Failed, match="has no container 'web'"):
        run_module(m, {**ARGS, "container": "web"}, client)


def test_main_in_check_mode_starts_nothing(client):
    expect_definition(client)
    result = run_module(m, ARGS, client, check_mode=True)
    assert result["changed"] is True and result["task_arn"] is None
    assert result["log_group"] == "fulcrum/asset-manager/runs"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"command": []}, "command must not be empty"),
        ({"subnets": []}, "subnets must not be empty"),
        ({"timeout": 0}, "timeout must be at least 1"),
        ({"poll_interval": 0.01}, "poll_interval must be at least 0.1"),
        ({"started_by": "x" * 129}, "started_by must be at most 128 characters"),
    ],
)
def test_main_refuses_bad_options_before_any_call(args, message):
    with pytest.raises(Failed, match=message):
        run_module(m, {**ARGS, **args}, None)
