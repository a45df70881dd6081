"""The collection builds, installs from its tarball, and documents itself through ansible-doc."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (ROOT / "plugins/modules").glob("*.py"))
ROLES = sorted(
    p.name for p in (ROOT / "roles").iterdir() if (p / "meta/argument_specs.yml").exists()
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the tarball and install it into an empty collections path."""
    work = tmp_path_factory.mktemp("build")
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", work, ROOT],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    (tarball,) = work.glob("leverslabs-asset_manager-*.tar.gz")
    target = work / "collections"
    subprocess.run(
        [
            BIN / "ansible-galaxy",
            "collection",
            "install",
            "--no-deps",
            "--force",
            "-p",
            target,
            tarball,
        ],
        check=True,
        capture_output=True,
    )
    return tarball, target


def ansible_doc(target, *args):
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(target), "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_CONFIG", None)
    return subprocess.run(
        [BIN / "ansible-doc", *args], capture_output=True, text=True, env=env, cwd=target
    )


def test_tarball_ships_the_collection_and_nothing_local(installed):
    tarball, _ = installed
    names = tarfile.open(tarball).getnames()
    assert "galaxy.yml" not in names  # built into MANIFEST.json
    assert "MANIFEST.json" in names
    assert "meta/runtime.yml" in names
    for role in ROLES:
        assert f"roles/{role}/meta/argument_specs.yml" in names
    for module in MODULES:
        assert f"plugins/modules/{module}.py" in names
    local_only = (".venv", ".collections", "tests", "emulator", ".cache", "extensions", "awx", "ee")
    for local in local_only:
        assert not any(n == local or n.startswith(local + "/") for n in names), local
    assert not any(n.endswith("vault.yml") for n in names)


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_renders_each_role_of_the_installed_tarball(installed, role):
    _, target = installed
    proc = ansible_doc(target, "-t", "role", f"leverslabs.asset_manager.{role}")
    assert proc.returncode == 0, proc.stderr
    assert "ENTRY POINT: *main*" in proc.stdout
    assert proc.stderr.strip() == ""


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_each_module_of_the_installed_tarball(installed, module):
    _, target = installed
    proc = ansible_doc(target, f"leverslabs.asset_manager.{module}")
    assert proc.returncode == 0, proc.stderr
    for section in ("OPTIONS", "EXAMPLES", "RETURN VALUES"):
        assert section in proc.stdout
    assert proc.stderr.strip() == ""
