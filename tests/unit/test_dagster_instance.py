"""The Dagster instance config that ecs_taskdefs renders is valid for Dagster itself.

The template is rendered by the role (a tiny playbook, no AWS call) and checked with Dagster's own
config machinery: the instance schema (`dagster_instance_config`), then each pluggable class's
config schema with its environment sources resolved, as `DagsterInstance` does on start-up.
Needs requirements-dagster.txt.
"""

from __future__ import annotations

import importlib
import json
import socket
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._config.field_utils import Shape
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config, dagster_instance_config_schema

PG_ENV = {
    "DAGSTER_PG_HOST": "db.example.invalid",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USER": "postgres",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_PG_DB": "postgres",
}
RUN_ARN = "arn:aws:ecs:us-west-1:123456789012:task-definition/asset-manager-run:7"
# What the stack lookup finds, as the role reads it (given as an extra variable: no AWS call).
STACK = {
    "private_subnet_ids": ["subnet-private-a", "subnet-private-b"],
    "security_groups": {"alb": "sg-alb", "services": "sg-services"},
}


def render(local_play, dest: Path, *extra_vars: str) -> dict:
    """Render dagster.yaml.j2 through the role, exactly as a deploy does."""
    play = [
        {
            "name": "Render the Dagster instance config",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Render it with the role",
                    "ansible.builtin.include_role": {
                        "name": "leverslabs.asset_manager.ecs_taskdefs",
                        "tasks_from": "dagster_instance.yml",
                    },
                }
            ],
        }
    ]
    proc = local_play(
        play,
        "-e",
        f"ecs_taskdefs_dagster_yaml_path={dest}",
        "-e",
        json.dumps({"__asset_manager_stack": STACK}),
        *extra_vars,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return yaml.safe_load(dest.read_text())


def validate(directory: Path) -> dict:
    """Validate dagster.yaml in `directory` as DagsterInstance would; return the config."""
    config, _custom_class = dagster_instance_config(str(directory))
    # dagster_instance_config checks the shape; processing also resolves the {env: ...} sources.
    result = process_config(Shape(dagster_instance_config_schema()), config)
    if not result.success:
        raise DagsterInvalidConfigError("dagster.yaml is invalid", result.errors, config)
    for section in ("run_launcher", "run_coordinator", "compute_logs"):
        data = config[section]
        cls = getattr(importlib.import_module(data["module"]), data["class"])
        result = process_config(cls.config_type(), data.get("config") or {})
        if not result.success:
            raise DagsterInvalidConfigError(
                f"{section} ({data['class']}) config is invalid", result.errors, data["config"]
            )
    return config


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, local_play):
    directory = tmp_path_factory.mktemp("dagster_home")
    data = render(local_play, directory / "dagster.yaml")
    return directory, data


@pytest.fixture
def task_env(monkeypatch):
    for name, value in {**PG_ENV, "DAGSTER_RUN_TASK_DEFINITION": RUN_ARN}.items():
        monkeypatch.setenv(name, value)


def test_rendered_config_is_valid_for_dagster(rendered, task_env):
    directory, _data = rendered
    config = validate(directory)
    assert set(config["storage"]) == {"postgres"}


