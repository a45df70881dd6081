"""Converging under throttling, lost responses and interruptions (tests/fault_proxy.py in front
of the emulator).

1. A full deploy, a rerun and a teardown, each through the proxy at 20 % faults (throttling and
   503 before the request takes effect, a new seed per run): every run succeeds, the rerun
   changes nothing (same ids, revisions, parameter versions), the stack equals the one a clean
   deploy builds, and the teardown leaves the emulator as seeded.
2. A deploy killed (the whole process tree, SIGKILL) right after the emulator applied a create and
   before its answer arrived, at three points (KILLS), with lost responses on the creates that
   must absorb them: right after each kill nothing is weaker than AWS's defaults or in use
   half-made (weaknesses), and the next run converges, with no duplicate anywhere.

The clean deploy and the interrupted one run on a private emulator, in a background thread,
while the first test uses the session's: the machine has two cores and each deploy takes most of
a minute. The session's emulator is left as seeded.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from ansible_collections.leverslabs.asset_manager.tests.harness import (
    ansible_env,
    kill_tree,
    running_emulator,
)
from ansible_collections.leverslabs.asset_manager.tests.stack_state import (
    NAME,
    REGION,
    differences,
    read,
    snapshot,
)

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fault_proxy", ROOT / "tests/fault_proxy.py")
fault_proxy_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fault_proxy_module)
FaultProxy = fault_proxy_module.FaultProxy

BIN = Path(sys.executable).parent
# The faults of the throttling test: the request never took effect (AWS throttled or refused it).
RATE = 0.2
REFUSED = {"throttle": 1, "unavailable": 1}
# Unbounded streaks: the retries alone must get every call through (the proxy's default bound of
# five faults in a row would let any client with six attempts through).
FAULTS = {"rate": RATE, "kinds": REFUSED, "max_streak": None}
# Seeds of the throttling test's deploy (its rerun and teardown take the next two);
# ASSET_MANAGER_FAULT_SEEDS="1 4 7" runs it once per seed.
SEEDS = [int(s) for s in os.environ.get("ASSET_MANAGER_FAULT_SEEDS", "1").split()]
# Creates whose lost answer botocore's retry must absorb without a duplicate (the interrupted
# deploy loses the first answer of each). Not here: those whose retry fails the run without a
# duplicate (a rerun converges): CreateSecurityGroup and the rule calls of ec2_security_group
# (...Duplicate), CreateLogGroup (ResourceAlreadyExists), PutParameter (ParameterAlreadyExists),
# CreateRule (priority in use), the emulator's CreateTargetGroup (DuplicateTargetGroupName where
# AWS returns the group); the emulator's CreateLoadBalancer and CreateListener, which make a
# second ALB of the same name and a second listener on the same port where AWS returns the first
# (moto 5.2.5 compares the name and the port with ARNs); RegisterTaskDefinition, which registers
# a second revision (test_a_lost_register_answer_registers_one_revision).
BUCKET = "asset-manager-artifacts"
ABSORBED = (
    f"s3:PUT /{BUCKET}",  # CreateBucket, then the bucket's settings
    "PutRetentionPolicy",
    "ModifyLoadBalancerAttributes",
    "PutRolePolicy",
    "CreateService",
    "route53:POST */rrset*",  # ChangeResourceRecordSets (UPSERT)
)
RECAP = "PLAY RECAP"


def retry_settings() -> dict:
    """The aws_config every playbook gives the collection's modules."""
    data = yaml.safe_load((ROOT / "roles/asset_manager/vars/main.yml").read_text())
    return data["__asset_manager_aws_connection"]["aws_config"]


# --- running playbooks ---------------------------------------------------------------------


class Run:
    """One ansible-playbook run: rc, output, seconds, what the proxy injected, whether killed."""

    def __init__(self, rc, output, elapsed, injected=None, killed=None):
        self.rc, self.output, self.elapsed = rc, output, elapsed
        self.injected, self.killed = injected, killed

    @property
    def changed(self) -> int:
        recap = self.output.rsplit(RECAP, 1)[-1]
        return int(recap.split("changed=", 1)[1].split()[0])

    def tail(self, n=4000) -> str:
        return self.output[-n:]

    def figures(self) -> str:
        injected = f", {self.injected} faults injected" if self.injected is not None else ""
        return f"rc {self.rc}, {self.elapsed:.0f} s{injected}"


