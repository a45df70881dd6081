"""Secure and observable by default (issue 14): the bucket's versioning, lifecycle rules and ELB
log delivery grant, the KMS keys of bucket and log groups, and the load balancer's web ACL, each
read back from the emulator after a run.

The storage runs use their own bucket and log group names (`--tags storage` of site.yml), so the
other files' stacks never see them. The web ACL is tested on a load balancer of its own, through
the module the alb_oidc role runs (moto answers WAFv2's association calls).
"""

from __future__ import annotations

import json

import pytest

BUCKET = "security-test-bucket"
LOGS = "security-test"
ACCOUNT = "123456789012"  # moto's
# us-west-1 is older than August 2022: its ELB account writes the logs (AWS's documented list).
ELB_ACCOUNT = "027434742980"
GRANT = {
    "Sid": "AllowELBAccessLogDelivery",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ELB_ACCOUNT}:root"},
    "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/alb/AWSLogs/{ACCOUNT}/*",
}
RULES = [
    {
        "ID": "compute-logs",
        "Status": "Enabled",
        "Filter": {"Prefix": "compute-logs/"},
        "Expiration": {"Days": 90},
    },
    {
        "ID": "noncurrent-versions",
        "Status": "Enabled",
        "Filter": {},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
    },
]
T_BUCKET = "Ensure the artifacts bucket is private, encrypted and TLS-only"
T_LOGS = "Ensure the log groups exist with their retention"
JSON = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}


def storage(run_site, *extra, bucket=BUCKET, logs=LOGS):
    """`site.yml --tags storage` on this file's names; returns ({task: result}, recap)."""
    proc = run_site(
        "--tags",
        "storage",
        "-e",
        json.dumps(
            {"asset_manager_artifacts_bucket": bucket, "asset_manager_log_group_prefix": logs}
        ),
        *extra,
        env=JSON,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout[proc.stdout.index("{") :])
    tasks = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            tasks[task["task"]["name"].split(" : ", 1)[-1]] = task["hosts"].get("localhost", {})
    return tasks, report["stats"]["localhost"]


def policy(s3, bucket=BUCKET):
    return json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])


def statements(s3):
    return {s["Sid"]: s for s in policy(s3)["Statement"]}


def rules(s3):
    found = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    return sorted(found, key=lambda rule: rule["ID"])


ACCESS_LOGS = ("-e", "alb_oidc_access_logs_enabled=true")


@pytest.fixture(scope="module")
def s3(boto3_client):
    return boto3_client("s3")


@pytest.fixture(scope="module")
def deployed(seeded, run_site, s3):
    """The bucket deployed with ALB access logs on, as inventories/prod has them."""
    _tasks, stats = storage(run_site, *ACCESS_LOGS)
    assert stats["changed"] >= 2, stats  # the bucket and the log groups
    return s3


def test_the_bucket_is_versioned_with_its_lifecycle_rules(deployed):
    assert deployed.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert rules(deployed) == RULES


def test_the_policy_grants_elb_log_delivery_and_denies_plain_http(deployed):
    found = statements(deployed)
    assert set(found) == {"AllowELBAccessLogDelivery", "DenyInsecureTransport"}
    assert found["AllowELBAccessLogDelivery"] == GRANT
    assert found["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_a_rerun_keeps_the_grant_and_changes_nothing(deployed, run_site):
    _tasks, stats = storage(run_site, *ACCESS_LOGS)
    assert stats["changed"] == 0, stats
    assert statements(deployed)["AllowELBAccessLogDelivery"] == GRANT


def test_a_lifecycle_change_is_planned_with_its_diff_then_made(deployed, run_site):
    shorter = ("-e", "storage_compute_logs_expiration_days=30")
    tasks, stats = storage(run_site, *ACCESS_LOGS, *shorter, "--check", "--diff")
    result = tasks[T_BUCKET]
    assert result["changed"] and result["changes"] == ["lifecycle_rules"], result
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["lifecycle_rules"][0]["Expiration"] == {"Days": 90}
    assert after["lifecycle_rules"][0]["Expiration"] == {"Days": 30}
    assert stats["changed"] == 1, stats
    assert rules(deployed) == RULES, "check mode wrote the lifecycle"

    storage(run_site, *ACCESS_LOGS, *shorter)
    assert rules(deployed)[0]["Expiration"] == {"Days": 30}
    storage(run_site, *ACCESS_LOGS)
    assert rules(deployed) == RULES


def test_a_grant_removed_by_hand_is_planned_and_restored(deployed, run_site):
    tls_only = {**policy(deployed)}
    tls_only["Statement"] = [s for s in tls_only["Statement"] if s["Sid"] != GRANT["Sid"]]
    deployed.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(tls_only))

    tasks, _stats = storage(run_site, *ACCESS_LOGS, "--check", "--diff")
    result = tasks[T_BUCKET]
    assert result["changes"] == ["policy"], result
    assert GRANT in result["diff"]["after"]["policy"]["Statement"]
    assert GRANT not in result["diff"]["before"]["policy"]["Statement"]

    storage(run_site, *ACCESS_LOGS)
    assert statements(deployed)["AllowELBAccessLogDelivery"] == GRANT


