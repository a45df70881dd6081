"""Unit tests of alb_load_balancer: action normalisation, the pure comparison, and main() against
botocore's Stubber."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.modules import alb_load_balancer as m
from ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils import (
    Failed,
    expect_elbv2_tags,
    run_module,
    stubbed_client,
)

NAME = "asset-manager-alb"
PREFIX = "arn:aws:elasticloadbalancing:us-west-1:123456789012"
ARN = f"{PREFIX}:loadbalancer/app/{NAME}/50dc6c495c0c9188"
TG = f"{PREFIX}:targetgroup/web/73e2d6bc24d8a067"
CERT = "arn:aws:acm:us-west-1:123456789012:certificate/1"
TAGS = {"Application": "asset-manager", "Name": NAME}
NOT_FOUND = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
REDIRECT = {
    "Type": "redirect",
    "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
}
LISTENERS = [
    {
        "port": 443,
        "protocol": "HTTPS",
        "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "certificate_arn": CERT,
        "default_actions": [NOT_FOUND],
    },
    {"port": 80, "protocol": "HTTP", "default_actions": [REDIRECT]},
]
ATTRIBUTES = {"deletion_protection.enabled": True, "idle_timeout.timeout_seconds": 60}


def listener_arn(port):
    return f"{PREFIX}:listener/app/{NAME}/50dc6c495c0c9188/{port:016x}"


def aws_listener(port, **overrides):
    """A listener as AWS describes it: the redirect's defaults filled in, no SslPolicy on HTTP."""
    listener = {
        "ListenerArn": listener_arn(port),
        "LoadBalancerArn": ARN,
        "Port": port,
        "Protocol": "HTTPS" if port == 443 else "HTTP",
    }
    if port == 443:
        listener.update(
            SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            Certificates=[{"CertificateArn": CERT}],
            DefaultActions=[NOT_FOUND],
        )
    else:
        config = {**m.REDIRECT_DEFAULTS, **REDIRECT["RedirectConfig"]}
        listener["DefaultActions"] = [{"Type": "redirect", "RedirectConfig": config}]
    listener.update(overrides)
    return listener


def balancer(**overrides):
    described = {
        "LoadBalancerArn": ARN,
        "DNSName": f"{NAME}-1.us-west-1.elb.amazonaws.com",
        "CanonicalHostedZoneId": "Z368ELLRRE2KJ0",
        "LoadBalancerName": NAME,
        "Scheme": "internet-facing",
        "Type": "application",
        "AvailabilityZones": [{"SubnetId": "subnet-b"}, {"SubnetId": "subnet-a"}],
        "SecurityGroups": ["sg-1"],
        "IpAddressType": "ipv4",
    }
    described.update(overrides)
    return described


@pytest.fixture
def elbv2():
    with stubbed_client("elbv2") as client:
        yield client


def expect_reads(client, lb=None, attributes=None, listeners=None, tags=None):
    tags = TAGS if tags is None else tags
    stub = client.stubber
    stub.add_response(
        "describe_load_balancers", {"LoadBalancers": [lb or balancer()]}, {"Names": [NAME]}
    )
    attributes = attributes or {
        "deletion_protection.enabled": "true",
        "idle_timeout.timeout_seconds": "60",
        "routing.http2.enabled": "true",
    }
    stub.add_response(
        "describe_load_balancer_attributes",
        {"Attributes": [{"Key": k, "Value": v} for k, v in attributes.items()]},
        {"LoadBalancerArn": ARN},
    )
    stub.add_response(
        "describe_listeners",
        {
            "Listeners": listeners
            if listeners is not None
            else [aws_listener(443), aws_listener(80)]
        },
        {"LoadBalancerArn": ARN},
    )
    expect_elbv2_tags(stub, ARN, tags)


def run(client, check_mode=False, diff=False, **args):
    args = {
        "name": NAME,
        "ip_address_type": "ipv4",
        "subnets": ["subnet-a", "subnet-b"],
        "security_groups": ["sg-1"],
        "attributes": ATTRIBUTES,
        "listeners": LISTENERS,
        "tags": TAGS,
        **args,
    }
    return run_module(m, args, client, check_mode=check_mode, diff=diff)


# --- actions as AWS describes them -----------------------------------------------------------


def test_a_redirect_compares_with_aws_defaults_filled_in():
    described = {"Type": "redirect", "RedirectConfig": {**m.REDIRECT_DEFAULTS, "Protocol": "HTTPS",
                 "Port": "443", "StatusCode": "HTTP_301"}}  # fmt: skip
    assert m.normalise_actions([REDIRECT]) == m.normalise_actions([described])
    changed = copy.deepcopy(described)
    changed["RedirectConfig"]["Host"] = "evil.example"
    assert m.normalise_actions([REDIRECT]) != m.normalise_actions([changed])


