"""The drift table: every out-of-band change to a deployed stack is planned, then repaired.

One stack for the file. The table's rows run in two rounds, each on the converged stack: round 1
removes things (a public access block, a rule, a listener, a record, a policy...), round 2 changes
them. Each row makes one change with boto3 and reads back, with boto3, the setting it changed. A
round makes all its changes, then runs `site.yml --check --diff`, `site.yml` and `site.yml`
again. Each row asserts that:

- the emulator took the change (the setting differs from the deployed one);
- the plan reports the row's task changed, with a diff whose before and after show the change;
- the plan wrote nothing (every row's setting reads as it did before the plan);
- the run repaired it (the setting reads as deployed again), and the rerun changed nothing.

A round also asserts that its plan reports no task no row explains, and shows no secret.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

CLUSTER = "asset-manager"
BUCKET = "asset-manager-artifacts"
ALB = "asset-manager-alb"
TARGET_GROUP = "asset-manager-web-tg"
ALB_SG = "asset-manager-alb-sg"
SERVICES_SG = "asset-manager-services-sg"
LOGS = "fulcrum/asset-manager/"
SSM = "/asset-manager/"
HOST = "dg.leverslabs.com."
ZONE = "leverslabs.com."
EXECUTION_ROLE, EXECUTION_POLICY = "fulcrum-ecs-execution-role", "asset-manager-task-execution"
TASK_ROLE, TASK_POLICY = "fulcrum-ecs-task-role", "asset-manager-run-launcher"
WEB, DAEMON = "asset-manager-web", "asset-manager-daemon"
SECRETS = ("local-test-client-secret", "local-test-pg-password")
EVIL_IMAGE = "public.ecr.aws/evil/image:latest"

# The tasks that plan each resource (the end of their names).
T_ALB_SG = "Ensure the ALB security group allows HTTPS and HTTP in and only the webserver port out"
T_SERVICES_SG = "Ensure the services security group allows only the declared traffic"
T_BUCKET = "Ensure the artifacts bucket is private, encrypted and TLS-only"
T_LOGS = "Ensure the log groups exist with their retention"
T_SSM = "Converge the parameters"
T_TG = "Ensure the web target group checks /server_info"
T_ALB = "Ensure the load balancer and its HTTPS and HTTP listeners"
T_RULE = "Ensure the login rule authenticates with Auth0, then forwards to the web service"
T_IAM = "Ensure the inline policy on each role"
T_TASKDEFS = "Register the web and daemon task definitions when they changed"
T_WEB = "Converge the web service behind the target group"
T_DAEMON = "Converge the daemon service, one task at most"
T_RECORD = "Ensure the public host name is an alias of the load balancer"
T_ALARMS = "Ensure the task count, target health and 5xx alarms"
T_INSIGHTS = "Ensure Container Insights for the task count alarms"
ALARMS = (f"{DAEMON}-not-one-task", f"{WEB}-below-desired", f"{TARGET_GROUP}-unhealthy-hosts",
          f"{ALB}-elb-5xx", f"{TARGET_GROUP}-target-5xx")  # fmt: skip
DAEMON_ALARM, UNHEALTHY_ALARM = ALARMS[0], ALARMS[2]


# ---- the emulator, read and changed with boto3 ------------------------------------------------


class Aws:
    """boto3 clients of the emulator and the stack's resources, looked up by name each time (a
    repair may recreate them under a new ARN)."""

    def __init__(self, client):
        for service in ("s3", "ec2", "elbv2", "logs", "ssm", "iam", "ecs", "route53", "acm",
                        "cloudwatch"):  # fmt: skip
            setattr(self, service, client(service))

    def group(self, name):
        groups = self.ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}]
        )["SecurityGroups"]
        return groups[0]

    def balancer(self):
        return self.elbv2.describe_load_balancers(Names=[ALB])["LoadBalancers"][0]

    def target_group(self):
        return self.elbv2.describe_target_groups(Names=[TARGET_GROUP])["TargetGroups"][0]

    def listeners(self):
        arn = self.balancer()["LoadBalancerArn"]
        return {
            x["Port"]: x for x in self.elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
        }

    def rule(self):
        """The login rule (priority 100 on the HTTPS listener), or None."""
        rules = self.elbv2.describe_rules(ListenerArn=self.listeners()[443]["ListenerArn"])
        found = [r for r in rules["Rules"] if r["Priority"] == "100"]
        return found[0] if found else None

    def zone(self):
        zones = self.route53.list_hosted_zones()["HostedZones"]
        return next(z["Id"] for z in zones if z["Name"] == ZONE)

    def record(self):
        records = self.route53.list_resource_record_sets(HostedZoneId=self.zone())
        found = [r for r in records["ResourceRecordSets"] if r["Name"] == HOST and r["Type"] == "A"]
        return found[0] if found else None

    def service(self, name):
        described = self.ecs.describe_services(cluster=CLUSTER, services=[name], include=["TAGS"])
        return described["services"][0]


def _missing(call):
    """The answer of a read, or None when AWS says there is no such thing."""
    try:
        return call()
    except Exception as error:  # botocore's ClientError and the services' NotFound exceptions
        if "NotFound" in type(error).__name__ or "NoSuch" in str(error) or "NotFound" in str(error):
            return None
        raise


def bucket(setting):
    calls = {
        "pab": lambda a: a.s3.get_public_access_block(Bucket=BUCKET)[
            "PublicAccessBlockConfiguration"
        ],
        "policy": lambda a: json.loads(a.s3.get_bucket_policy(Bucket=BUCKET)["Policy"]),
        "encryption": lambda a: a.s3.get_bucket_encryption(Bucket=BUCKET)[
            "ServerSideEncryptionConfiguration"
        ],
        "ownership": lambda a: a.s3.get_bucket_ownership_controls(Bucket=BUCKET)[
            "OwnershipControls"
        ],
        "acl": lambda a: sorted(
            g["Grantee"].get("URI", "owner") + " " + g["Permission"]
            for g in a.s3.get_bucket_acl(Bucket=BUCKET)["Grants"]
        ),
        "tags": lambda a: a.s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"],
        "versioning": lambda a: a.s3.get_bucket_versioning(Bucket=BUCKET).get("Status"),
        "lifecycle": lambda a: a.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"],
    }
    return lambda a: _missing(lambda: calls[setting](a))


def log_group(name):
    def read(a):
        found = a.logs.describe_log_groups(logGroupNamePrefix=LOGS + name)["logGroups"]
        found = [g for g in found if g["logGroupName"] == LOGS + name]
        if not found:
            return None
        tags = a.logs.list_tags_for_resource(resourceArn=found[0]["logGroupArn"])["tags"]
        return {"retention": found[0].get("retentionInDays"), "tags": tags}

    return read


def rules(name, direction="IpPermissions"):
    """A group's rules of one direction, by protocol, ports and peer (a group by its name)."""

    def read(a):
        names = {
            g["GroupId"]: g["GroupName"] for g in a.ec2.describe_security_groups()["SecurityGroups"]
        }
        found = []
        for rule in a.group(name)[direction]:
            ports = (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"))
            for peer in rule.get("IpRanges", []):
                found.append((*ports, peer["CidrIp"], peer.get("Description")))
            for peer in rule.get("UserIdGroupPairs", []):
                found.append((*ports, names.get(peer["GroupId"]), peer.get("Description")))
        return sorted(found, key=repr)

    return read


def group_tags(name):
    return lambda a: sorted((t["Key"], t["Value"]) for t in a.group(name).get("Tags", []))


def parameter(name, tags=False):
    def read(a):
        found = _missing(lambda: a.ssm.get_parameter(Name=SSM + name, WithDecryption=True))
        if found is None:
            return None
        if tags:
            listed = a.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=SSM + name)
            return sorted((t["Key"], t["Value"]) for t in listed["TagList"])
        return (found["Parameter"]["Type"], found["Parameter"]["Value"])

    return read


