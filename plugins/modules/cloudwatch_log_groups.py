#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cloudwatch_log_groups
version_added: 0.2.0
short_description: Converge a set of CloudWatch log groups in one process, with exact check mode
description:
  - Creates, updates or deletes every log group of O(names) in one module run, instead of one
    M(amazon.aws.cloudwatchlogs_log_group) process per group.
  - The groups are read with one C(DescribeLogGroups) call (by their common name prefix) and,
    with O(tags), one C(ListTagsForResource) call per existing group. A group is written only
    where it differs.
  - Check mode reads as a real run does, never writes (amazon.aws 10's module changes the
    retention even in check mode), and reports exactly what it would change, per group, in
    RV(changes) and, in diff mode, before and after.
options:
  names:
    description:
      - Names of the log groups.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) creates the groups or converges them; V(absent) deletes those that exist.
    type: str
    choices: [present, absent]
    default: present
  retention_days:
    description:
      - Days CloudWatch keeps the events of each group; V(0) keeps them forever.
      - Omitted, the retention is not managed (a new group keeps its events forever).
      - AWS refuses a value it does not accept when the group is written.
    type: int
  kms_key_id:
    description:
      - ARN of the KMS key that encrypts each group (CloudWatch Logs takes only a key ARN, not
        an alias or key ID), set on creation (C(CreateLogGroup) C(kmsKeyId)) or associated with
        an existing group whose key differs (C(AssociateKmsKey)).
      - The key's policy must let the C(logs.<region>.amazonaws.com) service use it.
      - Omitted, the key is not managed (a key associated by hand stays).
    type: str
  tags:
    description:
      - Tags of each group. Omitted, the tags are not read or changed.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove the tags that are not in O(tags). Tags whose key starts with C(aws:) are kept.
    type: bool
    default: true
notes:
  - Writes CreateLogGroup, PutRetentionPolicy or DeleteRetentionPolicy, AssociateKmsKey,
    TagResource, UntagResource and, with O(state=absent), DeleteLogGroup; only what differs.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Ensure the log groups exist with their retention
  leverslabs.asset_manager.cloudwatch_log_groups:
    names:
      - fulcrum/asset-manager/web
      - fulcrum/asset-manager/daemon
    retention_days: 365
    tags:
      Application: asset-manager

- name: Remove them
  leverslabs.asset_manager.cloudwatch_log_groups:
    names:
      - fulcrum/asset-manager/web
      - fulcrum/asset-manager/daemon
    state: absent
"""

RETURN = r"""
changes:
  description:
    - Every group this run created, updated or deleted (in check mode, would), in the order of
      O(names). C(fields) says what of an updated group differed (V(retention_days),
      V(kms_key_id), V(tags)).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: fulcrum/asset-manager/web, action: updated, fields: [retention_days]}
    - {name: fulcrum/asset-manager/runs, action: created, fields: []}
diff:
  description:
    - The groups before and after, by name, each with C(retention_days) (V(0) when kept
      forever), C(kms_key_id) (V(null) when none) and, with O(tags), C(tags). A group that does
      not exist is not listed.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The groups as they were.
      type: dict
    after:
      description: The groups as this run leaves them.
      type: dict
