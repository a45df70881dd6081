#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_cluster_settings
version_added: 0.2.0
short_description: Converge the settings of an existing ECS cluster (Container Insights)
description:
  - Sets the C(containerInsights) setting of an existing, C(ACTIVE) ECS cluster to
    O(container_insights), and reports it unchanged when it already is.
  - Never creates or deletes the cluster, and changes nothing else of it (capacity providers,
    configuration, tags), unlike M(community.aws.ecs_cluster), which creates the cluster when the
    name is wrong and does not manage its settings.
  - In check mode the module reads the cluster as in a real run and reports what it would change;
    in diff mode it shows the setting before and after.
options:
  cluster:
    description:
      - Name or ARN of the cluster.
    type: str
    required: true
  container_insights:
    description:
      - C(enabled) sends the cluster's and its services' task counts, CPU and memory to the
        C(ECS/ContainerInsights) namespace; C(enhanced) adds per-task and per-container metrics;
        C(disabled) turns both off. Each is billed per metric by CloudWatch.
      - Compared exactly; a cluster set to C(enhanced) is set back to C(enabled) when that is asked.
    type: str
    required: true
    choices: [enabled, enhanced, disabled]
notes:
  - One call when nothing changes (DescribeClusters with C(include=SETTINGS)), one more to change
    the setting (UpdateCluster). Needs C(ecs:DescribeClusters) and C(ecs:UpdateCluster) on the
    cluster.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Turn Container Insights on for the cluster
  leverslabs.asset_manager.ecs_cluster_settings:
    cluster: asset-manager
    container_insights: enabled
"""

RETURN = r"""
cluster_arn:
  description: The cluster's ARN.
  returned: always
  type: str
  sample: arn:aws:ecs:us-west-1:123456789012:cluster/asset-manager
container_insights:
  description: The setting as it is after the run (as it would be, in check mode).
  returned: always
  type: str
  sample: enabled
diff:
  description: The setting before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {before: {container_insights: disabled}, after: {container_insights: enabled}}
"""

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    BOTO_ERRORS,
    AssetManagerModule,
)

SETTING = "containerInsights"


def read_cluster(client, cluster):
    """The ACTIVE cluster, with its settings; None when there is none of that name."""
    # Without include=SETTINGS, AWS leaves the settings out of the answer.
    clusters = client.describe_clusters(clusters=[cluster], include=["SETTINGS"], aws_retry=True)
    active = [c for c in clusters.get("clusters") or [] if c.get("status") == "ACTIVE"]
    return active[0] if active else None


def current_value(cluster):
    """The cluster's containerInsights value, or None when AWS reports none."""
    values = [s.get("value") for s in cluster.get("settings") or [] if s.get("name") == SETTING]
    return values[0] if values else None


def main():
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        container_insights=dict(
            type="str", required=True, choices=["enabled", "enhanced", "disabled"]
        ),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    name, wanted = module.params["cluster"], module.params["container_insights"]
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        cluster = read_cluster(client, name)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to describe ECS cluster {name}")
    if cluster is None:
        module.fail_json(
            msg=f"ECS cluster {name} not found or not ACTIVE: it must exist before its settings "
            "are managed (the collection never creates it)."
        )

    before = current_value(cluster)
    result = {
        "changed": before != wanted,
        "cluster_arn": cluster["clusterArn"],
        "container_insights": wanted,
    }
    if module._diff:
        result["diff"] = {
            "before": {"container_insights": before},
            "after": {"container_insights": wanted},
        }
    if result["changed"] and not module.check_mode:
        try:
            client.update_cluster(
                cluster=cluster["clusterArn"],
                settings=[{"name": SETTING, "value": wanted}],
                aws_retry=True,
            )
        except BOTO_ERRORS as e:
            module.fail_json_aws(e, msg=f"Failed to set {SETTING} of ECS cluster {name}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
