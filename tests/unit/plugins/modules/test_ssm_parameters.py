"""Unit tests of ssm_parameters: the pure comparison, and the real main() with a stubbed client."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)
from ansible_collections.leverslabs.asset_manager.plugins.modules import ssm_parameters as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Exited,
    Failed,
    run_module,
    stubbed_client,
)

PATH = "/asset-manager"
SECRET = "auth0-Secret-7f3c9e1b-never-print-me"
NEW_SECRET = "auth0-Secret-rotated-0d9a-never-print-me"
TAGS = {"Application": "asset-manager", "ManagedBy": "leverslabs.asset_manager"}
TAG_LIST = [{"Key": k, "Value": v} for k, v in TAGS.items()]


@pytest.fixture
def client():
    with stubbed_client("ssm") as stubbed:
        yield stubbed


def wanted(**extra):
    """The role's shape: two String parameters and one SecureString."""
    return {
        "SERVER_HOST": {"value": "https://assets.example.com", "type": "String"},
        "DAGSTER_PG_DB": {"value": "postgres", "type": "String"},
        "AUTH0_CLIENT_SECRET": {"value": SECRET, "type": "SecureString"},
        **extra,
    }


def stored(name, value, kind="String", version=1):
    return {"Name": f"{PATH}/{name}", "Type": kind, "Value": value, "Version": version}


def expect_get(client, names, found, decrypt=True):
    known = {p["Name"] for p in found}
    client.stubber.add_response(
        "get_parameters",
        listed(Parameters=found, InvalidParameters=[n for n in names if n not in known]),
        {"Names": names, "WithDecryption": decrypt},
    )


def listed(**lists):
    """A response with only the non-empty lists (AWS's model has no empty ones)."""
    return {key: value for key, value in lists.items() if value}


def expect_tags(client, name, tag_list=TAG_LIST):
    client.stubber.add_response(
        "list_tags_for_resource",
        {"TagList": tag_list},
        {"ResourceType": "Parameter", "ResourceId": name},
    )


def expect_put(
    client, name, value, kind, version=1, overwrite=False, tags=None, key="alias/aws/ssm"
):
    params = {"Name": name, "Value": value, "Type": kind}
    if kind == "SecureString":
        params["KeyId"] = key
    if overwrite:
        params["Overwrite"] = True
    if tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    client.stubber.add_response("put_parameter", {"Version": version, "Tier": "Standard"}, params)


def names(*keys):
    return [f"{PATH}/{k}" for k in keys]


ALL = names("SERVER_HOST", "DAGSTER_PG_DB", "AUTH0_CLIENT_SECRET")


def everything_stored(secret=SECRET):
    return [
        stored("SERVER_HOST", "https://assets.example.com", version=3),
        stored("DAGSTER_PG_DB", "postgres", version=2),
        stored("AUTH0_CLIENT_SECRET", secret, "SecureString", version=5),
    ]


def run(client, check_mode=False, diff=False, **args):
    args = {"path": PATH, "parameters": wanted(), "tags": TAGS, **args}
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


def no_secret(result, *secrets):
    text = json.dumps(result, default=str)
    for secret in secrets or (SECRET, NEW_SECRET):
        assert secret not in text


# --- the pure comparison ---------------------------------------------------------------------


def entries(**by_name):
    return {f"{PATH}/{k}": {"value": v[0], "type": v[1]} for k, v in by_name.items()}


def current(**by_name):
    return {
        f"{PATH}/{k}": {
            "value": v[0],
            "type": v[1],
            "version": 1,
            "tags": v[2] if len(v) > 2 else {},
        }
        for k, v in by_name.items()
    }


def test_plan_creates_missing_with_tags_and_leaves_equal_alone():
    plan, refused = m.plan_changes(
        entries(A=("1", "String"), B=("2", "String")),
        current(B=("2", "String", {"k": "v"})),
        wanted_tags={"k": "v"},
    )
    assert refused == []
    assert [(s["name"], s["action"], s["fields"], s["put"]) for s in plan] == [
        (f"{PATH}/A", "created", [], True),
        (f"{PATH}/B", None, [], False),
    ]
    assert plan[0]["tags_to_set"] == {"k": "v"}
    assert plan[1]["tags_to_set"] == {} and plan[1]["tags_to_unset"] == []


