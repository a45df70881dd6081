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
    access logging as O(server_access_logging) says and the tags O(tags); and, each only when its
    option is given, MFA delete (O(mfa_delete)), Object Lock (O(object_lock)), replication of
    the whole bucket (O(replication)) and its event notifications (O(event_notifications)).
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
  - Settings the module does not manage (CORS, website, inventory, ...), and those whose option is
    omitted, are neither read nor changed. Deleting a bucket and its objects is
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
  mfa_delete:
    description:
      - V(true) turns MFA delete on (deleting an object version or changing the versioning state
        then needs the root account's MFA); V(false) turns it off (a bucket that never had it
        stays without). Omitted, MFA delete is not managed.
      - V(true) needs versioning on (refused with O(versioning=false)), and AWS supports no
        lifecycle configuration on an MFA delete bucket, so non-empty O(lifecycle_rules) are
        refused with it.
      - A change needs O(mfa) (outside check mode); so does a change of O(versioning) while MFA
        delete is on.
    type: bool
  mfa:
    description:
      - The C(x-amz-mfa) value of a PutBucketVersioning that changes MFA delete, that is the
        serial (or ARN) of the root account's MFA device, a space, and the code it shows now.
        Sent only when a write needs it; never returned or shown in the diff.
    type: str
  object_lock:
    description:
      - Object Lock on, with the default retention C(mode) for C(days) when both are given, or
        without a default retention when neither is (V({})).
      - AWS enables Object Lock on an existing bucket with versioning on, and never turns it
        off, so there is no value that turns it off. Omitted, Object Lock is not read or changed.
      - Needs versioning on (refused with O(versioning=false)); written after O(versioning).
    type: dict
    suboptions:
      mode:
        description: Retention mode of the default retention.
        type: str
        choices: [GOVERNANCE, COMPLIANCE]
      days:
        description: Days of the default retention (1 or more).
        type: int
  replication:
    description:
      - Replication of the whole bucket (one rule, C(replicate-all), on every object and not on
        delete markers, so a delete in this bucket leaves the replica's copy) to
        C(destination_bucket_arn), as C(role_arn).
      - Compared as role, destination and storage class; any other configuration (another rule,
        a filter, delete marker replication) is drift and is replaced.
      - V({}) (or an empty C(destination_bucket_arn)) deletes the replication configuration.
        Omitted, replication is not managed.
      - Needs versioning on, here and on the destination (refused with O(versioning=false)).
    type: dict
    suboptions:
      role_arn:
        description: The IAM role S3 assumes to replicate (its policy and trust are the caller's).
        type: str
      destination_bucket_arn:
        description: ARN of the destination bucket (C(arn:aws:s3:::<name>)).
        type: str
      storage_class:
        description: Storage class of the replicas; omitted, that of the source object.
        type: str
  event_notifications:
    description:
      - The bucket's event notifications, exactly one topic configuration (Id C(sns-events))
        publishing C(events) to the SNS topic C(topic_arn), whose policy must let
        C(s3.amazonaws.com) publish. Any other configuration (queues, functions, EventBridge,
        another topic) is drift and is removed.
      - V({}) (or an empty C(topic_arn)) writes an empty notification configuration (none).
        Omitted, the notifications are not managed.
    type: dict
    suboptions:
      topic_arn:
        description: ARN of the SNS topic.
        type: str
      events:
        description: The S3 event types, compared regardless of order.
        type: list
        elements: str
        default: ['s3:ObjectRemoved:*']
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
    GetBucketEncryption, GetBucketAcl) and one per managed option (GetBucketVersioning, once
    for O(versioning) and O(mfa_delete), GetObjectLockConfiguration,
    GetBucketLifecycleConfiguration, GetBucketReplication, GetBucketLogging,
    GetBucketNotificationConfiguration, GetBucketPolicy, GetBucketTagging).
  - Writes, in this order, CreateBucket, PutBucketAcl (only to turn a granting ACL off),
    PutPublicAccessBlock, PutBucketOwnershipControls, PutBucketEncryption, PutBucketVersioning
    (with MFA delete when that goes off as versioning changes), PutObjectLockConfiguration,
    PutBucketLifecycleConfiguration or DeleteBucketLifecycle, PutBucketVersioning for MFA delete
    (before the lifecycle when MFA delete goes off), PutBucketReplication or
    DeleteBucketReplication, PutBucketLogging, PutBucketNotificationConfiguration,
    PutBucketPolicy, PutBucketTagging or DeleteBucketTagging. Only what differs is written.
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

- name: Replicate the bucket, lock objects 30 days and notify an SNS topic of deletions
  leverslabs.asset_manager.s3_private_bucket:
    name: asset-manager-artifacts
    versioning: true
    object_lock: {mode: GOVERNANCE, days: 30}
    replication:
      role_arn: arn:aws:iam::123456789012:role/s3-replication
      destination_bucket_arn: arn:aws:s3:::asset-manager-artifacts-replica
    event_notifications:
      topic_arn: arn:aws:sns:us-west-1:123456789012:asset-manager-bucket-events

- name: Turn MFA delete on (root account credentials; no lifecycle rules on such a bucket)
  leverslabs.asset_manager.s3_private_bucket:
    name: asset-manager-artifacts
    versioning: true
    lifecycle_rules: []
    mfa_delete: true
    mfa: "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
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
      O(mfa) is never part of it.
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
# are kept before a lifecycle rule expires anything, or Object Lock or replication (which need
# them) go on. AWS has no lifecycle on an MFA delete bucket: MFA delete goes on once the rules are
# gone (compare_bucket moves it before them when it goes off).
SETTINGS = (
    "acl_grants",
    "public_access_block",
    "object_ownership",
    "encryption",
    "versioning",
    "object_lock",
    "lifecycle_rules",
    "mfa_delete",
    "replication",
    "server_access_logging",
    "event_notifications",
    "policy",
    "tags",
)
# The one replication rule and the one notification of the options: fixed ids, so a rerun finds
# them.
REPLICATION_RULE_ID = "replicate-all"
NOTIFICATION_ID = "sns-events"
# Delete markers are not replicated: the replica is there to outlive a delete in this bucket.
DELETE_MARKER_REPLICATION = "Disabled"
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
    "object_lock": "ObjectLockConfigurationNotFoundError",
    "replication": "ReplicationConfigurationNotFoundError",
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
    """(Status, MFADelete): Enabled or Suspended, Enabled or Disabled; None for a bucket that
    never had it. One call for both settings."""
    response = client.get_bucket_versioning(Bucket=name, aws_retry=True)
    return response.get("Status"), response.get("MFADelete")


def read_object_lock(client, name):
    """{"mode", "days"} of the default retention, {} with none, None when Object Lock is off."""
    response = _read(
        lambda: client.get_object_lock_configuration(Bucket=name, aws_retry=True), "object_lock"
    )
    config = (response or {}).get("ObjectLockConfiguration") or {}
    if config.get("ObjectLockEnabled") != "Enabled":
        return None
    retention = (config.get("Rule") or {}).get("DefaultRetention") or {}
    # Days or Years, never both: a 0 (as moto reports the other) is no retention period.
    lock = {"mode": retention["Mode"]} if retention.get("Mode") else {}
    for key, aws_key in (("days", "Days"), ("years", "Years")):
        if retention.get(aws_key):
            lock[key] = retention[aws_key]
    return lock


def read_replication(client, name):
    response = _read(
        lambda: client.get_bucket_replication(Bucket=name, aws_retry=True), "replication"
    )
    return None if response is None else replication_view(response["ReplicationConfiguration"])


def read_event_notifications(client, name):
    response = client.get_bucket_notification_configuration(Bucket=name, aws_retry=True)
    return notification_view(response)


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


def write_setting(client, name, setting, value, mfa=None):
    """Write one setting's wanted ``value`` (the module's view of it; for versioning and MFA
    delete, the VersioningConfiguration). ``mfa`` goes with a versioning write that needs it."""
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
    elif setting in ("versioning", "mfa_delete"):
        kwargs = {"MFA": mfa} if mfa else {}
        client.put_bucket_versioning(
            Bucket=name, VersioningConfiguration=value, aws_retry=True, **kwargs
        )
    elif setting == "object_lock":
        client.put_object_lock_configuration(
            Bucket=name, ObjectLockConfiguration=object_lock_request(value), aws_retry=True
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
    elif setting == "replication":
        if value:
            client.put_bucket_replication(
                Bucket=name, ReplicationConfiguration=replication_request(value), aws_retry=True
            )
        else:
            client.delete_bucket_replication(Bucket=name, aws_retry=True)
    elif setting == "event_notifications":
        config = {}
        if value:
            config = {
                "TopicConfigurations": [
                    {
                        "Id": NOTIFICATION_ID,
                        "TopicArn": value["topic_arn"],
                        "Events": value["events"],
                    }
                ]
            }
        client.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=config, aws_retry=True
        )
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


def _versioning_configuration(status, mfa_delete):
    config = {"Status": status} if status else {}
    if mfa_delete:
        config["MFADelete"] = mfa_delete
    return config


def versioning_writes(changes, current, after):
    """The PutBucketVersioning of the versioning and MFA delete changes, by setting:
    (VersioningConfiguration, whether it needs the MFA). Each sends both settings as they are at
    that point, so one never resets the other. AWS wants the MFA to change MFA delete, and to
    change the versioning state while MFA delete is on: when MFA delete goes off as versioning
    changes, one call does both (one use of the code)."""
    current = current or {}
    mfa_before = current.get("mfa_delete")
    writes = {}
    if "versioning" in changes:
        both = "mfa_delete" in changes and mfa_before == "Enabled"
        config = _versioning_configuration(
            after["versioning"], after["mfa_delete"] if both else mfa_before
        )
        writes["versioning"] = (config, mfa_before == "Enabled")
        if both:
            return writes
    if "mfa_delete" in changes:
        status = after.get("versioning") or current.get("versioning_status")
        writes["mfa_delete"] = (_versioning_configuration(status, after["mfa_delete"]), True)
    return writes


def object_lock_request(lock):
    config = {"ObjectLockEnabled": "Enabled"}
    if lock:
        config["Rule"] = {"DefaultRetention": {"Mode": lock["mode"], "Days": lock["days"]}}
    return config


def _whole_bucket(rule):
    if "Filter" not in rule:
        return not rule.get("Prefix")
    return rule["Filter"] in ({}, {"Prefix": ""})


def replication_view(config):
    """Role, destination and storage class of a configuration that is one enabled rule on the
    whole bucket, delete markers as the option has them; any other configuration as S3 describes
    it, so that it is drift."""
    rules = config.get("Rules") or []
    rule = rules[0] if len(rules) == 1 else {}
    destination = rule.get("Destination") or {}
    markers = (rule.get("DeleteMarkerReplication") or {}).get("Status", "Disabled")
    if (
        rule.get("Status") == "Enabled"
        and _whole_bucket(rule)
        and markers == DELETE_MARKER_REPLICATION
        and set(destination) <= {"Bucket", "StorageClass"}
    ):
        return {
            "role_arn": config.get("Role"),
            "destination_bucket_arn": destination.get("Bucket"),
            "storage_class": destination.get("StorageClass"),
        }
    return {"role_arn": config.get("Role"), "rules": rules}


def replication_request(replication):
    destination = {"Bucket": replication["destination_bucket_arn"]}
    if replication["storage_class"]:
        destination["StorageClass"] = replication["storage_class"]
    rule = {
        "ID": REPLICATION_RULE_ID,
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {},
        "DeleteMarkerReplication": {"Status": DELETE_MARKER_REPLICATION},
        "Destination": destination,
    }
    return {"Role": replication["role_arn"], "Rules": [rule]}


def notification_view(response):
    """{"topic_arn", "events" (sorted)} of a configuration that is the option's one topic
    configuration; any other as S3 describes it (drift); None when there is none."""
    config = {
        key: value
        for key, value in response.items()
        if key != "ResponseMetadata" and value not in (None, [])
    }
    if not config:
        return None
    topics = config.get("TopicConfigurations") or []
    if (
        list(config) == ["TopicConfigurations"]
        and len(topics) == 1
        and topics[0].get("Id") == NOTIFICATION_ID
        and set(topics[0]) <= {"Id", "TopicArn", "Events"}
    ):
        return {"topic_arn": topics[0]["TopicArn"], "events": sorted(topics[0]["Events"])}
    return config


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
    desired.update(_desired_opt_ins(params))
    if params["policy"] is not None:
        policy = params["policy"]
        desired["policy"] = json.loads(policy) if isinstance(policy, str) else policy
    if params["tags"] is not None:
        desired["tags"] = {str(k): str(v) for k, v in params["tags"].items()}
    return desired


def _desired_opt_ins(params):
    """MFA delete, Object Lock, replication and notifications, each only when given; refuses
    what AWS would refuse halfway through the writes."""
    desired = {}
    unversioned = params["versioning"] is False
    if params["mfa_delete"] is not None:
        desired["mfa_delete"] = "Enabled" if params["mfa_delete"] else "Disabled"
        if params["mfa_delete"] and unversioned:
            raise ValueError(
                "mfa_delete: true needs versioning: true (AWS keeps MFA delete in the "
                "versioning configuration)"
            )
        if params["mfa_delete"] and params["lifecycle_rules"]:
            raise ValueError(
                "mfa_delete: true with lifecycle_rules: AWS supports no lifecycle "
                "configuration on an MFA delete bucket (give lifecycle_rules: [])"
            )
    lock = params["object_lock"]
    if lock is not None:
        if (lock.get("mode") is None) != (lock.get("days") is None):
            raise ValueError(
                "object_lock needs both mode and days (a default retention), or "
                f"neither (got mode {lock.get('mode')}, days {lock.get('days')})"
            )
        if lock.get("days") is not None and lock["days"] < 1:
            raise ValueError(f"object_lock days must be 1 or more (got {lock['days']})")
        if unversioned:
            raise ValueError("object_lock needs versioning: true (S3 locks object versions)")
        desired["object_lock"] = (
            {"mode": lock["mode"], "days": lock["days"]} if lock.get("mode") else {}
        )
    replication = params["replication"]
    if replication is not None:
        desired["replication"] = None
        if replication.get("destination_bucket_arn"):
            if not replication.get("role_arn"):
                raise ValueError("replication needs role_arn with destination_bucket_arn")
            if unversioned:
                raise ValueError(
                    "replication needs versioning: true (AWS replicates only versioned buckets)"
                )
            desired["replication"] = {
                "role_arn": replication["role_arn"],
                "destination_bucket_arn": replication["destination_bucket_arn"],
                "storage_class": replication.get("storage_class") or None,
            }
    notifications = params["event_notifications"]
    if notifications is not None:
        desired["event_notifications"] = None
        if notifications.get("topic_arn"):
            if not notifications.get("events"):
                raise ValueError("event_notifications needs at least one event with topic_arn")
            desired["event_notifications"] = {
                "topic_arn": notifications["topic_arn"],
                "events": sorted(set(notifications["events"])),
            }
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
    if "mfa_delete" in desired:
        after["mfa_delete"] = desired["mfa_delete"]
        # Turning off MFA delete on a bucket that never had it changes nothing.
        if (current.get("mfa_delete") or "Disabled") != desired["mfa_delete"]:
            changes.append("mfa_delete")
        elif current.get("mfa_delete") is None:
            after["mfa_delete"] = None
    if "lifecycle_rules" in desired:
        after["lifecycle_rules"] = desired["lifecycle_rules"] or None
        if (current.get("lifecycle_rules") or []) != desired["lifecycle_rules"]:
            changes.append("lifecycle_rules")
    # Compared as their views; None (none on AWS) only equals None.
    for setting in ("object_lock", "replication", "server_access_logging", "event_notifications"):
        if setting in desired:
            after[setting] = desired[setting]
            if current.get(setting) != desired[setting]:
                changes.append(setting)
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
    changes.sort(key=SETTINGS.index)
    # MFA delete goes off before lifecycle rules are written (AWS has none on such a bucket).
    if after.get("mfa_delete") == "Disabled" and {"mfa_delete", "lifecycle_rules"} <= set(changes):
        changes.remove("mfa_delete")
        changes.insert(changes.index("lifecycle_rules"), "mfa_delete")
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
    if "versioning" in desired or "mfa_delete" in desired:
        status, mfa_delete = read_versioning(client, name)
        if "versioning" in desired:
            current["versioning"] = status
        if "mfa_delete" in desired:
            current["mfa_delete"] = mfa_delete
            # Not a setting: the status an MFA delete write keeps when versioning is not managed.
            current["versioning_status"] = status
    if "object_lock" in desired:
        current["object_lock"] = read_object_lock(client, name)
    if "lifecycle_rules" in desired:
        current["lifecycle_rules"] = read_lifecycle_rules(client, name)
    if "replication" in desired:
        current["replication"] = read_replication(client, name)
    if "server_access_logging" in desired:
        current["server_access_logging"] = read_server_access_logging(client, name)
    if "event_notifications" in desired:
        current["event_notifications"] = read_event_notifications(client, name)
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
        mfa_delete=dict(type="bool"),
        mfa=dict(type="str", no_log=True),
        object_lock=dict(
            type="dict",
            options=dict(
                mode=dict(type="str", choices=["GOVERNANCE", "COMPLIANCE"]),
                days=dict(type="int"),
            ),
        ),
        replication=dict(
            type="dict",
            options=dict(
                role_arn=dict(type="str"),
                destination_bucket_arn=dict(type="str"),
                storage_class=dict(type="str"),
            ),
        ),
        event_notifications=dict(
            type="dict",
            options=dict(
                topic_arn=dict(type="str"),
                events=dict(type="list", elements="str", default=["s3:ObjectRemoved:*"]),
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
    versioning = versioning_writes(changes, current, after)
    if any(need for _config, need in versioning.values()) and not params["mfa"]:
        module.fail_json(
            msg="Changing MFA delete (or versioning while MFA delete is on) needs mfa: the "
            "serial of the root account's MFA device, a space, and its current code",
            changes=changes,
        )

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
            if setting == "bucket":
                continue
            step = f"write {setting}"
            value, mfa = after.get(setting), None
            if setting in ("versioning", "mfa_delete"):
                if setting not in versioning:
                    continue  # written with versioning
                value, need = versioning[setting]
                mfa = params["mfa"] if need else None
            write_setting(writer, name, setting, value, mfa)
    except is_boto3_error_code("BucketAlreadyExists") as e:
        module.fail_json_aws(e, msg=f"Bucket name {name} is taken by another AWS account")
    except BOTO_ERRORS as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to {step} (bucket {name})")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
