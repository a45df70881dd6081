"""SecureString values are stored, never rewritten when unchanged, and never printed (-vvv)."""

from __future__ import annotations

import re

import pytest

CLIENT_SECRET = "auth0-Secret-7f3c9e1b-never-print-me"
PG_PASSWORD = "pg-Password-41d2a8c6-never-print-me"


def run_ssm_params(run_site, strategy, *extra):
    proc = run_site(
        "--tags",
        "ssm_params",
        "-e",
        f"asset_manager_auth0_client_secret={CLIENT_SECRET}",
        "-e",
        f"ssm_params_pg_password={PG_PASSWORD}",
        *extra,
        env={"ANSIBLE_STRATEGY": strategy},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


# Under both strategies: the project's default (mitogen) and Ansible's linear, which logs more.
@pytest.mark.parametrize("strategy", ["mitogen_linear", "linear"])
def test_secrets_stored_idempotent_and_never_printed(run_site, boto3_client, seeded, strategy):
    prefix = f"/leak-test-{strategy}"
    first = run_ssm_params(
        run_site, strategy, "-vvv", "--diff", "-e", f"asset_manager_ssm_prefix={prefix}"
    )
    ssm = boto3_client("ssm")
    stored = {
        p["Name"]: p
        for p in ssm.get_parameters_by_path(Path=prefix, WithDecryption=True)["Parameters"]
    }
    assert stored[f"{prefix}/AUTH0_CLIENT_SECRET"]["Value"] == CLIENT_SECRET
    assert stored[f"{prefix}/AUTH0_CLIENT_SECRET"]["Type"] == "SecureString"
    assert stored[f"{prefix}/DAGSTER_PG_PASSWORD"]["Value"] == PG_PASSWORD
    assert stored[f"{prefix}/DAGSTER_PG_PASSWORD"]["Type"] == "SecureString"
    assert re.search(r"localhost\s+: ok=\d+\s+changed=[1-9]", first), "the first run wrote nothing"
    # The run really reached the module at -vvv (its task and censored result are logged; under
    # linear its file too), and the secret values are not.
    assert "ssm_params/tasks/parameters.yml" in first and "censored" in first
    assert strategy != "linear" or "ssm_parameters.py" in first
    assert CLIENT_SECRET not in first
    assert PG_PASSWORD not in first

    second = run_ssm_params(run_site, strategy, "-vvv", "-e", f"asset_manager_ssm_prefix={prefix}")
    assert CLIENT_SECRET not in second and PG_PASSWORD not in second
    assert "changed=0" in second
    again = {p["Name"]: p["Version"] for p in ssm.get_parameters_by_path(Path=prefix)["Parameters"]}
    assert again == {name: p["Version"] for name, p in stored.items()}, "unchanged values rewritten"
