"""Records every AWS API call a Python process makes, for the benchmark's floor (bench/floor.py).

On PYTHONPATH with BENCH_RECORD=<file>, every Python process started (ansible-playbook and each
module it runs) appends one JSON line per botocore call: service, operation, parameters and the
parsed response. botocore is patched only once something imports it. Benchmark use only: the
file holds the test values of the local inventory.
"""

import importlib.abc
import json
import os
import sys

_FILE = os.environ.get("BENCH_RECORD")


def _write(line):
    with open(_FILE, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str) + "\n")


def _patch(client_module):
    original = client_module.BaseClient._make_api_call

    def recorded(self, operation_name, api_params):
        line = {
            "service": self.meta.service_model.service_name,
            "region": self.meta.region_name,
            "operation": operation_name,
            "params": api_params,
        }
        try:
            response = original(self, operation_name, api_params)
        except Exception as error:  # an AWS error answer is a call too; the floor makes it again
            line["error"] = getattr(error, "response", {}).get("Error", {}).get("Code", str(error))
            _write(line)
            raise
        line["response"] = {k: v for k, v in response.items() if k != "ResponseMetadata"}
        _write(line)
        return response

    client_module.BaseClient._make_api_call = recorded


class _Finder(importlib.abc.MetaPathFinder):
    """Patches botocore.client right after it is first imported."""

    def find_spec(self, name, path, target=None):
        if name != "botocore.client":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_and_patch
        return spec


if _FILE:
    import importlib.util

    sys.meta_path.insert(0, _Finder())
