"""Unit tests for the pure task definition logic: render, merge, normalise, compare."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.module_utils import taskdef
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.taskdef import (
    TaskDefinitionError,
    diff_task_definitions,
    merge_env,
    normalise_task_definition,
    read_json_file,
    render_task_definition,
    substitute_placeholders,
)

PLACEHOLDERS = {
    "account": "123456789012",
    "region": "us-west-1",
    "app": "asset_manager",
    "env": "prod",
}
PREFIX = "arn:aws:ssm:us-west-1:123456789012:parameter/asset-manager"


def web_definition():
    """The app's web-task-definition.json as the guide's sed expects it (placeholders in place)."""
    return {
        "family": "asset_manager-web-task",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "executionRoleArn": "arn:aws:iam::$account:role/ecsTaskExecutionRole",
        "taskRoleArn": "arn:aws:iam::$account:role/${app}_task",
        "containerDefinitions": [
            {
                "name": "asset-manager-web",
                "image": "$account.dkr.ecr.$region.amazonaws.com/asset-manager:latest",
                "command": ["sh", "-c", "dagster-webserver -h 0.0.0.0 -p ${PORT} -w $HOME/w.yaml"],
                "portMappings": [{"containerPort": 3000}],
                "environment": [
                    {"name": "PORT", "value": "3000"},
                    {"name": "DAGSTER_HOME", "value": "/opt/dagster/old"},
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/$app/web",
                        "awslogs-region": "$region",
                        "awslogs-stream-prefix": "web",
                    },
                },
                "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:3000/server_info"]},
            }
        ],
    }


def env_json():
    return {
        "environment": [
            {"name": "DAGSTER_HOME", "value": "/opt/dagster/dagster_home"},
            {"name": "APP_ENV", "value": "$env"},
        ],
        "secrets": [
            {"name": "DAGSTER_PG_PASSWORD", "valueFrom": "/$env/postgres_password"},
            {"name": "AUTH0_SECRET", "valueFrom": "arn:aws:secretsmanager:us-west-1:1:secret:a"},
        ],
    }


def render(**overrides):
    kwargs = {
        "definition": web_definition(),
        "family": "asset_manager-web-task",
        "placeholders": PLACEHOLDERS,
        "env_file": env_json(),
        "ssm_parameter_arn_prefix": PREFIX,
    }
    kwargs.update(overrides)
    return render_task_definition(**kwargs)


def described(rendered, revision=1):
    """What AWS's DescribeTaskDefinition returns for ``rendered``, AWS defaults filled in.

    Written from AWS's documented behaviour and real responses, not from moto: moto fills in
    neither hostPort/protocol, nor health check defaults, nor requiresAttributes/registeredAt.
    """
    result = copy.deepcopy(rendered)
    result.update(
        taskDefinitionArn=(
            f"arn:aws:ecs:us-west-1:123456789012:task-definition/{rendered['family']}:{revision}"
        ),
        revision=revision,
        status="ACTIVE",
        volumes=[],
        placementConstraints=[],
        compatibilities=["EC2", "FARGATE"],
        requiresAttributes=[{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
        registeredAt="2026-11-26T19:00:00+00:00",
        registeredBy="arn:aws:sts::123456789012:assumed-role/deployer/ansible",
        enableFaultInjection=False,
    )
    for container in result["containerDefinitions"]:
        container.setdefault("cpu", 0)
        container.setdefault("essential", True)
        container.setdefault("environment", [])
        container.setdefault("mountPoints", [])
        container.setdefault("volumesFrom", [])
        container.setdefault("systemControls", [])
        for mapping in container.get("portMappings", []):
            mapping.setdefault("hostPort", mapping["containerPort"])
            mapping.setdefault("protocol", "tcp")
        if "healthCheck" in container:
            container["healthCheck"] = {
                "interval": 30,
                "timeout": 5,
                "retries": 3,
                **container["healthCheck"],
            }
        if "logConfiguration" in container:
            container["logConfiguration"].setdefault("secretOptions", [])
        # AWS returns the variables in its own order.
        container["environment"] = list(reversed(container["environment"]))
    return result


# ---------------------------------------------------------------------------------- placeholders


def test_placeholders_replaced_everywhere_and_source_untouched():
    source = web_definition()
    pristine = copy.deepcopy(source)
    result = substitute_placeholders(source, PLACEHOLDERS)
    assert source == pristine
    container = result["containerDefinitions"][0]
    assert container["image"] == "123456789012.dkr.ecr.us-west-1.amazonaws.com/asset-manager:latest"
    assert result["taskRoleArn"] == "arn:aws:iam::123456789012:role/asset_manager_task"
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/asset_manager/web"
    # Shell variables (uppercase) are the container's own: left alone.
    assert container["command"][2] == "dagster-webserver -h 0.0.0.0 -p ${PORT} -w $HOME/w.yaml"


def test_placeholders_in_keys_braces_and_escape():
    result = substitute_placeholders(
        {"${app}_key": ["$$app", "${app}_web", "$appName", "cost $5"]}, {"app": "am"}
    )
    assert result == {"am_key": ["$app", "am_web", "$appName", "cost $5"]}


def test_unknown_placeholder_fails_naming_it_and_where():
    definition = web_definition()
    definition["containerDefinitions"][0]["image"] = "$account.dkr.ecr.$regoin.amazonaws.com/x"
    with pytest.raises(TaskDefinitionError) as error:
        substitute_placeholders(definition, PLACEHOLDERS)
    assert "$regoin" in str(error.value)
    assert "containerDefinitions[0].image" in str(error.value)
    assert "$account" not in str(error.value).split("known", maxsplit=1)[0]


def test_greedy_name_is_not_a_known_prefix():
    # sed would have produced "asset_manager_web"; a typo'd or unknown longer name must not pass.
    with pytest.raises(TaskDefinitionError, match=r"\$app_web"):
        substitute_placeholders({"a": "/ecs/$app_web"}, PLACEHOLDERS)


def test_invalid_placeholder_name_rejected():
    with pytest.raises(TaskDefinitionError, match="Account"):
        substitute_placeholders({}, {"Account": "1"})


def test_render_never_mutates_its_inputs():
    definition, env = web_definition(), env_json()
    placeholders = dict(PLACEHOLDERS)
    before = copy.deepcopy((definition, env, placeholders))
    rendered = render(definition=definition, env_file=env, placeholders=placeholders, image="i:2")
    assert (definition, env, placeholders) == before
    assert rendered["containerDefinitions"][0]["image"] == "i:2"
    assert rendered is not definition


# ---------------------------------------------------------------------------------- env merge


def test_merge_env_overrides_and_sorts():
    container = {
        "name": "web",
        "environment": [{"name": "PORT", "value": "3000"}, {"name": "DAGSTER_HOME", "value": "/a"}],
        "secrets": [{"name": "Z_SECRET", "valueFrom": "z"}],
    }
    pristine = copy.deepcopy(container)
    merged = merge_env(
        container,
        {
            "environment": [{"name": "DAGSTER_HOME", "value": "/b"}, {"name": "APP", "value": "x"}],
            "secrets": [{"name": "A_SECRET", "valueFrom": "a"}],
        },
    )
    assert container == pristine
    assert merged["environment"] == [
        {"name": "APP", "value": "x"},
        {"name": "DAGSTER_HOME", "value": "/b"},
        {"name": "PORT", "value": "3000"},
    ]
    assert [item["name"] for item in merged["secrets"]] == ["A_SECRET", "Z_SECRET"]


def test_render_merges_env_and_resolves_ssm_names():
    container = render()["containerDefinitions"][0]
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment == {
        "APP_ENV": "prod",
        "DAGSTER_HOME": "/opt/dagster/dagster_home",
        "PORT": "3000",
    }
    secrets = {item["name"]: item["valueFrom"] for item in container["secrets"]}
    assert secrets == {
        "AUTH0_SECRET": "arn:aws:secretsmanager:us-west-1:1:secret:a",
        "DAGSTER_PG_PASSWORD": PREFIX + "/prod/postgres_password",
    }
    assert [item["name"] for item in container["environment"]] == sorted(environment)


def test_env_containers_and_image_containers_limit_targets():
    definition = web_definition()
    definition["containerDefinitions"].append({"name": "sidecar", "image": "fluent:1"})
    rendered = render(
        definition=definition,
        image="app:2",
        image_containers=["asset-manager-web"],
        env_containers=["asset-manager-web"],
    )
    web, sidecar = rendered["containerDefinitions"]
    assert web["image"] == "app:2" and sidecar["image"] == "fluent:1"
    assert "environment" not in sidecar and "secrets" not in sidecar


def test_unknown_target_container_fails():
    with pytest.raises(TaskDefinitionError, match="env_containers.*nope"):
        render(env_containers=["nope"])
    with pytest.raises(TaskDefinitionError, match="image_containers.*nope"):
        render(image="x", image_containers=["nope"])


def test_secret_also_plain_fails_naming_the_variable():
    env = env_json()
    env["environment"].append({"name": "DAGSTER_PG_PASSWORD", "value": "oops"})
    with pytest.raises(TaskDefinitionError) as error:
        render(env_file=env)
    assert "DAGSTER_PG_PASSWORD" in str(error.value)
    assert "AUTH0_SECRET" not in str(error.value)


def test_secret_in_env_file_plain_in_definition_fails():
    env = env_json()
    env["secrets"].append({"name": "PORT", "valueFrom": "port"})
    with pytest.raises(TaskDefinitionError, match="PORT"):
        render(env_file=env)


@pytest.mark.parametrize(
    ("env_file", "message"),
    [
        (["environment"], "must be a dictionary"),
        ({"environment": {"A": "b"}}, "must be a list"),
        ({"environment": ["A=b"]}, r"environment\[0\] must be a dictionary"),
        ({"environment": [{"name": "A"}]}, "name and value must be strings; value is missing"),
        ({"environment": [{"name": "A", "value": 3000}]}, "value is int 3000; quote it"),
        ({"environment": {"A": "b"}}, "environment is not a list"),
        ({"secrets": [{"name": "A", "value": "x"}]}, "unexpected key"),
        ({"secrets": [{"valueFrom": "x"}]}, "non-empty string name"),
        ({"environment": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "more than"),
        ({"enviroment": []}, "unexpected key.*enviroment"),
    ],
)
def test_malformed_env_file_fails_clearly(env_file, message):
    with pytest.raises(TaskDefinitionError, match=message):
        render(env_file=env_file)


@pytest.mark.parametrize(
    "definition",
    [{}, {"containerDefinitions": []}, {"containerDefinitions": None}, {"cpu": "256"}],
)
def test_missing_container_definitions_fails(definition):
    with pytest.raises(TaskDefinitionError, match="containerDefinitions"):
        render(definition=definition)


def test_container_without_name_or_duplicated_fails():
    with pytest.raises(TaskDefinitionError, match="no name"):
        render(definition={"containerDefinitions": [{"image": "x"}]})
    with pytest.raises(TaskDefinitionError, match="more than once"):
        render(definition={"containerDefinitions": [{"name": "a"}, {"name": "a"}]})


def test_fargate_without_awsvpc_fails():
    definition = web_definition()
    del definition["networkMode"]
    with pytest.raises(TaskDefinitionError, match="awsvpc"):
        render(definition=definition)


def test_family_and_roles_override_the_definition():
    rendered = render(family="am-web", execution_role_arn="arn:exec", task_role_arn="arn:task")
    assert rendered["family"] == "am-web"
    assert rendered["executionRoleArn"] == "arn:exec"
    assert rendered["taskRoleArn"] == "arn:task"
    with pytest.raises(TaskDefinitionError, match="family"):
        render(family="bad family!")


def test_unknown_fields_are_reported():
    rendered = render()
    rendered["memroy"] = "1"
    rendered["containerDefinitions"][0]["essentail"] = True
    problems = taskdef.unknown_fields(
        rendered, {"family", "cpu", "containerDefinitions"}, {"name", "image"}
    )
    assert "definition: memroy" in problems
    assert "container 'asset-manager-web': essentail" in problems
    assert "definition: cpu" not in problems


# ---------------------------------------------------------------------------------- input files


def test_read_json_file_parses_and_names_the_file_on_errors(tmp_path):
    good = tmp_path / "env.json"
    good.write_text('{"environment": []}')
    assert read_json_file(str(good), "env_file_path") == {"environment": []}
    bad = tmp_path / "web-task-definition.json"
    bad.write_text('{\n  "cpu": "256",\n  "memory" "512"\n}')
    with pytest.raises(TaskDefinitionError) as error:
        read_json_file(str(bad), "definition_file")
    assert str(error.value) == (
        f"{bad} is not valid JSON: Expecting ':' delimiter at line 3 column 12 (char 29)"
    )


def test_read_json_file_missing_or_directory_names_the_option(tmp_path):
    with pytest.raises(TaskDefinitionError, match=r"definition_file .*/nope\.json does not exist"):
        read_json_file(str(tmp_path / "nope.json"), "definition_file")
    with pytest.raises(TaskDefinitionError, match="env_file_path .* is a directory"):
        read_json_file(str(tmp_path), "env_file_path")


def test_duplicate_json_keys_are_refused():
    with pytest.raises(TaskDefinitionError, match="x.json is not valid JSON: duplicate key 'cpu'"):
        taskdef.parse_json_text('{"cpu": "1", "cpu": "2"}', "x.json")


def test_messages_name_the_source_files():
    definition = web_definition()
    definition["containerDefinitions"][0]["image"] = "$nope"
    with pytest.raises(TaskDefinitionError, match=r"^/app/web\.json: unknown placeholder"):
        render(definition=definition, definition_source="/app/web.json")
    with pytest.raises(TaskDefinitionError, match=r"^/app/env\.json secrets is not a list"):
        render(env_file={"secrets": {}}, env_source="/app/env.json")
    with pytest.raises(TaskDefinitionError, match=r"^/app/web\.json has no containerDefinitions"):
        render(definition={"cpu": "1"}, definition_source="/app/web.json")
    env = env_json()
    env["secrets"].append({"name": "APP_ENV", "valueFrom": "x"})
    with pytest.raises(TaskDefinitionError) as error:
        render(env_file=env, definition_source="/app/web.json", env_source="/app/env.json")
    assert str(error.value).startswith(
        "container 'asset-manager-web' would set APP_ENV both as a plain variable and as a secret "
        "(/app/web.json and /app/env.json together)"
    )


# ------------------------------------------------------------------------ application container


def with_sidecar():
    definition = web_definition()
    definition["containerDefinitions"].append(
        {"name": "log-router", "image": "fluent-bit:1", "environment": []}
    )
    return definition


def test_container_is_the_default_target_of_image_and_env():
    rendered = render(definition=with_sidecar(), container="asset-manager-web", image="app:2")
    web, sidecar = rendered["containerDefinitions"]
    assert web["image"] == "app:2" and sidecar["image"] == "fluent-bit:1"
    assert {e["name"] for e in web["environment"]} >= {"APP_ENV", "DAGSTER_HOME"}
    assert sidecar["environment"] == [] and "secrets" not in sidecar
    # Without container, every container is a target, as before.
    rendered = render(definition=with_sidecar(), image="app:2")
    assert [c["image"] for c in rendered["containerDefinitions"]] == ["app:2", "app:2"]


def test_container_must_exist_after_placeholders():
    definition = web_definition()
    definition["containerDefinitions"][0]["name"] = "$container"
    rendered = render(
        definition=definition,
        placeholders={**PLACEHOLDERS, "container": "am-web"},
        container="am-web",
    )
    assert rendered["containerDefinitions"][0]["name"] == "am-web"
    with pytest.raises(TaskDefinitionError, match=r"container 'web' .* containers are am-web"):
        render(
            definition=definition,
            placeholders={**PLACEHOLDERS, "container": "am-web"},
            container="web",
        )


def test_log_configuration_and_environment_need_the_container():
    with pytest.raises(TaskDefinitionError, match="log_configuration .* set container"):
        render(log_configuration={"logDriver": "awslogs"})
    with pytest.raises(TaskDefinitionError, match="environment .* set container"):
        render(environment={"A": "b"})


def test_log_configuration_replaces_the_containers_only():
    log = taskdef.awslogs_configuration("fulcrum/am/web", "eu-west-1", "web")
    rendered = render(
        definition=with_sidecar(), container="asset-manager-web", log_configuration=log
    )
    web, sidecar = rendered["containerDefinitions"]
    assert web["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "fulcrum/am/web",
            "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": "web",
        },
    }
    assert "logConfiguration" not in sidecar
    with pytest.raises(TaskDefinitionError, match="needs a logDriver"):
        render(container="asset-manager-web", log_configuration={"options": {}})
    with pytest.raises(TaskDefinitionError, match="region"):
        taskdef.awslogs_configuration("g", None)


def test_environment_is_merged_last_and_sorted():
    rendered = render(
        container="asset-manager-web",
        environment={"DAGSTER_HOME": "/last", "DAGSTER_RUN_TASK_DEFINITION": "arn:run:7", "N": 1},
    )
    environment = rendered["containerDefinitions"][0]["environment"]
    assert environment == [
        {"name": "APP_ENV", "value": "prod"},
        {"name": "DAGSTER_HOME", "value": "/last"},  # env.json said /opt/dagster/dagster_home
        {"name": "DAGSTER_RUN_TASK_DEFINITION", "value": "arn:run:7"},
        {"name": "N", "value": "1"},
        {"name": "PORT", "value": "3000"},
    ]


def test_environment_values_are_not_placeholders_and_must_be_scalars():
    rendered = render(container="asset-manager-web", environment={"COST": "$5 and $app"})
    plain = {e["name"]: e["value"] for e in rendered["containerDefinitions"][0]["environment"]}
    assert plain["COST"] == "$5 and $app"
    with pytest.raises(TaskDefinitionError, match="environment: A must have a string value"):
        render(container="asset-manager-web", environment={"A": None})


def test_environment_name_that_is_a_secret_is_refused():
    with pytest.raises(TaskDefinitionError) as error:
        render(container="asset-manager-web", environment={"DAGSTER_PG_PASSWORD": "plain"})
    assert str(error.value).startswith(
        "environment sets DAGSTER_PG_PASSWORD, which container 'asset-manager-web' also has as a "
        "secret"
    )


def test_cpu_and_memory_override_the_definition():
    rendered = render(cpu="2 vCPU", memory=4096)
    assert (rendered["cpu"], rendered["memory"]) == ("2048", "4096")
    assert render(cpu="", memory=None)["cpu"] == "1024"  # empty: the definition's
    with pytest.raises(TaskDefinitionError, match="memory 'much' is not a number of MiB"):
        render(memory="much")
    definition = web_definition()
    definition["cpu"] = "one"
    with pytest.raises(TaskDefinitionError, match="^definition cpu 'one' is not a number"):
        render(definition=definition)


def test_numeric_port_strings_become_ints():
    definition = web_definition()
    definition["containerDefinitions"][0]["portMappings"] = [
        {"containerPort": "$web_port", "hostPort": "${web_port}", "name": "$web_port"},
        {"containerPortRange": "7000-7010"},
    ]
    rendered = render(definition=definition, placeholders={**PLACEHOLDERS, "web_port": 3000})
    assert rendered["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 3000, "hostPort": 3000, "name": "3000"},
        {"containerPortRange": "7000-7010"},
    ]


def test_role_files_render_with_the_roles_placeholders():
    """The role's built-in definitions: plain JSON, $container and $web_port substituted."""
    from pathlib import Path

    files = Path(__file__).resolve().parents[4] / "roles/ecs_taskdefs/files"
    placeholders = {**PLACEHOLDERS, "container": "am-web", "web_port": "3000"}
    web = render(
        definition=read_json_file(str(files / "web-task-definition.json"), "definition_file"),
        env_file=read_json_file(str(files / "env.json"), "env_file_path"),
        placeholders=placeholders,
        container="am-web",
        cpu="1024",
        memory="2048",
    )
    container = web["containerDefinitions"][0]
    assert container["portMappings"] == [{"containerPort": 3000, "protocol": "tcp"}]
    assert container["command"][3:5] == ["-p", "3000"]
    for component in ("daemon", "run"):
        path = files / f"{component}-task-definition.json"
        rendered = render(
            definition=read_json_file(str(path), "definition_file"),
            placeholders=placeholders,
            container="am-web",
            cpu="512",
            memory="1024",
        )
        assert rendered["containerDefinitions"][0]["name"] == "am-web"