def test_without_access_logs_the_policy_is_tls_only(deployed, run_site):
    """Rendered from what the stack needs: the grant goes with the logs (and comes back after)."""
    storage(run_site)
    assert set(statements(deployed)) == {"DenyInsecureTransport"}
    storage(run_site, *ACCESS_LOGS)
    assert statements(deployed)["AllowELBAccessLogDelivery"] == GRANT


def test_kms_keys_for_bucket_and_log_groups(seeded, run_site, boto3_client):
    key = boto3_client("kms").create_key(Description="issue 14 test")["KeyMetadata"]["Arn"]
    names = ("-e", json.dumps({"storage_bucket_kms_key_id": key, "storage_log_kms_key_id": key}))
    other = {"bucket": "security-test-kms", "logs": "security-test-kms"}
    _tasks, stats = storage(run_site, *names, **other)
    assert stats["changed"] >= 2, stats

    rule = boto3_client("s3").get_bucket_encryption(Bucket=other["bucket"])[
        "ServerSideEncryptionConfiguration"
    ]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key,
    }
    assert rule["BucketKeyEnabled"] is True
    groups = boto3_client("logs").describe_log_groups(logGroupNamePrefix="security-test-kms/")
    assert {g["logGroupName"]: g.get("kmsKeyId") for g in groups["logGroups"]} == {
        f"security-test-kms/{name}": key for name in ("web", "daemon", "runs")
    }

    tasks, stats = storage(run_site, *names, "--check", "--diff", **other)
    assert stats["changed"] == 0, (stats, tasks[T_BUCKET], tasks[T_LOGS])


def test_a_key_given_later_is_associated_with_the_existing_log_groups(
    deployed, run_site, boto3_client
):
    logs = boto3_client("logs")

    def keys():
        groups = logs.describe_log_groups(logGroupNamePrefix=f"{LOGS}/")["logGroups"]
        return {g["logGroupName"]: g.get("kmsKeyId") for g in groups}

    assert set(keys().values()) == {None}
    key = boto3_client("kms").create_key(Description="issue 14 later")["KeyMetadata"]["Arn"]
    later = ("-e", f"storage_log_kms_key_id={key}")
    tasks, stats = storage(run_site, *ACCESS_LOGS, *later, "--check", "--diff")
    assert tasks[T_LOGS]["changed"] and set(keys().values()) == {None}, tasks[T_LOGS]
    _tasks, stats = storage(run_site, *ACCESS_LOGS, *later)
    assert stats["changed"] == 1, stats
    assert keys() == {f"{LOGS}/{name}": key for name in ("web", "daemon", "runs")}
    assert storage(run_site, *ACCESS_LOGS, *later)[1]["changed"] == 0


# ---- the web ACL ----------------------------------------------------------------------------

ALB = "security-test-alb"
MODULE = "leverslabs.asset_manager.alb_load_balancer"


@pytest.fixture(scope="module")
def web_acls(boto3_client):
    waf = boto3_client("wafv2")

    def make(name):
        return waf.create_web_acl(
            Name=name,
            Scope="REGIONAL",
            DefaultAction={"Allow": {}},
            VisibilityConfig={
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": False,
                "MetricName": name,
            },
        )["Summary"]["ARN"]

    return make("security-test-acl"), make("security-test-other-acl")


@pytest.fixture(scope="module")
def balancer_args(seeded, boto3_client):
    subnets = boto3_client("ec2").describe_subnets(
        Filters=[{"Name": "tag:Type", "Values": ["public"]}]
    )["Subnets"]
    yield {"name": ALB, "subnets": [s["SubnetId"] for s in subnets]}
    elbv2 = boto3_client("elbv2")
    for found in elbv2.describe_load_balancers(Names=[ALB])["LoadBalancers"]:
        elbv2.delete_load_balancer(LoadBalancerArn=found["LoadBalancerArn"])


