#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_run_task
version_added: 0.2.0
short_description: Run one ECS task until it stops and report how it ended
description:
  - Starts one task of a task definition with C(RunTask), with the command of one container
    overridden, in the given subnets and security groups, and waits until ECS reports it
    C(STOPPED).
  - Returns how it ended as ECS reports it - the stop code, the stopped reason (for example
    C(CannotPullContainerError) or C(ResourceInitializationError) when the image or a secret could
    not be fetched), the container's exit code and reason - and where its log is, from the task
    definition's C(awslogs) configuration.
  - The task's outcome is a result, not a failure of the module, so that the caller can report
    it; the module fails only when ECS refuses to start the task (an API error, or a
    C(RunTask) failure such as a missing capacity provider) or the task definition has no such
    container.
  - A task still running after O(timeout) seconds is stopped (C(StopTask)) and reported with
    RV(timed_out).
  - Always reports a change (it started a task). In check mode it starts nothing and only checks
    that the task definition has the container.
notes:
  - Needs C(ecs:DescribeTaskDefinition), C(ecs:RunTask), C(ecs:DescribeTasks), C(ecs:StopTask)
    (on a timeout), and C(iam:PassRole) on the task definition's task and execution roles.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
options:
  cluster:
    description: Name or ARN of the cluster to run the task in.
    type: str
    required: true
  task_definition:
    description:
      - The task definition, as C(family) (its latest C(ACTIVE) revision), C(family:revision) or
        an ARN.
    type: str
    required: true
  container:
    description:
      - The container whose command O(command) replaces, and whose exit code RV(exit_code) is.
    type: str
    required: true
  command:
    description: The command the container runs instead of its own, as a list of arguments.
    type: list
    elements: str
    required: true
  subnets:
    description: IDs of the subnets the task may run in (C(awsvpc) network mode).
    type: list
    elements: str
    required: true
  security_groups:
    description: IDs of the security groups of the task's network interface.
    type: list
    elements: str
    required: true
  assign_public_ip:
    description: Whether the task's network interface gets a public IP address.
    type: bool
    default: false
  launch_type:
    description: Where the task runs.
    type: str
    choices: [FARGATE, EC2, EXTERNAL]
    default: FARGATE
  started_by:
    description: The C(startedBy) of the task, which C(ListTasks) can filter on (at most 128).
    type: str
    default: leverslabs.asset_manager
  timeout:
    description: Seconds to wait for the task to stop; a task still running then is stopped.
    type: int
    default: 600
  poll_interval:
    description: Seconds between two C(DescribeTasks) calls while waiting.
    type: float
    default: 6
"""

EXAMPLES = r"""
- name: Run the run task definition with a harmless command, as Dagster's launcher would
  leverslabs.asset_manager.ecs_run_task:
    cluster: asset-manager
    task_definition: asset-manager-run:12
    container: asset-manager-run
    command: [dagster, --version]
    subnets: [subnet-0a1b2c3d4e5f60718, subnet-0f1e2d3c4b5a69788]
    security_groups: [sg-0123456789abcdef0]
  register: canary

- name: Fail with ECS's own words when it did not exit 0
  ansible.builtin.assert:
    that: canary.succeeded
    fail_msg: "{{ canary.stop_code }}: {{ canary.stopped_reason }} (log {{ canary.log_stream }})"
"""

RETURN = r"""
task_arn:
  description: ARN of the task started (null in check mode).
  returned: always
  type: str
  sample: arn:aws:ecs:us-west-1:123456789012:task/asset-manager/0f6e0b5c0a8f4b8e9f1d2c3b4a596877
task_definition_arn:
  description: ARN of the revision the task ran.
  returned: always
  type: str
  sample: arn:aws:ecs:us-west-1:123456789012:task-definition/asset-manager-run:12
last_status:
  description: The task's last status (C(STOPPED) unless RV(timed_out); null in check mode).
  returned: always
  type: str
  sample: STOPPED
stop_code:
  description:
    - Why ECS stopped the task, for example C(EssentialContainerExited) or C(TaskFailedToStart).
  returned: always
  type: str
  sample: EssentialContainerExited
stopped_reason:
  description: ECS's words for why the task stopped.
  returned: always
  type: str
  sample: "CannotPullContainerError: pull image manifest has been retried 5 time(s): ..."
exit_code:
  description: Exit code of O(container); null when it never ran.
  returned: always
  type: int
  sample: 0
container_reason:
  description: ECS's reason for the container, when it gives one.
  returned: always
  type: str
  sample: null
log_group:
  description: The C(awslogs) group of O(container), null without C(awslogs).
  returned: always
  type: str
  sample: /ecs/asset-manager-run
log_stream:
  description:
    - The container's log stream, C(<prefix>/<container>/<task id>); null without C(awslogs).
  returned: always
  type: str
  sample: run/asset-manager-run/0f6e0b5c0a8f4b8e9f1d2c3b4a596877
timed_out:
  description: Whether the task was still running after O(timeout) seconds (it was then stopped).
  returned: always
  type: bool
  sample: false
succeeded:
  description: Whether the task stopped on its own with O(container) exiting 0.
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds from RunTask to the last DescribeTasks.
  returned: always
  type: float
  sample: 41.2
"""

import time

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)


class NoSuchContainer(ValueError):
    """The task definition has no container of the given name."""


def task_id(task_arn):
    """The task's ID, the last part of its ARN (old and new ARN formats alike)."""
    return task_arn.rsplit("/", 1)[-1]


def container_definition(task_definition, name):
    """The container definition named ``name``; NoSuchContainer lists the ones there are."""
    containers = task_definition.get("containerDefinitions") or []
    for container in containers:
        if container.get("name") == name:
            return container
    names = ", ".join(c.get("name", "?") for c in containers) or "none"
    raise NoSuchContainer(
        f"Task definition {task_definition.get('taskDefinitionArn')} has no container "
        f"'{name}' (it has: {names})"
    )


