#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: stack_info
version_added: 0.2.0
short_description: Look up the Asset Manager stack's prerequisites and resources in one pass
description:
  - Reads, by name or tag, everything the collection's roles and playbooks refer to but do not
    create in the same task, in one process and with one behaviour for a part that is not found.
  - The parts are the account, the VPC and its public and private subnets, the ECS cluster, the
    ECR repository, the execution and task roles, the ACM certificate, the public hosted zone, and
    the stack's security groups, load balancer (with its listeners and attributes), target group,
    services and the names of its SSM parameters.
  - A part that does not exist is returned as V(null) and listed in RV(missing), with a message
    in RV(messages); it is an error only when it is named in O(require). Then the module fails
    once, naming every required part that is missing, so an operator sees all of them at once.
  - Makes no change; runs in check mode as it does otherwise.
  - The result is also returned as the fact C(asset_manager_stack), so a play looks the stack up
    once and every role reads the same answer.
options:
  vpc_name:
    description: Value of the C(Name) tag of the VPC; exactly one VPC must carry it.
    type: str
    required: true
  subnet_type_tag:
    description: Tag whose value tells public subnets from private ones.
    type: str
    default: Type
  public_subnet_type:
    description: Value of O(subnet_type_tag) on the public subnets.
    type: str
    default: public
  private_subnet_type:
    description: Value of O(subnet_type_tag) on the private subnets.
    type: str
    default: private
  cluster:
    description: Name of the ECS cluster.
    type: str
  repository:
    description: Name of the ECR repository of the application image.
    type: str
  roles:
    description:
      - IAM role names by purpose, keys such as C(execution) and C(task).
    type: dict
    default: {}
  role_policies:
    description:
      - Inline policy names by role purpose (keys of O(roles)); each policy's document is read
        from its role, for a comparison that costs no call of its own.
    type: dict
    default: {}
  certificate_domain:
    description: Domain name of the ISSUED ACM certificate; exactly one must match.
    type: str
  hosted_zone:
    description: Name of the public Route53 hosted zone; exactly one must match.
    type: str
  host_name:
    description:
      - A name in O(hosted_zone) whose C(A) record to read with the zone (C(host_record)), so that
        the route53 role can leave a record that is already as wanted alone.
    type: str
  security_groups:
    description:
      - Security group names in the VPC by purpose, keys such as C(alb) and C(services).
    type: dict
    default: {}
  load_balancer:
    description: Name of the Application Load Balancer.
    type: str
  target_group:
    description: Name of the target group.
    type: str
  services:
    description:
      - ECS service names in O(cluster) by purpose, keys such as C(web) and C(daemon).
      - For each ACTIVE one, the revision it runs is described too, for the image of each of its
        containers (what a site run keeps when no image is given).
    type: dict
    default: {}
  environment_variables:
    description:
      - Names of container environment variables to report from the revisions the services run
        (for example the one holding the run task definition's ARN). Only these are returned, so
        that no other value of a container's environment reaches the output.
    type: list
    elements: str
    default: []
  image_tag:
    description:
      - A tag of O(repository) to resolve to its image digest (part C(image)), so that a task
        definition names exactly one image.
    type: str
  parameter_path:
    description:
      - An SSM path (such as V(/asset-manager)) whose parameters to list, recursively, by name
        relative to it (part C(parameters)). Names only; no value is read.
    type: str
  require:
    description:
      - Parts that must exist, among C(account), C(vpc), C(subnets), C(cluster), C(repository),
        C(roles), C(certificate), C(hosted_zone), C(security_groups), C(load_balancer),
        C(target_group), C(services), C(image) (the digest of O(image_tag)) and C(parameters)
        (at least one under O(parameter_path)). The module
        fails, naming each missing one.
    type: list
    elements: str
    default: []
  parts:
    description:
      - Read only these parts (and those in O(require)) of the ones the options name (the
        C(account), C(vpc) and C(subnets) need none); a part another is read through is read
        with it (C(cluster) for C(services), C(repository) for C(image), C(vpc) for C(subnets)
        and C(security_groups)). A part left out is neither found nor missing, its keys are
        null, and its service gets no client.
      - Not given, every part the options name is read. A site run restricted by C(--tags) asks
        only for what its roles read.
    type: list
    elements: str
  variables:
    description:
      - For messages only. The inventory variable that names each option, for example
        C(vpc_name=asset_manager_vpc_name), so that a message says what to change.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Look up the stack; fail naming every missing prerequisite
  leverslabs.asset_manager.stack_info:
    vpc_name: fulcrum-vpc
    cluster: asset-manager
    repository: asset-manager
    roles:
      execution: fulcrum-ecs-execution-role
      task: fulcrum-ecs-task-role
    certificate_domain: "*.leverslabs.com"
    hosted_zone: leverslabs.com
    security_groups:
      alb: asset-manager-alb-sg
      services: asset-manager-services-sg
    load_balancer: asset-manager-alb
    target_group: asset-manager-web-tg
    services:
      web: asset-manager-web
      daemon: asset-manager-daemon
    require: [vpc, subnets, cluster, repository, roles, certificate, hosted_zone]

- name: Use what it found
  ansible.builtin.debug:
    msg: "{{ ansible_facts.asset_manager_stack.load_balancer.dns_name | default('none yet') }}"
"""

RETURN = r"""
found:
  description: The parts that exist.
  returned: always
  type: list
  elements: str
  sample: [account, vpc, subnets, cluster]
missing:
  description: The parts that do not exist (or, for the subnets, do not span two zones).
  returned: always
  type: list
  elements: str
  sample: [load_balancer, target_group]
environment_variables:
  description: The O(environment_variables) the services' containers were read for.
  returned: always
  type: list
  elements: str
  sample: [DAGSTER_RUN_TASK_DEFINITION]
messages:
  description: Why each missing part counts as missing, by part.
  returned: always
  type: dict
  sample:
    load_balancer: load balancer 'asset-manager-alb' (variable asset_manager_alb_name) not found
account_id:
  description: The AWS account of the credentials.
  returned: always
  type: str
partition:
  description: The AWS partition, for building ARNs.
  returned: always
  type: str
vpc_id:
  description: The VPC's ID, or null.
  returned: always
  type: str
public_subnet_ids:
  description: Sorted IDs of the public subnets.
  returned: always
  type: list
  elements: str
private_subnet_ids:
  description: Sorted IDs of the private subnets.
  returned: always
  type: list
  elements: str
cluster_arn:
  description: The cluster's ARN, or null.
  returned: always
  type: str
container_insights:
  description:
    - The cluster's C(containerInsights) setting (C(enabled), C(enhanced), C(disabled)), or null.
  returned: always
  type: str
repository:
  description: The ECR repository (C(uri), C(arn), C(scan_on_push), C(tag_immutability)), or null.
  returned: always
  type: dict
roles:
  description: Role ARNs by purpose; a missing role is null.
  returned: always
  type: dict
role_policies:
  description:
    - The document of each inline policy of O(role_policies), by role purpose; null when the
      role or the policy does not exist.
  returned: always
  type: dict
certificate_arn:
  description: The certificate's ARN, or null.
  returned: always
  type: str
hosted_zone_id:
  description: The hosted zone's ID without the C(/hostedzone/) prefix, or null.
  returned: always
  type: str
host_record:
  description:
    - The C(A) record of O(host_name) in the hosted zone, or null (none, or not asked).
    - C(alias_target) holds its alias target (C(dns_name) in lower case without the final dot,
      C(hosted_zone_id), C(evaluate_target_health)), or null; C(other) lists every other field
      the record has (such as C(TTL), C(ResourceRecords) or C(SetIdentifier)), sorted.
  returned: always
  type: dict
  sample:
    alias_target:
      dns_name: asset-manager-alb-1.us-west-1.elb.amazonaws.com
      hosted_zone_id: Z368ELLRRE2KJ0
      evaluate_target_health: false
    other: []
security_groups:
  description: Security group IDs by purpose; a missing group is null.
  returned: always
  type: dict
security_group_rules:
  description:
    - What each security group declares, by purpose (null when missing) - its C(description),
      C(ingress) and C(egress) rules in EC2's C(IpPermissions) shape, and its C(tags).
  returned: always
  type: dict
load_balancer:
  description:
    - The load balancer (C(arn), C(dns_name), C(canonical_hosted_zone_id), C(security_groups),
      C(https_listener_arn), C(http_listener_arn), C(attributes)), or null.
  returned: always
  type: dict
target_group:
  description: The target group (C(arn) and its health check settings), or null.
  returned: always
  type: dict
services:
  description:
    - ACTIVE services by purpose (C(arn), C(task_definition), C(desired_count), C(running_count),
      C(pending_count), C(deployments), and C(containers) of the revision it runs, by name, each
      with its C(image) and the O(environment_variables) it sets); a missing one is null.
  returned: always
  type: dict
parameters:
  description: Sorted names of the SSM parameters under O(parameter_path), relative to it; null if
    not asked.
  returned: always
  type: list
  elements: str
  sample: [AUTH0_CLIENT_ID, DAGSTER_PG_DB]
image:
  description: The O(image_tag) and the C(digest) it names in O(repository); null if not asked or
    not found.
  returned: always
  type: dict
  sample:
    tag: v42
    digest: "sha256:6b773dc8e7b3b007489ebebfa8860288cfed9212f80083b9657fc2bb15463b97"
"""

import concurrent.futures

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    boto3_tag_list_to_ansible_dict,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)

PARTS = (
    "account",
    "vpc",
    "subnets",
    "cluster",
    "repository",
    "roles",
    "certificate",
    "hosted_zone",
    "security_groups",
    "load_balancer",
    "target_group",
    "services",
    "image",
    "parameters",
)
# The parts no option names (vpc_name is required): read unless O(parts) leaves them out.
UNNAMED = ("account", "vpc", "subnets")
# The option that names each other part: not given, the part is not looked for.
OPTIONS = {
    "cluster": "cluster",
    "repository": "repository",
    "roles": "roles",
    "certificate": "certificate_domain",
    "hosted_zone": "hosted_zone",
    "security_groups": "security_groups",
    "load_balancer": "load_balancer",
    "target_group": "target_group",
    "services": "services",
    "image": "image_tag",
    "parameters": "parameter_path",
}
# A part read through another: the services in the cluster, the image in the repository, the
# subnets and security groups in the VPC.
NEEDS = {"services": "cluster", "image": "repository", "subnets": "vpc", "security_groups": "vpc"}


class Lookup:
    """One pass over the stack; every reader returns None (and records why) for a missing part."""

    def __init__(self, module, wanted=None):
        self.module = module
        self.params = module.params
        # The parts to read (None: all); the readers' options say which ones have names.
        self.wanted = wanted
        self.messages = {}
        self._clients = {}

    def asks(self, part):
        """Whether to read ``part``: wanted, and named by its option (the unnamed ones need none).
        The one rule: a part not asked is neither found nor missing."""
        wanted = self.wanted is None or part in self.wanted
        return wanted and (part in UNNAMED or bool(self.params[OPTIONS[part]]))

    def client(self, name):
        if name not in self._clients:
            self._clients[name] = self.module.client(
                name, retry_decorator=AWSRetry.jittered_backoff()
            )
        return self._clients[name]

    def named(self, option, quote=False):
        """The option's value, plus the inventory variable that sets it, for messages."""
        variable = self.params["variables"].get(option)
        value = f"'{self.params[option]}'" if quote else self.params[option]
        return f"{value}" + (f" (variable {variable})" if variable else "")

    def miss(self, part, message):
        self.messages[part] = message
        return None

    def fail(self, error, what):
        self.module.fail_json_aws(error, msg=f"Failed to look up {what}")


def read_account(lookup):
    identity = lookup.client("sts").get_caller_identity(aws_retry=True)
    return identity["Account"], identity["Arn"].split(":")[1]


def read_vpc(lookup):
    vpcs = lookup.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:Name", "Values": [lookup.params["vpc_name"]]}], aws_retry=True
    )["Vpcs"]
    if len(vpcs) != 1:
        return lookup.miss(
            "vpc",
            f"Found {len(vpcs)} VPCs tagged Name={lookup.named('vpc_name')}; expected exactly one.",
        )
    return vpcs[0]["VpcId"]


