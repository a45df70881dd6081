"""The front door (alb_oidc and route53 roles) deployed onto the emulator and checked with boto3.

One stack for the whole file, deployed once by the `deployed` fixture; the tests run in file order
as a scenario: state checks, idempotence, DNS correction, secret rotation, no secret at -vvv,
the discovery check, and teardown last. The stack uses its own `asset_manager_name`, so the other
test files' "nothing written" checks never see it.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.leverslabs.asset_manager.tests.harness import ansible_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOK = ROOT / "tests/integration/playbooks/front_door.yml"

NAME = "front-door"
ALB = f"{NAME}-alb"
TARGET_GROUP = f"{NAME}-web-tg"
DOMAIN = "leverslabs.com"
HOST = f"dg.{DOMAIN}"
AUTH0 = "leverslabs.us.auth0.com"
CLIENT_ID = "local-test-client-id"
ROTATED_SECRET = "front-door-Rotated-5b1e77d2"
LEAK_CANARY = "front-door-Canary-c0ffee91-never-print-me"
RECAP = re.compile(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def recap(output: str) -> dict[str, int]:
    match = RECAP.search(output)
    assert match, output[-3000:]
    ok, changed, unreachable, failed = map(int, match.groups())
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


@pytest.fixture(scope="module")
def play(aws_env, emulator):
    """Run a playbook with the local inventory against this session's emulator."""

    def run(*args, playbook=PLAYBOOK, check=True, strategy=None):
        env = ansible_env(
            **aws_env,
            ASSET_MANAGER_ENDPOINT_URL=emulator,
            ANSIBLE_FORCE_COLOR="0",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            **({"ANSIBLE_STRATEGY": strategy} if strategy else {}),
        )
        cmd = [
            str(BIN / "ansible-playbook"),
            "-i",
            str(ROOT / "inventories/local"),
            str(playbook),
            "-e",
            f"asset_manager_name={NAME}",
            "-e",
            "alb_oidc_deletion_protection=false",
            *args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        output = proc.stdout + proc.stderr
        if check:
            assert proc.returncode == 0, output[-4000:]
        return proc.returncode, output

    return run


@pytest.fixture(scope="module")
def deployed(play):
    """Seed the prerequisites, then deploy the front door once; returns the first run's output."""
    play(playbook=ROOT / "playbooks/emulator_prerequisites.yml")
    _rc, output = play()
    return output


@pytest.fixture(scope="module")
def elbv2(boto3_client):
    return boto3_client("elbv2")


@pytest.fixture(scope="module")
def balancer(deployed, elbv2):
    return elbv2.describe_load_balancers(Names=[ALB])["LoadBalancers"][0]


@pytest.fixture(scope="module")
def listeners(balancer, elbv2):
    found = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    return {listener["Port"]: listener for listener in found}


@pytest.fixture(scope="module")
def target_group_arn(deployed, elbv2):
    groups = elbv2.describe_target_groups(Names=[TARGET_GROUP])["TargetGroups"]
    return groups[0]["TargetGroupArn"]


def login_rule(elbv2, listeners):
    rules = elbv2.describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"]
    ours = [rule for rule in rules if not rule["IsDefault"]]
    assert len(ours) == 1, ours
    return ours[0]


def alias_records(boto3_client):
    route53 = boto3_client("route53")
    zones = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == DOMAIN + "."]
    assert len(zones) == 1
    records = route53.list_resource_record_sets(HostedZoneId=zones[0]["Id"])["ResourceRecordSets"]
    return (
        route53,
        zones[0]["Id"],
        [r for r in records if r["Name"] == HOST + "." and r["Type"] == "A"],
    )


def secret_digests(emulator) -> dict[str, str]:
    with urllib.request.urlopen(f"{emulator}/_asset_manager/oidc-secret-digests") as resp:
        return json.load(resp)


