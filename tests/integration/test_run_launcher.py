"""Dagster's own EcsRunLauncher, as the deployed daemon runs it, launches runs on the deployed
run revision in the stack's private network.

The stack is deployed once by site.yml, which also renders dagster.yaml through ecs_taskdefs
(ecs_taskdefs_dagster_yaml_path), exactly as a deploy does. The daemon's process is then rebuilt
here: the environment of the daemon service's task definition, its SSM secrets resolved with
decryption as ECS injects them, and a Dagster instance whose run launcher and run coordinator are
the rendered file's sections (storage: a temporary SQLite one; the Postgres storage is tested in
tests/unit/test_dagster_instance.py). A run of a trivial job in a real code location (a gRPC code
server, as the daemon's workspace starts one) is submitted to the queue, and one iteration of
Dagster's QueuedRunCoordinatorDaemon dequeues and launches it, outside any ECS task (no task
metadata endpoint). Every AWS call the launcher makes is recorded on its boto3 session.

Proven: the RunTask request names exactly the run revision of DAGSTER_RUN_TASK_DEFINITION, whose
container the override names, and nothing is registered; it starts on Fargate in the stack's
cluster, in both private subnets with the services security group and no public IP; the run
revision logs to the runs log group; the task exists in the emulator and the Dagster run points to
it. The launcher's calls (the task role's IAM actions) are exactly DescribeTaskDefinition and
RunTask: no ListSecrets, no DescribeTasks of its own task, no EC2 lookup.
"""

from __future__ import annotations

import copy
import textwrap

import boto3
import pytest
import yaml

CLUSTER = "asset-manager"
DAEMON = "asset-manager-daemon"  # service, family and container share the guide's name
RUN_FAMILY = "asset-manager-run"
RUN_CONTAINER = "asset-manager-run"
RUNS_LOG_GROUP = "fulcrum/asset-manager/runs"
VPC_NAME = "fulcrum-vpc"
SERVICES_SG = "asset-manager-services-sg"
JOB = "trivial"
LOCATION = "asset_manager"

# A real code location: the daemon's workspace loads it in a gRPC code server.
JOB_FILE = textwrap.dedent(
    f"""
    from dagster import Definitions, job, op


    @op
    def hello():
        return 1


    @job
    def {JOB}():
        hello()


    defs = Definitions(jobs=[{JOB}])
    """
)