def split_subnets(subnets, tag, public_type, private_type):
    """(public, private) subnets by the value of ``tag``, each as a sorted list of IDs and zones."""
    result = {public_type: [], private_type: []}
    for subnet in subnets:
        tags = {item["Key"]: item["Value"] for item in subnet.get("Tags") or []}
        if tags.get(tag) in result:
            result[tags[tag]].append((subnet["SubnetId"], subnet["AvailabilityZone"]))
    return sorted(result[public_type]), sorted(result[private_type])


def read_subnets(lookup, vpc_id):
    params = lookup.params
    tag = params["subnet_type_tag"]
    subnets = lookup.client("ec2").describe_subnets(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {
                "Name": f"tag:{tag}",
                "Values": [params["public_subnet_type"], params["private_subnet_type"]],
            },
        ],
        aws_retry=True,
    )["Subnets"]
    public, private = split_subnets(
        subnets, tag, params["public_subnet_type"], params["private_subnet_type"]
    )
    zones = {
        kind: sorted({zone for _id, zone in found})
        for kind, found in (("public", public), ("private", private))
    }
    if len(zones["public"]) < 2 or len(zones["private"]) < 2:
        lookup.miss(
            "subnets",
            f"VPC {params['vpc_name']} needs subnets tagged {tag}={params['public_subnet_type']} "
            "and "
            f"{tag}={params['private_subnet_type']} in at least two availability zones each "
            f"(variables {lookup.params['variables'].get('subnet_type_tag', 'subnet_type_tag')}, "
            f"{lookup.params['variables'].get('public_subnet_type', 'public_subnet_type')}, "
            f"{lookup.params['variables'].get('private_subnet_type', 'private_subnet_type')}); "
            f"found public ones in {zones['public']} and private ones in {zones['private']}.",
        )
    return [i for i, _z in public], [i for i, _z in private]


