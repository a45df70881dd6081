"""The workload roles (ecs_taskdefs, ecs_services) against the emulator, through a real playbook.

tests/integration/playbooks/workload.yml applies network_security, storage, ssm_params,
ecs_taskdefs and ecs_services with the site playbook's connection settings and pre-flight checks.
The target group belongs to alb_oidc; it is created here with boto3 when absent. The tests share
one deployment and run in file order: first deploy, rerun, new image tag, the application's own
files, bad input, and last the teardown of both services.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.leverslabs.asset_manager.tests.harness import ansible_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOK = ROOT / "tests/integration/playbooks/workload.yml"
APP_DIR = ROOT / "tests/fixtures/app/deployment/ecs"

CLUSTER = "asset-manager"
FAMILIES = {
    "web": "asset-manager-web",
    "daemon": "asset-manager-daemon",
    "run": "asset-manager-run",
}
CONTAINERS = FAMILIES  # the guide's names: container, family and service share a name
SERVICES = {"web": "asset-manager-web", "daemon": "asset-manager-daemon"}
LOG_GROUPS = {
    "web": "fulcrum/asset-manager/web",
    "daemon": "fulcrum/asset-manager/daemon",
    "run": "fulcrum/asset-manager/runs",
}
ACCOUNT = "123456789012"
REGION = "us-west-1"
SSM_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/asset-manager/"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/asset-manager"
TAGS = {
    "Application": "asset-manager",
    "Environment": "local",
    "ManagedBy": "leverslabs.asset_manager",
}
CONTENT_TAG = "leverslabs.asset_manager:sha256"
APP_FILES = ("-e", "ecs_taskdefs_source=app_files", "-e", f"ecs_taskdefs_app_dir={APP_DIR}")


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        # Messages as one line: the YAML callback wraps long ones.
        self.flat = " ".join(self.output.split())
        recap = re.search(r"changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
        self.changed = int(recap.group(1)) if recap else None

    def __repr__(self):
        return self.output[-6000:]


@pytest.fixture(scope="module")
def play(aws_env, emulator):
    env = ansible_env(
        **aws_env, ASSET_MANAGER_ENDPOINT_URL=emulator, ANSIBLE_DEPRECATION_WARNINGS="false"
    )

    def run(*args, playbook=PLAYBOOK) -> Run:
        cmd = ["ansible-playbook", "-i", str(ROOT / "inventories/local"), str(playbook), *args]
        return Run(
            subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        )

    return run


@pytest.fixture(scope="module")
def clients(boto3_client):
    return {name: boto3_client(name) for name in ("ecs", "ec2", "elbv2", "iam", "ssm")}


@pytest.fixture(scope="module")
def deployed(play, clients, tmp_path_factory, push_image):
    """Prerequisites, the target group, then the whole workload from the role's templates, with
    image v1 pushed to the registry as a CI job would have."""
    prereq = play(playbook=ROOT / "playbooks/emulator_prerequisites.yml")
    assert prereq.rc == 0, prereq
    ec2, elbv2 = clients["ec2"], clients["elbv2"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["fulcrum-vpc"]}])["Vpcs"][0]
    names = [tg["TargetGroupName"] for tg in elbv2.describe_target_groups()["TargetGroups"]]
    if "asset-manager-web-tg" not in names:
        elbv2.create_target_group(
            Name="asset-manager-web-tg",
            Protocol="HTTP",
            Port=3000,
            VpcId=vpc["VpcId"],
            TargetType="ip",
            HealthCheckPath="/server_info",
        )
    created_tg = "asset-manager-web-tg" not in names
    dagster_yaml = tmp_path_factory.mktemp("dagster_home") / "dagster.yaml"
    digest = push_image("v1")
    first = play(
        "-e", f"ecs_taskdefs_dagster_yaml_path={dagster_yaml}", "-e", "ecs_taskdefs_image_tag=v1"
    )
    assert first.rc == 0, first
    yield {"first": first, "vpc_id": vpc["VpcId"], "dagster_yaml": dagster_yaml, "digest": digest}
    # Best effort: leave the session's emulator as other test files expect it (no stack resources).
    play(
        *(f"-e{role}_state=absent" for role in ("ecs_services", "ecs_taskdefs", "ssm_params")),
        "-e", "network_security_state=absent", "-e", "storage_state=absent",
        "-e", "storage_force_delete_bucket=true",
    )  # fmt: skip
    if created_tg:
        for tg in elbv2.describe_target_groups(Names=["asset-manager-web-tg"])["TargetGroups"]:
            elbv2.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])


def revisions(ecs, component):
    arns = ecs.list_task_definitions(familyPrefix=FAMILIES[component], status="ACTIVE")[
        "taskDefinitionArns"
    ]
    return sorted(int(arn.rsplit(":", 1)[1]) for arn in arns if f"/{FAMILIES[component]}:" in arn)


def latest(ecs, component):
    return ecs.describe_task_definition(taskDefinition=FAMILIES[component], include=["TAGS"])


def container(definition, component):
    return next(c for c in definition["containerDefinitions"] if c["name"] == CONTAINERS[component])


def services(ecs):
    found = ecs.describe_services(cluster=CLUSTER, services=list(SERVICES.values()))["services"]
    return {s["serviceName"]: s for s in found if s["status"] == "ACTIVE"}


def state(ecs):
    """What a failed run must leave unchanged: revisions and the services' task definitions."""
    return (
        {component: revisions(ecs, component) for component in FAMILIES},
        {name: s["taskDefinition"] for name, s in services(ecs).items()},
    )