def deploy_stack(run_site, push_image, tmp_path_factory) -> dict:
    """Deploy the stack (first deploy from a pushed image) with `run_site`; returns the
    dagster.yaml its deploy rendered."""
    push_image("seed")
    dagster_yaml = tmp_path_factory.mktemp("dagster_home") / "dagster.yaml"
    proc = run_site(
        "-e", "ecs_taskdefs_image_tag=seed", "-e", f"ecs_taskdefs_dagster_yaml_path={dagster_yaml}"
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    return yaml.safe_load(dagster_yaml.read_text())


@pytest.fixture(scope="module")
def stack(seeded, run_site, push_image, tmp_path_factory):
    """A deployed stack and the dagster.yaml its deploy rendered; torn down afterwards, so that
    the session's other test files find the emulator as seeded."""
    yield deploy_stack(run_site, push_image, tmp_path_factory)
    proc = run_site("-e", "teardown_confirm=local", playbook="playbooks/teardown.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]


def network(ec2) -> dict:
    """The stack's network as the seeded tags and names find it: both private subnets of the VPC
    and the services security group."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [VPC_NAME]}])["Vpcs"]
    assert len(vpc) == 1, vpc
    vpc_filter = {"Name": "vpc-id", "Values": [vpc[0]["VpcId"]]}
    subnets = ec2.describe_subnets(
        Filters=[vpc_filter, {"Name": "tag:Type", "Values": ["private"]}]
    )["Subnets"]
    groups = ec2.describe_security_groups(
        Filters=[vpc_filter, {"Name": "group-name", "Values": [SERVICES_SG]}]
    )["SecurityGroups"]
    assert len(subnets) == 2 and len(groups) == 1, (subnets, groups)
    return {
        "subnets": sorted(s["SubnetId"] for s in subnets),
        "security_group": groups[0]["GroupId"],
    }


def container(definition: dict, name: str) -> dict:
    found = [c for c in definition["containerDefinitions"] if c["name"] == name]
    assert len(found) == 1, f"no container {name} in {definition['taskDefinitionArn']}"
    return found[0]


def daemon_environment(ecs, ssm) -> dict:
    """The environment ECS gives the daemon service's container: its plain variables, and its
    secrets read from SSM with decryption (what the execution role does when the task starts)."""
    service = ecs.describe_services(cluster=CLUSTER, services=[DAEMON])["services"]
    assert [s["status"] for s in service] == ["ACTIVE"], service
    definition = ecs.describe_task_definition(taskDefinition=service[0]["taskDefinition"])
    main = container(definition["taskDefinition"], DAEMON)
    env = {e["name"]: e["value"] for e in main.get("environment", [])}
    for secret in main.get("secrets", []):
        assert secret["valueFrom"].startswith("arn:aws:ssm:"), secret
        parameter = ssm.get_parameter(Name=secret["valueFrom"], WithDecryption=True)["Parameter"]
        env[secret["name"]] = parameter["Value"]
    return env


def run_revisions(ecs) -> list[str]:
    return ecs.list_task_definitions(familyPrefix=RUN_FAMILY, status="ACTIVE")["taskDefinitionArns"]


def families(ecs) -> list[str]:
    return ecs.list_task_definition_families(status="ACTIVE")["families"]


class Calls:
    """Every AWS call made through a boto3 session: (service, operation, its parameters)."""

    def __init__(self):
        self.made: list[tuple[str, str, dict]] = []

    def __call__(self, params, model, **_):
        self.made.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    def operations(self) -> list[tuple[str, str]]:
        return [(service, operation) for service, operation, _params in self.made]

    def only(self, service: str, operation: str) -> dict:
        found = [p for s, o, p in self.made if (s, o) == (service, operation)]
        assert len(found) == 1, f"{service}.{operation} called {len(found)} times: {self.made}"
        return found[0]


def run_failure(instance, run_id: str) -> str:
    """What Dagster recorded of a launch that went wrong: the run's engine events and errors."""
    lines = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        error = getattr(event.event_specific_data, "error", None) if event else None
        lines.append(entry.message + (f"\n{error.to_string()}" if error else ""))
    return "\n".join(lines)


def launch_run(stack, ecs, ssm, aws_env, tmp_path_factory) -> dict:
    """Submit one run and have the daemon's dequeue loop launch it, in a process that has the
    daemon task's environment (read with the clients `ecs` and `ssm`) and the AWS settings
    `aws_env` (the launcher's credentials and endpoint). Returns what a test checks: the AWS
    calls, the Dagster run and what it recorded of a failure, the launcher, and the emulator's run
    revisions and task definition families before and after."""
    from dagster import DagsterRunStatus
    from dagster._core.test_utils import (
        create_run_for_test,
        create_test_daemon_workspace_context,
        instance_for_test,
    )
    from dagster._core.workspace.load_target import PythonFileTarget
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )

    env = daemon_environment(ecs, ssm)
    before = {"revisions": run_revisions(ecs), "families": families(ecs)}
    code = tmp_path_factory.mktemp("code") / "definitions.py"
    code.write_text(JOB_FILE)
    calls = Calls()
    overrides = {section: stack[section] for section in ("run_launcher", "run_coordinator")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**aws_env, **env}.items():
            patch.setenv(name, value)
        # Outside ECS: no task metadata endpoint, so any lookup of the current task fails.
        for name in ("ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI"):
            patch.delenv(name, raising=False)
        # The launcher's clients come from boto3's default session: record every call on it.
        session = boto3.Session()
        session.events.register("provide-client-params", calls)
        patch.setattr(boto3, "DEFAULT_SESSION", session)
        target = PythonFileTarget(
            python_file=str(code),
            attribute=None,
            working_directory=str(code.parent),
            location_name=LOCATION,
        )
        with (
            instance_for_test(overrides=overrides) as instance,
            create_test_daemon_workspace_context(target, instance) as workspace_context,
        ):
            workspace = workspace_context.create_request_context()
            location = workspace.get_code_location(LOCATION)
            repository = next(iter(location.get_repositories().values()))
            remote_job = repository.get_full_job(JOB)
            run = create_run_for_test(
                instance,
                job_name=JOB,
                job_snapshot=remote_job.job_snapshot,
                remote_job_origin=remote_job.get_remote_origin(),
                job_code_origin=remote_job.get_python_origin(),
            )
            # What the webserver does on "Launch run", then what the daemon does with the queue.
            queued = instance.submit_run(run.run_id, workspace)
            assert queued.status == DagsterRunStatus.QUEUED, queued.status
            with QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon:
                list(daemon.run_iteration(workspace_context))
            launched_run = instance.get_run_by_id(run.run_id)
            failure = run_failure(instance, run.run_id)
            session.events.unregister("provide-client-params", calls)
            try:
                launcher = instance.run_launcher
            except Exception:  # its constructor failed: the run's failure says why
                launcher = None
    after = {"revisions": run_revisions(ecs), "families": families(ecs)}
    return {
        "env": env,
        "calls": calls,
        "run": launched_run,
        "failure": failure,
        "launcher": launcher,
        "before": before,
        "after": after,
    }


@pytest.fixture(scope="module")
def launched(stack, boto3_client, aws_env, tmp_path_factory):
    """One run launched with the session's (unchecked) test credentials."""
    return launch_run(stack, boto3_client("ecs"), boto3_client("ssm"), aws_env, tmp_path_factory)


def run_task_request(launched) -> dict:
    run = launched["run"]
    assert "ecs/task_arn" in run.tags, (
        f"the run was not launched ({run.status}):\n" + launched["failure"]
    )
    return launched["calls"].only("ecs", "RunTask")


def test_the_launcher_is_the_rendered_ecs_run_launcher(launched, aws_env):
    from dagster_aws.ecs import EcsRunLauncher

    launcher = launched["launcher"]
    # The class itself, not a subclass of it.
    assert launcher.__class__ is EcsRunLauncher
    assert launcher.use_current_ecs_task_config is False
    # Its clients reach the emulator through the environment, as a task's reach AWS.
    assert launcher.ecs.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL"]


def test_run_task_names_the_deployed_run_revision_and_registers_nothing(launched, boto3_client):
    request = run_task_request(launched)
    run_arn = launched["env"]["DAGSTER_RUN_TASK_DEFINITION"]
    latest = boto3_client("ecs").describe_task_definition(taskDefinition=RUN_FAMILY)
    assert run_arn == latest["taskDefinition"]["taskDefinitionArn"], (
        "the daemon's DAGSTER_RUN_TASK_DEFINITION is not the latest run revision"
    )
    assert request["taskDefinition"] == run_arn, (
        f"RunTask started {request['taskDefinition']}, not the deployed run revision {run_arn}"
    )
    operations = launched["calls"].operations()
    assert ("ecs", "RegisterTaskDefinition") not in operations, operations
    assert launched["after"] == launched["before"], "the launch registered a task definition"
    assert launched["after"]["revisions"] == [run_arn]


def test_the_override_names_the_run_container_and_runs_this_run(launched, boto3_client):
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import deserialize_value

    request = run_task_request(launched)
    definition = boto3_client("ecs").describe_task_definition(
        taskDefinition=request["taskDefinition"]
    )["taskDefinition"]
    names = [c["name"] for c in definition["containerDefinitions"]]
    overrides = request["overrides"]["containerOverrides"]
    assert [o["name"] for o in overrides] == [RUN_CONTAINER], (overrides, names)
    assert RUN_CONTAINER in names, f"the run revision has no container {RUN_CONTAINER}: {names}"
    command = overrides[0]["command"]
    assert command[:3] == ["dagster", "api", "execute_run"], command
    args = deserialize_value(command[3], ExecuteRunArgs)
    assert args.run_id == launched["run"].run_id
    assert args.job_origin.job_name == JOB


def test_run_task_starts_on_fargate_in_the_private_network(launched, boto3_client):
    request = run_task_request(launched)
    expected = network(boto3_client("ec2"))
    assert request["cluster"] == CLUSTER
    assert request["launchType"] == "FARGATE"
    vpc = request["networkConfiguration"]["awsvpcConfiguration"]
    assert sorted(vpc["subnets"]) == expected["subnets"], (
        f"runs start in {vpc['subnets']}, not in both private subnets {expected['subnets']}"
    )
    assert vpc["securityGroups"] == [expected["security_group"]], (
        f"runs get {vpc['securityGroups']}, not {SERVICES_SG} ({expected['security_group']})"
    )
    assert vpc["assignPublicIp"] == "DISABLED"
    assert {t["key"]: t["value"] for t in request["tags"]} == {
        "dagster/run_id": launched["run"].run_id,
        "dagster/job_name": JOB,
    }


def test_the_run_revision_logs_to_the_runs_log_group(launched, boto3_client):
    request = run_task_request(launched)
    definition = boto3_client("ecs").describe_task_definition(
        taskDefinition=request["taskDefinition"]
    )["taskDefinition"]
    logging = container(definition, RUN_CONTAINER)["logConfiguration"]
    assert logging["logDriver"] == "awslogs"
    assert logging["options"]["awslogs-group"] == RUNS_LOG_GROUP, logging
    groups = boto3_client("logs").describe_log_groups(logGroupNamePrefix=RUNS_LOG_GROUP)
    assert [g["logGroupName"] for g in groups["logGroups"]] == [RUNS_LOG_GROUP]


def writable_mounts(definition: dict, name: str) -> dict:
    """{containerPath: volume} of a container's read-write mounts of the task's own volumes."""
    volumes = {v["name"]: v for v in definition.get("volumes", [])}
    mounts = {}
    for mount in container(definition, name).get("mountPoints", []):
        volume = volumes[mount["sourceVolume"]]
        assert not volume.get("host", {}).get("sourcePath"), volume  # task-local, no host path
        assert mount.get("readOnly") is not True, mount
        mounts[mount["containerPath"]] = mount["sourceVolume"]
    return mounts


def test_the_run_revision_is_read_only_with_the_daemons_writable_volumes(
    launched, stack, boto3_client
):
    """The revision RunTask starts has a read-only root and the writable directories Dagster
    needs, the daemon's own among them, and logs without blocking the run."""
    ecs = boto3_client("ecs")
    request = run_task_request(launched)
    run = ecs.describe_task_definition(taskDefinition=request["taskDefinition"])["taskDefinition"]
    service = ecs.describe_services(cluster=CLUSTER, services=[DAEMON])["services"][0]
    daemon = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])[
        "taskDefinition"
    ]
    home = launched["env"]["DAGSTER_HOME"]
    for definition, name in ((run, RUN_CONTAINER), (daemon, DAEMON)):
        assert container(definition, name)["readonlyRootFilesystem"] is True, name
        assert sorted(writable_mounts(definition, name)) == sorted(
            [
                f"{home}/storage",
                f"{home}/logs",
                f"{home}/.logs_queue",
                "/tmp",
                stack["compute_logs"]["config"]["local_dir"],
            ]
        ), name
        options = container(definition, name)["logConfiguration"]["options"]
        assert (options["mode"], options["max-buffer-size"]) == ("non-blocking", "25m"), name
    # The launcher overrides the command only: no volume, no writable root of its own.
    assert set(request["overrides"]["containerOverrides"][0]) == {"name", "command"}


