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
    assert "$account" not in str(error.value).split("known")[0]


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
        ({"environment": [{"name": "A"}]}, "value must be a string"),
        ({"environment": [{"name": "A", "value": 3000}]}, "got int 3000"),
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
