#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cloudwatch_metric_alarms
version_added: 0.2.0
short_description: Converge a set of CloudWatch metric alarms in one process, with exact check mode
description:
  - Creates, updates or deletes every alarm of O(alarms) in one module run, instead of one
    M(amazon.aws.cloudwatch_metric_alarm) process per alarm.
  - Alarms on one metric and alarms on a metric math expression (O(alarms[].metrics)) are both
    compared field by field with what C(DescribeAlarms) returns. amazon.aws 10's module leaves
    the math expression out of its comparison and rewrites such an alarm on every run; it also
    shows no diff and sets no tags.
  - The alarms are read with C(DescribeAlarms) by name and, with O(tags), one
    C(ListTagsForResource) call per existing alarm. An alarm is written (C(PutMetricAlarm),
    which replaces its whole configuration) only where it differs.
  - Check mode reads as a real run does, never writes, and reports exactly what it would change,
    per alarm, in RV(changes) and, in diff mode, before and after.
options:
  alarms:
    description:
      - The alarms. With O(state=absent) only their names are read.
      - Each has either O(alarms[].metric_name) (an alarm on one metric) or
        O(alarms[].metrics) (an alarm on a metric math expression).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the alarm, unique in the account and region.
        type: str
        required: true
      description:
        description: Description of the alarm, for example what to do when it fires.
        type: str
        default: ""
      namespace:
        description: Namespace of the metric, such as V(AWS/ApplicationELB).
        type: str
      metric_name:
        description: Name of the metric.
        type: str
      statistic:
        description: Statistic of the metric over each period.
        type: str
        choices: [SampleCount, Average, Sum, Minimum, Maximum]
      dimensions:
        description: Dimensions of the metric, name to value.
        type: dict
        default: {}
      period:
        description: Seconds of each period of the metric, 10, 20, 30 or a multiple of 60.
        type: int
      metrics:
        description:
          - The metric data queries of a metric math alarm. Exactly one must return data (its
            O(alarms[].metrics[].return_data) true), the one the threshold is compared with.
        type: list
        elements: dict
        default: []
        suboptions:
          id:
            description:
              - Short name of the query, which expressions refer to (a lower-case letter first).
            type: str
            required: true
          expression:
            description: A metric math expression over other queries' ids.
            type: str
          label:
            description: Label of the query's result.
            type: str
          return_data:
            description: Whether this query's result is what the alarm compares.
            type: bool
            default: true
          namespace:
            description:
              - Namespace of the metric of a query without O(alarms[].metrics[].expression).
            type: str
          metric_name:
            description: Name of that metric.
            type: str
          dimensions:
            description: Its dimensions, name to value.
            type: dict
            default: {}
          stat:
            description: Its statistic, such as V(Minimum) or V(p99).
            type: str
          period:
            description: Seconds of each period of the metric.
            type: int
      comparison:
        description: How the value is compared with O(alarms[].threshold).
        type: str
        choices:
          - GreaterThanOrEqualToThreshold
          - GreaterThanThreshold
          - LessThanThreshold
          - LessThanOrEqualToThreshold
      threshold:
        description: The value compared with.
        type: float
      evaluation_periods:
        description: Number of most recent periods evaluated.
        type: int
      datapoints_to_alarm:
        description:
          - Number of those periods that must breach (an "M out of N" alarm). Omitted, all
            O(alarms[].evaluation_periods).
        type: int
      treat_missing_data:
        description: How a period without data counts.
        type: str
        choices: [breaching, notBreaching, ignore, missing]
        default: missing
  alarm_actions:
    description: ARNs (such as SNS topics) notified when an alarm enters C(ALARM), for every alarm.
    type: list
    elements: str
    default: []
  ok_actions:
    description: ARNs notified when an alarm returns to C(OK), for every alarm.
    type: list
    elements: str
    default: []
  insufficient_data_actions:
    description: ARNs notified when an alarm enters C(INSUFFICIENT_DATA), for every alarm.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) creates the alarms or converges them; V(absent) deletes those that exist.
    type: str
    choices: [present, absent]
    default: present
  tags:
    description:
      - Tags of each alarm. Omitted, the tags are not read or changed.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove the tags that are not in O(tags). Tags whose key starts with C(aws:) are kept.
    type: bool
    default: true
