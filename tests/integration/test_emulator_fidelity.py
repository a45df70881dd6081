"""The emulator fidelity layer: each patch shown over HTTP, behaving as AWS does."""

from __future__ import annotations

import hashlib
import json
import urllib.request

import botocore.exceptions
import fidelity
import pytest

from ansible_collections.leverslabs.asset_manager.tests.harness import (
    free_port,
    reset_auth,
    running_emulator,
)


def test_refuses_an_unpinned_moto_version():
    with pytest.raises(fidelity.FidelityError, match="5.2.5"):
        fidelity.check_version("5.2.4")
    fidelity.check_version(fidelity.PINNED_MOTO_VERSION)


def test_health_lists_every_patch(emulator):
    health = json.load(urllib.request.urlopen(f"{emulator}/_asset_manager/health"))
    assert health["moto"] == fidelity.PINNED_MOTO_VERSION
    assert health["patches"] == [patch.__name__ for patch in fidelity.PATCHES]


@pytest.fixture(scope="module")
def network(boto3_client):
    ec2 = boto3_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.90.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(("us-west-1a", "us-west-1b"))
    ]
    group = ec2.create_security_group(GroupName="fidelity", Description="t", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "subnets": subnets, "group": group}


@pytest.fixture(scope="module")
def balancer(boto3_client, network):
    elbv2 = boto3_client("elbv2")
    return elbv2.create_load_balancer(
        Name="fidelity-alb", Subnets=network["subnets"], SecurityGroups=[network["group"]]
    )["LoadBalancers"][0]["LoadBalancerArn"]


def oidc_action(secret=None, use_existing=False):
    config = {
        "Issuer": "https://tenant.example/",
        "AuthorizationEndpoint": "https://tenant.example/authorize",
        "TokenEndpoint": "https://tenant.example/oauth/token",
        "UserInfoEndpoint": "https://tenant.example/userinfo",
        "ClientId": "client",
    }
    if secret is not None:
        config["ClientSecret"] = secret
    if use_existing:
        config["UseExistingClientSecret"] = True
    return {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": config}


def test_oidc_client_secret_is_write_only(boto3_client, balancer, emulator):
    elbv2 = boto3_client("elbv2")
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    fixed = {"Type": "fixed-response", "Order": 2, "FixedResponseConfig": {"StatusCode": "200"}}
    conditions = [{"Field": "host-header", "Values": ["a.example"]}]

    with pytest.raises(botocore.exceptions.ClientError, match="ClientSecret is required"):
        elbv2.create_rule(
            ListenerArn=listener, Priority=5, Conditions=conditions, Actions=[oidc_action(), fixed]
        )

    created = elbv2.create_rule(
        ListenerArn=listener,
        Priority=5,
        Conditions=conditions,
        Actions=[oidc_action("first-secret"), fixed],
    )["Rules"][0]
    described = elbv2.describe_rules(RuleArns=[created["RuleArn"]])["Rules"][0]
    for rule in (created, described):
        config = rule["Actions"][0]["AuthenticateOidcConfig"]
        assert "ClientSecret" not in config
        assert "UseExistingClientSecret" not in config
        assert config["ClientId"] == "client"

    def digest():
        digests = json.load(
            urllib.request.urlopen(f"{emulator}/_asset_manager/oidc-secret-digests")
        )
        return digests[created["RuleArn"]]

    first = digest()
    assert first == fidelity._digest("first-secret")
    elbv2.modify_rule(RuleArn=created["RuleArn"], Actions=[oidc_action(use_existing=True), fixed])
    assert digest() == first, "UseExistingClientSecret must keep the stored secret"
    elbv2.modify_rule(RuleArn=created["RuleArn"], Actions=[oidc_action("rotated"), fixed])
    assert digest() == fidelity._digest("rotated")
    with pytest.raises(botocore.exceptions.ClientError, match="UseExistingClientSecret"):
        elbv2.modify_rule(RuleArn=created["RuleArn"], Actions=[oidc_action(), fixed])


def test_alb_has_aws_full_attribute_set(boto3_client, balancer):
    attributes = {
        item["Key"]: item["Value"]
        for item in boto3_client("elbv2").describe_load_balancer_attributes(
            LoadBalancerArn=balancer
        )["Attributes"]
    }
    assert set(fidelity.ALB_DEFAULT_ATTRIBUTES) <= set(attributes)
    assert attributes["routing.http.desync_mitigation_mode"] == "defensive"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "false"
    assert attributes["idle_timeout.timeout_seconds"] == "60"
    assert attributes["load_balancing.cross_zone.enabled"] == "true"  # moto seeds "false"


def test_alb_deletion_protection_is_enforced(boto3_client, network):
    elbv2 = boto3_client("elbv2")
    arn = elbv2.create_load_balancer(
        Name="fidelity-protected", Subnets=network["subnets"], SecurityGroups=[network["group"]]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    with pytest.raises(botocore.exceptions.ClientError, match="OperationNotPermitted"):
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elbv2.delete_load_balancer(LoadBalancerArn=arn)
    remaining = [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]]
    assert arn not in remaining


def test_describe_clusters_returns_capacity_providers(boto3_client):
    ecs = boto3_client("ecs")
    ecs.create_cluster(clusterName="fidelity-plain")
    cluster = ecs.describe_clusters(clusters=["fidelity-plain"])["clusters"][0]
    assert cluster["capacityProviders"] == []
    assert cluster["defaultCapacityProviderStrategy"] == []


def test_describe_clusters_gives_settings_only_when_asked(boto3_client):
    ecs = boto3_client("ecs")
    ecs.create_cluster(
        clusterName="fidelity-insights",
        settings=[{"name": "containerInsights", "value": "enabled"}],
    )
    plain = ecs.describe_clusters(clusters=["fidelity-insights"])["clusters"][0]
    assert "settings" not in plain
    asked = ecs.describe_clusters(clusters=["fidelity-insights"], include=["SETTINGS"])
    assert asked["clusters"][0]["settings"] == [{"name": "containerInsights", "value": "enabled"}]


@pytest.fixture(scope="module")
def task_definition(boto3_client):
    ecs = boto3_client("ecs")
    ecs.create_cluster(clusterName="fidelity")
    register = {
        "family": "fidelity",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "app", "image": "busybox", "essential": True}],
    }
    first = ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    second = ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    return first, second


