"""The emulator's whole state of the stack, as comparable data: the one reader of it for tests.

``snapshot(endpoint)`` reads, with boto3, everything the collection creates or changes (security
groups and rules, the bucket and its settings, log groups, SSM parameters with types, versions and
value digests, load balancers with attributes, listeners, rules, target groups with health checks
and attributes, task definition revisions, services, DNS records, the alarms, the cluster's
settings, the ECS roles' inline policies). ``shape`` is equal for any two deploys of the same
inputs (on two emulators too); ``ids`` holds the ids, ARNs, revisions and versions a rerun must
leave alone. Two snapshots of one emulator are equal exactly when nothing the collection manages
was written.
"""

from __future__ import annotations

import hashlib
import json

import botocore.exceptions

REGION = "us-west-1"
NAME = "asset-manager"
FAMILIES = tuple(f"{NAME}-{c}" for c in ("run", "web", "daemon"))
ROLES = ("fulcrum-ecs-execution-role", "fulcrum-ecs-task-role")
# The bucket's settings the storage role writes, read with these S3 calls.
BUCKET_READS = (
    "get_bucket_policy",
    "get_public_access_block",
    "get_bucket_encryption",
    "get_bucket_ownership_controls",
    "get_bucket_acl",
    "get_bucket_tagging",
    "get_bucket_versioning",
    "get_bucket_lifecycle_configuration",
    "get_bucket_logging",
    "get_bucket_replication",
    "get_object_lock_configuration",
    "get_bucket_notification_configuration",
)


def read(call, **kwargs):
    """A read's answer without its metadata, or the error code when there is nothing to read."""
    try:
        answer = call(**kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    answer.pop("ResponseMetadata", None)
    return answer


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _ours(name: str) -> bool:
    return name.startswith(NAME) or name.startswith(f"fulcrum/{NAME}/")


def snapshot(endpoint: str) -> dict:
    """The stack as the emulator holds it, everything the collection creates or changes:
    ``shape``, names, types, settings and counts without ids, equal for any two deploys of the
    same inputs (so also a count of every name: a duplicate shows); ``ids``, the ids, ARNs,
    revisions and parameter versions, which a rerun must leave alone."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )

    def client(service):
        return session.client(service, endpoint_url=endpoint)

    ec2, elbv2, ecs, ssm = client("ec2"), client("elbv2"), client("ecs"), client("ssm")
    shape, ids = {}, {}

    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["fulcrum-vpc"]}])["Vpcs"][0]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "SecurityGroups"
    ]
    groups = [g for g in groups if _ours(g["GroupName"])]
    names = {g["GroupId"]: g["GroupName"] for g in groups}
    rules = []
    if names:
        rules = ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": list(names)}]
        )["SecurityGroupRules"]

    def rule(r):
        peer = r.get("CidrIpv4") or r.get("CidrIpv6") or r.get("PrefixListId")
        if not peer:
            referenced = (r.get("ReferencedGroupInfo") or {}).get("GroupId")
            peer = names.get(referenced, referenced)
        direction = "egress" if r["IsEgress"] else "ingress"
        return (names[r["GroupId"]], direction, r["IpProtocol"], r.get("FromPort"),
                r.get("ToPort"), peer, r.get("Description"))  # fmt: skip

    def tags(items, key="Key", value="Value"):
        return sorted((t[key], t[value]) for t in items or [])

    shape["security_groups"] = sorted(
        (g["GroupName"], g["Description"], _digest(tags(g.get("Tags")))) for g in groups
    )
    shape["security_group_rules"] = sorted(map(rule, rules))
    ids["security_groups"] = sorted(names.items())
    ids["security_group_rules"] = sorted(r["SecurityGroupRuleId"] for r in rules)

    s3 = client("s3")
    shape["buckets"] = sorted(
        (b["Name"], *(_digest(read(getattr(s3, call), Bucket=b["Name"])) for call in BUCKET_READS))
        for b in s3.list_buckets()["Buckets"]
        if _ours(b["Name"])
    )
    shape["log_groups"] = sorted(
        (g["logGroupName"], g.get("retentionInDays"), g.get("kmsKeyId"))
        for g in client("logs").describe_log_groups(logGroupNamePrefix=f"fulcrum/{NAME}/")[
            "logGroups"
        ]
    )

    pages = ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [f"/{NAME}"]}]
    )
    parameters = pages.build_full_result()["Parameters"]
    values = {}
    for start in range(0, len(parameters), 10):
        batch = [p["Name"] for p in parameters[start : start + 10]]
        for p in ssm.get_parameters(Names=batch, WithDecryption=True)["Parameters"]:
            values[p["Name"]] = _digest(p["Value"])
    shape["parameters"] = sorted(
        (p["Name"], p["Type"], p["Version"], values.get(p["Name"])) for p in parameters
    )
    ids["parameters"] = shape["parameters"]

    balancers = [b for b in elbv2.describe_load_balancers()["LoadBalancers"]
                 if _ours(b["LoadBalancerName"])]  # fmt: skip
    target_groups = [t for t in elbv2.describe_target_groups()["TargetGroups"]
                     if _ours(t["TargetGroupName"])]  # fmt: skip
    arns = {b["LoadBalancerArn"]: b["LoadBalancerName"] for b in balancers}
    arns.update({t["TargetGroupArn"]: t["TargetGroupName"] for t in target_groups})
    dns = {b["DNSName"].lower().rstrip("."): b["LoadBalancerName"] for b in balancers}
    shape["load_balancers"] = sorted(
        (b["LoadBalancerName"], b["Scheme"], b["Type"],
         tuple(sorted(names.get(s, s) for s in b.get("SecurityGroups", []))),
         _digest(elbv2.describe_load_balancer_attributes(
             LoadBalancerArn=b["LoadBalancerArn"])["Attributes"]))
        for b in balancers
    )  # fmt: skip
    shape["target_groups"] = sorted(
        (t["TargetGroupName"], t["Protocol"], t["Port"],
         _digest({k: v for k, v in t.items() if k.startswith("HealthCheck") or k == "Matcher"}),
         _digest(elbv2.describe_target_group_attributes(
             TargetGroupArn=t["TargetGroupArn"])["Attributes"]),
         tuple(sorted(arns.get(a, a) for a in t.get("LoadBalancerArns", []))))
        for t in target_groups
    )  # fmt: skip
    ids["load_balancers"] = sorted(arns)
    shape["listeners"], shape["listener_rules"], ids["listeners"] = [], [], []
    for b in balancers:
        for listener in elbv2.describe_listeners(LoadBalancerArn=b["LoadBalancerArn"])["Listeners"]:
            shape["listeners"].append(
                (b["LoadBalancerName"], listener["Protocol"], listener["Port"],
                 tuple(a["Type"] for a in listener["DefaultActions"]))
            )  # fmt: skip
            ids["listeners"].append(listener["ListenerArn"])
            for r in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
                actions = tuple(
                    (a["Type"], arns.get(a.get("TargetGroupArn"))) for a in r["Actions"]
                )
                shape["listener_rules"].append(
                    (b["LoadBalancerName"], listener["Port"], r["Priority"],
                     _digest(r["Conditions"]), actions)
                )  # fmt: skip
                ids["listeners"].append(r["RuleArn"])
    for key in ("listeners", "listener_rules"):
        shape[key].sort()
    ids["listeners"].sort()

    shape["task_definitions"], ids["task_definitions"] = {}, {}
    for family in FAMILIES:
        active = sorted(
            int(arn.rsplit(":", 1)[1])
            for arn in ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")[
                "taskDefinitionArns"
            ]
            if arn.split("/")[-1].rsplit(":", 1)[0] == family
        )
        shape["task_definitions"][family] = len(active)
        ids["task_definitions"][family] = active
    listed = ecs.list_services(cluster=NAME)["serviceArns"]
    services = ecs.describe_services(cluster=NAME, services=listed)["services"] if listed else []
    # A deleted service stays describable, INACTIVE, for a while (moto lists it too).
    services = [s for s in services if s["status"] != "INACTIVE"]
    shape["services"] = sorted(
        (s["serviceName"], s["status"], s["desiredCount"],
         s["taskDefinition"].split("/")[-1].rsplit(":", 1)[0], len(s.get("deployments", [])),
         tuple(arns.get(lb.get("targetGroupArn"), "?") for lb in s.get("loadBalancers", [])),
         _digest(s.get("deploymentConfiguration")), s.get("healthCheckGracePeriodSeconds"))
        for s in services
    )  # fmt: skip
    # The network names the emulator's own subnet and group IDs: an id, not a shape.
    ids["services"] = sorted(
        (s["serviceArn"], s["taskDefinition"], _digest(s.get("networkConfiguration")))
        for s in services
    )

    route53 = client("route53")
    shape["records"] = []
    for zone in route53.list_hosted_zones()["HostedZones"]:
        records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        for record in records:
            if record["Type"] in ("NS", "SOA"):
                continue
            alias = record.get("AliasTarget", {}).get("DNSName", "").lower().rstrip(".")
            shape["records"].append((record["Name"], record["Type"], dns.get(alias, alias)))
    shape["records"].sort()

    # The alarms' settings; their dimensions name the load balancer and target group by id.
    alarms = client("cloudwatch").describe_alarms(AlarmNamePrefix=NAME)["MetricAlarms"]
    shape["alarms"] = sorted(
        (a["AlarmName"], a.get("ComparisonOperator"), a.get("Threshold"),
         a.get("EvaluationPeriods"), a.get("TreatMissingData"), _digest(a.get("AlarmActions")))
        for a in alarms
    )  # fmt: skip
    ids["alarms"] = sorted(
        (a["AlarmName"], _digest(a.get("Metrics") or a.get("Dimensions"))) for a in alarms
    )
    (cluster,) = ecs.describe_clusters(clusters=[NAME], include=["SETTINGS"])["clusters"]
    shape["cluster_settings"] = sorted((x["name"], x["value"]) for x in cluster.get("settings", []))

    iam = client("iam")
    shape["role_policies"] = sorted(
        (
            role,
            policy,
            _digest(iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]),
        )
        for role in ROLES
        for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]
    )
    return {"shape": shape, "ids": ids}


def differences(actual: dict, expected: dict) -> dict:
    return {
        key: {"actual": actual.get(key), "expected": expected.get(key)}
        for key in sorted(set(actual) | set(expected))
        if actual.get(key) != expected.get(key)
    }