def inline_policy(role, name):
    return lambda a: _missing(
        lambda: a.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    )


def health_check(*keys):
    return lambda a: {k: a.target_group().get(k) for k in keys}


def target_group_attribute(key):
    def read(a):
        arn = a.target_group()["TargetGroupArn"]
        attributes = a.elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        return {x["Key"]: x["Value"] for x in attributes}[key]

    return read


def elb_tags(arn_of):
    def read(a):
        described = a.elbv2.describe_tags(ResourceArns=[arn_of(a)])["TagDescriptions"][0]
        return sorted((t["Key"], t["Value"]) for t in described["Tags"])

    return read


def balancer_attributes(*keys):
    def read(a):
        arn = a.balancer()["LoadBalancerArn"]
        attributes = a.elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
        return {x["Key"]: x["Value"] for x in attributes if x["Key"] in keys}

    return read


def balancer_groups(a):
    names = {
        g["GroupId"]: g["GroupName"] for g in a.ec2.describe_security_groups()["SecurityGroups"]
    }
    return sorted(names[g] for g in a.balancer()["SecurityGroups"])


def listener(port, *keys):
    """Some settings of the listener on ``port`` (None when there is none); a forward names
    its target group by name, as the ARN may be another after a repair."""

    def read(a):
        found = a.listeners().get(port)
        if found is None:
            return None
        view = {k: found.get(k) for k in keys}
        if "DefaultActions" in view:
            view["DefaultActions"] = json.loads(
                json.dumps(view["DefaultActions"]).replace(a.target_group()["TargetGroupArn"], "tg")
            )
        return view

    return read


def listener_ports(a):
    return sorted(a.listeners())


def balancer_subnet_types(a):
    zones = a.balancer()["AvailabilityZones"]
    subnets = a.ec2.describe_subnets(SubnetIds=[z["SubnetId"] for z in zones])["Subnets"]
    return sorted(t["Value"] for s in subnets for t in s.get("Tags", []) if t["Key"] == "Type")


def move_balancer_to_private_subnets(a):
    private = a.ec2.describe_subnets(Filters=[{"Name": "tag:Type", "Values": ["private"]}])
    a.elbv2.set_subnets(
        LoadBalancerArn=a.balancer()["LoadBalancerArn"],
        Subnets=[s["SubnetId"] for s in private["Subnets"]],
    )


def rule_tag_keys(a):
    rule = a.rule()
    if rule is None:
        return None
    described = a.elbv2.describe_tags(ResourceArns=[rule["RuleArn"]])["TagDescriptions"][0]
    return sorted(t["Key"] for t in described["Tags"])


def untag_rule(a):
    rule_arn = a.rule()["RuleArn"]
    keys = [
        t["Key"]
        for t in a.elbv2.describe_tags(ResourceArns=[rule_arn])["TagDescriptions"][0]["Tags"]
    ]
    a.elbv2.remove_tags(ResourceArns=[rule_arn], TagKeys=keys)


def login_rule(part):
    def read(a):
        rule = a.rule()
        if rule is None:
            return None
        if part == "hosts":
            condition = rule["Conditions"][0]
            return condition.get("HostHeaderConfig", {}).get("Values", condition.get("Values"))
        oidc = next(x for x in rule["Actions"] if x["Type"] == "authenticate-oidc")
        return oidc["AuthenticateOidcConfig"][part]

    return read


def record(part):
    def read(a):
        found = a.record()
        return None if found is None else found["AliasTarget"][part]

    return read


def service(name, part):
    def read(a):
        found = a.service(name)
        if part == "network":
            network = found["networkConfiguration"]["awsvpcConfiguration"]
            names = {
                g["GroupId"]: g["GroupName"]
                for g in a.ec2.describe_security_groups()["SecurityGroups"]
            }
            return (network["assignPublicIp"], sorted(names[g] for g in network["securityGroups"]))
        if part == "tags":
            return sorted((t["key"], t["value"]) for t in found.get("tags", []))
        return found.get(part)

    return read


def web_revisions(a):
    """The image of the web family's latest revision, and whether the service runs it."""
    latest = a.ecs.describe_task_definition(taskDefinition=WEB)["taskDefinition"]
    runs = a.service(WEB)["taskDefinition"] == latest["taskDefinitionArn"]
    return (latest["containerDefinitions"][0]["image"], runs)


# ---- the changes --------------------------------------------------------------------------


def put_policy(a, edit):
    document = json.loads(a.s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    a.s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(edit(document)))


def public_read(document):
    statement = {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    return {**document, "Statement": [*document["Statement"], statement]}


def ownership_and_public_acl(a):
    a.s3.put_bucket_ownership_controls(
        Bucket=BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    a.s3.put_bucket_acl(Bucket=BUCKET, ACL="public-read")


def tcp(port, cidr="0.0.0.0/0", description=None):
    peer = {"CidrIp": cidr, **({"Description": description} if description else {})}
    return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [peer]}]


def ingress(name, permissions, revoke=False):
    def make(a):
        group_id = a.group(name)["GroupId"]
        call = (
            a.ec2.revoke_security_group_ingress
            if revoke
            else a.ec2.authorize_security_group_ingress
        )
        call(GroupId=group_id, IpPermissions=permissions)

    return make


def egress(name, permissions, revoke=False):
    def make(a):
        group_id = a.group(name)["GroupId"]
        call = (
            a.ec2.revoke_security_group_egress if revoke else a.ec2.authorize_security_group_egress
        )
        call(GroupId=group_id, IpPermissions=permissions)

    return make