notes:
  - Writes PutMetricAlarm, TagResource, UntagResource and, with O(state=absent), DeleteAlarms;
    only what differs. Alarm actions are always enabled.
  - The order of dimensions and of actions is not significant; the order of O(alarms[].metrics)
    is.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Ensure the load balancer's alarms
  leverslabs.asset_manager.cloudwatch_metric_alarms:
    alarms:
      - name: asset-manager-alb-elb-5xx
        description: The load balancer answers 5xx itself.
        namespace: AWS/ApplicationELB
        metric_name: HTTPCode_ELB_5XX_Count
        statistic: Sum
        dimensions:
          LoadBalancer: app/asset-manager-alb/50dc6c495c0c9188
        period: 60
        evaluation_periods: 5
        comparison: GreaterThanThreshold
        threshold: 10
        treat_missing_data: notBreaching
      - name: asset-manager-web-below-desired
        metrics:
          - id: running
            namespace: ECS/ContainerInsights
            metric_name: RunningTaskCount
            stat: Minimum
            period: 60
            dimensions: {ClusterName: asset-manager, ServiceName: asset-manager-web}
            return_data: false
          - id: desired
            namespace: ECS/ContainerInsights
            metric_name: DesiredTaskCount
            stat: Maximum
            period: 60
            dimensions: {ClusterName: asset-manager, ServiceName: asset-manager-web}
            return_data: false
          - id: missing
            expression: desired - running
            label: Web tasks missing
        evaluation_periods: 5
        comparison: GreaterThanThreshold
        threshold: 0
    alarm_actions: [arn:aws:sns:us-west-1:123456789012:ops]
    ok_actions: [arn:aws:sns:us-west-1:123456789012:ops]
    tags:
      Application: asset-manager

- name: Remove them
  leverslabs.asset_manager.cloudwatch_metric_alarms:
    alarms:
      - name: asset-manager-alb-elb-5xx
      - name: asset-manager-web-below-desired
    state: absent
"""

RETURN = r"""
changes:
  description:
    - Every alarm this run created, updated or deleted (in check mode, would), in the order of
      O(alarms). C(fields) says what of an updated alarm differed.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: asset-manager-alb-elb-5xx, action: updated, fields: [threshold]}
    - {name: asset-manager-web-below-desired, action: created, fields: []}
diff:
  description:
    - The alarms before and after, by name, each as this module compares it (and, with
      O(tags), its C(tags)). An alarm that does not exist is not listed.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The alarms as they were.
      type: dict
    after:
      description: The alarms as this run leaves them.
      type: dict
"""

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

# DescribeAlarms and DeleteAlarms take at most 100 names a call.
BATCH = 100

# The fields of an alarm as compared and shown, in this order.
FIELDS = (
    "description",
    "namespace",
    "metric_name",
    "statistic",
    "dimensions",
    "period",
    "metrics",
    "comparison",
    "threshold",
    "evaluation_periods",
    "datapoints_to_alarm",
    "treat_missing_data",
    "actions_enabled",
    "alarm_actions",
    "ok_actions",
    "insufficient_data_actions",
)

# ---- boto3 calls ---------------------------------------------------------------------------


def describe_alarms(client, names):
    """The existing metric alarms of ``names``: name -> the DescribeAlarms entry."""
    found = {}
    for start in range(0, len(names), BATCH):
        kwargs = {"AlarmNames": names[start : start + BATCH], "AlarmTypes": ["MetricAlarm"]}
        while True:
            page = client.describe_alarms(aws_retry=True, **kwargs)
            for alarm in page.get("MetricAlarms", []):
                found[alarm["AlarmName"]] = alarm
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return found


def read_tags(client, arn):
    tags = client.list_tags_for_resource(ResourceARN=arn, aws_retry=True).get("Tags") or []
    return boto3_tag_list_to_ansible_dict(tags)


# ---- the comparison ------------------------------------------------------------------------


def _dimensions(value):
    """Dimensions as a sorted name -> value dict, from a dict or DescribeAlarms' list."""
    if isinstance(value, dict):
        pairs = value.items()
    else:
        pairs = ((d["Name"], d["Value"]) for d in value or [])
    return {str(k): str(v) for k, v in sorted(pairs)}


def _query_from_api(query):
    stat = query.get("MetricStat") or {}
    metric = stat.get("Metric") or {}
    return {
        "id": query["Id"],
        "expression": query.get("Expression"),
        "label": query.get("Label"),
        "return_data": query.get("ReturnData", True),
        "namespace": metric.get("Namespace"),
        "metric_name": metric.get("MetricName"),
        "dimensions": _dimensions(metric.get("Dimensions")),
        "stat": stat.get("Stat"),
        "period": stat.get("Period") or query.get("Period"),
    }