def read_cluster(lookup):
    """(ARN, containerInsights setting) of the ACTIVE cluster; (None, None) when missing."""
    # With include=SETTINGS (else AWS leaves them out), for the alarms role's comparison.
    clusters = lookup.client("ecs").describe_clusters(
        clusters=[lookup.params["cluster"]], include=["SETTINGS"], aws_retry=True
    )["clusters"]
    active = [c for c in clusters if c.get("status") == "ACTIVE"]
    if not active:
        lookup.miss("cluster", f"ECS cluster {lookup.named('cluster')} not found or not ACTIVE.")
        return None, None
    settings = {s.get("name"): s.get("value") for s in active[0].get("settings") or []}
    return active[0]["clusterArn"], settings.get("containerInsights")


def read_repository(lookup):
    try:
        repos = lookup.client("ecr").describe_repositories(
            repositoryNames=[lookup.params["repository"]], aws_retry=True
        )["repositories"]
    except is_boto3_error_code("RepositoryNotFoundException"):
        repos = []
    if not repos:
        return lookup.miss("repository", f"ECR repository {lookup.named('repository')} not found.")
    repo = repos[0]
    return {
        "arn": repo["repositoryArn"],
        "uri": repo["repositoryUri"],
        "scan_on_push": bool((repo.get("imageScanningConfiguration") or {}).get("scanOnPush")),
        "tag_immutability": repo.get("imageTagMutability", "MUTABLE") != "MUTABLE",
    }


