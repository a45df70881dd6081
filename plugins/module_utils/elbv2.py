# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What alb_load_balancer and alb_target_group share: ELBv2 attributes and tags."""

from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)


def attribute_value(value):
    """An attribute value as AWS reports it: a string, booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_tags(client, arn):
    """The tags of one load balancer, target group or listener, as a dict."""
    descriptions = client.describe_tags(ResourceArns=[arn], aws_retry=True)["TagDescriptions"]
    return boto3_tag_list_to_ansible_dict(descriptions[0].get("Tags", []) if descriptions else [])


def write_tags(client, arn, to_set, to_unset):
    """Remove, then add, what a tag plan (module_utils.tags.plan_tags) says."""
    if to_unset:
        client.remove_tags(ResourceArns=[arn], TagKeys=to_unset, aws_retry=True)
    if to_set:
        client.add_tags(
            ResourceArns=[arn], Tags=ansible_dict_to_boto3_tag_list(to_set), aws_retry=True
        )
