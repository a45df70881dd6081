"""Unit tests of leverslabs.asset_manager.alb_oidc_rule: the pure comparison, and the module's
AWS conversation through botocore's Stubber, pinned to the shape real AWS describes."""

from __future__ import annotations

import copy
import json
import re

import boto3
import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.retries import (
    AWSRetry,
    RetryingBotoClientWrapper,
)
from botocore.stub import ANY, Stubber

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)
from ansible_collections.leverslabs.asset_manager.plugins.modules import alb_oidc_rule as mod

LISTENER_ARN = (
    "arn:aws:elasticloadbalancing:us-west-1:123456789012:listener/app/alb/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2"
)
RULE_ARN = LISTENER_ARN.replace(":listener/", ":listener-rule/") + "/9683b2d02a6cabee"
DEFAULT_RULE_ARN = LISTENER_ARN.replace(":listener/", ":listener-rule/") + "/0000000000000000"
TG_ARN = "arn:aws:elasticloadbalancing:us-west-1:123456789012:targetgroup/web/73e2d6bc24d8a067"
OTHER_TG_ARN = "arn:aws:elasticloadbalancing:us-west-1:123456789012:targetgroup/other/1111"
SECRET = "s3cr3t-Auth0-client-secret-9d1c"
NEW_SECRET = "r0tated-Auth0-client-secret-4b2a"
# ELBv2's TagValue pattern (botocore service model), which real AWS enforces and moto does not.
TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]*$")
# Fewer iterations than the module writes, to keep the tests fast: a stored fingerprint carries
# its own iteration count, and the module must honour it.
FAST = 10_000


def fingerprint(secret=SECRET):
    return mod.fingerprint_secret(secret, iterations=FAST)


def params(**overrides):
    """Module parameters as Ansible hands them over (defaults filled in)."""
    oidc = {
        "issuer": "https://example.eu.auth0.com/",
        "authorization_endpoint": "https://example.eu.auth0.com/authorize",
        "token_endpoint": "https://example.eu.auth0.com/oauth/token",
        "user_info_endpoint": "https://example.eu.auth0.com/userinfo",
        "client_id": "abc123",
        "client_secret": SECRET,
        "session_cookie_name": "AWSELBAuthSessionCookie",
        "session_timeout": 604800,
        "scope": "openid email profile",
        "on_unauthenticated_request": "authenticate",
        "authentication_request_extra_params": {},
        **overrides.pop("oidc", {}),
    }
    base = {
        "listener_arn": LISTENER_ARN,
        "priority": 100,
        "host_headers": ["dg.example.com", "alt.example.com"],
        "target_group_arn": TG_ARN,
        "state": "present",
        "oidc": oidc,
        "client_secret_update": "on_change",
        "tags": None,
        "purge_tags": True,
    }
    base.update(overrides)
    return base


def aws_rule():
    """The rule exactly as real AWS describes it after the module created it.

    No ClientSecret or UseExistingClientSecret; no AuthenticationRequestExtraParams when none
    were given; the forward action both as TargetGroupArn and as ForwardConfig; the host header
    values both in Values and HostHeaderConfig; the priority as a string; host headers in
    another order than the task gives them.
    """
    return {
        "RuleArn": RULE_ARN,
        "Priority": "100",
        "Conditions": [
            {
                "Field": "host-header",
                "Values": ["alt.example.com", "dg.example.com"],
                "HostHeaderConfig": {"Values": ["alt.example.com", "dg.example.com"]},
            }
        ],
        "Actions": [
            {
                "Type": "authenticate-oidc",
                "Order": 1,
                "AuthenticateOidcConfig": {
                    "Issuer": "https://example.eu.auth0.com/",
                    "AuthorizationEndpoint": "https://example.eu.auth0.com/authorize",
                    "TokenEndpoint": "https://example.eu.auth0.com/oauth/token",
                    "UserInfoEndpoint": "https://example.eu.auth0.com/userinfo",
                    "ClientId": "abc123",
                    "SessionCookieName": "AWSELBAuthSessionCookie",
                    "Scope": "openid email profile",
                    "SessionTimeout": 604800,
                    "OnUnauthenticatedRequest": "authenticate",
                },
            },
            {
                "Type": "forward",
                "Order": 2,
                "TargetGroupArn": TG_ARN,
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": TG_ARN, "Weight": 1}],
                    "TargetGroupStickinessConfig": {"Enabled": False},
                },
            },
        ],
        "IsDefault": False,
    }