def read_image(lookup):
    """The digest that the repository's O(image_tag) names now, as ECR's DescribeImages says."""
    params = lookup.params
    tag = params["image_tag"]
    try:
        details = lookup.client("ecr").describe_images(
            repositoryName=params["repository"], imageIds=[{"imageTag": tag}], aws_retry=True
        )["imageDetails"]
    except is_boto3_error_code(("ImageNotFoundException", "RepositoryNotFoundException")):
        details = []
    if not details:
        return lookup.miss(
            "image",
            f"Image tag {lookup.named('image_tag', quote=True)} not found in ECR repository "
            f"{params['repository']}; push it first (playbooks/release.yml builds and pushes).",
        )
    return {"tag": tag, "digest": details[0]["imageDigest"]}


def _repository(lookup, stack):
    stack["repository"] = read_repository(lookup) if lookup.asks("repository") else None
    stack["image"] = None
    if not lookup.asks("image"):
        return
    if stack["repository"]:
        stack["image"] = read_image(lookup)
    else:
        lookup.miss("image", "No image: the ECR repository was not found.")


def read_roles(lookup):
    arns, missing = {}, []
    for purpose, name in sorted(lookup.params["roles"].items()):
        try:
            arns[purpose] = lookup.client("iam").get_role(RoleName=name, aws_retry=True)["Role"][
                "Arn"
            ]
        except is_boto3_error_code("NoSuchEntity"):
            arns[purpose] = None
            missing.append(f"{purpose} role '{name}'")
    if missing:
        variables = ", ".join(
            lookup.params["variables"].get(f"roles.{p}", p) for p in sorted(arns) if arns[p] is None
        )
        lookup.miss("roles", f"IAM {', '.join(missing)} not found (variables {variables}).")
    return arns