@pytest.fixture(scope="module")
def discovery_server():
    """An OIDC discovery document server on 127.0.0.1: /good/ matches the derived endpoints,
    /bad/ names another token endpoint."""
    issuer = f"https://{AUTH0}/"
    good = {
        "issuer": issuer,
        "authorization_endpoint": issuer + "authorize",
        "token_endpoint": issuer + "oauth/token",
        "userinfo_endpoint": issuer + "userinfo",
        "jwks_uri": issuer + ".well-known/jwks.json",
    }
    documents = {
        "/good/.well-known/openid-configuration": good,
        "/bad/.well-known/openid-configuration": {**good, "token_endpoint": issuer + "token"},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            document = documents.get(self.path)
            body = json.dumps(document or {"error": "not found"}).encode()
            self.send_response(200 if document else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_first_run_creates_the_front_door(deployed):
    assert recap(deployed)["changed"] > 0


def test_https_listener(listeners):
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert len(https["Certificates"]) == 1
    assert ":certificate/" in https["Certificates"][0]["CertificateArn"]
    assert https["DefaultActions"] == [
        {
            "Type": "fixed-response",
            "FixedResponseConfig": {
                "MessageBody": "Not Found",
                "StatusCode": "404",
                "ContentType": "text/plain",
            },
        }
    ]


def test_https_listener_uses_the_issued_certificate(listeners, boto3_client):
    acm = boto3_client("acm")
    issued = acm.list_certificates(CertificateStatuses=["ISSUED"])["CertificateSummaryList"]
    wanted = [c["CertificateArn"] for c in issued if c["DomainName"] == f"*.{DOMAIN}"]
    assert [c["CertificateArn"] for c in listeners[443]["Certificates"]] == wanted


def test_http_listener_redirects_to_https(listeners):
    http = listeners[80]
    assert http["Protocol"] == "HTTP"
    assert set(listeners) == {80, 443}
    [action] = http["DefaultActions"]
    assert action["Type"] == "redirect"
    config = action["RedirectConfig"]
    assert (config["Protocol"], config["Port"], config["StatusCode"]) == (
        "HTTPS",
        "443",
        "HTTP_301",
    )


def test_load_balancer(balancer, boto3_client, elbv2):
    assert balancer["Scheme"] == "internet-facing"
    assert balancer["Type"] == "application"
    assert balancer["IpAddressType"] == "ipv4"
    ec2 = boto3_client("ec2")
    subnets = ec2.describe_subnets(SubnetIds=[z["SubnetId"] for z in balancer["AvailabilityZones"]])
    assert {t["Value"] for s in subnets["Subnets"] for t in s["Tags"] if t["Key"] == "Type"} == {
        "public"
    }
    groups = ec2.describe_security_groups(GroupIds=balancer["SecurityGroups"])["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == [f"{NAME}-alb-sg"]
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(
            LoadBalancerArn=balancer["LoadBalancerArn"]
        )["Attributes"]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["routing.http.desync_mitigation_mode"] == "defensive"
    assert attributes["deletion_protection.enabled"] == "false"
    assert attributes["access_logs.s3.enabled"] == "false"


def test_target_group_health_check(elbv2, target_group_arn):
    group = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"][0]
    assert (group["Protocol"], group["Port"], group["TargetType"]) == ("HTTP", 3000, "ip")
    assert group["HealthCheckPath"] == "/server_info"
    assert group["HealthCheckIntervalSeconds"] == 30
    assert group["HealthCheckTimeoutSeconds"] == 5
    assert group["HealthyThresholdCount"] == 2
    assert group["UnhealthyThresholdCount"] == 3
    assert group["Matcher"]["HttpCode"] == "200"


def test_login_rule(elbv2, listeners, target_group_arn, emulator):
    rule = login_rule(elbv2, listeners)
    assert rule["Priority"] == "100"
    [condition] = rule["Conditions"]
    assert condition["Field"] == "host-header"
    assert condition.get("HostHeaderConfig", {}).get("Values", condition.get("Values")) == [HOST]
    actions = sorted(rule["Actions"], key=lambda a: a["Order"])
    assert [(a["Type"], a["Order"]) for a in actions] == [("authenticate-oidc", 1), ("forward", 2)]
    oidc = actions[0]["AuthenticateOidcConfig"]
    assert "ClientSecret" not in oidc
    for key, value in {
        "Issuer": f"https://{AUTH0}/",
        "AuthorizationEndpoint": f"https://{AUTH0}/authorize",
        "TokenEndpoint": f"https://{AUTH0}/oauth/token",
        "UserInfoEndpoint": f"https://{AUTH0}/userinfo",
        "ClientId": CLIENT_ID,
        "SessionCookieName": "AWSELBAuthSessionCookie",
        "Scope": "openid email profile",
        "OnUnauthenticatedRequest": "authenticate",
    }.items():
        assert oidc[key] == value, key
    assert int(oidc["SessionTimeout"]) == 604800
    assert actions[1]["TargetGroupArn"] == target_group_arn
    # The inventory's test secret is what the emulator holds for the rule.
    assert secret_digests(emulator)[rule["RuleArn"]] == sha256("local-test-client-secret")


def test_alias_record(balancer, boto3_client):
    records = alias_records(boto3_client)[2]
    assert len(records) == 1
    record = records[0]
    assert record["AliasTarget"]["DNSName"].rstrip(".") == balancer["DNSName"].rstrip(".")
    assert record["AliasTarget"]["HostedZoneId"] == balancer["CanonicalHostedZoneId"]
    assert record["AliasTarget"]["EvaluateTargetHealth"] is False
    # A simple record: module_defaults' region did not make it latency-based.
    assert "Region" not in record
    assert "SetIdentifier" not in record


def test_record_pointing_elsewhere_is_corrected(balancer, boto3_client, play):
    route53, zone_id, _records = alias_records(boto3_client)
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": HOST,
                        "Type": "A",
                        "AliasTarget": {
                            "DNSName": "elsewhere.us-west-1.elb.amazonaws.com",
                            "HostedZoneId": balancer["CanonicalHostedZoneId"],
                            "EvaluateTargetHealth": False,
                        },
                    },
                }
            ]
        },
    )
    _rc, output = play("--tags", "route53")
    assert recap(output)["changed"] == 1
    records = alias_records(boto3_client)[2]
    assert [r["AliasTarget"]["DNSName"].rstrip(".") for r in records] == [
        balancer["DNSName"].rstrip(".")
    ]


