"""Shared pytest fixtures: the collection on sys.path, and a private emulator for the session."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".collections"
# `ansible_collections.leverslabs.asset_manager` resolves to this checkout (make links it).
sys.path.insert(0, str(COLLECTIONS))
sys.path.insert(0, str(ROOT / "emulator"))

from ansible_collections.leverslabs.asset_manager.tests.harness import (  # noqa: E402
    ansible_env,
    running_emulator,
)

REGION = "us-west-1"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def local_docker(tmp_path_factory):
    """A Docker engine and a registry on loopback for this test session (scripts/local_docker.sh),
    standing in for the build host and ECR's registry endpoint; yields their settings:
    DOCKER_HOST and ASSET_MANAGER_REGISTRY (host:port). Stopped by pid at the end."""
    script = ROOT / "scripts/local_docker.sh"
    check = subprocess.run([str(script), "check"], capture_output=True, text=True, check=False)
    if check.returncode:
        pytest.exit(check.stderr.strip(), returncode=1)
    state = tmp_path_factory.mktemp("docker")
    proc = subprocess.run(
        [str(script), "start", str(state)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    settings = dict(line.split("=", 1) for line in proc.stdout.split())
    yield settings
    subprocess.run([str(script), "stop", str(state)], check=True, capture_output=True)


@pytest.fixture(scope="session")
def push_image(local_docker, tmp_path_factory):
    """Build a small image (FROM scratch, its tag in a file, so each tag has its own digest) with
    the session's Docker engine, push it as asset-manager:<tag> to the session's registry, which
    the emulator's ECR answers for, and return its digest. What a CI job does before a deploy."""
    registry = local_docker["ASSET_MANAGER_REGISTRY"]
    env = {**os.environ, "DOCKER_HOST": local_docker["DOCKER_HOST"]}
    pushed = {}

    def push(tag: str, repository: str = "asset-manager") -> str:
        if (repository, tag) in pushed:
            return pushed[repository, tag]
        context = tmp_path_factory.mktemp("image")
        (context / "release.txt").write_text(tag + "\n")
        (context / "Dockerfile").write_text("FROM scratch\nCOPY release.txt /\n")
        name = f"{registry}/{repository}:{tag}"
        for cmd in (["docker", "build", "-q", "-t", name, str(context)], ["docker", "push", name]):
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", proc.stdout).group(1)
        pushed[repository, tag] = digest
        return digest

    return push


@pytest.fixture(scope="session")
def emulator(tmp_path_factory, local_docker):
    """A fresh emulator on a free port for this test session; yields its endpoint URL. Its ECR
    API answers for the images pushed to this session's registry, as ECR's does for its own.

    Never touches an emulator that `make deploy-local` left on 4566.
    """
    port = int(os.environ.get("ASSET_MANAGER_TEST_EMULATOR_PORT") or 0) or None
    registry = "http://" + local_docker["ASSET_MANAGER_REGISTRY"]
    with running_emulator(tmp_path_factory.mktemp("emulator"), registry, port) as running:
        yield running.url


@pytest.fixture(scope="session")
def aws_env(emulator):
    """Environment for boto3 clients and ansible runs pointed at the emulator."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": emulator,
    }


@pytest.fixture(scope="session")
def boto3_client(aws_env):
    """Factory of boto3 clients for the emulator."""
    import boto3

    def make(service: str):
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=aws_env["AWS_ENDPOINT_URL"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


class TaskRun:
    """Result of one ansible task run: the module result and the whole console output."""

    def __init__(self, result: dict, output: str, rc: int):
        self.result = result
        self.output = output
        self.rc = rc

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))


def run_play(play: list, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run plays given as data with ansible-playbook on localhost, with the project's ansible.cfg
    and collections; `args` are more ansible-playbook arguments, `env` extra variables."""
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "play.json"
        playbook.write_text(json.dumps(play))
        cmd = [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            "ansible_python_interpreter=" + sys.executable,
            *args,
            str(playbook),
        ]
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=ansible_env(**(env or {})),
            cwd=ROOT,
            check=False,
        )


@pytest.fixture(scope="session")
def local_play():
    """run_play, for test modules (conftest is not importable under --import-mode=importlib)."""
    return run_play


@pytest.fixture(scope="session")
def run_task(aws_env):
    """Run one module as a task through ansible-playbook against the emulator.

    AWS connection settings reach the module through the collection's action group, exactly as
    in the site playbook. Returns a TaskRun; `verbosity` adds -v flags and `extra_env` is merged in.
    """

    def run(module, args, check=False, diff=False, verbosity=0, no_log=False, extra_env=None):
        play = [
            {
                "hosts": "localhost",
                "gather_facts": False,
                "module_defaults": {
                    "group/leverslabs.asset_manager.aws": {
                        "region": REGION,
                        "endpoint_url": aws_env["AWS_ENDPOINT_URL"],
                        "access_key": "testing",
                        "secret_key": "testing",
                    }
                },
                "tasks": [
                    {
                        "name": "Run the module under test",
                        module: args,
                        "register": "r",
                        "no_log": no_log,
                        "ignore_errors": True,
                    },
                    {
                        "name": "Emit the result",
                        "ansible.builtin.copy": {
                            "content": "{{ r | to_json }}",
                            "dest": "{{ result_file }}",
                        },
                        "no_log": True,
                        "check_mode": False,
                        "diff": False,
                    },
                ],
            }
        ]
        flags = [flag for flag, on in (("--check", check), ("--diff", diff)) if on]
        if verbosity:
            flags.append("-" + "v" * verbosity)
        with tempfile.TemporaryDirectory() as tmp:
            result_file = Path(tmp) / "result.json"
            proc = run_play(
                play,
                "-e",
                f"result_file={result_file}",
                *flags,
                env={**aws_env, **(extra_env or {})},
            )
            output = proc.stdout + proc.stderr
            if not result_file.exists():
                raise AssertionError(f"ansible-playbook did not run the task:\n{output}")
            result = json.loads(result_file.read_text())
        return TaskRun(result, output, proc.returncode)

    return run


@pytest.fixture(scope="session")
def run_site(aws_env, emulator):
    """Run site.yml (or another `playbook` of the project) against this session's emulator, with
    `env` added to the environment (over the emulator's settings: a proxy's endpoint, for
    example); returns the CompletedProcess."""

    def run(*args, inventory=ROOT / "inventories/local", playbook="site.yml", env=None):
        env = ansible_env(**{**aws_env, "ASSET_MANAGER_ENDPOINT_URL": emulator, **(env or {})})
        cmd = ["ansible-playbook", "-i", str(inventory), str(ROOT / playbook), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)

    return run


@pytest.fixture(scope="session")
def seeded(run_site):
    """This session's emulator holds the guide's prerequisites (VPC, subnets, cluster, roles, ...),
    which every site run's pre-flight requires."""
    proc = run_site(playbook="playbooks/emulator_prerequisites.yml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


# The pre-flight's own tasks: argument specs and offline checks. Any other task may call AWS.
_OFFLINE_TASK = re.compile(r"^TASK \[([^\]]*: )?(Validating arguments against arg spec|Check )")


@pytest.fixture(scope="session")
def aws_tasks():
    """The task headers of a run's output that are not pre-flight checks: a run refused before
    any AWS call shows none."""

    def headers(output: str) -> list[str]:
        return [
            line
            for line in output.splitlines()
            if line.startswith("TASK [") and not _OFFLINE_TASK.match(line)
        ]

    return headers