def test_run_launcher_reads_the_run_task_definition_from_the_environment(rendered, task_env):
    directory, data = rendered
    launcher = data["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    # No revision in the file: a new run revision reaches Dagster through the task's environment.
    assert launcher["config"]["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}
    assert launcher["config"]["container_name"] == "asset-manager-run"
    resolved = process_config(
        importlib.import_module("dagster_aws.ecs").EcsRunLauncher.config_type(), launcher["config"]
    )
    assert resolved.success
    # EcsRunLauncher itself reads the variable when it starts (dagster_aws.ecs.launcher).
    assert resolved.value["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}


def test_runs_start_in_every_private_subnet_with_the_services_group(rendered, task_env):
    _directory, data = rendered
    config = data["run_launcher"]["config"]
    # Not the daemon's own task settings (one subnet, and a TypeError outside ECS).
    assert config["use_current_ecs_task_config"] is False
    assert config["run_task_kwargs"] == {
        "cluster": "asset-manager",
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-private-a", "subnet-private-b"],
                "securityGroups": ["sg-services"],
                "assignPublicIp": "DISABLED",
            }
        },
    }
    # No Secrets Manager lookup per run unless asked for: no secretsmanager:ListSecrets needed.
    assert config["secrets_tag"] is None
    resolved = validate(rendered[0])["run_launcher"]["config"]
    assert resolved["run_task_kwargs"] == config["run_task_kwargs"]


def test_the_instance_loads_its_storage_up_to_the_connection(rendered, task_env, monkeypatch):
    """DagsterInstance builds every part, Postgres storage included, and fails only when it
    connects (nothing listens on the port): the driver the URL names is installed and used."""
    import psycopg2
    from dagster import DagsterInstance

    with socket.socket() as probe:  # a port nothing listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(port))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-1")
    directory, _data = rendered
    with pytest.raises(Exception) as failed:
        DagsterInstance.from_config(str(directory))
    causes, error = [], failed.value
    while error is not None:
        causes.append(error)
        error = error.__cause__ or error.__context__
    refused = [e for e in causes if isinstance(e, psycopg2.OperationalError)]
    assert refused and "Connection refused" in str(refused[0]), causes


def test_storage_compute_logs_and_coordinator(rendered, task_env):
    directory, data = rendered
    postgres = data["storage"]["postgres"]["postgres_db"]
    assert postgres["params"] == {"sslmode": "require"}
    assert postgres["scheme"] == "postgresql+psycopg2"
    for key, env in {
        "hostname": "DAGSTER_PG_HOST",
        "port": "DAGSTER_PG_PORT",
        "username": "DAGSTER_PG_USER",
        "password": "DAGSTER_PG_PASSWORD",
        "db_name": "DAGSTER_PG_DB",
    }.items():
        assert postgres[key] == {"env": env}
    logs = data["compute_logs"]
    assert logs["class"] == "S3ComputeLogManager"
    assert logs["config"]["bucket"] == "asset-manager-artifacts"
    assert logs["config"]["prefix"] == "compute-logs"
    # Staged in a writable volume of the read-only containers (ecs_taskdefs_writable_paths gets it).
    assert logs["config"]["local_dir"] == "/opt/dagster/compute_logs"
    # Telemetry would write ~/.dagster, outside every writable volume.
    assert data["telemetry"] == {"enabled": False}
    assert data["run_coordinator"]["class"] == "QueuedRunCoordinator"
    validate(directory)


def test_missing_task_environment_is_caught(rendered, monkeypatch):
    """Without its variables in the task's environment, Dagster refuses to start."""
    directory, _data = rendered
    for name in PG_ENV:
        monkeypatch.setenv(name, PG_ENV[name])
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_PG_PASSWORD"):
        validate(directory)
    # The run launcher resolves its variable before any AWS call.
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", PG_ENV["DAGSTER_PG_PASSWORD"])
    monkeypatch.delenv("DAGSTER_RUN_TASK_DEFINITION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-1")
    config = validate(directory)["run_launcher"]["config"]
    from dagster_aws.ecs import EcsRunLauncher

    with pytest.raises(Exception, match="DAGSTER_RUN_TASK_DEFINITION which is not set"):
        EcsRunLauncher(**config)


def test_the_validation_is_not_vacuous(rendered, task_env, tmp_path):
    """A misspelt key in any section fails Dagster's validation."""
    _directory, data = rendered
    broken = json.loads(json.dumps(data))
    broken["run_launcher"]["config"]["container"] = broken["run_launcher"]["config"].pop(
        "container_name"
    )
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(DagsterInvalidConfigError):
        validate(tmp_path)
    broken = json.loads(json.dumps(data))
    broken["storage"]["postgres"]["postgres_db"]["sslmode"] = "require"
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(DagsterInvalidConfigError):
        validate(tmp_path)


def test_names_follow_the_inventory(tmp_path, task_env, local_play):
    """One naming source: the container and bucket come from the asset_manager variables."""
    data = render(
        local_play,
        tmp_path / "dagster.yaml",
        "-e",
        "asset_manager_name=dg-test",
        "-e",
        "ecs_taskdefs_dagster_max_concurrent_runs=3",
    )
    assert data["run_launcher"]["config"]["container_name"] == "dg-test-run"
    assert data["compute_logs"]["config"]["bucket"] == "dg-test-artifacts"
    assert data["run_coordinator"]["config"]["max_concurrent_runs"] == 3
    validate(tmp_path)