def edit_inline_policy(a):
    document = a.iam.get_role_policy(RoleName=TASK_ROLE, PolicyName=TASK_POLICY)["PolicyDocument"]
    extra = {"Sid": "OutOfBand", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    document["Statement"].append(extra)
    a.iam.put_role_policy(
        RoleName=TASK_ROLE, PolicyName=TASK_POLICY, PolicyDocument=json.dumps(document)
    )


def modify_target_group(**settings):
    return lambda a: a.elbv2.modify_target_group(
        TargetGroupArn=a.target_group()["TargetGroupArn"], **settings
    )


def set_balancer_attributes(**attributes):
    def make(a):
        a.elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=a.balancer()["LoadBalancerArn"],
            Attributes=[{"Key": k.replace("__", "."), "Value": v} for k, v in attributes.items()],
        )

    return make


def modify_listener(port, **settings):
    return lambda a: a.elbv2.modify_listener(
        ListenerArn=a.listeners()[port]["ListenerArn"], **settings
    )


def forward_http_to_web(a):
    forward = [{"Type": "forward", "TargetGroupArn": a.target_group()["TargetGroupArn"]}]
    a.elbv2.modify_listener(ListenerArn=a.listeners()[80]["ListenerArn"], DefaultActions=forward)


def other_certificate(a):
    """A second issued certificate (self-signed, imported), for another name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other.leverslabs.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return a.acm.import_certificate(
        Certificate=certificate.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )["CertificateArn"]


def replace_certificate(a):
    a.elbv2.modify_listener(
        ListenerArn=a.listeners()[443]["ListenerArn"],
        Certificates=[{"CertificateArn": other_certificate(a)}],
    )


def extra_listener(a):
    a.elbv2.create_listener(
        LoadBalancerArn=a.balancer()["LoadBalancerArn"],
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": a.target_group()["TargetGroupArn"]}],
    )


def edit_rule(conditions=None, oidc=None):
    """Change the login rule's host names or an OIDC setting, keeping the secret AWS holds."""

    def make(a):
        rule = a.rule()
        actions = json.loads(json.dumps(rule["Actions"]))
        for action in actions:
            if action["Type"] == "authenticate-oidc":
                action["AuthenticateOidcConfig"].update(oidc or {}, UseExistingClientSecret=True)
            if action["Type"] == "forward":
                action.pop("ForwardConfig", None)
        kwargs = {"RuleArn": rule["RuleArn"], "Actions": actions}
        if conditions:
            kwargs["Conditions"] = conditions
        a.elbv2.modify_rule(**kwargs)

    return make


def delete_rule(a):
    a.elbv2.delete_rule(RuleArn=a.rule()["RuleArn"])


def upsert_record(**alias):
    def make(a):
        current = a.record()
        current["AliasTarget"].update(alias)
        change = {"Action": "UPSERT", "ResourceRecordSet": current}
        a.route53.change_resource_record_sets(
            HostedZoneId=a.zone(), ChangeBatch={"Changes": [change]}
        )

    return make


def delete_record(a):
    change = {"Action": "DELETE", "ResourceRecordSet": a.record()}
    a.route53.change_resource_record_sets(HostedZoneId=a.zone(), ChangeBatch={"Changes": [change]})


def update_service(name, **settings):
    return lambda a: a.ecs.update_service(cluster=CLUSTER, service=name, **settings)


def daemon_in_public(a):
    network = a.service(DAEMON)["networkConfiguration"]["awsvpcConfiguration"]
    a.ecs.update_service(
        cluster=CLUSTER,
        service=DAEMON,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": network["subnets"],
                "securityGroups": [a.group(ALB_SG)["GroupId"]],
                "assignPublicIp": "ENABLED",
            }
        },
    )


def register_out_of_band(a):
    """A new latest revision of the web family, another image, registered by hand."""
    latest = a.ecs.describe_task_definition(taskDefinition=WEB)["taskDefinition"]
    keep = ("family", "containerDefinitions", "cpu", "memory", "networkMode")
    keep += ("requiresCompatibilities", "executionRoleArn", "taskRoleArn")
    definition = {k: latest[k] for k in keep if k in latest}
    definition["containerDefinitions"][0]["image"] = EVIL_IMAGE
    a.ecs.register_task_definition(**definition)


# ---- how a diff shows a change ---------------------------------------------------------------


