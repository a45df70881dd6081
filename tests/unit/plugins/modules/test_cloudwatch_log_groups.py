"""Unit tests of cloudwatch_log_groups: the pure plan, and main() against botocore's Stubber."""

from __future__ import annotations

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.modules import cloudwatch_log_groups as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
    stubbed_client,
)

PREFIX = "fulcrum/asset-manager/"
NAMES = [PREFIX + "web", PREFIX + "daemon", PREFIX + "runs"]
TAGS = {"Application": "asset-manager", "ManagedBy": "leverslabs.asset_manager"}
ARN = "arn:aws:logs:us-west-1:123456789012:log-group:"
KEY = "arn:aws:kms:us-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OLD_KEY = "arn:aws:kms:us-west-1:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def logs():
    with stubbed_client("logs") as client:
        yield client


def described(name, retention=365, kms=None):
    group = {"logGroupName": name, "arn": f"{ARN}{name}:*", "logGroupArn": f"{ARN}{name}"}
    if retention:
        group["retentionInDays"] = retention
    if kms:
        group["kmsKeyId"] = kms
    return group


def expect_describe(client, groups, prefix=PREFIX, token=None, next_token=None):
    params = {"logGroupNamePrefix": prefix}
    if token:
        params["nextToken"] = token
    response = {"logGroups": groups}
    if next_token:
        response["nextToken"] = next_token
    client.stubber.add_response("describe_log_groups", response, params)


def expect_tags(client, name, tags=None):
    tags = TAGS if tags is None else tags
    client.stubber.add_response(
        "list_tags_for_resource", {"tags": tags}, {"resourceArn": f"{ARN}{name}"}
    )


def run(client, check_mode=False, diff=False, **args):
    args = {"names": NAMES, "retention_days": 365, "tags": TAGS, **args}
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


WANTED = {"retention_days": 365, "kms_key_id": None, "tags": TAGS}


def existing(retention=365, kms=None, tags=None):
    tags = TAGS if tags is None else tags
    return {"retention_days": retention, "kms_key_id": kms, "tags": dict(tags), "arn": "a"}


# --- the pure plan ---------------------------------------------------------------------------


def test_plan_leaves_converged_groups_alone_and_creates_missing_ones():
    plan = m.plan_groups(NAMES, {NAMES[0]: existing(), NAMES[1]: existing()}, WANTED)
    assert [(s["name"], s["action"], s["fields"]) for s in plan] == [
        (NAMES[0], None, []),
        (NAMES[1], None, []),
        (NAMES[2], "created", []),
    ]
    assert plan[2]["after"] == {"retention_days": 365, "kms_key_id": None, "tags": TAGS}


def test_plan_finds_retention_forever_kms_and_tags():
    current = {
        NAMES[0]: existing(retention=7),
        NAMES[1]: existing(retention=0),
        NAMES[2]: existing(tags={"Application": "x", "Extra": "1"}),
    }
    plan = m.plan_groups(NAMES, current, {**WANTED, "kms_key_id": KEY})
    assert [(s["action"], s["fields"]) for s in plan] == [
        ("updated", ["retention_days", "kms_key_id"]),
        ("updated", ["retention_days", "kms_key_id"]),
        ("updated", ["kms_key_id", "tags"]),
    ]
    assert plan[2]["tags_to_set"] == {
        "Application": "asset-manager",
        "ManagedBy": TAGS["ManagedBy"],
    }
    assert plan[2]["tags_to_unset"] == ["Extra"]
    assert plan[1]["after"]["retention_days"] == 365


def test_plan_leaves_unmanaged_settings_alone():
    current = {name: existing(retention=7, kms="k", tags={"a": "b"}) for name in NAMES}
    plan = m.plan_groups(NAMES, current, {"retention_days": None, "kms_key_id": None, "tags": None})
    assert all(s["action"] is None for s in plan)


# --- main() ----------------------------------------------------------------------------------


def test_noop_reads_once_plus_tags_and_writes_nothing(logs):
    expect_describe(logs, [described(n) for n in NAMES])
    for name in NAMES:
        expect_tags(logs, name)
    assert run(logs) == {"changed": False, "changes": []}


def test_pages_are_followed_and_other_groups_ignored(logs):
    expect_describe(logs, [described(NAMES[0]), described(PREFIX + "other")], next_token="t")
    expect_describe(logs, [described(NAMES[1]), described(NAMES[2])], token="t")
    assert run(logs, tags=None)["changed"] is False


def test_names_without_a_common_prefix_are_read_one_by_one(logs):
    expect_describe(logs, [described("a/x")], prefix="a/x")
    expect_describe(logs, [described("b/y")], prefix="b/y")
    assert run(logs, names=["b/y", "a/x"], tags=None)["changed"] is False


