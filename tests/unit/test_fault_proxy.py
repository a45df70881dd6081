"""tests/fault_proxy.py: seeded and bounded draws, AWS's error shapes as botocore reads them
(throttling is retried as throttling), lost answers, untouched emulator-only paths, the CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import types
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest
from botocore.retries.standard import (
    RetryContext,
    ThrottledRetryableChecker,
    TransientRetryableChecker,
)

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fault_proxy", ROOT / "tests/fault_proxy.py")
proxy_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proxy_module)
FaultPlan, FaultProxy = proxy_module.FaultPlan, proxy_module.FaultProxy
fault_proxy = proxy_module.fault_proxy  # the fixture

IDENTITY = b"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/probe</Arn>
<UserId>AIDAPROBE</UserId><Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"""


class _Upstream(BaseHTTPRequestHandler):
    """Stands in for the emulator: answers GetCallerIdentity to anything, counts requests."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(IDENTITY)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(IDENTITY)

    do_GET = do_POST = do_PUT = do_HEAD = _answer


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def target(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def client(service, endpoint, attempts=1):
    # total_max_attempts counts the first attempt; max_attempts (in __asset_manager_aws_connection)
    # does not.
    config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return boto3.client(
        service, region_name="us-west-1", endpoint_url=endpoint, config=config,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


# --- the plan ------------------------------------------------------------------------------


def decisions(plan, keys):
    return [plan.decide(key) for key in keys]


def test_the_draws_depend_on_the_seed_and_the_request_only():
    keys = [f"POST / body{i % 7}" for i in range(300)]
    first = decisions(FaultPlan(rate=0.2, seed=3), keys)
    assert first == decisions(FaultPlan(rate=0.2, seed=3), keys)
    assert first != decisions(FaultPlan(rate=0.2, seed=4), keys)
    # Interleaved differently (as concurrent requests may be), each request draws the same.
    plan = FaultPlan(rate=0.2, seed=3)
    by_key = {}
    for key in sorted(keys, key=lambda k: k[-1]):
        by_key.setdefault(key, []).append(plan.decide(key))
    again = {}
    for key, decision in zip(keys, first, strict=True):
        again.setdefault(key, []).append(decision)
    assert by_key == again


def test_the_rate_and_the_kinds_are_honoured():
    plan = FaultPlan(rate=0.2, seed=1, kinds={"throttle": 3, "lost": 1})
    drawn = decisions(plan, [f"GET /{i}" for i in range(20000)])
    assert 0.18 < sum(d is not None for d in drawn) / len(drawn) < 0.22
    assert set(drawn) == {None, "throttle", "lost"}
    assert 2.6 < drawn.count("throttle") / drawn.count("lost") < 3.4
    assert plan.requests == 20000 and plan.total == 20000 - drawn.count(None)
    assert decisions(FaultPlan(rate=0, seed=1), ["GET /"] * 100) == [None] * 100


def test_faults_are_bounded_per_request_and_in_all():
    drawn = decisions(FaultPlan(rate=1, max_streak=3, seed=2), ["GET /"] * 8)
    assert drawn[3] is None and drawn[7] is None, drawn
    assert None not in drawn[:3] + drawn[4:7], drawn
    # Another request is not held back by the first one's streak.
    assert FaultPlan(rate=1, max_streak=1).decide("GET /b") is not None
    capped = FaultPlan(rate=1, max_faults=5, max_streak=None)
    assert sum(d is not None for d in decisions(capped, [f"GET /{i}" for i in range(50)])) == 5


def test_a_script_goes_first_and_spared_operations_lose_no_answer():
    plan = FaultPlan(rate=0, script={"RegisterTaskDefinition": ["lost", None, "throttle"]})
    ops = ["RegisterTaskDefinition"] * 4
    assert [plan.decide("k", "ecs", op) for op in ops] == ["lost", None, "throttle", None]
    assert plan.unused_script() == {}
    pattern = FaultPlan(rate=0, script={"route53:POST */rrset*": ["lost"]})
    assert pattern.decide("k", "route53", "POST /2013-04-01/hostedzone/Z1/rrset/") == "lost"
    assert pattern.by_operation == {("route53", "POST /2013-04-01/hostedzone/Z1/rrset/", "lost"): 1}
    spared = FaultPlan(rate=1, kinds={"lost": 1}, spare_lost=["CreateLoadBalancer"])
    assert spared.decide("k", "elasticloadbalancing", "CreateLoadBalancer") == "unavailable"


def test_bad_settings_are_refused():
    for settings in ({"rate": 1.5}, {"kinds": {"slow": 1}}, {"kinds": {"lost": 0}}):
        with pytest.raises(ValueError):
            FaultPlan(**settings)


# --- what clients see ------------------------------------------------------------------------

THROTTLED = ThrottledRetryableChecker()
TRANSIENT = TransientRetryableChecker()


def context(error):
    """What botocore's standard retry checkers read of a failed call."""
    status = error.response["ResponseMetadata"]["HTTPStatusCode"]
    return RetryContext(1, parsed_response=error.response,
                        http_response=types.SimpleNamespace(status_code=status))  # fmt: skip


