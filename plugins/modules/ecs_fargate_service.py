#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_fargate_service
version_added: 0.1.0
short_description: Manage an ECS service on Fargate that converges on every setting
description:
  - Create, update or delete an Amazon ECS service whose tasks run on AWS Fargate.
  - Every option given is compared with what C(DescribeServices) reports, and C(UpdateService)
    is called with only the settings that differ, so a second run with the same options changes
    nothing.
  - Not given means not managed. None of the service's settings has a default, so an option left
    out is neither compared nor sent on update and the service keeps its value. On creation,
    AWS's own default applies, as each option says.
  - The task definition may be given as a family, as C(family:revision) or as a full ARN; it is
    resolved to its ARN before the comparison, so each form is idempotent.
  - Optionally waits until the deployment has completed, failing with the service's recent events
    when the deployment circuit breaker rolls it back or the wait times out.
author:
  - Levers Labs platform team (@leverslabs)
options:
  cluster:
    description:
      - Name or ARN of the ECS cluster that runs the service.
    type: str
    required: true
  name:
    description:
      - Name of the service.
    type: str
    required: true
  state:
    description:
      - V(present) creates the service, or updates it where it differs from the options.
      - V(absent) scales the service to zero and deletes it.
    type: str
    choices: [present, absent]
    default: present
  task_definition:
    description:
      - The task definition to run, as a family (its latest C(ACTIVE) revision),
        C(family:revision) or a task definition ARN.
      - Required to create a service. When omitted on an existing service, its task definition
        is left as it is.
    type: str
  desired_count:
    description:
      - Number of tasks the service keeps running.
      - Required to create a service. When omitted on an existing service, the count is left as it
        is (for example when Application Auto Scaling owns it).
    type: int
  subnets:
    description:
      - IDs of the subnets the tasks run in. Compared regardless of order.
      - Required to create a service. When omitted on an existing service, its subnets are kept.
    type: list
    elements: str
  security_groups:
    description:
      - IDs of the security groups attached to the tasks. Compared regardless of order.
      - When omitted on an existing service, its security groups are kept. When omitted on
        creation, AWS uses the VPC's default security group.
    type: list
    elements: str
  assign_public_ip:
    description:
      - Whether the tasks get a public IP address.
      - When omitted on an existing service, its setting is kept. When omitted on creation, AWS
        assigns none (C(DISABLED)).
    type: bool
  load_balancers:
    description:
      - Target groups the service registers its tasks with. Compared regardless of order.
      - An empty list removes every load balancer from the service. When omitted, the service's
        load balancers are left as they are (on creation, it has none).
    type: list
    elements: dict
    suboptions:
      target_group_arn:
        description: ARN of the target group.
        type: str
        required: true
      container_name:
        description: Name of the container, as in the task definition, that receives traffic.
        type: str
        required: true
      container_port:
        description: Port of that container.
        type: int
        required: true
  health_check_grace_period_seconds:
    description:
      - Seconds during which the scheduler ignores failing load balancer health checks of a new
        task.
      - Left as it is when omitted. When omitted on creation, AWS uses 0.
    type: int
  deployment_configuration:
    description:
      - How the service replaces its tasks during a deployment.
      - Only the keys given are compared and changed; the others keep their current values
        (on creation, AWS's defaults of 100, 200 and a disabled circuit breaker).
    type: dict
    suboptions:
      minimum_healthy_percent:
        description: Lower limit, as a percentage of O(desired_count), of tasks kept running.
        type: int
      maximum_percent:
        description: Upper limit, as a percentage of O(desired_count), of tasks running.
        type: int
      circuit_breaker_enable:
        description: Whether the deployment circuit breaker stops a deployment whose tasks fail.
        type: bool
      circuit_breaker_rollback:
        description: Whether the circuit breaker rolls a failed deployment back.
        type: bool
  platform_version:
    description:
      - Fargate platform version of the tasks, for example V(LATEST) or V(1.4.0).
      - When omitted on an existing service, its platform version is kept. When omitted on
        creation, AWS uses V(LATEST).
    type: str
  propagate_tags:
    description:
      - Where the tasks' tags are copied from.
      - Left as it is when omitted. When omitted on creation, AWS copies no tags (C(NONE)).
    type: str
    choices: [NONE, SERVICE, TASK_DEFINITION]
  enable_execute_command:
    description:
      - Whether ECS Exec is enabled for the service's tasks.
      - When omitted on an existing service, its setting is kept. When omitted on creation, AWS
        leaves ECS Exec off.
    type: bool
  force_new_deployment:
    description:
      - Start a new deployment even when nothing differs, for example to pull a mutable image tag
        again. The module then reports a change on every run.
    type: bool
    default: false
  wait:
    description:
      - With O(state=present), after a change, or when a deployment is already rolling out, wait
        until the primary deployment has completed, is the only deployment and runs
        O(desired_count) tasks. Fails when the deployment fails (the circuit breaker rolled it
        back) or O(wait_timeout) passes, with the service's last five events in the message.
      - With O(state=absent), wait until the service is C(INACTIVE).
      - A service that is already steady is not polled at all.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true).
    type: int
    default: 600
  wait_delay:
    description:
      - Seconds between two polls of the service when O(wait=true).
    type: int
    default: 10