def read_certificate(lookup):
    domain = lookup.params["certificate_domain"]
    paginator = lookup.client("acm").get_paginator("list_certificates")
    summaries = paginator.paginate(CertificateStatuses=["ISSUED"]).build_full_result()
    arns = [
        c["CertificateArn"]
        for c in summaries.get("CertificateSummaryList", [])
        if c.get("DomainName") == domain
    ]
    if len(arns) != 1:
        return lookup.miss(
            "certificate",
            f"Found {len(arns)} ISSUED ACM certificates for {lookup.named('certificate_domain')} "
            f"in {lookup.module.region}; expected exactly one"
            + (": " + ", ".join(arns) if arns else "")
            + ".",
        )
    return arns[0]


def public_zone_ids(zones, domain):
    """IDs of the public zones named exactly ``domain`` (with or without its final dot)."""
    name = domain.rstrip(".") + "."
    return [
        zone["Id"].split("/")[-1]
        for zone in zones
        if zone.get("Name") == name and not (zone.get("Config") or {}).get("PrivateZone")
    ]


def read_hosted_zone(lookup):
    domain = lookup.params["hosted_zone"]
    zones = lookup.client("route53").list_hosted_zones_by_name(DNSName=domain, aws_retry=True)
    ids = public_zone_ids(zones.get("HostedZones", []), domain)
    if len(ids) != 1:
        return lookup.miss(
            "hosted_zone",
            f"Found {len(ids)} public Route53 hosted zones named {lookup.named('hosted_zone')}; "
            "expected exactly one.",
        )
    return ids[0]


def host_record(record_sets, name):
    """The ``A`` record named ``name`` among ``record_sets`` (as ListResourceRecordSets gives
    them, from that name on), in the shape of RETURN's host_record; None when there is none."""
    wanted = name.rstrip(".").lower() + "."
    for record in record_sets:
        if record.get("Name", "").lower() == wanted and record.get("Type") == "A":
            alias = record.get("AliasTarget")
            return {
                "alias_target": alias
                and {
                    "dns_name": alias.get("DNSName", "").rstrip(".").lower(),
                    "hosted_zone_id": alias.get("HostedZoneId"),
                    "evaluate_target_health": alias.get("EvaluateTargetHealth"),
                },
                "other": sorted(set(record) - {"Name", "Type", "AliasTarget"}),
            }
    return None


def read_host_record(lookup, zone_id):
    # Records are listed in name order from StartRecordName: the first answers hold it, if any.
    record_sets = lookup.client("route53").list_resource_record_sets(
        HostedZoneId=zone_id,
        StartRecordName=lookup.params["host_name"],
        StartRecordType="A",
        MaxItems="2",
        aws_retry=True,
    )["ResourceRecordSets"]
    return host_record(record_sets, lookup.params["host_name"])