# ---------------------------------------------------------------------------------- normal form


def test_described_revision_with_aws_defaults_equals_rendered_input():
    rendered = render()
    assert normalise_task_definition(described(rendered)) == normalise_task_definition(rendered)
    assert (
        diff_task_definitions(
            normalise_task_definition(described(rendered)), normalise_task_definition(rendered)
        )
        == []
    )


def test_normal_form_fills_aws_defaults_and_strips_read_only_fields():
    normal = normalise_task_definition(described(render(), revision=4))
    for key in (
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "enableFaultInjection",
    ):
        assert key not in normal
    container = normal["containerDefinitions"][0]
    assert container["essential"] is True and container["cpu"] == 0
    assert container["portMappings"] == [
        {"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}
    ]
    assert container["mountPoints"] == [] and container["volumesFrom"] == []
    assert "systemControls" not in container
    assert container["healthCheck"]["interval"] == 30
    assert normal["volumes"] == [] and normal["placementConstraints"] == []


def test_bridge_mode_host_port_defaults_to_dynamic():
    definition = {"containerDefinitions": [{"name": "a", "portMappings": [{"containerPort": 80}]}]}
    normal = normalise_task_definition(definition)
    assert normal["networkMode"] == "bridge"
    assert normal["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 0


def test_register_fields_filter_drops_unknown_read_only_fields():
    rendered = render()
    revision = described(rendered)
    revision["someFieldAwsAddsNextYear"] = "x"
    fields = set(rendered) | {"volumes", "placementConstraints"}
    assert normalise_task_definition(revision, fields) == normalise_task_definition(rendered)
    assert normalise_task_definition(revision) != normalise_task_definition(rendered)


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [("cpu", "2048", "cpu"), ("memory", "4096", "memory"), ("networkMode", "host", "networkMode")],
)
def test_task_level_difference_detected(key, value, path):
    rendered = render()
    changed = copy.deepcopy(rendered)
    changed[key] = value
    before = normalise_task_definition(described(rendered))
    after = normalise_task_definition(changed)
    assert before != after
    assert path in diff_task_definitions(before, after)


def test_image_and_env_differences_name_the_container():
    rendered = render()
    before = normalise_task_definition(described(rendered))
    after = normalise_task_definition(render(image="app:2"))
    assert diff_task_definitions(before, after) == ["containerDefinitions[asset-manager-web].image"]
    env = env_json()
    env["environment"][1]["value"] = "staging"
    after = normalise_task_definition(render(env_file=env))
    assert diff_task_definitions(before, after) == [
        "containerDefinitions[asset-manager-web].environment[APP_ENV].value"
    ]


def test_order_insensitive():
    rendered = render()
    rendered["containerDefinitions"].append({"name": "sidecar", "image": "s", "essential": False})
    shuffled = copy.deepcopy(rendered)
    shuffled["containerDefinitions"].reverse()
    shuffled["requiresCompatibilities"] = ["FARGATE", "EC2"]
    rendered["requiresCompatibilities"] = ["EC2", "FARGATE"]
    for container in shuffled["containerDefinitions"]:
        for key in ("environment", "secrets"):
            if key in container:
                container[key].reverse()
    assert normalise_task_definition(shuffled) == normalise_task_definition(rendered)


def test_units_and_types_canonical():
    rendered = render()
    variant = copy.deepcopy(rendered)
    variant["cpu"], variant["memory"] = 1024, "2 GB"
    assert normalise_task_definition(variant) == normalise_task_definition(rendered)
    variant["cpu"] = "1 vCPU"
    assert normalise_task_definition(variant)["cpu"] == "1024"
    variant["cpu"] = "0.5 vcpu"
    assert normalise_task_definition(variant)["cpu"] == "512"


def test_empty_and_absent_compare_equal_but_values_do_not():
    rendered = render()
    variant = copy.deepcopy(rendered)
    variant["containerDefinitions"][0]["dockerLabels"] = {}
    variant["containerDefinitions"][0]["secrets"].append({"name": "EMPTY_OK", "valueFrom": "x"})
    base = normalise_task_definition(rendered)
    assert normalise_task_definition(variant) != base
    variant["containerDefinitions"][0]["secrets"].pop()
    assert normalise_task_definition(variant) == base
    # An empty string value is a value, not an absence.
    variant["containerDefinitions"][0]["environment"].append({"name": "E", "value": ""})
    assert normalise_task_definition(variant) != base


def test_normalise_does_not_mutate():
    revision = described(render())
    pristine = copy.deepcopy(revision)
    normalise_task_definition(revision)
    assert revision == pristine


def test_arn_helpers():
    arn = "arn:aws:ecs:us-west-1:123456789012:task-definition/asset_manager-web-task:12"
    assert taskdef.parse_task_definition_arn(arn) == ("asset_manager-web-task", 12)
    assert taskdef.parse_task_definition_arn("nope") == (None, None)
    assert taskdef.next_revision_arn(arn, "asset_manager-web-task", 13).endswith("web-task:13")
    assert taskdef.task_definition_arn("aws", "eu-west-1", "1", "f", 1) == (
        "arn:aws:ecs:eu-west-1:1:task-definition/f:1"
    )


# ----------------------------------------------------------------------- Fargate and secrets


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [(256, 512), (256, 2048), (512, 4096), (1024, 8192), (2048, 16384), (4096, 30720),
     (8192, 61440), (8192, 20480), (16384, 122880), (16384, 40960)],
)  # fmt: skip
def test_fargate_sizes_aws_documents_are_accepted(cpu, memory):
    assert taskdef.fargate_size_problem(str(cpu), str(memory)) is None


