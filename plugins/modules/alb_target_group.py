#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: alb_target_group
version_added: 0.2.0
short_description: Converge an ALB target group, with exact check and diff mode
description:
  - Creates an ELBv2 target group or converges an existing one on its health check, attributes
    and tags. Its targets are never touched (ECS registers and deregisters them).
  - Unlike M(community.aws.elb_target_group), which has no check mode, the module reads the
    group in check mode as in a real run, never writes, reports what it would change in
    RV(changes) and, in diff mode, shows the managed settings before and after.
  - Not given means not managed. A health check setting or attribute that is not in the options
    is neither compared nor written.
  - AWS cannot change a group's protocol, port, VPC, target type or protocol version in place;
    when one of them differs the module fails before any write, naming them.
options:
  name:
    description:
      - Name of the target group.
    type: str
    required: true
  protocol:
    description:
      - Protocol the load balancer uses to reach the targets.
    type: str
    choices: [HTTP, HTTPS]
    required: true
  port:
    description:
      - Port the targets receive traffic on.
    type: int
    required: true
  vpc_id:
    description:
      - VPC of the targets.
    type: str
    required: true
  target_type:
    description:
      - Type of the targets (V(ip) for Fargate tasks).
    type: str
    choices: [instance, ip]
    required: true
  protocol_version:
    description:
      - V(HTTP1), V(HTTP2) or V(GRPC). Omitted, not managed (AWS creates V(HTTP1)).
    type: str
    choices: [HTTP1, HTTP2, GRPC]
  health_check:
    description:
      - The health check. Each setting omitted is not managed.
    type: dict
    default: {}
    suboptions:
      enabled:
        description: Whether health checks run.
        type: bool
      protocol:
        description: Protocol of the health check.
        type: str
        choices: [HTTP, HTTPS]
      port:
        description: Port of the health check, a number or V(traffic-port).
        type: str
      path:
        description: Path the health check requests.
        type: str
      interval:
        description: Seconds between two health checks of a target.
        type: int
      timeout:
        description: Seconds without a response that make a health check fail.
        type: int
      healthy_threshold:
        description: Consecutive successes that make an unhealthy target healthy.
        type: int
      unhealthy_threshold:
        description: Consecutive failures that make a healthy target unhealthy.
        type: int
      matcher:
        description: HTTP codes of a healthy response (V(200), V(200-299), V(200,202)).
        type: str
  attributes:
    description:
      - Target group attributes by their AWS key, for example
        C(deregistration_delay.timeout_seconds). Values are compared as AWS reports them
        (strings; V(true) and V(false) for booleans).
      - Only the keys given are compared and written.
    type: dict
    default: {}
  tags:
    description:
      - Tags of the target group. Omitted, the tags are not read or changed.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove the tags that are not in O(tags).
    type: bool
    default: true
notes:
  - A no-op run makes three calls (DescribeTargetGroups, DescribeTargetGroupAttributes,
    DescribeTags); the last two only with O(attributes) and O(tags).
  - Deleting a target group is M(community.aws.elb_target_group)'s job.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Ensure the web target group checks /server_info
  leverslabs.asset_manager.alb_target_group:
    name: asset-manager-web-tg
    protocol: HTTP
    port: 3000
    vpc_id: vpc-0123456789abcdef0
    target_type: ip
    health_check:
      protocol: HTTP
      port: traffic-port
      path: /server_info
      interval: 30
      timeout: 5
      healthy_threshold: 2
      unhealthy_threshold: 3
      matcher: "200"
    attributes:
      deregistration_delay.timeout_seconds: 300
    tags:
      Application: asset-manager
"""

RETURN = r"""
target_group_arn:
  description: ARN of the target group; V(null) when check mode would create it.
  returned: always
  type: str
  sample: arn:aws:elasticloadbalancing:us-west-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067
changes:
  description:
    - The settings this run changed (in check mode, would change).
    - V(target_group) when the group is created.
  returned: always
  type: list
  elements: str
  sample: [health_check.path, attributes.deregistration_delay.timeout_seconds]
diff:
  description: The managed settings before (V({}) when the group did not exist) and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The settings as they were.
      type: dict
    after:
      description: The settings as this run leaves them.
      type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    BOTO_ERRORS,
    AssetManagerModule,
)
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.elbv2 import (
    attribute_value,
    describe_tags,
    write_tags,
)
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.tags import plan_tags

