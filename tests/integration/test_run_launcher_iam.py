"""The task role's deployed policy is what the launcher needs: with IAM enforced, Dagster's own
EcsRunLauncher launches a run with the task role's credentials, and without any one of the
statements it needs the launch fails with AccessDenied naming the action.

The stack is deployed as tests/integration/test_run_launcher.py deploys it (its helpers), onto an
emulator of this file's own: enforcing IAM changes the whole emulator, so no other test file may
share it. While IAM is not yet enforced, the test makes an admin user (an inline "*" policy and an
access key) for its own calls and assumes the task role fulcrum-ecs-task-role with sts:AssumeRole.
The role's trust policy (ecs-tasks.amazonaws.com only) is left as deployed: moto checks trust
policies only while it enforces IAM, and the assumed session stands in for the credentials ECS
hands the daemon's container. Then the emulator enforces IAM (POST /moto-api/reset-auth) and the
launcher runs as in test_run_launcher.py, with the task role's credentials. The emulator's fidelity
patches authorise what AWS authorises for the launcher's calls: ecs:DescribeTaskDefinition on "*";
ecs:RunTask on the run revision with ecs:cluster; ecs:TagResource on the new task with
ecs:CreateAction = RunTask (the launcher tags its tasks); iam:PassRole on the run revision's two
roles with iam:PassedToService = ecs-tasks.amazonaws.com.

Proven: with the deployed policy the run is launched (RunTask made, the task exists, the run points
to it); without RunTheRunFamilyInTheCluster, TagRunTasksAtLaunch, PassTheTaskRolesToEcs or
ReadTaskDefinitions, the launch is refused with AccessDeniedException naming ecs:RunTask,
ecs:TagResource, iam:PassRole or ecs:DescribeTaskDefinition, no task is started and the Dagster run
ends FAILURE (the policy is restored after each); the launcher's own RunTask request is refused
for another family (the daemon's revision) and in another cluster.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from ansible_collections.leverslabs.asset_manager.tests.harness import (
    ansible_env,
    reset_auth,
    running_emulator,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REGION = "us-west-1"
TASK_ROLE = "fulcrum-ecs-task-role"
TASK_POLICY = "asset-manager-run-launcher"
ADMIN = "asset-manager-test-admin"
OTHER_CLUSTER = "asset-manager-other"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# The statements the launcher's launch needs, and the action each one allows.
NEEDED = {
    "RunTheRunFamilyInTheCluster": "ecs:RunTask",
    "TagRunTasksAtLaunch": "ecs:TagResource",
    "PassTheTaskRolesToEcs": "iam:PassRole",
    "ReadTaskDefinitions": "ecs:DescribeTaskDefinition",
}


def _sibling(name: str):
    """A test module of this directory, imported for its helpers (its tests are not collected
    again: only its module object is bound here)."""
    spec = importlib.util.spec_from_file_location(
        f"_asset_manager_{name}", Path(__file__).with_name(f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_launcher = _sibling("test_run_launcher")


# This file's own emulator and the fixtures of tests/conftest.py that name the emulator, module
# scoped: the session's emulator is never touched (nor started) by this file.
@pytest.fixture(scope="module")
def emulator(tmp_path_factory, local_docker):
    """An emulator for this file only, whose ECR answers for the session's registry."""
    registry = "http://" + local_docker["ASSET_MANAGER_REGISTRY"]
    with running_emulator(tmp_path_factory.mktemp("emulator-iam"), registry) as running:
        yield running.url


@pytest.fixture(scope="module")
def aws_env(emulator):
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": emulator,
    }