notes:
  - The launch type is always C(FARGATE) and the network mode C(awsvpc).
  - Written because C(community.aws.ecs_service) 10.0.0 does not converge a Fargate service.
    Measured on the project's emulator (moto 5.2.5 with its fidelity layer), after it had created
    a service, rerunning it with another security group, and then with
    C(assign_public_ip=true), reported C(changed=false) both times, and C(DescribeServices) still
    showed the first security group and C(assignPublicIp=DISABLED). Given the task definition's
    ARN, it reported C(changed=true) on every run, because it compares C(family:revision) with
    the ARN. Its C(wait) covers deletion only.
  - Tags are compared like the amazon.aws modules do; keys starting with C(aws:) are never purged.
  - Supports check mode and diff mode. The diff shows the settings of the options given, before
    and after.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create or update the web service behind the load balancer
  leverslabs.asset_manager.ecs_fargate_service:
    cluster: asset-manager
    name: asset-manager-web
    task_definition: asset-manager-web
    desired_count: 1
    subnets: "{{ private_subnet_ids }}"
    security_groups:
      - "{{ services_security_group_id }}"
    load_balancers:
      - target_group_arn: "{{ target_group_arn }}"
        container_name: asset-manager-web
        container_port: 3000
    health_check_grace_period_seconds: 60
    deployment_configuration:
      minimum_healthy_percent: 100
      maximum_percent: 200
      circuit_breaker_enable: true
      circuit_breaker_rollback: true
    tags:
      Application: asset-manager
    wait: true
  register: web_service

- name: Run exactly one daemon task, replacing it rather than running two at once
  leverslabs.asset_manager.ecs_fargate_service:
    cluster: asset-manager
    name: asset-manager-daemon
    task_definition: "asset-manager-daemon:12"
    desired_count: 1
    subnets: "{{ private_subnet_ids }}"
    security_groups:
      - "{{ services_security_group_id }}"
    deployment_configuration:
      minimum_healthy_percent: 0
      maximum_percent: 100

- name: Scale the web service, leaving every other setting as it is
  leverslabs.asset_manager.ecs_fargate_service:
    cluster: asset-manager
    name: asset-manager-web
    desired_count: 2
    wait: true
    wait_timeout: 900

- name: Delete the daemon service and wait until it is gone
  leverslabs.asset_manager.ecs_fargate_service:
    cluster: asset-manager
    name: asset-manager-daemon
    state: absent
    wait: true
