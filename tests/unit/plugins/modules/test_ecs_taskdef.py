"""Unit tests of ecs_taskdef through its real main(), with botocore's Stubber and AWS-shaped
responses (tests/unit/plugins/modules/utils.py runs the module)."""

from __future__ import annotations

import copy
import datetime
import json
from unittest import mock

import botocore.exceptions
import pytest
from botocore.stub import ANY

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.taskdef import (
    normalise_task_definition,
)
from ansible_collections.leverslabs.asset_manager.plugins.modules import ecs_taskdef
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    run_module,
    stubbed_client,
)

FAMILY = "asset_manager-web-task"
ARN = "arn:aws:ecs:us-west-1:123456789012:task-definition/" + FAMILY
IMAGE = "123456789012.dkr.ecr.us-west-1.amazonaws.com/asset-manager:latest"
SSM = "arn:aws:ssm:us-west-1:123456789012:parameter/asset-manager"


def app_definition():
    """web-task-definition.json, placeholders and all."""
    return {
        "family": "ignored-family-from-the-json",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "executionRoleArn": "arn:aws:iam::$account:role/ecsTaskExecutionRole",
        "containerDefinitions": [
            {
                "name": "asset-manager-web",
                "image": "placeholder",
                "portMappings": [{"containerPort": 3000}],
                "environment": [{"name": "PORT", "value": "3000"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/$app/web", "awslogs-region": "us-west-1"},
                },
                "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:3000/server_info"]},
            }
        ],
    }


def params(**overrides):
    result = {
        "family": FAMILY,
        "definition": app_definition(),
        "placeholders": {"account": "123456789012", "app": "asset_manager"},
        "image": IMAGE,
        "env_file": {
            "environment": [{"name": "DAGSTER_HOME", "value": "/opt/dagster/dagster_home"}],
            "secrets": [{"name": "DAGSTER_PG_PASSWORD", "valueFrom": "prod/postgres_password"}],
        },
        "ssm_parameter_arn_prefix": SSM,
    }
    result.update(overrides)
    return result


def aws_description(revision=3, cpu="1024", image=IMAGE, ours=True):
    """A DescribeTaskDefinition response as AWS returns it for what params() renders.

    AWS adds defaults (cpu 0, essential, hostPort, protocol, health check timings, empty lists,
    secretOptions, systemControls), read-only fields, and orders variables its own way. ``ours``:
    registered by the module, so tagged with the digest of its content; otherwise out of band.
    """
    response = _aws_description(revision, cpu)
    response["taskDefinition"]["containerDefinitions"][0]["image"] = image
    if ours:
        fields, _container_fields = ecs_taskdef.register_fields()
        normal = normalise_task_definition(response["taskDefinition"], fields)
        response["tags"].append(
            {"key": ecs_taskdef.CONTENT_TAG, "value": ecs_taskdef.content_digest(normal)}
        )
    return response


def _aws_description(revision, cpu):
    return {
        "taskDefinition": {
            "taskDefinitionArn": f"{ARN}:{revision}",
            "containerDefinitions": [
                {
                    "name": "asset-manager-web",
                    "image": IMAGE,
                    "cpu": 0,
                    "portMappings": [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
                    "essential": True,
                    "environment": [
                        {"name": "PORT", "value": "3000"},
                        {"name": "DAGSTER_HOME", "value": "/opt/dagster/dagster_home"},
                    ],
                    "mountPoints": [],
                    "volumesFrom": [],
                    "secrets": [
                        {
                            "name": "DAGSTER_PG_PASSWORD",
                            "valueFrom": SSM + "/prod/postgres_password",
                        }
                    ],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": "/ecs/asset_manager/web",
                            "awslogs-region": "us-west-1",
                        },
                        "secretOptions": [],
                    },
                    "healthCheck": {
                        "command": ["CMD-SHELL", "curl -f localhost:3000/server_info"],
                        "interval": 30,
                        "timeout": 5,
                        "retries": 3,
                    },
                    "systemControls": [],
                }
            ],
            "family": FAMILY,
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "networkMode": "awsvpc",
            "revision": revision,
            "volumes": [],
            "status": "ACTIVE",
            "requiresAttributes": [
                {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
                {"name": "ecs.capability.execution-role-awslogs"},
                {"name": "ecs.capability.secrets.ssm.environment-variables"},
                {"name": "ecs.capability.container-health-check"},
                {"name": "ecs.capability.task-eni"},
            ],
            "placementConstraints": [],
            "compatibilities": ["EC2", "FARGATE"],
            "requiresCompatibilities": ["FARGATE"],
            "cpu": cpu,
            "memory": "2048",
            "registeredAt": datetime.datetime(2026, 11, 26, 19, 0, tzinfo=datetime.UTC),
            "registeredBy": "arn:aws:sts::123456789012:assumed-role/deployer/ansible",
            "enableFaultInjection": False,
        },
        "tags": [{"key": "app", "value": "asset_manager"}],
    }