def associated(boto3_client):
    arn = boto3_client("elbv2").describe_load_balancers(Names=[ALB])["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    return (
        boto3_client("wafv2").get_web_acl_for_resource(ResourceArn=arn).get("WebACL") or {}
    ).get("ARN")


def test_the_web_acl_is_associated_by_arn_and_idempotent(
    run_task, balancer_args, web_acls, boto3_client
):
    acl, other = web_acls
    created = run_task(MODULE, {**balancer_args, "web_acl_arn": acl})
    assert created.changed and not created.failed, created.output[-3000:]
    assert associated(boto3_client) == acl

    again = run_task(MODULE, {**balancer_args, "web_acl_arn": acl})
    assert not again.changed and not again.failed, again.result

    plan = run_task(MODULE, {**balancer_args, "web_acl_arn": other}, check=True, diff=True)
    assert plan.result["changes"] == ["web_acl_arn"]
    assert plan.result["diff"]["before"]["web_acl_arn"] == acl
    assert plan.result["diff"]["after"]["web_acl_arn"] == other
    assert associated(boto3_client) == acl, "check mode associated the web ACL"

    # Straight from one web ACL to another is AssociateWebACL alone, which replaces the association
    # on AWS; moto 5.2.5 keeps both and answers the first (the unit tests cover the replacement).
    assert run_task(MODULE, {**balancer_args, "web_acl_arn": ""}).changed
    assert associated(boto3_client) is None
    assert run_task(MODULE, {**balancer_args, "web_acl_arn": other}).changed
    assert associated(boto3_client) == other


def test_a_web_acl_that_does_not_exist_fails_naming_it(run_task, balancer_args, web_acls):
    missing = web_acls[0].rsplit("/", 2)[0] + "/no-such-acl/00000000-0000-0000-0000-000000000000"
    failed = run_task(MODULE, {**balancer_args, "web_acl_arn": missing})
    assert failed.failed, failed.result
    assert f"web_acl_arn {missing} names no web ACL" in failed.result["msg"]


def test_the_load_balancer_logs_only_where_the_bucket_grants_elb(deployed, run_task, balancer_args):
    """The emulator refuses access logs as AWS does unless the policy grants ELB the prefix."""
    logs = {"access_logs.s3.enabled": True, "access_logs.s3.bucket": BUCKET}
    elsewhere = run_task(
        MODULE, {**balancer_args, "attributes": {**logs, "access_logs.s3.prefix": "other"}}
    )
    assert elsewhere.failed, elsewhere.result
    assert f"Access Denied for bucket: {BUCKET}" in elsewhere.result["msg"], elsewhere.result

    granted = {**balancer_args, "attributes": {**logs, "access_logs.s3.prefix": "alb"}}
    assert run_task(MODULE, granted).changed
    assert not run_task(MODULE, granted).changed
    listed = deployed.list_objects_v2(Bucket=BUCKET, Prefix="alb/")["Contents"]
    assert [o["Key"] for o in listed] == [f"alb/AWSLogs/{ACCOUNT}/ELBAccessLogTestFile"]
    off = {
        "access_logs.s3.enabled": False,
        "access_logs.s3.bucket": "",
        "access_logs.s3.prefix": "",
    }
    assert run_task(MODULE, {**balancer_args, "attributes": off}).changed


# ---- S3 server access logging (opt-in) -------------------------------------------------------

ACCESS_LOG_BUCKET = "security-test-s3-access-logs"


