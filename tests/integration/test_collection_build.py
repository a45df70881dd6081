"""The collection builds, installs from its tarball, and documents itself through ansible-doc.

The tarball is what a user gets from Galaxy: it holds the collection's content and nothing that
needs the repository, and a user's own playbook, outside the repository and without its
ansible.cfg, runs the installed collection's playbooks by their FQCN.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import ansible
import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The collections the `ansible` package bundles: the dependencies a user gets with it.
BUNDLED = Path(ansible.__file__).parents[1] / "ansible_collections"
MODULES = sorted(p.stem for p in (ROOT / "plugins/modules").glob("*.py"))
ROLES = sorted(
    p.name for p in (ROOT / "roles").iterdir() if (p / "meta/argument_specs.yml").exists()
)
# The playbooks a user runs as leverslabs.asset_manager.<name>; the emulator's seed stays behind.
PLAYBOOKS = sorted(
    p.stem for p in (ROOT / "playbooks").glob("*.yml") if p.stem != "emulator_prerequisites"
)
# The site's first AWS call, after its offline pre-flight.
LOOKUP_TASK = "Look up the stack by name and tag"
# Everything the tarball may hold at its top level.
TOP_LEVEL = {
    "MANIFEST.json",
    "FILES.json",
    "COPYING",
    "README.md",
    "CHANGELOG.rst",
    "changelogs",
    "docs",
    "meta",
    "playbooks",
    "plugins",
    "roles",
}


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


@pytest.fixture(scope="module")
def names(installed):
    tarball, _target = installed
    with tarfile.open(tarball) as tar:
        return tar.getnames()


@pytest.fixture(scope="module")
def manifest(installed):
    tarball, _target = installed
    with tarfile.open(tarball) as tar:
        return json.load(tar.extractfile("MANIFEST.json"))["collection_info"]


def user_env(target, home):
    """A user's environment: the installed collection and the `ansible` package's collections,
    no project ansible.cfg, Ansible's own state under `home`."""
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(target),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    for name in ("ANSIBLE_CONFIG", "ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS"):
        env.pop(name, None)
    return env