CALLS = {
    # service: (call, its protocol)
    "ecs": (lambda c: c.list_clusters(), "json"),
    "ssm": (lambda c: c.describe_parameters(), "json"),
    "elbv2": (lambda c: c.describe_load_balancers(), "query"),
    "iam": (lambda c: c.list_roles(), "query"),
    "sts": (lambda c: c.get_caller_identity(), "query"),
    "ec2": (lambda c: c.describe_vpcs(), "ec2"),
    "route53": (lambda c: c.list_hosted_zones(), "rest-xml"),
    "s3": (lambda c: c.list_objects_v2(Bucket="b"), "s3"),
}
THROTTLE_CODES = {
    "json": ("ThrottlingException", 400),
    "query": ("Throttling", 400),
    "rest-xml": ("Throttling", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "s3": ("SlowDown", 503),
}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_throttling_reads_as_throttling_and_503_as_transient(service):
    call, protocol = CALLS[service]
    with FaultProxy("http://127.0.0.1:9", rate=1, kinds={"throttle": 1}) as proxy:
        with pytest.raises(botocore.exceptions.ClientError) as throttled:
            call(client(service, proxy.url))
    code, status = THROTTLE_CODES[protocol]
    error = throttled.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert THROTTLED.is_retryable(context(throttled.value))

    with FaultProxy("http://127.0.0.1:9", rate=1, kinds={"unavailable": 1}) as proxy:
        with pytest.raises(botocore.exceptions.ClientError) as unavailable:
            call(client(service, proxy.url))
    assert unavailable.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert TRANSIENT.is_retryable(context(unavailable.value))


def test_refused_requests_never_reach_the_target_and_lost_ones_do(upstream):
    with FaultProxy(target(upstream), rate=1, kinds={"unavailable": 1}, max_streak=None) as proxy:
        with pytest.raises(botocore.exceptions.ClientError):
            client("sts", proxy.url, attempts=3).get_caller_identity()
        assert proxy.plan.injected["unavailable"] == 3
    assert upstream.seen == []
    with FaultProxy(target(upstream), rate=1, kinds={"lost": 1}, max_streak=None) as proxy:
        with pytest.raises(botocore.exceptions.ClientError) as lost:
            client("sts", proxy.url).get_caller_identity()
    assert lost.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert len(upstream.seen) == 1 and b"Action=GetCallerIdentity" in upstream.seen[0][2]


def test_botocore_standard_retries_get_through(upstream):
    with FaultProxy(
        target(upstream), rate=0.5, seed=5, kinds={"unavailable": 1, "lost": 1}
    ) as proxy:
        sts = client("sts", proxy.url, attempts=10)
        for _call in range(12):
            assert sts.get_caller_identity()["Account"] == "123456789012"
        stats = json.load(urllib.request.urlopen(proxy.url + "/_fault_proxy/stats"))
    assert stats["total"] > 3 and stats["requests"] == 12 + stats["total"]
    assert {row["operation"] for row in stats["by_operation"]} == {"GetCallerIdentity"}


def test_emulator_paths_and_unsigned_requests_pass_untouched(upstream, fault_proxy):
    proxy = fault_proxy(target(upstream), rate=1, max_streak=None)  # stopped by the fixture
    for path in ("/moto-api/reset", "/_asset_manager/health", "/anything"):
        with urllib.request.urlopen(proxy.url + path) as response:
            assert response.status == 200 and response.read() == IDENTITY
    assert proxy.plan.requests == 0
    assert [path for _method, path, _body in upstream.seen] == [
        "/moto-api/reset",
        "/_asset_manager/health",
        "/anything",
    ]


def test_the_command_line_runs_until_terminated_and_reports(upstream):
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/fault_proxy.py"), "--target", target(upstream),
         "--rate", "1", "--seed", "1", "--kinds", "throttle=1"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        banner = proc.stdout.readline()
        url = banner.split()[3]
        assert banner.startswith("fault proxy on http://127.0.0.1:"), banner
        with pytest.raises(botocore.exceptions.ClientError):
            client("sts", url).get_caller_identity()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
    output, _stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert json.loads(output)["injected"] == {"throttle": 1, "unavailable": 0, "lost": 0}
