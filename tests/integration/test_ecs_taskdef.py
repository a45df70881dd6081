"""leverslabs.asset_manager.ecs_taskdef against the emulator, run as Ansible tasks."""

from __future__ import annotations

import copy
import re
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MODULE = "leverslabs.asset_manager.ecs_taskdef"
ACCOUNT = "123456789012"  # moto's account
SSM = f"arn:aws:ssm:us-west-1:{ACCOUNT}:parameter/asset-manager"
PLACEHOLDERS = {"account": ACCOUNT, "region": "us-west-1", "app": "asset_manager", "env": "prod"}
IMAGE = f"{ACCOUNT}.dkr.ecr.us-west-1.amazonaws.com/asset-manager"

# The app's web-task-definition.json, as the guide keeps it: placeholders still in place.
APP_DEFINITION = {
    "family": "asset_manager-web-task",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "1024",
    "executionRoleArn": "arn:aws:iam::$account:role/ecsTaskExecutionRole",
    "containerDefinitions": [
        {
            "name": "asset-manager-web",
            "image": "$account.dkr.ecr.$region.amazonaws.com/asset-manager:latest",
            "portMappings": [{"containerPort": 3000}],
            "environment": [
                {"name": "PORT", "value": "3000"},
                {"name": "DAGSTER_HOME", "value": "/replaced/by/env.json"},
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": "/ecs/$app/web", "awslogs-region": "$region"},
            },
        }
    ],
}
ENV_JSON = {
    "environment": [
        {"name": "DAGSTER_HOME", "value": "/opt/dagster/dagster_home"},
        {"name": "APP_ENV", "value": "$env"},
    ],
    "secrets": [{"name": "DAGSTER_PG_PASSWORD", "valueFrom": "/$env/postgres_password"}],
}


def family():
    return f"it-{uuid.uuid4().hex[:10]}"


def args(name, **overrides):
    result = {
        "family": name,
        "definition": copy.deepcopy(APP_DEFINITION),
        "placeholders": PLACEHOLDERS,
        "image": IMAGE + ":1",
        "env_file": copy.deepcopy(ENV_JSON),
        "ssm_parameter_arn_prefix": SSM,
        "tags": {"app": "asset_manager"},
    }
    result.update(overrides)
    return result


def revisions(ecs, name, status="ACTIVE"):
    arns = ecs.list_task_definitions(familyPrefix=name, status=status)["taskDefinitionArns"]
    return sorted(int(arn.rsplit(":", 1)[1]) for arn in arns if f"/{name}:" in arn)


@pytest.fixture
def ecs(boto3_client):
    return boto3_client("ecs")


@pytest.fixture
def run_check(run_task):
    """Run the module in check mode; returns its result dict, with the output under _output."""

    def run(module, module_args, diff=False):
        task = run_task(module, module_args, check=True, diff=diff)
        return {**task.result, "_output": task.output}

    return run


def test_register_only_on_change_then_absent(run_task, run_check, ecs):
    name = family()

    first = run_task(MODULE, args(name))
    assert not first.failed, first.output
    assert first.changed and first.result["revision"] == 1
    assert first.result["arn"].endswith(f":task-definition/{name}:1")
    assert_registered_as_rendered(ecs, name)

    rerun = run_task(MODULE, args(name))
    assert not rerun.failed, rerun.output
    assert not rerun.changed
    assert rerun.result["revision"] == 1 and rerun.result["changes"] == []
    assert revisions(ecs, name) == [1]

    # community.aws's ecs_taskdefinition reports ok here: cpu is not among what it compares.
    bigger = args(name)
    bigger["definition"]["cpu"] = "512"
    cpu = run_task(MODULE, bigger)
    assert cpu.changed and cpu.result["revision"] == 2, cpu.output
    assert cpu.result["changes"] == ["cpu"]
    assert (
        ecs.describe_task_definition(taskDefinition=f"{name}:2")["taskDefinition"]["cpu"] == "512"
    )

    image = run_task(MODULE, {**bigger, "image": IMAGE + ":2"})
    assert image.changed and image.result["revision"] == 3, image.output
    assert image.result["changes"] == ["containerDefinitions[asset-manager-web].image"]
    assert revisions(ecs, name) == [1, 2, 3]

    # Check mode with a change: predicted, nothing written.
    more_memory = {**bigger, "image": IMAGE + ":2"}
    more_memory["definition"] = copy.deepcopy(bigger["definition"])
    more_memory["definition"]["memory"] = "2048"
    check = run_check(MODULE, more_memory, diff=True)
    assert not check.get("failed"), check["_output"]
    assert check["changed"] and check["revision"] == 4
    assert check["arn"].endswith(f"/{name}:4")
    assert check["diff"]["before"]["memory"] == "1024"
    assert check["diff"]["after"]["memory"] == "2048"
    assert revisions(ecs, name) == [1, 2, 3]
    latest = ecs.describe_task_definition(taskDefinition=f"{name}:3")["taskDefinition"]
    assert latest["memory"] == "1024"

    gone = run_task(MODULE, {"family": name, "state": "absent"})
    assert gone.changed and len(gone.result["deregistered"]) == 3, gone.output
    assert revisions(ecs, name) == []
    assert revisions(ecs, name, "INACTIVE") == [1, 2, 3]

    again = run_task(MODULE, {"family": name, "state": "absent"})
    assert not again.failed and not again.changed, again.output

    # AWS never reuses a revision number; the deregistered revision 3 must not count as current
    # (moto's DescribeTaskDefinition(family) would still return it).
    back = run_task(MODULE, {**bigger, "image": IMAGE + ":2"})
    assert back.changed and back.result["revision"] == 4, back.output
    assert revisions(ecs, name) == [4]