def ansible_doc(target, *args):
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(target), "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_CONFIG", None)
    return subprocess.run(
        [BIN / "ansible-doc", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=target,
        check=False,
    )


def test_tarball_holds_exactly_the_collection(names):
    assert {n.split("/")[0] for n in names} == TOP_LEVEL
    assert "galaxy.yml" not in names  # built into MANIFEST.json
    for required in (
        "COPYING",
        "README.md",
        "CHANGELOG.rst",
        "changelogs/changelog.yaml",
        "changelogs/config.yaml",
        "meta/runtime.yml",
        "meta/execution-environment.yml",
        "meta/ee-requirements.txt",
    ):
        assert required in names, required
    for role in ROLES:
        assert f"roles/{role}/meta/argument_specs.yml" in names
        assert f"roles/{role}/tasks/main.yml" in names
    for module in MODULES:
        assert f"plugins/modules/{module}.py" in names
    shipped = [m.group(1) for n in names if (m := re.fullmatch(r"playbooks/([^/]+)\.yml", n))]
    assert sorted(shipped) == PLAYBOOKS
    assert "playbooks/site.yml" in names
    # The AWS connection settings every playbook's module_defaults name.
    assert "roles/asset_manager/vars/main.yml" in names


@pytest.mark.parametrize(
    "forbidden",
    [
        r"inventories(/.*)?",  # prod names the company's domain and its database host
        r"playbooks/emulator_prerequisites\.yml",  # seeds the emulator, writes a key
        r"scripts(/.*)?",  # benchmark.sh and local_docker.sh need the Makefile and emulator
        r"Makefile",
        r"site\.yml",  # the repository's entry point into its inventories
        r"emulator(/.*)?",
        r"tests(/.*)?",
        r"extensions(/.*)?",
        r"awx(/.*)?",
        r"ee(/.*)?",
        r"execution-environment\.yml",
        r"ansible\.cfg",
        r"pyproject\.toml",
        r"requirements[^/]*\.(txt|yml)",
        r"CHANGELOG\.md",
        r"(.*/)?\.git.*",
        r"(.*/)?\.(venv|collections|cache|ansible|ruff_cache|pytest_cache|ansible-lint)(/.*)?",
        r"(.*/)?__pycache__(/.*)?",
        r".*\.pyc",
        r".*vault\.yml(\.example)?",
        r".*\.tar\.gz",
        r"changelogs/\.plugin-cache\.yaml",
    ],
)
def test_tarball_ships_nothing_of_the_repository(names, forbidden):
    assert [n for n in names if re.fullmatch(forbidden, n)] == []


def test_manifest_metadata_is_complete(manifest):
    assert manifest["license_file"] == "COPYING"
    for key in ("repository", "documentation", "homepage", "issues"):
        assert manifest[key], key
    with (ROOT / "COPYING").open() as copying:
        assert "GNU GENERAL PUBLIC LICENSE" in copying.readline()
        assert "Version 3" in copying.readline()


def test_every_collection_the_shipped_content_names_is_a_dependency(installed, manifest):
    """Each FQCN in a shipped role, playbook, plugin or meta file is ansible.builtin, the
    collection's own, or from a declared dependency in the range the `ansible` package bundles."""
    _tarball, target = installed
    content = target / "ansible_collections/leverslabs/asset_manager"
    used = set()
    for path in content.rglob("*"):
        if path.is_file() and path.parts[len(content.parts)] in ("roles", "playbooks", "plugins"):
            for ns, name in re.findall(r"\b([a-z]\w*)\.([a-z]\w*)\.[a-z_]\w*", path.read_text()):
                if (BUNDLED / ns / name / "MANIFEST.json").is_file():
                    used.add(f"{ns}.{name}")
    assert {"amazon.aws", "community.aws", "community.docker"} <= used
    dependencies = manifest["dependencies"]
    assert used - {"leverslabs.asset_manager"} <= set(dependencies)
    for collection, spec in dependencies.items():
        ns, name = collection.split(".")
        bundled = json.loads((BUNDLED / ns / name / "MANIFEST.json").read_text())
        assert SpecifierSet(spec).contains(bundled["collection_info"]["version"]), collection


def test_python_requirements_are_declared_for_ansible_builder(installed):
    _tarball, target = installed
    content = target / "ansible_collections/leverslabs/asset_manager"
    ee = yaml.safe_load((content / "meta/execution-environment.yml").read_text())
    requirements = (content / ee["dependencies"]["python"]).read_text().splitlines()
    packages = [r for r in requirements if r and not r.startswith("#")]
    assert sorted(packages) == ["boto3>=1.34.0", "botocore>=1.34.0"]  # minimums, not pins


class RefusingAws(BaseHTTPRequestHandler):
    """Stands in for AWS: answers every request AccessDenied (a client error, never retried), in
    the JSON protocols' form or the XML one (query and REST-XML)."""

    requests: list[str] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target")
        RefusingAws.requests.append(target or self.path)
        if target:
            body = json.dumps({"__type": "AccessDeniedException", "message": "denied"}).encode()
            content_type = "application/x-amz-json-1.1"
        else:
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                b"<Message>denied</Message></Error><RequestId>0</RequestId></ErrorResponse>"
            )
            content_type = "text/xml"
        self.send_response(403)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_aws():
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    RefusingAws.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def user_project(tmp_path):
    """A user's project outside the repository: an inventory with the variables the site has no
    default for, and a playbook of their own that imports the installed collection's site."""
    inventory = {
        "all": {
            "children": {
                "asset_manager": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        }
                    },
                    "vars": {
                        "asset_manager_region": "us-west-1",
                        "asset_manager_domain": "example.com",
                        "asset_manager_host_name": "dagster.example.com",
                        "asset_manager_auth0_domain": "example.us.auth0.com",
                        "asset_manager_auth0_client_id": "user-client-id",
                        "asset_manager_auth0_client_secret": "user-client-secret",
                        "ssm_params_pg_host": "db.example.com",
                        "ssm_params_pg_password": "user-pg-password",
                        "asset_manager_aws_access_key": "user-access-key",
                        "asset_manager_aws_secret_key": "user-secret-key",
                    },
                }
            }
        }
    }
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "deploy.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Deploy Asset Manager",
                    "ansible.builtin.import_playbook": "leverslabs.asset_manager.site",
                }
            ]
        )
    )
    (tmp_path / "all.yml").write_text(
        yaml.safe_dump(
            [
                {"ansible.builtin.import_playbook": f"leverslabs.asset_manager.{name}"}
                for name in PLAYBOOKS
            ]
        )
    )
    return tmp_path