def default_rule():
    return {
        "RuleArn": DEFAULT_RULE_ARN,
        "Priority": "default",
        "Conditions": [],
        "Actions": [
            {
                "Type": "fixed-response",
                "Order": 1,
                "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
            }
        ],
        "IsDefault": True,
    }


def current(rule=None, tags=None):
    return mod.normalise_rule(rule or aws_rule(), tags or {})


def compare(desired_params=None, rule=None, tags=None, fp="default", **kwargs):
    p = desired_params or params()
    fp = fingerprint() if fp == "default" else fp
    return mod.compare_rule(
        mod.build_desired(p),
        current(rule, tags),
        p["oidc"]["client_secret"],
        fp,
        client_secret_update=p["client_secret_update"],
        purge_tags=p["purge_tags"],
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------
# Fingerprint


class TestFingerprint:
    def test_matches_the_secret_it_was_made_from(self):
        assert mod.fingerprint_matches(SECRET, fingerprint())

    def test_does_not_match_another_secret(self):
        assert not mod.fingerprint_matches(NEW_SECRET, fingerprint())

    @pytest.mark.parametrize("stored", [None, "", "sha256:abc", "pbkdf2-sha256:10000:zz:00"])
    def test_missing_or_malformed_never_matches(self, stored):
        assert not mod.fingerprint_matches(SECRET, stored)

    def test_iterations_outside_the_bounds_never_match(self):
        # A valid fingerprint, but cheap enough to brute force: do not trust it.
        assert not mod.fingerprint_matches(SECRET, mod.fingerprint_secret(SECRET, iterations=1))

    def test_default_is_expensive_salted_and_a_valid_aws_tag_value(self):
        first, second = mod.fingerprint_secret(SECRET), mod.fingerprint_secret(SECRET)
        assert first != second  # a random salt on every write
        scheme, iterations, salt, digest = first.split(":")
        assert scheme == "pbkdf2-sha256"
        assert 100_000 <= int(iterations) <= 200_000
        assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(digest)) == 32
        assert TAG_VALUE_RE.match(first) and len(first) <= 256
        assert SECRET not in first
        assert mod.fingerprint_matches(SECRET, first)


# ---------------------------------------------------------------------------------------------
# Normalisation of AWS's describe shape


class TestNormalise:
    def test_real_aws_shape(self):
        assert current(tags={"Application": "asset-manager"}) == {
            "priority": 100,
            "host_headers": ["alt.example.com", "dg.example.com"],
            "target_group_arn": TG_ARN,
            "oidc": {
                "issuer": "https://example.eu.auth0.com/",
                "authorization_endpoint": "https://example.eu.auth0.com/authorize",
                "token_endpoint": "https://example.eu.auth0.com/oauth/token",
                "user_info_endpoint": "https://example.eu.auth0.com/userinfo",
                "client_id": "abc123",
                "session_cookie_name": "AWSELBAuthSessionCookie",
                "session_timeout": 604800,
                "scope": "openid email profile",
                "on_unauthenticated_request": "authenticate",
                "authentication_request_extra_params": {},
            },
            "tags": {"Application": "asset-manager"},
        }

    def test_moto_shape_is_the_same(self):
        rule = aws_rule()
        rule["Priority"] = 100
        rule["Conditions"] = [
            {"Field": "host-header", "HostHeaderConfig": {"Values": ["dg.example.com"]}},
            {"Field": "host-header", "Values": ["alt.example.com"]},
        ]
        del rule["Actions"][1]["ForwardConfig"]
        rule["Actions"][0]["AuthenticateOidcConfig"]["AuthenticationRequestExtraParams"] = {}
        assert current(rule) == current()

    def test_extra_params_are_read_when_aws_describes_them(self):
        rule = aws_rule()
        rule["Actions"][0]["AuthenticateOidcConfig"]["AuthenticationRequestExtraParams"] = {
            "prompt": "login"
        }
        extra = {"oidc": {"authentication_request_extra_params": {"prompt": "login"}}}
        assert current(rule)["oidc"]["authentication_request_extra_params"] == {"prompt": "login"}
        assert compare(params(**extra), rule=rule)["changes"] == []
        assert compare(rule=rule)["changes"] == ["oidc.authentication_request_extra_params"]

    def test_a_secret_in_a_describe_is_dropped(self):
        rule = aws_rule()
        rule["Actions"][0]["AuthenticateOidcConfig"].update(
            ClientSecret=SECRET, UseExistingClientSecret=True
        )
        assert current(rule) == current()
        assert SECRET not in json.dumps(current(rule))

    def test_fingerprint_tag_is_split_from_user_tags(self):
        user, stored = mod.split_tags({"a": "1", mod.FINGERPRINT_TAG: "fp"})
        assert (user, stored) == ({"a": "1"}, "fp")

    @pytest.mark.parametrize(
        "forward_config",
        [
            {
                "TargetGroups": [{"TargetGroupArn": TG_ARN, "Weight": 1}],
                "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 60},
            },
            {
                "TargetGroups": [
                    {"TargetGroupArn": TG_ARN, "Weight": 1},
                    {"TargetGroupArn": OTHER_TG_ARN, "Weight": 1},
                ],
            },
        ],
        ids=["sticky", "weighted"],
    )
    def test_a_fancier_forward_is_unmanaged(self, forward_config):
        rule = aws_rule()
        rule["Actions"][1]["ForwardConfig"] = forward_config
        normalised = current(rule)
        assert normalised["target_group_arn"] is None
        assert normalised["unmanaged"]["actions"] == [rule["Actions"][1]]


