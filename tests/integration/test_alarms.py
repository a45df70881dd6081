"""The alarms role on a deployed stack: the five alarms watch the real load balancer, target group
and services, notify the SNS topic given, change nothing on a rerun, plan a threshold change
without writing it, and are deleted by alarms_state=absent.

Container Insights is turned on for the cluster, and left alone when unmanaged.

One deploy for the file (with an SNS topic), then `--tags alarms` runs; torn down at the
end, so that the session's other test files find the emulator as seeded.
"""

from __future__ import annotations

import json
import re

import pytest

CLUSTER, WEB, DAEMON = "asset-manager", "asset-manager-web", "asset-manager-daemon"
ALB, TARGET_GROUP = "asset-manager-alb", "asset-manager-web-tg"
NAMES = {
    "daemon": "asset-manager-daemon-not-one-task",
    "web": "asset-manager-web-below-desired",
    "unhealthy": "asset-manager-web-tg-unhealthy-hosts",
    "elb_5xx": "asset-manager-alb-elb-5xx",
    "target_5xx": "asset-manager-web-tg-target-5xx",
}
TASK = "Ensure the task count, target health and 5xx alarms"
RECAP_UNCHANGED = re.compile(r"localhost\s+:\s+ok=\d+\s+changed=0\s+unreachable=0\s+failed=0")


@pytest.fixture(scope="module")
def topic(boto3_client):
    sns = boto3_client("sns")
    arn = sns.create_topic(Name="asset-manager-ops")["TopicArn"]
    yield arn
    sns.delete_topic(TopicArn=arn)


@pytest.fixture(scope="module")
def stack(seeded, run_site, push_image, topic):
    """A deployed stack whose alarms notify ``topic``; torn down afterwards."""
    push_image("seed")
    proc = run_site("-e", "ecs_taskdefs_image_tag=seed", "-e", f"alarms_sns_topic_arn={topic}")
    assert proc.returncode == 0, proc.stdout[-4000:]
    yield
    proc = run_site("-e", "teardown_confirm=local", playbook="playbooks/teardown.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.fixture(scope="module")
def cloudwatch(boto3_client):
    return boto3_client("cloudwatch")


def alarms(cloudwatch) -> dict:
    found = cloudwatch.describe_alarms(AlarmNames=list(NAMES.values()))["MetricAlarms"]
    return {a["AlarmName"]: a for a in found}


def dimensions(metric) -> dict:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}


def test_the_alarms_watch_the_real_resources_and_notify_the_topic(
    stack, cloudwatch, boto3_client, topic
):
    elbv2, ecs = boto3_client("elbv2"), boto3_client("ecs")
    balancer = elbv2.describe_load_balancers(Names=[ALB])["LoadBalancers"][0]["LoadBalancerArn"]
    group = elbv2.describe_target_groups(Names=[TARGET_GROUP])["TargetGroups"][0]["TargetGroupArn"]
    # CloudWatch's names of the two: the ends of their ARNs.
    lb_dim = balancer.split(":loadbalancer/")[1]
    tg_dim = group.split(":")[-1]
    assert lb_dim.startswith(f"app/{ALB}/") and tg_dim.startswith(f"targetgroup/{TARGET_GROUP}/")
    services = ecs.describe_services(cluster=CLUSTER, services=[WEB, DAEMON])["services"]
    assert sorted(s["serviceName"] for s in services if s["status"] == "ACTIVE") == [DAEMON, WEB]

    found = alarms(cloudwatch)
    assert sorted(found) == sorted(NAMES.values())
    for alarm in found.values():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], alarm
        assert alarm["ActionsEnabled"] is True
        assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        assert {"Key": "ManagedBy", "Value": "leverslabs.asset_manager"} in tags

    unhealthy = found[NAMES["unhealthy"]]
    assert (unhealthy["Namespace"], unhealthy["MetricName"], unhealthy["Statistic"]) == (
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
        "Maximum",
    )
    assert dimensions(unhealthy) == {"LoadBalancer": lb_dim, "TargetGroup": tg_dim}
    assert (unhealthy["ComparisonOperator"], unhealthy["Threshold"]) == ("GreaterThanThreshold", 0)
    assert (unhealthy["EvaluationPeriods"], unhealthy["TreatMissingData"]) == (3, "notBreaching")

    elb_5xx, target_5xx = found[NAMES["elb_5xx"]], found[NAMES["target_5xx"]]
    assert (elb_5xx["MetricName"], elb_5xx["Statistic"]) == ("HTTPCode_ELB_5XX_Count", "Sum")
    assert dimensions(elb_5xx) == {"LoadBalancer": lb_dim}
    assert target_5xx["MetricName"] == "HTTPCode_Target_5XX_Count"
    assert dimensions(target_5xx) == {"LoadBalancer": lb_dim, "TargetGroup": tg_dim}
    for alarm in (elb_5xx, target_5xx):
        assert alarm["Namespace"] == "AWS/ApplicationELB"
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 10)
        assert (alarm["Period"], alarm["EvaluationPeriods"]) == (60, 5)

    # The task counts: metric math over ECS/ContainerInsights, no data counted as breaching.
    for key, service, expression in (
        ("daemon", DAEMON, "ABS(fewest - 1) + ABS(most - 1)"),
        ("web", WEB, "desired - running"),
    ):
        alarm = found[NAMES[key]]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["TreatMissingData"] == "breaching"
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        [returned] = [q for q in queries.values() if q["ReturnData"]]
        assert returned["Expression"] == expression
        for query in queries.values():
            if "MetricStat" not in query:
                continue
            metric = query["MetricStat"]["Metric"]
            assert metric["Namespace"] == "ECS/ContainerInsights"
            assert metric["MetricName"] in ("RunningTaskCount", "DesiredTaskCount")
            assert dimensions(metric) == {"ClusterName": CLUSTER, "ServiceName": service}
            assert query["MetricStat"]["Period"] == 60
    stats = {
        q["MetricStat"]["Metric"]["MetricName"] + "/" + q["MetricStat"]["Stat"]
        for q in found[NAMES["daemon"]]["Metrics"]
        if "MetricStat" in q
    }
    assert stats == {"RunningTaskCount/Minimum", "RunningTaskCount/Maximum"}


