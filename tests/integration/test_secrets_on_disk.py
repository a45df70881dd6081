"""An interrupted run leaves no secret on disk.

Without pipelining, Ansible writes each module, with all its arguments, to a file under its
temp directories and deletes it after the module ran; a run killed meanwhile leaves that file
behind. The arguments of the SSM task hold every secret of the inventory: the AWS secret key
(through module_defaults), the Auth0 client secret and the Postgres password. The test starts
`site.yml --tags ssm_params` with its own Ansible home and temp directories, kills the whole run
once the emulator has answered the module's first (read-only) SSM request, before the module
has that answer, and then reads every file those directories hold. Under both strategies: the
linear one is where pipelining matters (without it the module file holds all three secrets);
mitogen_linear writes no module file either way, and must stay so.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from ansible_collections.leverslabs.asset_manager.tests.fault_proxy import FaultProxy
from ansible_collections.leverslabs.asset_manager.tests.harness import ansible_env, kill_tree

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORY = yaml.safe_load((ROOT / "inventories/local/group_vars/all/main.yml").read_text())
# Passed by the test instead of the inventory's, so that a hit can only come from this run.
AWS_SECRET = "secrets-on-disk-Aws-7f3c2a91"
SECRETS = {
    "the AWS secret key": AWS_SECRET,
    "the Auth0 client secret": INVENTORY["asset_manager_auth0_client_secret"],
    "the Postgres password": INVENTORY["ssm_params_pg_password"],
}


def files_holding(secrets: dict[str, str], directories: list[Path]) -> list[str]:
    """Each file (a zip's members too: a module's payload is one) that holds a secret."""
    found = []
    for directory in directories:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            contents = [path.read_bytes()]
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    contents += [archive.read(member) for member in archive.namelist()]
            found += [
                f"{path}: {what}"
                for what, value in secrets.items()
                if any(value.encode() in data for data in contents)
            ]
    return found


@pytest.mark.parametrize("strategy", ["mitogen_linear", "linear"])
def test_a_killed_run_leaves_no_secret_on_disk(seeded, aws_env, emulator, tmp_path, strategy):
    dirs = {name: tmp_path / name for name in ("home", "remote", "local", "tmp")}
    for directory in dirs.values():
        directory.mkdir()
    killed = threading.Event()
    # Nothing is written: the kill comes before the module's first write (PutParameter).
    with FaultProxy(emulator, rate=0) as proxy:
        env = ansible_env(
            **{
                **aws_env,
                "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
                "AWS_ENDPOINT_URL": proxy.url,
                "ASSET_MANAGER_ENDPOINT_URL": proxy.url,
                "ANSIBLE_STRATEGY": strategy,
                "ANSIBLE_HOME": str(dirs["home"]),
                "ANSIBLE_REMOTE_TEMP": str(dirs["remote"]),
                "ANSIBLE_LOCAL_TEMP": str(dirs["local"]),
                "TMPDIR": str(dirs["tmp"]),
            }
        )
        cmd = [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventories/local"),
               str(ROOT / "site.yml"), "--tags", "ssm_params",
               "-e", f"asset_manager_aws_secret_key={AWS_SECRET}"]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
        )

        def hook(service, operation, status):
            # The module is running: without pipelining its file is on disk now.
            if service == "ssm" and not killed.is_set():
                killed.set()
                kill_tree(proc.pid)

        proxy.on_forwarded = hook
        try:
            output = proc.communicate(timeout=120)[0]
        finally:
            if proc.poll() is None:
                kill_tree(proc.pid)
                proc.wait()
    assert killed.is_set(), f"the run made no SSM request:\n{output[-3000:]}"
    found = files_holding(SECRETS, list(dirs.values()))
    assert found == [], "\n".join(found)
