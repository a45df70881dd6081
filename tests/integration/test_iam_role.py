"""The iam role against the emulator, through tests/integration/playbooks/iam.yml.

The two roles come from the emulator's prerequisites (`seeded`); the role only puts and removes
its two inline policies on them. Expected documents are built here from what boto3 reads (account,
role, cluster and repository ARNs), independently of the role's vars. The tests share the roles and
run in file order; each starts from the state it names.
"""

from __future__ import annotations

import json
import re

import pytest

PLAYBOOK = "tests/integration/playbooks/iam.yml"
REGION = "us-west-1"
EXECUTION_ROLE = "fulcrum-ecs-execution-role"
TASK_ROLE = "fulcrum-ecs-task-role"
TASK_POLICY = "asset-manager-run-launcher"
EXECUTION_POLICY = "asset-manager-task-execution"
# Someone else's inline policy on the task role: the role must never touch it.
UNRELATED = "someone-elses-policy"
UNRELATED_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
}


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.output = proc.stdout + proc.stderr
        # Messages as one line: the YAML callback folds long ones.
        self.flat = " ".join(self.output.split())
        recap = re.search(r"changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
        self.changed = int(recap.group(1)) if recap else None

    def diff_lines(self, sign):
        """The diff's added (+) or removed (-) lines, without the sign and indentation."""
        return [
            line[1:].strip()
            for line in self.stdout.splitlines()
            if line.startswith(sign) and not line.startswith(sign * 3)
        ]

    def __repr__(self):
        return self.output[-6000:]


@pytest.fixture(scope="module")
def play(run_site, seeded):
    def run(*args) -> Run:
        return Run(
            run_site(*args, playbook=PLAYBOOK, env={"ANSIBLE_DEPRECATION_WARNINGS": "false"})
        )

    return run


@pytest.fixture(scope="module")
def iam(boto3_client):
    return boto3_client("iam")


@pytest.fixture(scope="module")
def stack(boto3_client, iam, seeded):
    """The ARNs the policies must name, read with boto3."""
    account = boto3_client("sts").get_caller_identity()["Account"]
    cluster = boto3_client("ecs").describe_clusters(clusters=["asset-manager"])["clusters"][0]
    repository = boto3_client("ecr").describe_repositories(repositoryNames=["asset-manager"])
    return {
        "account": account,
        "execution_role": iam.get_role(RoleName=EXECUTION_ROLE)["Role"]["Arn"],
        "task_role": iam.get_role(RoleName=TASK_ROLE)["Role"]["Arn"],
        "cluster": cluster["clusterArn"],
        "repository": repository["repositories"][0]["repositoryArn"],
    }


def inline_policies(iam, role):
    """{name: document} of a role's inline policies."""
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in names
    }


def no_inline_policies(iam):
    """Neither role holds any inline policy: nothing was written, under any name."""
    return inline_policies(iam, EXECUTION_ROLE) == inline_policies(iam, TASK_ROLE) == {}


def ours(iam):
    return {
        "execution": inline_policies(iam, EXECUTION_ROLE).get(EXECUTION_POLICY),
        "task": inline_policies(iam, TASK_ROLE).get(TASK_POLICY),
    }


@pytest.fixture
def clean(iam):
    """Start without the role's two policies."""
    for role, name in ((EXECUTION_ROLE, EXECUTION_POLICY), (TASK_ROLE, TASK_POLICY)):
        if name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role, PolicyName=name)