def test_plan_updates_value_and_type_string_to_securestring():
    plan, refused = m.plan_changes(
        entries(A=("new", "String"), B=("same", "SecureString")),
        current(A=("old", "String"), B=("same", "String")),
    )
    assert refused == []
    assert [(s["action"], s["fields"], s["put"]) for s in plan] == [
        ("updated", ["value"], True),
        ("updated", ["type"], True),
    ]


def test_plan_refuses_securestring_to_string():
    _plan, refused = m.plan_changes(
        entries(A=("x", "String"), B=("y", "SecureString")),
        current(A=("x", "SecureString"), B=("y", "SecureString")),
    )
    assert refused == [f"{PATH}/A"]


def test_plan_tags_purge_keep_aws_and_not_compared_without_tags():
    have = current(A=("x", "String", {"old": "1", "aws:cloudformation:stack": "s", "k": "v0"}))
    plan, _refused = m.plan_changes(entries(A=("x", "String")), have, wanted_tags={"k": "v"})
    assert plan[0]["action"] == "updated" and plan[0]["fields"] == ["tags"]
    assert plan[0]["put"] is False
    assert plan[0]["tags_to_set"] == {"k": "v"} and plan[0]["tags_to_unset"] == ["old"]

    plan, _refused = m.plan_changes(
        entries(A=("x", "String")), have, wanted_tags={"k": "v0"}, purge_tags=False
    )
    assert plan[0]["action"] is None

    plan, _refused = m.plan_changes(entries(A=("x", "String")), have, wanted_tags=None)
    assert plan[0]["action"] is None


def test_validate_entries_names_each_bad_parameter_without_its_value():
    found, errors = m.validate_entries(
        PATH,
        {
            "OK": {"value": "v", "type": "String"},
            "NO_TYPE": {"value": SECRET},
            "BAD_TYPE": {"value": SECRET, "type": "Strng"},
            "NO_VALUE": {"type": "SecureString"},
            "EXTRA": {"value": "v", "type": "String", "tier": "Advanced"},
            "NOT_A_DICT": SECRET,
        },
        "present",
    )
    assert list(found) == [f"{PATH}/OK"]
    text = " ".join(errors)
    for name in ("NO_TYPE", "BAD_TYPE", "NO_VALUE", "EXTRA", "NOT_A_DICT"):
        assert f"parameters[{name}]" in text
    assert SECRET not in text


def test_validate_entries_path_duplicates_and_absent_names_only():
    assert m.validate_entries("asset-manager", {"A": {}}, "absent")[1]
    _found, errors = m.validate_entries(
        PATH,
        {"A": {"value": "1", "type": "String"}, "/A": {"value": "1", "type": "String"}},
        "present",
    )
    assert errors == [f"parameters 'A' and '/A' both name {PATH}/A"]
    found, errors = m.validate_entries(PATH + "/", {"A": None, "B/C": {}}, "absent")
    assert errors == []
    assert list(found) == [f"{PATH}/A", f"{PATH}/B/C"]


# --- main(), present --------------------------------------------------------------------------


def test_noop_reads_once_and_writes_nothing(client):
    expect_get(client, ALL, everything_stored())
    for name in ALL:
        expect_tags(client, name)
    result = run(client)
    assert result["changed"] is False
    assert result["changes"] == []
    assert result["parameters"] == [
        {"name": f"{PATH}/SERVER_HOST", "type": "String", "version": 3},
        {"name": f"{PATH}/DAGSTER_PG_DB", "type": "String", "version": 2},
        {"name": f"{PATH}/AUTH0_CLIENT_SECRET", "type": "SecureString", "version": 5},
    ]
    no_secret(result)


def test_without_tags_the_tags_are_not_read(client):
    expect_get(client, ALL, everything_stored())
    result = run(client, tags=None)
    assert result["changed"] is False


def test_reads_ten_names_per_call(client):
    many = {f"P{i:02d}": {"value": str(i), "type": "String"} for i in range(12)}
    all_names = names(*many)
    expect_get(client, all_names[:10], [stored(f"P{i:02d}", str(i)) for i in range(10)])
    expect_get(client, all_names[10:], [stored(f"P{i:02d}", str(i)) for i in range(10, 12)])
    result = run(client, parameters=many, tags=None)
    assert result["changed"] is False


def converge_stubs(client):
    """SERVER_HOST changed, DAGSTER_PG_DB only its tags, AUTH0_CLIENT_SECRET missing."""
    expect_get(
        client,
        ALL,
        [
            stored("SERVER_HOST", "https://old.example.com", version=3),
            stored("DAGSTER_PG_DB", "postgres", version=2),
        ],
    )
    expect_tags(client, f"{PATH}/SERVER_HOST")
    expect_tags(client, f"{PATH}/DAGSTER_PG_DB", [{"Key": "Application", "Value": "old"}])