def current_alarm(alarm):
    """A DescribeAlarms entry in the form desired_alarm gives, for comparison and the diff."""
    evaluation_periods = alarm.get("EvaluationPeriods")
    metrics = [_query_from_api(q) for q in alarm.get("Metrics") or []]
    return {
        "description": alarm.get("AlarmDescription") or "",
        "namespace": alarm.get("Namespace"),
        "metric_name": alarm.get("MetricName"),
        "statistic": alarm.get("Statistic"),
        "dimensions": _dimensions(alarm.get("Dimensions")),
        "period": alarm.get("Period"),
        "metrics": metrics,
        "comparison": alarm.get("ComparisonOperator"),
        "threshold": None if alarm.get("Threshold") is None else float(alarm["Threshold"]),
        "evaluation_periods": evaluation_periods,
        # Unset, AWS evaluates every period.
        "datapoints_to_alarm": alarm.get("DatapointsToAlarm") or evaluation_periods,
        # Alarms made before TreatMissingData existed, and moto's math alarms, have none.
        "treat_missing_data": alarm.get("TreatMissingData") or "missing",
        "actions_enabled": alarm.get("ActionsEnabled", True),
        "alarm_actions": sorted(alarm.get("AlarmActions") or []),
        "ok_actions": sorted(alarm.get("OKActions") or []),
        "insufficient_data_actions": sorted(alarm.get("InsufficientDataActions") or []),
    }


def desired_alarm(spec, actions):
    """An alarm of O(alarms) (with the module's actions) in the compared form; pure."""
    metrics = [
        {
            "id": q["id"],
            "expression": q.get("expression") or None,
            "label": q.get("label") or None,
            "return_data": q.get("return_data", True) is not False,
            "namespace": None if q.get("expression") else q.get("namespace"),
            "metric_name": None if q.get("expression") else q.get("metric_name"),
            "dimensions": {} if q.get("expression") else _dimensions(q.get("dimensions") or {}),
            "stat": None if q.get("expression") else q.get("stat"),
            "period": q.get("period"),
        }
        for q in spec.get("metrics") or []
    ]
    single = not metrics
    return {
        "description": spec.get("description") or "",
        "namespace": spec.get("namespace") if single else None,
        "metric_name": spec.get("metric_name") if single else None,
        "statistic": spec.get("statistic") if single else None,
        "dimensions": _dimensions(spec.get("dimensions") or {}) if single else {},
        "period": spec.get("period") if single else None,
        "metrics": metrics,
        "comparison": spec["comparison"],
        "threshold": float(spec["threshold"]),
        "evaluation_periods": spec["evaluation_periods"],
        "datapoints_to_alarm": spec.get("datapoints_to_alarm") or spec["evaluation_periods"],
        "treat_missing_data": spec.get("treat_missing_data") or "missing",
        "actions_enabled": True,
        "alarm_actions": sorted(actions["alarm_actions"]),
        "ok_actions": sorted(actions["ok_actions"]),
        "insufficient_data_actions": sorted(actions["insufficient_data_actions"]),
    }


def plan_alarms(wanted, current, tags=None, purge_tags=True):
    """What converging the alarms onto ``wanted`` takes; pure, no AWS call.

    ``wanted``: name -> desired_alarm form, in the order of O(alarms). ``current``: name ->
    current_alarm form (with ``tags`` when O(tags) is given) of the alarms that exist.
    Returns one step per name: name, action (created, updated or None), fields, tags_to_set,
    tags_to_unset and ``after`` (the alarm as it will be).
    """
    plan = []
    for name, alarm in wanted.items():
        existing = current.get(name)
        step = {"name": name, "action": None, "fields": [], "tags_to_set": {}, "tags_to_unset": []}
        after = dict(alarm)
        if existing is None:
            step["action"] = "created"
            if tags is not None:
                step["tags_to_set"] = dict(sorted(tags.items()))
                after["tags"] = dict(step["tags_to_set"])
        else:
            step["fields"] = [f for f in FIELDS if alarm[f] != existing[f]]
            if tags is not None:
                to_set, to_unset, after["tags"] = plan_tags(existing.get("tags"), tags, purge_tags)
                step.update(tags_to_set=to_set, tags_to_unset=to_unset)
                if to_set or to_unset:
                    step["fields"].append("tags")
            if step["fields"]:
                step["action"] = "updated"
        step["after"] = after
        plan.append(step)
    return plan


