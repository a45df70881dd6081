"""The image role against a real Docker engine and a real registry standing in for ECR's endpoint
(the local_docker fixture), with the ECR repository from the emulator's prerequisites.

Build and push give the digest the registry itself reports, and the ECR URI at that digest; the
same tag again changes nothing; two tags are two digests; check mode builds and pushes nothing;
bad input is refused before any push or AWS write; the registry password never reaches the output.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request

import pytest

PLAYBOOK = "tests/integration/playbooks/image.yml"
REPOSITORY = "asset-manager"
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


def changed(proc) -> int:
    return int(re.search(r"changed=(\d+)", proc.stdout.rsplit("PLAY RECAP", 1)[-1]).group(1))


def ran(proc, task: str) -> bool:
    """Whether the task ran: its header, then a result before the next header (skipped tasks are
    not shown, display_skipped_hosts is off; -vvv adds lines between header and result)."""
    header = rf"^TASK \[[^\]]*{re.escape(task)}\] \**\n"
    return bool(re.search(header + r"(?:(?!TASK \[).*\n)*?(ok|changed): ", proc.stdout, re.M))


def outputs(proc) -> dict:
    """The role's output facts, as the playbook's last task shows them."""
    shown = proc.stdout.rsplit("TASK [Show the outputs]", 1)[-1]
    found = {}
    for name in ("image_digest", "image_reference"):
        match = re.search(rf"^\s*{name}: (.*)$", shown, re.MULTILINE)
        assert match, shown
        found[name] = match.group(1).strip().strip("'\"")
    for name in ("scan_on_push", "tag_immutability"):
        found[name] = re.search(rf"^\s*{name}: (\w+)$", shown, re.MULTILINE).group(1) == "true"
    return found


def registry_digest(registry: str, tag: str) -> str | None:
    """The digest the registry itself reports for asset-manager:<tag>, None when it has no tag."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{REPOSITORY}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers["Docker-Content-Digest"]
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def registry_tags(registry: str) -> list[str]:
    try:
        with urllib.request.urlopen(
            f"http://{registry}/v2/{REPOSITORY}/tags/list", timeout=10
        ) as response:
            return json.load(response).get("tags") or []
    except urllib.error.HTTPError as error:
        if error.code == 404:  # nothing pushed yet
            return []
        raise


@pytest.fixture(scope="module")
def image(seeded, run_site, local_docker, tmp_path_factory):
    """Run the role's test playbook with the session's engine and registry. Docker's login file
    goes to a directory of this test module, never to the user's ~/.docker."""
    env = {**local_docker, "DOCKER_CONFIG": str(tmp_path_factory.mktemp("docker-config"))}

    def run(*args):
        return run_site(*args, playbook=PLAYBOOK, env=env)

    return run


@pytest.fixture(scope="module")
def repository_uri(seeded, boto3_client):
    described = boto3_client("ecr").describe_repositories(repositoryNames=[REPOSITORY])
    return described["repositories"][0]["repositoryUri"]


@pytest.fixture(scope="module")
def first_push(image):
    proc = image("-e", "image_tag=img-a")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def test_push_gives_the_registry_digest_and_the_ecr_reference(
    first_push, local_docker, repository_uri
):
    found = outputs(first_push)
    digest = registry_digest(local_docker["ASSET_MANAGER_REGISTRY"], "img-a")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert found["image_digest"] == digest
    # The ECR repository's URI, not the stand-in registry: task definitions name ECR.
    assert found["image_reference"] == f"{repository_uri}@{digest}"
    assert found["scan_on_push"] is False and found["tag_immutability"] is False
    assert "scan on push off, tag immutability off" in " ".join(first_push.stdout.split())


def test_the_same_tag_again_changes_nothing(first_push, image):
    again = image("-e", "image_tag=img-a")
    assert again.returncode == 0, again.stdout[-4000:]
    assert changed(again) == 0, again.stdout[-4000:]
    assert outputs(again) == outputs(first_push)
    # No build, no login, no push ran (the first run shows them).
    for task in (
        "Build the image from the context",
        "Log in to the registry",
        "Push the tag to the registry",
    ):
        assert ran(first_push, task), first_push.stdout[-4000:]
        assert not ran(again, task), again.stdout[-4000:]


def test_two_tags_are_two_digests(first_push, image, local_docker):
    second = image("-e", "image_tag=img-b")
    assert second.returncode == 0, second.stdout[-4000:]
    registry = local_docker["ASSET_MANAGER_REGISTRY"]
    digest_a, digest_b = outputs(first_push)["image_digest"], outputs(second)["image_digest"]
    assert digest_b == registry_digest(registry, "img-b")
    assert digest_a == registry_digest(registry, "img-a")
    assert digest_a != digest_b


def test_check_mode_builds_and_pushes_nothing(first_push, image, local_docker):
    registry = local_docker["ASSET_MANAGER_REGISTRY"]
    plan = image("-e", "image_tag=img-never-built", "--check")
    assert plan.returncode == 0, plan.stdout[-4000:]
    flat = " ".join(plan.stdout.split())
    assert "img-never-built would be built from" in flat and "would be pushed" in flat, flat
    assert outputs(plan)["image_digest"] == "" and outputs(plan)["image_reference"] == ""
    assert "img-never-built" not in registry_tags(registry)
    # A pushed tag plans no change and knows its digest.
    known = image("-e", "image_tag=img-a", "--check")
    assert known.returncode == 0 and changed(known) == 0, known.stdout[-4000:]
    assert outputs(known)["image_digest"] == registry_digest(registry, "img-a")


@pytest.mark.parametrize(
    ("args", "variable", "offline"),
    [
        (["-e", "image_dockerfile=Nope.Dockerfile"], "image_dockerfile", True),
        (["-e", "image_tag='has space'"], "image_tag", True),
        (["-e", "asset_manager_ecr_repository=nope"], "asset_manager_ecr_repository", False),
    ],
    ids=["missing Dockerfile", "tag with a space", "missing repository"],
)
def test_bad_input_is_refused_before_any_push_or_write(
    image, local_docker, aws_tasks, args, variable, offline
):
    proc = image("-e", "image_tag=img-refused", *args)
    assert proc.returncode != 0
    flat = " ".join((proc.stdout + proc.stderr).split())
    assert variable in flat, flat[-3000:]
    assert "img-refused" not in registry_tags(local_docker["ASSET_MANAGER_REGISTRY"])
    if offline:
        assert "Nothing was built, pushed or written to AWS." in flat
        assert aws_tasks(proc.stdout) == []
    else:
        # Only the read-only lookup ran: it found the repository missing.
        assert [h for h in aws_tasks(proc.stdout) if "Look up" not in h] == []
        assert "not found" in flat


def test_the_registry_password_never_reaches_the_output(first_push, image, boto3_client):
    token = boto3_client("ecr").get_authorization_token()["authorizationData"][0][
        "authorizationToken"
    ]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    # A new tag: the login, the push and both registry requests run, all at -vvv.
    proc = image("-e", "image_tag=img-vvv", "-vvv")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert ran(proc, "Push the tag to the registry"), proc.stdout[-4000:]
    output = proc.stdout + proc.stderr
    assert password not in output
    assert token not in output
    assert "censored" in output