# ---------------------------------------------------------------------------------------------
# Which rule is ours


class TestFindRule:
    def test_by_priority(self):
        rules = [default_rule(), aws_rule()]
        assert mod.find_rule(rules, 100, ["other.example.com"])["RuleArn"] == RULE_ARN

    def test_by_exact_host_headers_in_any_order_when_the_priority_is_free(self):
        rules = [default_rule(), aws_rule()]
        found = mod.find_rule(rules, 7, ["dg.example.com", "alt.example.com"])
        assert found["RuleArn"] == RULE_ARN

    def test_a_subset_of_host_headers_is_not_a_match(self):
        assert mod.find_rule([aws_rule()], 7, ["dg.example.com"]) is None

    def test_never_the_default_rule(self):
        rule = default_rule()
        rule["Conditions"] = [{"Field": "host-header", "Values": ["dg.example.com"]}]
        assert mod.find_rule([rule], None, ["dg.example.com"]) is None

    def test_several_host_header_matches_is_an_error(self):
        twin = aws_rule()
        twin.update(RuleArn=RULE_ARN + "0", Priority="200")
        with pytest.raises(ValueError, match="several rules"):
            mod.find_rule([aws_rule(), twin], 7, ["dg.example.com", "alt.example.com"])


# ---------------------------------------------------------------------------------------------
# The pure comparison