def sha256(directory: Path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_task_definitions_registered_with_env_secrets_logs_and_roles(deployed, clients):
    ecs, iam, ssm = clients["ecs"], clients["iam"], clients["ssm"]
    roles = {
        name: iam.get_role(RoleName=name)["Role"]["Arn"]
        for name in ("fulcrum-ecs-execution-role", "fulcrum-ecs-task-role")
    }
    run_arn = latest(ecs, "run")["taskDefinition"]["taskDefinitionArn"]
    for component in FAMILIES:
        described = latest(ecs, component)
        definition = described["taskDefinition"]
        # One ACTIVE revision per family (its number depends on what earlier test files of the
        # session registered and deregistered: AWS never reuses one).
        assert len(revisions(ecs, component)) == 1
        assert definition["requiresCompatibilities"] == ["FARGATE"]
        assert definition["networkMode"] == "awsvpc"
        assert definition["executionRoleArn"] == roles["fulcrum-ecs-execution-role"]
        assert definition["taskRoleArn"] == roles["fulcrum-ecs-task-role"]
        tags = {t["key"]: t["value"] for t in described["tags"]}
        # The collection's mark: the digest of the content it rendered (out-of-band ones lack it).
        assert re.fullmatch(r"[0-9a-f]{64}", tags.pop(CONTENT_TAG))
        assert tags == TAGS
        main = container(definition, component)
        # By digest: the tag was resolved once, so the revision names exactly one image.
        assert main["image"] == f"{IMAGE}@{deployed['digest']}"
        # Delivered without blocking the container, within a bounded buffer.
        assert main["logConfiguration"] == {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": LOG_GROUPS[component],
                "awslogs-region": REGION,
                "awslogs-stream-prefix": component,
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        }
        # Read-only root: Dagster writes to task-local volumes only, under env.json's DAGSTER_HOME.
        assert main["readonlyRootFilesystem"] is True
        home = "/opt/dagster/dagster_home"
        mounts = {m["containerPath"]: m["sourceVolume"] for m in main["mountPoints"]}
        assert sorted(mounts) == sorted(
            [f"{home}/storage", f"{home}/logs", f"{home}/.logs_queue", "/tmp"]
            + ["/opt/dagster/compute_logs"]
        )
        volumes = {v["name"]: v for v in definition["volumes"]}
        assert sorted(volumes) == sorted(mounts.values())
        assert not any(v.get("host", {}).get("sourcePath") for v in volumes.values())
        plain = {e["name"]: e["value"] for e in main["environment"]}
        secrets = {s["name"]: s["valueFrom"] for s in main["secrets"]}
        assert plain["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
        assert plain["DAGSTER_DEPLOYMENT"] == "local"  # $env
        assert plain["AWS_DEFAULT_REGION"] == REGION  # $region
        assert set(plain) & set(secrets) == set()
        assert set(secrets) == {
            "SERVER_HOST",
            "DAGSTER_PG_HOST",
            "DAGSTER_PG_PORT",
            "DAGSTER_PG_DB",
            "DAGSTER_PG_USER",
            "DAGSTER_PG_PASSWORD",
            "DAGSTER_S3_BUCKET",
        }
        assert secrets == {name: SSM_ARN + name for name in secrets}
        # Every secret names a parameter that ssm_params created.
        found = ssm.get_parameters(Names=[f"/asset-manager/{name}" for name in secrets])
        assert found["InvalidParameters"] == []
        if component == "run":
            assert "DAGSTER_RUN_TASK_DEFINITION" not in plain
            assert "command" not in main
        else:
            assert plain["DAGSTER_RUN_TASK_DEFINITION"] == run_arn
    web = container(latest(ecs, "web")["taskDefinition"], "web")
    assert web["command"] == [
        "dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "workspace.yaml"
    ]  # fmt: skip
    assert web["portMappings"][0]["containerPort"] == 3000
    assert container(latest(ecs, "daemon")["taskDefinition"], "daemon")["command"] == [
        "dagster-daemon",
        "run",
    ]
    sizes = {
        c: (latest(ecs, c)["taskDefinition"]["cpu"], latest(ecs, c)["taskDefinition"]["memory"])
        for c in FAMILIES
    }
    assert sizes == {"web": ("1024", "2048"), "daemon": ("512", "1024"), "run": ("1024", "2048")}


def test_services_have_every_setting(deployed, clients):
    ecs, ec2, elbv2 = clients["ecs"], clients["ec2"], clients["elbv2"]
    private = sorted(
        s["SubnetId"]
        for s in ec2.describe_subnets(
            Filters=[
                {"Name": "vpc-id", "Values": [deployed["vpc_id"]]},
                {"Name": "tag:Type", "Values": ["private"]},
            ]
        )["Subnets"]
    )
    services_sg = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["asset-manager-services-sg"]}]
    )["SecurityGroups"][0]["GroupId"]
    tg = elbv2.describe_target_groups(Names=["asset-manager-web-tg"])["TargetGroups"][0]
    found = services(ecs)
    assert set(found) == set(SERVICES.values())
    for component, name in SERVICES.items():
        service = found[name]
        assert service["launchType"] == "FARGATE"
        assert service["desiredCount"] == 1
        assert service["platformVersion"] == "LATEST"
        assert (
            service["taskDefinition"]
            == latest(ecs, component)["taskDefinition"]["taskDefinitionArn"]
        )
        vpc_config = service["networkConfiguration"]["awsvpcConfiguration"]
        assert sorted(vpc_config["subnets"]) == private
        assert vpc_config["securityGroups"] == [services_sg]
        assert vpc_config["assignPublicIp"] == "DISABLED"
        tags = ecs.list_tags_for_resource(resourceArn=service["serviceArn"])["tags"]
        assert {t["key"]: t["value"] for t in tags} == TAGS
    web, daemon = found["asset-manager-web"], found["asset-manager-daemon"]
    assert web["loadBalancers"] == [
        {
            "targetGroupArn": tg["TargetGroupArn"],
            "containerName": "asset-manager-web",
            "containerPort": 3000,
        }
    ]
    assert web["healthCheckGracePeriodSeconds"] == 60
    assert web["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert daemon["loadBalancers"] == []
    # Never two daemons: the old task stops before the new one starts.
    assert daemon["deploymentConfiguration"]["maximumPercent"] == 100
    assert daemon["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    assert daemon["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }


def test_dagster_config_finds_the_registered_run_task_definition(
    deployed, clients, monkeypatch, aws_env
):
    """Defect 6: the rendered dagster.yaml plus the web task's environment start EcsRunLauncher,
    which resolves the run revision and its container against the emulator."""
    import yaml
    from dagster_aws.ecs import EcsRunLauncher

    web = container(latest(clients["ecs"], "web")["taskDefinition"], "web")
    plain = {e["name"]: e["value"] for e in web["environment"]}
    for name, value in {
        **aws_env,
        "DAGSTER_RUN_TASK_DEFINITION": plain["DAGSTER_RUN_TASK_DEFINITION"],
    }.items():
        monkeypatch.setenv(name, value)
    config = yaml.safe_load(deployed["dagster_yaml"].read_text())["run_launcher"]["config"]
    launcher = EcsRunLauncher(**config)
    assert (
        launcher.task_definition
        == latest(clients["ecs"], "run")["taskDefinition"]["taskDefinitionArn"]
    )


def test_application_files_are_rendered_and_never_modified(deployed, play, clients, push_image):
    ecs = clients["ecs"]
    digest = push_image("v2")
    before_files = sha256(APP_DIR)
    before = {c: revisions(ecs, c) for c in FAMILIES}
    result = play(
        *APP_FILES, "-e", "ecs_taskdefs_image_tag=v2", "--tags", "ecs_taskdefs,ecs_services"
    )
    assert result.rc == 0, result
    assert sha256(APP_DIR) == before_files
    assert "$account" in (APP_DIR / "web-task-definition.json").read_text()
    for component in FAMILIES:
        assert revisions(ecs, component) == before[component] + [before[component][-1] + 1]
        definition = latest(ecs, component)["taskDefinition"]
        main = container(definition, component)
        # The family and the log group come from the inventory, not from the application's file.
        assert definition["family"] == FAMILIES[component]
        assert main["logConfiguration"]["options"]["awslogs-group"] == LOG_GROUPS[component]
        plain = {e["name"]: e["value"] for e in main["environment"]}
        secrets = {s["name"]: s["valueFrom"] for s in main["secrets"]}
        assert plain["DAGSTER_CODE_LOCATION"] == "asset_manager"  # $app
        assert plain["DAGSTER_DEPLOYMENT"] == "local"  # $env
        assert secrets["DAGSTER_PG_HOST"] == SSM_ARN + "DAGSTER_PG_HOST"  # $region, $account
        assert secrets["DAGSTER_PG_PASSWORD"] == SSM_ARN + "DAGSTER_PG_PASSWORD"  # bare name
        assert set(plain) & set(secrets) == set()
        assert main["image"] == f"{IMAGE}@{digest}"
    assert state(clients["ecs"])[1] == {
        name: latest(ecs, c)["taskDefinition"]["taskDefinitionArn"] for c, name in SERVICES.items()
    }
    again = play(
        *APP_FILES, "-e", "ecs_taskdefs_image_tag=v2", "--tags", "ecs_taskdefs,ecs_services"
    )
    assert again.rc == 0, again
    assert again.changed == 0, again
    assert sha256(APP_DIR) == before_files


def broken_app(tmp_path, name, content):
    app = tmp_path / "ecs"
    shutil.copytree(APP_DIR, app)
    (app / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return ("-e", "ecs_taskdefs_source=app_files", "-e", f"ecs_taskdefs_app_dir={app}")


def env_json():
    return json.loads((APP_DIR / "env.json").read_text())


def web_json():
    return json.loads((APP_DIR / "web-task-definition.json").read_text())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("env.json", '{"environment": [', "env.json is not valid JSON"),
        (
            "env.json",
            {"environment": {"DAGSTER_HOME": "/opt"}, "secrets": []},
            "environment is not a list",
        ),
        (
            "env.json",
            {"environment": [{"name": "PORT", "value": 5432}]},
            "PORT): name and value must be strings",
        ),
        (
            "web-task-definition.json",
            {k: v for k, v in web_json().items() if k != "containerDefinitions"},
            "has no containerDefinitions",
        ),
        (
            "env.json",
            {
                **env_json(),
                "secrets": env_json()["secrets"]
                + [{"name": "DAGSTER_DEPLOYMENT", "valueFrom": "SERVER_HOST"}],
            },
            "would set DAGSTER_DEPLOYMENT both as a plain variable and as a secret",
        ),
    ],
    ids=[
        "env-not-json",
        "env-wrong-shape",
        "env-number-value",
        "no-container-definitions",
        "secret-also-plain",
    ],
)
def test_bad_application_files_fail_before_any_write(
    deployed, play, clients, tmp_path, name, content, message, aws_tasks
):
    before = state(clients["ecs"])
    result = play(*broken_app(tmp_path, name, content))
    assert result.rc != 0
    assert message in result.flat, result
    assert "Nothing was written to AWS" in result.flat
    # Refused in the pre-flight checks, before the first AWS call.
    assert aws_tasks(result.output) == []
    assert state(clients["ecs"]) == before


def test_two_daemons_are_refused(deployed, play, clients, aws_tasks):
    before = state(clients["ecs"])
    result = play("-e", "ecs_services_daemon_desired_count=2")
    assert result.rc != 0
    assert "ecs_services_daemon_desired_count must be one of: 1, got: 2" in result.flat, result
    assert aws_tasks(result.output) == []
    assert state(clients["ecs"]) == before


def test_missing_target_group_is_named(deployed, play, clients):
    """ecs_services alone, with a target group name that does not exist: a clear message."""
    before = state(clients["ecs"])
    result = play("-e", "asset_manager_target_group_name=no-such-tg", "--tags", "ecs_services")
    assert result.rc != 0
    assert (
        "Target group no-such-tg (variable asset_manager_target_group_name) not found"
        in result.output
    )
    assert state(clients["ecs"]) == before