@pytest.mark.parametrize(
    ("cpu", "memory", "message"),
    [
        ("256", "16384", "memory 16384 does not go with cpu 256 on Fargate: cpu 256 allows "
                         "memory 512, 1024, 2048"),
        ("512", "512", "cpu 512 allows memory 1024 to 4096 in steps of 1024"),
        ("8192", "17408", "cpu 8192 allows memory 16384 to 61440 in steps of 4096"),
        ("3000", "4096", "cpu 3000 is not a Fargate task size: cpu must be one of 256, 512, 1024"),
        (None, "2048", "Fargate needs both task cpu and memory"),
    ],
)  # fmt: skip
def test_fargate_sizes_aws_has_no_configuration_for_are_refused(cpu, memory, message):
    assert message in taskdef.fargate_size_problem(cpu, memory)


def test_a_refused_size_names_the_callers_variables():
    with pytest.raises(
        TaskDefinitionError,
        match="ecs_taskdefs_web_memory 512 does not go with ecs_taskdefs_web_cpu 2048",
    ):
        render(
            cpu="2048",
            memory="512",
            labels={"cpu": "ecs_taskdefs_web_cpu", "memory": "ecs_taskdefs_web_memory"},
        )
    with pytest.raises(
        TaskDefinitionError, match="ecs_taskdefs_web_cpu 'abc' is not a number of CPU units"
    ):
        render(cpu="abc", labels={"cpu": "ecs_taskdefs_web_cpu"})