def test_every_shipped_playbook_resolves_by_fqcn(installed, user_project):
    _tarball, target = installed
    proc = subprocess.run(
        [BIN / "ansible-playbook", "-i", "inventory.yml", "--syntax-check", "all.yml"],
        capture_output=True,
        text=True,
        env=user_env(target, user_project / "home"),
        cwd=user_project,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_users_playbook_runs_the_installed_site_up_to_the_first_aws_call(
    installed, user_project, refusing_aws
):
    """Outside the repository, without its ansible.cfg: the site's pre-flight (argument specs,
    offline checks, the collection's filter and test plugins) passes, then the stack lookup (the
    first AWS call, through the collection's action group) fails on the endpoint's refusal."""
    _tarball, target = installed
    proc = subprocess.run(
        [
            BIN / "ansible-playbook",
            "-i",
            "inventory.yml",
            "-e",
            f"asset_manager_aws_endpoint_url={refusing_aws}",
            "deploy.yml",
        ],
        capture_output=True,
        text=True,
        env=user_env(target, user_project / "home"),
        cwd=user_project,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    recap = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+).*failed=(\d+)", output)
    assert recap and int(recap.group(1)) > 10 and recap.groups()[1:] == ("0", "1"), output
    # The one failure is the lookup, in the installed copy, refused by the endpoint.
    before_failure = output.split("fatal: ")[0]
    failed_task = re.findall(r"TASK \[([^\]]*)\]", before_failure)[-1]
    assert failed_task == "leverslabs.asset_manager.asset_manager : " + LOOKUP_TASK
    assert "Failed to look up the stack: An error occurred (AccessDenied)" in output
    assert str(target / "ansible_collections/leverslabs/asset_manager/roles") in output
    assert RefusingAws.requests, "no AWS call reached the endpoint"


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_renders_each_role_of_the_installed_tarball(installed, role):
    _tarball, target = installed
    proc = ansible_doc(target, "-t", "role", f"leverslabs.asset_manager.{role}")
    assert proc.returncode == 0, proc.stderr
    assert "ENTRY POINT: *main*" in proc.stdout
    assert proc.stderr.strip() == ""


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_each_module_of_the_installed_tarball(installed, module):
    _tarball, target = installed
    proc = ansible_doc(target, f"leverslabs.asset_manager.{module}")
    assert proc.returncode == 0, proc.stderr
    for section in ("OPTIONS", "EXAMPLES", "RETURN VALUES"):
        assert section in proc.stdout
    assert proc.stderr.strip() == ""


def test_the_claimed_ansible_core_is_the_one_tested():
    """requires_ansible and every role's min_ansible_version start at the minor the suite runs."""
    import ansible.release
    import yaml

    tested = ".".join(ansible.release.__version__.split(".")[:2])
    runtime = yaml.safe_load((ROOT / "meta/runtime.yml").read_text())
    assert runtime["requires_ansible"] == f">={tested}.0", runtime["requires_ansible"]
    for meta in sorted((ROOT / "roles").glob("*/meta/main.yml")):
        galaxy_info = yaml.safe_load(meta.read_text())["galaxy_info"]
        assert str(galaxy_info["min_ansible_version"]) == tested, meta