def dig(data, *path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def ports(permissions):
    return {int(p["from_port"]) for p in permissions or [] if p.get("from_port") is not None}


def protocols(permissions):
    return {str(p.get("ip_protocol")) for p in permissions or []}


def sids(policies, name):
    return {s.get("Sid") for s in (dig(policies, name, "Statement") or [])}


def statement_effects(policy):
    return [s["Effect"] for s in (policy or {}).get("Statement", [])]


def changed_field(*path, before=None, after=None):
    """The diff shows ``path`` going from ``before`` to ``after`` (both given or only checked
    to differ when one is omitted)."""

    def shows(b, a):
        old, new = dig(b, *path), dig(a, *path)
        if old == new:
            return False
        return (before is None or old == before) and (after is None or new == after)

    return shows


def ssm_field(name, field, before, after):
    return changed_field(SSM + name, field, before=before, after=after)


def log_field(name, field, before=None, after=None):
    return changed_field(LOGS + name, field, before=before, after=after)


def alarm(name, field):
    def read(a):
        found = a.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return found[0].get(field) if found else None

    return read


def container_insights(a):
    (cluster,) = a.ecs.describe_clusters(clusters=[CLUSTER], include=["SETTINGS"])["clusters"]
    return {s["name"]: s["value"] for s in cluster.get("settings") or []}.get("containerInsights")


def edit_alarm(name, **changes):
    """PutMetricAlarm again with the alarm's own settings and ``changes``, as the console does."""

    def make(a):
        (found,) = a.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        keys = ("AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions",
                "OKActions", "MetricName", "Namespace", "Statistic", "Dimensions", "Period",
                "EvaluationPeriods", "Threshold", "ComparisonOperator",
                "TreatMissingData")  # fmt: skip
        a.cloudwatch.put_metric_alarm(**{**{k: found[k] for k in keys if k in found}, **changes})

    return make


# ---- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    name: str
    round: int
    task: str
    make: Callable[[Aws], Any]
    read: Callable[[Aws], Any]
    shows: Callable[[Any, Any], bool]
    also: tuple[str, ...] = ()  # other tasks this change rightly makes the plan report

    def __str__(self):
        return self.name


# Each row: Drift(name, round, task, make, read, shows[, also]).
DRIFTS = [
    # Round 1: things removed.
    Drift(
        "bucket public access block deleted",
        1,
        T_BUCKET,
        lambda a: a.s3.delete_public_access_block(Bucket=BUCKET),
        bucket("pab"),
        lambda b, a: (
            b.get("public_access_block") is None
            and dig(a, "public_access_block", "block_public_policy") is True
        ),
    ),
    Drift(
        "bucket TLS-only policy deleted",
        1,
        T_BUCKET,
        lambda a: a.s3.delete_bucket_policy(Bucket=BUCKET),
        bucket("policy"),
        lambda b, a: b.get("policy") is None and statement_effects(a.get("policy")) == ["Deny"],
    ),
    Drift(
        "bucket ownership controls deleted (ACLs on again)",
        1,
        T_BUCKET,
        lambda a: a.s3.delete_bucket_ownership_controls(Bucket=BUCKET),
        bucket("ownership"),
        changed_field("object_ownership", before=None, after="BucketOwnerEnforced"),
    ),
    Drift(
        "bucket tags deleted",
        1,
        T_BUCKET,
        lambda a: a.s3.delete_bucket_tagging(Bucket=BUCKET),
        bucket("tags"),
        changed_field("tags", "ManagedBy", before=None, after="leverslabs.asset_manager"),
    ),
    Drift(
        "bucket lifecycle rules deleted",
        1,
        T_BUCKET,
        lambda a: a.s3.delete_bucket_lifecycle(Bucket=BUCKET),
        bucket("lifecycle"),
        lambda b, a: (
            b.get("lifecycle_rules") is None
            and [r["ID"] for r in a.get("lifecycle_rules") or []]
            == ["compute-logs", "noncurrent-versions"]
        ),
    ),
    Drift(
        "runs log group deleted",
        1,
        T_LOGS,
        lambda a: a.logs.delete_log_group(logGroupName=LOGS + "runs"),
        log_group("runs"),
        lambda b, a: LOGS + "runs" not in b and dig(a, LOGS + "runs", "retention_days") == 365,
    ),
    Drift(
        "daemon log group kept forever",
        1,
        T_LOGS,
        lambda a: a.logs.delete_retention_policy(logGroupName=LOGS + "daemon"),
        log_group("daemon"),
        log_field("daemon", "retention_days", before=0, after=365),
    ),
    Drift(
        "web log group tag removed",
        1,
        T_LOGS,
        lambda a: a.logs.untag_resource(resourceArn=log_arn(a, "web"), tagKeys=["Environment"]),
        log_group("web"),
        log_field("web", "tags"),
    ),
    Drift(
        "ALB security group loses its HTTP rule",
        1,
        T_ALB_SG,
        ingress(ALB_SG, tcp(80), revoke=True),
        rules(ALB_SG),
        lambda b, a: (
            80 not in ports(b.get("ip_permissions")) and 80 in ports(a.get("ip_permissions"))
        ),
    ),
    Drift(
        "ALB security group loses its egress to the webserver port",
        1,
        T_ALB_SG,
        lambda a: a.ec2.revoke_security_group_egress(
            GroupId=a.group(ALB_SG)["GroupId"],
            IpPermissions=a.group(ALB_SG)["IpPermissionsEgress"],
        ),
        rules(ALB_SG, "IpPermissionsEgress"),
        lambda b, a: (
            not b.get("ip_permissions_egress") and 3000 in ports(a.get("ip_permissions_egress"))
        ),
    ),
    Drift(
        "services security group loses its Postgres egress",
        1,
        T_SERVICES_SG,
        egress(SERVICES_SG, tcp(5432), revoke=True),
        rules(SERVICES_SG, "IpPermissionsEgress"),
        lambda b, a: (
            5432 not in ports(b.get("ip_permissions_egress"))
            and 5432 in ports(a.get("ip_permissions_egress"))
        ),
    ),
    Drift(
        "services security group tag removed",
        1,
        T_SERVICES_SG,
        lambda a: a.ec2.delete_tags(
            Resources=[a.group(SERVICES_SG)["GroupId"]], Tags=[{"Key": "Environment"}]
        ),
        group_tags(SERVICES_SG),
        changed_field("tags", "Environment", before=None, after="local"),
    ),
    Drift(
        "SSM parameter deleted",
        1,
        T_SSM,
        lambda a: a.ssm.delete_parameter(Name=SSM + "DAGSTER_PG_PORT"),
        parameter("DAGSTER_PG_PORT"),
        lambda b, a: (
            SSM + "DAGSTER_PG_PORT" not in b and dig(a, SSM + "DAGSTER_PG_PORT", "value") == "5432"
        ),
    ),
    Drift(
        "SSM parameter tags removed",
        1,
        T_SSM,
        lambda a: a.ssm.remove_tags_from_resource(
            ResourceType="Parameter",
            ResourceId=SSM + "SERVER_HOST",
            TagKeys=["Environment", "ManagedBy"],
        ),
        parameter("SERVER_HOST", tags=True),
        ssm_field("SERVER_HOST", "tags", None, None),
    ),
    Drift(
        "execution role's inline policy deleted",
        1,
        T_IAM,
        lambda a: a.iam.delete_role_policy(RoleName=EXECUTION_ROLE, PolicyName=EXECUTION_POLICY),
        inline_policy(EXECUTION_ROLE, EXECUTION_POLICY),
        lambda b, a: EXECUTION_POLICY not in b and "PullTheImage" in sids(a, EXECUTION_POLICY),
    ),
    Drift(
        "target group tag removed",
        1,
        T_TG,
        lambda a: a.elbv2.remove_tags(
            ResourceArns=[a.target_group()["TargetGroupArn"]], TagKeys=["Name"]
        ),
        elb_tags(lambda a: a.target_group()["TargetGroupArn"]),
        changed_field("tags", "Name", before=None, after=TARGET_GROUP),
    ),
    Drift(
        "HTTP listener deleted",
        1,
        T_ALB,
        lambda a: a.elbv2.delete_listener(ListenerArn=a.listeners()[80]["ListenerArn"]),
        listener_ports,
        lambda b, a: (
            "80" not in b.get("listeners", {}) and dig(a, "listeners", "80", "protocol") == "HTTP"
        ),
    ),
    Drift(
        "load balancer tag removed",
        1,
        T_ALB,
        lambda a: a.elbv2.remove_tags(
            ResourceArns=[a.balancer()["LoadBalancerArn"]], TagKeys=["Environment"]
        ),
        elb_tags(lambda a: a.balancer()["LoadBalancerArn"]),
        changed_field("tags", "Environment", before=None, after="local"),
    ),
    Drift(
        "login rule deleted",
        1,
        T_RULE,
        delete_rule,
        login_rule("hosts"),
        lambda b, a: b == {} and a.get("host_headers") == [HOST.rstrip(".")],
    ),
    Drift(
        "web service tag removed",
        1,
        T_WEB,
        lambda a: a.ecs.untag_resource(
            resourceArn=a.service(WEB)["serviceArn"], tagKeys=["Environment"]
        ),
        service(WEB, "tags"),
        changed_field("tags", "Environment", before=None, after="local"),
    ),
    Drift(
        "alias record deleted",
        1,
        T_RECORD,
        delete_record,
        record("DNSName"),
        lambda b, a: not b.get("value") and bool(a.get("alias")),
    ),
    Drift(
        "daemon alarm deleted",
        1,
        T_ALARMS,
        lambda a: a.cloudwatch.delete_alarms(AlarmNames=[DAEMON_ALARM]),
        alarm(DAEMON_ALARM, "AlarmName"),
        lambda b, a: dig(b, DAEMON_ALARM) is None and dig(a, DAEMON_ALARM) is not None,
    ),
    # Round 2: things changed.
    Drift(
        "bucket public access block relaxed",
        2,
        T_BUCKET,
        lambda a: a.s3.put_public_access_block(
            Bucket=BUCKET,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        ),
        bucket("pab"),
        changed_field("public_access_block", "restrict_public_buckets", before=False, after=True),
    ),
    Drift(
        "bucket policy opened to public reads",
        2,
        T_BUCKET,
        lambda a: put_policy(a, public_read),
        bucket("policy"),
        lambda b, a: (
            statement_effects(b.get("policy")) == ["Deny", "Allow"]
            and statement_effects(a.get("policy")) == ["Deny"]
        ),
    ),
    Drift(
        "bucket encryption changed to SSE-KMS",
        2,
        T_BUCKET,
        lambda a: a.s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        ),
        bucket("encryption"),
        changed_field("encryption", "sse_algorithm", before="aws:kms", after="AES256"),
    ),
    Drift(
        "bucket versioning suspended",
        2,
        T_BUCKET,
        lambda a: a.s3.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
        ),
        bucket("versioning"),
        changed_field("versioning", before="Suspended", after="Enabled"),
    ),
    Drift(
        "bucket ACLs on again and public-read",
        2,
        T_BUCKET,
        ownership_and_public_acl,
        bucket("acl"),
        lambda b, a: (
            any("AllUsers READ" in g for g in b.get("acl_grants") or [])
            and a.get("acl_grants") == []
            and a.get("object_ownership") == "BucketOwnerEnforced"
        ),
    ),
    Drift(
        "web log group retention shortened",
        2,
        T_LOGS,
        lambda a: a.logs.put_retention_policy(logGroupName=LOGS + "web", retentionInDays=7),
        log_group("web"),
        log_field("web", "retention_days", before=7, after=365),
    ),
    Drift(
        "runs log group tag changed",
        2,
        T_LOGS,
        lambda a: a.logs.tag_resource(
            resourceArn=log_arn(a, "runs"), tags={"Application": "other"}
        ),
        log_group("runs"),
        changed_field(LOGS + "runs", "tags", "Application", before="other", after="asset-manager"),
    ),
    Drift(
        "ALB security group opens SSH to the world",
        2,
        T_ALB_SG,
        ingress(ALB_SG, tcp(22)),
        rules(ALB_SG),
        lambda b, a: (
            22 in ports(b.get("ip_permissions")) and 22 not in ports(a.get("ip_permissions"))
        ),
    ),
    Drift(
        "ALB security group rule description changed",
        2,
        T_ALB_SG,
        lambda a: a.ec2.update_security_group_rule_descriptions_ingress(
            GroupId=a.group(ALB_SG)["GroupId"], IpPermissions=tcp(443, description="changed")
        ),
        rules(ALB_SG),
        lambda b, a: "changed" in json.dumps(b) and "changed" not in json.dumps(a),
    ),
    Drift(
        "ALB security group allows all egress",
        2,
        T_ALB_SG,
        egress(ALB_SG, [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
        rules(ALB_SG, "IpPermissionsEgress"),
        lambda b, a: (
            "-1" in protocols(b.get("ip_permissions_egress"))
            and "-1" not in protocols(a.get("ip_permissions_egress"))
        ),
    ),
    Drift(
        "services security group allows all egress again",
        2,
        T_SERVICES_SG,
        egress(SERVICES_SG, [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
        rules(SERVICES_SG, "IpPermissionsEgress"),
        lambda b, a: (
            "-1" in protocols(b.get("ip_permissions_egress"))
            and "-1" not in protocols(a.get("ip_permissions_egress"))
        ),
    ),
    Drift(
        "services security group admits all TCP from itself again (0.1.0's rule)",
        2,
        T_SERVICES_SG,
        lambda a: a.ec2.authorize_security_group_ingress(
            GroupId=a.group(SERVICES_SG)["GroupId"],
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 0,
                    "ToPort": 65535,
                    "UserIdGroupPairs": [{"GroupId": a.group(SERVICES_SG)["GroupId"]}],
                }
            ],
        ),
        rules(SERVICES_SG),
        lambda b, a: (
            0 in ports(b.get("ip_permissions")) and 0 not in ports(a.get("ip_permissions"))
        ),
    ),
    Drift(
        "services security group opens the web port to the world",
        2,
        T_SERVICES_SG,
        ingress(SERVICES_SG, tcp(3000)),
        rules(SERVICES_SG),
        lambda b, a: (
            "0.0.0.0/0" in json.dumps(b.get("ip_permissions"))
            and "0.0.0.0/0" not in json.dumps(a.get("ip_permissions"))
        ),
    ),
    Drift(
        "SSM parameter value changed",
        2,
        T_SSM,
        lambda a: a.ssm.put_parameter(
            Name=SSM + "DAGSTER_PG_DB", Value="other", Type="String", Overwrite=True
        ),
        parameter("DAGSTER_PG_DB"),
        ssm_field("DAGSTER_PG_DB", "value", "other", "postgres"),
    ),
    Drift(
        "SSM secret stored as plain String",
        2,
        T_SSM,
        lambda a: a.ssm.put_parameter(
            Name=SSM + "AUTH0_CLIENT_SECRET", Value=SECRETS[0], Type="String", Overwrite=True
        ),
        parameter("AUTH0_CLIENT_SECRET"),
        ssm_field("AUTH0_CLIENT_SECRET", "type", "String", "SecureString"),
    ),
    Drift(
        "task role's inline policy widened",
        2,
        T_IAM,
        edit_inline_policy,
        inline_policy(TASK_ROLE, TASK_POLICY),
        lambda b, a: (
            "OutOfBand" in sids(b, TASK_POLICY) and "OutOfBand" not in sids(a, TASK_POLICY)
        ),
    ),
    Drift(
        "target group health check path changed",
        2,
        T_TG,
        modify_target_group(HealthCheckPath="/"),
        health_check("HealthCheckPath"),
        changed_field("health_check", "path", before="/", after="/server_info"),
    ),
    Drift(
        "target group health check timings and matcher changed",
        2,
        T_TG,
        modify_target_group(
            HealthCheckIntervalSeconds=10,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=5,
            UnhealthyThresholdCount=10,
            Matcher={"HttpCode": "200-499"},
        ),
        health_check(
            "HealthCheckIntervalSeconds",
            "HealthCheckTimeoutSeconds",
            "HealthyThresholdCount",
            "UnhealthyThresholdCount",
            "Matcher",
        ),
        lambda b, a: (
            [dig(b, "health_check", k) for k in ("interval", "timeout", "matcher")]
            == [10, 2, "200-499"]
            and [dig(a, "health_check", k) for k in ("interval", "timeout", "matcher")]
            == [30, 5, "200"]
        ),
    ),
    Drift(
        "target group health check port and protocol changed",
        2,
        T_TG,
        modify_target_group(HealthCheckPort="8080", HealthCheckProtocol="HTTPS"),
        health_check("HealthCheckPort", "HealthCheckProtocol"),
        lambda b, a: (
            (dig(b, "health_check", "port"), dig(b, "health_check", "protocol"))
            == ("8080", "HTTPS")
            and (dig(a, "health_check", "port"), dig(a, "health_check", "protocol"))
            == ("traffic-port", "HTTP")
        ),
    ),
    Drift(
        "target group deregistration delay shortened",
        2,
        T_TG,
        lambda a: a.elbv2.modify_target_group_attributes(
            TargetGroupArn=a.target_group()["TargetGroupArn"],
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}],
        ),
        target_group_attribute("deregistration_delay.timeout_seconds"),
        changed_field(
            "attributes", "deregistration_delay.timeout_seconds", before="5", after="300"
        ),
    ),
    Drift(
        "load balancer accepts invalid headers and monitors desync only",
        2,
        T_ALB,
        set_balancer_attributes(
            routing__http__drop_invalid_header_fields__enabled="false",
            routing__http__desync_mitigation_mode="monitor",
        ),
        balancer_attributes(
            "routing.http.drop_invalid_header_fields.enabled", "routing.http.desync_mitigation_mode"
        ),
        lambda b, a: (
            dig(b, "attributes", "routing.http.desync_mitigation_mode") == "monitor"
            and dig(a, "attributes", "routing.http.desync_mitigation_mode") == "defensive"
            and dig(b, "attributes", "routing.http.drop_invalid_header_fields.enabled") == "false"
        ),
    ),
    Drift(
        "load balancer deletion protection and idle timeout changed",
        2,
        T_ALB,
        set_balancer_attributes(
            deletion_protection__enabled="true", idle_timeout__timeout_seconds="4000"
        ),
        balancer_attributes("deletion_protection.enabled", "idle_timeout.timeout_seconds"),
        lambda b, a: (
            dig(b, "attributes", "deletion_protection.enabled") == "true"
            and dig(a, "attributes", "deletion_protection.enabled") == "false"
            and dig(b, "attributes", "idle_timeout.timeout_seconds") == "4000"
        ),
    ),
    Drift(
        "load balancer keeps clients' X-Forwarded-For and fails open without its WAF",
        2,
        T_ALB,
        set_balancer_attributes(
            routing__http__xff_header_processing__mode="preserve", waf__fail_open__enabled="true"
        ),
        balancer_attributes("routing.http.xff_header_processing.mode", "waf.fail_open.enabled"),
        changed_field(
            "attributes",
            "routing.http.xff_header_processing.mode",
            before="preserve",
            after="append",
        ),
    ),
    Drift(
        "load balancer security group replaced",
        2,
        T_ALB,
        lambda a: a.elbv2.set_security_groups(
            LoadBalancerArn=a.balancer()["LoadBalancerArn"],
            SecurityGroups=[a.group(SERVICES_SG)["GroupId"]],
        ),
        balancer_groups,
        lambda b, a: b.get("security_groups") != a.get("security_groups"),
    ),
    Drift(
        "HTTPS listener SSL policy downgraded",
        2,
        T_ALB,
        modify_listener(443, SslPolicy="ELBSecurityPolicy-2016-08"),
        listener(443, "SslPolicy"),
        changed_field("listeners", "443", "ssl_policy", before="ELBSecurityPolicy-2016-08"),
    ),
    Drift(
        "HTTPS listener certificate replaced",
        2,
        T_ALB,
        replace_certificate,
        listener(443, "Certificates"),
        changed_field("listeners", "443", "certificate_arn"),
    ),
    Drift(
        "HTTPS listener default action answers 200",
        2,
        T_ALB,
        modify_listener(
            443,
            DefaultActions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "ok"},
                }
            ],
        ),
        listener(443, "DefaultActions"),
        lambda b, a: (
            '"200"' in json.dumps(dig(b, "listeners", "443", "default_actions"))
            and '"404"' in json.dumps(dig(a, "listeners", "443", "default_actions"))
        ),
    ),
    Drift(
        "HTTP listener forwards to the web tasks, skipping the login",
        2,
        T_ALB,
        forward_http_to_web,
        listener(80, "DefaultActions"),
        lambda b, a: (
            "forward" in json.dumps(dig(b, "listeners", "80"))
            and "redirect" not in json.dumps(dig(b, "listeners", "80"))
            and "redirect" in json.dumps(dig(a, "listeners", "80"))
        ),
    ),
    Drift(
        "extra listener on 8080 forwards to the web tasks",
        2,
        T_ALB,
        extra_listener,
        listener_ports,
        lambda b, a: "8080" in b.get("listeners", {}) and "8080" not in a.get("listeners", {}),
    ),
    Drift(
        "login rule matches another host",
        2,
        T_RULE,
        edit_rule(conditions=[{"Field": "host-header", "Values": ["evil.leverslabs.com"]}]),
        login_rule("hosts"),
        changed_field("host_headers", before=["evil.leverslabs.com"], after=[HOST.rstrip(".")]),
    ),
    Drift(
        "login rule lets unauthenticated users through",
        2,
        T_RULE,
        edit_rule(oidc={"OnUnauthenticatedRequest": "allow"}),
        login_rule("OnUnauthenticatedRequest"),
        changed_field("oidc", "on_unauthenticated_request", before="allow", after="authenticate"),
    ),
    Drift(
        "alias record points elsewhere",
        2,
        T_RECORD,
        upsert_record(DNSName="elsewhere.us-west-1.elb.amazonaws.com"),
        record("DNSName"),
        lambda b, a: "elsewhere" in json.dumps(b) and "elsewhere" not in json.dumps(a),
    ),
    Drift(
        "alias record evaluates target health",
        2,
        T_RECORD,
        upsert_record(EvaluateTargetHealth=True),
        record("EvaluateTargetHealth"),
        lambda b, a: (
            b.get("alias_evaluate_target_health") is True
            and a.get("alias_evaluate_target_health") is False
        ),
    ),
    Drift(
        "web service scaled by hand",
        2,
        T_WEB,
        update_service(WEB, desiredCount=3),
        service(WEB, "desiredCount"),
        changed_field("desired_count", before=3, after=1),
    ),
    Drift(
        "web service health check grace period removed",
        2,
        T_WEB,
        update_service(WEB, healthCheckGracePeriodSeconds=0),
        service(WEB, "healthCheckGracePeriodSeconds"),
        changed_field("health_check_grace_period_seconds", before=0, after=60),
    ),
    Drift(
        "daemon service gets a public IP and the ALB's group",
        2,
        T_DAEMON,
        daemon_in_public,
        service(DAEMON, "network"),
        lambda b, a: (
            (b.get("assign_public_ip"), a.get("assign_public_ip")) == (True, False)
            and b.get("security_groups") != a.get("security_groups")
        ),
    ),
    Drift(
        "daemon service may run two daemons",
        2,
        T_DAEMON,
        update_service(
            DAEMON, deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100}
        ),
        service(DAEMON, "deploymentConfiguration"),
        changed_field("deployment_configuration", "maximum_percent", before=200, after=100),
    ),
    Drift(
        "load balancer moved to the private subnets",
        2,
        T_ALB,
        move_balancer_to_private_subnets,
        balancer_subnet_types,
        lambda b, a: b.get("subnets") and a.get("subnets") and b["subnets"] != a["subnets"],
    ),
    Drift(
        "target group health check turned off",
        2,
        T_TG,
        modify_target_group(HealthCheckEnabled=False),
        health_check("HealthCheckEnabled"),
        changed_field("health_check", "enabled", before=False, after=True),
    ),
    Drift(
        "login rule's tags removed, its secret fingerprint with them",
        2,
        T_RULE,
        untag_rule,
        rule_tag_keys,
        lambda b, a: (
            dig(b, "tags", "Application") is None
            and dig(a, "tags", "Application") == "asset-manager"
            and dig(a, "oidc", "client_secret") == "<will be updated>"
        ),
    ),
    Drift(
        "ECS Exec turned on for the web service",
        2,
        T_WEB,
        update_service(WEB, enableExecuteCommand=True),
        service(WEB, "enableExecuteCommand"),
        changed_field("enable_execute_command", before=True, after=False),
    ),
    Drift(
        "daemon service scaled to two daemons",
        2,
        T_DAEMON,
        update_service(DAEMON, desiredCount=2),
        service(DAEMON, "desiredCount"),
        changed_field("desired_count", before=2, after=1),
    ),
    Drift(
        "web task definition registered out of band",
        2,
        T_TASKDEFS,
        register_out_of_band,
        web_revisions,
        lambda b, a: EVIL_IMAGE in json.dumps(b) and EVIL_IMAGE not in json.dumps(a),
        also=(T_WEB,),  # the web service then moves to the rendered revision
    ),
    Drift(
        "unhealthy hosts alarm's threshold raised by hand",
        2,
        T_ALARMS,
        edit_alarm(UNHEALTHY_ALARM, Threshold=5.0),
        alarm(UNHEALTHY_ALARM, "Threshold"),
        changed_field(UNHEALTHY_ALARM, "threshold", before=5.0, after=0.0),
    ),
    Drift(
        "Container Insights turned off on the cluster",
        2,
        T_INSIGHTS,
        lambda a: a.ecs.update_cluster(
            cluster=CLUSTER, settings=[{"name": "containerInsights", "value": "disabled"}]
        ),
        container_insights,
        changed_field("container_insights", before="disabled", after="enabled"),
    ),
]