"""

RETURN = r"""
service:
  description:
    - The service as C(DescribeServices) reports it, keys in snake_case, tags as a dictionary.
    - Empty when the service does not exist, and in check mode before the service is created.
  returned: always
  type: dict
  contains:
    service_arn:
      description: ARN of the service.
      type: str
      sample: arn:aws:ecs:us-west-1:123456789012:service/asset-manager/asset-manager-web
    service_name:
      description: Name of the service.
      type: str
      sample: asset-manager-web
    cluster_arn:
      description: ARN of the cluster.
      type: str
    status:
      description: C(ACTIVE), C(DRAINING) or C(INACTIVE).
      type: str
      sample: ACTIVE
    task_definition:
      description: ARN of the task definition the service runs.
      type: str
      sample: arn:aws:ecs:us-west-1:123456789012:task-definition/asset-manager-web:7
    desired_count:
      description: Number of tasks the service keeps running.
      type: int
      sample: 1
    running_count:
      description: Number of tasks running.
      type: int
      sample: 1
    pending_count:
      description: Number of tasks starting.
      type: int
      sample: 0
    launch_type:
      description: Always C(FARGATE).
      type: str
      sample: FARGATE
    platform_version:
      description: Fargate platform version requested.
      type: str
      sample: LATEST
    network_configuration:
      description: Subnets, security groups and public IP setting of the tasks.
      type: dict
      sample:
        awsvpc_configuration:
          subnets: [subnet-0a1b2c3d]
          security_groups: [sg-0a1b2c3d]
          assign_public_ip: DISABLED
    load_balancers:
      description: Target groups the tasks are registered with.
      type: list
      elements: dict
    health_check_grace_period_seconds:
      description: Health check grace period.
      type: int
    deployment_configuration:
      description: Deployment limits and circuit breaker.
      type: dict
      sample:
        maximum_percent: 200
        minimum_healthy_percent: 100
        deployment_circuit_breaker:
          enable: true
          rollback: true
    deployments:
      description: The service's deployments.
      type: list
      elements: dict
    events:
      description: The service's most recent events, newest first.
      type: list
      elements: dict
    propagate_tags:
      description: Where task tags come from.
      type: str
      sample: NONE
    enable_execute_command:
      description: Whether ECS Exec is enabled.
      type: bool
    tags:
      description: The service's tags.
      type: dict
      sample: {Application: asset-manager}
changed:
  description: Whether the service was (or, in check mode, would be) created, updated or deleted.
  returned: always
  type: bool