@pytest.fixture
def ecs():
    """A real ECS client under Stubber; run_module adds the module's retry wrapper."""
    with stubbed_client("ecs") as client:
        yield client, client.stubber


def expect_latest(stubber, revision=3, cpu="1024", **description):
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": [f"{ARN}:{revision}"]},
        {"familyPrefix": FAMILY, "status": "ACTIVE", "sort": "DESC", "maxResults": 1},
    )
    expect_describe(stubber, revision, cpu, **description)


def expect_describe(stubber, revision=3, cpu="1024", **description):
    stubber.add_response(
        "describe_task_definition",
        aws_description(revision, cpu, **description),
        {"taskDefinition": f"{ARN}:{revision}", "include": ["TAGS"]},
    )


def content_tag(result):
    return result["tags"][ecs_taskdef.CONTENT_TAG]


def refused_by_argument_spec(args, capsys):
    """ansible-core's own argument checks fail before main() has a module to patch: read stdout."""
    with pytest.raises(SystemExit):
        run_module(ecs_taskdef, args)
    return json.loads(capsys.readouterr().out)["msg"]


def fail(args, client=None, **kwargs):
    """The result of fail_json; without a client, any AWS client request fails the test."""
    with pytest.raises(Failed) as failed:
        run_module(ecs_taskdef, args, client, **kwargs)
    return failed.value.result


