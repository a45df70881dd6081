"""Fidelity layer: patches moto toward AWS's documented behaviour.

moto is the local stand-in for AWS. Where it differs from AWS in a way that would hide a real bug
in the collection, this module patches it, one function per difference. Each patch has a test in
tests/integration/test_emulator_fidelity.py that shows the AWS behaviour over HTTP.

The patches are written against one moto version; ``check_version`` refuses any other, because a
patch that silently stops applying would make the emulator lie again.
"""

from __future__ import annotations

import copy
import hashlib
import http.client
import json
import os
import re
import threading
import urllib.request
import uuid
from types import SimpleNamespace

import moto

PINNED_MOTO_VERSION = "5.2.5"

# What AWS returns from DescribeLoadBalancerAttributes for a new application load balancer.
# moto seeds only four of these; amazon.aws's elb_application_lb reads the others.
ALB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "connection_logs.s3.enabled": "false",
    "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "",
    "client_keep_alive.seconds": "3600",
    "deletion_protection.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "load_balancing.cross_zone.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "zonal_shift.config.enabled": "false",
}

# What AWS applies to a service created without a deploymentConfiguration.
ECS_DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}

# Write-only fields of an authenticate-oidc action: AWS accepts them and never describes them.
OIDC_WRITE_ONLY = ("ClientSecret", "UseExistingClientSecret")

# Test-only view of the secrets the emulator holds, as SHA-256 digests by rule ARN, so a test can
# prove a rotated secret was applied without AWS ever describing it.
OIDC_SECRET_DIGESTS: dict[str, str] = {}


# The registry that stands in for ECR's registry endpoint (a Docker distribution registry, no auth).
ECR_REGISTRY_ENV = "EMULATOR_ECR_REGISTRY"

# What ECR stores: Docker image manifests and manifest lists, OCI manifests and indexes.
MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)

# An image reference into ECR: <account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag][@digest].
ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[a-z0-9._/-]+?)(?::(?P<tag>[\w][\w.-]*))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)

# What DescribeTasks shows of a task started by RunTask, one status per call.
RUN_TASK_STATUSES = ("PENDING", "RUNNING", "STOPPED")

_ECR_SYNC = threading.Lock()


class FidelityError(RuntimeError):
    """The installed moto is not the one these patches were written for."""


def check_version(installed: str = moto.__version__) -> None:
    if installed != PINNED_MOTO_VERSION:
        raise FidelityError(
            f"moto {installed} is installed, but the emulator's fidelity patches were written for "
            f"moto {PINNED_MOTO_VERSION}. Install requirements-dev.txt, or re-check every patch "
            "in emulator/fidelity.py against the new version and update PINNED_MOTO_VERSION."
        )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def patch_oidc_client_secret_write_only() -> None:
    """AWS never returns an OIDC ClientSecret; moto echoes it on every describe.

    Keep the secret in the action's private data, hide it from every response, and honour
    UseExistingClientSecret on ModifyRule the way AWS does (the stored secret is kept).
    """
    from moto.elbv2 import models

    original_init = models.FakeAction.__init__

    def init(self, data):
        original_init(self, data)
        config = data.get("AuthenticateOidcConfig")
        if config is not None:
            # The serialiser reads attributes; the full config stays in self.data.
            self.AuthenticateOidcConfig = {
                key: value for key, value in config.items() if key not in OIDC_WRITE_ONLY
            }

    models.FakeAction.__init__ = init

    original_create = models.ELBv2Backend.create_rule
    original_modify = models.ELBv2Backend.modify_rule

    def oidc_secret(actions):
        for action in actions or []:
            config = action.get("AuthenticateOidcConfig")
            if config is not None:
                return config
        return None

    def create_rule(self, listener_arn, conditions, priority, actions, tags=None):
        config = oidc_secret(actions)
        if config is not None and not config.get("ClientSecret"):
            raise models.ValidationError("ClientSecret is required to create a rule")
        rule = original_create(self, listener_arn, conditions, priority, actions, tags)
        if config is not None:
            OIDC_SECRET_DIGESTS[rule.arn] = _digest(config["ClientSecret"])
        return rule

    def modify_rule(self, rule_arn, conditions, actions):
        config = oidc_secret(actions)
        if config is not None:
            if config.get("UseExistingClientSecret") and rule_arn in OIDC_SECRET_DIGESTS:
                config.pop("ClientSecret", None)
            elif not config.get("ClientSecret"):
                raise models.ValidationError(
                    "ClientSecret is required unless UseExistingClientSecret is true"
                )
            else:
                OIDC_SECRET_DIGESTS[rule_arn] = _digest(config["ClientSecret"])
        return original_modify(self, rule_arn, conditions, actions)

    models.ELBv2Backend.create_rule = create_rule
    models.ELBv2Backend.modify_rule = modify_rule


def patch_alb_default_attributes() -> None:
    """AWS describes about twenty attributes for a new ALB; moto seeds four."""
    from moto.elbv2 import models

    original_init = models.FakeLoadBalancer.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if self.type == "application":
            # At creation moto has seeded four attributes, one (cross-zone) with a non-AWS value.
            self.attrs = {**self.attrs, **ALB_DEFAULT_ATTRIBUTES}

    models.FakeLoadBalancer.__init__ = init


def patch_alb_deletion_protection() -> None:
    """AWS refuses to delete a load balancer whose deletion protection is on; moto deletes it."""
    from moto.elbv2 import models

    original_delete = models.ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self, arn):
        balancer = self.load_balancers.get(arn)
        if balancer is not None and balancer.attrs.get("deletion_protection.enabled") == "true":
            raise models.RESTError(
                "OperationNotPermitted",
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled",
            )
        return original_delete(self, arn)

    models.ELBv2Backend.delete_load_balancer = delete_load_balancer


def patch_cluster_capacity_providers() -> None:
    """AWS always describes capacityProviders (an empty list at least); moto omits them."""
    from moto.ecs import models

    original_init = models.Cluster.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if self.capacity_providers is None:
            self.capacity_providers = []
        if self.default_capacity_provider_strategy is None:
            self.default_capacity_provider_strategy = []

    models.Cluster.__init__ = init