def log_location(container, task_arn):
    """(group, stream) of an ``awslogs`` container's log, as ECS names the stream; else Nones."""
    config = container.get("logConfiguration") or {}
    options = config.get("options") or {}
    if config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
        return None, None
    prefix = options.get("awslogs-stream-prefix")
    stream = f"{prefix}/{container['name']}/{task_id(task_arn)}" if prefix and task_arn else None
    return options["awslogs-group"], stream


def run_request(params, task_definition_arn):
    """The RunTask request for one task with the container's command overridden; pure."""
    return {
        "cluster": params["cluster"],
        "taskDefinition": task_definition_arn,
        "count": 1,
        "launchType": params["launch_type"],
        "startedBy": params["started_by"],
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": params["subnets"],
                "securityGroups": params["security_groups"],
                "assignPublicIp": "ENABLED" if params["assign_public_ip"] else "DISABLED",
            }
        },
        "overrides": {
            "containerOverrides": [{"name": params["container"], "command": params["command"]}]
        },
    }


def outcome(task, container_name, timed_out=False):
    """How a described task ended (or stands), for the module's result; pure."""
    container = next(
        (c for c in task.get("containers") or [] if c.get("name") == container_name), {}
    )
    exit_code = container.get("exitCode")
    stopped = task.get("lastStatus") == "STOPPED"
    return {
        "task_arn": task.get("taskArn"),
        "last_status": task.get("lastStatus"),
        "stop_code": task.get("stopCode"),
        "stopped_reason": task.get("stoppedReason"),
        "exit_code": exit_code,
        "container_reason": container.get("reason"),
        "timed_out": timed_out,
        "succeeded": stopped and not timed_out and exit_code == 0,
    }


def run_failure_message(failures):
    """One sentence from RunTask's ``failures`` (the task was not started)."""
    reasons = "; ".join(
        f.get("reason", "unknown")
        + (f" ({f['detail']})" if f.get("detail") else "")
        + (f" [{f['arn']}]" if f.get("arn") else "")
        for f in failures
    )
    return f"ECS did not start the task: {reasons or 'no task and no failure returned'}"


def wait_until_stopped(client, cluster, task_arn, timeout, poll_interval):
    """The task as last described, and whether it was still not STOPPED after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        described = client.describe_tasks(cluster=cluster, tasks=[task_arn], aws_retry=True)
        tasks = described.get("tasks") or []
        task = tasks[0] if tasks else {"taskArn": task_arn}
        if task.get("lastStatus") == "STOPPED":
            return task, False
        if time.monotonic() >= deadline:
            return task, True
        time.sleep(poll_interval)


def input_problems(params):
    """What is wrong with the options, as sentences (none: empty); pure."""
    required = ("command", "subnets", "security_groups")
    problems = [f"{name} must not be empty" for name in required if not params[name]]
    if params["timeout"] < 1:
        problems.append("timeout must be at least 1")
    if params["poll_interval"] < 0.1:
        problems.append("poll_interval must be at least 0.1")
    if len(params["started_by"]) > 128:
        problems.append("started_by must be at most 128 characters")
    return problems


def main():
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        task_definition=dict(type="str", required=True),
        container=dict(type="str", required=True),
        command=dict(type="list", elements="str", required=True),
        subnets=dict(type="list", elements="str", required=True),
        security_groups=dict(type="list", elements="str", required=True),
        assign_public_ip=dict(type="bool", default=False),
        launch_type=dict(type="str", default="FARGATE", choices=["FARGATE", "EC2", "EXTERNAL"]),
        started_by=dict(type="str", default="leverslabs.asset_manager"),
        timeout=dict(type="int", default=600),
        poll_interval=dict(type="float", default=6),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    problems = input_problems(params)
    if problems:
        module.fail_json(msg="; ".join(problems))

    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        definition = client.describe_task_definition(
            taskDefinition=params["task_definition"], aws_retry=True
        )["taskDefinition"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(
            e, msg=f"Failed to describe task definition {params['task_definition']}"
        )
    try:
        container = container_definition(definition, params["container"])
    except NoSuchContainer as e:
        module.fail_json(msg=str(e))
    arn = definition["taskDefinitionArn"]
    log_group, _stream = log_location(container, None)
    if module.check_mode:
        checked = outcome({}, params["container"])
        module.exit_json(
            changed=True, task_definition_arn=arn, log_group=log_group, log_stream=None,
            elapsed=0.0, **checked
        )  # fmt: skip

    started = time.monotonic()
    try:
        # Retried by botocore only: it fills RunTask's clientToken once, so a retry after a lost
        # answer starts no second task (aws_retry would resend with a new token).
        response = client.run_task(**run_request(params, arn))
        if not response.get("tasks"):
            module.fail_json(msg=run_failure_message(response.get("failures") or []))
        task_arn = response["tasks"][0]["taskArn"]
        task, timed_out = wait_until_stopped(
            client, params["cluster"], task_arn, params["timeout"], params["poll_interval"]
        )
        if timed_out:
            reason = f"Still running after {params['timeout']} s (stopped by ecs_run_task)"
            client.stop_task(
                cluster=params["cluster"], task=task_arn, reason=reason, aws_retry=True
            )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to run a task of {arn}")
    _group, log_stream = log_location(container, task_arn)
    module.exit_json(
        changed=True,
        task_definition_arn=arn,
        log_group=log_group,
        log_stream=log_stream,
        elapsed=round(time.monotonic() - started, 1),
        **outcome(task, params["container"], timed_out),
    )


if __name__ == "__main__":
    main()