def test_unchanged_definition_registers_nothing(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    result = run_module(ecs_taskdef, params(), client)
    assert result["changed"] is False
    assert result["changes"] == []
    assert (result["revision"], result["arn"]) == (3, f"{ARN}:3")
    assert result["tags"] == {"app": "asset_manager", ecs_taskdef.CONTENT_TAG: content_tag(result)}
    assert result["drift"] == {} and result["reused"] is False
    # The normal form carries no read-only field and no secret value, only references.
    assert "registeredAt" not in result["task_definition"]
    assert result["task_definition"]["family"] == FAMILY


def test_cpu_change_registers_a_new_revision_keeping_tags(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    definition = app_definition()
    definition["cpu"] = "512"
    registered = aws_description(4, cpu="512")["taskDefinition"]
    stubber.add_response(
        "register_task_definition",
        {"taskDefinition": registered, "tags": [{"key": "app", "value": "asset_manager"}]},
        {
            "family": FAMILY,
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "512",
            "memory": "2048",
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "containerDefinitions": ANY,
            "tags": [
                {"key": "app", "value": "asset_manager"},
                {"key": ecs_taskdef.CONTENT_TAG, "value": ANY},
            ],
        },
    )
    result = run_module(ecs_taskdef, params(definition=definition), client, diff=True)
    assert result["changed"] is True
    assert result["changes"] == ["cpu"]
    assert (result["revision"], result["arn"]) == (4, f"{ARN}:4")
    assert result["diff"]["before"]["cpu"] == "1024"
    assert result["diff"]["after"]["cpu"] == "512"


def test_check_mode_predicts_the_revision_after_deregistered_ones(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": [f"{ARN}:5"]},
        {"familyPrefix": FAMILY, "status": "INACTIVE", "sort": "DESC", "maxResults": 1},
    )
    result = run_module(ecs_taskdef, params(image="app:2"), client, check_mode=True)
    assert result["changed"] is True
    assert result["changes"] == ["containerDefinitions[asset-manager-web].image"]
    assert (result["revision"], result["arn"]) == (6, f"{ARN}:6")


def test_tags_only_change_retags_the_revision_in_place(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    stubber.add_response("untag_resource", {}, {"resourceArn": f"{ARN}:3", "tagKeys": ["app"]})
    stubber.add_response(
        "tag_resource", {}, {"resourceArn": f"{ARN}:3", "tags": [{"key": "team", "value": "data"}]}
    )
    result = run_module(ecs_taskdef, params(tags={"team": "data"}), client)
    assert result["changed"] is True
    assert result["changes"] == ["tags"]
    assert result["revision"] == 3
    # The content tag is the module's own: O(tags) with purge_tags never removes it.
    assert result["tags"] == {"team": "data", ecs_taskdef.CONTENT_TAG: content_tag(result)}


def test_new_family_registers_revision_one(ecs):
    client, stubber = ecs
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": []},
        {"familyPrefix": FAMILY, "status": "ACTIVE", "sort": "DESC", "maxResults": 1},
    )
    stubber.add_response(
        "register_task_definition",
        {"taskDefinition": aws_description(1)["taskDefinition"]},
        ANY_REGISTER,
    )
    result = run_module(ecs_taskdef, params(), client)
    assert result["changed"] is True and result["revision"] == 1


ANY_REGISTER = {
    key: ANY
    for key in (
        "family",
        "networkMode",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "executionRoleArn",
        "containerDefinitions",
        "tags",
    )
}


def test_unknown_field_fails_before_any_aws_call(ecs):
    client, _stubber = ecs  # no response queued: any request would fail the test
    definition = app_definition()
    definition["containerDefinitions"][0]["essentail"] = True
    msg = fail(params(definition=definition), client)["msg"]
    assert "essentail" in msg
    assert "Nothing was written to AWS" in msg


def test_missing_container_definitions_fails_before_a_client_exists():
    definition = app_definition()
    del definition["containerDefinitions"]
    msg = fail(params(definition=definition))["msg"]
    assert "containerDefinitions" in msg
    assert "Nothing was written to AWS" in msg


def test_source_definition_is_not_modified(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    args = params()
    pristine = copy.deepcopy(args)
    run_module(ecs_taskdef, args, client)
    assert args == pristine


def test_absent_deregisters_every_active_revision(ecs):
    client, stubber = ecs
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": [f"{ARN}:2", f"{ARN}:3"]},
        {"familyPrefix": FAMILY, "status": "ACTIVE", "sort": "DESC"},
    )
    for revision in (3, 2):
        stubber.add_response(
            "deregister_task_definition",
            {"taskDefinition": aws_description(revision)["taskDefinition"]},
            {"taskDefinition": f"{ARN}:{revision}"},
        )
    result = run_module(ecs_taskdef, {"family": FAMILY, "state": "absent"}, client)
    assert result["changed"] is True
    assert sorted(result["deregistered"]) == [f"{ARN}:2", f"{ARN}:3"]


# ---------------------------------------------------------------------------------- input files


def write_json(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return str(path)


def file_params(tmp_path, definition=None, env=None, **overrides):
    """params() with the definition and env.json given as files instead of dictionaries."""
    args = params(**overrides)
    args["definition_file"] = write_json(
        tmp_path / "web-task-definition.json",
        args.pop("definition") if definition is None else definition,
    )
    args["env_file_path"] = write_json(
        tmp_path / "env.json", args.pop("env_file") if env is None else env
    )
    args.pop("definition", None)
    args.pop("env_file", None)
    return args


def test_definition_and_env_files_render_like_the_dictionaries(ecs, tmp_path):
    client, stubber = ecs
    expect_latest(stubber)
    result = run_module(ecs_taskdef, file_params(tmp_path), client)
    assert result["changed"] is False and result["changes"] == []
    assert result["revision"] == 3


@pytest.mark.parametrize("name", ["web-task-definition.json", "env.json"])
def test_bad_json_file_names_the_file_and_the_position(tmp_path, name):
    args = file_params(tmp_path)
    (tmp_path / name).write_text('{\n  "containerDefinitions": [\n')
    msg = fail(args)["msg"]
    assert f"{tmp_path / name} is not valid JSON" in msg
    assert "line 3 column 1" in msg
    assert "Nothing was written to AWS" in msg


def test_duplicate_key_in_a_json_file_is_refused(tmp_path):
    args = file_params(tmp_path)
    (tmp_path / "env.json").write_text('{"environment": [], "environment": []}')
    msg = fail(args)["msg"]
    assert f"{tmp_path / 'env.json'} is not valid JSON: duplicate key 'environment'" in msg


def test_missing_file_names_the_option_and_the_file(tmp_path):
    args = file_params(tmp_path)
    args["env_file_path"] = str(tmp_path / "nope.json")
    msg = fail(args)["msg"]
    assert f"env_file_path {tmp_path / 'nope.json'} does not exist" in msg
    assert "Nothing was written to AWS" in msg


def test_messages_about_a_file_name_the_file(tmp_path):
    env = {"environment": [{"name": "PORT", "value": 5432}]}
    msg = fail(file_params(tmp_path, env=env))["msg"]
    assert f"{tmp_path / 'env.json'} environment[0] (PORT): name and value must be strings" in msg
    definition = {k: v for k, v in app_definition().items() if k != "containerDefinitions"}
    msg = fail(file_params(tmp_path, definition=definition))["msg"]
    assert f"{tmp_path / 'web-task-definition.json'} has no containerDefinitions" in msg


def test_definition_and_definition_file_are_mutually_exclusive(tmp_path, capsys):
    args = file_params(tmp_path)
    args["definition"] = app_definition()
    assert "mutually exclusive: definition|definition_file" in refused_by_argument_spec(
        args, capsys
    )


# ---------------------------------------------------------------------------------- validate_only


def test_validate_only_makes_no_aws_call_and_returns_the_rendering(tmp_path):
    # No client: run_module fails the test if the module asks for one.
    result = run_module(ecs_taskdef, {**file_params(tmp_path), "validate_only": True})
    assert result["changed"] is False
    container = result["task_definition"]["containerDefinitions"][0]
    assert container["image"] == IMAGE
    assert container["secrets"] == [
        {"name": "DAGSTER_PG_PASSWORD", "valueFrom": SSM + "/prod/postgres_password"}
    ]
    assert result["task_definition"]["family"] == FAMILY


def test_validate_only_in_check_mode_also_makes_no_aws_call():
    result = run_module(ecs_taskdef, {**params(), "validate_only": True}, check_mode=True)
    assert result["changed"] is False


def test_validate_only_refuses_bad_input_and_unknown_fields():
    definition = app_definition()
    definition["containerDefinitions"][0]["essentail"] = True
    msg = fail({**params(definition=definition), "validate_only": True})["msg"]
    assert "essentail" in msg and "Nothing was written to AWS" in msg
    env = {"environment": [{"name": "A", "value": "$regoin"}]}
    msg = fail({**params(env_file=env), "validate_only": True})["msg"]
    assert "$regoin" in msg


def test_validate_only_is_for_state_present():
    msg = fail({"family": FAMILY, "state": "absent", "validate_only": True})["msg"]
    assert "validate_only" in msg


# ------------------------------------------------------------------------ application container


def with_sidecar():
    definition = app_definition()
    definition["containerDefinitions"].append({"name": "log-router", "image": "fluent-bit:1"})
    return definition


def rendered(**overrides):
    """The task definition validate_only renders, by container name."""
    result = run_module(ecs_taskdef, {**params(**overrides), "validate_only": True})
    return result["task_definition"], {
        c["name"]: c for c in result["task_definition"]["containerDefinitions"]
    }


def test_container_gets_image_env_log_and_environment_sidecars_are_left_alone():
    _definition, containers = rendered(
        definition=with_sidecar(),
        container="asset-manager-web",
        log_group="fulcrum/asset-manager/web",
        log_stream_prefix="web",
        environment={"DAGSTER_RUN_TASK_DEFINITION": f"{ARN}:7"},
    )
    web, sidecar = containers["asset-manager-web"], containers["log-router"]
    assert web["image"] == IMAGE and sidecar["image"] == "fluent-bit:1"
    # Region from the module's region option (the connection's), not from the definition.
    assert web["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "fulcrum/asset-manager/web",
            "awslogs-region": "us-west-1",
            "awslogs-stream-prefix": "web",
        },
    }
    plain = {e["name"]: e["value"] for e in web["environment"]}
    assert plain["DAGSTER_RUN_TASK_DEFINITION"] == f"{ARN}:7"
    assert plain["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    assert sidecar["environment"] == [] and "secrets" not in sidecar
    assert "logConfiguration" not in sidecar


def test_log_configuration_option_replaces_the_definitions():
    log = {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}}
    _definition, containers = rendered(container="asset-manager-web", log_configuration=log)
    assert containers["asset-manager-web"]["logConfiguration"] == log


def test_log_group_and_log_configuration_are_mutually_exclusive(capsys):
    args = params(
        container="asset-manager-web", log_group="g", log_configuration={"logDriver": "awslogs"}
    )
    msg = refused_by_argument_spec({**args, "validate_only": True}, capsys)
    assert "mutually exclusive: log_configuration|log_group" in msg


def test_environment_replaces_an_env_json_entry_of_the_same_name():
    _definition, containers = rendered(
        container="asset-manager-web", environment={"DAGSTER_HOME": "/elsewhere", "RETRIES": 3}
    )
    plain = {e["name"]: e["value"] for e in containers["asset-manager-web"]["environment"]}
    assert plain["DAGSTER_HOME"] == "/elsewhere"
    assert plain["RETRIES"] == "3"


def test_environment_name_that_is_a_secret_is_refused():
    args = params(container="asset-manager-web", environment={"DAGSTER_PG_PASSWORD": "x"})
    msg = fail({**args, "validate_only": True})["msg"]
    assert "environment sets DAGSTER_PG_PASSWORD" in msg
    assert "secret" in msg and "Nothing was written to AWS" in msg


def test_container_must_be_in_the_definition():
    msg = fail({**params(container="asset-manager-wbe"), "validate_only": True})["msg"]
    assert "container 'asset-manager-wbe'" in msg
    assert "asset-manager-web" in msg.split("its containers are")[1]


def test_cpu_and_memory_options_override_the_definition(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    registered = aws_description(4, cpu="2048")["taskDefinition"]
    stubber.add_response(
        "register_task_definition",
        {"taskDefinition": registered},
        {**ANY_REGISTER, "cpu": "2048", "memory": "4096"},
    )
    result = run_module(ecs_taskdef, params(cpu="2 vCPU", memory=4096), client)
    assert result["changed"] is True
    assert result["changes"] == ["cpu", "memory"]


def test_bad_cpu_is_refused():
    msg = fail({**params(cpu="lots"), "validate_only": True})["msg"]
    assert "cpu 'lots' is not a number of CPU units" in msg


def test_port_placeholder_becomes_a_number():
    definition = app_definition()
    definition["containerDefinitions"][0]["portMappings"] = [{"containerPort": "$web_port"}]
    _definition, containers = rendered(
        definition=definition, placeholders={"account": "1", "app": "a", "web_port": 3000}
    )
    assert containers["asset-manager-web"]["portMappings"] == [
        {"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}
    ]


EVIL = "attacker.example/evil:2"


def test_latest_revision_registered_out_of_band_is_drift_and_replaced(ecs):
    client, stubber = ecs
    expect_latest(stubber, revision=8, image=EVIL, ours=False)
    stubber.add_response(
        "register_task_definition",
        {"taskDefinition": aws_description(9)["taskDefinition"]},
        ANY_REGISTER,
    )
    # Even a reuse candidate equal to the rendered definition is not enough: the latest revision
    # must be the collection's again, for anyone who follows the family's latest revision.
    result = run_module(ecs_taskdef, params(reuse=[f"{ARN}:3"]), client)
    assert result["changed"] is True and result["revision"] == 9
    assert result["drift"] == {"arn": f"{ARN}:8", "images": {"asset-manager-web": EVIL}}
    assert result["reused"] is False


def test_latest_revision_equal_to_the_rendering_is_kept_whoever_registered_it(ecs):
    client, stubber = ecs
    expect_latest(stubber, ours=False)  # registered before the content tag existed
    stubber.add_response(
        "tag_resource",
        {},
        {"resourceArn": f"{ARN}:3", "tags": [{"key": ecs_taskdef.CONTENT_TAG, "value": ANY}]},
    )
    result = run_module(ecs_taskdef, params(), client)
    assert result["changes"] == ["tags"] and result["revision"] == 3 and result["drift"] == {}


def test_a_reuse_candidate_equal_to_the_rendering_is_kept(ecs):
    # After a rollback the service runs revision 3 (image A) while 4 (image B) is the latest.
    client, stubber = ecs
    expect_latest(stubber, revision=4, image="repo@sha256:b")
    expect_describe(stubber, revision=3, image="repo@sha256:a")
    result = run_module(ecs_taskdef, params(image="repo@sha256:a", reuse=[f"{ARN}:3"]), client)
    assert result["changed"] is False and result["reused"] is True
    assert (result["revision"], result["arn"]) == (3, f"{ARN}:3")


def test_a_reuse_candidate_that_differs_is_not_kept(ecs):
    client, stubber = ecs
    expect_latest(stubber, revision=4, image="repo@sha256:b")
    expect_describe(stubber, revision=3, image="repo@sha256:a")
    stubber.add_response(
        "register_task_definition",
        {"taskDefinition": aws_description(5)["taskDefinition"]},
        ANY_REGISTER,
    )
    result = run_module(ecs_taskdef, params(image="repo@sha256:c", reuse=[f"{ARN}:3"]), client)
    assert result["changed"] is True and result["reused"] is False and result["revision"] == 5


# --- a register whose answer is lost -----------------------------------------------------------


def test_failure_kinds():
    def error(code, status):
        return botocore.exceptions.ClientError(
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Register"
        )

    assert ecs_taskdef.failure_kind(error("ThrottlingException", 400)) == "throttled"
    assert ecs_taskdef.failure_kind(error("ServiceUnavailable", 503)) == "ambiguous"
    assert (
        ecs_taskdef.failure_kind(botocore.exceptions.EndpointConnectionError(endpoint_url="x"))
        == "ambiguous"
    )
    assert ecs_taskdef.failure_kind(error("ClientException", 400)) is None


def test_a_lost_register_answer_adopts_the_revision_it_registered(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    # The register reached ECS, but its answer was lost: a 503, once the revision existed.
    stubber.add_client_error("register_task_definition", "ServiceUnavailable", http_status_code=503)
    expect_latest(stubber, revision=4, cpu="512")
    with mock.patch.object(ecs_taskdef.time, "sleep") as sleep:
        result = run_module(ecs_taskdef, params(cpu="512"), client)
    assert sleep.call_count == 0
    assert result["changed"] is True and result["revision"] == 4
    assert result["arn"] == f"{ARN}:4"


def test_a_throttled_register_is_sent_again_and_registers_once(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    stubber.add_client_error(
        "register_task_definition", "ThrottlingException", http_status_code=400
    )
    registered = aws_description(4, cpu="512")
    stubber.add_response("register_task_definition", registered, ANY_REGISTER)
    with mock.patch.object(ecs_taskdef.time, "sleep") as sleep:
        result = run_module(ecs_taskdef, params(cpu="512"), client)
    assert sleep.call_count == 1 and result["revision"] == 4


def test_a_lost_answer_without_a_new_revision_registers_again(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    stubber.add_client_error("register_task_definition", "InternalFailure", http_status_code=500)
    expect_latest(stubber)  # still revision 3: the request never got through
    stubber.add_response("register_task_definition", aws_description(4, cpu="512"), ANY_REGISTER)
    with mock.patch.object(ecs_taskdef.time, "sleep"):
        result = run_module(ecs_taskdef, params(cpu="512"), client)
    assert result["revision"] == 4


def test_a_refused_register_fails_at_once(ecs):
    client, stubber = ecs
    expect_latest(stubber)
    stubber.add_client_error("register_task_definition", "ClientException", "bad image")
    with pytest.raises(Failed, match="Failed to register a new revision"):
        run_module(ecs_taskdef, params(cpu="512"), client)


# ------------------------------------------------- read-only root filesystem and log delivery

DAGSTER_HOME = "/opt/dagster/dagster_home"
HARDENED = {
    "container": "asset-manager-web",
    "log_group": "fulcrum/asset-manager/web",
    "log_stream_prefix": "web",
    "log_mode": "non-blocking",
    "log_max_buffer_size": "25m",
    "readonly_root_filesystem": True,
    "writable_paths": ["$DAGSTER_HOME/storage", "${DAGSTER_HOME}/logs/", "/tmp", "/tmp"],
    "variables": {
        "log_mode": "ecs_taskdefs_log_mode",
        "log_max_buffer_size": "ecs_taskdefs_log_max_buffer_size",
        "writable_paths": "ecs_taskdefs_writable_paths",
    },
}
WRITABLE = {
    f"{DAGSTER_HOME}/logs": "writable-opt-dagster-dagster_home-logs",
    f"{DAGSTER_HOME}/storage": "writable-opt-dagster-dagster_home-storage",
    "/tmp": "writable-tmp",
}


def test_read_only_root_gets_a_task_local_volume_per_writable_path_sidecars_left_alone():
    definition, containers = rendered(definition=with_sidecar(), **HARDENED)
    web, sidecar = containers["asset-manager-web"], containers["log-router"]
    assert web["readonlyRootFilesystem"] is True
    # $DAGSTER_HOME is env.json's value; duplicates and a trailing slash collapse to one mount.
    assert {m["containerPath"]: m["sourceVolume"] for m in web["mountPoints"]} == WRITABLE
    assert all(m["readOnly"] is False for m in web["mountPoints"])
    # Bind mounts without host: on Fargate, the task's own ephemeral storage.
    assert definition["volumes"] == [{"name": name} for name in sorted(WRITABLE.values())]
    assert "readonlyRootFilesystem" not in sidecar and sidecar["mountPoints"] == []


def test_writable_paths_follow_the_containers_dagster_home():
    env = {"environment": [{"name": "DAGSTER_HOME", "value": "/app/home"}]}
    _definition, containers = rendered(env_file=env, **HARDENED)
    paths = {m["containerPath"] for m in containers["asset-manager-web"]["mountPoints"]}
    assert paths == {"/app/home/storage", "/app/home/logs", "/tmp"}


def test_a_writable_root_gets_no_volumes():
    definition, containers = rendered(**{**HARDENED, "readonly_root_filesystem": False})
    web = containers["asset-manager-web"]
    # false is ECS's default, so the normal form leaves it out, as a described revision may.
    assert "readonlyRootFilesystem" not in web
    assert web["mountPoints"] == [] and definition["volumes"] == []


def test_a_path_the_definition_already_mounts_keeps_its_mount():
    definition = app_definition()
    definition["volumes"] = [{"name": "scratch"}]
    definition["containerDefinitions"][0]["mountPoints"] = [
        {"sourceVolume": "scratch", "containerPath": "/tmp/"}
    ]
    result, containers = rendered(definition=definition, **HARDENED)
    mounts = {
        m["containerPath"]: m["sourceVolume"]
        for m in containers["asset-manager-web"]["mountPoints"]
    }
    assert mounts["/tmp/"] == "scratch" and "/tmp" not in mounts
    assert "writable-tmp" not in [v["name"] for v in result["volumes"]]


@pytest.mark.parametrize(
    ("paths", "env", "expected"),
    [
        (
            ["$DAGSTER_CACHE/x"],
            None,
            "under $DAGSTER_CACHE, which container 'asset-manager-web' sets not at all",
        ),
        (
            ["$DAGSTER_PG_PASSWORD/x"],
            None,
            "under $DAGSTER_PG_PASSWORD, which container 'asset-manager-web' sets as a secret only",
        ),
        (
            ["$DAGSTER_HOME/x"],
            {"environment": [{"name": "DAGSTER_HOME", "value": "home"}]},
            "'home'",
        ),
        (["tmp"], None, "tmp is not an absolute path"),
        (["/"], None, "/ is the root directory"),
        (["/tmp/.."], None, "/tmp/.. is the root directory"),
    ],
)
def test_bad_writable_paths_are_refused_naming_the_variable(paths, env, expected):
    overrides = {**HARDENED, "writable_paths": paths}
    if env is not None:
        overrides["env_file"] = env
    msg = fail({**params(**overrides), "validate_only": True})["msg"]
    assert msg.startswith("ecs_taskdefs_writable_paths: ") and expected in msg
    assert "Nothing was written to AWS" in msg


def test_log_delivery_options_join_the_awslogs_options():
    _definition, containers = rendered(**HARDENED)
    assert containers["asset-manager-web"]["logConfiguration"]["options"] == {
        "awslogs-group": "fulcrum/asset-manager/web",
        "awslogs-region": "us-west-1",
        "awslogs-stream-prefix": "web",
        "mode": "non-blocking",
        "max-buffer-size": "25m",
    }
    _definition, containers = rendered(
        **{**HARDENED, "log_mode": "blocking", "log_max_buffer_size": ""}
    )
    options = containers["asset-manager-web"]["logConfiguration"]["options"]
    assert options["mode"] == "blocking" and "max-buffer-size" not in options


@pytest.mark.parametrize(
    ("mode", "size", "expected"),
    [
        ("nonblocking", "25m", "ecs_taskdefs_log_mode 'nonblocking' is not a log delivery mode"),
        (
            "blocking",
            "25m",
            "ecs_taskdefs_log_max_buffer_size (25m) applies only with ecs_taskdefs_log_mode "
            "non-blocking",
        ),
        ("", "25m", "applies only with ecs_taskdefs_log_mode non-blocking (got none)"),
        ("non-blocking", "lots", "ecs_taskdefs_log_max_buffer_size 'lots' is not a buffer size"),
        ("non-blocking", "0m", "ecs_taskdefs_log_max_buffer_size '0m' is not a buffer size"),
    ],
)
def test_bad_log_delivery_is_refused_naming_the_variable(mode, size, expected):
    args = params(**{**HARDENED, "log_mode": mode, "log_max_buffer_size": size})
    msg = fail({**args, "validate_only": True})["msg"]
    assert expected in msg and "Nothing was written to AWS" in msg


def test_log_delivery_applies_to_the_definitions_own_log_configuration_and_needs_one():
    without_group = {**HARDENED, "log_group": None, "log_stream_prefix": None}
    _definition, containers = rendered(**without_group)
    assert containers["asset-manager-web"]["logConfiguration"]["options"] == {
        "awslogs-group": "/ecs/asset_manager/web",
        "awslogs-region": "us-west-1",
        "mode": "non-blocking",
        "max-buffer-size": "25m",
    }
    definition = app_definition()
    del definition["containerDefinitions"][0]["logConfiguration"]
    args = params(definition=definition, **without_group)
    msg = fail({**args, "validate_only": True})["msg"]
    assert "ecs_taskdefs_log_mode sets how container 'asset-manager-web' delivers" in msg


def hardened_description(revision=3, *, read_only_stated=True, volume_extras=True):
    """DescribeTaskDefinition of what HARDENED registers, with the content tag of this module,
    as AWS may describe it: mount points with readOnly stated, volumes with an empty host and
    configuredAtLaunch false (or without them)."""
    response = copy.deepcopy(_aws_description(revision, "1024"))
    container = response["taskDefinition"]["containerDefinitions"][0]
    container["readonlyRootFilesystem"] = True
    container["mountPoints"] = [
        {
            "sourceVolume": name,
            "containerPath": path,
            **({"readOnly": False} if read_only_stated else {}),
        }
        for path, name in sorted(WRITABLE.items(), reverse=True)
    ]
    container["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {
            "max-buffer-size": "25m",
            "awslogs-stream-prefix": "web",
            "awslogs-group": "fulcrum/asset-manager/web",
            "mode": "non-blocking",
            "awslogs-region": "us-west-1",
        },
        "secretOptions": [],
    }
    response["taskDefinition"]["volumes"] = [
        {"name": name, **({"host": {}, "configuredAtLaunch": False} if volume_extras else {})}
        for name in WRITABLE.values()
    ]
    fields, _container_fields = ecs_taskdef.register_fields()
    normal = normalise_task_definition(response["taskDefinition"], fields)
    response["tags"].append(
        {"key": ecs_taskdef.CONTENT_TAG, "value": ecs_taskdef.content_digest(normal)}
    )
    return response


@pytest.mark.parametrize(("read_only_stated", "volume_extras"), [(True, True), (False, False)])
def test_a_rerun_with_the_new_settings_registers_nothing(ecs, read_only_stated, volume_extras):
    client, stubber = ecs
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": [f"{ARN}:3"]},
        {"familyPrefix": FAMILY, "status": "ACTIVE", "sort": "DESC", "maxResults": 1},
    )
    stubber.add_response(
        "describe_task_definition",
        hardened_description(read_only_stated=read_only_stated, volume_extras=volume_extras),
        {"taskDefinition": f"{ARN}:3", "include": ["TAGS"]},
    )
    result = run_module(ecs_taskdef, params(**HARDENED), client)
    assert result["changed"] is False and result["changes"] == [] and result["drift"] == {}


def test_turning_the_read_only_root_off_registers_a_revision_without_the_volumes(ecs):
    client, stubber = ecs
    stubber.add_response(
        "list_task_definitions",
        {"taskDefinitionArns": [f"{ARN}:3"]},
        {"familyPrefix": FAMILY, "status": "ACTIVE", "sort": "DESC", "maxResults": 1},
    )
    stubber.add_response(
        "describe_task_definition",
        hardened_description(),
        {"taskDefinition": f"{ARN}:3", "include": ["TAGS"]},
    )
    stubber.add_response("register_task_definition", aws_description(4), ANY_REGISTER)
    result = run_module(
        ecs_taskdef, params(**{**HARDENED, "readonly_root_filesystem": False}), client
    )
    assert result["changed"] is True
    assert "volumes" in result["changes"]
    assert "containerDefinitions[asset-manager-web].readonlyRootFilesystem" in result["changes"]
    assert "containerDefinitions[asset-manager-web].mountPoints" in result["changes"]
