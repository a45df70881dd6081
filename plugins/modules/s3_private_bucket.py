#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_private_bucket
version_added: 0.2.0
short_description: Converge a private S3 bucket, with exact check and diff mode
description:
  - Creates an S3 bucket, or converges an existing one, so that it is private (all four settings
    of its public access block on), has ACLs disabled (object ownership C(BucketOwnerEnforced)),
    is encrypted by default as O(encryption) says, has exactly the bucket policy O(policy),
    versioning as O(versioning) says, exactly the lifecycle rules O(lifecycle_rules), server
    access logging as O(server_access_logging) says and the tags O(tags).
  - Unlike M(amazon.aws.s3_bucket), which has no check mode, the module reads every setting it
    manages (one call each) in check mode as in a real run, reports exactly what it would change
    in RV(changes) and, in diff mode, shows each of them before and after. Check mode never
    writes.
  - A setting AWS has no configuration for (a deleted public access block, bucket policy,
    ownership controls, lifecycle configuration or tag set, versioning never turned on) is
    shown as V(null) before.
  - The bucket's ACL must grant nothing to anyone but its owner; grants beyond the owner appear
    in the diff as C(acl_grants) and the ACL is reset to C(private), before the object ownership
    is written, since AWS refuses to turn ACLs off while the ACL grants more.
  - Settings the module does not manage (replication, MFA delete, object lock, ...), and those whose
    option is omitted, are neither read nor changed. Deleting a bucket and its objects is
    M(amazon.aws.s3_bucket)'s job.
options:
  name:
    description:
      - Name of the bucket.
    type: str
    required: true
  encryption:
    description:
      - Default encryption of new objects, C(AES256) (S3-managed keys) or C(aws:kms).
    type: str
    choices: [AES256, 'aws:kms']
    default: AES256
  encryption_key_id:
    description:
      - The KMS key of C(aws:kms) encryption, compared as given with what S3 reports; give the
        key's ARN, as S3 reports it. Omitted with C(aws:kms), the account's C(aws/s3) key.
    type: str
  bucket_key_enabled:
    description:
      - Use an S3 Bucket Key for C(aws:kms) encryption. Not compared when omitted.
    type: bool
  versioning:
    description:
      - V(true) turns versioning on; V(false) suspends it (a bucket that never had it stays
        without). Omitted, versioning is not managed.
    type: bool
  lifecycle_rules:
    description:
      - The bucket's lifecycle rules, exactly, in the shape of the C(Rules) of
        C(PutBucketLifecycleConfiguration) (C(ID), C(Status), C(Filter), C(Expiration),
        C(NoncurrentVersionExpiration), ...). Compared by C(ID), regardless of order, with an
        empty C(Filter) and C(Filter.Prefix="") taken as the same (the whole bucket).
      - V([]) removes the lifecycle configuration. Omitted, the lifecycle is not managed.
      - Every rule needs a unique C(ID); AWS validates the rest when the rules are written.
    type: list
    elements: dict
  server_access_logging:
    description:
      - S3 server access logging of the bucket's requests into C(target_bucket) (another bucket,
        whose owner lets the S3 logging service write there), under C(target_prefix).
      - V({}) (or an empty C(target_bucket)) turns logging off. Omitted, logging is not managed.
    type: dict
    suboptions:
      target_bucket:
        description: The bucket the logs go to.
        type: str
      target_prefix:
        description: The key prefix of the log objects in C(target_bucket).
        type: str
        default: ""
  policy:
    description:
      - The bucket policy, as a JSON document or a dictionary. Compared as a policy (statement
        order and one-element lists do not matter).
      - Omitted, the bucket policy is not managed.
    type: json
  tags:
    description:
      - Tags of the bucket. Omitted, the tags are not read or changed.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove the tags that are not in O(tags).
    type: bool
    default: true
notes:
  - A no-op run makes five calls (HeadBucket, GetPublicAccessBlock, GetBucketOwnershipControls,
    GetBucketEncryption, GetBucketAcl) and one per managed option (GetBucketVersioning,
    GetBucketLifecycleConfiguration, GetBucketPolicy, GetBucketTagging).
  - Writes, in this order, CreateBucket, PutBucketAcl (only to turn a granting ACL off),
    PutPublicAccessBlock, PutBucketOwnershipControls, PutBucketEncryption, PutBucketVersioning,
    PutBucketLifecycleConfiguration or DeleteBucketLifecycle, PutBucketPolicy, PutBucketTagging
    or DeleteBucketTagging. Only what differs is written.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Ensure the artifacts bucket is private, encrypted and TLS-only
  leverslabs.asset_manager.s3_private_bucket:
    name: asset-manager-artifacts
    encryption: AES256
    policy: "{{ lookup('ansible.builtin.template', 'bucket_policy.json.j2') }}"
    tags:
      Application: asset-manager