def test_check_mode_reports_with_a_diff_and_writes_nothing(logs):
    expect_describe(logs, [described(NAMES[0], retention=7), described(NAMES[1], retention=0)])
    expect_tags(logs, NAMES[0])
    expect_tags(logs, NAMES[1], {"Application": "asset-manager"})
    result = run(logs, check_mode=True, diff=True)
    assert result["changes"] == [
        {"name": NAMES[0], "action": "updated", "fields": ["retention_days"]},
        {"name": NAMES[1], "action": "updated", "fields": ["retention_days", "tags"]},
        {"name": NAMES[2], "action": "created", "fields": []},
    ]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before[NAMES[0]]["retention_days"] == 7 and after[NAMES[0]]["retention_days"] == 365
    assert before[NAMES[1]]["retention_days"] == 0
    assert NAMES[2] not in before and after[NAMES[2]]["tags"] == TAGS


def test_run_writes_only_what_differs(logs):
    expect_describe(logs, [described(NAMES[0], retention=7), described(NAMES[1])])
    expect_tags(logs, NAMES[0])
    expect_tags(logs, NAMES[1], {**TAGS, "Extra": "1"})
    stub = logs.stubber
    stub.add_response(
        "put_retention_policy", {}, {"logGroupName": NAMES[0], "retentionInDays": 365}
    )
    stub.add_response(
        "untag_resource", {}, {"resourceArn": f"{ARN}{NAMES[1]}", "tagKeys": ["Extra"]}
    )
    stub.add_response("create_log_group", {}, {"logGroupName": NAMES[2], "tags": TAGS})
    stub.add_response(
        "put_retention_policy", {}, {"logGroupName": NAMES[2], "retentionInDays": 365}
    )
    assert len(run(logs)["changes"]) == 3


def test_retention_zero_keeps_events_forever(logs):
    expect_describe(logs, [described(NAMES[0], retention=30)], prefix=NAMES[0])
    logs.stubber.add_response("delete_retention_policy", {}, {"logGroupName": NAMES[0]})
    result = run(logs, names=[NAMES[0]], retention_days=0, tags=None)
    assert result["changes"][0]["fields"] == ["retention_days"]


def test_a_different_key_is_associated(logs):
    expect_describe(logs, [described(NAMES[0], kms=OLD_KEY)], prefix=NAMES[0])
    logs.stubber.add_response("associate_kms_key", {}, {"logGroupName": NAMES[0], "kmsKeyId": KEY})
    result = run(logs, names=[NAMES[0]], kms_key_id=KEY, tags=None)
    assert result["changes"][0]["fields"] == ["kms_key_id"]


def test_absent_deletes_only_the_groups_that_exist(logs):
    expect_describe(logs, [described(NAMES[0])])
    logs.stubber.add_response("delete_log_group", {}, {"logGroupName": NAMES[0]})
    result = run_module(m, {"names": NAMES, "state": "absent"}, logs, diff=True)
    assert result["changes"] == [{"name": NAMES[0], "action": "deleted", "fields": []}]
    assert result["diff"]["after"] == {}


def test_absent_in_check_mode_deletes_nothing(logs):
    expect_describe(logs, [described(NAMES[0])])
    result = run_module(m, {"names": NAMES, "state": "absent"}, logs, check_mode=True)
    assert result["changed"] is True


def test_bad_options_fail_before_any_call():
    with pytest.raises(Failed, match="at least one log group"):
        run_module(m, {"names": []})
    with pytest.raises(Failed, match="retention_days must be 0"):
        run_module(m, {"names": NAMES, "retention_days": -1})


# --- the KMS key -----------------------------------------------------------------------------


def test_a_new_group_is_created_with_its_key(logs):
    expect_describe(logs, [], prefix=NAMES[0])
    logs.stubber.add_response(
        "create_log_group", {}, {"logGroupName": NAMES[0], "kmsKeyId": KEY, "tags": TAGS}
    )
    logs.stubber.add_response(
        "put_retention_policy", {}, {"logGroupName": NAMES[0], "retentionInDays": 365}
    )
    result = run(logs, names=[NAMES[0]], kms_key_id=KEY)
    assert result["changes"] == [{"name": NAMES[0], "action": "created", "fields": []}]


def test_a_group_with_its_key_needs_nothing(logs):
    expect_describe(logs, [described(NAMES[0], kms=KEY)], prefix=NAMES[0])
    assert run(logs, names=[NAMES[0]], kms_key_id=KEY, tags=None)["changed"] is False


def test_check_mode_plans_a_key_with_a_diff_and_associates_nothing(logs):
    expect_describe(logs, [described(NAMES[0])], prefix=NAMES[0])
    result = run(logs, names=[NAMES[0]], kms_key_id=KEY, tags=None, check_mode=True, diff=True)
    assert result["changes"][0]["fields"] == ["kms_key_id"]
    assert result["diff"]["before"][NAMES[0]]["kms_key_id"] is None
    assert result["diff"]["after"][NAMES[0]]["kms_key_id"] == KEY


@pytest.mark.parametrize("key", ["alias/logs", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:key"])
def test_a_key_that_is_not_a_key_arn_fails_before_any_call(key):
    with pytest.raises(Failed, match="kms_key_id must be a KMS key ARN"):
        run_module(m, {"names": NAMES, "kms_key_id": key})