def test_rotated_secret_is_applied(play, elbv2, listeners, emulator):
    _rc, output = play(
        "--tags", "alb_oidc", "-e", f"asset_manager_auth0_client_secret={ROTATED_SECRET}"
    )
    assert recap(output)["changed"] == 1, output[-4000:]
    rule = login_rule(elbv2, listeners)
    assert secret_digests(emulator)[rule["RuleArn"]] == sha256(ROTATED_SECRET)
    assert ROTATED_SECRET not in output


def test_rotated_secret_settles_and_discovery_check_passes(play, discovery_server):
    """The rerun with the rotated secret changes nothing; it also checks a matching discovery
    document (one run for both keeps the file fast)."""
    _rc, output = play(
        "--tags",
        "alb_oidc",
        "-e",
        f"asset_manager_auth0_client_secret={ROTATED_SECRET}",
        "-e",
        "alb_oidc_verify_discovery=true",
        "-e",
        f"alb_oidc_discovery_url={discovery_server}/good/.well-known/openid-configuration",
    )
    assert recap(output)["changed"] == 0, output[-4000:]
    assert "Fail when the derived OIDC endpoints differ from the discovery document" in output


# Under both strategies: the project's default (mitogen) and Ansible's linear, which logs more.
@pytest.mark.parametrize("strategy", ["mitogen_linear", "linear"])
def test_secret_never_printed_at_vvv(play, elbv2, listeners, emulator, strategy):
    canary = f"{LEAK_CANARY}-{strategy}"
    _rc, output = play(
        "--tags",
        "alb_oidc",
        "-vvv",
        "-e",
        f"asset_manager_auth0_client_secret={canary}",
        strategy=strategy,
    )
    assert recap(output)["changed"] == 1
    # The run reached the rule module at -vvv (under linear its file is logged too), and the
    # secret still never showed.
    assert "alb_oidc/tasks/listener_rule.yml" in output and "censored" in output
    assert strategy != "linear" or "alb_oidc_rule.py" in output
    assert canary not in output
    rule = login_rule(elbv2, listeners)
    assert secret_digests(emulator)[rule["RuleArn"]] == sha256(canary)


def test_discovery_check_fails_on_a_mismatch(play, discovery_server):
    rc, output = play(
        "--tags",
        "alb_oidc",
        "-e",
        "alb_oidc_verify_discovery=true",
        "-e",
        f"alb_oidc_discovery_url={discovery_server}/bad/.well-known/openid-configuration",
        check=False,
    )
    assert rc != 0
    assert "token_endpoint is 'https://leverslabs.us.auth0.com/oauth/token'" in output
    assert "provider says 'https://leverslabs.us.auth0.com/token'" in output
    # It fails before the load balancer is touched.
    assert "Ensure the load balancer" not in output


def set_deletion_protection(elbv2, balancer, on: bool):
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Attributes=[{"Key": "deletion_protection.enabled", "Value": str(on).lower()}],
    )


def test_teardown_refuses_a_protected_balancer_then_removes_everything(
    play, elbv2, balancer, boto3_client
):
    absent = (
        "--tags",
        "alb_oidc,route53",
        "-e",
        "alb_oidc_state=absent",
        "-e",
        "route53_state=absent",
    )
    # Set directly: an apply with alb_oidc_deletion_protection=true would do the same, slower.
    set_deletion_protection(elbv2, balancer, True)
    rc, output = play(*absent, check=False)
    assert rc != 0
    assert "has deletion protection on. Set alb_oidc_deletion_protection=false" in output
    assert elbv2.describe_load_balancers(Names=[ALB])["LoadBalancers"]
    assert len(alias_records(boto3_client)[2]) == 1

    set_deletion_protection(elbv2, balancer, False)
    _rc, output = play(*absent)
    assert recap(output)["changed"] > 0
    names = [lb["LoadBalancerName"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]]
    assert ALB not in names
    groups = [g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]]
    assert TARGET_GROUP not in groups
    assert alias_records(boto3_client)[2] == []
    # Removing what is already gone changes nothing.
    _rc, output = play(*absent)
    assert recap(output)["changed"] == 0, output[-4000:]