def test_secrets_must_name_a_known_parameter_or_an_arn():
    # env.json's secrets: /$env/postgres_password (a name) and a Secrets Manager ARN (kept).
    rendered = render(known_parameters=["prod/postgres_password"], cpu="1024", memory="2048")
    assert rendered["containerDefinitions"][0]["secrets"]
    with pytest.raises(TaskDefinitionError) as refused:
        render(
            known_parameters=["OTHER"], labels={"known_parameters": "ssm_params_extra_parameters"}
        )
    message = str(refused.value)
    assert (
        "takes secret(s) from /prod/postgres_password, which is not a parameter of the stack"
        in message
    )
    assert "(ssm_params_extra_parameters)" in message and "arn:aws:secretsmanager" not in message
    # Not given: not checked.
    assert render(cpu="1024", memory="2048")


def test_defaults_of_the_read_only_root_and_its_volumes_compare_equal_stated_or_not():
    """AWS may state readonlyRootFilesystem false, a mount point's readOnly false, a volume's empty
    host and configuredAtLaunch false; registered without them, the definition is the same."""
    bare = {
        "family": "f",
        "volumes": [{"name": "writable-tmp"}],
        "containerDefinitions": [
            {
                "name": "c",
                "image": "i",
                "mountPoints": [{"sourceVolume": "writable-tmp", "containerPath": "/tmp"}],
            }
        ],
    }
    stated = copy.deepcopy(bare)
    stated["volumes"][0].update(host={}, configuredAtLaunch=False)
    stated["containerDefinitions"][0]["readonlyRootFilesystem"] = False
    stated["containerDefinitions"][0]["mountPoints"][0]["readOnly"] = False
    assert normalise_task_definition(stated) == normalise_task_definition(bare)
    # The values that are not the defaults still count.
    for change in (
        lambda d: d["containerDefinitions"][0].update(readonlyRootFilesystem=True),
        lambda d: d["containerDefinitions"][0]["mountPoints"][0].update(readOnly=True),
        lambda d: d["volumes"][0].update(configuredAtLaunch=True),
    ):
        changed = copy.deepcopy(bare)
        change(changed)
        assert diff_task_definitions(
            normalise_task_definition(bare), normalise_task_definition(changed)
        )