def test_a_forward_to_one_group_equals_its_forward_config():
    simple = {"Type": "forward", "TargetGroupArn": TG}
    described = {
        "Type": "forward",
        "TargetGroupArn": TG,
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": TG, "Weight": 1}],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }
    assert m.normalise_actions([simple]) == m.normalise_actions([described])


def test_actions_are_compared_in_order_without_their_order_field():
    one = [{**NOT_FOUND, "Order": 2}, {"Type": "forward", "TargetGroupArn": TG, "Order": 1}]
    two = [{"Type": "forward", "TargetGroupArn": TG}, NOT_FOUND]
    assert m.normalise_actions(one) == m.normalise_actions(two)


def test_write_only_secrets_are_not_compared():
    action = {
        "Type": "authenticate-oidc",
        "AuthenticateOidcConfig": {"ClientId": "c", "ClientSecret": "s"},
    }
    assert m.normalise_action(action)["AuthenticateOidcConfig"] == {"ClientId": "c"}


# --- the pure comparison ---------------------------------------------------------------------


def desired(**params):
    return m.desired_settings(
        {
            "scheme": "internet-facing",
            "ip_address_type": "ipv4",
            "subnets": ["subnet-a", "subnet-b"],
            "security_groups": ["sg-1"],
            "attributes": ATTRIBUTES,
            "listeners": LISTENERS,
            "tags": TAGS,
            "web_acl_arn": None,
            **params,
        }
    )


def current(lb=None, attributes=None, listeners=None, tags=None):
    tags = TAGS if tags is None else tags
    attributes = attributes or {
        "deletion_protection.enabled": "true",
        "idle_timeout.timeout_seconds": "60",
    }
    if listeners is None:
        listeners = [aws_listener(443), aws_listener(80)]
    return m.current_settings(lb or balancer(), attributes, listeners, tags)


def test_a_converged_balancer_needs_nothing():
    plan = m.compare_load_balancer(desired(), current())
    assert plan["changes"] == []
    assert plan["before"]["listeners"] == plan["after"]["listeners"]


def test_every_drift_is_reported_not_only_the_first():
    ok = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}
    forward = {"Type": "forward", "TargetGroupArn": TG}
    listeners = [
        aws_listener(
            443,
            SslPolicy="ELBSecurityPolicy-2016-08",
            Certificates=[{"CertificateArn": "other"}],
            DefaultActions=[ok],
        ),
        aws_listener(8080, Protocol="HTTP", DefaultActions=[forward]),
    ]
    plan = m.compare_load_balancer(
        desired(),
        current(
            balancer(SecurityGroups=["sg-2"], AvailabilityZones=[{"SubnetId": "subnet-a"}]),
            {"deletion_protection.enabled": "false", "idle_timeout.timeout_seconds": "60"},
            listeners,
            {"Name": NAME},
        ),
    )
    assert plan["changes"] == [
        "subnets",
        "security_groups",
        "attributes.deletion_protection.enabled",
        "listeners.80",
        "listeners.443.ssl_policy",
        "listeners.443.certificate_arn",
        "listeners.443.default_actions",
        "listeners.8080",
        "tags",
    ]
    assert plan["listeners_to_create"] == ["80"] and plan["listeners_to_delete"] == ["8080"]
    assert "8080" in plan["before"]["listeners"] and "8080" not in plan["after"]["listeners"]
    assert plan["after"]["listeners"]["443"]["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"


def test_unmanaged_settings_are_not_compared():
    wanted = desired(attributes={}, listeners=None, tags=None, security_groups=None)
    plan = m.compare_load_balancer(wanted, current(balancer(SecurityGroups=["sg-9"]), tags={}))
    assert plan["changes"] == []


def test_extra_listeners_survive_without_purge():
    listeners = [aws_listener(443), aws_listener(80), aws_listener(8080, Protocol="HTTP")]
    plan = m.compare_load_balancer(desired(), current(listeners=listeners), purge_listeners=False)
    assert plan["changes"] == [] and "8080" in plan["after"]["listeners"]


def test_a_changed_scheme_is_refused():
    plan = m.compare_load_balancer(desired(scheme="internal"), current())
    assert plan["immutable"] == ["scheme"]


# --- main() ----------------------------------------------------------------------------------


def test_noop_makes_four_reads(elbv2):
    expect_reads(elbv2)
    result = run(elbv2)
    assert result["changed"] is False
    assert result["listeners"] == [
        {"port": 80, "protocol": "HTTP", "listener_arn": listener_arn(80)},
        {"port": 443, "protocol": "HTTPS", "listener_arn": listener_arn(443)},
    ]
    assert result["load_balancer_arn"] == ARN


def test_check_mode_reports_with_a_diff_and_writes_nothing(elbv2):
    expect_reads(elbv2, listeners=[aws_listener(443, SslPolicy="ELBSecurityPolicy-2016-08")])
    result = run(elbv2, check_mode=True, diff=True)
    assert result["changes"] == ["listeners.80", "listeners.443.ssl_policy"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert "80" not in before["listeners"] and after["listeners"]["80"]["protocol"] == "HTTP"
    assert before["listeners"]["443"]["ssl_policy"] == "ELBSecurityPolicy-2016-08"
    # The listener check mode would create has no ARN yet: only the existing one is returned.
    assert [item["port"] for item in result["listeners"]] == [443]


def test_run_repairs_attributes_listeners_and_tags(elbv2):
    listeners = [
        aws_listener(443, SslPolicy="ELBSecurityPolicy-2016-08"),
        aws_listener(80, DefaultActions=[{"Type": "forward", "TargetGroupArn": TG}]),
        aws_listener(8080, Protocol="HTTP"),
    ]
    expect_reads(
        elbv2,
        balancer(SecurityGroups=["sg-2"]),
        {"deletion_protection.enabled": "false", "idle_timeout.timeout_seconds": "60"},
        listeners,
        {**TAGS, "Extra": "1"},
    )
    stub = elbv2.stubber
    stub.add_response(
        "set_security_groups", {}, {"LoadBalancerArn": ARN, "SecurityGroups": ["sg-1"]}
    )
    stub.add_response(
        "modify_load_balancer_attributes",
        {},
        {
            "LoadBalancerArn": ARN,
            "Attributes": [{"Key": "deletion_protection.enabled", "Value": "true"}],
        },
    )
    stub.add_response("delete_listener", {}, {"ListenerArn": listener_arn(8080)})
    stub.add_response(
        "modify_listener", {}, {"ListenerArn": listener_arn(80), "DefaultActions": [REDIRECT]}
    )
    stub.add_response(
        "modify_listener",
        {},
        {"ListenerArn": listener_arn(443), "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
    )
    stub.add_response("remove_tags", {}, {"ResourceArns": [ARN], "TagKeys": ["Extra"]})
    stub.add_response(
        "describe_listeners",
        {"Listeners": [aws_listener(443), aws_listener(80)]},
        {"LoadBalancerArn": ARN},
    )
    result = run(elbv2)
    assert result["changed"] is True and len(result["listeners"]) == 2


def test_a_missing_balancer_is_created_with_its_listeners(elbv2):
    stub = elbv2.stubber
    stub.add_client_error("describe_load_balancers", service_error_code="LoadBalancerNotFound")
    stub.add_response(
        "create_load_balancer",
        {"LoadBalancers": [balancer()]},
        {
            "Name": NAME,
            "Subnets": ["subnet-a", "subnet-b"],
            "Scheme": "internet-facing",
            "Type": "application",
            "SecurityGroups": ["sg-1"],
            "IpAddressType": "ipv4",
            "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()],
        },
    )
    stub.add_response(
        "modify_load_balancer_attributes",
        {},
        {
            "LoadBalancerArn": ARN,
            "Attributes": [
                {"Key": "deletion_protection.enabled", "Value": "true"},
                {"Key": "idle_timeout.timeout_seconds", "Value": "60"},
            ],
        },
    )
    stub.add_response(
        "create_listener",
        {"Listeners": [aws_listener(80)]},
        {"LoadBalancerArn": ARN, "Port": 80, "Protocol": "HTTP", "DefaultActions": [REDIRECT]},
    )
    stub.add_response(
        "create_listener",
        {"Listeners": [aws_listener(443)]},
        {
            "LoadBalancerArn": ARN,
            "Port": 443,
            "Protocol": "HTTPS",
            "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "Certificates": [{"CertificateArn": CERT}],
            "DefaultActions": [NOT_FOUND],
        },
    )
    stub.add_response(
        "describe_listeners",
        {"Listeners": [aws_listener(443), aws_listener(80)]},
        {"LoadBalancerArn": ARN},
    )
    result = run(elbv2, diff=True)
    assert result["changes"] == ["load_balancer"] and result["diff"]["before"] == {}
    assert result["dns_name"] == balancer()["DNSName"]


def test_check_mode_on_a_missing_balancer_returns_no_arn(elbv2):
    elbv2.stubber.add_client_error(
        "describe_load_balancers", service_error_code="LoadBalancerNotFound"
    )
    result = run(elbv2, check_mode=True)
    assert result["changed"] is True and result["load_balancer_arn"] is None
    assert result["listeners"] == []


def test_creating_needs_subnets(elbv2):
    elbv2.stubber.add_client_error(
        "describe_load_balancers", service_error_code="LoadBalancerNotFound"
    )
    with pytest.raises(Failed, match="creating it needs subnets"):
        run(elbv2, subnets=None)


def test_a_port_given_twice_is_refused():
    with pytest.raises(Failed, match="each port may appear once"):
        run_module(m, {"name": NAME, "listeners": [LISTENERS[1], LISTENERS[1]]})


# --- the web ACL -----------------------------------------------------------------------------

WEB_ACL = "arn:aws:wafv2:us-west-1:123456789012:regional/webacl/asset-manager/a1b2c3d4"
OTHER_ACL = "arn:aws:wafv2:us-west-1:123456789012:regional/webacl/other/e5f6a7b8"


@pytest.fixture
def clients():
    with stubbed_client("elbv2") as elbv2, stubbed_client("wafv2") as wafv2:
        yield {"elbv2": elbv2, "wafv2": wafv2}


def expect_web_acl(waf, arn):
    visibility = {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": "x",
    }
    answer = {
        "WebACL": {
            "Name": "x",
            "Id": "1",
            "ARN": arn,
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": visibility,
        }
    }
    waf.stubber.add_response(
        "get_web_acl_for_resource", answer if arn else {}, {"ResourceArn": ARN}
    )


def test_the_web_acl_is_compared_only_when_given():
    with_acl = {**current(), "web_acl_arn": OTHER_ACL}
    assert m.compare_load_balancer(desired(), with_acl)["changes"] == []
    plan = m.compare_load_balancer(desired(web_acl_arn=WEB_ACL), with_acl)
    assert plan["changes"] == ["web_acl_arn"] and plan["set_web_acl"] is True
    assert (plan["before"]["web_acl_arn"], plan["after"]["web_acl_arn"]) == (OTHER_ACL, WEB_ACL)
    none = m.compare_load_balancer(desired(web_acl_arn=""), {**current(), "web_acl_arn": None})
    assert none["changes"] == [] and none["set_web_acl"] is False


def test_an_associated_web_acl_is_left_alone(clients):
    expect_reads(clients["elbv2"])
    expect_web_acl(clients["wafv2"], WEB_ACL)
    assert run(clients, web_acl_arn=WEB_ACL)["changed"] is False


def test_check_mode_plans_the_web_acl_with_a_diff(clients):
    expect_reads(clients["elbv2"])
    expect_web_acl(clients["wafv2"], None)
    result = run(clients, web_acl_arn=WEB_ACL, check_mode=True, diff=True)
    assert result["changes"] == ["web_acl_arn"]
    assert result["diff"]["before"]["web_acl_arn"] is None
    assert result["diff"]["after"]["web_acl_arn"] == WEB_ACL


def test_another_web_acl_is_replaced_and_an_empty_arn_removes_it(clients):
    expect_reads(clients["elbv2"])
    expect_web_acl(clients["wafv2"], OTHER_ACL)
    clients["wafv2"].stubber.add_response(
        "associate_web_acl", {}, {"WebACLArn": WEB_ACL, "ResourceArn": ARN}
    )
    clients["elbv2"].stubber.add_response(
        "describe_listeners",
        {"Listeners": [aws_listener(443), aws_listener(80)]},
        {"LoadBalancerArn": ARN},
    )
    assert run(clients, web_acl_arn=WEB_ACL)["changes"] == ["web_acl_arn"]

    expect_reads(clients["elbv2"])
    expect_web_acl(clients["wafv2"], WEB_ACL)
    clients["wafv2"].stubber.add_response("disassociate_web_acl", {}, {"ResourceArn": ARN})
    clients["elbv2"].stubber.add_response(
        "describe_listeners",
        {"Listeners": [aws_listener(443), aws_listener(80)]},
        {"LoadBalancerArn": ARN},
    )
    assert run(clients, web_acl_arn="")["changes"] == ["web_acl_arn"]


def test_a_web_acl_that_does_not_exist_fails_naming_it(clients):
    expect_reads(clients["elbv2"])
    expect_web_acl(clients["wafv2"], None)
    clients["wafv2"].stubber.add_client_error(
        "associate_web_acl", service_error_code="WAFNonexistentItemException"
    )
    clients["elbv2"].stubber.add_response(
        "describe_listeners",
        {"Listeners": [aws_listener(443), aws_listener(80)]},
        {"LoadBalancerArn": ARN},
    )
    with pytest.raises(Failed, match=f"web_acl_arn {WEB_ACL} names no web ACL"):
        run(clients, web_acl_arn=WEB_ACL)