def put_request(name, alarm, tags=None):
    """PutMetricAlarm's arguments for an alarm in the compared form."""
    request = {
        "AlarmName": name,
        "AlarmDescription": alarm["description"],
        "ActionsEnabled": True,
        "AlarmActions": alarm["alarm_actions"],
        "OKActions": alarm["ok_actions"],
        "InsufficientDataActions": alarm["insufficient_data_actions"],
        "ComparisonOperator": alarm["comparison"],
        "Threshold": alarm["threshold"],
        "EvaluationPeriods": alarm["evaluation_periods"],
        "DatapointsToAlarm": alarm["datapoints_to_alarm"],
        "TreatMissingData": alarm["treat_missing_data"],
    }
    if alarm["metrics"]:
        request["Metrics"] = [_query_to_api(q) for q in alarm["metrics"]]
    else:
        request.update(
            Namespace=alarm["namespace"],
            MetricName=alarm["metric_name"],
            Statistic=alarm["statistic"],
            Dimensions=[{"Name": k, "Value": v} for k, v in alarm["dimensions"].items()],
            Period=alarm["period"],
        )
    if tags:
        # Taken on creation only: PutMetricAlarm ignores Tags for an existing alarm.
        request["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    return request


def _query_to_api(query):
    api = {"Id": query["id"], "ReturnData": query["return_data"]}
    if query["label"]:
        api["Label"] = query["label"]
    if query["expression"]:
        api["Expression"] = query["expression"]
        if query["period"]:
            api["Period"] = query["period"]
    else:
        api["MetricStat"] = {
            "Metric": {
                "Namespace": query["namespace"],
                "MetricName": query["metric_name"],
                "Dimensions": [{"Name": k, "Value": v} for k, v in query["dimensions"].items()],
            },
            "Period": query["period"],
            "Stat": query["stat"],
        }
    return api


def problems(spec):
    """Why an alarm of O(alarms) cannot be written, as sentences; empty when it can. Pure."""
    name = spec.get("name") or "?"
    found = [
        f"alarm {name}: {option} is required"
        for option in ("comparison", "threshold", "evaluation_periods")
        if spec.get(option) is None
    ]
    metrics = spec.get("metrics") or []
    if bool(spec.get("metric_name")) == bool(metrics):
        found.append(f"alarm {name}: give either metric_name (one metric) or metrics (metric math)")
    elif metrics:
        for option in ("namespace", "statistic", "period"):
            if spec.get(option) is not None:
                found.append(f"alarm {name}: {option} belongs in each of metrics, not beside them")
        if spec.get("dimensions"):
            found.append(f"alarm {name}: dimensions belong in each of metrics, not beside them")
        returning = [q["id"] for q in metrics if q.get("return_data", True) is not False]
        if len(returning) != 1:
            found.append(
                f"alarm {name}: exactly one of metrics must have return_data true "
                f"(got {', '.join(returning) or 'none'})"
            )
        for query in metrics:
            missing = [
                o for o in ("namespace", "metric_name", "stat", "period") if not query.get(o)
            ]
            if not query.get("expression") and missing:
                found.append(
                    f"alarm {name}: metric {query['id']} needs an expression or "
                    f"{', '.join(missing)}"
                )
    else:
        for option in ("namespace", "statistic", "period"):
            if spec.get(option) is None:
                found.append(f"alarm {name}: {option} is required with metric_name")
    return found


# ---- the module ----------------------------------------------------------------------------


def apply_step(client, step, existing_arn):
    name = step["name"]
    if step["action"] == "created":
        client.put_metric_alarm(
            aws_retry=True, **put_request(name, step["after"], step["tags_to_set"])
        )
        return
    if set(step["fields"]) - {"tags"}:
        client.put_metric_alarm(aws_retry=True, **put_request(name, step["after"]))
    if step["tags_to_unset"]:
        client.untag_resource(
            ResourceARN=existing_arn, TagKeys=step["tags_to_unset"], aws_retry=True
        )
    if step["tags_to_set"]:
        client.tag_resource(
            ResourceARN=existing_arn,
            Tags=ansible_dict_to_boto3_tag_list(step["tags_to_set"]),
            aws_retry=True,
        )


def ensure_present(module, client, specs, described):
    params = module.params
    actions = {
        key: params[key] for key in ("alarm_actions", "ok_actions", "insufficient_data_actions")
    }
    tags = None if params["tags"] is None else {str(k): str(v) for k, v in params["tags"].items()}
    wanted = {spec["name"]: desired_alarm(spec, actions) for spec in specs}
    current = {}
    try:
        for name, alarm in described.items():
            current[name] = current_alarm(alarm)
            if tags is not None:
                current[name]["tags"] = read_tags(client, alarm["AlarmArn"])
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg="Failed to read the tags of the alarms")
    plan = plan_alarms(wanted, current, tags, params["purge_tags"])
    if not module.check_mode:
        for step in plan:
            if step["action"]:
                arn = described.get(step["name"], {}).get("AlarmArn")
                try:
                    apply_step(client, step, arn)
                except BOTO_ERRORS as e:
                    module.fail_json_aws(e, msg=f"Failed to write alarm {step['name']}")
    changes = [
        {"name": s["name"], "action": s["action"], "fields": s["fields"]}
        for s in plan
        if s["action"]
    ]
    result = {"changed": bool(changes), "changes": changes}
    if module._diff:
        result["diff"] = {
            "before": current,
            "after": {s["name"]: s["after"] for s in plan},
        }
    module.exit_json(**result)