def _settle(service, new_deployment: bool) -> None:
    """Make a service look as AWS reports it once its deployment has completed."""
    from moto.core.utils import utcnow

    now = utcnow()
    service.running_count = service.desired_count
    service.pending_count = 0
    previous = service.deployments[0] if service.deployments else {}
    deployment_id = previous.get("id") if previous and not new_deployment else None
    deployment_id = deployment_id or f"ecs-svc/{uuid.uuid4().int % 10**19}"
    service.deployments = [
        {
            **previous,
            "id": deployment_id,
            "status": "PRIMARY",
            "taskDefinition": service.task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": 0,
            "runningCount": service.desired_count,
            "failedTasks": 0,
            "launchType": service.launch_type,
            "networkConfiguration": service.network_configuration or None,
            "rolloutState": "COMPLETED",
            "rolloutStateReason": f"ECS deployment {deployment_id} completed.",
            "createdAt": previous.get("createdAt", now) if not new_deployment else now,
            "updatedAt": now,
        }
    ]
    service.events.insert(
        0,
        {
            "id": str(uuid.uuid4()),
            "createdAt": now,
            "message": f"(service {service.name}) has reached a steady state.",
        },
    )


def patch_services_run_their_tasks() -> None:
    """AWS services start their tasks; moto's report runningCount 0 and never finish deploying.

    The emulator has no containers, so every deployment completes at once: runningCount equals
    desiredCount and the single PRIMARY deployment is COMPLETED, with a steady-state event.
    """
    from moto.ecs import models

    original_create = models.EC2ContainerServiceBackend.create_service
    original_update = models.EC2ContainerServiceBackend.update_service

    def create_service(self, *args, **kwargs):
        service = original_create(self, *args, **kwargs)
        _settle(service, new_deployment=True)
        return service

    def update_service(self, service_properties):
        before = copy.deepcopy(
            self._get_service(
                service_properties.get("cluster", "default"),
                service_properties["service"].split("/")[-1],
            ).__dict__.get("task_definition")
        )
        forced = bool(service_properties.get("force_new_deployment"))
        service = original_update(self, service_properties)
        _settle(service, new_deployment=forced or service.task_definition != before)
        return service

    models.EC2ContainerServiceBackend.create_service = create_service
    models.EC2ContainerServiceBackend.update_service = update_service


def patch_create_service_settings() -> None:
    """AWS applies deploymentConfiguration and friends on CreateService; moto drops them."""
    from moto.ecs import responses

    original = responses.EC2ContainerServiceResponse.create_service
    kept = {
        "deploymentConfiguration": "deployment_configuration",
        "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
        "enableExecuteCommand": "enable_execute_command",
        "enableECSManagedTags": "enable_ecs_managed_tags",
        "availabilityZoneRebalancing": "availability_zone_rebalancing",
    }

    def create_service(self):
        result = original(self)
        cluster = self._get_param("cluster", "default")
        service = self.ecs_backend._get_service(cluster, self._get_param("serviceName"))
        for param, attribute in kept.items():
            value = self._get_param(param)
            if value is not None:
                setattr(service, attribute, value)
        if getattr(service, "deployment_configuration", None) is None:
            service.deployment_configuration = copy.deepcopy(ECS_DEFAULT_DEPLOYMENT_CONFIGURATION)
        return result

    responses.EC2ContainerServiceResponse.create_service = create_service


def patch_task_definition_latest_active() -> None:
    """AWS resolves a bare family to its latest ACTIVE revision; moto returns the newest, even
    when it has been deregistered."""
    from moto.ecs import models

    original = models.EC2ContainerServiceBackend.describe_task_definition

    def describe_task_definition(self, task_definition_str):
        name = task_definition_str.split("/")[-1]
        if ":" in name:
            return original(self, task_definition_str)
        active = [
            revision
            for revision, definition in self.task_definitions.get(name, {}).items()
            if definition.status == "ACTIVE"
        ]
        if not active:
            raise models.TaskDefinitionNotFoundException()
        return self.task_definitions[name][max(active)]

    models.EC2ContainerServiceBackend.describe_task_definition = describe_task_definition


def patch_service_task_definition_arn() -> None:
    """AWS describes a service's task definition as a full ARN, however UpdateService named it;
    moto keeps the string it was given (`family` or `family:1`), which hides ARN comparison bugs."""
    from moto.ecs import models

    original = models.EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        given = service_properties.get("task_definition")
        if given:
            service_properties["task_definition"] = self.describe_task_definition(given).arn
        return original(self, service_properties)

    models.EC2ContainerServiceBackend.update_service = update_service


def patch_deleted_rule_forgets_secret() -> None:
    """Keep the test-only secret digests in step with the rules that exist."""
    from moto.elbv2 import models

    original = models.ELBv2Backend.delete_rule

    def delete_rule(self, arn):
        OIDC_SECRET_DIGESTS.pop(arn, None)
        return original(self, arn)

    models.ELBv2Backend.delete_rule = delete_rule