def log_arn(a, name):
    found = a.logs.describe_log_groups(logGroupNamePrefix=LOGS + name)["logGroups"]
    return next(g["logGroupArn"] for g in found if g["logGroupName"] == LOGS + name)


# ---- the runs -----------------------------------------------------------------------------


def results(proc):
    """{task name: result} of a run with the JSON callback (the role prefix dropped)."""
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout[proc.stdout.index("{") :])
    found = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"].split(" : ", 1)[-1]
            found[name] = task["hosts"].get("localhost", {})
    return found, report["stats"]["localhost"]


def diffs(result):
    """Every (before, after) the result holds, loop items included."""
    pairs = []
    for item in [result, *result.get("results", [])]:
        if not item.get("changed"):
            continue
        for diff in (d for d in _as_list(item.get("diff")) if isinstance(d, dict)):
            pairs.append((diff.get("before") or {}, diff.get("after") or {}))
    return pairs


def _as_list(value):
    return value if isinstance(value, list) else [value] if value else []


def state(aws):
    return {drift.name: drift.read(aws) for drift in DRIFTS}


@dataclass
class Round:
    deployed: dict
    drifted: dict
    planned: dict
    repaired: dict
    plan: dict
    plan_output: str
    rerun: dict  # the rerun's recap


@pytest.fixture(scope="module")
def aws(boto3_client):
    return Aws(boto3_client)


