"""Bad input on a deployed stack: refused before any write, naming the variable and what it allows.

One stack is deployed for the table. Each row runs a playbook with one bad input and asserts that
the run fails, that its message names the variable (and the allowed values), that no task but the
pre-flight's checks and the read-only stack lookup ran, and that the emulator's whole state
(tests/stack_state.py, shape and ids) is exactly what it was before. Among them a CIDR EC2 would
reject (row "ALB ingress CIDR that is not one"): refused before any call, so no rule is revoked.

After the table, the counterpart on the same stack: a rule change that can be applied (another
ingress CIDR) authorizes the new rule before it revokes the old one, so the load balancer is never
without ingress; the requests are recorded by tests/fault_proxy.py, injecting nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.leverslabs.asset_manager.tests.fault_proxy import FaultProxy
from ansible_collections.leverslabs.asset_manager.tests.stack_state import (
    differences,
    snapshot,
)

ROOT = Path(__file__).resolve().parents[2]
ENV_JSON = json.loads((ROOT / "roles/ecs_taskdefs/files/env.json").read_text())


def extra(**variables) -> list[str]:
    return ["-e", json.dumps(variables)]


def env_file(tmp_path, **changes) -> str:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({**ENV_JSON, **changes}))
    return str(path)


# (id, playbook, arguments (a function of tmp_path or a list), fragments of the message)
CASES = [
    (
        "builtin SecureString as String",
        "site.yml",
        extra(
            ssm_params_extra_parameters={"DAGSTER_PG_PASSWORD": {"value": "x", "type": "String"}}
        ),
        ["ssm_params_extra_parameters", "DAGSTER_PG_PASSWORD", "SecureString"],
    ),
    (
        "SSM name AWS rejects",
        "site.yml",
        extra(ssm_params_extra_parameters={"bad name!": {"value": "x", "type": "String"}}),
        ["ssm_params_extra_parameters", "'bad name!'", "a-z, A-Z, 0-9"],
    ),
    (
        "SSM prefix reserved by AWS",
        "site.yml",
        extra(asset_manager_ssm_prefix="/aws/asset-manager"),
        ["asset_manager_ssm_prefix", "'/aws/asset-manager'", "/aws or /ssm"],
    ),
    (
        "SSM value too long",
        "site.yml",
        extra(ssm_params_extra_parameters={"LONG": {"value": "x" * 4097, "type": "String"}}),
        ["ssm_params_extra_parameters", "LONG", "1 to 4096 characters"],
    ),
    (
        "SSM type unknown",
        "site.yml",
        extra(ssm_params_extra_parameters={"EXTRA": {"value": "x", "type": "StringList"}}),
        ["EXTRA", "String or SecureString"],
    ),
    (
        "env.json secret that is not a parameter",
        "site.yml",
        lambda tmp: [
            "-e",
            "ecs_taskdefs_env_file="
            + env_file(
                tmp, secrets=[*ENV_JSON["secrets"], {"name": "API_KEY", "valueFrom": "API_KEY"}]
            ),
        ],
        ["API_KEY", "not a parameter of the stack", "ssm_params_extra_parameters"],
    ),  # fmt: skip
    (
        "Fargate cpu and memory with no configuration",
        "site.yml",
        extra(ecs_taskdefs_run_cpu="256", ecs_taskdefs_run_memory="16384"),
        ["ecs_taskdefs_run_memory", "16384", "cpu 256", "512, 1024, 2048"],
    ),
    (
        "Fargate cpu not a number",
        "site.yml",
        extra(ecs_taskdefs_web_cpu="abc"),
        ["ecs_taskdefs_web_cpu", "'abc'", "256, 512, 1024, 2048, 4096, 8192, 16384"],
    ),
    (
        "image tag with a space",
        "site.yml",
        extra(ecs_taskdefs_image_tag="has space"),
        ["ecs_taskdefs_image_tag", "'has space'", "is not an image tag"],
    ),
    (
        "Auth0 domain with a scheme",
        "site.yml",
        extra(asset_manager_auth0_domain="http://leverslabs.us.auth0.com"),
        ["asset_manager_auth0_domain", "host name", "https://"],
    ),
    (
        "session timeout 0",
        "site.yml",
        extra(alb_oidc_session_timeout=0),
        ["alb_oidc_session_timeout", "1 to 604800"],
    ),
    (
        "session timeout above 7 days",
        "site.yml",
        extra(alb_oidc_session_timeout=604801),
        ["alb_oidc_session_timeout", "1 to 604800"],
    ),
    (
        "rule priority 0",
        "site.yml",
        extra(alb_oidc_rule_priority=0),
        ["alb_oidc_rule_priority", "1 to 50000"],
    ),
    (
        "compute log expiry 0 days",
        "site.yml",
        extra(storage_compute_logs_expiration_days=0),
        ["storage_compute_logs_expiration_days", "1 or more days", "(got 0)"],
    ),
    (
        "old version expiry below 1 day",
        "site.yml",
        extra(storage_noncurrent_version_expiration_days=-3),
        ["storage_noncurrent_version_expiration_days", "1 or more days", "(got -3)"],
    ),
    (
        "log group KMS key as an alias",
        "site.yml",
        extra(storage_log_kms_key_id="alias/logs"),
        ["storage_log_kms_key_id", "'alias/logs'", "ARN of a KMS key", "us-west-1"],
    ),
    (
        "bucket KMS key of another region",
        "site.yml",
        extra(storage_bucket_kms_key_id="arn:aws:kms:us-east-1:123456789012:key/1234abcd"),
        ["storage_bucket_kms_key_id", "ARN of a KMS key in asset_manager_region us-west-1"],
    ),
    (
        "SSE-KMS bucket with access logs into it",
        "site.yml",
        extra(
            alb_oidc_access_logs_enabled=True,
            storage_bucket_kms_key_id="arn:aws:kms:us-west-1:123456789012:key/1234abcd",
        ),
        ["alb_oidc_access_logs_enabled", "AES256", "storage_bucket_kms_key_id"],
    ),
    (
        "replication role without a destination",
        "site.yml",
        extra(storage_replication_role_arn="arn:aws:iam::123456789012:role/replication"),
        ["storage_replication_role_arn and storage_replication_destination_bucket_arn go together"],
    ),
    (
        "replication destination that is not a bucket ARN",
        "site.yml",
        extra(
            storage_replication_role_arn="arn:aws:iam::123456789012:role/replication",
            storage_replication_destination_bucket_arn="asset-manager-replica",
        ),
        ["storage_replication_destination_bucket_arn", "'asset-manager-replica'", "ARN of an S3"],
    ),
    (
        "replication to the artifacts bucket itself",
        "site.yml",
        extra(
            storage_replication_role_arn="arn:aws:iam::123456789012:role/replication",
            storage_replication_destination_bucket_arn="arn:aws:s3:::asset-manager-artifacts",
        ),
        ["storage_replication_destination_bucket_arn is the artifacts bucket itself"],
    ),
    (
        "replication storage class unknown",
        "site.yml",
        extra(
            storage_replication_role_arn="arn:aws:iam::123456789012:role/replication",
            storage_replication_destination_bucket_arn="arn:aws:s3:::asset-manager-replica",
            storage_replication_storage_class="COLD",
        ),
        ["storage_replication_storage_class", "'COLD'", "STANDARD_IA"],
    ),
    (
        "object lock mode unknown",
        "site.yml",
        extra(storage_object_lock_mode="STRICT"),
        ["storage_object_lock_mode", "'STRICT'", "GOVERNANCE or COMPLIANCE"],
    ),
    (
        "object lock of 0 days",
        "site.yml",
        extra(storage_object_lock_mode="GOVERNANCE", storage_object_lock_days=0),
        ["storage_object_lock_days must be 1 or more days (got 0)"],
    ),
    (
        "MFA delete with lifecycle rules",
        "site.yml",
        extra(storage_mfa_delete=True),
        ["storage_mfa_delete", "no lifecycle configuration", "expiration_days to 0"],
    ),
    (
        "MFA value without the device serial",
        "site.yml",
        extra(storage_mfa_delete_mfa="314159"),
        ["storage_mfa_delete_mfa must be the serial", "(the value is not shown here)"],
    ),
    (
        "one lifecycle expiry 0, the other not",
        "site.yml",
        extra(
            storage_compute_logs_expiration_days=0, storage_noncurrent_version_expiration_days=30
        ),
        ["storage_compute_logs_expiration_days", "or 0 with storage_noncurrent_version"],
    ),
    (
        "notification topic of another region",
        "site.yml",
        extra(storage_event_notifications_topic_arn="arn:aws:sns:us-east-1:123456789012:events"),
        ["storage_event_notifications_topic_arn", "SNS topic in asset_manager_region us-west-1"],
    ),
    (
        "notification events that are not S3's",
        "site.yml",
        extra(
            storage_event_notifications_topic_arn="arn:aws:sns:us-west-1:123456789012:events",
            storage_event_notifications_events=["ObjectRemoved"],
        ),
        ["storage_event_notifications_events must list S3 event types", '["ObjectRemoved"]'],
    ),
    (
        "access log prefix with AWSLogs",
        "site.yml",
        extra(alb_oidc_access_logs_enabled=True, alb_oidc_access_logs_prefix="alb/AWSLogs"),
        ["alb_oidc_access_logs_prefix", "'alb/AWSLogs'", "must not contain AWSLogs"],
    ),
    (
        "web ACL that is not an ARN",
        "site.yml",
        extra(alb_oidc_web_acl_arn="asset-manager-acl"),
        ["alb_oidc_web_acl_arn", "'asset-manager-acl'", "regional WAFv2 web ACL"],
    ),
    (
        "alarm topic that is not an SNS topic ARN",
        "site.yml",
        extra(alarms_sns_topic_arn="asset-manager-ops"),
        ["alarms_sns_topic_arn", "'asset-manager-ops'", "ARN of a standard SNS topic", "us-west-1"],
    ),
    (
        "alarm period under a minute",
        "site.yml",
        extra(alarms_period=30),
        ["alarms_period", "multiple of 60 seconds (got 30)"],
    ),
    (
        "web count past the maximum",
        "playbooks/scale.yml",
        extra(scale_web_count=1000000),
        ["scale_web_count", "1000000", "ecs_services_web_max_count"],
    ),
    (
        "web desired count past the maximum",
        "site.yml",
        extra(ecs_services_web_desired_count=5000),
        ["ecs_services_web_desired_count", "ecs_services_web_max_count"],
    ),
    (
        "misspelt role variable",
        "site.yml",
        extra(ecs_services_web_desired_cout=3),
        ["ecs_services_web_desired_cout", "ecs_services_web_desired_count"],
    ),
    (
        "misspelt role variable, the issue's priority",
        "site.yml",
        extra(alb_oidc_priority=0),
        ["alb_oidc_priority", "alb_oidc_rule_priority"],
    ),
    (
        "empty domain",
        "site.yml",
        extra(asset_manager_domain=""),
        ["asset_manager_domain", "DNS name"],
    ),
    (
        "domain that is not a DNS name",
        "site.yml",
        extra(asset_manager_domain="not_a_domain!"),
        ["asset_manager_domain", "'not_a_domain!'", "DNS name"],
    ),
    (
        "ALB ingress CIDR that is not one",
        "site.yml",
        extra(network_security_alb_ingress_cidrs=["not-a-cidr"]),
        ["network_security_alb_ingress_cidrs", "'not-a-cidr'", "CIDR"],
    ),
    (
        "ALB ingress CIDR with host bits",
        "site.yml",
        extra(network_security_alb_ingress_cidrs=["10.0.0.1/8"]),
        ["network_security_alb_ingress_cidrs", "'10.0.0.1/8'", "CIDR"],
    ),
    (
        "services egress CIDR out of range",
        "site.yml",
        extra(
            network_security_services_egress=[
                {
                    "proto": "tcp",
                    "ports": [5432],
                    "cidr_ip": ["10.0.0.0/33"],
                    "rule_desc": "PostgreSQL",
                }
            ]
        ),
        ["network_security_services_egress", "'10.0.0.0/33'", "CIDR"],
    ),
    (
        "bucket name S3 rejects",
        "site.yml",
        extra(asset_manager_artifacts_bucket="Bad_Bucket"),
        ["asset_manager_artifacts_bucket", "'Bad_Bucket'", "3 to 63"],
    ),
    (
        "SSM prefix without a leading slash",
        "site.yml",
        extra(asset_manager_ssm_prefix="asset-manager"),
        ["asset_manager_ssm_prefix", "'asset-manager'", "start with /"],
    ),
    (
        "web port out of range",
        "site.yml",
        extra(asset_manager_web_port=70000),
        ["asset_manager_web_port", "1 to 65535"],
    ),
    (
        "log buffer size with blocking delivery",
        "site.yml",
        extra(ecs_taskdefs_log_mode="blocking"),
        [
            "ecs_taskdefs_log_max_buffer_size (25m) applies only with ecs_taskdefs_log_mode "
            "non-blocking (got blocking)"
        ],
    ),
    (
        "writable directory that is not absolute",
        "site.yml",
        extra(ecs_taskdefs_writable_paths=["$DAGSTER_HOME/storage", "scratch"]),
        ["ecs_taskdefs_writable_paths", "scratch is not an absolute path"],
    ),
    (
        "Postgres port out of range",
        "site.yml",
        extra(asset_manager_pg_port=70000),
        ["asset_manager_pg_port must be a port number, 1 to 65535 (got 70000)"],
    ),
    (
        "Postgres port under its old name",
        "site.yml",
        extra(ssm_params_pg_port="6543"),
        ["ssm_params_pg_port is now asset_manager_pg_port", "(got 6543)"],
    ),
    (
        "services egress without the Postgres port",
        "site.yml",
        extra(
            asset_manager_pg_port=6543,
            network_security_services_egress=[
                {
                    "proto": "tcp",
                    "ports": [443, "5000-6000"],
                    "cidr_ip": ["0.0.0.0/0"],
                    "rule_desc": "HTTPS",
                }
            ],
        ),
        ["network_security_services_egress has no TCP rule to asset_manager_pg_port (6543)"],
    ),
    (
        "IAM policy past IAM's size",
        "site.yml",
        # One statement of 11,000 characters: past IAM's 10,240 for a role's inline policies.
        extra(
            iam_task_extra_statements=[
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::" + "b" * 11000,
                }
            ]
        ),
        ["iam_task_extra_statements", "over IAM's 10240"],
    ),
    (
        "IAM role that does not exist",
        "site.yml",
        extra(asset_manager_task_role_name="no-such-role"),
        ["task role 'no-such-role' not found", "asset_manager_task_role_name"],
    ),
    (
        "missing certificate",
        "site.yml",
        extra(asset_manager_certificate_domain="*.nope.example"),
        ["asset_manager_certificate_domain", "*.nope.example"],
    ),
]


@pytest.fixture(scope="module")
def stack(seeded, run_site, push_image, local_docker):
    """A deployed stack for the whole table; torn down afterwards, leaving the emulator seeded."""
    push_image("seed")
    proc = run_site("-e", "ecs_taskdefs_image_tag=seed")
    assert proc.returncode == 0, proc.stdout[-4000:]
    yield
    proc = run_site("-e", "teardown_confirm=local", playbook="playbooks/teardown.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.mark.parametrize(
    ("playbook", "args", "fragments"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_refused_before_any_write(
    stack, run_site, emulator, aws_tasks, tmp_path, playbook, args, fragments
):
    before = snapshot(emulator)
    proc = run_site(*(args(tmp_path) if callable(args) else args), playbook=playbook)
    flat = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, flat[-3000:]
    for fragment in fragments:
        assert fragment in flat, f"{fragment!r} not in: {flat[-3000:]}"
    ran = [header for header in aws_tasks(proc.stdout) if "Look up" not in header]
    assert ran == [], ran
    after = snapshot(emulator)
    assert after == before, differences(before, after)


def rule_calls(run_site, emulator, *args, tags="network_security") -> list[str]:
    """The security group rule writes (Authorize*, Revoke*), in the order the emulator applied
    them, of a `site.yml --tags <tags>` run through a recording proxy."""
    calls = []
    with FaultProxy(emulator, rate=0) as proxy:
        proxy.on_forwarded = lambda service, operation, status: calls.append(operation)
        endpoint = {"AWS_ENDPOINT_URL": proxy.url, "ASSET_MANAGER_ENDPOINT_URL": proxy.url}
        proc = run_site("--tags", tags, *args, env=endpoint)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return [c for c in calls if c.startswith(("Authorize", "Revoke")) and "SecurityGroup" in c]


def test_a_new_ingress_cidr_is_authorized_before_the_old_one_is_revoked(
    stack, run_site, emulator, boto3_client
):
    ec2 = boto3_client("ec2")
    [group] = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["asset-manager-alb-sg"]}]
    )["SecurityGroups"]
    before = snapshot(emulator)["shape"]["security_group_rules"]
    calls = rule_calls(
        run_site, emulator, *extra(network_security_alb_ingress_cidrs=["203.0.113.0/24"])
    )
    assert calls == ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"], calls
    [changed] = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"]
    cidrs = {r["CidrIp"] for p in changed["IpPermissions"] for r in p["IpRanges"]}
    assert cidrs == {"203.0.113.0/24"}, changed["IpPermissions"]
    # The deployed rules back, with boto3 (a run would take as long again).
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"], IpPermissions=group["IpPermissions"]
    )
    ec2.revoke_security_group_ingress(
        GroupId=group["GroupId"], IpPermissions=changed["IpPermissions"]
    )
    assert snapshot(emulator)["shape"]["security_group_rules"] == before


def test_the_postgres_port_moves_the_egress_and_the_parameter_together(
    stack, run_site, emulator, boto3_client
):
    """asset_manager_pg_port is the one source: the services group's egress and DAGSTER_PG_PORT
    follow it in one run, the new egress authorized before the old one is revoked."""
    ec2, ssm = boto3_client("ec2"), boto3_client("ssm")
    [group] = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["asset-manager-services-sg"]}]
    )["SecurityGroups"]
    before = snapshot(emulator)["shape"]["security_group_rules"]
    calls = rule_calls(
        run_site, emulator, *extra(asset_manager_pg_port=6543), tags="network_security,ssm_params"
    )
    assert calls == ["AuthorizeSecurityGroupEgress", "RevokeSecurityGroupEgress"], calls
    [changed] = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"]
    ports = sorted(p["FromPort"] for p in changed["IpPermissionsEgress"])
    assert ports == [80, 443, 6543], changed["IpPermissionsEgress"]
    assert all(p["FromPort"] == p["ToPort"] for p in changed["IpPermissionsEgress"])
    parameter = ssm.get_parameter(Name="/asset-manager/DAGSTER_PG_PORT")["Parameter"]
    assert parameter["Value"] == "6543"
    # The deployed values back, with boto3 (a run would take as long again).
    ec2.authorize_security_group_egress(
        GroupId=group["GroupId"],
        IpPermissions=[p for p in group["IpPermissionsEgress"] if p["FromPort"] == 5432],
    )
    ec2.revoke_security_group_egress(
        GroupId=group["GroupId"],
        IpPermissions=[p for p in changed["IpPermissionsEgress"] if p["FromPort"] == 6543],
    )
    ssm.put_parameter(
        Name="/asset-manager/DAGSTER_PG_PORT", Value="5432", Type="String", Overwrite=True
    )
    assert snapshot(emulator)["shape"]["security_group_rules"] == before