# Settings AWS fixes when the group is created: option -> DescribeTargetGroups key.
IMMUTABLE = {
    "protocol": "Protocol",
    "port": "Port",
    "vpc_id": "VpcId",
    "target_type": "TargetType",
    "protocol_version": "ProtocolVersion",
}
# Health check option -> DescribeTargetGroups key (and ModifyTargetGroup parameter).
HEALTH_CHECK = {
    "enabled": "HealthCheckEnabled",
    "protocol": "HealthCheckProtocol",
    "port": "HealthCheckPort",
    "path": "HealthCheckPath",
    "interval": "HealthCheckIntervalSeconds",
    "timeout": "HealthCheckTimeoutSeconds",
    "healthy_threshold": "HealthyThresholdCount",
    "unhealthy_threshold": "UnhealthyThresholdCount",
}


# ---- boto3 calls ---------------------------------------------------------------------------


def describe_target_group(client, name):
    try:
        groups = client.describe_target_groups(Names=[name], aws_retry=True)["TargetGroups"]
    except is_boto3_error_code("TargetGroupNotFound"):
        return None
    return groups[0] if groups else None


def describe_attributes(client, arn):
    response = client.describe_target_group_attributes(TargetGroupArn=arn, aws_retry=True)
    return {a["Key"]: a["Value"] for a in response.get("Attributes", [])}


def create_target_group(client, desired, tags):
    kwargs = {
        "Name": desired["name"],
        **{IMMUTABLE[k]: v for k, v in desired.items() if k in IMMUTABLE and v is not None},
        **health_check_request(desired["health_check"]),
    }
    if tags:
        kwargs["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    return client.create_target_group(aws_retry=True, **kwargs)["TargetGroups"][0]


def modify_attributes(client, arn, attributes):
    client.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": k, "Value": v} for k, v in sorted(attributes.items())],
        aws_retry=True,
    )


# ---- the comparison ------------------------------------------------------------------------


def health_check_request(health_check):
    """CreateTargetGroup/ModifyTargetGroup parameters of the given health check settings."""
    request = {HEALTH_CHECK[k]: v for k, v in health_check.items() if k in HEALTH_CHECK}
    if "matcher" in health_check:
        request["Matcher"] = {"HttpCode": health_check["matcher"]}
    return request


def desired_settings(params):
    health_check = {k: v for k, v in (params["health_check"] or {}).items() if v is not None}
    return {
        "name": params["name"],
        "protocol": params["protocol"],
        "port": params["port"],
        "vpc_id": params["vpc_id"],
        "target_type": params["target_type"],
        "protocol_version": params["protocol_version"],
        "health_check": health_check,
        "attributes": {str(k): attribute_value(v) for k, v in params["attributes"].items()},
    }


def current_settings(group, attributes, tags):
    """The module's view of a described group (every setting it can manage)."""
    health_check = {key: group.get(aws_key) for key, aws_key in HEALTH_CHECK.items()}
    if health_check["port"] is not None:
        health_check["port"] = str(health_check["port"])
    health_check["matcher"] = (group.get("Matcher") or {}).get("HttpCode")
    current = {key: group.get(aws_key) for key, aws_key in IMMUTABLE.items()}
    current.update(health_check=health_check, attributes=attributes or {})
    if tags is not None:
        current["tags"] = tags
    return current