@pytest.fixture(scope="module")
def stack(seeded, run_site, push_image, aws):
    """A deployed stack (first deploy from a pushed image); torn down afterwards, so that the
    session's other test files find the emulator as seeded."""
    push_image("seed")
    proc = run_site("-e", "ecs_taskdefs_image_tag=seed")
    assert proc.returncode == 0, proc.stdout[-4000:]
    yield
    proc = run_site("-e", "teardown_confirm=local", playbook="playbooks/teardown.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    for certificate in aws.acm.list_certificates()["CertificateSummaryList"]:
        if certificate["DomainName"] == "other.leverslabs.com":
            aws.acm.delete_certificate(CertificateArn=certificate["CertificateArn"])


@pytest.fixture(scope="module")
def rounds(stack, run_site, aws):
    """Run a round once (its changes, the plan, the run, the rerun); returns a Round."""
    done = {}
    json_output = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}

    def run(number):
        if number not in done:
            deployed = state(aws)
            for drift in DRIFTS:
                if drift.round == number:
                    drift.make(aws)
            drifted = state(aws)
            plan_proc = run_site("--check", "--diff", env=json_output)
            plan, _stats = results(plan_proc)
            planned = state(aws)
            results(run_site(env=json_output))
            repaired = state(aws)
            rerun = results(run_site(env=json_output))[1]
            done[number] = Round(
                deployed, drifted, planned, repaired, plan, plan_proc.stdout, rerun
            )
        return done[number]

    return run


