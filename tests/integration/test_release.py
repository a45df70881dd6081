"""The release cycle end to end: a real Docker engine builds, a real registry stands in for ECR's
endpoint (the emulator answers the ECR API from it), playbooks/release.yml deploys by digest.

Release A, then a site run: the services still run A's digest. Release B, roll back to A's
revisions: A's digest again. A release rerun changes nothing. The pushed digest is the one in all
three task definitions, and each release ends with a canary run of the run revision it registered.
A run revision whose image cannot be pulled fails the canary with ECS's stopped reason. Bad input
is refused before any push or AWS write.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

FAMILIES = ("asset-manager-run", "asset-manager-web", "asset-manager-daemon")
SERVICES = {"web": "asset-manager-web", "daemon": "asset-manager-daemon"}
CLUSTER = "asset-manager"
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)


def changed(proc) -> int:
    return int(re.search(r"changed=(\d+)", proc.stdout.rsplit("PLAY RECAP", 1)[-1]).group(1))


def registry_digest(registry: str, tag: str) -> str:
    """The digest the registry itself reports for asset-manager:<tag>."""
    request = urllib.request.Request(
        f"http://{registry}/v2/asset-manager/manifests/{tag}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Docker-Content-Digest"]


@pytest.fixture(scope="module")
def release(run_site, local_docker):
    """Run a playbook with the session's Docker engine and registry, as `make release-local`."""

    def run(*args, playbook="playbooks/release.yml"):
        return run_site(*args, playbook=playbook, env=local_docker)

    return run


@pytest.fixture(scope="module")
def stack(seeded, run_site, push_image, release):
    """A deployed stack (first deploy from a pushed image); torn down afterwards, so that the
    session's other test files find the emulator as seeded."""
    push_image("seed")
    proc = run_site("-e", "ecs_taskdefs_image_tag=seed")
    assert proc.returncode == 0, proc.stdout[-4000:]
    yield
    proc = release("-e", "teardown_confirm=local", playbook="playbooks/teardown.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]


def running(ecs):
    """{component: (task definition ARN, its image)} of what each service runs."""
    described = ecs.describe_services(cluster=CLUSTER, services=list(SERVICES.values()))
    result = {}
    for service in described["services"]:
        arn = service["taskDefinition"]
        definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        result[service["serviceName"]] = (arn, definition["containerDefinitions"][0]["image"])
    return result


def latest_images(ecs):
    return {
        family: ecs.describe_task_definition(taskDefinition=family)["taskDefinition"][
            "containerDefinitions"
        ][0]["image"]
        for family in FAMILIES
    }


def released_digest(proc) -> str:
    return re.search(r"is (sha256:[0-9a-f]{64}); revisions", " ".join(proc.stdout.split())).group(1)


def canary_line(proc) -> str:
    """The validation report's canary line, whitespace folded."""
    found = re.search(
        r"(PASSED|FAILED|SKIPPED) \| canary run \| .*?(?='? - (?:PASSED|FAILED|SKIPPED) \|)",
        " ".join(proc.stdout.split()),
    )
    assert found, proc.stdout[-4000:]
    return found.group(0)


def test_release_cycle(stack, release, run_site, boto3_client, local_docker):
    ecs = boto3_client("ecs")
    repository = boto3_client("ecr").describe_repositories(repositoryNames=["asset-manager"])
    uri = repository["repositories"][0]["repositoryUri"]

    # Release A: the digest the registry holds is the one every task definition names.
    a = release("-e", "release_tag=rel-a")
    assert a.returncode == 0, a.stdout[-4000:]
    digest_a = released_digest(a)
    assert digest_a == registry_digest(local_docker["ASSET_MANAGER_REGISTRY"], "rel-a")
    assert set(latest_images(ecs).values()) == {f"{uri}@{digest_a}"}
    after_a = running(ecs)
    assert {image for _arn, image in after_a.values()} == {f"{uri}@{digest_a}"}
    run_a = ecs.describe_task_definition(taskDefinition=FAMILIES[0])["taskDefinition"]
    revision_a = f"{run_a['family']}:{run_a['revision']}"
    assert canary_line(a).startswith(f"PASSED | canary run | {revision_a} exited 0"), canary_line(a)

    # The same command again: no rebuild, no push, no revision, no deployment.
    again = release("-e", "release_tag=rel-a")
    assert again.returncode == 0, again.stdout[-4000:]
    assert changed(again) == 0, again.stdout[-4000:]

    # A site run names no image: the services keep A.
    site = run_site()
    assert site.returncode == 0, site.stdout[-4000:]
    assert changed(site) == 0, site.stdout[-4000:]
    assert running(ecs) == after_a

    # Release B, then back to A's revisions: exactly A's image, and a site run keeps it.
    b = release("-e", "release_tag=rel-b")
    assert b.returncode == 0, b.stdout[-4000:]
    digest_b = released_digest(b)
    assert digest_b != digest_a
    assert {image for _arn, image in running(ecs).values()} == {f"{uri}@{digest_b}"}
    revisions = {name: arn.rsplit(":", 1)[1] for name, (arn, _image) in after_a.items()}
    back = release(
        "-e", f"rolling_update_web_revision={revisions[SERVICES['web']]}",
        "-e", f"rolling_update_daemon_revision={revisions[SERVICES['daemon']]}",
        playbook="playbooks/rolling_update.yml",
    )  # fmt: skip
    assert back.returncode == 0, back.stdout[-4000:]
    assert running(ecs) == after_a
    site = run_site()
    assert site.returncode == 0 and changed(site) == 0, site.stdout[-4000:]
    assert running(ecs) == after_a


def test_check_mode_plans_a_release_without_building(stack, release, boto3_client):
    ecs = boto3_client("ecs")
    before = running(ecs)
    plan = release("-e", "release_tag=rel-never-built", "--check", "--diff")
    assert plan.returncode == 0, plan.stdout[-4000:]
    assert canary_line(plan) == "SKIPPED | canary run | check mode starts no task"
    assert running(ecs) == before
    tags = boto3_client("ecr").describe_images(repositoryName="asset-manager")["imageDetails"]
    assert "rel-never-built" not in {t for image in tags for t in image.get("imageTags", [])}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", '{"release_tag": "has space"}'], "release_tag"),
        (["-e", "release_tag=rel-x", "-e", "image_dockerfile=Nope.Dockerfile"], "image_dockerfile"),
        (
            ["-e", "release_tag=rel-x", "-e", "asset_manager_ecr_repository=nope"],
            "asset_manager_ecr_repository",
        ),
    ],
    ids=["tag with a space", "missing Dockerfile", "missing repository"],
)  # fmt: skip
def test_bad_input_is_refused_before_any_push_or_write(
    stack, release, boto3_client, local_docker, aws_tasks, args, message
):
    ecs = boto3_client("ecs")
    before = (running(ecs), latest_images(ecs))
    proc = release(*args)
    assert proc.returncode != 0
    flat = " ".join((proc.stdout + proc.stderr).split())
    assert message in flat, flat[-3000:]
    assert (running(ecs), latest_images(ecs)) == before
    with urllib.request.urlopen(
        f"http://{local_docker['ASSET_MANAGER_REGISTRY']}/v2/asset-manager/tags/list", timeout=10
    ) as response:
        assert "rel-x" not in (json.load(response).get("tags") or [])
    # Only the read-only lookup may have run (the missing repository is found missing there).
    assert all("Look up" in header for header in aws_tasks(proc.stdout)), aws_tasks(proc.stdout)