def playbook(endpoint, *args, path="site.yml", proxy=None, kill_after=None):
    """Run a playbook of the project with every AWS endpoint at `endpoint` (the environment of
    conftest's run_site otherwise). With `kill_after` (an operation name) and the `proxy` it
    goes through, the run is killed once the emulator has applied the first such request, before
    the client has its answer."""
    env = ansible_env(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        ASSET_MANAGER_ENDPOINT_URL=endpoint,
    )
    cmd = [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventories/local"), str(ROOT / path),
           *args]  # fmt: skip
    before = proxy.plan.total if proxy else None
    killed = threading.Event()
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    if kill_after:

        def hook(service, operation, status):
            if operation == kill_after and not killed.is_set():
                killed.set()
                kill_tree(proc.pid)

        proxy.on_forwarded = hook
    try:
        output, _stderr = proc.communicate(timeout=600)
    finally:
        if proxy:
            proxy.on_forwarded = None
        if proc.poll() is None:
            kill_tree(proc.pid)
            proc.wait()
    injected = proxy.plan.total - before if proxy else None
    return Run(proc.returncode, output, time.monotonic() - started, injected,
               killed.is_set() if kill_after else None)  # fmt: skip


def deploy(endpoint, *args, **kwargs):
    return playbook(endpoint, "-e", "ecs_taskdefs_image_tag=seed", *args, **kwargs)


def teardown(endpoint, **kwargs):
    return playbook(endpoint, "-e", "teardown_confirm=local", path="playbooks/teardown.yml",
                    **kwargs)  # fmt: skip


# --- the private emulator's work: a clean deploy, then an interrupted one -----------------


class PrivateEmulator:
    """An emulator of this module's own, seeded like the session's (same registry)."""

    def __init__(self, state: Path, registry: str):
        self.state, self.registry = state, "http://" + registry
        self._running = contextlib.ExitStack()

    def start(self):
        running = running_emulator(self.state, self.registry, quiet=True)
        self.url = self._running.enter_context(running).url
        seeded = playbook(self.url, path="playbooks/emulator_prerequisites.yml")
        assert seeded.rc == 0, seeded.tail()

    def stop(self):
        self._running.close()


# What each interrupted run of _interrupted_deploy is killed right after (the emulator applied it,
# its answer not yet arrived): the first security group, the bucket, the first task definition.
KILLS = ("CreateSecurityGroup", f"PUT /{BUCKET}", "RegisterTaskDefinition")
ENFORCED = {"ObjectOwnership": "BucketOwnerEnforced"}


