"""Integration tests of leverslabs.asset_manager.alb_oidc_rule against the local emulator.

The emulator, like AWS, never describes an OIDC ClientSecret; it exposes SHA-256 digests of the
secrets it holds on an emulator-only path, which is how these tests prove that a rotated secret
reached "AWS" (and that a kept one did not change).

The tests of one rule's life run in file order and share one rule (a scenario, as in molecule);
the leak and lookup tests use rules of their own.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import urllib.request

import pytest

MODULE = "leverslabs.asset_manager.alb_oidc_rule"
FINGERPRINT_TAG = "leverslabs:oidc-client-secret-fingerprint"
HOST = "dg.example.test"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def self_signed_certificate(host: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@pytest.fixture(scope="module")
def stack(boto3_client):
    """A VPC, two public subnets, an ALB with an HTTPS listener, and a target group."""
    ec2, elbv2, acm = boto3_client("ec2"), boto3_client("elbv2"), boto3_client("acm")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(zones)
    ]
    cert, key = self_signed_certificate(HOST)
    certificate_arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    balancer = elbv2.create_load_balancer(Name="oidc-rule-test", Subnets=subnets)
    balancer_arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
    target_group = elbv2.create_target_group(
        Name="oidc-rule-web", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    other_target_group = elbv2.create_target_group(
        Name="oidc-rule-other", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate_arn}],
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    return {
        "listener_arn": listener,
        "target_group_arn": target_group,
        "other_target_group_arn": other_target_group,
    }


@pytest.fixture(scope="session")
def run_check(run_task):
    """Run the module in check mode; returns (result dict, whole output)."""

    def run(module, args, diff=False):
        task = run_task(module, args, check=True, diff=diff)
        return task.result, task.output

    return run


@pytest.fixture(scope="module")
def elbv2(boto3_client):
    return boto3_client("elbv2")


@pytest.fixture
def digests(emulator):
    """Read the emulator's SHA-256 digests of the OIDC secrets it holds, by rule ARN."""

    def read() -> dict[str, str]:
        with urllib.request.urlopen(f"{emulator}/_asset_manager/oidc-secret-digests") as resp:
            return json.load(resp)

    return read


def rule_args(stack, secret, priority=100, host=HOST, **overrides):
    oidc = {
        "issuer": "https://login.example.test/",
        "authorization_endpoint": "https://login.example.test/authorize",
        "token_endpoint": "https://login.example.test/oauth/token",
        "user_info_endpoint": "https://login.example.test/userinfo",
        "client_id": "asset-manager",
        "client_secret": secret,
        **overrides.pop("oidc", {}),
    }
    return {
        "listener_arn": stack["listener_arn"],
        "priority": priority,
        "host_headers": [host],
        "target_group_arn": stack["target_group_arn"],
        "oidc": oidc,
        **overrides,
    }


def rules_on(elbv2, stack) -> list[dict]:
    rules = elbv2.describe_rules(ListenerArn=stack["listener_arn"])["Rules"]
    return [rule for rule in rules if not rule["IsDefault"]]


def tags_of(elbv2, arn) -> dict[str, str]:
    described = elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    return {tag["Key"]: tag["Value"] for tag in described}


def assert_ok(run):
    assert not run.failed, run.output


# The scenario: one rule from creation to deletion.
SECRET_1 = "first-client-secret-Zq81"
SECRET_2 = "rotated-client-secret-Hx47"
SECRET_3 = "never-applied-secret-Mv09"
scenario: dict = {}


def scenario_arn() -> str:
    if "arn" not in scenario:
        pytest.fail("the scenario's rule does not exist: test_create did not run or failed")
    return scenario["arn"]


def test_create(run_task, stack, elbv2, digests):
    run = run_task(MODULE, rule_args(stack, SECRET_1, tags={"Application": "asset-manager"}))
    assert_ok(run)
    assert run.changed
    assert run.result["secret_updated"] is True
    arn = run.result["rule_arn"]
    scenario["arn"] = arn
    [rule] = rules_on(elbv2, stack)
    assert rule["RuleArn"] == arn and rule["Priority"] == "100"
    assert [a["Type"] for a in sorted(rule["Actions"], key=lambda a: a["Order"])] == [
        "authenticate-oidc",
        "forward",
    ]
    assert digests()[arn] == sha256(SECRET_1)
    tags = tags_of(elbv2, arn)
    assert tags["Application"] == "asset-manager"
    assert tags[FINGERPRINT_TAG].startswith("pbkdf2-sha256:")
    assert SECRET_1 not in json.dumps(tags)
    assert run.result["rule"]["oidc"]["scope"] == "openid email profile"
    assert run.result["rule"]["tags"] == {"Application": "asset-manager"}


def test_rerun_is_unchanged(run_task, stack):
    run = run_task(MODULE, rule_args(stack, SECRET_1, tags={"Application": "asset-manager"}))
    assert_ok(run)
    assert not run.changed, run.result.get("changes")
    assert run.result["secret_updated"] is False
    assert run.result["rule_arn"] == scenario_arn()