"""

import os
import re

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    BOTO_ERRORS,
    AssetManagerModule,
)
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.tags import plan_tags

# What CloudWatch Logs accepts as kmsKeyId: a key's ARN.
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$")

# ---- boto3 calls ---------------------------------------------------------------------------


def describe_groups(client, names):
    """The existing groups of ``names``: name -> {retention_days, kms_key_id, arn}.

    One DescribeLogGroups by the names' common prefix (pages followed); by each name when they
    share none, so an account's other groups are never listed.
    """
    prefix = os.path.commonprefix(names)
    prefixes = [prefix] if prefix else sorted(set(names))
    found = {}
    for prefix in prefixes:
        kwargs = {"logGroupNamePrefix": prefix}
        while True:
            page = client.describe_log_groups(aws_retry=True, **kwargs)
            for group in page.get("logGroups", []):
                if group["logGroupName"] in names:
                    found[group["logGroupName"]] = current_group(group)
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return found


def current_group(group):
    arn = group.get("logGroupArn") or group.get("arn", "").removesuffix(":*")
    return {
        "retention_days": group.get("retentionInDays") or 0,
        "kms_key_id": group.get("kmsKeyId"),
        "arn": arn,
    }


def read_tags(client, arn):
    return client.list_tags_for_resource(resourceArn=arn, aws_retry=True).get("tags") or {}


def create_group(client, name, kms_key_id, tags):
    kwargs = {"logGroupName": name}
    if kms_key_id:
        kwargs["kmsKeyId"] = kms_key_id
    if tags:
        kwargs["tags"] = tags
    client.create_log_group(aws_retry=True, **kwargs)


def set_retention(client, name, days):
    if days:
        client.put_retention_policy(logGroupName=name, retentionInDays=days, aws_retry=True)
    else:
        client.delete_retention_policy(logGroupName=name, aws_retry=True)


# ---- the comparison ------------------------------------------------------------------------


def plan_groups(names, current, wanted, purge_tags=True):
    """What converging the groups ``names`` onto ``wanted`` takes; pure, no AWS call.

    ``current``: name -> {retention_days, kms_key_id, tags (with O(tags))} of the groups that
    exist. ``wanted``: {retention_days, kms_key_id, tags}, each None when not managed.
    Returns one step per name: name, action (created, updated or None), fields, tags_to_set,
    tags_to_unset and ``after`` (the group as it will be).
    """
    plan = []
    for name in names:
        existing = current.get(name)
        step = {
            "name": name,
            "action": None,
            "fields": [],
            "tags_to_set": {},
            "tags_to_unset": [],
        }
        if existing is None:
            step["action"] = "created"
            step["after"] = {
                "retention_days": wanted["retention_days"] or 0,
                "kms_key_id": wanted["kms_key_id"] or None,
            }
            if wanted["tags"] is not None:
                step["tags_to_set"] = dict(wanted["tags"])
                step["after"]["tags"] = dict(wanted["tags"])
            plan.append(step)
            continue
        after = {
            "retention_days": existing["retention_days"],
            "kms_key_id": existing["kms_key_id"],
        }
        for field in ("retention_days", "kms_key_id"):
            value = wanted[field]
            if value is not None and (value or None) != (existing[field] or None):
                step["fields"].append(field)
                after[field] = value
        if wanted["tags"] is not None:
            to_set, to_unset, after["tags"] = plan_tags(
                existing.get("tags"), wanted["tags"], purge_tags
            )
            step.update(tags_to_set=to_set, tags_to_unset=to_unset)
            if to_set or to_unset:
                step["fields"].append("tags")
        if step["fields"]:
            step["action"] = "updated"
        step["after"] = after
        plan.append(step)
    return plan


def view(group, with_tags):
    """A group as the diff shows it."""
    shown = {"retention_days": group["retention_days"], "kms_key_id": group["kms_key_id"]}
    if with_tags:
        shown["tags"] = dict(group.get("tags") or {})
    return shown


# ---- the module ----------------------------------------------------------------------------


def apply_step(client, step, wanted, existing):
    name = step["name"]
    if step["action"] == "created":
        create_group(client, name, wanted["kms_key_id"], step["tags_to_set"])
        if wanted["retention_days"]:
            set_retention(client, name, wanted["retention_days"])
        return
    if "retention_days" in step["fields"]:
        set_retention(client, name, wanted["retention_days"])
    if "kms_key_id" in step["fields"]:
        client.associate_kms_key(logGroupName=name, kmsKeyId=wanted["kms_key_id"], aws_retry=True)
    if step["tags_to_unset"]:
        client.untag_resource(
            resourceArn=existing["arn"], tagKeys=step["tags_to_unset"], aws_retry=True
        )
    if step["tags_to_set"]:
        client.tag_resource(resourceArn=existing["arn"], tags=step["tags_to_set"], aws_retry=True)


def ensure_present(module, client, names, current):
    params = module.params
    wanted = {
        "retention_days": params["retention_days"],
        "kms_key_id": params["kms_key_id"] or None,
        "tags": None
        if params["tags"] is None
        else {str(k): str(v) for k, v in params["tags"].items()},
    }
    with_tags = wanted["tags"] is not None
    plan = plan_groups(names, current, wanted, params["purge_tags"])
    if not module.check_mode:
        for step in plan:
            if step["action"]:
                try:
                    apply_step(client, step, wanted, current.get(step["name"]))
                except BOTO_ERRORS as e:
                    module.fail_json_aws(e, msg=f"Failed to write log group {step['name']}")
    changes = [
        {"name": s["name"], "action": s["action"], "fields": s["fields"]}
        for s in plan
        if s["action"]
    ]
    result = {"changed": bool(changes), "changes": changes}
    if module._diff:
        result["diff"] = {
            "before": {name: view(group, with_tags) for name, group in current.items()},
            "after": {s["name"]: view(s["after"], with_tags) for s in plan},
        }
    module.exit_json(**result)


def ensure_absent(module, client, names, current):
    changes = [{"name": n, "action": "deleted", "fields": []} for n in names if n in current]
    if not module.check_mode:
        for change in changes:
            try:
                client.delete_log_group(logGroupName=change["name"], aws_retry=True)
            except BOTO_ERRORS as e:
                module.fail_json_aws(e, msg=f"Failed to delete log group {change['name']}")
    result = {"changed": bool(changes), "changes": changes}
    if module._diff:
        result["diff"] = {
            "before": {name: view(group, False) for name, group in current.items()},
            "after": {},
        }
    module.exit_json(**result)


def main():
    argument_spec = dict(
        names=dict(type="list", elements="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        retention_days=dict(type="int"),
        kms_key_id=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    names = list(dict.fromkeys(params["names"]))
    if not names or not all(names):
        module.fail_json(msg="names must list at least one log group name, none empty")
    if params["retention_days"] is not None and params["retention_days"] < 0:
        module.fail_json(msg="retention_days must be 0 (keep forever) or more")
    if params["kms_key_id"] and not KMS_KEY_ARN.match(params["kms_key_id"]):
        module.fail_json(
            msg=f"kms_key_id must be a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id> "
            f"(got {params['kms_key_id']!r})"
        )

    client = module.client("logs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current = describe_groups(client, names)
        if params["state"] == "present" and params["tags"] is not None:
            for group in current.values():
                group["tags"] = read_tags(client, group["arn"])
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg="Failed to read the log groups " + ", ".join(names))
    if params["state"] == "present":
        ensure_present(module, client, names, current)
    else:
        ensure_absent(module, client, names, current)


if __name__ == "__main__":
    main()