def weaknesses(endpoint: str) -> list[str]:
    """What of the stack in the emulator is weaker than a finished deploy leaves it, in a way
    that matters now: the bucket without the protections AWS gives every new bucket (public
    access block, default encryption, ACLs off), and a security group with AWS's default
    allow-all egress that a load balancer or a service already uses."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    s3, ec2, elbv2, ecs = (session.client(s, endpoint_url=endpoint)
                           for s in ("s3", "ec2", "elbv2", "ecs"))  # fmt: skip
    found = []
    if any(b["Name"] == BUCKET for b in s3.list_buckets()["Buckets"]):
        block = read(s3.get_public_access_block, Bucket=BUCKET)
        if not all(block.get("PublicAccessBlockConfiguration", {"unset": False}).values()):
            found.append(f"bucket public access block: {block}")
        if "ServerSideEncryptionConfiguration" not in read(s3.get_bucket_encryption, Bucket=BUCKET):
            found.append("bucket without default encryption")
        ownership = read(s3.get_bucket_ownership_controls, Bucket=BUCKET)
        if ownership != {"OwnershipControls": {"Rules": [ENFORCED]}}:
            found.append(f"bucket ownership: {ownership}")
    used = {g for b in elbv2.describe_load_balancers()["LoadBalancers"]
            for g in b.get("SecurityGroups", [])}  # fmt: skip
    listed = ecs.list_services(cluster=NAME)["serviceArns"]
    services = ecs.describe_services(cluster=NAME, services=listed)["services"] if listed else []
    for service in services:
        vpc = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        used.update(vpc.get("securityGroups", []))
    for group in ec2.describe_security_groups()["SecurityGroups"]:
        allow_all = any(
            rule["IpProtocol"] == "-1" and {"CidrIp": "0.0.0.0/0"} in rule.get("IpRanges", [])
            for rule in group.get("IpPermissionsEgress", [])
        )
        if group["GroupName"].startswith(NAME) and allow_all and group["GroupId"] in used:
            found.append(f"{group['GroupName']} in use with allow-all egress")
    return found


def _interrupted_deploy(endpoint: str) -> dict:
    """Four runs through a proxy at 20 % refused requests: one killed right after each of KILLS
    (the first answer of each ABSORBED create lost on the way), then one to the end. After each
    kill the partial stack is read for weaknesses; the next run must carry on from what is
    there."""
    runs, partial = [], []
    plan = [(KILLS[0], 11), (KILLS[1], 14), (KILLS[2], 12), (None, 13)]
    script = {operation: ["lost"] for operation in ABSORBED}
    # The bucket's first request is its CreateBucket, which the second run is killed after: lose
    # the answer of the next one.
    script[f"s3:PUT /{BUCKET}"] = [None, "lost"]
    with FaultProxy(endpoint, seed=11, script=script, **FAULTS) as proxy:
        for kill_after, seed in plan:
            proxy.plan.seed = seed
            runs.append(deploy(proxy.url, proxy=proxy, kill_after=kill_after))
            if kill_after:
                partial.append((kill_after, weaknesses(endpoint)))
        lost = sorted(
            f"{row['service']}:{row['operation']}"
            for row in proxy.plan.stats()["by_operation"]
            if row["kind"] == "lost"
        )
        unused = proxy.plan.unused_script()
    return {"runs": runs, "partial": partial, "lost": lost, "unused": unused,
            "snapshot": snapshot(endpoint)}  # fmt: skip


@pytest.fixture(scope="module")
def deployable(seeded, push_image):
    """The session's emulator as seeded, and the image every deploy here names."""
    push_image("seed")


