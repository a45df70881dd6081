"""execution-environment.yml: the build context ansible-builder generates from it, without a build.

The definition and ee/ are copied next to a freshly built collection tarball (at .cache/build, where
`make build` writes it), so the test never writes into the checkout; `ansible-builder create` then
writes the context, and the collection is installed from that context the way the image's galaxy
stage does it: from the _build directory, through the requirements file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFINITION = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
TARBALL = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"


def run(*cmd, cwd, extra_env=None):
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", **(extra_env or {})}
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The build context `ansible-builder create` writes; returns its directory."""
    work = tmp_path_factory.mktemp("ee")
    source = work / "source"
    source.mkdir()
    shutil.copy(ROOT / "execution-environment.yml", source)
    shutil.copytree(ROOT / "ee", source / "ee")
    run(
        BIN / "ansible-galaxy",
        "collection",
        "build",
        "--output-path",
        source / ".cache/build",
        ROOT,
        cwd=ROOT,
    )
    context = work / "context"
    run(
        BIN / "ansible-builder",
        "create",
        "--file",
        source / "execution-environment.yml",
        "--context",
        context,
        "--output-filename",
        "Containerfile",
        cwd=work,
    )
    return context


def test_the_definition_uses_schema_version_3():
    assert DEFINITION["version"] == 3


def test_containerfile_builds_from_the_base_image(context):
    containerfile = (context / "Containerfile").read_text()
    image = DEFINITION["images"]["base_image"]["name"]
    assert f'ARG EE_BASE_IMAGE="{image}"' in containerfile
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    # ansible-core and ansible-runner from pip, at the pinned versions.
    refs = re.search(r'ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile).group(1).split()
    assert refs == [
        DEFINITION["dependencies"]["ansible_core"]["package_pip"],
        DEFINITION["dependencies"]["ansible_runner"]["package_pip"],
    ]
    assert all("==" in ref for ref in refs)


def test_requirement_files_are_copied_into_build(context):
    build = context / "_build"
    assert (build / "requirements.yml").read_text() == (ROOT / "ee/requirements.yml").read_text()
    assert (build / "requirements.txt").read_text() == (ROOT / "ee/requirements.txt").read_text()
    pins = {
        line.split("==")[0]: line.split("==")[1]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith(("boto3==", "botocore==", "mitogen=="))
    }
    ee_pins = dict(
        line.split("==")
        for line in (build / "requirements.txt").read_text().splitlines()
        if "==" in line
    )
    assert ee_pins == pins  # the EE runs the boto3 and mitogen the tests run against


def test_the_collection_tarball_is_in_the_context_under_the_name_the_requirements_use(context):
    tarball = context / "_build/collections" / TARBALL
    assert tarball.is_file()
    assert "MANIFEST.json" in tarfile.open(tarball).getnames()
    requirements = yaml.safe_load((context / "_build/requirements.yml").read_text())
    files = [c["name"] for c in requirements["collections"] if c.get("type") == "file"]
    assert files == [f"collections/{TARBALL}"]  # relative to _build, copied to /build
    pinned = {c["name"]: c["version"] for c in requirements["collections"] if "type" not in c}
    assert set(pinned) == set(GALAXY["dependencies"])  # the collection's dependencies, from Galaxy
    for collection, version in pinned.items():
        assert SpecifierSet(GALAXY["dependencies"][collection]).contains(str(version)), collection


def test_the_galaxy_stage_installs_from_build(context):
    """ansible-galaxy resolves the tarball's path from its working directory: it must be /build."""
    containerfile = (context / "Containerfile").read_text()
    stage = containerfile.split("FROM base AS galaxy", 1)[1].split("\nFROM ", 1)[0]
    workdir = stage.index("WORKDIR /build")
    install = stage.index("ansible-galaxy collection install")
    assert stage.index("COPY _build /build") < workdir < install
    assert "-r requirements.yml" in stage[install:]


def test_the_tarball_installs_from_build_through_the_requirements_file(context, tmp_path):
    """The galaxy stage's install, offline: only the file entry (the others come from Galaxy)."""
    build = context / "_build"
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    local = {"collections": [c for c in requirements["collections"] if c.get("type") == "file"]}
    (build / "local-only.yml").write_text(yaml.safe_dump(local))
    target = tmp_path / "collections"
    run(
        BIN / "ansible-galaxy",
        "collection",
        "install",
        "--offline",
        "--no-deps",
        "--force",
        "-r",
        "local-only.yml",
        "-p",
        target,
        cwd=build,
        extra_env={"ANSIBLE_COLLECTIONS_PATH": str(target)},
    )
    manifest = target / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    assert (manifest / "MANIFEST.json").is_file()
    assert (manifest / "roles/ecs_services/meta/argument_specs.yml").is_file()