class TestCompare:
    def test_no_change(self):
        plan = compare()
        assert plan["changes"] == []
        assert not (plan["modify_rule"] or plan["send_secret"] or plan["set_priority"])

    def test_host_headers_are_order_insensitive(self):
        p = params(host_headers=["dg.example.com", "alt.example.com", "dg.example.com"])
        assert compare(p)["changes"] == []
        assert compare(params(host_headers=["alt.example.com", "dg.example.com"]))["changes"] == []

    @pytest.mark.parametrize(
        ("overrides", "change"),
        [
            ({"host_headers": ["dg.example.com"]}, "host_headers"),
            ({"target_group_arn": OTHER_TG_ARN}, "target_group_arn"),
            ({"oidc": {"issuer": "https://other/"}}, "oidc.issuer"),
            ({"oidc": {"authorization_endpoint": "https://o/a"}}, "oidc.authorization_endpoint"),
            ({"oidc": {"token_endpoint": "https://o/t"}}, "oidc.token_endpoint"),
            ({"oidc": {"user_info_endpoint": "https://o/u"}}, "oidc.user_info_endpoint"),
            ({"oidc": {"client_id": "other"}}, "oidc.client_id"),
            ({"oidc": {"session_cookie_name": "c"}}, "oidc.session_cookie_name"),
            ({"oidc": {"session_timeout": 3600}}, "oidc.session_timeout"),
            ({"oidc": {"scope": "openid"}}, "oidc.scope"),
            ({"oidc": {"on_unauthenticated_request": "deny"}}, "oidc.on_unauthenticated_request"),
            (
                {"oidc": {"authentication_request_extra_params": {"prompt": "login"}}},
                "oidc.authentication_request_extra_params",
            ),
        ],
    )
    def test_each_rule_field_is_compared(self, overrides, change):
        plan = compare(params(**overrides))
        assert plan["changes"] == [change]
        assert plan["modify_rule"] and not plan["send_secret"]

    def test_priority_change_moves_without_modifying(self):
        plan = compare(params(priority=200))
        assert plan["changes"] == ["priority"]
        assert plan["set_priority"] and not plan["modify_rule"]

    def test_rotated_secret_is_sent(self):
        plan = compare(params(oidc={"client_secret": NEW_SECRET}))
        assert plan["changes"] == ["client_secret"]
        assert plan["send_secret"] and plan["modify_rule"]

    def test_missing_fingerprint_sends_the_secret_once(self):
        plan = compare(fp=None)
        assert plan["changes"] == ["client_secret"] and plan["send_secret"]

    def test_always_sends_the_secret(self):
        plan = compare(params(client_secret_update="always"))
        assert plan["changes"] == ["client_secret"] and plan["send_secret"]

    @pytest.mark.parametrize("stored", [None, "mismatch"])
    def test_never_keeps_the_secret(self, stored):
        stored = fingerprint(NEW_SECRET) if stored else None
        plan = compare(params(client_secret_update="never"), fp=stored)
        assert plan["changes"] == [] and not plan["send_secret"]

    def test_never_still_sends_when_the_rule_has_no_oidc_action(self):
        rule = aws_rule()
        rule["Actions"] = [{"Type": "forward", "Order": 1, "TargetGroupArn": TG_ARN}]
        plan = compare(params(client_secret_update="never"), rule=rule, fp=None)
        assert plan["send_secret"]
        assert {"oidc", "client_secret"} <= set(plan["changes"])

    def test_unmanaged_conditions_are_a_change(self):
        rule = aws_rule()
        rule["Conditions"].append({"Field": "path-pattern", "Values": ["/admin/*"]})
        assert compare(rule=rule)["changes"] == ["unmanaged"]

    def test_no_rule_means_create_with_the_secret(self):
        p = params(tags={"Application": "asset-manager"})
        plan = mod.compare_rule(mod.build_desired(p), None, SECRET, None)
        assert plan["create"] and plan["send_secret"] and plan["changes"] == ["create"]
        assert plan["tags_to_set"] == {"Application": "asset-manager"}

    def test_tags(self):
        tags = {"Application": "asset-manager", "Owner": "data"}
        assert compare(params(tags=None), tags=tags)["changes"] == []
        assert compare(params(tags=dict(tags)), tags=tags)["changes"] == []
        plan = compare(params(tags={"Application": "am"}), tags=tags)
        assert plan["changes"] == ["tags"]
        assert (plan["tags_to_set"], plan["tags_to_unset"]) == ({"Application": "am"}, ["Owner"])
        plan = compare(params(tags={"Application": "asset-manager"}, purge_tags=False), tags=tags)
        assert plan["changes"] == []
        assert not plan["modify_rule"]

    def test_diff_view_shows_only_a_marker(self):
        view = mod.diff_view(mod.build_desired(params()), mod.SECRET_WILL_UPDATE)
        assert view["oidc"]["client_secret"] == "<will be updated>"
        assert SECRET not in json.dumps(view)


class TestRequests:
    def test_actions_with_the_secret(self):
        actions = mod.build_actions(mod.build_desired(params()), SECRET, send_secret=True)
        config = actions[0]["AuthenticateOidcConfig"]
        assert config["ClientSecret"] == SECRET and "UseExistingClientSecret" not in config
        assert [(a["Type"], a["Order"]) for a in actions] == [
            ("authenticate-oidc", 1),
            ("forward", 2),
        ]

    def test_actions_keeping_the_secret(self):
        actions = mod.build_actions(mod.build_desired(params()), SECRET, send_secret=False)
        config = actions[0]["AuthenticateOidcConfig"]
        assert config["UseExistingClientSecret"] is True and "ClientSecret" not in config
        assert SECRET not in json.dumps(actions)

    def test_scrub_masks_every_spelling(self):
        secret = "a+b/c d&e"
        text = f"raw {secret} url a%2Bb%2Fc%20d%26e form a%2Bb%2Fc+d%26e"
        assert "b/c" not in mod.scrub(text, secret) and "%2F" not in mod.scrub(text, secret)