def read_security_groups(lookup, vpc_id):
    wanted = lookup.params["security_groups"]
    groups = lookup.client("ec2").describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": sorted(wanted.values())},
        ],
        aws_retry=True,
    )["SecurityGroups"]
    by_name = {group["GroupName"]: group for group in groups}
    result = {purpose: by_name.get(name) for purpose, name in wanted.items()}
    absent = sorted(name for name in wanted.values() if name not in by_name)
    if absent:
        lookup.miss(
            "security_groups",
            f"Security group(s) {', '.join(absent)} not found in VPC {lookup.params['vpc_name']}; "
            "the network_security role creates them (--tags network_security).",
        )
    return (
        {purpose: group and group["GroupId"] for purpose, group in result.items()},
        {purpose: group and group_rules(group) for purpose, group in result.items()},
    )


def group_rules(group):
    """What a security group declares, as DescribeSecurityGroups gives it: the rules in EC2's
    shape, for a comparison with the wanted rules that costs no call."""
    return {
        "description": group.get("Description"),
        "ingress": group.get("IpPermissions") or [],
        "egress": group.get("IpPermissionsEgress") or [],
        "tags": boto3_tag_list_to_ansible_dict(group.get("Tags") or []),
    }


def read_load_balancer(lookup):
    elbv2 = lookup.client("elbv2")
    try:
        balancers = elbv2.describe_load_balancers(
            Names=[lookup.params["load_balancer"]], aws_retry=True
        )["LoadBalancers"]
    except is_boto3_error_code("LoadBalancerNotFound"):
        balancers = []
    if not balancers:
        return lookup.miss(
            "load_balancer",
            f"Load balancer {lookup.named('load_balancer')} not found; the alb_oidc role creates "
            "it (--tags alb_oidc).",
        )
    balancer = balancers[0]
    arn = balancer["LoadBalancerArn"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=arn, aws_retry=True)["Listeners"]
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn, aws_retry=True)
    by_port = {listener["Port"]: listener["ListenerArn"] for listener in listeners}
    return {
        "arn": arn,
        "dns_name": balancer["DNSName"],
        "canonical_hosted_zone_id": balancer["CanonicalHostedZoneId"],
        "security_groups": sorted(balancer.get("SecurityGroups") or []),
        "https_listener_arn": by_port.get(443),
        "http_listener_arn": by_port.get(80),
        "attributes": {a["Key"]: a["Value"] for a in attributes.get("Attributes", [])},
    }


def read_target_group(lookup):
    try:
        groups = lookup.client("elbv2").describe_target_groups(
            Names=[lookup.params["target_group"]], aws_retry=True
        )["TargetGroups"]
    except is_boto3_error_code("TargetGroupNotFound"):
        groups = []
    if not groups:
        return lookup.miss(
            "target_group",
            f"Target group {lookup.named('target_group')} not found; the alb_oidc role creates it "
            "(--tags alb_oidc).",
        )
    group = groups[0]
    keys = ("Port", "Protocol", "TargetType", "HealthCheckPath", "HealthCheckIntervalSeconds")
    return {"arn": group["TargetGroupArn"], **{k: group.get(k) for k in keys}}


def read_services(lookup):
    wanted = lookup.params["services"]
    described = lookup.client("ecs").describe_services(
        cluster=lookup.params["cluster"], services=sorted(wanted.values()), aws_retry=True
    )["services"]
    active = {s["serviceName"]: s for s in described if s.get("status") == "ACTIVE"}
    result = {}
    for purpose, name in wanted.items():
        service = active.get(name)
        result[purpose] = service and {
            "arn": service["serviceArn"],
            "task_definition": service["taskDefinition"],
            "containers": read_containers(lookup, service["taskDefinition"]),
            "desired_count": service.get("desiredCount"),
            "running_count": service.get("runningCount"),
            "pending_count": service.get("pendingCount"),
            "deployments": [
                {
                    "id": d.get("id"),
                    "status": d.get("status"),
                    "rollout_state": d.get("rolloutState"),
                }
                for d in service.get("deployments") or []
            ],
        }
    absent = sorted(name for name in wanted.values() if name not in active)
    if absent:
        lookup.miss(
            "services",
            f"Service(s) {', '.join(absent)} not ACTIVE in cluster {lookup.params['cluster']}; the "
            "ecs_services role creates them (--tags ecs_services).",
        )
    return result