def test_writable_volume_names_are_ones_ecs_accepts():
    assert taskdef.writable_volume_name("/opt/dagster/dagster_home/.logs_queue") == (
        "writable-opt-dagster-dagster_home--logs_queue"
    )
    long_path = "/" + "/".join(["directory"] * 40)
    name = taskdef.writable_volume_name(long_path)
    assert len(name) == 255 and name != taskdef.writable_volume_name(long_path + "x")
    assert all(c.isalnum() or c in "-_" for c in name)


def test_a_volume_name_the_definition_uses_already_is_refused():
    definition = {
        "family": "f",
        "volumes": [{"name": "writable-tmp", "host": {"sourcePath": "/var/tmp"}}],
        "containerDefinitions": [{"name": "c", "image": "i"}],
    }
    with pytest.raises(TaskDefinitionError, match="'writable-tmp', is already a volume"):
        render_task_definition(
            definition, "f", container="c", readonly_root_filesystem=True, writable_paths=["/tmp"]
        )


def test_writable_paths_are_ignored_without_a_read_only_root_and_never_mutate_the_input():
    definition = {"family": "f", "containerDefinitions": [{"name": "c", "image": "i"}]}
    source = copy.deepcopy(definition)
    rendered = render_task_definition(
        definition, "f", container="c", readonly_root_filesystem=None, writable_paths=["/tmp"]
    )
    assert "volumes" not in rendered and "mountPoints" not in rendered["containerDefinitions"][0]
    render_task_definition(
        definition, "f", container="c", readonly_root_filesystem=True, writable_paths=["/tmp"]
    )
    assert definition == source
