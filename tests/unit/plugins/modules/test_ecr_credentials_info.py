"""Unit tests of ecr_credentials_info: token decoding, and the real main() with a stubbed client."""

from __future__ import annotations

import base64
import datetime
import json
from unittest import mock

import pytest
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)
from ansible_collections.leverslabs.asset_manager.plugins.modules import ecr_credentials_info as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Exited,
    Failed,
    run_module,
    stubbed_client,
)

PASSWORD = "eyJwYXlsb2FkIjoi-registry-Password-never-print-me"
TOKEN = base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()
ENDPOINT = "https://123456789012.dkr.ecr.us-west-1.amazonaws.com"
EXPIRES = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def client():
    with stubbed_client("ecr") as stubbed:
        yield stubbed


def expect_token(client, token=TOKEN, endpoint=ENDPOINT):
    entry = {"authorizationToken": token, "expiresAt": EXPIRES, "proxyEndpoint": endpoint}
    # No registryIds: the token is for the credentials' own account.
    client.stubber.add_response("get_authorization_token", {"authorizationData": [entry]}, {})


def no_secret(result, *secrets):
    text = json.dumps(result, default=str)
    for secret in secrets or (PASSWORD, TOKEN):
        assert secret not in text


# --- the pure parts ---------------------------------------------------------------------------


def test_decode_token_splits_at_the_first_colon():
    token = base64.b64encode(b"AWS:pass:with:colons").decode()
    assert m.decode_token(token) == ("AWS", "pass:with:colons")


@pytest.mark.parametrize(
    "token",
    [
        "not base64!",
        base64.b64encode(b"no-colon-here").decode(),
        base64.b64encode(b"AWS:").decode(),
        base64.b64encode(b"\xff\xfe:x").decode(),
    ],
    ids=["not base64", "no colon", "empty password", "not text"],
)
def test_decode_token_refuses_without_naming_the_token(token):
    with pytest.raises(m.BadToken) as refused:
        m.decode_token(token)
    assert token not in str(refused.value)


def test_registry_host_drops_scheme_and_path():
    assert m.registry_host(ENDPOINT) == "123456789012.dkr.ecr.us-west-1.amazonaws.com"
    assert m.registry_host("http://127.0.0.1:5000/") == "127.0.0.1:5000"
    assert m.registry_host("registry.example.com/x") == "registry.example.com"
    assert m.registry_host("") is None


# --- main() -----------------------------------------------------------------------------------


def test_token_decoded(client):
    expect_token(client)
    result = run_module(m, {}, client)
    assert result == {
        "changed": False,
        "registry": "123456789012.dkr.ecr.us-west-1.amazonaws.com",
        "username": "AWS",
        "password": PASSWORD,
        "expires_at": "2026-01-01T12:00:00+00:00",
    }
    no_secret(result, TOKEN)


def test_check_mode_reads_the_same(client):
    expect_token(client)
    result = run_module(m, {}, client, check_mode=True)
    assert result["changed"] is False and result["password"] == PASSWORD


def emitted(self, **kwargs):
    """What ansible-core sends back to the controller: the result, masked by no_log_values."""
    raise Exited(remove_values(kwargs, self.no_log_values))


def test_emitted_result_keeps_the_password_and_masks_the_token(client):
    """The caller gets a usable password; the token (never returned) is masked everywhere."""
    expect_token(client)
    with mock.patch.object(AssetManagerModule, "exit_json", emitted):
        result = run_module(m, {}, client)
    assert result["password"] == PASSWORD


def failed_masked(self, **kwargs):
    raise Failed(remove_values(kwargs, self.no_log_values))


@pytest.mark.parametrize(
    "token",
    [base64.b64encode(PASSWORD.encode()).decode(), PASSWORD],
    ids=["no user", "not base64"],
)
def test_bad_token_fails_without_the_password_or_token(client, token):
    expect_token(client, token=token)
    with mock.patch.object(AssetManagerModule, "fail_json", failed_masked):
        with pytest.raises(Failed) as failed:
            run_module(m, {}, client)
    assert "authorization token" in failed.value.result["msg"]
    no_secret(failed.value.result, PASSWORD, token)


def test_missing_endpoint_fails_without_the_password(client):
    expect_token(client, endpoint="")
    with mock.patch.object(AssetManagerModule, "fail_json", failed_masked):
        with pytest.raises(Failed) as failed:
            run_module(m, {}, client)
    assert "no registry endpoint" in failed.value.result["msg"]
    no_secret(failed.value.result)


def test_no_authorization_data_fails(client):
    client.stubber.add_response("get_authorization_token", {"authorizationData": []}, {})
    with pytest.raises(Failed) as failed:
        run_module(m, {}, client)
    assert "no authorization token" in failed.value.result["msg"]


def test_aws_error_is_reported(client):
    client.stubber.add_client_error(
        "get_authorization_token",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform ecr:GetAuthorizationToken",
        http_status_code=400,
    )
    with pytest.raises(Failed) as failed:
        run_module(m, {}, client)
    result = failed.value.result
    assert result["msg"].startswith("Failed to get an ECR authorization token")
    assert "ecr:GetAuthorizationToken" in result["msg"]
    assert result["error"]["code"] == "AccessDeniedException"