def running_containers(container_definitions, variables):
    """{container name: {image, environment}} of a revision, environment cut to ``variables``."""
    wanted = set(variables)
    return {
        container["name"]: {
            "image": container.get("image"),
            "environment": {
                item["name"]: item.get("value")
                for item in container.get("environment") or []
                if item.get("name") in wanted
            },
        }
        for container in container_definitions
    }


def read_containers(lookup, task_definition_arn):
    definition = lookup.client("ecs").describe_task_definition(
        taskDefinition=task_definition_arn, aws_retry=True
    )["taskDefinition"]
    return running_containers(
        definition.get("containerDefinitions") or [], lookup.params["environment_variables"]
    )


def _network(lookup, stack):
    params = lookup.params
    stack["vpc_id"] = read_vpc(lookup) if lookup.asks("vpc") else None
    stack["public_subnet_ids"], stack["private_subnet_ids"] = [], []
    stack["security_groups"] = {purpose: None for purpose in params["security_groups"]}
    stack["security_group_rules"] = dict(stack["security_groups"])
    groups = lookup.asks("security_groups")
    if not lookup.asks("vpc"):
        return
    if not stack["vpc_id"]:
        if lookup.asks("subnets"):
            lookup.miss("subnets", "No subnets: the VPC was not found.")
        if groups:
            lookup.miss("security_groups", "No security groups: the VPC was not found.")
        return
    if lookup.asks("subnets"):
        stack["public_subnet_ids"], stack["private_subnet_ids"] = read_subnets(
            lookup, stack["vpc_id"]
        )
    if groups:
        stack["security_groups"], stack["security_group_rules"] = read_security_groups(
            lookup, stack["vpc_id"]
        )


def _cluster(lookup, stack):
    params = lookup.params
    stack["cluster_arn"], stack["container_insights"] = (
        read_cluster(lookup) if lookup.asks("cluster") else (None, None)
    )
    stack["services"] = {purpose: None for purpose in params["services"]}
    if not lookup.asks("services"):
        return
    if stack["cluster_arn"]:
        stack["services"] = read_services(lookup)
    else:
        lookup.miss("services", "No services: the cluster was not found.")


def _account(lookup, stack):
    asked = lookup.asks("account")
    stack["account_id"], stack["partition"] = read_account(lookup) if asked else (None, None)


def read_role_policies(lookup, arns):
    """The documents of the inline policies asked for, by role purpose (None when missing)."""
    documents = {}
    for purpose, policy in sorted(lookup.params["role_policies"].items()):
        name = lookup.params["roles"].get(purpose)
        documents[purpose] = None
        if not name or not arns.get(purpose):
            continue
        try:
            documents[purpose] = lookup.client("iam").get_role_policy(
                RoleName=name, PolicyName=policy, aws_retry=True
            )["PolicyDocument"]
        except is_boto3_error_code("NoSuchEntity"):
            pass
    return documents


def _roles(lookup, stack):
    if not lookup.asks("roles"):
        stack["roles"] = {purpose: None for purpose in lookup.params["roles"]}
        stack["role_policies"] = {purpose: None for purpose in lookup.params["role_policies"]}
        return
    stack["roles"] = read_roles(lookup)
    stack["role_policies"] = read_role_policies(lookup, stack["roles"])


def read_parameter_names(lookup):
    """Names under parameter_path, relative to it: DescribeParameters reads no value."""
    path = lookup.params["parameter_path"].rstrip("/")
    pages = (
        lookup.client("ssm")
        .get_paginator("describe_parameters")
        .paginate(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [path]}])
    )
    names = sorted(p["Name"][len(path) + 1 :] for page in pages for p in page["Parameters"])
    if not names:
        return lookup.miss(
            "parameters", f"No SSM parameters under {lookup.named('parameter_path')}."
        )
    return names


def _single(key, part, reader):
    def read(lookup, stack):
        stack[key] = reader(lookup) if lookup.asks(part) else None

    return read


def _zone(lookup, stack):
    _single("hosted_zone_id", "hosted_zone", read_hosted_zone)(lookup, stack)
    stack["host_record"] = None
    if stack["hosted_zone_id"] and lookup.params["host_name"]:
        stack["host_record"] = read_host_record(lookup, stack["hosted_zone_id"])


