"""Without boto3 and botocore every module still imports, and a run fails with amazon.aws's
missing-library message rather than a NameError (ansible-test sanity's import test, on a Python
without them, is the other half)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MODULES = sorted(
    path.stem
    for path in (Path(__file__).resolve().parents[4] / "plugins/modules").glob("*.py")
    if path.stem != "__init__"
)

# Run in a fresh interpreter: boto3 and botocore are already imported in this one.
PROGRAM = """
import json, runpy, sys
sys.modules["boto3"] = None
sys.modules["botocore"] = None
from ansible.module_utils.testing import patch_module_args
prefix = "ansible_collections.leverslabs.asset_manager.plugins.modules."
for name in json.loads(sys.argv[1]):
    __import__(prefix + name)
with patch_module_args({"family": "web", "definition": {"containerDefinitions": []}}):
    runpy.run_module(prefix + "ecs_taskdef", run_name="__main__")
"""


def test_modules_import_and_report_the_missing_library_without_botocore():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(MODULES)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["failed"] is True
    assert result["msg"].startswith(
        "Failed to import the required Python library (botocore and boto3)"
    ), result["msg"]
    assert "ecs_taskdef" in MODULES and len(MODULES) > 1