# Before the stack fixture deploys: the emulator is as seeded, the stack does not exist yet.
def test_a_plan_of_a_new_stack_lists_every_resource_and_writes_nothing(
    seeded, run_site, push_image, aws
):
    push_image("seed")
    tasks, stats = results(
        run_site(
            "-e",
            "ecs_taskdefs_image_tag=seed",
            "--check",
            "--diff",
            env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
        )
    )
    planned = {name for name, result in tasks.items() if result.get("changed")}
    # What cannot be planned in detail before its load balancer or groups exist is reported.
    waits = {
        "Report that the login rule waits for its load balancer (check mode)",
        "Report that the services wait for their security group and target group (check mode)",
        "Report that the alias record waits for its load balancer (check mode)",
        "Report that the alarms wait for the load balancer and target group (check mode)",
    }
    creates = {"Create the security groups the stack does not have yet, closed", T_ALB_SG,
               T_SERVICES_SG, T_BUCKET, T_LOGS, T_SSM, T_TG, T_ALB, T_IAM, T_TASKDEFS}  # fmt: skip
    assert creates | waits <= planned, (creates | waits) - planned
    assert stats["failures"] == 0 and stats["changed"] == len(planned)
    groups = aws.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [ALB_SG, SERVICES_SG]}]
    )["SecurityGroups"]
    assert groups == []
    assert BUCKET not in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]
    assert aws.elbv2.describe_load_balancers()["LoadBalancers"] == []
    # Services an earlier test file deleted stay listed a while (INACTIVE), as on AWS.
    listed = aws.ecs.list_services(cluster=CLUSTER)["serviceArns"]
    described = (
        aws.ecs.describe_services(cluster=CLUSTER, services=listed)["services"] if listed else []
    )
    assert [s["serviceName"] for s in described if s["status"] == "ACTIVE"] == []