def test_server_access_logging_goes_to_the_bucket_given_and_off_again(deployed, run_site):
    deployed.create_bucket(
        Bucket=ACCESS_LOG_BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-1"}
    )
    writer = {
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{ACCESS_LOG_BUCKET}/*",
    }
    deployed.put_bucket_policy(Bucket=ACCESS_LOG_BUCKET, Policy=json.dumps({"Statement": [writer]}))
    on = ("-e", f"storage_server_access_logs_bucket={ACCESS_LOG_BUCKET}")
    tasks, _stats = storage(run_site, *ACCESS_LOGS, *on, "--check", "--diff")
    assert tasks[T_BUCKET]["changes"] == ["server_access_logging"], tasks[T_BUCKET]
    assert "LoggingEnabled" not in deployed.get_bucket_logging(Bucket=BUCKET)

    _tasks, stats = storage(run_site, *ACCESS_LOGS, *on)
    assert stats["changed"] == 1, stats
    assert deployed.get_bucket_logging(Bucket=BUCKET)["LoggingEnabled"] == {
        "TargetBucket": ACCESS_LOG_BUCKET,
        "TargetPrefix": f"{BUCKET}/",
    }
    assert storage(run_site, *ACCESS_LOGS, *on)[1]["changed"] == 0
    storage(run_site, *ACCESS_LOGS)
    assert "LoggingEnabled" not in deployed.get_bucket_logging(Bucket=BUCKET)


# ---- the scanner's other S3 controls (opt-ins) -----------------------------------------------

BUCKET_MODULE = "leverslabs.asset_manager.s3_private_bucket"
REPLICA = "security-test-replica"
REPLICATION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/security-test-replication"


def opt_in(**variables):
    return ("-e", json.dumps(variables))


def test_replication_goes_to_the_bucket_given_and_is_deleted_by_the_module(
    deployed, run_site, run_task
):
    # In the stack's Region: this file's client is regional (AWS checks nothing more here).
    deployed.create_bucket(
        Bucket=REPLICA, CreateBucketConfiguration={"LocationConstraint": "us-west-1"}
    )
    deployed.put_bucket_versioning(Bucket=REPLICA, VersioningConfiguration={"Status": "Enabled"})
    on = opt_in(
        storage_replication_role_arn=REPLICATION_ROLE,
        storage_replication_destination_bucket_arn=f"arn:aws:s3:::{REPLICA}",
        storage_replication_storage_class="STANDARD_IA",
    )
    tasks, _stats = storage(run_site, *ACCESS_LOGS, *on, "--check", "--diff")
    result = tasks[T_BUCKET]
    assert result["changes"] == ["replication"], result
    assert result["diff"]["before"]["replication"] is None
    with pytest.raises(deployed.exceptions.ClientError, match="ReplicationConfigurationNotFound"):
        deployed.get_bucket_replication(Bucket=BUCKET)

    _tasks, stats = storage(run_site, *ACCESS_LOGS, *on)
    assert stats["changed"] == 1, stats
    config = deployed.get_bucket_replication(Bucket=BUCKET)["ReplicationConfiguration"]
    assert config["Role"] == REPLICATION_ROLE
    [rule] = config["Rules"]
    assert (rule["ID"], rule["Status"], rule["Priority"]) == ("replicate-all", "Enabled", 1)
    assert rule["Destination"] == {
        "Bucket": f"arn:aws:s3:::{REPLICA}",
        "StorageClass": "STANDARD_IA",
    }
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert storage(run_site, *ACCESS_LOGS, *on)[1]["changed"] == 0
    # Emptied, the variables stop managing it: the configuration stays.
    assert storage(run_site, *ACCESS_LOGS)[1]["changed"] == 0
    assert deployed.get_bucket_replication(Bucket=BUCKET)["ReplicationConfiguration"]["Rules"]

    off = run_task(BUCKET_MODULE, {"name": BUCKET, "replication": {}})
    assert off.changed and off.result["changes"] == ["replication"], off.result
    with pytest.raises(deployed.exceptions.ClientError, match="ReplicationConfigurationNotFound"):
        deployed.get_bucket_replication(Bucket=BUCKET)


def test_event_notifications_go_to_the_topic_and_others_are_removed(
    deployed, run_site, run_task, boto3_client
):
    topic = boto3_client("sns").create_topic(Name="security-test-bucket-events")["TopicArn"]
    on = opt_in(storage_event_notifications_topic_arn=topic)
    tasks, _stats = storage(run_site, *ACCESS_LOGS, *on, "--check", "--diff")
    result = tasks[T_BUCKET]
    assert result["changes"] == ["event_notifications"], result
    assert result["diff"]["after"]["event_notifications"] == {
        "topic_arn": topic,
        "events": ["s3:ObjectRemoved:*"],
    }
    assert "TopicConfigurations" not in deployed.get_bucket_notification_configuration(
        Bucket=BUCKET
    )

    _tasks, stats = storage(run_site, *ACCESS_LOGS, *on)
    assert stats["changed"] == 1, stats
    wanted = [{"Id": "sns-events", "TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}]
    found = deployed.get_bucket_notification_configuration(Bucket=BUCKET)
    assert found["TopicConfigurations"] == wanted
    assert storage(run_site, *ACCESS_LOGS, *on)[1]["changed"] == 0

    # A notification added by hand is drift: shown, then removed.
    extra = {"Id": "by-hand", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}
    deployed.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"TopicConfigurations": [*wanted, extra]}
    )
    tasks, _stats = storage(run_site, *ACCESS_LOGS, *on, "--check", "--diff")
    before = tasks[T_BUCKET]["diff"]["before"]["event_notifications"]
    assert extra in before["TopicConfigurations"], before
    storage(run_site, *ACCESS_LOGS, *on)
    found = deployed.get_bucket_notification_configuration(Bucket=BUCKET)
    assert found["TopicConfigurations"] == wanted

    off = run_task(BUCKET_MODULE, {"name": BUCKET, "event_notifications": {}})
    assert off.result["changes"] == ["event_notifications"], off.result
    assert "TopicConfigurations" not in deployed.get_bucket_notification_configuration(
        Bucket=BUCKET
    )


def test_object_lock_goes_on_a_deployed_bucket_with_objects(seeded, run_site, s3):
    """Once on, AWS never turns Object Lock off: a bucket of its own."""
    names = {"bucket": "security-test-lock", "logs": "security-test-lock"}
    # An object in it before the role converges it (the TLS-only policy then refuses this
    # client's plain HTTP).
    s3.create_bucket(
        Bucket=names["bucket"], CreateBucketConfiguration={"LocationConstraint": "us-west-1"}
    )
    s3.put_object(Bucket=names["bucket"], Key="compute-logs/run-1/out", Body=b"log")
    storage(run_site, **names)
    on = opt_in(storage_object_lock_mode="GOVERNANCE", storage_object_lock_days=7)
    tasks, _stats = storage(run_site, *on, "--check", "--diff", **names)
    result = tasks[T_BUCKET]
    assert result["changes"] == ["object_lock"], result
    assert result["diff"]["before"]["object_lock"] is None
    assert result["diff"]["after"]["object_lock"] == {"mode": "GOVERNANCE", "days": 7}

    _tasks, stats = storage(run_site, *on, **names)
    assert stats["changed"] == 1, stats
    config = s3.get_object_lock_configuration(Bucket=names["bucket"])["ObjectLockConfiguration"]
    assert config["ObjectLockEnabled"] == "Enabled"
    retention = config["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("GOVERNANCE", 7)
    assert storage(run_site, *on, **names)[1]["changed"] == 0


MFA_SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device"
MFA_CODE = "314159"


def test_mfa_delete_is_planned_refused_without_the_mfa_then_applied(seeded, run_site, s3):
    names = {"bucket": "security-test-mfa", "logs": "security-test-mfa"}
    no_lifecycle = {
        "storage_compute_logs_expiration_days": 0,
        "storage_noncurrent_version_expiration_days": 0,
    }
    _tasks, stats = storage(run_site, *opt_in(**no_lifecycle), **names)
    bucket = names["bucket"]
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)

    on = opt_in(storage_mfa_delete=True, **no_lifecycle)
    tasks, _stats = storage(run_site, *on, "--check", "--diff", **names)
    result = tasks[T_BUCKET]
    assert result["changes"] == ["mfa_delete"], result
    assert result["diff"]["after"]["mfa_delete"] == "Enabled"
    assert "MFADelete" not in s3.get_bucket_versioning(Bucket=bucket)

    def site(*args):
        return run_site(
            "--tags",
            "storage",
            *opt_in(asset_manager_artifacts_bucket=bucket, asset_manager_log_group_prefix=bucket),
            *args,
        )

    refused = site(*on)
    assert refused.returncode != 0
    assert "needs mfa" in " ".join(refused.stdout.split()), refused.stdout[-3000:]
    assert "MFADelete" not in s3.get_bucket_versioning(Bucket=bucket)

    applied = site(*on, *opt_in(storage_mfa_delete_mfa=f"{MFA_SERIAL} {MFA_CODE}"))
    output = applied.stdout + applied.stderr
    assert applied.returncode == 0, output[-3000:]
    assert MFA_CODE not in output and "root-account-mfa-device" not in output
    assert s3.get_bucket_versioning(Bucket=bucket) | {"ResponseMetadata": None} == {
        "Status": "Enabled",
        "MFADelete": "Enabled",
        "ResponseMetadata": None,
    }
    assert storage(run_site, *on, **names)[1]["changed"] == 0


def test_mfa_delete_with_lifecycle_rules_is_refused_offline(seeded, run_site, aws_tasks):
    proc = run_site("--tags", "storage", *opt_in(storage_mfa_delete=True))
    assert proc.returncode != 0
    flat = " ".join(proc.stdout.split())
    assert "storage_mfa_delete: AWS supports no lifecycle configuration" in flat, flat[-3000:]
    assert [h for h in aws_tasks(proc.stdout) if "Look up" not in h] == []
