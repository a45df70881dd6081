"""Unit tests of cloudwatch_metric_alarms: the pure plan, and main() against botocore's Stubber."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.modules import (
    cloudwatch_metric_alarms as m,
)
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
    stubbed_client,
)

TOPIC = "arn:aws:sns:us-west-1:123456789012:ops"
ARN = "arn:aws:cloudwatch:us-west-1:123456789012:alarm:"
TAGS = {"Application": "asset-manager"}
SERVICE = {"ClusterName": "asset-manager", "ServiceName": "asset-manager-web"}

SINGLE = {
    "name": "asset-manager-web-tg-unhealthy-hosts",
    "description": "Targets fail their health check.",
    "namespace": "AWS/ApplicationELB",
    "metric_name": "UnHealthyHostCount",
    "statistic": "Maximum",
    "dimensions": {"TargetGroup": "targetgroup/tg/1", "LoadBalancer": "app/alb/2"},
    "period": 60,
    "evaluation_periods": 3,
    "comparison": "GreaterThanThreshold",
    "threshold": 0,
    "treat_missing_data": "notBreaching",
}
MATH = {
    "name": "asset-manager-web-below-desired",
    "metrics": [
        {"id": "running", "namespace": "ECS/ContainerInsights", "metric_name": "RunningTaskCount",
         "stat": "Minimum", "period": 60, "dimensions": SERVICE, "return_data": False},
        {"id": "desired", "namespace": "ECS/ContainerInsights", "metric_name": "DesiredTaskCount",
         "stat": "Maximum", "period": 60, "dimensions": SERVICE, "return_data": False},
        {"id": "missing", "expression": "desired - running", "label": "Web tasks missing"},
    ],
    "evaluation_periods": 5,
    "comparison": "GreaterThanThreshold",
    "threshold": 0,
    "treat_missing_data": "breaching",
}  # fmt: skip


def _stat(name, metric, stat):
    return {
        "Id": name,
        "MetricStat": {
            "Metric": {
                "Namespace": "ECS/ContainerInsights",
                "MetricName": metric,
                # DescribeAlarms' order need not be ours.
                "Dimensions": [
                    {"Name": "ServiceName", "Value": "asset-manager-web"},
                    {"Name": "ClusterName", "Value": "asset-manager"},
                ],
            },
            "Period": 60,
            "Stat": stat,
        },
        "ReturnData": False,
    }


def described_single(**changes):
    """SINGLE as DescribeAlarms answers it (as moto 5.2.5 does: an empty Metrics list)."""
    alarm = {
        "AlarmName": SINGLE["name"],
        "AlarmArn": ARN + SINGLE["name"],
        "AlarmDescription": SINGLE["description"],
        "ActionsEnabled": True,
        "OKActions": [TOPIC],
        "AlarmActions": [TOPIC],
        "InsufficientDataActions": [],
        "StateValue": "OK",
        "MetricName": "UnHealthyHostCount",
        "Namespace": "AWS/ApplicationELB",
        "Statistic": "Maximum",
        "Dimensions": [
            {"Name": "LoadBalancer", "Value": "app/alb/2"},
            {"Name": "TargetGroup", "Value": "targetgroup/tg/1"},
        ],
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "Metrics": [],
    }
    alarm.update(changes)
    return alarm


def described_math(**changes):
    """MATH as DescribeAlarms answers it: no DatapointsToAlarm, as for an alarm set without one."""
    alarm = {
        "AlarmName": MATH["name"],
        "AlarmArn": ARN + MATH["name"],
        "ActionsEnabled": True,
        "OKActions": [TOPIC],
        "AlarmActions": [TOPIC],
        "InsufficientDataActions": [],
        "Dimensions": [],
        "EvaluationPeriods": 5,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
        "Metrics": [
            _stat("running", "RunningTaskCount", "Minimum"),
            _stat("desired", "DesiredTaskCount", "Maximum"),
            {
                "Id": "missing",
                "Expression": "desired - running",
                "Label": "Web tasks missing",
                "ReturnData": True,
            },
        ],
    }
    alarm.update(changes)
    return alarm


@pytest.fixture
def cloudwatch():
    with stubbed_client("cloudwatch") as client:
        yield client


def expect_describe(client, alarms, names=(SINGLE["name"], MATH["name"])):
    client.stubber.add_response(
        "describe_alarms",
        {"MetricAlarms": alarms},
        {"AlarmNames": list(names), "AlarmTypes": ["MetricAlarm"]},
    )


def expect_tags(client, name, tags=None):
    tags = TAGS if tags is None else tags
    client.stubber.add_response(
        "list_tags_for_resource",
        {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]},
        {"ResourceARN": ARN + name},
    )


def run(client, check_mode=False, diff=False, **args):
    args = {
        "alarms": [copy.deepcopy(SINGLE), copy.deepcopy(MATH)],
        "alarm_actions": [TOPIC],
        "ok_actions": [TOPIC],
        "tags": TAGS,
        **args,
    }
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


# --- the pure plan ---------------------------------------------------------------------------

ACTIONS = {"alarm_actions": [TOPIC], "ok_actions": [TOPIC], "insufficient_data_actions": []}


def _full(spec):
    """A spec as the argument spec fills it in (defaults for the options not given)."""
    spec = {
        "description": "",
        "dimensions": {},
        "metrics": [],
        "treat_missing_data": "missing",
        **spec,
    }
    spec["metrics"] = [{"return_data": True, "dimensions": {}, **q} for q in spec["metrics"]]
    return spec


def test_what_describe_answers_compares_equal_to_what_was_asked():
    for spec, alarm in ((SINGLE, described_single()), (MATH, described_math())):
        assert m.desired_alarm(_full(spec), ACTIONS) == m.current_alarm(alarm)


def test_plan_finds_a_changed_expression_threshold_and_actions():
    current = m.current_alarm(described_math(AlarmActions=[]))
    wanted = _full(MATH)
    wanted["threshold"] = 1
    wanted["metrics"][2]["expression"] = "desired - running - 1"
    plan = m.plan_alarms({MATH["name"]: m.desired_alarm(wanted, ACTIONS)}, {MATH["name"]: current})
    assert plan[0]["action"] == "updated"
    assert plan[0]["fields"] == ["metrics", "threshold", "alarm_actions"]
    assert plan[0]["after"]["threshold"] == 1.0


def test_plan_creates_a_missing_alarm_with_its_tags_and_updates_tags_alone():
    wanted = {SINGLE["name"]: m.desired_alarm(_full(SINGLE), ACTIONS)}
    created = m.plan_alarms(wanted, {}, TAGS)[0]
    assert (created["action"], created["tags_to_set"]) == ("created", TAGS)
    current = {SINGLE["name"]: {**m.current_alarm(described_single()), "tags": {"Old": "x"}}}
    updated = m.plan_alarms(wanted, current, TAGS)[0]
    assert (updated["action"], updated["fields"]) == ("updated", ["tags"])
    assert (updated["tags_to_set"], updated["tags_to_unset"]) == (TAGS, ["Old"])


def test_put_request_round_trips_through_the_comparison():
    for spec in (SINGLE, MATH):
        alarm = m.desired_alarm(_full(spec), ACTIONS)
        request = m.put_request(spec["name"], alarm)
        assert m.current_alarm({**request, "Dimensions": request.get("Dimensions", [])}) == alarm


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric_name": None}, "give either metric_name"),
        ({"threshold": None}, "threshold is required"),
        ({"statistic": None}, "statistic is required with metric_name"),
    ],
)
def test_problems_of_a_single_metric_alarm(change, message):
    assert any(message in p for p in m.problems({**SINGLE, **change}))


def test_problems_of_a_math_alarm():
    two_returning = copy.deepcopy(MATH)
    two_returning["metrics"][0]["return_data"] = True
    assert any("exactly one of metrics" in p for p in m.problems(two_returning))
    beside = {**MATH, "namespace": "AWS/ECS"}
    assert any("namespace belongs in each of metrics" in p for p in m.problems(beside))
    incomplete = copy.deepcopy(MATH)
    del incomplete["metrics"][0]["stat"]
    assert any("metric running needs an expression or stat" in p for p in m.problems(incomplete))
    assert m.problems(MATH) == [] and m.problems(SINGLE) == []


# --- main() ----------------------------------------------------------------------------------


def test_noop_reads_and_writes_nothing(cloudwatch):
    expect_describe(cloudwatch, [described_single(), described_math()])
    expect_tags(cloudwatch, SINGLE["name"])
    expect_tags(cloudwatch, MATH["name"])
    assert run(cloudwatch) == {"changed": False, "changes": []}


def test_check_mode_reports_a_threshold_change_with_a_diff_and_writes_nothing(cloudwatch):
    expect_describe(cloudwatch, [described_single(), described_math()])
    expect_tags(cloudwatch, SINGLE["name"])
    expect_tags(cloudwatch, MATH["name"])
    alarms = [{**SINGLE, "threshold": 2}, copy.deepcopy(MATH)]
    result = run(cloudwatch, check_mode=True, diff=True, alarms=alarms)
    assert result["changes"] == [
        {"name": SINGLE["name"], "action": "updated", "fields": ["threshold"]}
    ]
    assert result["diff"]["before"][SINGLE["name"]]["threshold"] == 0.0
    assert result["diff"]["after"][SINGLE["name"]]["threshold"] == 2.0


def test_run_creates_and_updates_only_what_differs(cloudwatch):
    expect_describe(cloudwatch, [described_single(Threshold=5.0)])
    expect_tags(cloudwatch, SINGLE["name"], {"Application": "asset-manager", "Stale": "1"})
    single = m.desired_alarm(_full(SINGLE), ACTIONS)
    math = m.desired_alarm(_full(MATH), ACTIONS)
    cloudwatch.stubber.add_response("put_metric_alarm", {}, m.put_request(SINGLE["name"], single))
    cloudwatch.stubber.add_response(
        "untag_resource", {}, {"ResourceARN": ARN + SINGLE["name"], "TagKeys": ["Stale"]}
    )
    cloudwatch.stubber.add_response("put_metric_alarm", {}, m.put_request(MATH["name"], math, TAGS))
    result = run(cloudwatch)
    assert result["changes"] == [
        {"name": SINGLE["name"], "action": "updated", "fields": ["threshold", "tags"]},
        {"name": MATH["name"], "action": "created", "fields": []},
    ]


def test_absent_deletes_only_the_alarms_that_exist(cloudwatch):
    expect_describe(cloudwatch, [described_math()])
    cloudwatch.stubber.add_response("delete_alarms", {}, {"AlarmNames": [MATH["name"]]})
    result = run(
        cloudwatch, state="absent", alarms=[{"name": SINGLE["name"]}, {"name": MATH["name"]}]
    )
    assert result == {
        "changed": True,
        "changes": [{"name": MATH["name"], "action": "deleted", "fields": []}],
    }


def test_absent_in_check_mode_deletes_nothing(cloudwatch):
    expect_describe(cloudwatch, [described_math()])
    result = run(
        cloudwatch,
        state="absent",
        check_mode=True,
        alarms=[{"name": SINGLE["name"]}, {"name": MATH["name"]}],
    )
    assert result["changed"] is True


def test_an_incomplete_alarm_fails_before_any_call():
    with pytest.raises(Failed, match="evaluation_periods is required"):
        run(None, alarms=[{**SINGLE, "evaluation_periods": None}])
