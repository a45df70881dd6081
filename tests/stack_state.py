"""The emulator's whole state of the stack, as one comparable value.

``stack_state(boto3_client)`` reads, with boto3, everything the collection creates or changes
(security groups and rules, the bucket and its settings, log groups, SSM parameters with their
types and versions, the load balancer, listeners, rules, target groups, task definition
revisions, services, DNS records, the inline policies of the ECS roles) and returns it as plain
data: two snapshots are equal exactly when no run wrote anything the collection manages.
Values AWS never returns (the OIDC client secret) are not in it; SSM values are compared through
their versions, never read.
"""

from __future__ import annotations

import botocore.exceptions

CLUSTER = "asset-manager"
ROLES = ("fulcrum-ecs-execution-role", "fulcrum-ecs-task-role")


def _or_none(call, *args, **kwargs):
    """The answer, or the error code when AWS says the thing does not exist."""
    try:
        return call(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def _strip(data, *keys):
    return {k: v for k, v in data.items() if k not in keys}


def _security_groups(ec2):
    groups = ec2.describe_security_groups()["SecurityGroups"]
    return sorted(
        (g["GroupName"], g["GroupId"], repr(g["IpPermissions"]), repr(g["IpPermissionsEgress"]))
        for g in groups
    )


def _buckets(s3):
    state = {}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        state[name] = {
            "public_access_block": _or_none(s3.get_public_access_block, Bucket=name),
            "policy": _or_none(s3.get_bucket_policy, Bucket=name),
            "encryption": _or_none(s3.get_bucket_encryption, Bucket=name),
            "versioning": _strip(s3.get_bucket_versioning(Bucket=name), "ResponseMetadata"),
            "tags": _or_none(s3.get_bucket_tagging, Bucket=name),
        }
        for value in state[name].values():
            if isinstance(value, dict):
                value.pop("ResponseMetadata", None)
    return state


def _parameters(ssm):
    described = ssm.get_paginator("describe_parameters").paginate().build_full_result()
    return sorted(
        (p["Name"], p["Type"], p["Version"], p.get("KeyId")) for p in described["Parameters"]
    )


def _load_balancing(elbv2):
    state = {"load_balancers": [], "target_groups": []}
    for lb in elbv2.describe_load_balancers()["LoadBalancers"]:
        arn = lb["LoadBalancerArn"]
        listeners = []
        for listener in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
            rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            listeners.append((repr(listener), repr(rules)))
        attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
        state["load_balancers"].append((repr(lb), repr(attributes), sorted(listeners)))
    for tg in elbv2.describe_target_groups()["TargetGroups"]:
        attributes = elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])
        state["target_groups"].append((repr(tg), repr(attributes["Attributes"])))
    return state


def _ecs(ecs):
    definitions = ecs.get_paginator("list_task_definitions").paginate().build_full_result()
    services = ecs.list_services(cluster=CLUSTER)["serviceArns"] if _cluster(ecs) else []
    described = (
        ecs.describe_services(cluster=CLUSTER, services=services)["services"] if services else []
    )
    return {
        "task_definitions": sorted(definitions["taskDefinitionArns"]),
        "services": sorted(
            (
                s["serviceName"],
                s["status"],
                s["taskDefinition"],
                s["desiredCount"],
                repr(s.get("networkConfiguration")),
                repr(s.get("loadBalancers")),
                repr(s.get("deploymentConfiguration")),
                len(s.get("deployments") or []),
            )
            for s in described
        ),
    }


def _cluster(ecs):
    clusters = ecs.describe_clusters(clusters=[CLUSTER])["clusters"]
    return any(c["status"] == "ACTIVE" for c in clusters)


def _records(route53):
    state = []
    for zone in route53.list_hosted_zones()["HostedZones"]:
        records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        state.append((zone["Name"], repr(records)))
    return sorted(state)


def _inline_policies(iam):
    state = {}
    for role in ROLES:
        names = _or_none(iam.list_role_policies, RoleName=role)
        if isinstance(names, str):
            state[role] = names
            continue
        state[role] = {
            name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in names["PolicyNames"]
        }
    return state


def stack_state(boto3_client) -> dict:
    """Everything the collection manages in the emulator, as comparable plain data."""
    logs = boto3_client("logs").describe_log_groups()["logGroups"]
    return {
        "security_groups": _security_groups(boto3_client("ec2")),
        "buckets": _buckets(boto3_client("s3")),
        "log_groups": sorted((g["logGroupName"], g.get("retentionInDays")) for g in logs),
        "parameters": _parameters(boto3_client("ssm")),
        **_load_balancing(boto3_client("elbv2")),
        **_ecs(boto3_client("ecs")),
        "records": _records(boto3_client("route53")),
        "inline_policies": _inline_policies(boto3_client("iam")),
    }


def differences(before: dict, after: dict) -> list[str]:
    """The parts of the state that differ, for an assertion message."""
    return [key for key in before.keys() | after.keys() if before.get(key) != after.get(key)]