@pytest.mark.parametrize("drift", DRIFTS, ids=str)
def test_drift_is_planned_then_repaired(rounds, drift):
    outcome = rounds(drift.round)
    assert outcome.drifted[drift.name] != outcome.deployed[drift.name], "the emulator ignored it"

    result = outcome.plan.get(drift.task)
    assert result is not None, f"no task named {drift.task!r} ran"
    assert result.get("changed"), f"{drift.task!r} planned no change: {result}"
    pairs = diffs(result)
    assert pairs, f"{drift.task!r} planned a change without a diff: {result}"
    assert any(drift.shows(before, after) for before, after in pairs), pairs

    assert outcome.planned[drift.name] == outcome.drifted[drift.name], "check mode wrote it"
    assert outcome.repaired[drift.name] == outcome.deployed[drift.name], "the run did not repair it"
    assert outcome.rerun["changed"] == 0, "the rerun changed something"


@pytest.mark.parametrize("number", [1, 2])
def test_a_round_plans_nothing_else_writes_nothing_and_shows_no_secret(rounds, number):
    outcome = rounds(number)
    assert outcome.planned == outcome.drifted
    expected = {d.task for d in DRIFTS if d.round == number}
    expected |= {task for d in DRIFTS if d.round == number for task in d.also}
    reported = {name for name, result in outcome.plan.items() if result.get("changed")}
    assert reported <= expected, reported - expected
    for secret in SECRETS:
        assert secret not in outcome.plan_output, f"the plan shows {secret}"


# ---- the scanner's controls ---------------------------------------------------------------
# What a scanner such as prowler checks on the stack's resources, read from the deployed stack
# (after the rounds: repaired, so as deployed). Each row: (control, passes(aws)).


def _containers(aws):
    families = ("asset-manager-run", WEB, DAEMON)
    definitions = [aws.ecs.describe_task_definition(taskDefinition=f)["taskDefinition"]
                   for f in families]  # fmt: skip
    return [c for d in definitions for c in d["containerDefinitions"]]


def _grants_elb(aws):
    policy = json.loads(aws.s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    return any("AWSLogs" in json.dumps(s.get("Resource")) for s in policy["Statement"])


def _access_logs_on(aws):
    attributes = aws.elbv2.describe_load_balancer_attributes(
        LoadBalancerArn=aws.balancer()["LoadBalancerArn"]
    )["Attributes"]
    return {a["Key"]: a["Value"] for a in attributes}["access_logs.s3.enabled"] == "true"


CONTROLS = [
    ("containers have a read-only root filesystem",
     lambda a: all(c.get("readonlyRootFilesystem") for c in _containers(a))),
    ("awslogs delivery is non-blocking, with a buffer",
     lambda a: all(c["logConfiguration"]["options"].get("mode") == "non-blocking"
                   and c["logConfiguration"]["options"].get("max-buffer-size")
                   for c in _containers(a))),
    ("the bucket is versioned",
     lambda a: a.s3.get_bucket_versioning(Bucket=BUCKET).get("Status") == "Enabled"),
    ("the bucket has enabled lifecycle rules, noncurrent versions expire",
     lambda a: any(r["Status"] == "Enabled" and "NoncurrentVersionExpiration" in r
                   for r in a.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"])),
    ("the bucket grants ELB log delivery exactly when the ALB's access logs are on",
     lambda a: _grants_elb(a) == _access_logs_on(a)),
    ("the ALB drops invalid header fields", lambda a: {
        x["Key"]: x["Value"] for x in a.elbv2.describe_load_balancer_attributes(
            LoadBalancerArn=a.balancer()["LoadBalancerArn"])["Attributes"]
    }["routing.http.drop_invalid_header_fields.enabled"] == "true"),
    ("the services group's egress carries only declared ports",
     lambda a: all(p["IpProtocol"] != "-1" for p in a.group(SERVICES_SG)["IpPermissionsEgress"])),
    ("an alarm watches each of the daemon, the web tasks, the targets and 5xx answers",
     lambda a: sorted(x["AlarmName"] for x in a.cloudwatch.describe_alarms(
         AlarmNamePrefix="asset-manager-")["MetricAlarms"]) == sorted(ALARMS)),
]  # fmt: skip


@pytest.mark.parametrize("control", CONTROLS, ids=[c[0] for c in CONTROLS])
def test_the_deployed_stack_passes_the_scanners_controls(rounds, aws, control):
    rounds(2)  # the last round has repaired the stack: what a deploy leaves
    _name, passes = control
    assert passes(aws)