def test_services_run_their_tasks_and_keep_deployment_settings(
    boto3_client, network, task_definition
):
    ecs = boto3_client("ecs")
    first, second = task_definition
    safety = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    ecs.create_service(
        cluster="fidelity",
        serviceName="web",
        taskDefinition=first,
        desiredCount=2,
        launchType="FARGATE",
        deploymentConfiguration=safety,
        healthCheckGracePeriodSeconds=60,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": network["subnets"],
                "securityGroups": [network["group"]],
                "assignPublicIp": "DISABLED",
            }
        },
    )
    service = ecs.describe_services(cluster="fidelity", services=["web"])["services"][0]
    assert service["runningCount"] == 2 and service["pendingCount"] == 0
    assert service["deploymentConfiguration"] == safety
    assert service["healthCheckGracePeriodSeconds"] == 60
    (deployment,) = service["deployments"]
    assert deployment["rolloutState"] == "COMPLETED" and deployment["status"] == "PRIMARY"
    assert "steady state" in service["events"][0]["message"]

    ecs.update_service(cluster="fidelity", service="web", taskDefinition=second, desiredCount=3)
    service = ecs.describe_services(cluster="fidelity", services=["web"])["services"][0]
    (new_deployment,) = service["deployments"]
    assert new_deployment["id"] != deployment["id"]
    assert new_deployment["taskDefinition"] == second
    assert service["runningCount"] == new_deployment["runningCount"] == 3


def test_service_without_deployment_configuration_gets_aws_defaults(
    boto3_client, network, task_definition
):
    ecs = boto3_client("ecs")
    ecs.create_service(
        cluster="fidelity", serviceName="plain", taskDefinition=task_definition[0], desiredCount=1
    )
    service = ecs.describe_services(cluster="fidelity", services=["plain"])["services"][0]
    assert service["deploymentConfiguration"] == fidelity.ECS_DEFAULT_DEPLOYMENT_CONFIGURATION


def test_bare_family_resolves_to_latest_active_revision(boto3_client):
    ecs = boto3_client("ecs")
    register = {
        "family": "fidelity-active",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 128}],
    }
    first = ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    second = ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=second)
    described = ecs.describe_task_definition(taskDefinition="fidelity-active")["taskDefinition"]
    assert described["taskDefinitionArn"] == first
    ecs.deregister_task_definition(taskDefinition=first)
    with pytest.raises(botocore.exceptions.ClientError):
        ecs.describe_task_definition(taskDefinition="fidelity-active")


def test_service_describes_its_task_definition_as_an_arn(boto3_client, network, task_definition):
    ecs = boto3_client("ecs")
    first, second = task_definition
    ecs.create_service(
        cluster="fidelity", serviceName="by-family", taskDefinition=first, desiredCount=1
    )
    ecs.update_service(cluster="fidelity", service="by-family", taskDefinition="fidelity:2")
    service = ecs.describe_services(cluster="fidelity", services=["by-family"])["services"][0]
    assert service["taskDefinition"] == second
    assert service["deployments"][0]["taskDefinition"] == second


def test_deleted_rule_leaves_no_secret_behind(boto3_client, balancer, emulator):
    elbv2 = boto3_client("elbv2")
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=8081,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    fixed = {"Type": "fixed-response", "Order": 2, "FixedResponseConfig": {"StatusCode": "200"}}
    rule = elbv2.create_rule(
        ListenerArn=listener,
        Priority=7,
        Conditions=[{"Field": "host-header", "Values": ["b.example"]}],
        Actions=[oidc_action("short-lived"), fixed],
    )["Rules"][0]["RuleArn"]
    elbv2.delete_rule(RuleArn=rule)
    digests = json.load(urllib.request.urlopen(f"{emulator}/_asset_manager/oidc-secret-digests"))
    assert rule not in digests


DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def push_image(registry: str, repository: str, tag: str | None, layer: bytes) -> tuple[str, str]:
    """Push a one-layer image to the registry as `docker push` does, over its HTTP API (blob
    uploads, then the manifest, under `tag` or, with None, its digest only); returns the
    manifest's digest and its text."""

    def request(method, url, body=b"", headers=None):
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        with urllib.request.urlopen(req) as response:
            return response.headers

    def blob(media_type: str, content: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        location = request("POST", f"http://{registry}/v2/{repository}/blobs/uploads/")["Location"]
        if location.startswith("/"):
            location = f"http://{registry}{location}"
        separator = "&" if "?" in location else "?"
        octets = {"Content-Type": "application/octet-stream"}  # not urllib's form default
        request("PUT", f"{location}{separator}digest={digest}", content, octets)
        return {"mediaType": media_type, "size": len(content), "digest": digest}

    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": blob("application/vnd.docker.container.image.v1+json", config),
            "layers": [blob("application/vnd.docker.image.rootfs.diff.tar.gzip", layer)],
        }
    )
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    headers = request(
        "PUT",
        f"http://{registry}/v2/{repository}/manifests/{tag or digest}",
        manifest.encode(),
        {"Content-Type": DOCKER_MANIFEST},
    )
    assert headers["Docker-Content-Digest"] == digest
    return digest, manifest


@pytest.fixture(scope="module")
def registry(local_docker):
    return local_docker["ASSET_MANAGER_REGISTRY"]


def test_ecr_describes_the_images_pushed_to_its_registry(boto3_client, registry):
    ecr = boto3_client("ecr")
    ecr.create_repository(repositoryName="fidelity/pushed")
    assert ecr.describe_images(repositoryName="fidelity/pushed")["imageDetails"] == []

    first, manifest = push_image(registry, "fidelity/pushed", "v1", b"first layer")
    (detail,) = ecr.describe_images(repositoryName="fidelity/pushed")["imageDetails"]
    assert detail["imageDigest"] == first
    assert detail["imageTags"] == ["v1"]
    assert detail["imageManifestMediaType"] == DOCKER_MANIFEST
    assert detail["imageSizeInBytes"] == len(b"first layer")
    assert detail["imagePushedAt"]
    by_tag = ecr.describe_images(repositoryName="fidelity/pushed", imageIds=[{"imageTag": "v1"}])
    assert [d["imageDigest"] for d in by_tag["imageDetails"]] == [first]
    listed = ecr.list_images(repositoryName="fidelity/pushed")["imageIds"]
    assert listed == [{"imageDigest": first, "imageTag": "v1"}]

    got = ecr.batch_get_image(
        repositoryName="fidelity/pushed", imageIds=[{"imageTag": "v1"}, {"imageTag": "nope"}]
    )
    (image,) = got["images"]
    assert image["imageId"] == {"imageDigest": first, "imageTag": "v1"}
    assert json.loads(image["imageManifest"]) == json.loads(manifest)
    assert image["imageManifestMediaType"] == DOCKER_MANIFEST
    (failure,) = got["failures"]
    assert failure["failureCode"] == "ImageNotFound"
    assert failure["imageId"]["imageTag"] == "nope"

    # The tag moves; the image it named stays in the repository, untagged, as on ECR.
    second, _manifest = push_image(registry, "fidelity/pushed", "v1", b"second layer")
    assert second != first
    by_tag = ecr.describe_images(repositoryName="fidelity/pushed", imageIds=[{"imageTag": "v1"}])
    assert [d["imageDigest"] for d in by_tag["imageDetails"]] == [second]
    got = ecr.batch_get_image(repositoryName="fidelity/pushed", imageIds=[{"imageTag": "v1"}])
    assert got["images"][0]["imageId"]["imageDigest"] == second
    (old,) = ecr.describe_images(
        repositoryName="fidelity/pushed", imageIds=[{"imageDigest": first}]
    )["imageDetails"]
    assert "imageTags" not in old

    # A repository ECR does not have is still not found, whatever the registry holds.
    push_image(registry, "fidelity/unknown", "v1", b"layer")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_images(repositoryName="fidelity/unknown")


def test_ecr_describes_an_image_pushed_by_digest_only(boto3_client, registry):
    ecr = boto3_client("ecr")
    ecr.create_repository(repositoryName="fidelity/by-digest")
    digest, _manifest = push_image(registry, "fidelity/by-digest", None, b"by digest")
    (detail,) = ecr.describe_images(
        repositoryName="fidelity/by-digest", imageIds=[{"imageDigest": digest}]
    )["imageDetails"]
    assert detail["imageDigest"] == digest
    assert "imageTags" not in detail
    got = ecr.batch_get_image(
        repositoryName="fidelity/by-digest", imageIds=[{"imageDigest": digest}]
    )
    assert got["images"][0]["imageId"] == {"imageDigest": digest}