def client_factory(endpoint: str, **credentials):
    session = boto3.session.Session(region_name=REGION)
    credentials = credentials or {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return lambda service: session.client(service, endpoint_url=endpoint, **credentials)


@pytest.fixture(scope="module")
def boto3_client(emulator):
    """Clients with moto's unchecked test credentials (refused once IAM is enforced)."""
    return client_factory(emulator)


@pytest.fixture(scope="module")
def run_site(aws_env, emulator):
    def run(*args, playbook="site.yml"):
        env = ansible_env(**aws_env, ASSET_MANAGER_ENDPOINT_URL=emulator)
        cmd = ["ansible-playbook", "-i", str(ROOT / "inventories/local"), str(ROOT / playbook)]
        return subprocess.run(
            [*cmd, *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
        )

    return run


@pytest.fixture(scope="module")
def seeded(run_site):
    proc = run_site(playbook="playbooks/emulator_prerequisites.yml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def stack(seeded, run_site, push_image, tmp_path_factory):
    """The stack deployed as test_run_launcher.py deploys it (not torn down: the emulator goes)."""
    return run_launcher.deploy_stack(run_site, push_image, tmp_path_factory)


@pytest.fixture(scope="module")
def admin(stack, boto3_client, emulator):
    """Client factory for an admin user (inline policy "*"), made before IAM is enforced."""
    iam = boto3_client("iam")
    iam.create_user(UserName=ADMIN)
    iam.put_user_policy(UserName=ADMIN, PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
    return client_factory(
        emulator, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )


@pytest.fixture(scope="module")
def task_role(stack, boto3_client, aws_env):
    """The task role's ARN and a session of it, as the AWS environment of a process that has
    the role's credentials (assumed before IAM is enforced, its trust policy as deployed)."""
    arn = boto3_client("iam").get_role(RoleName=TASK_ROLE)["Role"]["Arn"]
    credentials = boto3_client("sts").assume_role(
        RoleArn=arn, RoleSessionName="asset-manager-daemon"
    )["Credentials"]
    env = {
        **aws_env,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
    return {"arn": arn, "env": env, "session": f"assumed-role/{TASK_ROLE}/asset-manager-daemon"}


@pytest.fixture(scope="module")
def enforced(emulator, admin, task_role):
    """The emulator enforces IAM from here to the end of this file's tests, then no longer."""
    reset_auth(emulator, "0")
    try:
        yield
    finally:
        reset_auth(emulator, "inf")


def role_client(task_role, service: str):
    env = task_role["env"]
    return client_factory(
        env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )(service)


def launch(stack, admin, task_role, tmp_path_factory) -> dict:
    """test_run_launcher.py's launch, the launcher holding the task role's credentials."""
    return run_launcher.launch_run(
        stack, admin("ecs"), admin("ssm"), task_role["env"], tmp_path_factory
    )


def run_tasks(admin) -> list[str]:
    return admin("ecs").list_tasks(cluster=run_launcher.CLUSTER)["taskArns"]


def access_denied(error: botocore.exceptions.ClientError | str, action: str, task_role) -> str:
    """The message of ECS's AccessDeniedException to the task role for `action`."""
    if isinstance(error, botocore.exceptions.ClientError):
        assert error.response["Error"]["Code"] == "AccessDeniedException", error.response
        error = error.response["Error"]["Message"]
    else:
        assert "AccessDeniedException" in error, error
    refusal = f"{task_role['session']} is not authorized to perform: {action} on resource: "
    assert refusal in error, error
    return error


@pytest.fixture(scope="module")
def launched(enforced, stack, admin, task_role, tmp_path_factory):
    """One run launched with the task role's credentials and the deployed policy."""
    return launch(stack, admin, task_role, tmp_path_factory)


def test_iam_is_enforced(enforced, boto3_client, task_role):
    """The unchecked test credentials are refused, and the task role may do only what its
    policies allow (it has no ecs:RegisterTaskDefinition, no ecs:ListClusters)."""
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidClientTokenId"):
        boto3_client("ecs").list_clusters()
    ecs = role_client(task_role, "ecs")
    for call in (
        ecs.list_clusters,
        lambda: ecs.register_task_definition(
            family=run_launcher.RUN_FAMILY, containerDefinitions=[{"name": "x", "image": "x"}]
        ),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            call()
        access_denied(refused.value, f"ecs:{refused.value.operation_name}", task_role)


def test_the_deployed_policy_lets_the_launcher_launch(launched, admin):
    from dagster import DagsterRunStatus

    run = launched["run"]
    assert run.status == DagsterRunStatus.STARTING, launched["failure"]
    calls = launched["calls"]
    assert calls.operations() == [("ecs", "DescribeTaskDefinition"), ("ecs", "RunTask")]
    request = calls.only("ecs", "RunTask")
    assert request["taskDefinition"] == launched["env"]["DAGSTER_RUN_TASK_DEFINITION"]
    assert {t["key"] for t in request["tags"]} == {"dagster/run_id", "dagster/job_name"}
    (task,) = admin("ecs").describe_tasks(
        cluster=run_launcher.CLUSTER, tasks=[run.tags["ecs/task_arn"]], include=["TAGS"]
    )["tasks"]
    assert task["taskDefinitionArn"] == request["taskDefinition"]
    assert {"key": "dagster/run_id", "value": run.run_id} in task["tags"]


@pytest.fixture
def without(request, enforced, admin):
    """The task role's policy without the statement `request.param` while the test runs; the
    deployed document is put back afterwards."""
    iam = admin("iam")
    deployed = iam.get_role_policy(RoleName=TASK_ROLE, PolicyName=TASK_POLICY)["PolicyDocument"]
    sids = [s.get("Sid") for s in deployed["Statement"]]
    assert request.param in sids, sids
    reduced = copy.deepcopy(deployed)
    reduced["Statement"] = [s for s in reduced["Statement"] if s.get("Sid") != request.param]
    iam.put_role_policy(
        RoleName=TASK_ROLE, PolicyName=TASK_POLICY, PolicyDocument=json.dumps(reduced)
    )
    try:
        yield request.param
    finally:
        iam.put_role_policy(
            RoleName=TASK_ROLE, PolicyName=TASK_POLICY, PolicyDocument=json.dumps(deployed)
        )
        restored = iam.get_role_policy(RoleName=TASK_ROLE, PolicyName=TASK_POLICY)
        assert restored["PolicyDocument"] == deployed


@pytest.mark.parametrize("without", list(NEEDED), indirect=True)
def test_a_launch_without_a_needed_statement_fails(
    without, stack, admin, task_role, tmp_path_factory
):
    from dagster import DagsterRunStatus

    action = NEEDED[without]
    before = run_tasks(admin)
    failed = launch(stack, admin, task_role, tmp_path_factory)
    run = failed["run"]
    assert run.status == DagsterRunStatus.FAILURE, (run.status, failed["failure"])
    assert "ecs/task_arn" not in run.tags
    access_denied(failed["failure"], action, task_role)
    # The refused call was the launch's last: the launcher's constructor reads the run revision,
    # the launch runs it (ecs:TagResource and iam:PassRole are authorised within RunTask).
    refused = "DescribeTaskDefinition" if action == "ecs:DescribeTaskDefinition" else "RunTask"
    assert failed["calls"].operations()[-1] == ("ecs", refused), failed["calls"].made
    assert run_tasks(admin) == before, "a refused launch started a task"


def test_run_task_of_another_family_or_cluster_is_refused(launched, admin, task_role):
    """The launcher's own RunTask request, made with the task role's credentials: as made it
    starts a task; naming the daemon's revision instead, or another cluster, it is refused."""
    request = copy.deepcopy(launched["calls"].only("ecs", "RunTask"))
    request.pop("clientToken", None)
    ecs = role_client(task_role, "ecs")
    assert ecs.run_task(**request)["tasks"][0]["taskDefinitionArn"] == request["taskDefinition"]

    daemon = admin("ecs").describe_services(
        cluster=run_launcher.CLUSTER, services=[run_launcher.DAEMON]
    )["services"][0]["taskDefinition"]
    admin("ecs").create_cluster(clusterName=OTHER_CLUSTER)
    before = run_tasks(admin)
    for changed, resource in (
        ({"taskDefinition": daemon}, daemon),
        ({"cluster": OTHER_CLUSTER}, request["taskDefinition"]),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            ecs.run_task(**{**request, **changed})
        message = access_denied(refused.value, "ecs:RunTask", task_role)
        assert f"on resource: {resource} " in message, message
    assert run_tasks(admin) == before
    assert admin("ecs").list_tasks(cluster=OTHER_CLUSTER)["taskArns"] == []