- name: Encrypt with a customer-managed KMS key and an S3 Bucket Key
  leverslabs.asset_manager.s3_private_bucket:
    name: asset-manager-artifacts
    encryption: aws:kms
    encryption_key_id: arn:aws:kms:us-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    bucket_key_enabled: true

- name: Keep old versions 30 days and compute logs 90 days
  leverslabs.asset_manager.s3_private_bucket:
    name: asset-manager-artifacts
    versioning: true
    lifecycle_rules:
      - ID: compute-logs
        Status: Enabled
        Filter: {Prefix: compute-logs/}
        Expiration: {Days: 90}
      - ID: noncurrent-versions
        Status: Enabled
        Filter: {}
        Expiration: {ExpiredObjectDeleteMarker: true}
        NoncurrentVersionExpiration: {NoncurrentDays: 30}
"""

RETURN = r"""
name:
  description: Name of the bucket.
  returned: always
  type: str
  sample: asset-manager-artifacts
changes:
  description:
    - The settings this run changed (in check mode, would change), in the order they are written.
    - V(bucket) when the bucket is created.
  returned: always
  type: list
  elements: str
  sample: [public_access_block, policy]
diff:
  description:
    - The managed settings before and after; a setting AWS has no configuration for is V(null).
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The settings as they were; V({}) when the bucket did not exist.
      type: dict
    after:
      description: The settings as this run leaves them.
      type: dict
  sample:
    before:
      public_access_block: null
    after:
      public_access_block:
        block_public_acls: true
        ignore_public_acls: true
        block_public_policy: true
        restrict_public_buckets: true
"""

import json

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    BOTO_ERRORS,
    AssetManagerModule,
)
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.tags import plan_tags

OWNERSHIP = "BucketOwnerEnforced"
PUBLIC_ACCESS_BLOCK = {
    "block_public_acls": True,
    "ignore_public_acls": True,
    "block_public_policy": True,
    "restrict_public_buckets": True,
}
_PAB_KEYS = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}
# The order settings are written in (and RV(changes) lists them): the ACL must be private before
# ACLs can be turned off, and the bucket is locked down before its policy is replaced; versions
# are kept before a lifecycle rule expires anything.
SETTINGS = (
    "acl_grants",
    "public_access_block",
    "object_ownership",
    "encryption",
    "versioning",
    "lifecycle_rules",
    "server_access_logging",
    "policy",
    "tags",
)
# Lifecycle fields that are numbers: a templated value may arrive as a string.
_LIFECYCLE_NUMBERS = {
    "Days",
    "NoncurrentDays",
    "NewerNoncurrentVersions",
    "DaysAfterInitiation",
    "ObjectSizeGreaterThan",
    "ObjectSizeLessThan",
}

# What each read answers when the bucket has no such configuration.
_NOT_FOUND = {
    "public_access_block": "NoSuchPublicAccessBlockConfiguration",
    "object_ownership": "OwnershipControlsNotFoundError",
    "encryption": "ServerSideEncryptionConfigurationNotFoundError",
    "lifecycle_rules": "NoSuchLifecycleConfiguration",
    "policy": "NoSuchBucketPolicy",
    "tags": "NoSuchTagSet",
}


# ---- boto3 calls ---------------------------------------------------------------------------


def bucket_exists(client, name):
    """True when the bucket exists and is ours; None when it does not exist."""
    try:
        client.head_bucket(Bucket=name, aws_retry=True)
    except is_boto3_error_code(["404", "NoSuchBucket", "NotFound"]):
        return None
    return True


def _read(call, setting):
    try:
        return call()
    except is_boto3_error_code(_NOT_FOUND[setting]):
        return None


def read_public_access_block(client, name):
    response = _read(
        lambda: client.get_public_access_block(Bucket=name, aws_retry=True),
        "public_access_block",
    )
    if response is None:
        return None
    config = response["PublicAccessBlockConfiguration"]
    return {key: bool(config.get(aws_key, False)) for key, aws_key in _PAB_KEYS.items()}


def read_object_ownership(client, name):
    response = _read(
        lambda: client.get_bucket_ownership_controls(Bucket=name, aws_retry=True),
        "object_ownership",
    )
    if response is None:
        return None
    rules = response["OwnershipControls"].get("Rules") or []
    return rules[0]["ObjectOwnership"] if rules else None


def read_encryption(client, name):
    response = _read(
        lambda: client.get_bucket_encryption(Bucket=name, aws_retry=True), "encryption"
    )
    if response is None:
        return None
    rules = response["ServerSideEncryptionConfiguration"].get("Rules") or []
    if not rules:
        return None
    default = rules[0].get("ApplyServerSideEncryptionByDefault") or {}
    encryption = {"sse_algorithm": default.get("SSEAlgorithm")}
    if default.get("KMSMasterKeyID"):
        encryption["kms_key_id"] = default["KMSMasterKeyID"]
    encryption["bucket_key_enabled"] = bool(rules[0].get("BucketKeyEnabled", False))
    return encryption


def read_versioning(client, name):
    """Enabled or Suspended; None for a bucket that never had versioning."""
    return client.get_bucket_versioning(Bucket=name, aws_retry=True).get("Status")


def read_lifecycle_rules(client, name):
    response = _read(
        lambda: client.get_bucket_lifecycle_configuration(Bucket=name, aws_retry=True),
        "lifecycle_rules",
    )
    return None if response is None else normalise_rules(response.get("Rules") or [])


def read_server_access_logging(client, name):
    """{"target_bucket", "target_prefix"}, or None when logging is off."""
    enabled = client.get_bucket_logging(Bucket=name, aws_retry=True).get("LoggingEnabled")
    if not enabled:
        return None
    return {
        "target_bucket": enabled["TargetBucket"],
        "target_prefix": enabled.get("TargetPrefix", ""),
    }


def read_policy(client, name):
    response = _read(lambda: client.get_bucket_policy(Bucket=name, aws_retry=True), "policy")
    return None if response is None else json.loads(response["Policy"])


def read_tags(client, name):
    response = _read(lambda: client.get_bucket_tagging(Bucket=name, aws_retry=True), "tags")
    return None if response is None else boto3_tag_list_to_ansible_dict(response["TagSet"])


def read_acl_grants(client, name):
    """The grants of the bucket's ACL to anyone but its owner, sorted."""
    response = client.get_bucket_acl(Bucket=name, aws_retry=True)
    owner = (response.get("Owner") or {}).get("ID")
    return foreign_grants(response.get("Grants") or [], owner)