def _registry_get(path: str):
    """GET `path` from the registry named by EMULATOR_ECR_REGISTRY: (headers, body), or None when
    the variable is unset, the registry does not answer, or answers with an error (404 included)."""
    base = os.environ.get(ECR_REGISTRY_ENV)
    if not base:
        return None
    request = urllib.request.Request(
        base.rstrip("/") + path, headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.headers, response.read()
    except (OSError, ValueError, http.client.HTTPException):
        return None


def _json(body: bytes):
    try:
        return json.loads(body)
    except ValueError:  # not a registry's answer
        return None


def _registry_json(path: str) -> dict | None:
    got = _registry_get(path)
    document = _json(got[1]) if got else None
    return document if isinstance(document, dict) else None


def _registry_manifest(repository: str, reference: str):
    """The manifest the registry holds for a tag or digest: (digest, media type, text, size)."""
    got = _registry_get(f"/v2/{repository}/manifests/{reference}")
    if got is None:
        return None
    headers, body = got
    manifest = _json(body)
    if not isinstance(manifest, dict):
        return None
    digest = headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
    media_type = manifest.get("mediaType") or headers.get("Content-Type", "").split(";")[0]
    if "manifests" in manifest:
        # ECR: "If the image is a manifest list, this will be the max size of all manifests".
        sizes = [_registry_manifest(repository, m["digest"]) for m in manifest["manifests"]]
        size = max((s[3] for s in sizes if s and s[3] is not None), default=None)
    else:
        size = sum(layer.get("size", 0) for layer in manifest.get("layers", []))
    return digest, media_type, body.decode(), size


def _sync_ecr_repository(repository, digests=()) -> None:
    """Make moto's repository hold what the registry holds under its name: each tag on the
    registry's digest (a tag that moved leaves its old image untagged, as ECR does), and the
    `digests` asked for by digest. Nothing happens when the registry does not answer."""
    from moto.ecr import models

    def hold(tag, digest, media_type, manifest, size):
        image = next((i for i in repository.images if i.get_image_digest() == digest), None)
        for other in repository.images:
            if other is not image and tag in other.image_tags:
                other.remove_tag(tag)
                if not other.image_tags:
                    other.image_tag = None
        if image is None:
            image = models.Image(
                repository.account_id,
                tag,
                manifest,
                repository.name,
                media_type,
                digest,
                repository.registry_id,
            )
            image.registry_size = size  # ECR sizes a pushed image by its layers
            repository.images.append(image)
        elif tag is not None:
            image.update_tag(tag)

    listed = _registry_json(f"/v2/{repository.name}/tags/list")  # a 404 while nothing is tagged
    for tag in (listed or {}).get("tags") or []:
        manifest = _registry_manifest(repository.name, tag)
        if manifest is not None:
            hold(tag, *manifest)
    for digest in digests:
        if not any(i.get_image_digest() == digest for i in repository.images):
            manifest = _registry_manifest(repository.name, digest)
            if manifest is not None:
                hold(None, *manifest)


def patch_ecr_images_from_registry() -> None:
    """AWS: an image pushed to <account>.dkr.ecr.<region>.amazonaws.com/<repo> is what ECR's API
    describes (ListImages, DescribeImages, BatchGetImage: digest, tags, manifest, media type, size).
    moto knows only images put through its PutImage API, and serves no registry.

    With EMULATOR_ECR_REGISTRY naming a Docker registry that stands in for the endpoint, each of
    these calls first brings a moto repository in step with what the registry holds under the same
    name, into moto's own Image model, so the answers are moto's. Without the variable, or with the
    registry down, moto answers alone.
    """
    from moto.ecr import models

    def synced(original):
        def call(self, repository_name, registry_id=None, *args, **kwargs):
            repository = self.repositories.get(repository_name)
            if repository is not None and registry_id in (None, repository.registry_id):
                image_ids = kwargs.get("image_ids", args[0] if args else None) or []
                digests = [i["imageDigest"] for i in image_ids if "imageDigest" in i]
                with _ECR_SYNC:
                    _sync_ecr_repository(repository, digests)
            return original(self, repository_name, registry_id, *args, **kwargs)

        return call

    original_size = models.Image.get_image_size_in_bytes

    def image_size(self):
        # moto reports a manifest's config blob size; ECR the image's (a list's largest image).
        return self.registry_size if hasattr(self, "registry_size") else original_size(self)

    models.Image.get_image_size_in_bytes = image_size
    backend = models.ECRBackend
    for name in ("list_images", "describe_images", "batch_get_image"):
        setattr(backend, name, synced(getattr(backend, name)))


def patch_eni_private_dns_name() -> None:
    """AWS gives every network interface a private DNS name (ip-a-b-c-d.<region>.compute.internal);
    the VPC's enableDnsHostnames governs public names only. moto sets one only when the VPC has
    DNS hostnames on, and its RunTask then fails (500) reading the missing attribute."""
    from moto.ec2.models import elastic_network_interfaces as models

    original_init = models.NetworkInterface.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if not getattr(self, "private_dns_name", None) and self.private_ip_address:
            region = self.ec2_backend.region_name
            dns = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
            self.private_dns_name = f"ip-{self.private_ip_address.replace('.', '-')}.{dns}"
            for address in self.private_ip_addresses:
                if address.get("Primary"):
                    address["PrivateDnsName"] = self.private_dns_name

    models.NetworkInterface.__init__ = init


def _unpullable_image(backend, task_definition) -> str | None:
    """The CannotPullContainerError of a task whose image names a repository of this emulator's
    ECR that holds no such tag or digest (checked only with EMULATOR_ECR_REGISTRY set)."""
    from moto.ecr.models import ecr_backends

    if not os.environ.get(ECR_REGISTRY_ENV):
        return None
    for container in task_definition.container_definitions:
        image = container.get("image") or ""
        ref = ECR_IMAGE.match(image)
        if ref is None or ref["account"] != backend.account_id:
            continue  # another registry: assumed pullable
        try:
            repository = ecr_backends[ref["account"]][ref["region"]].repositories.get(
                ref["repository"]
            )
        except KeyError:
            continue
        found = False
        if repository is not None:
            digest = ref["digest"]
            with _ECR_SYNC:
                _sync_ecr_repository(repository, [digest] if digest else [])
            found = any(
                (i.get_image_digest() == digest)
                if digest
                else ((ref["tag"] or "latest") in i.image_tags)
                for i in repository.images
            )
        if not found:
            return (
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                f"failed to resolve ref {image}: {image}: not found"
            )
    return None


def _step_run_task(task) -> None:
    """Move a RunTask task one status on, setting what ECS sets on the way."""
    from moto.core.utils import utcnow

    if not task.fidelity_steps or task.last_status == "STOPPED":  # StopTask may have stopped it
        return
    status = task.fidelity_steps.pop(0)
    now = utcnow()
    task.last_status = status
    for container in task.containers:
        container.last_status = status
    if status == "PENDING":
        task.pull_started_at = now
    elif status == "RUNNING":
        task.pull_stopped_at = task.started_at = task.connectivity_at = now
        task.connectivity = "CONNECTED"
    elif status == "STOPPED":
        task.desired_status = "STOPPED"
        task.stopping_at = task.stopped_at = task.execution_stopped_at = now
        if task.fidelity_pull_error:
            task.stop_code, task.stopped_reason = "TaskFailedToStart", task.fidelity_pull_error
            for container in task.containers:
                container.reason = task.fidelity_pull_error
        else:
            task.stop_code = "EssentialContainerExited"
            task.stopped_reason = "Essential container in task exited"
            for container in task.containers:
                container.exitCode = 0


def patch_run_tasks_run_to_completion() -> None:
    """AWS: RunTask accepts a Fargate task definition whose memory is set at task level only, and
    the task goes PROVISIONING -> PENDING -> RUNNING -> STOPPED; once its essential container
    exits it is STOPPED with stopCode EssentialContainerExited and the container's exitCode. An
    image that cannot be pulled stops it from PENDING: TaskFailedToStart, CannotPullContainerError.

    moto sums container-level memory and fails (500, TypeError) when a container has none; its
    tasks start RUNNING and never stop by themselves. Here a RunTask task moves one status per
    DescribeTasks (PENDING, RUNNING, STOPPED with exit code 0); an image of this emulator's ECR that
    neither moto's repository nor the registry holds fails to pull. Other tasks (StartTask's; moto
    starts none for services, whose counts patch_services_run_their_tasks settles) are unchanged.
    """
    from moto.ecs import models

    backend = models.EC2ContainerServiceBackend
    original_requirements = backend._calculate_task_resource_requirements
    original_run = backend.run_task
    original_describe = backend.describe_tasks

    def requirements(task_definition):
        containers = [
            c
            if c.get("memory") is not None or c.get("memoryReservation") is not None
            else {**c, "memory": 0}
            for c in task_definition.container_definitions
        ]
        needed = original_requirements(SimpleNamespace(container_definitions=containers))
        for key, task_level in (("CPU", task_definition.cpu), ("MEMORY", task_definition.memory)):
            if not needed[key] and str(task_level or "").isdigit():
                needed[key] = int(task_level)  # Fargate sizes the task, not its containers
        return needed

    def run_task(self, cluster_str, task_definition_str, *args, **kwargs):
        from moto.core.utils import utcnow

        tasks = original_run(self, cluster_str, task_definition_str, *args, **kwargs)
        definition = self.describe_task_definition(task_definition_str)
        pull_error = _unpullable_image(self, definition)
        for task in tasks:
            task._transitions = []  # this patch moves the status, not moto's state manager
            task.status = "PROVISIONING"
            task.fidelity_steps = ["PENDING", "STOPPED"] if pull_error else list(RUN_TASK_STATUSES)
            task.fidelity_pull_error = pull_error
            task.stopped_reason = None
            task.created_at = utcnow()
            task.cpu, task.memory = definition.cpu, definition.memory
            for container in task.containers:
                container.exitCode = None
                container.task_arn = task.task_arn  # moto names the task definition here
        return tasks

    def describe_tasks(self, cluster_str, tasks):
        described = original_describe(self, cluster_str, tasks)
        for task in described:
            if hasattr(task, "fidelity_steps"):
                _step_run_task(task)
        return described

    backend._calculate_task_resource_requirements = staticmethod(requirements)
    backend.run_task = run_task
    backend.describe_tasks = describe_tasks


# While moto enforces IAM (POST /moto-api/reset-auth, or INITIAL_NO_AUTH_ACTION_COUNT), it
# authorises each request once, for its own action on Resource "*", with no condition keys. The
# patches below make ECS requests authorised as AWS authorises them; each is a no-op while moto
# does not enforce IAM (the emulator's default). An ECS request is authorised for the triples
# (action, resource ARN, condition keys) that the rules below return, in order: the request's own
# (patch_ecs_authorises_resource_arns; moto's ecs:<Action> on "*" for actions it does not model),
# then those AWS authorises besides (patch_ecs_tags_on_create_need_tag_resource,
# patch_ecs_run_task_passes_its_roles).
_ECS_REQUEST_RULES: list = []
_ECS_IMPLIED_RULES: list = []
ECS_TASKS_SERVICE = "ecs-tasks.amazonaws.com"
# The IDs RunTask will give its new tasks, drawn before the request is authorised (the ARNs that
# ecs:TagResource is authorised for), per server thread.
_NEW_TASK_IDS = threading.local()


def _auth_enforced() -> bool:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's string matching: * any run of characters, ? one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnEquals/ArnLike: each of the six colon-delimited parts matched on its own."""
    patterns, values = pattern.split(":", 5), value.split(":", 5)
    return len(patterns) == len(values) == 6 and all(map(_wildcard, patterns, values))


_CONDITION_MATCHES = {
    "StringEquals": lambda expected, actual: actual == expected,
    "StringEqualsIgnoreCase": lambda expected, actual: actual.lower() == expected.lower(),
    "StringLike": _wildcard,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "Bool": lambda expected, actual: actual.lower() == expected.lower(),
}
_NEGATED_CONDITIONS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    """One key of one condition operator against the request context, as IAM evaluates it."""
    expected = [str(e) for e in (expected if isinstance(expected, list) else [expected])]
    if operator == "Null":
        return (key not in context) == (expected[0].lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = base in _NEGATED_CONDITIONS
    match = _CONDITION_MATCHES.get(_NEGATED_CONDITIONS.get(base, base))
    if match is None:
        return True  # Numeric, Date, IpAddress, Binary, ForAllValues/ForAnyValue: as moto has it
    if key not in context:
        return if_exists or negated
    actual = context[key]
    actuals = [str(a) for a in (actual if isinstance(actual, list) else [actual])]
    matched = any(match(e, a) for e in expected for a in actuals)
    return not matched if negated else matched


def patch_iam_condition_operators() -> None:
    """AWS evaluates a statement's Condition against the request context: String*, Arn* and Bool
    operators (with ...IfExists) and Null; "If the key that you specify in a policy condition is
    not present in the request context, the values do not match and the condition is false"
    (true for the negated operators, and for ...IfExists); and a statement whose condition is false
    does not apply, so another statement may still allow the request. (IAM User Guide, "IAM JSON
    policy elements: Condition operators",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)

    moto evaluates StringEquals only and ignores every other operator (ArnEquals included), lets a
    condition on an absent key pass, and turns an Allow whose condition is false into an explicit
    deny. Here, while moto enforces IAM, a condition is evaluated as above against the keys the
    request supplies (moto's sts:ExternalId, and those the ECS patches below supply); operators not
    listed above stay ignored, as in moto. Not enforcing IAM, moto answers alone (S3 bucket policies
    are evaluated then too, and keep moto's behaviour).
    """
    from moto.iam import access_control

    statement_class = access_control.IAMPolicyStatement
    original = statement_class.is_action_permitted

    def is_action_permitted(
        self, action, resource="*", principal=None, incoming_condition_values=None
    ):
        conditions = self._statement.get("Condition")
        if not conditions or not _auth_enforced():
            return original(self, action, resource, principal, incoming_condition_values)
        context = incoming_condition_values or {}
        holds = all(
            _condition_holds(operator, key, expected, context)
            for operator, keys in conditions.items()
            for key, expected in keys.items()
        )
        if not holds:
            return access_control.PermissionResult.NEUTRAL
        unconditioned = {k: v for k, v in self._statement.items() if k != "Condition"}
        return original(
            statement_class(unconditioned), action, resource, principal, incoming_condition_values
        )

    statement_class.is_action_permitted = is_action_permitted


def _ecs_access_denied(principal: str, action: str, resource: str, explicit: bool):
    """What ECS answers a request IAM does not allow: AccessDeniedException (HTTP 400)."""
    from moto.core.exceptions import JsonRESTError

    why = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {action} action"
    )
    return JsonRESTError(
        "AccessDeniedException",
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}",
    )