def test_ecr_sizes_an_image_index_by_its_largest_image(boto3_client, registry):
    ecr = boto3_client("ecr")
    ecr.create_repository(repositoryName="fidelity/multi-arch")
    images = [push_image(registry, "fidelity/multi-arch", None, b"x" * n) for n in (10, 30)]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": digest, "size": len(manifest)}
            for digest, manifest in images
        ],
    }
    request = urllib.request.Request(
        f"http://{registry}/v2/fidelity/multi-arch/manifests/latest",
        data=json.dumps(index).encode(),
        method="PUT",
        headers={"Content-Type": index["mediaType"]},
    )
    urllib.request.urlopen(request).close()
    (detail,) = ecr.describe_images(
        repositoryName="fidelity/multi-arch", imageIds=[{"imageTag": "latest"}]
    )["imageDetails"]
    assert detail["imageManifestMediaType"] == index["mediaType"]
    assert detail["imageSizeInBytes"] == 30


@pytest.fixture(scope="module")
def emulator_registry_down(tmp_path_factory):
    """A second emulator whose EMULATOR_ECR_REGISTRY names a port nothing listens on; yields a
    boto3 client factory and its log file."""
    import boto3

    state = tmp_path_factory.mktemp("emulator-registry-down")
    with running_emulator(state, f"http://127.0.0.1:{free_port()}") as running:

        def client(service):
            return boto3.client(
                service,
                region_name="us-west-1",
                endpoint_url=running.url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )

        yield client, running.log


def test_ecr_answers_as_moto_when_the_registry_is_down(emulator_registry_down):
    client, log = emulator_registry_down
    ecr = client("ecr")
    ecr.create_repository(repositoryName="fidelity/down")
    assert ecr.describe_images(repositoryName="fidelity/down")["imageDetails"] == []
    manifest = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "layers": []})
    ecr.put_image(repositoryName="fidelity/down", imageManifest=manifest, imageTag="v1")
    (detail,) = ecr.describe_images(repositoryName="fidelity/down")["imageDetails"]
    assert detail["imageTags"] == ["v1"]
    got = ecr.batch_get_image(repositoryName="fidelity/down", imageIds=[{"imageTag": "v2"}])
    assert got["failures"][0]["failureCode"] == "ImageNotFound"
    assert "Traceback" not in log.read_text()


def test_ecr_without_a_registry_answers_as_moto(monkeypatch):
    monkeypatch.delenv(fidelity.ECR_REGISTRY_ENV, raising=False)
    assert fidelity._registry_get("/v2/") is None


def test_every_network_interface_has_a_private_dns_name(boto3_client, network):
    ec2 = boto3_client("ec2")
    # The fixture's VPC keeps enableDnsHostnames off, as a new VPC does.
    eni = ec2.create_network_interface(SubnetId=network["subnets"][0])["NetworkInterface"]
    address = eni["PrivateIpAddress"]
    assert eni["PrivateDnsName"] == f"ip-{address.replace('.', '-')}.us-west-1.compute.internal"


RUN_TAGS = [{"key": "dagster/run-id", "value": "run-1"}, {"key": "Application", "value": "am"}]


@pytest.fixture(scope="module")
def runs(boto3_client, network):
    boto3_client("ecs").create_cluster(clusterName="fidelity-runs")
    return network