def create_bucket(client, name, region):
    kwargs = {"Bucket": name, "ObjectOwnership": OWNERSHIP}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(aws_retry=True, **kwargs)
    except is_boto3_error_code("BucketAlreadyOwnedByYou"):
        pass  # a retry whose first attempt created it, and lost the answer: it is ours already


def write_setting(client, name, setting, value):
    """Write one setting's wanted ``value`` (the module's view of it)."""
    if setting == "acl_grants":
        client.put_bucket_acl(Bucket=name, ACL="private", aws_retry=True)
    elif setting == "public_access_block":
        client.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={_PAB_KEYS[k]: v for k, v in value.items()},
            aws_retry=True,
        )
    elif setting == "object_ownership":
        client.put_bucket_ownership_controls(
            Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": value}]}, aws_retry=True
        )
    elif setting == "encryption":
        client.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration=encryption_request(value),
            aws_retry=True,
        )
    elif setting == "versioning":
        client.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": value}, aws_retry=True
        )
    elif setting == "lifecycle_rules":
        if value:
            client.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": value}, aws_retry=True
            )
        else:
            client.delete_bucket_lifecycle(Bucket=name, aws_retry=True)
    elif setting == "server_access_logging":
        status = {}
        if value:
            status = {
                "LoggingEnabled": {
                    "TargetBucket": value["target_bucket"],
                    "TargetPrefix": value["target_prefix"],
                }
            }
        client.put_bucket_logging(Bucket=name, BucketLoggingStatus=status, aws_retry=True)
    elif setting == "policy":
        client.put_bucket_policy(Bucket=name, Policy=json.dumps(value), aws_retry=True)
    elif setting == "tags":
        if value:
            client.put_bucket_tagging(
                Bucket=name,
                Tagging={"TagSet": ansible_dict_to_boto3_tag_list(value)},
                aws_retry=True,
            )
        else:
            client.delete_bucket_tagging(Bucket=name, aws_retry=True)


# ---- the comparison ------------------------------------------------------------------------


def foreign_grants(grants, owner_id):
    """Grants to anyone but ``owner_id``, as sorted ``grantee permission`` strings."""
    found = []
    for grant in grants:
        grantee = grant.get("Grantee") or {}
        if grantee.get("Type") == "CanonicalUser" and grantee.get("ID") == owner_id:
            continue
        who = grantee.get("URI") or grantee.get("ID") or grantee.get("EmailAddress") or "?"
        found.append(f"{who} {grant.get('Permission')}")
    return sorted(found)