def test_the_task_exists_and_the_run_points_to_it(launched, boto3_client):
    from dagster import DagsterRunStatus

    request = run_task_request(launched)
    run = launched["run"]
    assert run.status == DagsterRunStatus.STARTING, launched["failure"]
    ecs = boto3_client("ecs")
    cluster = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]["clusterArn"]
    assert run.tags["ecs/cluster"] == cluster
    described = ecs.describe_tasks(cluster=CLUSTER, tasks=[run.tags["ecs/task_arn"]])
    assert described["failures"] == [], described["failures"]
    (task,) = described["tasks"]
    assert task["taskArn"] == run.tags["ecs/task_arn"]
    assert task["clusterArn"] == cluster
    assert task["taskDefinitionArn"] == request["taskDefinition"]
    assert task["launchType"] == "FARGATE"


def test_the_launcher_calls_only_what_the_task_role_grants(launched):
    """The IAM actions the daemon's task role needs for a launch: the constructor resolves the
    run revision, the launch runs it. No secretsmanager:ListSecrets (secrets_tag: null), no
    ecs:DescribeTasks of the daemon's own task nor ec2 lookups (use_current_ecs_task_config:
    false), no ecs:RegisterTaskDefinition."""
    run_task_request(launched)
    calls = launched["calls"]
    assert calls.operations() == [("ecs", "DescribeTaskDefinition"), ("ecs", "RunTask")], calls.made
    described = calls.only("ecs", "DescribeTaskDefinition")
    assert described == {"taskDefinition": launched["env"]["DAGSTER_RUN_TASK_DEFINITION"]}
