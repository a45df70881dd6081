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
):
    """The reads of a run on an existing bucket, in order; None: AWS has no such configuration,
    UNMANAGED: the run does not read it (its option omitted)."""
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
    if versioning is not UNMANAGED:
        answer = {} if versioning is None else {"Status": versioning}
        stub.add_response("get_bucket_versioning", answer, {"Bucket": BUCKET})
    if lifecycle is None:
        not_found(client, "get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration")
    elif lifecycle is not UNMANAGED:
        stub.add_response(
            "get_bucket_lifecycle_configuration", {"Rules": lifecycle}, {"Bucket": BUCKET}
        )
    if logging is not UNMANAGED:
        answer = {"LoggingEnabled": logging} if logging else {}
        stub.add_response("get_bucket_logging", answer, {"Bucket": BUCKET})
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
    stub.add_response(
        "put_bucket_versioning",
        {},
        {"Bucket": BUCKET, "VersioningConfiguration": {"Status": "Enabled"}},
    )
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