# ---------------------------------------------------------------------------------------------
# The whole module, its AWS conversation stubbed with the shapes real AWS returns


class ModuleExit(SystemExit):
    def __init__(self, result, no_log_values=()):
        super().__init__(0)
        self.result = result
        self.no_log_values = set(no_log_values)


class ModuleFail(SystemExit):
    def __init__(self, result):
        super().__init__(1)
        self.result = result


@pytest.fixture
def stubbed(monkeypatch):
    """A stubbed elbv2 client handed to the module, and the module's raw result.

    exit_json/fail_json are replaced before Ansible masks no_log values, so the tests see
    exactly what the module tried to return.
    """
    client = boto3.client(
        "elbv2",
        region_name="us-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    wrapped = RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff())
    monkeypatch.setattr(AssetManagerModule, "client", lambda self, *a, **kw: wrapped)

    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, self.no_log_values)

    def fail_json(self, msg=None, **kwargs):
        raise ModuleFail({"msg": msg, **kwargs})

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    # A fixed salt makes the fingerprint the module writes predictable.
    monkeypatch.setattr(mod.os, "urandom", lambda n: b"\x01" * n)

    def run(args, check=False, diff=False):
        module_args = {**args, "_ansible_check_mode": check, "_ansible_diff": diff}
        module_args.setdefault("region", "us-west-1")
        with stubber, patch_module_args(module_args):
            with pytest.raises((ModuleExit, ModuleFail)) as raised:
                mod.main()
        stubber.assert_no_pending_responses()
        return raised.value

    return stubber, run


def task_args(**overrides):
    p = params(**overrides)
    args = {key: value for key, value in p.items() if value is not None}
    return copy.deepcopy(args)


def expect_lookup(stubber, rule, fp):
    stubber.add_response(
        "describe_rules",
        {"Rules": [rule, default_rule()]},
        {"ListenerArn": LISTENER_ARN, "PageSize": 100},
    )
    # AWS leaves Tags out of a description when there are none.
    description = {"ResourceArn": RULE_ARN}
    if fp:
        description["Tags"] = [{"Key": mod.FINGERPRINT_TAG, "Value": fp}]
    stubber.add_response(
        "describe_tags",
        {"TagDescriptions": [description]},
        {"ResourceArns": [RULE_ARN]},
    )


def test_real_describe_shape_is_unchanged_and_writes_nothing(stubbed):
    stubber, run = stubbed
    expect_lookup(stubber, aws_rule(), fingerprint())
    outcome = run(task_args(), diff=True)
    assert isinstance(outcome, ModuleExit), outcome.result
    result = outcome.result
    assert result["changed"] is False and result["changes"] == []
    assert result["secret_updated"] is False
    assert result["rule_arn"] == RULE_ARN
    assert result["rule"] == current()
    assert result["diff"]["before"] == result["diff"]["after"]
    assert SECRET not in json.dumps(result)
    # Ansible masks the secret wherever it would print it (the -vvv invocation, for one).
    assert SECRET in outcome.no_log_values