def _balancing(lookup, stack):
    # One chain per client: the calls of one client come in a known order.
    _single("load_balancer", "load_balancer", read_load_balancer)(lookup, stack)
    _single("target_group", "target_group", read_target_group)(lookup, stack)


# Independent chains of reads, each one client's, with the parts it reads; a chain's later reads
# need its first answer (the VPC, the cluster, the repository).
CHAINS = (
    ("sts", ("account",), _account),
    ("ec2", ("vpc", "subnets", "security_groups"), _network),
    ("ecs", ("cluster", "services"), _cluster),
    ("iam", ("roles",), _roles),
    ("ecr", ("repository", "image"), _repository),
    ("acm", ("certificate",), _single("certificate_arn", "certificate", read_certificate)),
    ("route53", ("hosted_zone",), _zone),
    ("elbv2", ("load_balancer", "target_group"), _balancing),
    ("ssm", ("parameters",), _single("parameters", "parameters", read_parameter_names)),
)


def look_up(lookup):
    """Every part the options name; missing ones are None, with a message in lookup.messages.

    The chains run side by side: each is a few round trips, and one after the other they would
    add up to most of the module's time. Clients are made first, in this thread (creating them is
    not thread-safe; using them is).
    """
    asked = asked_parts(lookup)
    for service, parts, _chain in CHAINS:
        if asked.intersection(parts):
            lookup.client(service)
    stack = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(CHAINS)) as pool:
        futures = [pool.submit(chain, lookup, stack) for _service, _parts, chain in CHAINS]
    for future in futures:
        future.result()  # re-raises a chain's AWS error here
    return stack


def wanted_parts(params):
    """The parts to read, from O(parts) and O(require) with what they need; None: all."""
    if params["parts"] is None:
        return None
    wanted = {*params["parts"], *params["require"]}
    return wanted | {NEEDS[part] for part in wanted if part in NEEDS}


def asked_parts(lookup):
    """The parts this lookup reads (Lookup.asks): each is then found or missing."""
    return {part for part in PARTS if lookup.asks(part)}


def main():
    argument_spec = dict(
        vpc_name=dict(type="str", required=True),
        subnet_type_tag=dict(type="str", default="Type"),
        public_subnet_type=dict(type="str", default="public"),
        private_subnet_type=dict(type="str", default="private"),
        cluster=dict(type="str"),
        repository=dict(type="str"),
        roles=dict(type="dict", default={}),
        role_policies=dict(type="dict", default={}),
        certificate_domain=dict(type="str"),
        hosted_zone=dict(type="str"),
        host_name=dict(type="str"),
        security_groups=dict(type="dict", default={}),
        load_balancer=dict(type="str"),
        target_group=dict(type="str"),
        services=dict(type="dict", default={}),
        environment_variables=dict(type="list", elements="str", default=[]),
        image_tag=dict(type="str"),
        parameter_path=dict(type="str"),
        require=dict(type="list", elements="str", default=[]),
        parts=dict(type="list", elements="str"),
        variables=dict(type="dict", default={}),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    for option in ("require", "parts"):
        unknown = sorted(set(module.params[option] or []) - set(PARTS))
        if unknown:
            names, known = ", ".join(unknown), ", ".join(PARTS)
            module.fail_json(msg=f"{option} names unknown part(s) {names}; known: {known}")

    lookup = Lookup(module, wanted_parts(module.params))
    try:
        stack = look_up(lookup)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        lookup.fail(e, "the stack")
    asked = asked_parts(lookup)
    missing = sorted(part for part in asked if part in lookup.messages)
    found = sorted(asked - set(missing))
    stack.update(
        found=found,
        missing=missing,
        messages=lookup.messages,
        environment_variables=module.params["environment_variables"],
    )
    required_missing = [part for part in module.params["require"] if part in missing]
    if required_missing:
        module.fail_json(
            msg="Missing, before any change: "
            + " ".join(lookup.messages[part] for part in required_missing),
            **stack,
        )
    module.exit_json(changed=False, ansible_facts={"asset_manager_stack": stack}, **stack)


if __name__ == "__main__":
    main()