def test_a_run_image_that_cannot_be_pulled_fails_the_canary_with_ecs_reason(
    stack, run_site, boto3_client
):
    ecs = boto3_client("ecs")
    uri = boto3_client("ecr").describe_repositories(repositoryNames=["asset-manager"])[
        "repositories"
    ][0]["repositoryUri"]
    missing = f"{uri}@sha256:{'0' * 64}"
    deployed = run_site("--tags", "workload", "-e", f"ecs_taskdefs_image={missing}")
    assert deployed.returncode == 0, deployed.stdout[-4000:]
    run = ecs.describe_task_definition(taskDefinition=FAMILIES[0])["taskDefinition"]
    assert run["containerDefinitions"][0]["image"] == missing

    proc = run_site(playbook="playbooks/validate.yml")
    assert proc.returncode != 0, proc.stdout[-4000:]
    line = canary_line(proc)
    assert line.startswith("FAILED | canary run | The canary task "), line
    assert f"of asset-manager-run:{run['revision']} stopped (TaskFailedToStart)" in line, line
    assert "CannotPullContainerError: pull image manifest has been retried" in line, line
    stream = re.search(
        r"Log stream fulcrum/asset-manager/runs run/asset-manager-run/([0-9a-f-]+)", line
    )
    assert stream, line
    task = ecs.describe_tasks(cluster=CLUSTER, tasks=[stream.group(1)])["tasks"][0]
    assert (task["lastStatus"], task["stopCode"]) == ("STOPPED", "TaskFailedToStart")
    assert task["overrides"]["containerOverrides"][0]["command"] == ["dagster", "--version"]