@pytest.fixture(scope="module")
def private_lane(deployable, local_docker, tmp_path_factory):
    """In the background, on a private emulator: a clean deploy (the reference every other final
    state must equal), its teardown, then _interrupted_deploy. Yields two futures: `reference`
    (the snapshot and the Run) and `interrupted` (_interrupted_deploy's result)."""
    emulator = PrivateEmulator(tmp_path_factory.mktemp("private-emulator"),
                               local_docker["ASSET_MANAGER_REGISTRY"])  # fmt: skip
    reference, interrupted = concurrent.futures.Future(), concurrent.futures.Future()

    def work():
        try:
            emulator.start()
            clean = deploy(emulator.url)
            assert clean.rc == 0, clean.tail()
            reference.set_result({"snapshot": snapshot(emulator.url), "run": clean})
            down = teardown(emulator.url)
            assert down.rc == 0, down.tail()
            interrupted.set_result(_interrupted_deploy(emulator.url))
        except BaseException as error:  # noqa: BLE001  (handed to the tests that wait)
            for future in (reference, interrupted):
                if not future.done():
                    future.set_exception(error)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield {"reference": reference, "interrupted": interrupted}
    thread.join(timeout=900)
    emulator.stop()


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_a_deploy_a_rerun_and_a_teardown_converge_at_20_percent_faults(
    deployable, private_lane, emulator, seed
):
    before = snapshot(emulator)
    down = None
    try:
        with FaultProxy(emulator, seed=seed, **FAULTS) as proxy:
            first = deploy(proxy.url, proxy=proxy)
            assert first.rc == 0, first.tail()
            deployed = snapshot(emulator)
            proxy.plan.seed = seed + 1
            again = deploy(proxy.url, proxy=proxy)
            assert again.rc == 0, again.tail()
            assert again.changed == 0, again.tail()
            rerun = snapshot(emulator)

            reference = private_lane["reference"].result(timeout=600)
            # Not one id, revision or parameter version changed on the rerun.
            assert differences(rerun["ids"], deployed["ids"]) == {}
            # What a clean deploy builds, and nothing twice.
            assert differences(rerun["shape"], reference["snapshot"]["shape"]) == {}

            proxy.plan.seed = seed + 2
            down = teardown(proxy.url, proxy=proxy)
            assert down.rc == 0, down.tail()
            stats = proxy.plan.stats()
    finally:
        if down is None or down.rc:  # the session's other tests expect the emulator as seeded
            teardown(emulator)
    after = snapshot(emulator)["shape"]
    # The cluster is a prerequisite: teardown leaves the Container Insights that alarms turned on.
    assert after.pop("cluster_settings") == [("containerInsights", "enabled")]
    seeded_shape = {k: v for k, v in before["shape"].items() if k != "cluster_settings"}
    assert differences(after, seeded_shape) == {}

    assert first.injected and again.injected and down.injected, "the proxy injected nothing"
    print(
        f"\nfaults at {RATE:.0%}, seeds {seed}-{seed + 2}: {stats['requests']} requests, "
        f"{stats['injected']}; deploy {first.figures()}; rerun {again.figures()}; "
        f"teardown {down.figures()}; clean deploy without proxy {reference['run'].figures()}"
    )


def test_an_interrupted_deploy_converges_without_duplicates(private_lane):
    reference = private_lane["reference"].result(timeout=600)["snapshot"]
    result = private_lane["interrupted"].result(timeout=900)
    *killed, last = result["runs"]
    for run in killed:
        assert run.killed and run.rc == -signal.SIGKILL, run.tail()
    assert last.killed is None and last.rc == 0, last.tail()
    # Right after each create, nothing is weaker than AWS's own defaults or in use half-made.
    assert result["partial"] == [(kill, []) for kill in KILLS]
    # Every absorbed create had its first answer lost somewhere in the three runs.
    assert result["unused"] == {}, result["lost"]
    assert differences(result["snapshot"]["shape"], reference["shape"]) == {}
    print(
        "\ninterrupted deploy: "
        + "; ".join(run.figures() for run in result["runs"])
        + f"; lost answers: {', '.join(result['lost'])}"
    )


# RegisterTaskDefinition has no idempotency token: a retry after a lost answer would register a
# second revision. ecs_taskdef sends it once per attempt and adopts the revision a lost answer
# registered (its content tag), so there is exactly one.
DEFINITION = {
    "family": "placeholder",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "probe", "image": "placeholder", "essential": True}],
}


def test_a_lost_register_answer_registers_one_revision(deployable, emulator, local_play):
    import boto3

    family = f"fault-probe-{uuid.uuid4().hex[:8]}"
    script = {"RegisterTaskDefinition": ["lost"]}
    with FaultProxy(emulator, rate=0, script=script) as proxy:
        play = [{
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/leverslabs.asset_manager.aws": {
                "region": REGION, "endpoint_url": proxy.url, "access_key": "testing",
                "secret_key": "testing", "aws_config": retry_settings(),
            }},
            "tasks": [{"leverslabs.asset_manager.ecs_taskdef": {
                "family": family,
                "definition": {**copy.deepcopy(DEFINITION), "family": family},
                "image": "123456789012.dkr.ecr.us-west-1.amazonaws.com/asset-manager:1",
            }}],
        }]  # fmt: skip
        proc = local_play(play)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert proxy.plan.injected["lost"] == 1
    ecs = boto3.client("ecs", region_name=REGION, endpoint_url=emulator,
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    arns = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    try:
        assert len(arns) == 1, arns
    finally:
        for arn in arns:
            ecs.deregister_task_definition(taskDefinition=arn)