updated_fields:
  description:
    - Names of the options whose value was (or would be) changed on the service.
    - On creation, V(state) followed by every option given, and V(deployment_configuration)
      (AWS's defaults fill the keys not given); on deletion, V(state).
      V(force_new_deployment) appears whenever a new deployment was forced.
  returned: always
  type: list
  elements: str
  sample: [security_groups, desired_count]
deployment:
  description:
    - The service's C(PRIMARY) deployment, keys in snake_case; empty when there is none.
  returned: always
  type: dict
  sample:
    id: ecs-svc/1234567890123456789
    status: PRIMARY
    rollout_state: COMPLETED
    desired_count: 1
    running_count: 1
    task_definition: arn:aws:ecs:us-west-1:123456789012:task-definition/asset-manager-web:7
diff:
  description:
    - Before and after of the settings of the options given (options left out are not shown), in
      diff mode.
  returned: when diff mode is on
  type: dict
"""

import copy
import time

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)

# Settings compared with DescribeServices, in the order updated_fields and the diff list them.
SETTINGS = (
    "task_definition",
    "desired_count",
    "subnets",
    "security_groups",
    "assign_public_ip",
    "load_balancers",
    "health_check_grace_period_seconds",
    "deployment_configuration",
    "platform_version",
    "propagate_tags",
    "enable_execute_command",
)
NETWORK_SETTINGS = ("subnets", "security_groups", "assign_public_ip")

# What AWS applies when CreateService gets no deploymentConfiguration.
DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "minimum_healthy_percent": 100,
    "maximum_percent": 200,
    "circuit_breaker_enable": False,
    "circuit_breaker_rollback": False,
}
EVENTS_IN_MESSAGES = 5


class ServiceWaitError(Exception):
    """A wait ended without the service reaching the state waited for."""

    def __init__(self, message, service=None):
        super().__init__(message)
        self.service = service


# ---- boto3 calls ---------------------------------------------------------------------------


def describe_service(client, cluster, name, include_tags=False):
    """The service as DescribeServices reports it, or None when ECS has no record of it."""
    kwargs = {"cluster": cluster, "services": [name]}
    if include_tags:
        kwargs["include"] = ["TAGS"]
    response = client.describe_services(aws_retry=True, **kwargs)
    services = response.get("services") or []
    return services[0] if services else None


def describe_task_definition_arn(client, task_definition):
    response = client.describe_task_definition(taskDefinition=task_definition, aws_retry=True)
    return response["taskDefinition"]["taskDefinitionArn"]


def create_service(client, **kwargs):
    return client.create_service(aws_retry=True, **kwargs)["service"]


def update_service(client, **kwargs):
    return client.update_service(aws_retry=True, **kwargs)["service"]


def delete_service(client, cluster, name):
    return client.delete_service(cluster=cluster, service=name, force=True, aws_retry=True)[
        "service"
    ]


def tag_service(client, arn, tags):
    client.tag_resource(
        resourceArn=arn, tags=ansible_dict_to_boto3_tag_list(tags, "key", "value"), aws_retry=True
    )


def untag_service(client, arn, keys):
    client.untag_resource(resourceArn=arn, tagKeys=keys, aws_retry=True)


# ---- comparison ----------------------------------------------------------------------------


def _load_balancer_key(balancer):
    return (balancer["target_group_arn"], balancer["container_name"], balancer["container_port"])


def normalise_load_balancers(balancers):
    if balancers is None:
        return None
    return [
        {"target_group_arn": arn, "container_name": name, "container_port": port}
        for arn, name, port in sorted(_load_balancer_key(b) for b in balancers)
    ]


def desired_settings(params, task_definition_arn):
    """The module's options in the shape current_settings() gives; None means "not managed"."""
    deployment = params.get("deployment_configuration")
    if deployment is not None:
        deployment = {key: value for key, value in deployment.items() if value is not None}
    return {
        "task_definition": task_definition_arn,
        "desired_count": params.get("desired_count"),
        "subnets": _sorted_unique(params.get("subnets")),
        "security_groups": _sorted_unique(params.get("security_groups")),
        "assign_public_ip": params.get("assign_public_ip"),
        "load_balancers": normalise_load_balancers(params.get("load_balancers")),
        "health_check_grace_period_seconds": params.get("health_check_grace_period_seconds"),
        "deployment_configuration": deployment or None,
        "platform_version": params.get("platform_version"),
        "propagate_tags": params.get("propagate_tags"),
        "enable_execute_command": params.get("enable_execute_command"),
    }


def _sorted_unique(values):
    return None if values is None else sorted(set(values))


def current_settings(service):
    """The managed settings of a described service, normalised for comparison."""
    awsvpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    deployment = service.get("deploymentConfiguration") or {}
    breaker = deployment.get("deploymentCircuitBreaker") or {}
    return {
        "task_definition": service.get("taskDefinition"),
        "desired_count": service.get("desiredCount"),
        "subnets": sorted(set(awsvpc.get("subnets") or [])),
        "security_groups": sorted(set(awsvpc.get("securityGroups") or [])),
        "assign_public_ip": awsvpc.get("assignPublicIp") == "ENABLED",
        "load_balancers": normalise_load_balancers(
            [
                {
                    "target_group_arn": b.get("targetGroupArn"),
                    "container_name": b.get("containerName"),
                    "container_port": b.get("containerPort"),
                }
                for b in service.get("loadBalancers") or []
            ]
        ),
        # AWS omits the grace period when it was never set, which behaves as 0.
        "health_check_grace_period_seconds": service.get("healthCheckGracePeriodSeconds") or 0,
        "deployment_configuration": {
            "minimum_healthy_percent": deployment.get("minimumHealthyPercent"),
            "maximum_percent": deployment.get("maximumPercent"),
            "circuit_breaker_enable": bool(breaker.get("enable", False)),
            "circuit_breaker_rollback": bool(breaker.get("rollback", False)),
        },
        "platform_version": service.get("platformVersion") or "LATEST",
        "propagate_tags": service.get("propagateTags") or "NONE",
        "enable_execute_command": bool(service.get("enableExecuteCommand", False)),
    }


def _network_request(desired, current):
    """awsvpcConfiguration for the desired settings.

    UpdateService replaces the whole configuration (an assignPublicIp left out means DISABLED),
    so each part not given keeps its ``current`` value; on creation ``current`` is empty and AWS
    applies its defaults.
    """
    network = {
        key: desired[key] if desired[key] is not None else current.get(key)
        for key in NETWORK_SETTINGS
    }
    config = {"subnets": network["subnets"] or []}
    if network["security_groups"]:
        config["securityGroups"] = network["security_groups"]
    if network["assign_public_ip"] is not None:
        config["assignPublicIp"] = "ENABLED" if network["assign_public_ip"] else "DISABLED"
    return {"awsvpcConfiguration": config}


def _deployment_request(settings):
    request = {}
    if settings.get("minimum_healthy_percent") is not None:
        request["minimumHealthyPercent"] = settings["minimum_healthy_percent"]
    if settings.get("maximum_percent") is not None:
        request["maximumPercent"] = settings["maximum_percent"]
    request["deploymentCircuitBreaker"] = {
        "enable": bool(settings.get("circuit_breaker_enable")),
        "rollback": bool(settings.get("circuit_breaker_rollback")),
    }
    return request


def compare_service(desired, service, force_new_deployment=False):
    """Desired settings vs a described service -> what UpdateService must change.

    Returns a dict with ``updated_fields`` (option names that differ, in SETTINGS order),
    ``update`` (UpdateService keyword arguments, without cluster and service; empty when nothing
    differs), and ``before``/``after`` (the compared settings, for diff mode).
    """
    current = current_settings(service)
    updated, before, after = [], {}, {}
    for key in SETTINGS:
        wanted = desired.get(key)
        if wanted is None:
            continue
        have = current[key]
        if key == "deployment_configuration":
            # Only the keys given are managed; the others keep their current values.
            wanted = {**have, **wanted}
        before[key] = have
        after[key] = wanted
        if wanted != have:
            updated.append(key)

    update = {}
    if "task_definition" in updated:
        update["taskDefinition"] = desired["task_definition"]
    if "desired_count" in updated:
        update["desiredCount"] = desired["desired_count"]
    if any(key in updated for key in NETWORK_SETTINGS):
        update["networkConfiguration"] = _network_request(desired, current)
    if "load_balancers" in updated:
        update["loadBalancers"] = _load_balancers_request(desired["load_balancers"])
    if "health_check_grace_period_seconds" in updated:
        update["healthCheckGracePeriodSeconds"] = desired["health_check_grace_period_seconds"]
    if "deployment_configuration" in updated:
        update["deploymentConfiguration"] = _merged_deployment_request(
            service, after["deployment_configuration"]
        )
    if "platform_version" in updated:
        update["platformVersion"] = desired["platform_version"]
    if "propagate_tags" in updated:
        update["propagateTags"] = desired["propagate_tags"]
    if "enable_execute_command" in updated:
        update["enableExecuteCommand"] = desired["enable_execute_command"]
    if force_new_deployment:
        update["forceNewDeployment"] = True
        updated.append("force_new_deployment")
    return {"updated_fields": updated, "update": update, "before": before, "after": after}


def _merged_deployment_request(service, settings):
    # Keep the parts of the current configuration the module does not manage (alarms, ...).
    merged = copy.deepcopy(service.get("deploymentConfiguration") or {})
    merged.update(_deployment_request(settings))
    return merged


def _load_balancers_request(balancers):
    return [
        {
            "targetGroupArn": b["target_group_arn"],
            "containerName": b["container_name"],
            "containerPort": b["container_port"],
        }
        for b in balancers
    ]


def create_request(cluster, name, desired, tags):
    """CreateService keyword arguments for the desired settings; AWS defaults what is not given."""
    request = {
        "cluster": cluster,
        "serviceName": name,
        "taskDefinition": desired["task_definition"],
        "desiredCount": desired["desired_count"],
        "launchType": "FARGATE",
        "networkConfiguration": _network_request(desired, {}),
        "deploymentConfiguration": _deployment_request(
            {**DEFAULT_DEPLOYMENT_CONFIGURATION, **(desired["deployment_configuration"] or {})}
        ),
    }
    if desired["platform_version"] is not None:
        request["platformVersion"] = desired["platform_version"]
    if desired["enable_execute_command"] is not None:
        request["enableExecuteCommand"] = desired["enable_execute_command"]
    if desired["load_balancers"]:
        request["loadBalancers"] = _load_balancers_request(desired["load_balancers"])
    if desired["health_check_grace_period_seconds"] is not None:
        request["healthCheckGracePeriodSeconds"] = desired["health_check_grace_period_seconds"]
    if desired["propagate_tags"] is not None:
        request["propagateTags"] = desired["propagate_tags"]
    if tags:
        request["tags"] = ansible_dict_to_boto3_tag_list(tags, "key", "value")
    return request


def created_settings(desired):
    """What a service created from ``desired`` will report, for updated_fields and the diff."""
    after = {key: value for key, value in desired.items() if value is not None}
    after["deployment_configuration"] = {
        **DEFAULT_DEPLOYMENT_CONFIGURATION,
        **(desired["deployment_configuration"] or {}),
    }
    return after


def service_tags(service):
    return boto3_tag_list_to_ansible_dict(service.get("tags") or [], "key", "value")


# ---- waiting -------------------------------------------------------------------------------


def primary_deployment(service):
    for deployment in (service or {}).get("deployments") or []:
        if deployment.get("status") == "PRIMARY":
            return deployment
    return None


def recent_events(service, count=EVENTS_IN_MESSAGES):
    """The service's newest events, one line each (ECS lists them newest first)."""
    lines = []
    for event in ((service or {}).get("events") or [])[:count]:
        created = event.get("createdAt")
        if hasattr(created, "isoformat"):
            created = created.isoformat()
        lines.append(f"{created}: {event.get('message')}" if created else event.get("message"))
    return lines


def _describe_with_events(cluster, name, service, message):
    events = recent_events(service)
    where = f"ECS service {name} in cluster {cluster}"
    text = f"{where}: {message}."
    if events:
        text += " Last events: " + " | ".join(events)
    else:
        text += " The service reported no events."
    return text


def deployment_progress(service, tracked_id=None):
    """("completed" | "failed" | "in_progress", reason) for a described service.

    ``tracked_id`` is the deployment this run started or found rolling out: if it is no longer
    the primary one, the circuit breaker (or someone else) replaced it.
    """
    # AWS may still list replaced deployments as INACTIVE; they neither fail nor hold a wait.
    deployments = [d for d in service.get("deployments") or [] if d.get("status") != "INACTIVE"]
    for deployment in deployments:
        if deployment.get("rolloutState") == "FAILED":
            reason = deployment.get("rolloutStateReason") or "no reason given"
            return "failed", f"deployment {deployment.get('id')} failed: {reason}"
    primary = primary_deployment(service)
    if primary is None:
        return "in_progress", "no primary deployment yet"
    if tracked_id and primary.get("id") != tracked_id:
        return "failed", (
            f"deployment {tracked_id} is no longer the primary deployment; "
            f"{primary.get('id')} replaced it (rolled back?)"
        )
    rollout = primary.get("rolloutState")
    if rollout not in (None, "COMPLETED"):
        return "in_progress", f"deployment {primary.get('id')} is {rollout}"
    if len(deployments) > 1:
        return "in_progress", f"{len(deployments)} deployments are active"
    running, desired = service.get("runningCount"), service.get("desiredCount")
    if running != desired:
        return "in_progress", f"{running} of {desired} tasks are running"
    return "completed", "the deployment completed"


def wait_for_deployment(
    client,
    cluster,
    name,
    service,
    timeout,
    delay,
    sleep=None,
    clock=None,
):
    """Poll until the deployment completes; return the last description.

    ``service`` is the freshest description already at hand (a CreateService or UpdateService
    response, or DescribeServices): when it is steady, nothing is polled and nothing sleeps.
    Raises ServiceWaitError when the deployment fails or ``timeout`` seconds pass.
    """
    sleep, clock = sleep or time.sleep, clock or time.monotonic
    deadline = clock() + timeout
    primary = primary_deployment(service)
    tracked_id = primary.get("id") if primary else None
    while True:
        state, reason = deployment_progress(service, tracked_id)
        if state == "completed":
            return service
        if state == "failed":
            raise ServiceWaitError(_describe_with_events(cluster, name, service, reason), service)
        remaining = deadline - clock()
        if remaining <= 0:
            message = (
                f"timed out after {timeout} seconds waiting for the deployment to complete "
                f"({reason})"
            )
            raise ServiceWaitError(_describe_with_events(cluster, name, service, message), service)
        sleep(min(delay, remaining))
        latest = describe_service(client, cluster, name)
        if latest is None:
            raise ServiceWaitError(
                f"ECS service {name} in cluster {cluster} disappeared during the wait", service
            )
        service = latest


def wait_for_inactive(
    client,
    cluster,
    name,
    service,
    timeout,
    delay,
    sleep=None,
    clock=None,
):
    """Poll until the service is INACTIVE (or ECS forgot it); return the last description."""
    sleep, clock = sleep or time.sleep, clock or time.monotonic
    deadline = clock() + timeout
    while service is not None and service.get("status") != "INACTIVE":
        remaining = deadline - clock()
        if remaining <= 0:
            message = (
                f"timed out after {timeout} seconds waiting for the service to become INACTIVE "
                f"(it is {service.get('status')})"
            )
            raise ServiceWaitError(_describe_with_events(cluster, name, service, message), service)
        sleep(min(delay, remaining))
        service = describe_service(client, cluster, name)
    return service


# ---- module --------------------------------------------------------------------------------


def service_result(service):
    if not service:
        return {}
    tags = service_tags(service) if "tags" in service else None
    result = camel_dict_to_snake_dict({k: v for k, v in service.items() if k != "tags"})
    if tags is not None:
        result["tags"] = tags
    return result


def deployment_result(service):
    primary = primary_deployment(service)
    return camel_dict_to_snake_dict(primary) if primary else {}


def exists(service):
    return service is not None and service.get("status") != "INACTIVE"


def resolve_task_definition(module, client):
    task_definition = module.params["task_definition"]
    if task_definition is None:
        return None
    try:
        return describe_task_definition_arn(client, task_definition)
    except is_boto3_error_code("ClientException") as e:
        if module.check_mode:
            # An earlier task of the same check run may only have predicted its registration.
            module.warn(
                f"Task definition {task_definition} does not exist (yet); check mode "
                "predicts the service will use it."
            )
            return task_definition
        module.fail_json_aws(e, msg=f"Could not find the task definition {task_definition}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Could not describe the task definition {task_definition}")


def fail_wait(module, error, result):
    """Fail a wait, still reporting what this run changed before it."""
    module.fail_json(
        msg=str(error),
        service=service_result(error.service),
        deployment=deployment_result(error.service),
        **result,
    )


def ensure_present(module, client, service):
    params = module.params
    cluster, name = params["cluster"], params["name"]
    desired = desired_settings(params, resolve_task_definition(module, client))
    tags = params["tags"]

    if service is not None and service.get("status") == "DRAINING":
        # AWS refuses to create a service whose deleted namesake is still draining.
        if module.check_mode:
            service = None
        else:
            try:
                service = wait_for_inactive(
                    client, cluster, name, service, params["wait_timeout"], params["wait_delay"]
                )
            except ServiceWaitError as e:
                fail_wait(module, e, {"changed": False, "updated_fields": []})

    if not exists(service):
        return create(module, client, desired, tags)

    comparison = compare_service(desired, service, params["force_new_deployment"])
    updated_fields = list(comparison["updated_fields"])
    before, after = comparison["before"], comparison["after"]

    tags_to_set, tags_to_remove = {}, []
    if tags is not None:
        current_tags = service_tags(service)
        tags_to_set, tags_to_remove = compare_aws_tags(current_tags, tags, params["purge_tags"])
        if tags_to_set or tags_to_remove:
            updated_fields.append("tags")
        before["tags"] = current_tags
        after["tags"] = {
            **{k: v for k, v in current_tags.items() if k not in tags_to_remove},
            **tags_to_set,
        }

    changed = bool(updated_fields)
    result = {"changed": changed, "updated_fields": updated_fields}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    if module.check_mode:
        module.exit_json(
            service=service_result(service), deployment=deployment_result(service), **result
        )

    latest = service
    try:
        if comparison["update"]:
            latest = update_service(client, cluster=cluster, service=name, **comparison["update"])
        if tags_to_remove:
            untag_service(client, service["serviceArn"], tags_to_remove)
        if tags_to_set:
            tag_service(client, service["serviceArn"], tags_to_set)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not update ECS service {name} in cluster {cluster}")

    if params["wait"]:
        try:
            latest = wait_for_deployment(
                client, cluster, name, latest, params["wait_timeout"], params["wait_delay"]
            )
        except ServiceWaitError as e:
            fail_wait(module, e, result)

    # Only a write or a poll makes the first description stale.
    stale = changed or latest is not service
    final = describe_final(module, client, cluster, name) if stale else service
    module.exit_json(service=service_result(final), deployment=deployment_result(final), **result)


def create(module, client, desired, tags):
    params = module.params
    cluster, name = params["cluster"], params["name"]
    required = ("task_definition", "desired_count", "subnets")
    missing = [key for key in required if not _given(desired[key])]
    if missing:
        module.fail_json(
            msg=f"ECS service {name} does not exist in cluster {cluster}; creating it needs "
            + ", ".join(missing)
        )
    after = created_settings(desired)
    if tags:
        after["tags"] = tags
    updated_fields = ["state"] + [key for key in (*SETTINGS, "tags") if key in after]
    result = {"changed": True, "updated_fields": updated_fields}
    if module._diff:
        result["diff"] = {"before": {"state": "absent"}, "after": {"state": "present", **after}}
    if module.check_mode:
        module.exit_json(service={}, deployment={}, **result)

    try:
        service = create_service(client, **create_request(cluster, name, desired, tags))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not create ECS service {name} in cluster {cluster}")
    if params["wait"]:
        try:
            wait_for_deployment(
                client, cluster, name, service, params["wait_timeout"], params["wait_delay"]
            )
        except ServiceWaitError as e:
            fail_wait(module, e, result)
    final = describe_final(module, client, cluster, name)
    module.exit_json(service=service_result(final), deployment=deployment_result(final), **result)


def _given(value):
    return value is not None and value != []


def describe_final(module, client, cluster, name):
    try:
        return describe_service(client, cluster, name, include_tags=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not describe ECS service {name} in cluster {cluster}")


def ensure_absent(module, client, service):
    params = module.params
    cluster, name = params["cluster"], params["name"]
    if not exists(service):
        module.exit_json(changed=False, updated_fields=[], service={}, deployment={})

    result = {"changed": False, "updated_fields": []}
    latest = service
    if service.get("status") == "ACTIVE":
        result = {"changed": True, "updated_fields": ["state"]}
        if module._diff:
            result["diff"] = {
                "before": {"state": "present", **current_settings(service)},
                "after": {"state": "absent"},
            }
        if module.check_mode:
            module.exit_json(
                service=service_result(service), deployment=deployment_result(service), **result
            )
        try:
            if service.get("desiredCount"):
                update_service(client, cluster=cluster, service=name, desiredCount=0)
            latest = delete_service(client, cluster, name)
        except is_boto3_error_code("ServiceNotFoundException"):
            module.exit_json(changed=False, updated_fields=[], service={}, deployment={})
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"Could not delete ECS service {name} in cluster {cluster}")

    # A DRAINING service is already being deleted; with wait, see it through.
    if params["wait"] and not module.check_mode:
        try:
            latest = wait_for_inactive(
                client, cluster, name, latest, params["wait_timeout"], params["wait_delay"]
            )
        except ServiceWaitError as e:
            fail_wait(module, e, result)
    module.exit_json(service=service_result(latest), deployment={}, **result)


def main():
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        task_definition=dict(type="str"),
        desired_count=dict(type="int"),
        subnets=dict(type="list", elements="str"),
        security_groups=dict(type="list", elements="str"),
        assign_public_ip=dict(type="bool"),
        load_balancers=dict(
            type="list",
            elements="dict",
            options=dict(
                target_group_arn=dict(type="str", required=True),
                container_name=dict(type="str", required=True),
                container_port=dict(type="int", required=True),
            ),
        ),
        health_check_grace_period_seconds=dict(type="int"),
        deployment_configuration=dict(
            type="dict",
            options=dict(
                minimum_healthy_percent=dict(type="int"),
                maximum_percent=dict(type="int"),
                circuit_breaker_enable=dict(type="bool"),
                circuit_breaker_rollback=dict(type="bool"),
            ),
        ),
        platform_version=dict(type="str"),
        propagate_tags=dict(type="str", choices=["NONE", "SERVICE", "TASK_DEFINITION"]),
        enable_execute_command=dict(type="bool"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        force_new_deployment=dict(type="bool", default=False),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
        wait_delay=dict(type="int", default=10),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["wait_delay"] < 1:
        module.fail_json(msg="wait_delay must be at least 1 second")
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())

    cluster, name = module.params["cluster"], module.params["name"]
    try:
        service = describe_service(client, cluster, name, include_tags=True)
    except is_boto3_error_code("ClusterNotFoundException") as e:
        module.fail_json_aws(e, msg=f"ECS cluster {cluster} does not exist")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Could not describe ECS service {name} in cluster {cluster}")

    if module.params["state"] == "present":
        ensure_present(module, client, service)
    else:
        ensure_absent(module, client, service)


if __name__ == "__main__":
    main()