def ensure_absent(module, client, names, described):
    doomed = [name for name in names if name in described]
    if doomed and not module.check_mode:
        try:
            for start in range(0, len(doomed), BATCH):
                client.delete_alarms(AlarmNames=doomed[start : start + BATCH], aws_retry=True)
        except BOTO_ERRORS as e:
            module.fail_json_aws(e, msg="Failed to delete the alarms " + ", ".join(doomed))
    result = {
        "changed": bool(doomed),
        "changes": [{"name": n, "action": "deleted", "fields": []} for n in doomed],
    }
    if module._diff:
        result["diff"] = {
            "before": {name: current_alarm(described[name]) for name in doomed},
            "after": {},
        }
    module.exit_json(**result)


def main():
    query_spec = dict(
        id=dict(type="str", required=True),
        expression=dict(type="str"),
        label=dict(type="str"),
        return_data=dict(type="bool", default=True),
        namespace=dict(type="str"),
        metric_name=dict(type="str"),
        dimensions=dict(type="dict", default={}),
        stat=dict(type="str"),
        period=dict(type="int"),
    )
    alarm_spec = dict(
        name=dict(type="str", required=True),
        description=dict(type="str", default=""),
        namespace=dict(type="str"),
        metric_name=dict(type="str"),
        statistic=dict(type="str", choices=["SampleCount", "Average", "Sum", "Minimum", "Maximum"]),
        dimensions=dict(type="dict", default={}),
        period=dict(type="int"),
        metrics=dict(type="list", elements="dict", default=[], options=query_spec),
        comparison=dict(
            type="str",
            choices=[
                "GreaterThanOrEqualToThreshold",
                "GreaterThanThreshold",
                "LessThanThreshold",
                "LessThanOrEqualToThreshold",
            ],
        ),
        threshold=dict(type="float"),
        evaluation_periods=dict(type="int"),
        datapoints_to_alarm=dict(type="int"),
        treat_missing_data=dict(
            type="str",
            default="missing",
            choices=["breaching", "notBreaching", "ignore", "missing"],
        ),
    )
    argument_spec = dict(
        alarms=dict(type="list", elements="dict", required=True, options=alarm_spec),
        alarm_actions=dict(type="list", elements="str", default=[]),
        ok_actions=dict(type="list", elements="str", default=[]),
        insufficient_data_actions=dict(type="list", elements="str", default=[]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    specs = list({spec["name"]: spec for spec in params["alarms"]}.values())
    names = [spec["name"] for spec in specs]
    if not names or not all(names):
        module.fail_json(msg="alarms must list at least one alarm, each with a name")
    if params["state"] == "present":
        found = [problem for spec in specs for problem in problems(spec)]
        if found:
            module.fail_json(msg="; ".join(found))

    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    try:
        described = describe_alarms(client, names)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg="Failed to read the alarms " + ", ".join(names))
    if params["state"] == "present":
        ensure_present(module, client, specs, described)
    else:
        ensure_absent(module, client, names, described)


if __name__ == "__main__":
    main()