def run_one(boto3_client, network, image):
    """RunTask, as Dagster's EcsRunLauncher calls it, of a Fargate definition sized at task level
    only; returns the task as RunTask answers it."""
    ecs = boto3_client("ecs")
    definition = ecs.register_task_definition(
        family="fidelity-run",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="2048",
        containerDefinitions=[{"name": "run", "image": image, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    (task,) = ecs.run_task(
        cluster="fidelity-runs",
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": network["subnets"],
                "securityGroups": [network["group"]],
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": "run", "command": ["dagster", "api"]}]},
        startedBy="dagster",
        tags=RUN_TAGS,
    )["tasks"]
    return task


def poll(boto3_client, task, times):
    ecs = boto3_client("ecs")
    return [
        ecs.describe_tasks(cluster="fidelity-runs", tasks=[task["taskArn"]], include=["TAGS"])[
            "tasks"
        ][0]
        for _poll in range(times)
    ]


def test_run_task_runs_to_completion(boto3_client, runs):
    task = run_one(boto3_client, runs, "busybox")
    assert task["lastStatus"] == "PROVISIONING" and task["desiredStatus"] == "RUNNING"
    pending, running, stopped, still = poll(boto3_client, task, 4)
    assert [t["lastStatus"] for t in (pending, running, stopped, still)] == [
        "PENDING",
        "RUNNING",
        "STOPPED",
        "STOPPED",
    ]
    assert "exitCode" not in running["containers"][0] and running["startedAt"]
    assert "stoppedAt" not in running
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["containers"][0]["exitCode"] == 0
    assert stopped["containers"][0]["lastStatus"] == "STOPPED"
    assert stopped["containers"][0]["taskArn"] == task["taskArn"]
    assert stopped["startedAt"] <= stopped["stoppedAt"] == stopped["executionStoppedAt"]
    assert stopped["overrides"]["containerOverrides"] == [
        {"name": "run", "command": ["dagster", "api"]}
    ]
    assert stopped["group"] == "family:fidelity-run" and stopped["startedBy"] == "dagster"
    assert stopped["cpu"] == "1024" and stopped["memory"] == "2048"
    (eni,) = stopped["attachments"]
    details = {d["name"]: d["value"] for d in eni["details"]}
    assert eni["type"] == "ElasticNetworkInterface"
    assert details["subnetId"] == runs["subnets"][0]


def test_run_task_tags_are_visible(boto3_client, runs):
    task = run_one(boto3_client, runs, "busybox")
    (described,) = poll(boto3_client, task, 1)
    assert described["tags"] == RUN_TAGS
    listed = boto3_client("ecs").list_tags_for_resource(resourceArn=task["taskArn"])["tags"]
    assert listed == RUN_TAGS


def test_run_task_of_an_image_ecr_does_not_hold_fails_to_pull(boto3_client, runs, registry):
    uri = boto3_client("ecr").create_repository(repositoryName="fidelity/run-image")["repository"][
        "repositoryUri"
    ]
    digest, _manifest = push_image(registry, "fidelity/run-image", "good", b"run image")
    for image in (f"{uri}:good", f"{uri}@{digest}", "public.ecr.aws/docker/library/busybox:1"):
        stopped = poll(boto3_client, run_one(boto3_client, runs, image), 3)[-1]
        assert stopped["stopCode"] == "EssentialContainerExited", image

    missing = (f"{uri}:missing", f"{uri}@sha256:{'0' * 64}", f"{uri}-gone:good")
    for image in missing:
        pending, stopped = poll(boto3_client, run_one(boto3_client, runs, image), 2)
        assert pending["lastStatus"] == "PENDING"
        assert stopped["lastStatus"] == stopped["desiredStatus"] == "STOPPED", image
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert stopped["stoppedReason"].startswith("CannotPullContainerError:")
        assert image in stopped["stoppedReason"]
        assert "exitCode" not in stopped["containers"][0]
        assert "startedAt" not in stopped


# IAM enforced: a private emulator, since enforcing IAM changes the whole emulator.
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def iam_emulator(tmp_path_factory):
    """An emulator of its own, which these tests have enforce IAM. It holds, made while IAM is not
    enforced: an admin user (inline policy "*") with an access key, a role "fidelity-launcher"
    whose trust policy allows the admin, its credentials (the admin assumed it) and two clusters.
    Yields them with `client(service, creds=None)` (default: moto's unchecked test credentials)
    and `enforced()`, a context manager that has the emulator enforce IAM while it lasts."""
    import contextlib
    from types import SimpleNamespace

    import boto3

    running = contextlib.ExitStack()
    url = running.enter_context(running_emulator(tmp_path_factory.mktemp("emulator-iam"))).url

    def client(service, creds=None):
        creds = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, region_name="us-west-1", endpoint_url=url, **creds)

    @contextlib.contextmanager
    def enforced():
        reset_auth(url, "0")
        try:
            yield
        finally:
            reset_auth(url, "inf")

    try:
        iam = client("iam")
        admin = iam.create_user(UserName="fidelity-admin")["User"]["Arn"]
        iam.put_user_policy(
            UserName="fidelity-admin", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL)
        )
        key = iam.create_access_key(UserName="fidelity-admin")["AccessKey"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": admin}, "Action": "sts:AssumeRole"}
            ],
        }
        role = iam.create_role(
            RoleName="fidelity-launcher", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        credentials = client("sts").assume_role(RoleArn=role, RoleSessionName="fidelity")[
            "Credentials"
        ]
        ecs = client("ecs")
        yield SimpleNamespace(
            client=client,
            enforced=enforced,
            admin_arn=admin,
            admin={
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"],
            },
            role_arn=role,
            role={
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            },
            cluster=ecs.create_cluster(clusterName="fidelity-auth")["cluster"]["clusterArn"],
            other_cluster=ecs.create_cluster(clusterName="fidelity-other")["cluster"]["clusterArn"],
        )
    finally:
        running.close()


def grant(iam_emulator, *statements):
    """The launcher role's one inline policy: these statements (written by the admin)."""
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    iam_emulator.client("iam", iam_emulator.admin).put_role_policy(
        RoleName="fidelity-launcher", PolicyName="launcher", PolicyDocument=json.dumps(document)
    )


def register(iam_emulator, family, **roles):
    return iam_emulator.client("ecs").register_task_definition(
        family=family,
        containerDefinitions=[{"name": "run", "image": "busybox", "memory": 128}],
        **roles,
    )["taskDefinition"]["taskDefinitionArn"]


def denied(call, action: str, resource: str) -> None:
    """The call is refused as ECS refuses it: AccessDeniedException naming the action and the
    resource (or its start)."""
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        call()
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException", error
    assert f"is not authorized to perform: {action} on resource: {resource}" in error["Message"]


def test_iam_conditions_are_evaluated_as_iam_does(iam_emulator):
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": iam_emulator.admin_arn},
                "Action": "sts:AssumeRole",
                "Condition": {operator: {"sts:ExternalId": value}},
            }
            for operator, value in (("StringEquals", "one"), ("StringLike", "two-*"))
        ],
    }
    role = iam_emulator.client("iam").create_role(
        RoleName="fidelity-external", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    sts = iam_emulator.client("sts", iam_emulator.admin)
    with iam_emulator.enforced():
        # The second statement allows what the first's false condition does not deny.
        for external_id in ("one", "two-1"):
            sts.assume_role(RoleArn=role, RoleSessionName="session", ExternalId=external_id)
        # StringLike is evaluated (moto ignores it), and an absent key fails the condition.
        for extra in ({"ExternalId": "three"}, {}):
            with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
                sts.assume_role(RoleArn=role, RoleSessionName="session", **extra)


def test_ecs_requests_are_authorised_for_their_resource_arns(iam_emulator):
    run = register(iam_emulator, "fidelity-auth-run")
    other = register(iam_emulator, "fidelity-auth-other")
    prefix = run.split(":task-definition/")[0]
    grant(
        iam_emulator,
        {
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": f"{prefix}:task-definition/fidelity-auth-run:*",
            "Condition": {"ArnEquals": {"ecs:cluster": iam_emulator.cluster}},
        },
        {
            "Effect": "Allow",
            "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
            "Resource": f"{prefix}:task/fidelity-auth/*",
        },
        {"Effect": "Allow", "Action": "ecs:DescribeTaskDefinition", "Resource": "*"},
    )
    ecs = iam_emulator.client("ecs", iam_emulator.role)
    # Not enforcing IAM, the emulator authorises nothing: any call goes.
    ecs.list_clusters()
    admins_task = iam_emulator.client("ecs").run_task(
        cluster="fidelity-other", taskDefinition=other, launchType="FARGATE"
    )["tasks"][0]["taskArn"]
    with iam_emulator.enforced():
        assert ecs.describe_task_definition(taskDefinition="fidelity-auth-run")
        (task,) = ecs.run_task(
            cluster="fidelity-auth", taskDefinition="fidelity-auth-run", launchType="FARGATE"
        )["tasks"]
        assert task["taskDefinitionArn"] == run
        task_id = task["taskArn"].split("/")[-1]
        for name in (task["taskArn"], task_id):
            (described,) = ecs.describe_tasks(cluster="fidelity-auth", tasks=[name])["tasks"]
            assert described["taskArn"] == task["taskArn"]
        ecs.stop_task(cluster="fidelity-auth", task=task_id)

        denied(
            lambda: ecs.run_task(
                cluster="fidelity-auth", taskDefinition=other, launchType="FARGATE"
            ),
            "ecs:RunTask",
            other,
        )
        denied(  # the revision is the resource; the cluster a condition key
            lambda: ecs.run_task(
                cluster=iam_emulator.other_cluster, taskDefinition=run, launchType="FARGATE"
            ),
            "ecs:RunTask",
            run,
        )
        denied(
            lambda: ecs.describe_tasks(cluster="fidelity-other", tasks=[admins_task]),
            "ecs:DescribeTasks",
            admins_task,
        )
        denied(
            lambda: ecs.stop_task(cluster="fidelity-other", task=admins_task),
            "ecs:StopTask",
            admins_task,
        )
        denied(ecs.list_clusters, "ecs:ListClusters", "*")


def test_run_task_with_tags_needs_tag_resource(iam_emulator):
    run = register(iam_emulator, "fidelity-tagged-run")
    prefix = run.split(":task-definition/")[0]
    run_anything = {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*"}

    def tag_at(action, cluster="fidelity-auth"):
        return {
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": f"{prefix}:task/{cluster}/*",
            "Condition": {"StringEquals": {"ecs:CreateAction": action}},
        }

    ecs = iam_emulator.client("ecs", iam_emulator.role)
    admin = iam_emulator.client("ecs", iam_emulator.admin)
    tags = [{"key": "dagster/run_id", "value": "run-1"}]

    def run_tagged():
        return ecs.run_task(
            cluster="fidelity-auth", taskDefinition=run, launchType="FARGATE", tags=tags
        )["tasks"][0]

    with iam_emulator.enforced():
        for statements in ((), (tag_at("CreateService"),), (tag_at("RunTask", "fidelity-other"),)):
            grant(iam_emulator, run_anything, *statements)
            before = admin.list_tasks(cluster="fidelity-auth")["taskArns"]
            denied(run_tagged, "ecs:TagResource", f"{prefix}:task/fidelity-auth/")
            assert admin.list_tasks(cluster="fidelity-auth")["taskArns"] == before
        # Without tags, RunTask needs no ecs:TagResource.
        ecs.run_task(cluster="fidelity-auth", taskDefinition=run, launchType="FARGATE")

        grant(iam_emulator, run_anything, tag_at("RunTask"))
        task = run_tagged()
        assert task["taskArn"].startswith(f"{prefix}:task/fidelity-auth/")
        assert admin.list_tags_for_resource(resourceArn=task["taskArn"])["tags"] == tags


def test_run_task_needs_pass_role_for_its_roles(iam_emulator):
    iam = iam_emulator.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    task_role, execution_role, third_role = (
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        for name in ("fidelity-task", "fidelity-execution", "fidelity-third")
    )
    run = register(
        iam_emulator, "fidelity-roles-run", taskRoleArn=task_role, executionRoleArn=execution_role
    )
    run_anything = {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*"}

    def pass_role(*roles, service="ecs-tasks.amazonaws.com"):
        return {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": list(roles),
            "Condition": {"StringEquals": {"iam:PassedToService": service}},
        }

    ecs = iam_emulator.client("ecs", iam_emulator.role)

    def run_task(**overrides):
        return ecs.run_task(
            cluster="fidelity-auth",
            taskDefinition=run,
            launchType="FARGATE",
            overrides=overrides,
        )["tasks"][0]

    with iam_emulator.enforced():
        grant(iam_emulator, run_anything, pass_role(task_role, execution_role))
        assert run_task()["taskDefinitionArn"] == run

        grant(iam_emulator, run_anything, pass_role(task_role))
        denied(run_task, "iam:PassRole", execution_role)
        grant(
            iam_emulator,
            run_anything,
            pass_role(task_role, execution_role, service="ec2.amazonaws.com"),
        )
        denied(run_task, "iam:PassRole", task_role)
        grant(iam_emulator, run_anything, pass_role(task_role, execution_role))
        denied(lambda: run_task(taskRoleArn=third_role), "iam:PassRole", third_role)


def test_redirect_actions_are_described_with_their_defaults(boto3_client, balancer):
    elbv2 = boto3_client("elbv2")
    redirect = {
        "Type": "redirect",
        "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
    }
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer, Protocol="HTTP", Port=8081, DefaultActions=[redirect]
    )["Listeners"][0]
    rule = elbv2.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=5,
        Conditions=[{"Field": "path-pattern", "Values": ["/old/*"]}],
        Actions=[
            {**redirect, "RedirectConfig": {"Path": "/new/#{path}", "StatusCode": "HTTP_302"}}
        ],
    )["Rules"][0]
    (described,) = elbv2.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"]
    assert described["DefaultActions"][0]["RedirectConfig"] == {
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
        "StatusCode": "HTTP_301",
    }
    (described,) = elbv2.describe_rules(RuleArns=[rule["RuleArn"]])["Rules"]
    assert described["Actions"][0]["RedirectConfig"] == {
        "Protocol": "#{protocol}",
        "Port": "#{port}",
        "Host": "#{host}",
        "Path": "/new/#{path}",
        "Query": "#{query}",
        "StatusCode": "HTTP_302",
    }


def test_acls_go_off_only_when_the_acl_is_private(boto3_client):
    s3 = boto3_client("s3")
    bucket = "fidelity-acls-off"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-1"})
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    # ACLs are off on a new bucket (test_new_buckets_have_aws_defaults): on first.
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with pytest.raises(
        botocore.exceptions.ClientError, match="InvalidBucketAclWithObjectOwnership"
    ):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=enforced)
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=enforced)
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == enforced
    s3.delete_bucket(Bucket=bucket)


def test_rule_description_updates_return_true(boto3_client, network):
    ec2 = boto3_client("ec2")
    group = network["group"]
    rule = {"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443}
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{**rule, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}]
    )
    ec2.authorize_security_group_egress(
        GroupId=group, IpPermissions=[{**rule, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}]
    )
    described = [{**rule, "IpRanges": [{"CidrIp": "10.9.0.0/16", "Description": "described"}]}]
    ingress = ec2.update_security_group_rule_descriptions_ingress(
        GroupId=group, IpPermissions=described
    )
    egress = ec2.update_security_group_rule_descriptions_egress(
        GroupId=group, IpPermissions=described
    )
    assert ingress["Return"] is True and egress["Return"] is True
    (found,) = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    ranges = [r for p in found["IpPermissions"] if p.get("FromPort") == 8443 for r in p["IpRanges"]]
    assert ranges == [{"CidrIp": "10.9.0.0/16", "Description": "described"}]


def test_new_buckets_have_aws_defaults(boto3_client):
    s3 = boto3_client("s3")
    where = {"LocationConstraint": "us-west-1"}
    s3.create_bucket(Bucket="fidelity-defaults", CreateBucketConfiguration=where)
    assert s3.get_public_access_block(Bucket="fidelity-defaults")[
        "PublicAccessBlockConfiguration"
    ] == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    (rule,) = s3.get_bucket_encryption(Bucket="fidelity-defaults")[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.get_bucket_ownership_controls(Bucket="fidelity-defaults")["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    # What CreateBucket asks for wins over the default.
    s3.create_bucket(
        Bucket="fidelity-writer", CreateBucketConfiguration=where, ObjectOwnership="ObjectWriter"
    )
    assert s3.get_bucket_ownership_controls(Bucket="fidelity-writer")["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]
    }
    for bucket in ("fidelity-defaults", "fidelity-writer"):
        s3.delete_bucket(Bucket=bucket)


def test_alb_access_logs_need_the_bucket_grant(boto3_client, network):
    elbv2, s3 = boto3_client("elbv2"), boto3_client("s3")
    arn = elbv2.create_load_balancer(
        Name="fidelity-logged", Subnets=network["subnets"], SecurityGroups=[network["group"]]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    account = arn.split(":")[4]

    def enable(bucket):
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=arn,
            Attributes=[
                {"Key": "access_logs.s3.enabled", "Value": "true"},
                {"Key": "access_logs.s3.bucket", "Value": bucket},
                {"Key": "access_logs.s3.prefix", "Value": "alb"},
            ],
        )

    with pytest.raises(botocore.exceptions.ClientError, match="bucket does not exist"):
        enable("fidelity-no-such-bucket")
    s3.create_bucket(
        Bucket="fidelity-logs", CreateBucketConfiguration={"LocationConstraint": "us-west-1"}
    )
    denied = "Access Denied for bucket: fidelity-logs"
    with pytest.raises(botocore.exceptions.ClientError, match=denied):
        enable("fidelity-logs")
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::027434742980:root"},  # us-west-1's ELB account
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::fidelity-logs/other/AWSLogs/{account}/*",
    }
    tls_only = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::fidelity-logs/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(
        Bucket="fidelity-logs", Policy=json.dumps({"Statement": [tls_only, grant]})
    )
    with pytest.raises(botocore.exceptions.ClientError, match="Access Denied"):  # another prefix
        enable("fidelity-logs")
    grant["Resource"] = f"arn:aws:s3:::fidelity-logs/alb/AWSLogs/{account}/*"
    s3.put_bucket_policy(
        Bucket="fidelity-logs", Policy=json.dumps({"Statement": [tls_only, grant]})
    )
    s3.put_bucket_encryption(
        Bucket="fidelity-logs",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    with pytest.raises(botocore.exceptions.ClientError, match="Access Denied"):  # SSE-KMS
        enable("fidelity-logs")
    s3.delete_bucket_encryption(Bucket="fidelity-logs")
    enable("fidelity-logs")
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    }
    assert attributes["access_logs.s3.enabled"] == "true"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="fidelity-logs")["Contents"]]
    assert keys == [f"alb/AWSLogs/{account}/ELBAccessLogTestFile"]


def test_log_groups_take_a_kms_key_later(boto3_client):
    logs = boto3_client("logs")
    key = boto3_client("kms").create_key(Description="fidelity")["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName="fidelity/kms")

    def described():
        (group,) = logs.describe_log_groups(logGroupNamePrefix="fidelity/kms")["logGroups"]
        return group.get("kmsKeyId")

    assert described() is None
    logs.associate_kms_key(logGroupName="fidelity/kms", kmsKeyId=key)
    assert described() == key
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidParameterException"):
        logs.associate_kms_key(logGroupName="fidelity/kms", kmsKeyId=key[:-4] + "0000")
    with pytest.raises(botocore.exceptions.ClientError, match="ResourceNotFoundException"):
        logs.associate_kms_key(logGroupName="fidelity/none", kmsKeyId=key)
    logs.disassociate_kms_key(logGroupName="fidelity/kms")
    assert described() is None


def test_s3_versioning_keeps_mfa_delete(boto3_client):
    s3 = boto3_client("s3")
    bucket = "fidelity-mfa-delete"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-1"})
    mfa = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
    on = {"Status": "Enabled", "MFADelete": "Enabled"}
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert "MFADelete" not in s3.get_bucket_versioning(Bucket=bucket)  # never set: not reported
    with pytest.raises(botocore.exceptions.ClientError, match="Mfa Authentication must be used"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=on)
    assert "MFADelete" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=on, MFA=mfa)
    assert s3.get_bucket_versioning(Bucket=bucket)["MFADelete"] == "Enabled"
    # While it is on, the versioning state changes only with the MFA too.
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=on)  # no change: no MFA
    off = {"Status": "Enabled", "MFADelete": "Disabled"}
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=off, MFA=mfa)
    found = s3.get_bucket_versioning(Bucket=bucket)
    assert (found["Status"], found["MFADelete"]) == ("Enabled", "Disabled")


def test_s3_object_lock_on_existing_buckets(boto3_client):
    s3 = boto3_client("s3")
    bucket = "fidelity-object-lock"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-1"})
    s3.put_object(Bucket=bucket, Key="compute-logs/run", Body=b"log")
    lock = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
    }
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidBucketState"):
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=lock)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=lock)  # not empty
    found = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert found["ObjectLockEnabled"] == "Enabled"
    assert found["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"
    assert found["Rule"]["DefaultRetention"]["Days"] == 30