def _ecs_authorise(response, checks) -> None:
    """Authenticate the request as moto does, then authorise each (action, resource, condition
    keys) with the caller's identity-based policies: an explicit deny, or no allow, refuses it."""
    from urllib.parse import urlparse

    from moto.iam.access_control import IAMPolicy, IAMRequest, PermissionResult

    path = response.raw_path
    query = urlparse(response.uri).query
    request = IAMRequest(
        account_id=response.current_account,
        method=response.method,
        path=path + ("?" + query if query else ""),
        data=response.data,
        body=response.raw_body,
        headers=response.headers,
        action=response._get_action(),
    )
    request.check_signature()
    policies = request._access_key.collect_policies()
    for action, resource, context in checks:
        results = [
            IAMPolicy(p).is_action_permitted(action, resource, None, context) for p in policies
        ]
        if PermissionResult.DENIED in results or PermissionResult.PERMITTED not in results:
            explicit = PermissionResult.DENIED in results
            raise _ecs_access_denied(request._access_key.arn, action, resource, explicit)


def _install_ecs_authorisation() -> None:
    """Authorise ECS requests with the rules above while moto enforces IAM (once)."""
    from moto.ecs.responses import EC2ContainerServiceResponse as responses

    if getattr(responses, "_fidelity_authorisation", False):
        return
    original = responses._authenticate_and_authorize_normal_action

    def authorise(self, resource="*"):
        _NEW_TASK_IDS.ids = []
        if not _auth_enforced():
            return original(self, resource)  # moto counts the request towards enforcement
        checks = None
        for rule in _ECS_REQUEST_RULES:
            checks = rule(self)
        if checks is None:
            checks = [(f"ecs:{self._get_action()}", resource, {})]
        for rule in _ECS_IMPLIED_RULES:
            checks = checks + rule(self)
        _ecs_authorise(self, checks)

    responses._authenticate_and_authorize_normal_action = authorise
    responses._fidelity_authorisation = True


def _ecs_arn(response, resource: str) -> str:
    from moto.utilities.utils import get_partition

    region = response.region
    return f"arn:{get_partition(region)}:ecs:{region}:{response.current_account}:{resource}"


def _ecs_cluster(response) -> tuple[str, str]:
    """The request's cluster (default: "default") as (name, ARN)."""
    cluster = response._get_param("cluster") or "default"
    name = cluster.split("/")[-1] if cluster.startswith("arn:") else cluster
    return name, cluster if cluster.startswith("arn:") else _ecs_arn(response, f"cluster/{name}")


def _ecs_task_definition(response):
    """The task definition the request names (family, family:revision or ARN; a family is its
    latest ACTIVE revision), or None when there is no such definition."""
    name = response._get_param("taskDefinition")
    try:
        return response.ecs_backend.describe_task_definition(name) if name else None
    except Exception:  # moto's own error answers the request once it is authorised
        return None


def _ecs_request_resources(response):
    """The resource ARNs and ecs:cluster AWS authorises an ECS action for (None: not modelled)."""
    action = response._get_action()
    if action == "DescribeTaskDefinition":
        return [("ecs:DescribeTaskDefinition", "*", {})]  # no resource-level permission
    if action not in ("RunTask", "DescribeTasks", "StopTask"):
        return None
    cluster_name, cluster_arn = _ecs_cluster(response)
    context = {"ecs:cluster": cluster_arn}
    if action == "RunTask":
        definition = _ecs_task_definition(response)
        name = response._get_param("taskDefinition") or ""
        arn = (
            definition.arn
            if definition is not None
            else name
            if name.startswith("arn:")
            else _ecs_arn(response, f"task-definition/{name}")
        )
        return [("ecs:RunTask", arn, context)]
    tasks = (
        response._get_param("tasks", [])
        if action == "DescribeTasks"
        else [response._get_param("task")]
    )
    return [
        (
            f"ecs:{action}",
            task if task.startswith("arn:") else _ecs_arn(response, f"task/{cluster_name}/{task}"),
            context,
        )
        for task in tasks
        if task
    ]


def patch_ecs_authorises_resource_arns() -> None:
    """AWS authorises ecs:RunTask for the task definition revision it runs
    (arn:...:task-definition/<family>:<revision>; a bare family is its latest ACTIVE revision),
    with condition key ecs:cluster the cluster's ARN; ecs:DescribeTasks and ecs:StopTask for each
    task's ARN (arn:...:task/<cluster>/<id>), with ecs:cluster; ecs:DescribeTaskDefinition on "*"
    only (no resource-level permission). (Service Authorization Reference, "Actions, resources,
    and condition keys for Amazon Elastic Container Service",
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html)

    moto, enforcing IAM, authorises every ECS action for Resource "*" with no condition key, so a
    least-privilege statement naming an ARN never allows anything. Here, while moto enforces IAM,
    these four actions are authorised as above (an ECS AccessDeniedException naming the action and
    resource when refused); other ECS actions keep moto's "*".
    """
    _install_ecs_authorisation()
    _ECS_REQUEST_RULES.append(_ecs_request_resources)


def patch_ecs_tags_on_create_need_tag_resource() -> None:
    """AWS: "If tags are specified in the resource-creating action, AWS performs additional
    authorization": RunTask with tags also needs ecs:TagResource on each new task
    (arn:...:task/<cluster>/<id>), with condition key ecs:CreateAction = RunTask. (Amazon ECS
    Developer Guide, "Grant permission to tag resources on creation",
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html)

    moto authorises ecs:RunTask alone. Here, while moto enforces IAM, a RunTask with tags is also
    authorised for ecs:TagResource on the ARNs its tasks will have (their IDs drawn before the
    request is authorised and given to the tasks it starts).
    """
    from moto.ecs import models
    from moto.moto_api._internal import mock_random

    _install_ecs_authorisation()

    def tag_on_create(response):
        if response._get_action() != "RunTask" or not response._get_param("tags"):
            return []
        cluster_name, _cluster_arn = _ecs_cluster(response)
        count = int(response._get_param("count") or 1)
        _NEW_TASK_IDS.ids = [str(mock_random.uuid4()) for _task in range(count)]
        return [
            (
                "ecs:TagResource",
                _ecs_arn(response, f"task/{cluster_name}/{task_id}"),
                {"ecs:CreateAction": "RunTask"},
            )
            for task_id in _NEW_TASK_IDS.ids
        ]

    original_init = models.Task.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        ids = getattr(_NEW_TASK_IDS, "ids", None)
        if ids:
            self.id = ids.pop(0)

    models.Task.__init__ = init
    _ECS_IMPLIED_RULES.append(tag_on_create)


def patch_ecs_run_task_passes_its_roles() -> None:
    """AWS: a principal that hands a role to a service needs iam:PassRole on that role; RunTask
    hands ECS the task role and the task execution role (the task definition's taskRoleArn and
    executionRoleArn, or those the overrides name), with condition key iam:PassedToService =
    ecs-tasks.amazonaws.com. (IAM User Guide, "Grant a user permissions to pass a role to an AWS
    service", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html; Amazon
    ECS Developer Guide, "Troubleshooting Amazon Elastic Container Service identity and access",
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security_iam_troubleshoot.html)

    moto authorises ecs:RunTask alone. Here, while moto enforces IAM, RunTask is also authorised
    for iam:PassRole on each of those roles.
    """
    _install_ecs_authorisation()

    def passed_roles(response):
        if response._get_action() != "RunTask":
            return []
        definition = _ecs_task_definition(response)
        overrides = response._get_param("overrides") or {}
        roles = []
        for key, attribute in (
            ("taskRoleArn", "task_role_arn"),
            ("executionRoleArn", "execution_role_arn"),
        ):
            role = overrides.get(key) or getattr(definition, attribute, None)
            if role and role not in roles:
                roles.append(role)
        return [
            ("iam:PassRole", role, {"iam:PassedToService": ECS_TASKS_SERVICE}) for role in roles
        ]

    _ECS_IMPLIED_RULES.append(passed_roles)


# What AWS describes for the URI components a redirect action does not name.
REDIRECT_DEFAULTS = {
    "Protocol": "#{protocol}",
    "Port": "#{port}",
    "Host": "#{host}",
    "Path": "/#{path}",
    "Query": "#{query}",
}


def patch_redirect_action_defaults() -> None:
    """AWS describes a redirect action with all five URI components, those the request did not
    name filled in with their defaults (Protocol #{protocol}, Port #{port}, Host #{host}, Path
    /#{path}, Query #{query}: the AWS CLI reference's modify-listener example sets Protocol and
    StatusCode and gets back all six fields); moto echoes only the fields it was given.

    So a comparison that forgets the defaults looks idempotent on moto but reports the HTTP
    listener changed on every AWS run. Here listener default actions and rule actions of type
    redirect are stored with the defaults filled in, as AWS describes them.
    """
    from moto.elbv2 import models

    original_init = models.FakeAction.__init__

    def init(self, data):
        if data.get("Type") == "redirect" and isinstance(data.get("RedirectConfig"), dict):
            data = {**data, "RedirectConfig": {**REDIRECT_DEFAULTS, **data["RedirectConfig"]}}
        original_init(self, data)

    models.FakeAction.__init__ = init


def _foreign_grants(acl) -> bool:
    """Whether a moto ACL grants anything to anyone but the bucket owner."""
    from moto.s3.models import OWNER

    return any(
        grantee.id != OWNER or grantee.uri
        for grant in (acl.grants if acl else [])
        for grantee in grant.grantees
    )


def patch_s3_acls_go_off_only_when_private() -> None:
    """AWS refuses to turn a bucket's ACLs off (PutBucketOwnershipControls with
    BucketOwnerEnforced) while the bucket's ACL still grants anyone but the owner:
    InvalidBucketAclWithObjectOwnership, "Bucket cannot have ACLs set with ObjectOwnership's
    BucketOwnerEnforced setting" (S3 User Guide, "Controlling ownership of objects and disabling
    ACLs for your bucket": prerequisites for disabling ACLs). moto accepts it.

    So a repair that turns ACLs off before making the ACL private works on moto and fails on
    AWS. Here the request fails as on AWS.
    """
    from moto.s3 import models
    from moto.s3.exceptions import S3ClientError

    backend = models.S3Backend
    original = backend.put_bucket_ownership_controls

    def put_bucket_ownership_controls(self, bucket_name, ownership):
        bucket = self.get_bucket(bucket_name)
        if ownership == "BucketOwnerEnforced" and _foreign_grants(bucket.acl):
            raise S3ClientError(
                "InvalidBucketAclWithObjectOwnership",
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            )
        return original(self, bucket_name, ownership)

    backend.put_bucket_ownership_controls = put_bucket_ownership_controls


def patch_rule_description_updates_return_true() -> None:
    """AWS answers UpdateSecurityGroupRuleDescriptionsIngress and ...Egress with Return true
    (EC2 API Reference, response elements: "return: Returns true if the request succeeds");
    moto answers with an empty result.

    amazon.aws's ec2_security_group reads that field, so repairing a rule whose description was
    changed by hand fails on moto with a KeyError and works on AWS. Here both answer Return true.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.responses.security_groups import SecurityGroups

    for direction in ("ingress", "egress"):
        name = f"update_security_group_rule_descriptions_{direction}"
        original = getattr(SecurityGroups, name)

        def update(self, _original=original):
            _original(self)
            return ActionResult({"Return": True})

        setattr(SecurityGroups, name, update)


def patch_new_buckets_have_aws_defaults() -> None:
    """AWS gives every new bucket, whatever CreateBucket asked, default encryption with SSE-S3
    (since January 2023), all four public access block settings on and ACLs off, Object Ownership
    BucketOwnerEnforced (since April 2023) (S3 User Guide, "Default settings for new S3 buckets").
    moto creates a bare bucket: no public access block, no encryption, no ownership controls.

    So a deploy killed right after CreateBucket leaves, on moto, a bucket weaker than any AWS
    bucket, and a test of that partial state would check moto rather than AWS. Here a new bucket
    starts with AWS's defaults; an ObjectOwnership given to CreateBucket still wins.
    """
    from moto.s3 import models

    backend = models.S3Backend
    original = backend.create_bucket

    def create_bucket(self, bucket_name, region_name, *args, **kwargs):
        bucket = original(self, bucket_name, region_name, *args, **kwargs)
        bucket.public_access_block = models.PublicAccessBlock(True, True, True, True)
        bucket.encryption = {
            "Rule": {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": False,
            }
        }
        bucket.ownership_rule = "BucketOwnerEnforced"
        return bucket

    backend.create_bucket = create_bucket


# The ELB accounts that write ALB access logs, for the Regions the tests deploy to (ELB's user
# guide, "Enable access logs for your Application Load Balancer", step 2). Elsewhere this emulator
# accepts only the log delivery service principal.
ELB_LOG_DELIVERY_ACCOUNTS = {"us-east-1": "127311923021", "us-west-1": "027434742980"}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def _elb_may_write(policy: bytes | None, region: str, partition: str, key_arn: str) -> bool:
    """Whether a bucket policy allows ELB's log delivery to put the object ``key_arn``."""
    import fnmatch

    try:
        statements = json.loads(policy or b"{}").get("Statement", [])
    except ValueError:
        return False
    account = ELB_LOG_DELIVERY_ACCOUNTS.get(region)
    writers = {f"arn:{partition}:iam::{account}:root", account} if account else set()

    def listed(value):
        return value if isinstance(value, list) else [value]

    for statement in listed(statements):
        principal = statement.get("Principal") or {}
        if not isinstance(principal, dict):  # "*": anyone, ELB included
            principal = {"AWS": principal, "Service": ELB_LOG_DELIVERY_SERVICE}
        services = listed(principal.get("Service", []))
        accounts = set(listed(principal.get("AWS", [])))
        named = accounts & writers or ELB_LOG_DELIVERY_SERVICE in services
        actions = {a.lower() for a in listed(statement.get("Action", []))}
        if (
            statement.get("Effect") == "Allow"
            and named
            and actions & {"s3:putobject", "s3:*", "*"}
            and any(fnmatch.fnmatchcase(key_arn, r) for r in listed(statement.get("Resource", [])))
        ):
            return True
    return False


def patch_alb_access_logs_need_the_bucket_grant() -> None:
    """AWS turns an ALB's access logs on only when ELB can write to the bucket: it puts a test
    object, ELBAccessLogTestFile, under <prefix>/AWSLogs/<account>/, and
    ModifyLoadBalancerAttributes fails with InvalidConfigurationRequest "Access Denied for
    bucket: <bucket>. Please check S3bucket permission" when the bucket policy does not grant
    the Region's ELB log delivery s3:PutObject there, or when the bucket's default encryption is
    SSE-KMS, which ELB does not support (ELB User Guide, "Access logs for your Application Load
    Balancer", "Troubleshoot access logs"). moto accepts any bucket, even none.

    So a bucket policy that drops the ELB grant works on moto and breaks access logs on AWS. Here
    the attribute change is refused as on AWS, and the test object is written when it succeeds.
    """
    from moto.elbv2 import models
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    original = models.ELBv2Backend.modify_load_balancer_attributes

    def modify_load_balancer_attributes(self, arn, attrs):
        balancer = self.load_balancers.get(arn)
        merged = {**(balancer.attrs if balancer is not None else {}), **attrs}
        if balancer is None or merged.get("access_logs.s3.enabled") != "true":
            return original(self, arn, attrs)
        name = merged.get("access_logs.s3.bucket", "")
        prefix = merged.get("access_logs.s3.prefix", "")
        partition = arn.split(":")[1]
        s3 = s3_backends[self.account_id][partition]
        try:
            bucket = s3.get_bucket(name)
        except MissingBucket:
            raise models.RESTError(
                "InvalidConfigurationRequest", f"The specified bucket does not exist: {name}"
            ) from None
        key = f"{prefix + '/' if prefix else ''}AWSLogs/{self.account_id}/ELBAccessLogTestFile"
        rule = (bucket.encryption or {}).get("Rule", {})
        algorithm = rule.get("ApplyServerSideEncryptionByDefault", {})
        if algorithm.get("SSEAlgorithm") not in (None, "AES256") or not _elb_may_write(
            bucket.policy, self.region_name, partition, f"arn:{partition}:s3:::{name}/{key}"
        ):
            raise models.RESTError(
                "InvalidConfigurationRequest",
                f"Access Denied for bucket: {name}. Please check S3bucket permission",
            )
        result = original(self, arn, attrs)
        s3.put_object(name, key, b"Enable AWS ELB access logs\n")
        return result

    models.ELBv2Backend.modify_load_balancer_attributes = modify_load_balancer_attributes


def patch_log_groups_take_a_kms_key_later() -> None:
    """AWS associates a KMS key with an existing log group (AssociateKmsKey) and removes it
    (DisassociateKmsKey); DescribeLogGroups then shows kmsKeyId (CloudWatch Logs API Reference).
    A key that does not exist fails with InvalidParameterException, a group that does not with
    ResourceNotFoundException. moto implements neither action (HTTP 500).

    So encrypting the log groups of a deployed stack (storage_log_kms_key_id set later) fails on
    moto and works on AWS. Here both actions behave as on AWS.
    """
    from moto.kms.models import kms_backends
    from moto.logs import responses
    from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException

    def key_exists(account, region, arn):
        return arn.rsplit("/", 1)[-1] in kms_backends[account][region].keys

    def associate_kms_key(self):
        name, key = self._get_param("logGroupName"), self._get_param("kmsKeyId")
        if name not in self.logs_backend.groups:
            raise ResourceNotFoundException()
        if not key_exists(self.current_account, self.region, key):
            raise InvalidParameterException(f"Specified KMS key {key} does not exist")
        self.logs_backend.groups[name].kms_key_id = key
        return ""

    def disassociate_kms_key(self):
        name = self._get_param("logGroupName")
        if name not in self.logs_backend.groups:
            raise ResourceNotFoundException()
        self.logs_backend.groups[name].kms_key_id = None
        return ""

    responses.LogsResponse.associate_kms_key = associate_kms_key
    responses.LogsResponse.disassociate_kms_key = disassociate_kms_key


def patch_cluster_settings_only_when_asked() -> None:
    """AWS's DescribeClusters leaves a cluster's settings (containerInsights) out unless the
    request asks for them with include=SETTINGS (ECS API Reference, DescribeClusters); moto
    always returns them.

    So a module that reads the setting without include=SETTINGS finds it on moto, and on AWS
    finds none and rewrites it on every run. Here the settings come only when asked for.
    """
    from moto.ecs import responses

    settings_path = "DescribeClustersResponse.clusters.Cluster.settings"
    original = responses.EC2ContainerServiceResponse.describe_clusters

    def describe_clusters(self):
        if "SETTINGS" in (self._get_param("include", []) or []):
            self._include_in_response(settings_path)
        else:
            self._exclude_from_response(settings_path)
        return original(self)

    responses.EC2ContainerServiceResponse.describe_clusters = describe_clusters


# AWS's answer to a versioning write that needs the MFA and has none. The S3 docs say only that
# "the request fails"; AccessDenied with this message is what AWS is reported to answer (not
# found verbatim in AWS's documentation), with HTTP 403.
MFA_REQUIRED = ("AccessDenied", "Mfa Authentication must be used for this request")


def patch_s3_versioning_keeps_mfa_delete() -> None:
    """AWS keeps a bucket's MFA delete in its versioning configuration: PutBucketVersioning sets
    it (MfaDelete), GetBucketVersioning reports it (MFADelete, once it has been set), and a
    request that changes MFA delete, or the versioning state while MFA delete is on, needs the
    x-amz-mfa header (S3 User Guide, "Configuring MFA delete" and "Deleting an object from an MFA
    delete-enabled bucket"). moto ignores MfaDelete, never reports it and wants no MFA.

    So turning MFA delete on looks done on moto and a rerun would plan it again, and a write
    without the MFA passes. Here MFA delete is kept, reported and guarded as on AWS (the code in
    the header is not checked: the emulator has no MFA device).
    """
    from moto.core.responses import ActionResult
    from moto.s3 import responses
    from moto.s3.exceptions import S3ClientError

    response = responses.S3Response
    original_put = response._bucket_response_put

    def _bucket_response_put(self, request, bucket_name, querystring):
        if "versioning" not in (querystring or {}):
            return original_put(self, request, bucket_name, querystring)
        body = self.body.decode("utf-8") if isinstance(self.body, bytes) else self.body or ""
        wanted = re.search(r"<MfaDelete>([A-Za-z]+)</MfaDelete>", body)
        status = re.search(r"<Status>([A-Za-z]+)</Status>", body)
        bucket = self.backend.get_bucket(bucket_name)
        current = getattr(bucket, "mfa_delete", None)
        changes_mfa = wanted and wanted.group(1) != (current or "Disabled")
        changes_status = (
            current == "Enabled" and status and status.group(1) != bucket.versioning_status
        )
        if (changes_mfa or changes_status) and not request.headers.get("x-amz-mfa"):
            raise S3ClientError(*MFA_REQUIRED)
        result = original_put(self, request, bucket_name, querystring)
        if wanted:
            bucket.mfa_delete = wanted.group(1)
        return result

    def get_bucket_versioning(self):
        bucket = self.backend.get_bucket(self.bucket_name)
        result = {"Status": bucket.versioning_status}
        if getattr(bucket, "mfa_delete", None):
            result["MFADelete"] = bucket.mfa_delete
        self.data["Action"] = "GetBucketVersioning"
        return self.serialized(ActionResult(result))

    response._bucket_response_put = _bucket_response_put
    response.get_bucket_versioning = get_bucket_versioning


def patch_s3_object_lock_on_existing_buckets() -> None:
    """AWS enables Object Lock on an existing bucket, empty or not, once its versioning is on
    (PutObjectLockConfiguration with ObjectLockEnabled, since November 2023: S3 User Guide,
    "Enabling Object Lock for existing buckets"); a bucket whose versioning is not Enabled fails
    with InvalidBucketState. moto refuses any bucket that holds an object (InvalidBucket,
    "Bucket needs to be empty"), as AWS did before.

    So the artifacts bucket of a deployed stack (never empty) cannot be locked on moto, and a
    test would check moto's old rule rather than AWS's. Here a non-empty versioned bucket takes it.
    """
    from moto.s3 import models
    from moto.s3.exceptions import InvalidBucketState

    def put_object_lock_configuration(
        self, bucket_name, lock_enabled, mode=None, days=None, years=None
    ):
        bucket = self.get_bucket(bucket_name)
        if not bucket.is_versioned:
            raise InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            )
        if lock_enabled:
            bucket.object_lock_enabled = True
        bucket.default_lock_mode = mode
        bucket.default_lock_days = days
        bucket.default_lock_years = years

    models.S3Backend.put_object_lock_configuration = put_object_lock_configuration


PATCHES = (
    patch_oidc_client_secret_write_only,
    patch_alb_default_attributes,
    patch_alb_deletion_protection,
    patch_cluster_capacity_providers,
    patch_services_run_their_tasks,
    patch_create_service_settings,
    patch_task_definition_latest_active,
    # After patch_services_run_their_tasks, so that patch compares ARNs.
    patch_service_task_definition_arn,
    patch_deleted_rule_forgets_secret,
    patch_ecr_images_from_registry,
    patch_eni_private_dns_name,
    patch_run_tasks_run_to_completion,
    patch_iam_condition_operators,
    patch_ecs_authorises_resource_arns,
    patch_ecs_tags_on_create_need_tag_resource,
    patch_ecs_run_task_passes_its_roles,
    patch_redirect_action_defaults,
    patch_s3_acls_go_off_only_when_private,
    patch_rule_description_updates_return_true,
    patch_new_buckets_have_aws_defaults,
    patch_alb_access_logs_need_the_bucket_grant,
    patch_log_groups_take_a_kms_key_later,
    patch_s3_versioning_keeps_mfa_delete,
    patch_s3_object_lock_on_existing_buckets,
    patch_cluster_settings_only_when_asked,
)


def apply_all() -> list[str]:
    """Check the moto version, apply every patch, return their names."""
    check_version()
    for patch in PATCHES:
        patch()
    return [patch.__name__ for patch in PATCHES]