def test_rotated_secret_is_applied_then_fingerprinted(stubbed):
    stubber, run = stubbed
    expect_lookup(stubber, aws_rule(), fingerprint())
    new_fingerprint = mod.fingerprint_secret(NEW_SECRET, salt=b"\x01" * 16)
    desired = mod.build_desired(params(oidc={"client_secret": NEW_SECRET}))
    stubber.add_response(
        "modify_rule",
        {"Rules": [aws_rule()]},
        {
            "RuleArn": RULE_ARN,
            "Conditions": mod.build_conditions(desired),
            "Actions": mod.build_actions(desired, NEW_SECRET, send_secret=True),
        },
    )
    stubber.add_response(
        "add_tags",
        {},
        {
            "ResourceArns": [RULE_ARN],
            "Tags": [{"Key": mod.FINGERPRINT_TAG, "Value": new_fingerprint}],
        },
    )
    stubber.add_response(
        "describe_tags",
        {
            "TagDescriptions": [
                {
                    "ResourceArn": RULE_ARN,
                    "Tags": [{"Key": mod.FINGERPRINT_TAG, "Value": new_fingerprint}],
                }
            ]
        },
        {"ResourceArns": [RULE_ARN]},
    )
    stubber.add_response("describe_rules", {"Rules": [aws_rule()]}, {"RuleArns": [RULE_ARN]})
    outcome = run(task_args(oidc={"client_secret": NEW_SECRET}), diff=True)
    assert isinstance(outcome, ModuleExit), outcome.result
    result = outcome.result
    assert result["changed"] and result["secret_updated"]
    assert result["changes"] == ["client_secret"]
    assert result["diff"]["after"]["oidc"]["client_secret"] == "<will be updated>"
    dumped = json.dumps(result)
    assert SECRET not in dumped and NEW_SECRET not in dumped
    assert new_fingerprint not in dumped


def test_field_change_keeps_the_secret_aws_holds(stubbed):
    stubber, run = stubbed
    expect_lookup(stubber, aws_rule(), fingerprint())
    desired = mod.build_desired(params(oidc={"session_timeout": 3600}))
    stubber.add_response(
        "modify_rule",
        {"Rules": [aws_rule()]},
        {
            "RuleArn": RULE_ARN,
            "Conditions": mod.build_conditions(desired),
            "Actions": mod.build_actions(desired, SECRET, send_secret=False),
        },
    )
    stubber.add_response(
        "describe_tags",
        {"TagDescriptions": [{"ResourceArn": RULE_ARN}]},
        {"ResourceArns": [RULE_ARN]},
    )
    stubber.add_response("describe_rules", {"Rules": [aws_rule()]}, {"RuleArns": [RULE_ARN]})
    outcome = run(task_args(oidc={"session_timeout": 3600}))
    assert isinstance(outcome, ModuleExit), outcome.result
    assert outcome.result["changes"] == ["oidc.session_timeout"]
    assert outcome.result["secret_updated"] is False


def test_check_mode_create_writes_nothing(stubbed):
    stubber, run = stubbed
    stubber.add_response(
        "describe_rules",
        {"Rules": [default_rule()]},
        {"ListenerArn": LISTENER_ARN, "PageSize": 100},
    )
    outcome = run(task_args(), check=True, diff=True)
    result = outcome.result
    assert isinstance(outcome, ModuleExit), result
    assert result["changed"] and result["changes"] == ["create"]
    assert result["rule_arn"] is None
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["oidc"]["client_secret"] == "<will be updated>"


def test_an_aws_error_quoting_the_secret_is_scrubbed(stubbed):
    stubber, run = stubbed
    expect_lookup(stubber, aws_rule(), None)
    stubber.add_client_error(
        "modify_rule",
        service_error_code="ValidationError",
        service_message=f"ClientSecret '{SECRET}' is not valid",
        http_status_code=400,
        expected_params={"RuleArn": RULE_ARN, "Conditions": ANY, "Actions": ANY},
    )
    outcome = run(task_args())
    assert isinstance(outcome, ModuleFail)
    dumped = json.dumps(outcome.result)
    assert "ValidationError" in dumped and "is not valid" in dumped
    assert SECRET not in dumped


def test_absent_deletes_the_rule_found_by_host_headers(stubbed):
    stubber, run = stubbed
    stubber.add_response(
        "describe_rules",
        {"Rules": [aws_rule(), default_rule()]},
        {"ListenerArn": LISTENER_ARN, "PageSize": 100},
    )
    stubber.add_response(
        "describe_tags",
        {"TagDescriptions": [{"ResourceArn": RULE_ARN}]},
        {"ResourceArns": [RULE_ARN]},
    )
    stubber.add_response("delete_rule", {}, {"RuleArn": RULE_ARN})
    args = {
        "listener_arn": LISTENER_ARN,
        "host_headers": ["dg.example.com", "alt.example.com"],
        "state": "absent",
    }
    outcome = run(args)
    assert isinstance(outcome, ModuleExit), outcome.result
    assert outcome.result["changed"] and outcome.result["changes"] == ["delete"]