def compare_target_group(desired, current, wanted_tags=None, purge_tags=True):
    """What converging ``current`` (None when the group does not exist) onto ``desired`` takes;
    pure, no AWS call.

    Returns a dict: ``changes`` (setting names), ``immutable`` (settings that differ and cannot
    be changed in place), ``health_check`` and ``attributes`` (what to write), ``tags_to_set``,
    ``tags_to_unset``, and ``before`` and ``after`` (the managed settings, for the diff).
    """
    plan = {
        "changes": [],
        "immutable": [],
        "health_check": {},
        "attributes": {},
        "tags_to_set": {},
        "tags_to_unset": [],
    }
    managed_immutable = [k for k in IMMUTABLE if desired[k] is not None]
    after = {k: desired[k] for k in managed_immutable}
    after["health_check"] = dict(desired["health_check"])
    after["attributes"] = dict(desired["attributes"])
    if wanted_tags is not None:
        after["tags"] = dict(wanted_tags)
    if current is None:
        plan.update(
            changes=["target_group"],
            attributes=dict(desired["attributes"]),
            tags_to_set=dict(wanted_tags or {}),
            before={},
            after=after,
        )
        return plan

    before = {k: current[k] for k in managed_immutable}
    before["health_check"] = {k: current["health_check"].get(k) for k in desired["health_check"]}
    before["attributes"] = {k: current["attributes"].get(k) for k in desired["attributes"]}
    plan["immutable"] = [k for k in managed_immutable if current[k] != desired[k]]
    for key, value in desired["health_check"].items():
        if current["health_check"].get(key) != value:
            plan["health_check"][key] = value
            plan["changes"].append(f"health_check.{key}")
    for key, value in desired["attributes"].items():
        if current["attributes"].get(key) != value:
            plan["attributes"][key] = value
            plan["changes"].append(f"attributes.{key}")
    if wanted_tags is not None:
        before["tags"] = dict(current.get("tags") or {})
        to_set, to_unset, after["tags"] = plan_tags(before["tags"], wanted_tags, purge_tags)
        plan.update(tags_to_set=to_set, tags_to_unset=to_unset)
        if to_set or to_unset:
            plan["changes"].append("tags")
    plan.update(before=before, after=after)
    return plan


# ---- the module ----------------------------------------------------------------------------


def apply_plan(client, desired, group, plan, wanted_tags):
    """Write what ``plan`` says; returns the group's ARN."""
    if group is None:
        arn = create_target_group(client, desired, plan["tags_to_set"])["TargetGroupArn"]
        if plan["attributes"]:
            modify_attributes(client, arn, plan["attributes"])
        return arn
    arn = group["TargetGroupArn"]
    if plan["health_check"]:
        client.modify_target_group(
            TargetGroupArn=arn, aws_retry=True, **health_check_request(plan["health_check"])
        )
    if plan["attributes"]:
        modify_attributes(client, arn, plan["attributes"])
    write_tags(client, arn, plan["tags_to_set"], plan["tags_to_unset"])
    return arn


def main():
    health_check_options = dict(
        enabled=dict(type="bool"),
        protocol=dict(type="str", choices=["HTTP", "HTTPS"]),
        port=dict(type="str"),
        path=dict(type="str"),
        interval=dict(type="int"),
        timeout=dict(type="int"),
        healthy_threshold=dict(type="int"),
        unhealthy_threshold=dict(type="int"),
        matcher=dict(type="str"),
    )
    argument_spec = dict(
        name=dict(type="str", required=True),
        protocol=dict(type="str", required=True, choices=["HTTP", "HTTPS"]),
        port=dict(type="int", required=True),
        vpc_id=dict(type="str", required=True),
        target_type=dict(type="str", required=True, choices=["instance", "ip"]),
        protocol_version=dict(type="str", choices=["HTTP1", "HTTP2", "GRPC"]),
        health_check=dict(type="dict", default={}, options=health_check_options),
        attributes=dict(type="dict", default={}),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    name = params["name"]
    desired = desired_settings(params)
    wanted_tags = None
    if params["tags"] is not None:
        wanted_tags = {str(k): str(v) for k, v in params["tags"].items()}

    client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        group = describe_target_group(client, name)
        current = None
        if group is not None:
            arn = group["TargetGroupArn"]
            attributes = describe_attributes(client, arn) if desired["attributes"] else {}
            tags = describe_tags(client, arn) if wanted_tags is not None else None
            current = current_settings(group, attributes, tags)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to read target group {name}")

    plan = compare_target_group(desired, current, wanted_tags, params["purge_tags"])
    if plan["immutable"]:
        found = ", ".join(f"{k} {current[k]!r} (wanted {desired[k]!r})" for k in plan["immutable"])
        module.fail_json(
            msg=f"Target group {name} exists with {found}, which AWS cannot change in place. "
            "Delete the target group, then run again. Nothing was changed."
        )

    result = {
        "changed": bool(plan["changes"]),
        "changes": plan["changes"],
        "target_group_arn": group["TargetGroupArn"] if group else None,
    }
    if module._diff:
        result["diff"] = {"before": plan["before"], "after": plan["after"]}
    if module.check_mode or not plan["changes"]:
        module.exit_json(**result)
    try:
        result["target_group_arn"] = apply_plan(client, desired, group, plan, wanted_tags)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to write target group {name}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