CONVERGE_CHANGES = [
    {"name": f"{PATH}/SERVER_HOST", "action": "updated", "fields": ["value"]},
    {"name": f"{PATH}/DAGSTER_PG_DB", "action": "updated", "fields": ["tags"]},
    {"name": f"{PATH}/AUTH0_CLIENT_SECRET", "action": "created", "fields": []},
]


def test_writes_only_what_differs(client):
    converge_stubs(client)
    expect_put(
        client, f"{PATH}/SERVER_HOST", "https://assets.example.com", "String", 4, overwrite=True
    )
    client.stubber.add_response(
        "add_tags_to_resource",
        {},
        {"ResourceType": "Parameter", "ResourceId": f"{PATH}/DAGSTER_PG_DB", "Tags": TAG_LIST},
    )
    expect_put(client, f"{PATH}/AUTH0_CLIENT_SECRET", SECRET, "SecureString", 1, tags=TAGS)
    result = run(client)
    assert result["changed"] is True
    assert result["changes"] == CONVERGE_CHANGES
    assert [p["version"] for p in result["parameters"]] == [4, 2, 1]
    no_secret(result)


def test_check_mode_reports_the_same_changes_and_writes_nothing(client):
    converge_stubs(client)
    # No put/add_tags response is stubbed: a write would fail the test.
    result = run(client, check_mode=True)
    assert result["changed"] is True
    assert result["changes"] == CONVERGE_CHANGES
    assert [p["version"] for p in result["parameters"]] == [4, 2, 1]


def test_diff_masks_securestring_values_and_shows_string_values(client):
    expect_get(client, ALL, everything_stored())
    for name in ALL:
        expect_tags(client, name)
    parameters = wanted(AUTH0_CLIENT_SECRET={"value": NEW_SECRET, "type": "SecureString"})
    result = run(client, check_mode=True, diff=True, parameters=parameters)
    assert result["changes"] == [
        {"name": f"{PATH}/AUTH0_CLIENT_SECRET", "action": "updated", "fields": ["value"]}
    ]
    before, after = result["diff"]["before"], result["diff"]["after"]
    secret = f"{PATH}/AUTH0_CLIENT_SECRET"
    assert before[secret] == {"type": "SecureString", "value": m.MASK, "version": 5, "tags": TAGS}
    assert after[secret] == {"type": "SecureString", "value": m.MASK, "version": 6, "tags": TAGS}
    assert after[f"{PATH}/SERVER_HOST"]["value"] == "https://assets.example.com"
    assert before[f"{PATH}/DAGSTER_PG_DB"] == after[f"{PATH}/DAGSTER_PG_DB"]
    no_secret(result)


def test_string_to_securestring_is_allowed(client):
    expect_get(client, ALL, everything_stored())
    for name in ALL:
        expect_tags(client, name)
    expect_put(
        client, f"{PATH}/DAGSTER_PG_DB", "postgres", "SecureString", 3, overwrite=True, key="k-1"
    )
    parameters = wanted(DAGSTER_PG_DB={"value": "postgres", "type": "SecureString"})
    result = run(client, parameters=parameters, key_id="k-1")
    assert result["changes"] == [
        {"name": f"{PATH}/DAGSTER_PG_DB", "action": "updated", "fields": ["type"]}
    ]


def test_securestring_to_string_is_refused_before_any_write(client):
    expect_get(client, ALL, everything_stored())
    for name in ALL:
        expect_tags(client, name)
    parameters = wanted(AUTH0_CLIENT_SECRET={"value": SECRET, "type": "String"})
    with pytest.raises(Failed) as failed:
        run(client, parameters=parameters)
    assert f"{PATH}/AUTH0_CLIENT_SECRET" in failed.value.result["msg"]
    assert "plain text" in failed.value.result["msg"]
    no_secret(failed.value.result)


def test_a_throttled_read_fails_the_task_and_is_never_taken_for_missing(client):
    """Reading a throttled GetParameters as "no such parameters" would try to create them
    (ParameterAlreadyExists, community.aws.ssm_parameter's failure at 20 % throttling); the
    module fails on the read and writes nothing (the stubber refuses any unqueued call)."""
    client.stubber.add_client_error(
        "get_parameters", "ThrottlingException", "Rate exceeded", http_status_code=400
    )
    with pytest.raises(Failed) as failed:
        run(client)
    assert failed.value.result["msg"].startswith(f"Failed to read the parameters under {PATH}")
    assert "ThrottlingException" in json.dumps(failed.value.result, default=str)
    no_secret(failed.value.result)