def assert_registered_as_rendered(ecs, name):
    """env.json merged (sorted, env.json wins), secrets as ARNs, placeholders substituted."""
    described = ecs.describe_task_definition(taskDefinition=f"{name}:1", include=["TAGS"])
    container = described["taskDefinition"]["containerDefinitions"][0]
    assert container["image"] == IMAGE + ":1"
    assert container["environment"] == [
        {"name": "APP_ENV", "value": "prod"},
        {"name": "DAGSTER_HOME", "value": "/opt/dagster/dagster_home"},
        {"name": "PORT", "value": "3000"},
    ]
    assert container["secrets"] == [
        {"name": "DAGSTER_PG_PASSWORD", "valueFrom": SSM + "/prod/postgres_password"}
    ]
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/asset_manager/web"
    assert described["taskDefinition"]["family"] == name
    tags = {t["key"]: t["value"] for t in described["tags"]}
    # Besides the given tags, the module's mark: the digest of the content it registered.
    assert re.fullmatch(r"[0-9a-f]{64}", tags.pop("leverslabs.asset_manager:sha256"))
    assert tags == {"app": "asset_manager"}


def test_check_mode_on_a_new_family_writes_nothing(run_check, ecs):
    name = family()
    result = run_check(MODULE, args(name))
    assert not result.get("failed"), result["_output"]
    assert result["changed"] and result["revision"] == 1
    assert result["arn"] == f"arn:aws:ecs:us-west-1:{ACCOUNT}:task-definition/{name}:1"
    assert revisions(ecs, name) == []


def test_the_plan_names_the_revision_a_run_registers_over_a_hand_registered_one(
    run_task, run_check, ecs
):
    """Someone registered a revision by hand (another image): the plan names the number the run
    then gets, past the hand-registered and the deregistered revisions."""
    name = family()
    assert run_task(MODULE, args(name)).result["revision"] == 1
    by_hand = ecs.describe_task_definition(taskDefinition=f"{name}:1")["taskDefinition"]
    for tag in ("by-hand-2", "by-hand-3"):
        ecs.register_task_definition(
            family=name,
            containerDefinitions=[
                {**by_hand["containerDefinitions"][0], "image": f"{IMAGE}:{tag}"}
            ],
            **{
                key: by_hand[key]
                for key in (
                    "networkMode",
                    "requiresCompatibilities",
                    "cpu",
                    "memory",
                    "executionRoleArn",
                )
                if key in by_hand
            },
        )
    ecs.deregister_task_definition(taskDefinition=f"{name}:3")
    assert revisions(ecs, name) == [1, 2]

    plan = run_check(MODULE, args(name))
    assert not plan.get("failed"), plan["_output"]
    assert plan["changed"] and plan["revision"] == 4, plan["_output"]
    assert revisions(ecs, name) == [1, 2]

    run = run_task(MODULE, args(name))
    assert run.changed and run.result["revision"] == plan["revision"], run.output
    assert run.result["arn"] == plan["arn"]
    assert revisions(ecs, name) == [1, 2, 4]


def test_read_only_root_writable_volumes_and_log_delivery_as_registered(run_task, run_check, ecs):
    """What moto stores and describes for the read-only root, its task-local volumes and the log
    delivery options compares equal to the rendering: a rerun registers nothing."""
    name = family()
    hardened = args(
        name,
        container="asset-manager-web",
        readonly_root_filesystem=True,
        writable_paths=["$DAGSTER_HOME/storage", "/tmp"],
        log_mode="non-blocking",
        log_max_buffer_size="25m",
    )
    first = run_task(MODULE, hardened)
    assert first.changed and first.result["revision"] == 1, first.output
    described = ecs.describe_task_definition(taskDefinition=f"{name}:1")["taskDefinition"]
    container = described["containerDefinitions"][0]
    assert container["readonlyRootFilesystem"] is True
    mounts = {m["containerPath"]: m for m in container["mountPoints"]}
    assert sorted(mounts) == ["/opt/dagster/dagster_home/storage", "/tmp"]
    assert all(m["readOnly"] is False for m in mounts.values())
    volumes = {v["name"]: v for v in described["volumes"]}
    assert sorted(volumes) == sorted(m["sourceVolume"] for m in mounts.values())
    # Task-local: no host path, no EFS or Docker volume.
    assert all(not v.get("host", {}).get("sourcePath") for v in volumes.values())
    assert all("efsVolumeConfiguration" not in v for v in volumes.values())
    options = container["logConfiguration"]["options"]
    assert (options["mode"], options["max-buffer-size"]) == ("non-blocking", "25m")

    rerun = run_task(MODULE, hardened)
    assert not rerun.failed and not rerun.changed, rerun.output
    assert revisions(ecs, name) == [1]

    writable_root = run_check(MODULE, {**hardened, "readonly_root_filesystem": False})
    assert writable_root["changed"] and writable_root["revision"] == 2, writable_root["_output"]
    assert "volumes" in writable_root["changes"]
    assert revisions(ecs, name) == [1]