def expected_task_statements(s, secrets=False):
    arn = f"arn:aws:ecs:{REGION}:{s['account']}"
    ssm = f"arn:aws:ssm:{REGION}:{s['account']}:parameter/asset-manager"
    logs = f"arn:aws:logs:{REGION}:{s['account']}:log-group:fulcrum/asset-manager"
    statements = [
        {
            "Sid": "RunTheRunFamilyInTheCluster",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": f"{arn}:task-definition/asset-manager-run:*",
            "Condition": {"ArnEquals": {"ecs:cluster": s["cluster"]}},
        },
        {
            "Sid": "WatchAndStopRunTasks",
            "Effect": "Allow",
            "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
            "Resource": f"{arn}:task/asset-manager/*",
        },
        {
            "Sid": "ReadTaskDefinitions",
            "Effect": "Allow",
            "Action": "ecs:DescribeTaskDefinition",
            "Resource": "*",
        },
        {
            "Sid": "TagRunTasksAtLaunch",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": f"{arn}:task/asset-manager/*",
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        },
        {
            "Sid": "ReadNetworkInterfaces",
            "Effect": "Allow",
            "Action": "ec2:DescribeNetworkInterfaces",
            "Resource": "*",
        },
        {
            "Sid": "PassTheTaskRolesToEcs",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [s["execution_role"], s["task_role"]],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "ListTheArtifactsBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::asset-manager-artifacts",
        },
        {
            "Sid": "ReadWriteArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": "arn:aws:s3:::asset-manager-artifacts/*",
        },
        {
            "Sid": "ReadParameters",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters"],
            "Resource": f"{ssm}/*",
        },
        {
            "Sid": "ReadParametersByPath",
            "Effect": "Allow",
            "Action": "ssm:GetParametersByPath",
            "Resource": [ssm, f"{ssm}/*"],
        },
        {
            "Sid": "ReadRunLogs",
            "Effect": "Allow",
            "Action": "logs:GetLogEvents",
            "Resource": f"{logs}/runs:*",
        },
    ]
    if secrets:
        statements.append(
            {
                "Sid": "ListTaggedSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:ListSecrets",
                "Resource": "*",
            }
        )
    return statements


def expected_execution_statements(s, secrets=False):
    logs = f"arn:aws:logs:{REGION}:{s['account']}:log-group:fulcrum/asset-manager"
    services = [f"ssm.{REGION}.amazonaws.com"] + (
        [f"secretsmanager.{REGION}.amazonaws.com"] if secrets else []
    )
    statements = [
        {
            "Sid": "GetEcrAuthorizationToken",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "PullTheImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
            ],
            "Resource": s["repository"],
        },
        {
            "Sid": "WriteContainerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{logs}/web:*", f"{logs}/daemon:*", f"{logs}/runs:*"],
        },
        {
            "Sid": "ReadContainerSecrets",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": f"arn:aws:ssm:{REGION}:{s['account']}:parameter/asset-manager/*",
        },
        {
            "Sid": "DecryptParametersAndSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": f"arn:aws:kms:{REGION}:{s['account']}:key/*",
            "Condition": {"StringEquals": {"kms:ViaService": services}},
        },
    ]
    if secrets:
        statements.append(
            {
                "Sid": "ReadTaggedSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": f"arn:aws:secretsmanager:{REGION}:{s['account']}:secret:*",
                "Condition": {"Null": {"aws:ResourceTag/dagster": "false"}},
            }
        )
    return statements


def expected(s, secrets=False):
    return {
        "execution": {
            "Version": "2012-10-17",
            "Statement": expected_execution_statements(s, secrets),
        },
        "task": {"Version": "2012-10-17", "Statement": expected_task_statements(s, secrets)},
    }


def test_policies_hold_exactly_the_statements(play, iam, stack, clean):
    first = play()
    assert first.rc == 0, first
    assert first.changed == 1, first  # one task, both roles
    assert ours(iam) == expected(stack)
    # IAM counts a policy without whitespace; both are far below its 10,240 characters.
    for document in ours(iam).values():
        assert len(re.sub(r"\s", "", json.dumps(document))) < 3000


def test_rerun_changes_nothing(play):
    again = play("--diff")
    assert again.rc == 0, again
    assert again.changed == 0, again
    assert again.diff_lines("+") == again.diff_lines("-") == [], again


def compact_size(document) -> int:
    """A policy's size as IAM counts it: without whitespace."""
    return len(re.sub(r"\s", "", json.dumps(document)))


ROLE_PATH = "/" + "p" * 60 + "/"


@pytest.fixture
def pathed_roles(iam, stack):
    """Two roles under a role path, {purpose: (name, ARN)}: their real ARNs are longer than the
    ones the pre-flight measures with (role/<name>)."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    roles = {}
    for purpose in ("execution", "task"):
        name = f"pathed-{purpose}-role"
        role = iam.create_role(RoleName=name, Path=ROLE_PATH, AssumeRolePolicyDocument=trust)
        roles[purpose] = (name, role["Role"]["Arn"])
    yield roles
    for name, _arn in roles.values():
        iam.delete_role(RoleName=name)


def test_a_role_path_that_outgrows_the_limit_is_refused_before_any_write(
    play, iam, stack, pathed_roles
):
    # An extra statement that brings the task policy, with role/<name> ARNs, to 10 characters
    # under IAM's 10,240: the pre-flight passes; the real ARNs, 60 characters longer each, do not.
    implied = dict(stack, **{f"{p}_role": arn.replace(ROLE_PATH, "/")
                             for p, (_name, arn) in pathed_roles.items()})  # fmt: skip
    pad = {"Sid": "", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    pad["Sid"] = "P" * (
        10230 - compact_size({"Version": "2012-10-17",
                              "Statement": expected_task_statements(implied) + [pad]})
    )  # fmt: skip
    names = {f"asset_manager_{p}_role_name": name for p, (name, _arn) in pathed_roles.items()}
    plan = play("--check", "-e", json.dumps({**names, "iam_task_extra_statements": [pad]}))
    assert plan.rc != 0, plan
    size = re.search(r"would be (\d+) characters without whitespace", plan.flat)
    assert size and int(size.group(1)) > 10240, plan
    assert "Check the policy sizes with the roles' real ARNs" in plan.flat, plan
    for name, _arn in pathed_roles.values():
        assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []


def test_check_mode_on_new_policies_writes_nothing(play, iam, clean):
    plan = play("--check", "--diff")
    assert plan.rc == 0, plan
    assert plan.changed == 1, plan
    added = plan.diff_lines("+")
    for name in (TASK_POLICY, EXECUTION_POLICY):
        assert f"{name}:" in added, plan
    assert "Sid: RunTheRunFamilyInTheCluster" in added, plan
    assert no_inline_policies(iam), "check mode wrote a policy"


def test_check_mode_diff_shows_exactly_the_change(play, iam, stack):
    assert play().rc == 0
    before = ours(iam)
    plan = play("--check", "--diff", "-e", "iam_secrets_manager=true")
    assert plan.rc == 0, plan
    assert plan.changed == 1, plan
    # Only additions: the two Secrets Manager statements and Secrets Manager as a KMS caller.
    assert plan.diff_lines("-") == [], plan
    added = plan.diff_lines("+")
    assert {line for line in added if line.startswith("Sid:")} == {
        "Sid: ListTaggedSecrets",
        "Sid: ReadTaggedSecrets",
    }, plan
    assert f"- secretsmanager.{REGION}.amazonaws.com" in added, plan
    assert ours(iam) == before, "check mode wrote a policy"


def test_secrets_manager_statements(play, iam, stack):
    applied = play("-e", "iam_secrets_manager=true")
    assert applied.rc == 0, applied
    assert ours(iam) == expected(stack, secrets=True)
    again = play("-e", "iam_secrets_manager=true")
    assert again.changed == 0, again
    off = play()
    assert off.changed == 1, off
    assert ours(iam) == expected(stack)


def test_absent_removes_only_the_roles_policies(play, iam, stack):
    assert play().rc == 0
    iam.put_role_policy(
        RoleName=TASK_ROLE, PolicyName=UNRELATED, PolicyDocument=json.dumps(UNRELATED_DOCUMENT)
    )
    try:
        plan = play("--check", "-e", "iam_state=absent")
        assert plan.changed == 1, plan
        assert ours(iam) == expected(stack), "check mode removed a policy"

        removed = play("-e", "iam_state=absent")
        assert removed.rc == 0, removed
        assert removed.changed == 1, removed
        assert ours(iam) == {"execution": None, "task": None}
        assert inline_policies(iam, TASK_ROLE) == {UNRELATED: UNRELATED_DOCUMENT}
        # The roles themselves stay: the collection never deletes them.
        assert iam.get_role(RoleName=EXECUTION_ROLE)["Role"]["Arn"] == stack["execution_role"]

        again = play("-e", "iam_state=absent")
        assert again.rc == 0, again
        assert again.changed == 0, again

        # Put back, the unrelated policy is still left alone.
        assert play().rc == 0
        assert inline_policies(iam, TASK_ROLE) == {
            UNRELATED: UNRELATED_DOCUMENT,
            TASK_POLICY: expected(stack)["task"],
        }
    finally:
        iam.delete_role_policy(RoleName=TASK_ROLE, PolicyName=UNRELATED)


@pytest.mark.parametrize("state", ["present", "absent"])
def test_not_managed_makes_no_aws_call(play, iam, aws_tasks, clean, state):
    proc = play("-e", "iam_manage=false", "-e", f"iam_state={state}")
    assert proc.rc == 0, proc
    assert proc.changed == 0, proc
    assert aws_tasks(proc.stdout) == [], proc
    assert no_inline_policies(iam)


def test_unknown_role_is_refused_before_any_write(play, iam, aws_tasks, clean):
    proc = play("-e", "asset_manager_task_role_name=nope")
    assert proc.rc != 0, proc
    assert (
        "Missing, before any change: IAM task role 'nope' not found "
        "(variables asset_manager_task_role_name)." in proc.flat
    ), proc
    # Only the read-only lookup ran: the execution role, which exists, got nothing either.
    assert all("Look up" in header for header in aws_tasks(proc.stdout)), proc
    assert no_inline_policies(iam)


LONG_PREFIX = "/" + "p" * 3000
TOO_BIG = [
    {
        "Sid": "TooBig",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": [f"arn:aws:s3:::bucket-{n:04d}/*" for n in range(400)],
    }
]


@pytest.mark.parametrize(
    "args, message, variable",
    [
        (
            # SSM's own limit refuses such a prefix first (asset_manager's check, 900 at most),
            # before it could make the policies too large; extra-statements covers the size.
            ["-e", f"asset_manager_ssm_prefix={LONG_PREFIX}"],
            "is not an SSM path",
            "asset_manager_ssm_prefix",
        ),
        (
            ["-e", json.dumps({"iam_execution_extra_statements": TOO_BIG})],
            "The execution role policy (iam_execution_policy_name 'asset-manager-task-execution')"
            " would be",
            "iam_execution_extra_statements",
        ),
        (
            ["-e", json.dumps({"iam_task_policy_name": "run launcher"})],
            "iam_task_policy_name 'run launcher' is not a valid IAM policy name",
            "iam_task_policy_name",
        ),
        (
            ["-e", "iam_execution_policy_name=" + "x" * 129],
            "is not a valid IAM policy name: 1 to 128 of letters",
            "iam_execution_policy_name",
        ),
    ],
    ids=["long-ssm-prefix", "extra-statements", "name-with-space", "name-too-long"],
)
def test_bad_input_is_refused_before_any_aws_call(
    play, iam, aws_tasks, clean, args, message, variable
):
    proc = play(*args)
    assert proc.rc != 0, proc
    assert message in proc.flat, proc
    assert variable in proc.flat, proc
    if "would be" in message:
        assert "characters without whitespace, over IAM's 10240" in proc.flat, proc
    # Refused by the offline check, before the lookup.
    assert aws_tasks(proc.stdout) == [], proc
    assert no_inline_policies(iam)