def test_invalid_entries_fail_before_any_aws_call():
    parameters = {"A": {"value": SECRET, "type": "StringList"}, "B": {"type": "String"}}
    with pytest.raises(Failed) as failed:
        run_module(m, {"path": PATH, "parameters": parameters}, client=None)
    assert "parameters[A]" in failed.value.result["msg"]
    assert "parameters[B]" in failed.value.result["msg"]
    no_secret(failed.value.result)


def emitted(self, **kwargs):
    """What ansible-core sends back to the controller: the result with its invocation, masked."""
    kwargs.setdefault("invocation", {"module_args": self.params})
    raise Exited(remove_values(kwargs, self.no_log_values))


def test_emitted_result_masks_only_secrets(client):
    """The option is no_log, yet String values, names and types survive Ansible's masking."""
    expect_get(client, ALL, everything_stored())
    for name in ALL:
        expect_tags(client, name)
    with mock.patch.object(AssetManagerModule, "exit_json", emitted):
        result = run(client, diff=True)
    no_secret(result)
    assert result["parameters"][2] == {
        "name": f"{PATH}/AUTH0_CLIENT_SECRET",
        "type": "SecureString",
        "version": 5,
    }
    assert result["diff"]["after"][f"{PATH}/DAGSTER_PG_DB"]["value"] == "postgres"
    args = result["invocation"]["module_args"]["parameters"]
    assert args["SERVER_HOST"] == {"value": "https://assets.example.com", "type": "String"}
    assert args["AUTH0_CLIENT_SECRET"]["value"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_refused_failure_keeps_every_value_masked(client):
    expect_get(client, ALL, everything_stored())
    for name in ALL:
        expect_tags(client, name)

    def failed(self, **kwargs):
        kwargs.setdefault("invocation", {"module_args": self.params})
        raise Failed(remove_values(kwargs, self.no_log_values))

    parameters = wanted(AUTH0_CLIENT_SECRET={"value": SECRET, "type": "String"})
    with mock.patch.object(AssetManagerModule, "fail_json", failed), pytest.raises(Failed) as e:
        run(client, parameters=parameters)
    no_secret(e.value.result)


# --- main(), absent ---------------------------------------------------------------------------


def test_absent_deletes_exactly_the_named_ten_per_call(client):
    many = {f"P{i:02d}": {} for i in range(11)}
    all_names = names(*many)
    client.stubber.add_response(
        "delete_parameters",
        listed(DeletedParameters=all_names[:3], InvalidParameters=all_names[3:10]),
        {"Names": all_names[:10]},
    )
    client.stubber.add_response(
        "delete_parameters",
        listed(DeletedParameters=[], InvalidParameters=all_names[10:]),
        {"Names": all_names[10:]},
    )
    result = run(client, parameters=many, state="absent", tags=None)
    assert result["changed"] is True
    assert result["changes"] == [
        {"name": name, "action": "deleted", "fields": []} for name in all_names[:3]
    ]


def test_absent_check_and_diff_read_without_decryption(client):
    found = [
        stored("SERVER_HOST", "https://assets.example.com"),
        stored("AUTH0_CLIENT_SECRET", "AQICAHh-ciphertext", "SecureString"),
    ]
    expect_get(client, ALL, found, decrypt=False)
    result = run(
        client, check_mode=True, diff=True, state="absent", parameters=dict.fromkeys(wanted())
    )
    assert [c["name"] for c in result["changes"]] == [
        f"{PATH}/SERVER_HOST",
        f"{PATH}/AUTH0_CLIENT_SECRET",
    ]
    assert result["diff"]["before"][f"{PATH}/AUTH0_CLIENT_SECRET"]["value"] == m.MASK
    assert result["diff"]["before"][f"{PATH}/SERVER_HOST"]["value"] == "https://assets.example.com"
    assert result["diff"]["after"] == {}
    assert "AQICAHh-ciphertext" not in json.dumps(result)


def test_absent_nothing_to_delete(client):
    client.stubber.add_response("delete_parameters", listed(InvalidParameters=ALL), {"Names": ALL})
    result = run(client, state="absent", parameters=dict.fromkeys(wanted(), {}))
    assert result == {"changed": False, "changes": []}