def test_check_mode_predicts_without_writing_and_diffs_without_the_secret(
    run_check, stack, elbv2, digests
):
    before = rules_on(elbv2, stack)
    tags_before = tags_of(elbv2, scenario_arn())
    digest_before = digests()[scenario_arn()]
    args = rule_args(stack, SECRET_2, oidc={"session_timeout": 3600})
    result, output = run_check(MODULE, args, diff=True)
    assert not result.get("failed"), output
    assert result["changed"]
    assert result["changes"] == ["client_secret", "oidc.session_timeout"]
    assert result["secret_updated"] is True
    # Nothing was written.
    assert rules_on(elbv2, stack) == before
    assert tags_of(elbv2, scenario_arn()) == tags_before
    assert digests()[scenario_arn()] == digest_before
    # The diff shows the change, and the secret only as a marker.
    diff = result["diff"]
    assert diff["before"]["oidc"]["session_timeout"] == 604800
    assert diff["after"]["oidc"]["session_timeout"] == 3600
    assert diff["before"]["oidc"]["client_secret"] == "<hidden>"
    assert diff["after"]["oidc"]["client_secret"] == "<will be updated>"
    assert "session_timeout" in output  # the diff was printed
    for secret in (SECRET_1, SECRET_2):
        assert secret not in json.dumps(result)
        assert secret not in output


def test_rotated_secret_is_applied(run_task, stack, digests):
    run = run_task(MODULE, rule_args(stack, SECRET_2, tags={"Application": "asset-manager"}))
    assert_ok(run)
    assert run.changed
    assert run.result["changes"] == ["client_secret"]
    assert run.result["secret_updated"] is True
    assert run.result["rule_arn"] == scenario_arn()
    assert digests()[scenario_arn()] == sha256(SECRET_2)


def test_rerun_after_rotation_is_unchanged(run_task, stack, digests):
    run = run_task(MODULE, rule_args(stack, SECRET_2, tags={"Application": "asset-manager"}))
    assert_ok(run)
    assert not run.changed, run.result.get("changes")
    assert digests()[scenario_arn()] == sha256(SECRET_2)


def test_never_keeps_the_secret_aws_holds(run_task, stack, digests):
    args = rule_args(stack, SECRET_3, client_secret_update="never")
    run = run_task(MODULE, args)
    assert_ok(run)
    assert not run.changed, run.result.get("changes")
    assert run.result["secret_updated"] is False
    assert digests()[scenario_arn()] == sha256(SECRET_2)


def test_field_change_keeps_the_secret(run_task, stack, elbv2, digests):
    """A changed field is applied with UseExistingClientSecret: the secret AWS holds stays.

    Given a different secret under client_secret_update=never, so that a ModifyRule that sent
    the task's secret would show in the emulator's digest.
    """
    fingerprint_before = tags_of(elbv2, scenario_arn())[FINGERPRINT_TAG]
    args = rule_args(stack, SECRET_3, oidc={"session_timeout": 3600}, client_secret_update="never")
    run = run_task(MODULE, args)
    assert_ok(run)
    assert run.changed
    assert run.result["changes"] == ["oidc.session_timeout"]
    assert run.result["secret_updated"] is False
    [rule] = rules_on(elbv2, stack)
    [oidc] = [a for a in rule["Actions"] if a["Type"] == "authenticate-oidc"]
    assert oidc["AuthenticateOidcConfig"]["SessionTimeout"] == 3600
    assert digests()[scenario_arn()] == sha256(SECRET_2)
    # Tags were not given: the user's tags stay, and the fingerprint still names SECRET_2.
    tags = tags_of(elbv2, scenario_arn())
    assert tags["Application"] == "asset-manager"
    assert tags[FINGERPRINT_TAG] == fingerprint_before


def test_absent_removes_the_rule(run_task, stack, elbv2):
    run = run_task(
        MODULE, {"listener_arn": stack["listener_arn"], "priority": 100, "state": "absent"}
    )
    assert_ok(run)
    assert run.changed
    assert rules_on(elbv2, stack) == []
    again = run_task(
        MODULE, {"listener_arn": stack["listener_arn"], "priority": 100, "state": "absent"}
    )
    assert_ok(again)
    assert not again.changed


def test_hand_made_rule_is_adopted_moved_and_given_the_secret(run_task, stack, elbv2, digests):
    """A rule made by hand for the host, at another priority, without a fingerprint."""
    host = "adopt.example.test"
    arn = elbv2.create_rule(
        ListenerArn=stack["listener_arn"],
        Priority=300,
        Conditions=[{"Field": "host-header", "Values": [host]}],
        Actions=[{"Type": "forward", "TargetGroupArn": stack["other_target_group_arn"]}],
    )["Rules"][0]["RuleArn"]
    try:
        run = run_task(MODULE, rule_args(stack, SECRET_1, priority=200, host=host))
        assert_ok(run)
        assert run.changed
        assert run.result["rule_arn"] == arn
        assert {"priority", "oidc", "target_group_arn", "client_secret"} <= set(
            run.result["changes"]
        )
        assert digests()[arn] == sha256(SECRET_1)
        [rule] = [r for r in rules_on(elbv2, stack) if r["RuleArn"] == arn]
        assert rule["Priority"] == "200"
        assert tags_of(elbv2, arn)[FINGERPRINT_TAG].startswith("pbkdf2-sha256:")
    finally:
        elbv2.delete_rule(RuleArn=arn)


def test_secret_never_reaches_the_output(run_task, stack, elbv2):
    secret = "LEAK-canary-7f3e9d1c-do-not-print"
    args = rule_args(stack, secret, priority=400, host="leak.example.test")
    run = run_task(MODULE, args, verbosity=3, diff=True)
    try:
        assert_ok(run)
        assert run.changed
        assert "leak.example.test" in run.output  # -vvv printed the module's arguments and result
        assert secret not in run.output
        assert secret not in json.dumps(run.result)
    finally:
        if run.result.get("rule_arn"):
            elbv2.delete_rule(RuleArn=run.result["rule_arn"])
