"""Unit tests of s3_private_bucket: the pure comparison, and main() against botocore's Stubber."""

from __future__ import annotations

import json

import pytest
from botocore.stub import ANY

from ansible_collections.leverslabs.asset_manager.plugins.modules import s3_private_bucket as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
    stubbed_client,
)

BUCKET = "asset-manager-artifacts"
OWNER = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
TAGS = {"Application": "asset-manager", "ManagedBy": "leverslabs.asset_manager"}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}
ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
AES256 = {
    "Rules": [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }
    ]
}
PUBLIC_READ = {
    "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
    "Permission": "READ",
}


@pytest.fixture
def s3():
    with stubbed_client("s3") as client:
        yield client


def not_found(client, method, code):
    client.stubber.add_client_error(method, service_error_code=code, http_status_code=404)


# expect_reads' default for a configuration: the converged bucket's (None means AWS has none).
CONVERGED = object()
UNMANAGED = object()


def expect_reads(
    client,
    pab=CONVERGED,
    ownership="BucketOwnerEnforced",
    encryption=CONVERGED,
    policy=CONVERGED,
    tags=CONVERGED,
    grants=None,
    versioning=UNMANAGED,
    lifecycle=UNMANAGED,
    logging=UNMANAGED,
    mfa_delete=UNMANAGED,
    object_lock=UNMANAGED,
    replication=UNMANAGED,
    notifications=UNMANAGED,
):
    """The reads of a run on an existing bucket, in order; None: AWS has no such configuration,
    UNMANAGED: the run does not read it (its option omitted). versioning and mfa_delete are the
    Status and MFADelete of one GetBucketVersioning; object_lock, replication and notifications
    are AWS's answers (ObjectLockConfiguration, ReplicationConfiguration, the notification
    configuration)."""
    pab = ALL_BLOCKED if pab is CONVERGED else pab
    encryption = AES256 if encryption is CONVERGED else encryption
    policy = POLICY if policy is CONVERGED else policy
    tags = TAGS if tags is CONVERGED else tags
    stub = client.stubber
    stub.add_response("head_bucket", {}, {"Bucket": BUCKET})
    if pab is None:
        not_found(client, "get_public_access_block", "NoSuchPublicAccessBlockConfiguration")
    else:
        stub.add_response(
            "get_public_access_block", {"PublicAccessBlockConfiguration": pab}, {"Bucket": BUCKET}
        )
    if ownership is None:
        not_found(client, "get_bucket_ownership_controls", "OwnershipControlsNotFoundError")
    else:
        stub.add_response(
            "get_bucket_ownership_controls",
            {"OwnershipControls": {"Rules": [{"ObjectOwnership": ownership}]}},
            {"Bucket": BUCKET},
        )
    if encryption is None:
        not_found(client, "get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError")
    else:
        stub.add_response(
            "get_bucket_encryption",
            {"ServerSideEncryptionConfiguration": encryption},
            {"Bucket": BUCKET},
        )
    owner_grant = {"Grantee": {"Type": "CanonicalUser", "ID": OWNER}, "Permission": "FULL_CONTROL"}
    stub.add_response(
        "get_bucket_acl",
        {"Owner": {"ID": OWNER}, "Grants": [owner_grant, *(grants or [])]},
        {"Bucket": BUCKET},
    )
    if versioning is not UNMANAGED or mfa_delete is not UNMANAGED:
        answer = {}
        if versioning not in (None, UNMANAGED):
            answer["Status"] = versioning
        if mfa_delete not in (None, UNMANAGED):
            answer["MFADelete"] = mfa_delete
        stub.add_response("get_bucket_versioning", answer, {"Bucket": BUCKET})
    if object_lock is None:
        not_found(client, "get_object_lock_configuration", "ObjectLockConfigurationNotFoundError")
    elif object_lock is not UNMANAGED:
        stub.add_response(
            "get_object_lock_configuration",
            {"ObjectLockConfiguration": object_lock},
            {"Bucket": BUCKET},
        )
    if lifecycle is None:
        not_found(client, "get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration")
    elif lifecycle is not UNMANAGED:
        stub.add_response(
            "get_bucket_lifecycle_configuration", {"Rules": lifecycle}, {"Bucket": BUCKET}
        )
    if replication is None:
        not_found(client, "get_bucket_replication", "ReplicationConfigurationNotFoundError")
    elif replication is not UNMANAGED:
        stub.add_response(
            "get_bucket_replication", {"ReplicationConfiguration": replication}, {"Bucket": BUCKET}
        )
    if logging is not UNMANAGED:
        answer = {"LoggingEnabled": logging} if logging else {}
        stub.add_response("get_bucket_logging", answer, {"Bucket": BUCKET})
    if notifications is not UNMANAGED:
        stub.add_response(
            "get_bucket_notification_configuration", notifications or {}, {"Bucket": BUCKET}
        )
    if policy is None:
        not_found(client, "get_bucket_policy", "NoSuchBucketPolicy")
    else:
        stub.add_response("get_bucket_policy", {"Policy": json.dumps(policy)}, {"Bucket": BUCKET})
    if tags is None:
        not_found(client, "get_bucket_tagging", "NoSuchTagSet")
    else:
        stub.add_response(
            "get_bucket_tagging",
            {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
            {"Bucket": BUCKET},
        )


def expect_versioning_write(client, status, mfa_delete=None, mfa=None):
    """One PutBucketVersioning: the status, MFA delete when given, and the x-amz-mfa value."""
    config = {"Status": status}
    if mfa_delete:
        config["MFADelete"] = mfa_delete
    params = {"Bucket": BUCKET, "VersioningConfiguration": config}
    if mfa:
        params["MFA"] = mfa
    client.stubber.add_response("put_bucket_versioning", {}, params)


def run(client, check_mode=False, diff=False, **args):
    args = {"name": BUCKET, "policy": json.dumps(POLICY), "tags": TAGS, **args}
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


# --- the pure comparison ---------------------------------------------------------------------


def desired(**params):
    return m.desired_settings(
        {
            "encryption": "AES256",
            "encryption_key_id": None,
            "bucket_key_enabled": None,
            "versioning": None,
            "lifecycle_rules": None,
            "server_access_logging": None,
            "mfa_delete": None,
            "object_lock": None,
            "replication": None,
            "event_notifications": None,
            "policy": json.dumps(POLICY),
            "tags": TAGS,
            **params,
        }
    )


def converged():
    return {
        "public_access_block": dict(m.PUBLIC_ACCESS_BLOCK),
        "object_ownership": "BucketOwnerEnforced",
        "encryption": {"sse_algorithm": "AES256", "bucket_key_enabled": False},
        "acl_grants": [],
        "policy": POLICY,
        "tags": dict(TAGS),
    }


def test_a_converged_bucket_needs_nothing():
    changes, after = m.compare_bucket(desired(), converged())
    assert changes == []
    assert after == converged()


def test_every_drift_is_found_in_writing_order():
    current = {
        "public_access_block": None,
        "object_ownership": "ObjectWriter",
        "acl_grants": ["http://acs.amazonaws.com/groups/global/AllUsers READ"],
        "encryption": {"sse_algorithm": "aws:kms", "bucket_key_enabled": False},
        "policy": None,
        "tags": {"Application": "other", "Extra": "1"},
    }
    changes, after = m.compare_bucket(desired(), current)
    assert changes == [
        "acl_grants",
        "public_access_block",
        "object_ownership",
        "encryption",
        "policy",
        "tags",
    ]
    assert after["acl_grants"] == []
    assert after["encryption"] == {"sse_algorithm": "AES256", "bucket_key_enabled": False}
    assert after["tags"] == TAGS


def test_a_policy_is_compared_as_a_policy():
    reordered = json.loads(json.dumps(POLICY))
    reordered["Statement"][0]["Resource"].reverse()
    current = {**converged(), "policy": reordered}
    assert m.compare_bucket(desired(), current)[0] == []
    public = {**POLICY, "Statement": [{**POLICY["Statement"][0], "Effect": "Allow"}]}
    assert m.compare_bucket(desired(), {**converged(), "policy": public})[0] == ["policy"]


def test_a_partly_relaxed_public_access_block_is_drift():
    relaxed = {**m.PUBLIC_ACCESS_BLOCK, "restrict_public_buckets": False}
    assert m.compare_bucket(desired(), {**converged(), "public_access_block": relaxed})[0] == [
        "public_access_block"
    ]


def test_kms_encryption_compares_key_and_bucket_key():
    wanted = desired(encryption="aws:kms", encryption_key_id="arn:key/1", bucket_key_enabled=True)
    current = {
        **converged(),
        "encryption": {
            "sse_algorithm": "aws:kms",
            "kms_key_id": "arn:key/1",
            "bucket_key_enabled": True,
        },
    }
    assert m.compare_bucket(wanted, current)[0] == []
    current["encryption"]["kms_key_id"] = "arn:key/2"
    assert m.compare_bucket(wanted, current)[0] == ["encryption"]


def test_unmanaged_policy_and_tags_are_not_compared():
    wanted = desired(policy=None, tags=None)
    current = {**converged(), "policy": None, "tags": {"x": "y"}}
    assert m.compare_bucket(wanted, current) == (
        [],
        {k: v for k, v in converged().items() if k not in ("policy", "tags")},
    )


def test_tags_not_purged_when_asked():
    current = {**converged(), "tags": {**TAGS, "Owner": "ops"}}
    assert m.compare_bucket(desired(), current, purge_tags=False)[0] == []
    assert m.compare_bucket(desired(), current)[0] == ["tags"]


def test_foreign_grants_ignore_the_owner():
    grants = [
        {"Grantee": {"Type": "CanonicalUser", "ID": OWNER}, "Permission": "FULL_CONTROL"},
        PUBLIC_READ,
        {"Grantee": {"Type": "CanonicalUser", "ID": "other"}, "Permission": "WRITE"},
    ]
    assert m.foreign_grants(grants, OWNER) == [
        "http://acs.amazonaws.com/groups/global/AllUsers READ",
        "other WRITE",
    ]


# --- main() ----------------------------------------------------------------------------------


def test_noop_reads_each_setting_once_and_writes_nothing(s3):
    expect_reads(s3)
    result = run(s3)
    assert result == {"changed": False, "name": BUCKET, "changes": []}


def test_check_mode_reports_every_drift_with_a_diff_and_writes_nothing(s3):
    expect_reads(s3, pab=None, policy=None, ownership="ObjectWriter", grants=[PUBLIC_READ])
    result = run(s3, check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["changes"] == ["acl_grants", "public_access_block", "object_ownership", "policy"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["public_access_block"] is None and before["policy"] is None
    assert after["public_access_block"] == m.PUBLIC_ACCESS_BLOCK and after["policy"] == POLICY
    assert before["acl_grants"] == ["http://acs.amazonaws.com/groups/global/AllUsers READ"]
    assert after["acl_grants"] == []
    assert (before["object_ownership"], after["object_ownership"]) == (
        "ObjectWriter",
        "BucketOwnerEnforced",
    )


def test_run_turns_a_granting_acl_off_before_ownership(s3):
    expect_reads(s3, ownership=None, grants=[PUBLIC_READ])
    s3.stubber.add_response("put_bucket_acl", {}, {"Bucket": BUCKET, "ACL": "private"})
    s3.stubber.add_response(
        "put_bucket_ownership_controls",
        {},
        {
            "Bucket": BUCKET,
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )
    result = run(s3)
    assert result["changes"] == ["acl_grants", "object_ownership"]


def test_a_public_acl_is_made_private_even_with_acls_off(s3):
    expect_reads(s3, grants=[PUBLIC_READ])
    s3.stubber.add_response("put_bucket_acl", {}, {"Bucket": BUCKET, "ACL": "private"})
    result = run(s3, diff=True)
    assert result["changes"] == ["acl_grants"]
    assert result["diff"]["before"]["acl_grants"] == [
        "http://acs.amazonaws.com/groups/global/AllUsers READ"
    ]
    assert result["diff"]["after"]["acl_grants"] == []


def test_run_writes_only_what_differs(s3):
    expect_reads(s3, pab=None, encryption=None, policy=None, tags=None)
    stub = s3.stubber
    stub.add_response(
        "put_public_access_block",
        {},
        {"Bucket": BUCKET, "PublicAccessBlockConfiguration": ALL_BLOCKED},
    )
    stub.add_response(
        "put_bucket_encryption",
        {},
        {
            "Bucket": BUCKET,
            "ServerSideEncryptionConfiguration": AES256,
        },
    )
    stub.add_response("put_bucket_policy", {}, {"Bucket": BUCKET, "Policy": json.dumps(POLICY)})
    stub.add_response(
        "put_bucket_tagging",
        {},
        {
            "Bucket": BUCKET,
            "Tagging": {"TagSet": [{"Key": k, "Value": v} for k, v in TAGS.items()]},
        },
    )
    result = run(s3)
    assert result["changes"] == ["public_access_block", "encryption", "policy", "tags"]


def test_removing_every_tag_deletes_the_tag_set(s3):
    expect_reads(s3, tags={"Old": "1"})
    s3.stubber.add_response("delete_bucket_tagging", {}, {"Bucket": BUCKET})
    assert run(s3, tags={})["changes"] == ["tags"]


def test_a_missing_bucket_is_created_locked_down(s3):
    stub = s3.stubber
    stub.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stub.add_response(
        "create_bucket",
        {},
        {
            "Bucket": BUCKET,
            "ObjectOwnership": "BucketOwnerEnforced",
            "CreateBucketConfiguration": {"LocationConstraint": "us-west-1"},
        },
    )
    for method in ("put_public_access_block", "put_bucket_encryption", "put_bucket_policy"):
        stub.add_response(method, {}, {"Bucket": BUCKET, **expected_params(method)})
    stub.add_response("put_bucket_tagging", {}, {"Bucket": BUCKET, "Tagging": ANY})
    result = run(s3, diff=True)
    assert result["changes"] == ["bucket", "public_access_block", "encryption", "policy", "tags"]
    assert result["diff"]["before"] == {}


def test_a_create_whose_first_answer_was_lost_goes_on(s3):
    """botocore retried a CreateBucket that had worked: S3 answers BucketAlreadyOwnedByYou."""
    stub = s3.stubber
    stub.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stub.add_client_error("create_bucket", "BucketAlreadyOwnedByYou", http_status_code=409)
    for method in ("put_public_access_block", "put_bucket_encryption", "put_bucket_policy"):
        stub.add_response(method, {}, {"Bucket": BUCKET, **expected_params(method)})
    stub.add_response("put_bucket_tagging", {}, {"Bucket": BUCKET, "Tagging": ANY})
    assert run(s3)["changes"][0] == "bucket"


def expected_params(method):
    return {
        "put_public_access_block": {"PublicAccessBlockConfiguration": ALL_BLOCKED},
        "put_bucket_encryption": {"ServerSideEncryptionConfiguration": ANY},
        "put_bucket_policy": {"Policy": ANY},
    }[method]


def test_check_mode_on_a_missing_bucket_plans_it(s3):
    s3.stubber.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    result = run(s3, check_mode=True, diff=True)
    assert result["changed"] is True and result["changes"][0] == "bucket"
    assert result["diff"]["after"]["public_access_block"] == m.PUBLIC_ACCESS_BLOCK


def test_a_bucket_of_another_account_fails(s3):
    s3.stubber.add_client_error("head_bucket", service_error_code="403", http_status_code=403)
    with pytest.raises(Failed, match="not readable by this account"):
        run(s3)


def test_a_key_without_kms_is_refused():
    with pytest.raises(Failed, match="encryption_key_id needs encryption: aws:kms"):
        run_module(m, {"name": BUCKET, "encryption_key_id": "arn:key/1"})


# --- versioning and lifecycle ----------------------------------------------------------------

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


def test_versioning_is_compared_as_s3_reports_it():
    on = desired(versioning=True)
    assert m.compare_bucket(on, {**converged(), "versioning": None})[0] == ["versioning"]
    assert m.compare_bucket(on, {**converged(), "versioning": "Suspended"})[0] == ["versioning"]
    assert m.compare_bucket(on, {**converged(), "versioning": "Enabled"})[0] == []
    off = desired(versioning=False)
    # A bucket that never had versioning is not suspended: nothing to write.
    assert m.compare_bucket(off, {**converged(), "versioning": None}) == (
        [],
        {**converged(), "versioning": None},
    )
    assert m.compare_bucket(off, {**converged(), "versioning": "Enabled"})[0] == ["versioning"]


def test_lifecycle_rules_compare_by_id_whatever_the_filter_form():
    wanted = desired(lifecycle_rules=RULES)
    # S3's answer in another order, the whole-bucket filter as an empty prefix, days as strings
    # (a templated value).
    described = [
        {**RULES[1], "Filter": {"Prefix": ""}},
        {**RULES[0], "Expiration": {"Days": "90"}},
    ]
    current = {**converged(), "lifecycle_rules": m.normalise_rules(described)}
    assert m.compare_bucket(wanted, current)[0] == []
    legacy = [{**{k: v for k, v in RULES[0].items() if k != "Filter"}, "Prefix": "compute-logs/"}]
    assert m.normalise_rules(legacy) == [RULES[0]]


def test_a_changed_or_missing_lifecycle_rule_is_drift():
    wanted = desired(lifecycle_rules=RULES)
    shorter = [{**RULES[0], "Expiration": {"Days": 7}}, RULES[1]]
    for rules in (None, [], RULES[:1], shorter, [*RULES, {**RULES[0], "ID": "extra"}]):
        current = {**converged(), "lifecycle_rules": rules}
        changes, after = m.compare_bucket(wanted, current)
        assert changes == ["lifecycle_rules"], rules
        assert after["lifecycle_rules"] == RULES


def test_no_rules_wanted_removes_the_configuration(s3):
    expect_reads(s3, lifecycle=RULES)
    s3.stubber.add_response("delete_bucket_lifecycle", {}, {"Bucket": BUCKET})
    result = run(s3, lifecycle_rules=[], diff=True)
    assert result["changes"] == ["lifecycle_rules"]
    assert result["diff"]["before"]["lifecycle_rules"] == RULES
    assert result["diff"]["after"]["lifecycle_rules"] is None


def test_check_mode_plans_versioning_and_lifecycle_with_a_diff(s3):
    expect_reads(s3, versioning=None, lifecycle=[{**RULES[0], "Expiration": {"Days": 7}}])
    result = run(s3, versioning=True, lifecycle_rules=RULES, check_mode=True, diff=True)
    assert result["changes"] == ["versioning", "lifecycle_rules"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert (before["versioning"], after["versioning"]) == (None, "Enabled")
    assert before["lifecycle_rules"][0]["Expiration"] == {"Days": 7}
    assert after["lifecycle_rules"] == RULES


def test_versioning_then_lifecycle_then_policy_are_written(s3):
    expect_reads(s3, versioning="Suspended", lifecycle=None, policy=None)
    stub = s3.stubber
    expect_versioning_write(s3, "Enabled")
    stub.add_response(
        "put_bucket_lifecycle_configuration",
        {},
        {"Bucket": BUCKET, "LifecycleConfiguration": {"Rules": RULES}},
    )
    stub.add_response("put_bucket_policy", {}, {"Bucket": BUCKET, "Policy": json.dumps(POLICY)})
    result = run(s3, versioning=True, lifecycle_rules=list(reversed(RULES)))
    assert result["changes"] == ["versioning", "lifecycle_rules", "policy"]


def test_a_converged_versioned_bucket_with_its_rules_needs_nothing(s3):
    expect_reads(s3, versioning="Enabled", lifecycle=RULES)
    assert run(s3, versioning=True, lifecycle_rules=RULES)["changed"] is False


@pytest.mark.parametrize(
    "rules", [[{"Status": "Enabled"}], [RULES[0], RULES[0]]], ids=["no ID", "same ID twice"]
)
def test_rules_without_a_unique_id_are_refused_before_any_call(rules):
    with pytest.raises(Failed, match="unique, non-empty ID"):
        run_module(m, {"name": BUCKET, "lifecycle_rules": rules})


# --- server access logging -----------------------------------------------------------------

LOGS = {"target_bucket": "org-s3-access-logs", "target_prefix": f"{BUCKET}/"}
LOGGING_ENABLED = {"TargetBucket": "org-s3-access-logs", "TargetPrefix": f"{BUCKET}/"}


def test_server_access_logging_is_compared_bucket_and_prefix():
    wanted = desired(server_access_logging=LOGS)
    assert m.compare_bucket(wanted, {**converged(), "server_access_logging": dict(LOGS)})[0] == []
    for current in (None, {**LOGS, "target_prefix": ""}, {**LOGS, "target_bucket": "other"}):
        changes, after = m.compare_bucket(wanted, {**converged(), "server_access_logging": current})
        assert changes == ["server_access_logging"], current
        assert after["server_access_logging"] == LOGS
    off = desired(server_access_logging={"target_bucket": "", "target_prefix": ""})
    assert m.compare_bucket(off, {**converged(), "server_access_logging": dict(LOGS)})[0] == [
        "server_access_logging"
    ]
    assert m.compare_bucket(desired(), {**converged(), "server_access_logging": LOGS})[0] == []


def test_logging_is_turned_on_before_the_policy_and_planned_with_a_diff(s3):
    expect_reads(s3, logging=None)
    plan = run(s3, check_mode=True, diff=True, server_access_logging=LOGS)
    assert plan["changes"] == ["server_access_logging"]
    assert plan["diff"]["before"]["server_access_logging"] is None
    assert plan["diff"]["after"]["server_access_logging"] == LOGS
    s3.stubber.assert_no_pending_responses()

    expect_reads(s3, logging=None)
    s3.stubber.add_response(
        "put_bucket_logging",
        {},
        {"Bucket": BUCKET, "BucketLoggingStatus": {"LoggingEnabled": LOGGING_ENABLED}},
    )
    assert run(s3, server_access_logging=LOGS)["changes"] == ["server_access_logging"]


def test_logging_as_wanted_reads_once_and_writes_nothing(s3):
    expect_reads(s3, logging=LOGGING_ENABLED)
    assert run(s3, server_access_logging=LOGS)["changed"] is False


def test_logging_off_sends_an_empty_status(s3):
    expect_reads(s3, logging=LOGGING_ENABLED)
    s3.stubber.add_response("put_bucket_logging", {}, {"Bucket": BUCKET, "BucketLoggingStatus": {}})
    assert run(s3, server_access_logging={})["changes"] == ["server_access_logging"]


# --- the opt-ins: MFA delete, Object Lock, replication, event notifications -------------------

MFA = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
ROLE = "arn:aws:iam::123456789012:role/s3-replication"
REPLICA = "arn:aws:s3:::asset-manager-artifacts-replica"
TOPIC = "arn:aws:sns:us-west-1:123456789012:bucket-events"
REPLICATION = {"role_arn": ROLE, "destination_bucket_arn": REPLICA}
REPLICATION_VIEW = {**REPLICATION, "storage_class": None}
REPLICATION_CONFIG = {
    "Role": ROLE,
    "Rules": [
        {
            "ID": "replicate-all",
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": REPLICA},
        }
    ],
}
LOCK = {"mode": "GOVERNANCE", "days": 30}
LOCK_CONFIG = {
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
}
NOTIFY = {"topic_arn": TOPIC, "events": ["s3:ObjectRemoved:*", "s3:ObjectCreated:*"]}
NOTIFY_VIEW = {"topic_arn": TOPIC, "events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
NOTIFY_CONFIG = {
    "TopicConfigurations": [
        {"Id": "sns-events", "TopicArn": TOPIC, "Events": NOTIFY_VIEW["events"]}
    ]
}

# Per opt-in: (module arguments, the reads of a bucket without it, of a bucket with it, the diff
# before and after, and the write that turns it on).
OPT_INS = {
    "mfa_delete": (
        {"versioning": True, "mfa_delete": True, "lifecycle_rules": [], "mfa": MFA},
        {"versioning": "Enabled", "mfa_delete": "Disabled", "lifecycle": None},
        {"versioning": "Enabled", "mfa_delete": "Enabled", "lifecycle": None},
        ("Disabled", "Enabled"),
        (
            "put_bucket_versioning",
            {"VersioningConfiguration": {"Status": "Enabled", "MFADelete": "Enabled"}, "MFA": MFA},
        ),
    ),
    "object_lock": (
        {"versioning": True, "object_lock": LOCK},
        {"versioning": "Enabled", "object_lock": None},
        {"versioning": "Enabled", "object_lock": LOCK_CONFIG},
        (None, LOCK),
        ("put_object_lock_configuration", {"ObjectLockConfiguration": LOCK_CONFIG}),
    ),
    "replication": (
        {"versioning": True, "replication": REPLICATION},
        {"versioning": "Enabled", "replication": None},
        {"versioning": "Enabled", "replication": REPLICATION_CONFIG},
        (None, REPLICATION_VIEW),
        ("put_bucket_replication", {"ReplicationConfiguration": REPLICATION_CONFIG}),
    ),
    "event_notifications": (
        {"event_notifications": NOTIFY},
        {"notifications": {}},
        {"notifications": NOTIFY_CONFIG},
        (None, NOTIFY_VIEW),
        ("put_bucket_notification_configuration", {"NotificationConfiguration": NOTIFY_CONFIG}),
    ),
}


@pytest.mark.parametrize("option", OPT_INS)
def test_an_opt_in_is_planned_with_its_diff_and_nothing_written(s3, option):
    args, without, _with, (before, after), _write = OPT_INS[option]
    expect_reads(s3, **without)
    result = run(s3, check_mode=True, diff=True, **args)
    assert result["changes"] == [option], result
    assert result["diff"]["before"][option] == before
    assert result["diff"]["after"][option] == after
    assert MFA not in json.dumps(result)


@pytest.mark.parametrize("option", OPT_INS)
def test_an_opt_in_is_written_when_it_differs(s3, option):
    args, without, _with, _diff, (method, params) = OPT_INS[option]
    expect_reads(s3, **without)
    s3.stubber.add_response(method, {}, {"Bucket": BUCKET, **params})
    result = run(s3, **args)
    assert result["changes"] == [option], result
    assert MFA not in json.dumps(result)


@pytest.mark.parametrize("option", OPT_INS)
def test_an_opt_in_as_wanted_is_read_once_and_nothing_written(s3, option):
    """Only its own read (the stubber fails on any other call), and no write."""
    args, _without, with_it, _diff, _write = OPT_INS[option]
    expect_reads(s3, **with_it)
    assert run(s3, **args) == {"changed": False, "name": BUCKET, "changes": []}


def test_omitted_opt_ins_are_neither_read_nor_written(s3):
    """No GetObjectLockConfiguration, GetBucketReplication, GetBucketNotificationConfiguration
    or GetBucketVersioning: the stubber fails on a call it was not given."""
    expect_reads(s3)
    assert run(s3)["changed"] is False
    expect_reads(s3, versioning="Enabled")
    assert run(s3, versioning=True)["changed"] is False


def test_replication_off_deletes_the_configuration(s3):
    expect_reads(s3, replication=REPLICATION_CONFIG)
    s3.stubber.add_response("delete_bucket_replication", {}, {"Bucket": BUCKET})
    result = run(s3, replication={}, diff=True)
    assert result["changes"] == ["replication"]
    assert result["diff"]["before"]["replication"] == REPLICATION_VIEW
    assert result["diff"]["after"]["replication"] is None
    expect_reads(s3, replication=None)
    assert run(s3, replication={"destination_bucket_arn": ""})["changed"] is False


def test_notifications_off_write_an_empty_configuration(s3):
    expect_reads(s3, notifications=NOTIFY_CONFIG)
    s3.stubber.add_response(
        "put_bucket_notification_configuration",
        {},
        {"Bucket": BUCKET, "NotificationConfiguration": {}},
    )
    assert run(s3, event_notifications={})["changes"] == ["event_notifications"]
    expect_reads(s3, notifications={})
    assert run(s3, event_notifications={"topic_arn": ""})["changed"] is False


def test_mfa_delete_off_is_written_with_the_mfa(s3):
    expect_reads(s3, versioning="Enabled", mfa_delete="Enabled")
    expect_versioning_write(s3, "Enabled", "Disabled", MFA)
    result = run(s3, versioning=True, mfa_delete=False, mfa=MFA, diff=True)
    assert result["changes"] == ["mfa_delete"]
    assert MFA not in json.dumps(result)
    # A bucket that never had MFA delete has nothing to turn off.
    expect_reads(s3, versioning="Enabled", mfa_delete=None)
    assert run(s3, versioning=True, mfa_delete=False)["changed"] is False


def test_object_lock_without_retention_drops_the_default_retention(s3):
    """There is no off: {} keeps the lock and removes its default retention."""
    expect_reads(s3, object_lock=LOCK_CONFIG)
    s3.stubber.add_response(
        "put_object_lock_configuration",
        {},
        {"Bucket": BUCKET, "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}},
    )
    result = run(s3, object_lock={}, diff=True)
    assert result["changes"] == ["object_lock"]
    assert (result["diff"]["before"]["object_lock"], result["diff"]["after"]["object_lock"]) == (
        LOCK,
        {},
    )


def test_an_mfa_delete_change_without_the_mfa_fails_before_any_write(s3):
    expect_reads(s3, versioning="Enabled", mfa_delete="Disabled")
    with pytest.raises(Failed, match="needs mfa: the serial of the root account's MFA device"):
        run(s3, versioning=True, mfa_delete=True)
    # So does a versioning change while MFA delete is on (AWS wants the MFA for both).
    expect_reads(s3, versioning="Suspended", mfa_delete="Enabled")
    with pytest.raises(Failed, match="needs mfa"):
        run(s3, versioning=True, mfa_delete=True)


def test_check_mode_plans_mfa_delete_without_the_mfa(s3):
    expect_reads(s3, versioning="Enabled", mfa_delete=None)
    assert run(s3, versioning=True, mfa_delete=True, check_mode=True)["changes"] == ["mfa_delete"]


def test_versioning_goes_on_first_and_mfa_delete_after_the_lifecycle_is_gone(s3):
    expect_reads(s3, versioning=None, mfa_delete=None, lifecycle=RULES)
    stub = s3.stubber
    expect_versioning_write(s3, "Enabled")
    stub.add_response("delete_bucket_lifecycle", {}, {"Bucket": BUCKET})
    expect_versioning_write(s3, "Enabled", "Enabled", MFA)
    result = run(s3, versioning=True, mfa_delete=True, mfa=MFA, lifecycle_rules=[])
    assert result["changes"] == ["versioning", "lifecycle_rules", "mfa_delete"]


def test_mfa_delete_off_with_a_versioning_change_is_one_write(s3):
    """Both need the MFA while MFA delete is on: one PutBucketVersioning, one use of the code."""
    expect_reads(s3, versioning="Suspended", mfa_delete="Enabled")
    expect_versioning_write(s3, "Enabled", "Disabled", MFA)
    result = run(s3, versioning=True, mfa_delete=False, mfa=MFA)
    assert result["changes"] == ["versioning", "mfa_delete"]


def test_a_versioning_change_keeps_mfa_delete_on_and_sends_the_mfa(s3):
    expect_reads(s3, versioning="Suspended", mfa_delete="Enabled")
    expect_versioning_write(s3, "Enabled", "Enabled", MFA)
    assert run(s3, versioning=True, mfa_delete=True, mfa=MFA)["changes"] == ["versioning"]


def test_mfa_delete_goes_on_after_and_off_before_the_lifecycle():
    on = desired(versioning=True, mfa_delete=True, lifecycle_rules=[])
    current = {**converged(), "versioning": "Enabled", "mfa_delete": None, "lifecycle_rules": RULES}
    assert m.compare_bucket(on, current)[0] == ["lifecycle_rules", "mfa_delete"]
    off = desired(versioning=True, mfa_delete=False, lifecycle_rules=RULES)
    current = {**current, "mfa_delete": "Enabled", "lifecycle_rules": None}
    assert m.compare_bucket(off, current)[0] == ["mfa_delete", "lifecycle_rules"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"versioning": False, "replication": REPLICATION}, "replication needs versioning: true"),
        ({"versioning": False, "mfa_delete": True}, "mfa_delete: true needs versioning: true"),
        ({"versioning": False, "object_lock": LOCK}, "object_lock needs versioning: true"),
        ({"object_lock": {"mode": "GOVERNANCE"}}, "object_lock needs both mode and days"),
        ({"object_lock": {"days": 30}}, "object_lock needs both mode and days"),
        ({"object_lock": {"mode": "COMPLIANCE", "days": 0}}, "days must be 1 or more"),
        ({"replication": {"destination_bucket_arn": REPLICA}}, "replication needs role_arn"),
        ({"event_notifications": {"topic_arn": TOPIC, "events": []}}, "at least one event"),
        (
            {"versioning": True, "mfa_delete": True, "lifecycle_rules": RULES},
            "no lifecycle configuration on an MFA delete bucket",
        ),
    ],
    ids=[
        "replication unversioned",
        "mfa delete unversioned",
        "object lock unversioned",
        "lock mode without days",
        "lock days without mode",
        "lock of 0 days",
        "replication without role",
        "topic without events",
        "mfa delete with lifecycle rules",
    ],
)
def test_opt_ins_aws_would_refuse_are_refused_before_any_call(args, message):
    with pytest.raises(Failed, match=message) as failed:
        run_module(m, {"name": BUCKET, "mfa": MFA, **args})
    assert MFA not in json.dumps(failed.value.result)


def test_replication_drift_is_shown_and_replaced(s3):
    extra = {**REPLICATION_CONFIG["Rules"][0], "ID": "by-hand", "Priority": 2}
    drifted = {**REPLICATION_CONFIG, "Rules": [*REPLICATION_CONFIG["Rules"], extra]}
    expect_reads(s3, replication=drifted)
    s3.stubber.add_response(
        "put_bucket_replication",
        {},
        {"Bucket": BUCKET, "ReplicationConfiguration": REPLICATION_CONFIG},
    )
    result = run(s3, replication=REPLICATION, diff=True)
    assert result["diff"]["before"]["replication"] == {"role_arn": ROLE, "rules": drifted["Rules"]}
    assert result["diff"]["after"]["replication"] == REPLICATION_VIEW


def test_replication_view_is_role_destination_and_storage_class():
    described = {
        "Role": ROLE,
        "Rules": [
            {
                "ID": "anything",
                "Priority": 1,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},  # how S3 describes the empty filter
                "Destination": {"Bucket": REPLICA, "StorageClass": "STANDARD_IA"},
            }
        ],
    }
    assert m.replication_view(described) == {**REPLICATION, "storage_class": "STANDARD_IA"}
    markers = {**described["Rules"][0], "DeleteMarkerReplication": {"Status": "Enabled"}}
    prefixed = {**described["Rules"][0], "Filter": {"Prefix": "compute-logs/"}}
    for rule in (markers, prefixed, {**described["Rules"][0], "Status": "Disabled"}):
        assert "rules" in m.replication_view({"Role": ROLE, "Rules": [rule]}), rule


def test_other_notifications_are_drift_shown_and_removed(s3):
    queue = {
        "Id": "by-hand",
        "QueueArn": "arn:aws:sqs:us-west-1:123456789012:q",
        "Events": ["s3:*"],
    }
    current = {**NOTIFY_CONFIG, "QueueConfigurations": [queue]}
    expect_reads(s3, notifications=current)
    s3.stubber.add_response(
        "put_bucket_notification_configuration",
        {},
        {"Bucket": BUCKET, "NotificationConfiguration": NOTIFY_CONFIG},
    )
    result = run(s3, event_notifications=NOTIFY, diff=True)
    assert result["diff"]["before"]["event_notifications"] == current
    assert result["diff"]["after"]["event_notifications"] == NOTIFY_VIEW


def test_notification_view_ignores_order_and_response_metadata():
    answer = {
        "TopicConfigurations": [
            {"Id": "sns-events", "TopicArn": TOPIC, "Events": list(reversed(NOTIFY_VIEW["events"]))}
        ],
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    assert m.notification_view(answer) == NOTIFY_VIEW
    assert m.notification_view({"ResponseMetadata": {}}) is None
    assert m.notification_view({"EventBridgeConfiguration": {}}) == {"EventBridgeConfiguration": {}}


def test_mfa_delete_alone_keeps_the_versioning_state_it_read(s3):
    """versioning omitted: the write sends the status GetBucketVersioning gave, and the diff has
    no versioning (not managed)."""
    expect_reads(s3, versioning="Suspended", mfa_delete="Enabled")
    expect_versioning_write(s3, "Suspended", "Disabled", MFA)
    result = run(s3, mfa_delete=False, mfa=MFA, diff=True)
    assert result["changes"] == ["mfa_delete"]
    assert "versioning" not in result["diff"]["after"]