def encryption_request(encryption):
    default = {"SSEAlgorithm": encryption["sse_algorithm"]}
    if encryption.get("kms_key_id"):
        default["KMSMasterKeyID"] = encryption["kms_key_id"]
    rule = {"ApplyServerSideEncryptionByDefault": default}
    if "bucket_key_enabled" in encryption:
        rule["BucketKeyEnabled"] = encryption["bucket_key_enabled"]
    return {"Rules": [rule]}


def _normalise_rule_value(key, value):
    if isinstance(value, dict):
        return {k: _normalise_rule_value(k, v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normalise_rule_value(key, v) for v in value]
    if key in _LIFECYCLE_NUMBERS and isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def normalise_rules(rules):
    """Lifecycle rules as compared and shown: sorted by ID, numbers as numbers, and the rule's
    legacy top-level Prefix or an empty Filter.Prefix as the empty Filter (the whole bucket),
    as S3 describes a rule in either form."""
    normalised = []
    for rule in rules:
        rule = _normalise_rule_value("", rule)
        prefix = rule.pop("Prefix", None)
        if "Filter" not in rule:
            rule["Filter"] = {"Prefix": prefix} if prefix else {}
        if rule["Filter"].get("Prefix") == "":
            rule["Filter"].pop("Prefix")
        normalised.append(rule)
    return sorted(normalised, key=lambda r: str(r.get("ID", "")))


def desired_settings(params):
    """The module's view of what the options ask for; tags and policy only when given."""
    encryption = {"sse_algorithm": params["encryption"]}
    if params["encryption"] == "aws:kms":
        if params["encryption_key_id"]:
            encryption["kms_key_id"] = params["encryption_key_id"]
        if params["bucket_key_enabled"] is not None:
            encryption["bucket_key_enabled"] = params["bucket_key_enabled"]
    desired = {
        "public_access_block": dict(PUBLIC_ACCESS_BLOCK),
        "object_ownership": OWNERSHIP,
        "encryption": encryption,
    }
    if params["versioning"] is not None:
        desired["versioning"] = "Enabled" if params["versioning"] else "Suspended"
    if params["lifecycle_rules"] is not None:
        ids = [rule.get("ID") for rule in params["lifecycle_rules"]]
        if not all(ids) or len(set(ids)) != len(ids):
            raise ValueError(f"lifecycle_rules need a unique, non-empty ID each (got {ids})")
        desired["lifecycle_rules"] = normalise_rules(params["lifecycle_rules"])
    logging = params["server_access_logging"]
    if logging is not None:
        desired["server_access_logging"] = (
            {
                "target_bucket": logging["target_bucket"],
                "target_prefix": logging["target_prefix"] or "",
            }
            if logging.get("target_bucket")
            else None
        )
    if params["policy"] is not None:
        policy = params["policy"]
        desired["policy"] = json.loads(policy) if isinstance(policy, str) else policy
    if params["tags"] is not None:
        desired["tags"] = {str(k): str(v) for k, v in params["tags"].items()}
    return desired


def _encryption_differs(wanted, current):
    if current is None:
        return True
    # Only what the options name is compared: S3 always reports bucket_key_enabled.
    return any(current.get(key) != value for key, value in wanted.items())


def compare_bucket(desired, current, purge_tags=True):
    """What converging ``current`` (a bucket's settings, None when it does not exist) onto
    ``desired`` takes; pure, no AWS call.

    Returns (changes, after): the settings to write, in writing order, and the settings as they
    will be (the value each write sends).
    """
    current = current or {}
    changes, after = [], {}
    if "acl_grants" in current:
        after["acl_grants"] = []
        if current["acl_grants"]:
            changes.append("acl_grants")
    for setting in ("public_access_block", "object_ownership"):
        after[setting] = desired[setting]
        if current.get(setting) != desired[setting]:
            changes.append(setting)
    if _encryption_differs(desired["encryption"], current.get("encryption")):
        changes.append("encryption")
        # S3 reports a Bucket Key as off unless the write turns it on.
        after["encryption"] = {"bucket_key_enabled": False, **desired["encryption"]}
    else:
        after["encryption"] = current["encryption"]
    if "versioning" in desired:
        after["versioning"] = desired["versioning"]
        # Suspending a bucket that never had versioning changes nothing.
        if (current.get("versioning") or "Suspended") != desired["versioning"]:
            changes.append("versioning")
        elif current.get("versioning") is None:
            after["versioning"] = None
    if "lifecycle_rules" in desired:
        after["lifecycle_rules"] = desired["lifecycle_rules"] or None
        if (current.get("lifecycle_rules") or []) != desired["lifecycle_rules"]:
            changes.append("lifecycle_rules")
    if "server_access_logging" in desired:
        after["server_access_logging"] = desired["server_access_logging"]
        if current.get("server_access_logging") != desired["server_access_logging"]:
            changes.append("server_access_logging")
    if "policy" in desired:
        after["policy"] = desired["policy"]
        if current.get("policy") is None or compare_policies(current["policy"], desired["policy"]):
            changes.append("policy")
    if "tags" in desired:
        to_set, to_unset, after["tags"] = plan_tags(
            current.get("tags"), desired["tags"], purge_tags
        )
        if to_set or to_unset:
            changes.append("tags")
    return changes, after


def diff_view(settings, keys):
    """``settings`` limited to ``keys``, every key present (V(null) when AWS has none)."""
    return {key: settings.get(key) for key in keys}


# ---- the module ----------------------------------------------------------------------------


def read_bucket(client, name, desired):
    """The bucket's managed settings, or None when it does not exist."""
    if bucket_exists(client, name) is None:
        return None
    current = {
        "public_access_block": read_public_access_block(client, name),
        "object_ownership": read_object_ownership(client, name),
        "encryption": read_encryption(client, name),
    }
    # Read even with ACLs off: a grant beyond the owner is a public bucket in waiting, and it
    # keeps AWS from turning ACLs off.
    current["acl_grants"] = read_acl_grants(client, name)
    if "versioning" in desired:
        current["versioning"] = read_versioning(client, name)
    if "lifecycle_rules" in desired:
        current["lifecycle_rules"] = read_lifecycle_rules(client, name)
    if "server_access_logging" in desired:
        current["server_access_logging"] = read_server_access_logging(client, name)
    if "policy" in desired:
        current["policy"] = read_policy(client, name)
    if "tags" in desired:
        current["tags"] = read_tags(client, name)
    return current


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        encryption=dict(type="str", default="AES256", choices=["AES256", "aws:kms"]),
        encryption_key_id=dict(type="str"),
        bucket_key_enabled=dict(type="bool"),
        versioning=dict(type="bool"),
        lifecycle_rules=dict(type="list", elements="dict"),
        server_access_logging=dict(
            type="dict",
            options=dict(
                target_bucket=dict(type="str"),
                target_prefix=dict(type="str", default=""),
            ),
        ),
        policy=dict(type="json"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    name = params["name"]
    if params["encryption_key_id"] and params["encryption"] != "aws:kms":
        module.fail_json(msg="encryption_key_id needs encryption: aws:kms")
    try:
        desired = desired_settings(params)
    except json.JSONDecodeError as e:
        module.fail_json(msg=f"policy is not a JSON document: {e}")
    except ValueError as e:
        module.fail_json(msg=str(e))

    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current = read_bucket(client, name, desired)
    except is_boto3_error_code("403") as e:
        module.fail_json_aws(e, msg=f"Bucket {name} exists but is not readable by this account")
    except BOTO_ERRORS as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to read the settings of bucket {name}")

    changes, after = compare_bucket(desired, current, params["purge_tags"])
    keys = [key for key in SETTINGS if key in after or (current and key in current)]
    if current is None:
        changes = ["bucket"] + [c for c in changes if c != "object_ownership"]
    result = {"changed": bool(changes), "name": name, "changes": changes}
    if module._diff:
        result["diff"] = {
            "before": {} if current is None else diff_view(current, keys),
            "after": diff_view(after, keys),
        }
    if module.check_mode or not changes:
        module.exit_json(**result)

    # Right after CreateBucket, S3 may still answer NoSuchBucket for a moment.
    writer = module.client(
        "s3",
        retry_decorator=AWSRetry.jittered_backoff(
            catch_extra_error_codes=["NoSuchBucket", "OperationAborted"]
        ),
    )
    step = "create the bucket"
    try:
        if current is None:
            create_bucket(client, name, module.region)
        for setting in changes:
            if setting != "bucket":
                step = f"write {setting}"
                write_setting(writer, name, setting, after[setting])
    except is_boto3_error_code("BucketAlreadyExists") as e:
        module.fail_json_aws(e, msg=f"Bucket name {name} is taken by another AWS account")
    except BOTO_ERRORS as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to {step} (bucket {name})")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
