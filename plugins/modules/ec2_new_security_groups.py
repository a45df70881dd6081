#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_new_security_groups
version_added: 0.2.0
short_description: Create the security groups of a VPC that do not exist yet, closed
description:
  - Creates each security group of O(groups) that the VPC O(vpc_id) does not have, with its
    description and tags, and removes the allow-all egress rule AWS gives every new group, so that
    a new group allows nothing until its rules are written.
  - Never changes or deletes a group that exists; its rules, description and tags are
    M(amazon.aws.ec2_security_group)'s job, which can then name any of the groups in its rules.
  - Unlike M(amazon.aws.ec2_security_group), which sleeps 3 seconds after each group it creates,
    the module creates every group in one process and waits for none.
  - In check mode it reads the VPC's groups as in a real run and reports the groups it would
    create; in diff mode it shows each of them.
options:
  vpc_id:
    description:
      - ID of the VPC the groups belong to.
    type: str
    required: true
  groups:
    description:
      - The groups, created in this order when missing.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the group, unique in the VPC.
        type: str
        required: true
      description:
        description: Description of the group; AWS never lets it change once the group exists.
        type: str
        required: true
      tags:
        description: Tags the group is created with.
        type: dict
        default: {}
notes:
  - One call (DescribeSecurityGroups) when every group exists; for each missing group, two more
    (CreateSecurityGroup with its tags, RevokeSecurityGroupEgress).
  - A create whose answer was lost and whose retry finds the group (C(InvalidGroup.Duplicate))
    adopts that group, so nothing is created twice.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Create the two groups the stack does not have yet
  leverslabs.asset_manager.ec2_new_security_groups:
    vpc_id: vpc-0123456789abcdef0
    groups:
      - name: asset-manager-services-sg
        description: Security group for all Asset Manager ECS services
        tags: {Application: asset-manager}
      - name: asset-manager-alb-sg
        description: Security group for Asset Manager ALB
"""

RETURN = r"""
group_ids:
  description: The ID of each group by name; null for a group check mode would create.
  returned: always
  type: dict
  sample: {asset-manager-alb-sg: sg-0123456789abcdef0}
created:
  description: The names of the groups created (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [asset-manager-alb-sg]
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    boto3_tag_specifications,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    BOTO_ERRORS,
    AssetManagerModule,
)

# What AWS adds to every new group: all traffic out to anywhere.
DEFAULT_EGRESS = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def existing_groups(client, vpc_id, names):
    """The IDs of the VPC's groups among ``names``, by name."""
    groups = client.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": sorted(names)},
        ],
        aws_retry=True,
    )["SecurityGroups"]
    return {group["GroupName"]: group["GroupId"] for group in groups}


def missing_groups(groups, existing):
    """The groups of ``groups`` not in ``existing``, in their order; pure."""
    return [group for group in groups if group["name"] not in existing]


def create_group(client, vpc_id, group):
    """Create ``group`` closed (no rule at all); its ID. A retry that finds it adopts it."""
    params = {"GroupName": group["name"], "Description": group["description"], "VpcId": vpc_id}
    if group["tags"]:
        params["TagSpecifications"] = boto3_tag_specifications(group["tags"], ["security-group"])
    try:
        group_id = client.create_security_group(aws_retry=True, **params)["GroupId"]
    except is_boto3_error_code("InvalidGroup.Duplicate"):
        group_id = existing_groups(client, vpc_id, [group["name"]])[group["name"]]
    try:
        client.revoke_security_group_egress(
            GroupId=group_id, IpPermissions=DEFAULT_EGRESS, aws_retry=True
        )
    except is_boto3_error_code("InvalidPermission.NotFound"):
        pass  # already revoked (by a first attempt whose answer was lost)
    return group_id


def main():
    argument_spec = dict(
        vpc_id=dict(type="str", required=True),
        groups=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                description=dict(type="str", required=True),
                tags=dict(type="dict", default={}),
            ),
        ),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    vpc_id, groups = module.params["vpc_id"], module.params["groups"]
    names = [group["name"] for group in groups]
    if len(set(names)) != len(names):
        module.fail_json(msg=f"groups need a unique name each (got {names})")
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        ids = existing_groups(client, vpc_id, names)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to describe the security groups of VPC {vpc_id}")

    missing = missing_groups(groups, ids)
    result = {"changed": bool(missing), "created": [group["name"] for group in missing]}
    if module._diff:
        result["diff"] = {
            "before": {group["name"]: None for group in missing},
            "after": {
                group["name"]: {"description": group["description"], "tags": group["tags"]}
                for group in missing
            },
        }
    if not module.check_mode:
        for group in missing:
            try:
                ids[group["name"]] = create_group(client, vpc_id, group)
            except BOTO_ERRORS as e:
                module.fail_json_aws(e, msg=f"Failed to create security group {group['name']}")
    result["group_ids"] = {name: ids.get(name) for name in names}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