def test_the_tag_alone_reruns_without_a_change(stack, run_site, topic):
    proc = run_site("--tags", "alarms", "-e", f"alarms_sns_topic_arn={topic}")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert RECAP_UNCHANGED.search(proc.stdout), proc.stdout[-3000:]


def test_a_threshold_change_is_planned_with_a_diff_and_not_written(
    stack, run_site, cloudwatch, topic
):
    before = alarms(cloudwatch)
    proc = run_site(
        "--tags",
        "alarms",
        "--check",
        "--diff",
        "-e",
        json.dumps({"alarms_sns_topic_arn": topic, "alarms_elb_5xx_threshold": 25}),
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout[proc.stdout.index("{") :])
    results = {
        task["task"]["name"].split(" : ", 1)[-1]: task["hosts"]["localhost"]
        for play in report["plays"]
        for task in play["tasks"]
    }
    result = results[TASK]
    assert result["changed"] is True
    assert result["changes"] == [
        {"name": NAMES["elb_5xx"], "action": "updated", "fields": ["threshold"]}
    ]
    [diff] = result["diff"] if isinstance(result["diff"], list) else [result["diff"]]
    assert diff["before"][NAMES["elb_5xx"]]["threshold"] == 10.0
    assert diff["after"][NAMES["elb_5xx"]]["threshold"] == 25.0
    assert report["stats"]["localhost"]["changed"] == 1
    # Nothing written: each alarm as it was (its configuration's timestamp included).
    assert alarms(cloudwatch) == before


def container_insights(ecs) -> str:
    (cluster,) = ecs.describe_clusters(clusters=[CLUSTER], include=["SETTINGS"])["clusters"]
    return {s["name"]: s["value"] for s in cluster["settings"]}["containerInsights"]


def test_container_insights_is_on_and_left_alone_when_unmanaged(
    stack, run_site, boto3_client, topic
):
    ecs = boto3_client("ecs")
    assert container_insights(ecs) == "enabled"  # moto's new clusters have it disabled
    ecs.update_cluster(
        cluster=CLUSTER, settings=[{"name": "containerInsights", "value": "disabled"}]
    )
    topic_arg = ("-e", f"alarms_sns_topic_arn={topic}")
    proc = run_site("--tags", "alarms", *topic_arg, "-e", "alarms_container_insights=unmanaged")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert RECAP_UNCHANGED.search(proc.stdout), proc.stdout[-3000:]
    assert container_insights(ecs) == "disabled"
    proc = run_site("--tags", "alarms", *topic_arg, "-e", "alarms_container_insights=enhanced")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert re.search(r"changed=1\b", proc.stdout), proc.stdout[-3000:]
    assert container_insights(ecs) == "enhanced"
    proc = run_site("--tags", "alarms", *topic_arg)
    assert proc.returncode == 0 and container_insights(ecs) == "enabled", proc.stdout[-4000:]


def test_the_summary_lists_each_alarm_and_its_state(stack, run_site, cloudwatch):
    cloudwatch.set_alarm_state(
        AlarmName=NAMES["elb_5xx"], StateValue="ALARM", StateReason="fidelity: 5xx answers"
    )
    proc = run_site(playbook="playbooks/summary.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    line = re.sub(r"\s+", " ", proc.stdout.split("Alarms: ", 1)[1].split("'", 1)[0])
    states = dict(entry.rsplit(" ", 1) for entry in line.strip().split(", "))
    assert states == {name: "ALARM" if key == "elb_5xx" else "OK" for key, name in NAMES.items()}


def test_absent_deletes_the_alarms(stack, run_site, cloudwatch):
    proc = run_site("--tags", "alarms", "-e", "alarms_state=absent")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert alarms(cloudwatch) == {}
