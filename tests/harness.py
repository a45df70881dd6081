"""The tests' harness, one way each: an emulator process of their own, and the environment of
their ansible runs.

``running_emulator(state_dir, registry)`` starts emulator/start.sh on a free port (or ``port``),
with its state in ``state_dir`` and its ECR answering for ``registry`` (a URL; None: moto's own
ECR), yields an object with ``url``, ``port`` and ``log``, and stops it afterwards.
``reset_auth(endpoint, count)`` has it enforce IAM ("0") or not ("inf"). ``ansible_env(**extra)``
is the environment of every ansible-playbook run of the tests. ``kill_tree(pid)`` kills a run the
test started, with every process under it, as an interruption would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
# Where Ansible finds leverslabs.asset_manager: the collection root the checkout is in, when it is
# one (ansible-test runs from .../ansible_collections/leverslabs/asset_manager), else make's link.
COLLECTIONS = (
    ROOT.parents[2] if ROOT.parents[1].name == "ansible_collections" else ROOT / ".collections"
)
BIN = Path(sys.executable).parent
REGISTRY_ENV = "EMULATOR_ECR_REGISTRY"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_emulator(state_dir, registry=None, port=None, quiet=False):
    port = port or free_port()
    env = {**os.environ, "EMULATOR_STATE_DIR": str(state_dir), "PYTHON": sys.executable}
    env.pop(REGISTRY_ENV, None)
    if registry:
        env[REGISTRY_ENV] = registry
    output = {"capture_output": True} if quiet else {}
    subprocess.run([str(ROOT / "emulator/start.sh"), str(port)], check=True, env=env, **output)
    try:
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{port}", port=port, log=Path(state_dir) / f"{port}.log"
        )
    finally:
        subprocess.run(
            [str(ROOT / "emulator/stop.sh"), str(port)], check=not quiet, env=env, **output
        )


def reset_auth(endpoint: str, count: str) -> None:
    """moto enforces IAM after ``count`` more requests ("0": now; "inf": never)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def ansible_env(**extra: str) -> dict:
    """The environment of every ansible-playbook run of the tests: the project's ansible.cfg, its
    collections and this venv first on PATH, plus `extra`."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "PATH": f"{BIN}:{os.environ['PATH']}",
        # Ansible's files stay in the checkout, as under make (the Makefile's exports win).
        "ANSIBLE_HOME": os.environ.get("ANSIBLE_HOME", str(ROOT / ".cache/ansible")),
        "ANSIBLE_REMOTE_TEMP": os.environ.get(
            "ANSIBLE_REMOTE_TEMP", str(ROOT / ".cache/ansible/tmp")
        ),
        **extra,
    }


def _children() -> dict:
    """{ppid: [pid, ...]} of every process now."""
    tree = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def kill_tree(pid: int) -> None:
    """SIGKILL a process this test started and all its descendants (Ansible's workers start
    sessions of their own, so a process group is not enough): frozen first, so that none
    forks or is reparented in between."""
    frozen, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            os.kill(current, signal.SIGSTOP)
        except ProcessLookupError:
            continue
        frozen.append(current)
        todo.extend(_children().get(current, []))
    for each in frozen:
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass
