"""Fidelity layer: patches moto toward AWS's documented behaviour.

moto is the local stand-in for AWS. Where it differs from AWS in a way that would hide a real bug
in the collection, this module patches it, one function per difference. Each patch has a test in
tests/unit/test_emulator_fidelity.py that shows the AWS behaviour over HTTP.

The patches are written against one moto version; ``check_version`` refuses any other, because a
patch that silently stops applying would make the emulator lie again.
"""

from __future__ import annotations

import copy
import hashlib
import uuid

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
)


def apply_all() -> list[str]:
    """Check the moto version, apply every patch, return their names."""
    check_version()
    for patch in PATCHES:
        patch()
    return [patch.__name__ for patch in PATCHES]
