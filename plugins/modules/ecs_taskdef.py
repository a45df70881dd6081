#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_taskdef
version_added: 0.1.0
short_description: Render an ECS task definition and register it only when it changed
description:
  - Renders an ECS task definition in memory from the application's JSON (as taken by
    RegisterTaskDefinition), substitutes placeholders, sets the image, merges the environment and
    secrets of C(env.json), and registers a new revision of O(family) only when the whole
    normalised definition, or its tags, differ from the family's latest C(ACTIVE) revision.
  - Unlike M(community.aws.ecs_taskdefinition), every field is compared, so a change of task
    C(cpu) or C(memory) registers a new revision.
  - Both sides are normalised before they are compared, filling in what AWS fills in on register
    (container C(essential=true) and C(cpu=0), port mappings C(protocol=tcp) and a C(hostPort)
    equal to the container port under C(awsvpc), health check interval/timeout/retries, empty
    C(environment)/C(mountPoints)/C(volumesFrom) lists, mount points C(readOnly=false), task
    C(networkMode=bridge)), dropping the defaults C(readonlyRootFilesystem=false) and volume
    C(configuredAtLaunch=false) that a described revision may state, turning task
    cpu/memory into strings (C(1 vCPU) is C(1024), C(2 GB) is C(2048)), sorting what ECS treats as
    unordered (containers, environment and secrets by name, C(requiresCompatibilities), volumes),
    dropping empty values and the read-only fields of a described revision.
  - Source data is never modified; the rendered definition is new data.
  - When only the tags differ (O(tags)), the latest revision is re-tagged in place; no new
    revision is registered.
  - O(state=absent) deregisters every C(ACTIVE) revision of the family.
  - Every rule of the input lives in the module, once; a role passes variables. It reads and
    parses the definition and C(env.json) itself (O(definition_file), O(env_file_path)), sets the
    application O(container)'s image, environment, log configuration and extra O(environment),
    and overrides the task O(cpu) and O(memory).
  - O(validate_only=true) renders and validates without any AWS call (no client is created), for
    a playbook's pre-flight.
options:
  family:
    description:
      - The task definition family to register or deregister.
      - Overrides any C(family) in O(definition), so that names come from the inventory only.
    type: str
    required: true
  state:
    description:
      - V(present) registers a new revision when the rendered definition differs from the latest
        C(ACTIVE) revision.
      - V(absent) deregisters every C(ACTIVE) revision of O(family).
    type: str
    choices: [present, absent]
    default: present
  definition:
    description:
      - The task definition in RegisterTaskDefinition's camelCase JSON, for example the content
        of the application's C(deployment/ecs/web-task-definition.json).
      - Must have a non-empty C(containerDefinitions) list of named containers.
      - Every field must be one RegisterTaskDefinition accepts (checked before any AWS call).
      - A C(tags) list of C({key, value}) in it is merged under O(tags).
      - O(state=present) needs this or O(definition_file).
    type: dict
  definition_file:
    description:
      - Path of a JSON file holding the definition (as O(definition)), read and parsed by the
        module on the host it runs on (the control node with C(connection=local)). The file is
        never modified.
      - A missing file, or one that is not JSON, fails naming the file (and, for JSON, the line
        and column of the error); messages about its content name the file too.
    type: path
  container:
    description:
      - The application container, which must be in the definition (after placeholders).
      - O(image_containers) and O(env_containers) default to it, and it receives
        O(log_configuration) (or O(log_group)) and O(environment).
    type: str
  placeholders:
    description:
      - Values substituted in memory for C($name) and C(${name}) in every string (keys and
        values) of the definition and of C(env.json) (O(definition) or O(definition_file),
        O(env_file) or O(env_file_path)).
      - A placeholder is C($) followed by a lowercase name (lowercase letters, digits and
        underscores, starting with a letter or underscore). The name is taken greedily, as in a
        shell or Python's C(string.Template), so C($app_web) is the name C(app_web); write
        C(${app}_web) to end a name early. C($$) is a literal C($).
      - Names with an uppercase letter, such as C($PORT), C(${HOME}) or C($appName), are the
        container's own variables and are left as they are.
      - A lowercase placeholder left without a value fails the task, naming it and where it is.
      - After substitution, a C(containerPort) or C(hostPort) that is a string of digits (for
        example C("$web_port")) becomes a number, as AWS requires.
    type: dict
    default: {}
  image:
    description:
      - The image of the containers named in O(image_containers).
    type: str
  image_containers:
    description:
      - The containers whose image is set to O(image). Default is O(container), or every
        container without it.
      - Naming a container that is not in the definition fails.
    type: list
    elements: str
  env_file:
    description:
      - 'The content of C(env.json): a dictionary with an C(environment) list of C(name)/C(value)
        dictionaries and a C(secrets) list of C(name)/C(valueFrom) dictionaries; both optional.'
      - Merged into every container named in O(env_containers). An entry here replaces a
        container's entry of the same name; the results are sorted by name.
      - A variable that ends up both in C(environment) and in C(secrets) of a container fails the
        task, naming it.
      - Secrets are references (SSM parameter names or ARNs, Secrets Manager ARNs), never values.
    type: dict
  env_file_path:
    description:
      - Path of the C(env.json) file (content as O(env_file)), read and parsed by the module;
        never modified. A missing file or bad JSON fails naming the file.
    type: path
  env_containers:
    description:
      - The containers O(env_file) is merged into. Default is O(container), or every container
        without it.
      - Naming a container that is not in the definition fails.
    type: list
    elements: str
  ssm_parameter_arn_prefix:
    description:
      - For example C(arn:aws:ssm:us-west-1:123456789012:parameter/asset-manager).
      - A secret C(valueFrom) of any container that is not an ARN is taken as an SSM parameter
        name and replaced by this prefix, C(/) and the name without its leading C(/).
    type: str
  execution_role_arn:
    description:
      - The task execution role; overrides C(executionRoleArn) of O(definition).
    type: str
  task_role_arn:
    description:
      - The task role; overrides C(taskRoleArn) of O(definition).
    type: str
  cpu:
    description:
      - The task's CPU units (C(1024), or C(1 vCPU)); overrides C(cpu) of the definition.
    type: raw
  memory:
    description:
      - The task's memory in MiB (C(2048), or C(2 GB)); overrides C(memory) of the definition.
      - With C(FARGATE) in the definition's C(requiresCompatibilities), the pair must be one of
        Fargate's task sizes (for example cpu C(256) allows memory C(512), C(1024) or C(2048));
        any other pair is refused before any AWS call.
    type: raw
  log_configuration:
    description:
      - The C(logConfiguration) of O(container) (camelCase, with C(logDriver)); replaces the
        definition's.
      - Mutually exclusive with O(log_group).
    type: dict
  log_group:
    description:
      - Send O(container)'s output to this CloudWatch log group with the C(awslogs) driver, in the
        module's O(region); replaces the definition's C(logConfiguration).
    type: str
  log_stream_prefix:
    description:
      - The C(awslogs-stream-prefix) with O(log_group).
    type: str
  log_mode:
    description:
      - How O(container) delivers its output to the log driver, set as the C(mode) option of its
        log configuration (O(log_group), O(log_configuration) or the definition's own).
      - V(non-blocking) buffers the output and drops what exceeds O(log_max_buffer_size) while the
        driver cannot deliver, so that a CloudWatch outage never stalls the container;
        V(blocking) makes each write wait.
      - One of V(blocking) and V(non-blocking); anything else is refused before any AWS call.
    type: str
  log_max_buffer_size:
    description:
      - The C(max-buffer-size) option of O(container)'s log configuration, in Docker's size
        syntax (V(25m), V(4MB)).
      - Only with O(log_mode=non-blocking); Docker refuses it otherwise, so the module refuses it
        before any AWS call.
    type: str
  readonly_root_filesystem:
    description:
      - Set C(readonlyRootFilesystem) of O(container) to this value. Not given, the definition's
        own setting is kept.
      - When true, O(container) gets a writable task-local volume at each of O(writable_paths).
    type: bool
  writable_paths:
    description:
      - The directories O(container) may write to when O(readonly_root_filesystem=true); ignored
        otherwise.
      - Each becomes a task volume without C(host) (a bind mount; on Fargate, on the task's
        ephemeral storage), named C(writable-) and the path, mounted read-write at that path.
      - A path is absolute, or starts with C($NAME/) (or C(${NAME}/)) for a path under the value
        of O(container)'s plain variable C(NAME) after C(env.json) and O(environment) are merged,
        for example C($DAGSTER_HOME/storage). A variable the container does not set, a value that
        is not absolute, a relative path or C(/) are refused before any AWS call.
      - A path the container already mounts keeps the definition's own mount point.
    type: list
    elements: str
    default: []
  environment:
    description:
      - Extra plain variables of O(container), as a dictionary of name and value, merged last,
        so one replaces an entry of the same name from the definition or C(env.json). Values are
        taken as they are (no placeholders) and become strings.
      - 'For example C({DAGSTER_RUN_TASK_DEFINITION: <run family:revision ARN>}).'
      - A name that is also a secret of the container fails the task.
    type: dict
  reuse:
    description:
      - ARNs of revisions to keep using when their definition equals the rendered one, although a
        later revision exists (for example the revision a service runs after a rollback), so that
        no identical revision is registered.
      - Ignored when the latest C(ACTIVE) revision was registered outside this module
        (RV(drift)); then the rendered definition is registered again, as the latest revision.
    type: list
    elements: str
    default: []
  known_parameters:
    description:
      - The SSM parameter names (relative to O(ssm_parameter_arn_prefix)) that exist or will
        exist. A secret whose C(valueFrom) is neither one of them nor an ARN is refused before
        any AWS call, since ECS could never start the task (C(ResourceInitializationError)).
      - Not given, C(valueFrom) is not checked.
    type: list
    elements: str
  variables:
    description:
      - For messages, the caller's name of O(cpu), O(memory), O(known_parameters), O(log_mode),
        O(log_max_buffer_size) and O(writable_paths), for example C(cpu=ecs_taskdefs_web_cpu), so
        that a refusal names the variable to fix.
    type: dict
    default: {}
  validate_only:
    description:
      - Read, render and validate the definition exactly as O(state=present) would, then exit
        with C(changed=false) and the normalised RV(task_definition), without creating an AWS
        client or making any call. Nothing is compared or registered.
      - Field names are checked against botocore's own model of RegisterTaskDefinition.
      - For the pre-flight of a playbook; placeholders that need AWS (the account) can be given
        stand-in values. Works in check mode too.
    type: bool
    default: false
notes:
  - The latest C(ACTIVE) revision is found with ListTaskDefinitions (C(status=ACTIVE),
    C(sort=DESC)) and described by its ARN with its tags.
  - When O(tags) is not set, a new revision keeps the tags of the previous one.
  - Each revision it registers carries the tag C(leverslabs.asset_manager:sha256), the digest of
    its normalised definition. A latest revision without it, or whose definition no longer has
    that digest, was registered by someone else; it is reported as RV(drift), with a warning, and
    replaced by a new revision of the rendered definition.
  - In check mode nothing is written; RV(revision) and RV(arn) are the predicted next revision.
  - Every refusal of bad input happens before any AWS call and says that nothing was written.
  - Diff mode returns the normalised definitions, with their tags, before and after.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Register the web task definition when it changed
  leverslabs.asset_manager.ecs_taskdef:
    family: asset_manager-web-task
    definition_file: deployment/ecs/web-task-definition.json
    env_file_path: deployment/ecs/env.json
    container: asset-manager-web
    placeholders:
      account: "123456789012"
      region: us-west-1
      app: asset_manager
      env: prod
    image: 123456789012.dkr.ecr.us-west-1.amazonaws.com/asset-manager:latest
    cpu: "1024"
    memory: "2048"
    log_group: fulcrum/asset-manager/web
    log_stream_prefix: web
    environment:
      DAGSTER_RUN_TASK_DEFINITION: "{{ run_taskdef.arn }}"
    ssm_parameter_arn_prefix: arn:aws:ssm:us-west-1:123456789012:parameter/asset-manager
    execution_role_arn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
    task_role_arn: arn:aws:iam::123456789012:role/asset-manager-task
    tags:
      app: asset_manager
  register: web_taskdef

- name: Show the revision services should run
  ansible.builtin.debug:
    msg: "{{ web_taskdef.family }}:{{ web_taskdef.revision }}"

- name: Set the image of one container only, and merge env.json into it only
  leverslabs.asset_manager.ecs_taskdef:
    family: asset-manager-run
    definition:
      requiresCompatibilities: [FARGATE]
      networkMode: awsvpc
      cpu: "1 vCPU"
      memory: "2 GB"
      containerDefinitions:
        - name: asset-manager-run
          image: placeholder
          logConfiguration:
            logDriver: awslogs
            options:
              awslogs-group: /ecs/$app/runs
              awslogs-region: $region
              awslogs-stream-prefix: run
        - name: log-router
          image: public.ecr.aws/aws-observability/aws-for-fluent-bit:stable
          essential: false
    placeholders:
      app: asset_manager
      region: us-west-1
    image: 123456789012.dkr.ecr.us-west-1.amazonaws.com/asset-manager:1.4.2
    image_containers: [asset-manager-run]
    env_file:
      environment:
        - name: DAGSTER_HOME
          value: /opt/dagster/dagster_home
      secrets:
        - name: DAGSTER_PG_PASSWORD
          valueFrom: /prod/postgres_password
    env_containers: [asset-manager-run]
    ssm_parameter_arn_prefix: arn:aws:ssm:us-west-1:123456789012:parameter/asset-manager

- name: Check the inputs before any AWS call (pre-flight), registering nothing
  leverslabs.asset_manager.ecs_taskdef:
    validate_only: true
    family: asset_manager-web-task
    definition_file: deployment/ecs/web-task-definition.json
    env_file_path: deployment/ecs/env.json
    container: asset-manager-web
    placeholders:
      account: "000000000000"  # a stand-in: the account is not known without an AWS call
      region: us-west-1
      app: asset_manager
      env: prod
    log_group: fulcrum/asset-manager/web

- name: Deregister every active revision of a family
  leverslabs.asset_manager.ecs_taskdef:
    family: asset_manager-web-task
    state: absent
"""

RETURN = r"""
family:
  description: The task definition family.
  returned: always
  type: str
  sample: asset_manager-web-task
revision:
  description:
    - The revision that is now the latest C(ACTIVE) one, registered by this run or found unchanged.
    - In check mode, the revision a change would register (the highest known revision plus one).
  returned: when O(state=present)
  type: int
  sample: 7
arn:
  description: The ARN of that revision (predicted in check mode).
  returned: when O(state=present)
  type: str
  sample: arn:aws:ecs:us-west-1:123456789012:task-definition/asset_manager-web-task:7
task_definition:
  description:
    - The normalised task definition of that revision, in RegisterTaskDefinition's camelCase.
    - With O(validate_only), the normalised definition that would be registered.
  returned: when O(state=present)
  type: dict
  sample:
    family: asset_manager-web-task
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    cpu: "1024"
    memory: "2048"
    containerDefinitions:
      - name: asset-manager-web
        image: 123456789012.dkr.ecr.us-west-1.amazonaws.com/asset-manager:latest
        cpu: 0
        essential: true
        portMappings: [{containerPort: 3000, hostPort: 3000, protocol: tcp}]
        environment: [{name: DAGSTER_HOME, value: /opt/dagster/dagster_home}]
        secrets:
          - name: DAGSTER_PG_PASSWORD
            valueFrom: arn:aws:ssm:us-west-1:123456789012:parameter/asset-manager/prod/pg_password
        mountPoints: []
        volumesFrom: []
    placementConstraints: []
    volumes: []
tags:
  description: The tags of that revision.
  returned: when O(state=present)
  type: dict
  sample: {app: asset_manager}
changes:
  description:
    - Where the rendered definition differs from the latest C(ACTIVE) revision; C(tags) when the
      tags differ. Empty when nothing changed or no revision existed.
  returned: when O(state=present)
  type: list
  elements: str
  sample: ["cpu", "containerDefinitions[asset-manager-web].image"]
drift:
  description:
    - The latest C(ACTIVE) revision when it was registered outside this module (no content tag,
      or a definition that does not match it), with the C(image) of each of its containers; C({})
      otherwise. It is never reused.
  returned: when O(state=present)
  type: dict
  sample:
    arn: arn:aws:ecs:us-west-1:123456789012:task-definition/asset_manager-web-task:8
    images: {asset-manager-web: attacker.example/evil:2}
reused:
  description: Whether RV(arn) is one of O(reuse), kept because it equals the rendered definition.
  returned: when O(state=present)
  type: bool
deregistered:
  description: The ARNs of the revisions deregistered (that would be, in check mode).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: ["arn:aws:ecs:us-west-1:123456789012:task-definition/asset_manager-web-task:7"]
diff:
  description: The normalised definition and its tags before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The latest C(ACTIVE) revision, or C({}) if there was none.
      type: dict
    after:
      description: What the latest C(ACTIVE) revision is after this run, or C({}) when absent.
      type: dict
"""

import hashlib
import json
import time

try:
    import botocore.exceptions

    # Failures after which a RegisterTaskDefinition may have been applied (REGISTER_ATTEMPTS).
    _AMBIGUOUS_ERRORS = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
except ImportError:
    # AnsibleAWSModule fails with the missing-library message before any AWS call.
    _AMBIGUOUS_ERRORS = ()

from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    BOTO_ERRORS,
    AssetManagerModule,
    boto3_session,
)
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.taskdef import (
    TaskDefinitionError,
    awslogs_configuration,
    diff_task_definitions,
    next_revision_arn,
    normalise_task_definition,
    parse_task_definition_arn,
    read_json_file,
    render_task_definition,
    task_definition_arn,
    unknown_fields,
)

# The tag that marks a revision this module registered: the digest of its normalised definition.
CONTENT_TAG = "leverslabs.asset_manager:sha256"


def content_digest(normalised):
    """The SHA-256 of a normalised definition, the same for the same content on any run."""
    text = json.dumps(normalised, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def drift_of(normalised, tags):
    """Whether a described revision was registered outside this module: its content tag is
    missing or names other content (someone re-registered or edited a copy of it)."""
    return tags.get(CONTENT_TAG) != content_digest(normalised)


def container_images(definition):
    return {c.get("name"): c.get("image") for c in definition.get("containerDefinitions") or []}


@AWSRetry.jittered_backoff()
def _paginate_task_definitions(client, **params):
    paginator = client.get_paginator("list_task_definitions")
    return paginator.paginate(**params).build_full_result()


def list_revision_arns(client, family, status, latest_only=False):
    """ARNs of the family's revisions in ``status``, newest first."""
    params = {"familyPrefix": family, "status": status, "sort": "DESC"}
    if latest_only:
        page = client.list_task_definitions(maxResults=1, aws_retry=True, **params)
    else:
        page = _paginate_task_definitions(client, **params)
    arns = []
    for arn in page.get("taskDefinitionArns", []):
        # familyPrefix is the whole family name in AWS; keep only exact matches regardless.
        arn_family, revision = parse_task_definition_arn(arn)
        if arn_family == family:
            arns.append((revision, arn))
    # moto ignores sort and maxResults; order here instead.
    arns.sort(reverse=True)
    return [arn for _revision, arn in (arns[:1] if latest_only else arns)]


def describe_task_definition(client, arn):
    return client.describe_task_definition(taskDefinition=arn, include=["TAGS"], aws_retry=True)


def register_task_definition(client, definition, tags):
    params = dict(definition)
    if tags:
        params["tags"] = ansible_dict_to_boto3_tag_list(tags, "key", "value")
    # Sent once: register_exactly_once decides what to retry.
    return client.register_task_definition(**params)


# RegisterTaskDefinition has no client token: retried after an answer that was lost (a 5xx or a
# broken connection once AWS had applied it), it registers a second, identical revision. So it is
# sent once per attempt, with botocore's own retries off, and after such a failure the latest
# ACTIVE revision is adopted when it carries this content's tag; throttling (refused, so never
# applied) is simply retried.
REGISTER_ATTEMPTS = 8


def failure_kind(error):
    """'throttled' (refused: safe to resend), 'ambiguous' (may have been applied) or None."""
    if isinstance(error, _AMBIGUOUS_ERRORS):
        return "ambiguous"
    if not isinstance(error, botocore.exceptions.ClientError):
        return None
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code in ("Throttling", "ThrottlingException", "TooManyRequestsException",
                "RequestLimitExceeded"):  # fmt: skip
        return "throttled"
    return "ambiguous" if status >= 500 else None


def register_exactly_once(
    module, register_client, client, family, rendered, tags, sleep=time.sleep
):
    """RegisterTaskDefinition's answer: the new revision, or the one a lost answer registered."""
    for attempt in range(REGISTER_ATTEMPTS):
        try:
            return register_task_definition(register_client, rendered, tags)
        except BOTO_ERRORS as e:
            kind = failure_kind(e)
            if kind is None or attempt == REGISTER_ATTEMPTS - 1:
                raise
            if kind == "ambiguous":
                latest, latest_tags = latest_active(module, client, family)
                if latest and latest_tags.get(CONTENT_TAG) == tags.get(CONTENT_TAG):
                    return {"taskDefinition": latest, "tags": latest_tags}
            time.sleep(min(20, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def tag_resource(client, arn, tags):
    client.tag_resource(
        resourceArn=arn, tags=ansible_dict_to_boto3_tag_list(tags, "key", "value"), aws_retry=True
    )


def untag_resource(client, arn, keys):
    client.untag_resource(resourceArn=arn, tagKeys=keys, aws_retry=True)


def deregister_task_definition(client, arn):
    client.deregister_task_definition(taskDefinition=arn, aws_retry=True)


def described(module, client, arn):
    """(described taskDefinition, tags dict) of one revision."""
    try:
        response = describe_task_definition(client, arn)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to describe {arn}")
    tags = boto3_tag_list_to_ansible_dict(response.get("tags") or [], "key", "value")
    return response["taskDefinition"], tags


def reusable(module, client, family, desired, task_fields):
    """The first revision of O(reuse) of this family whose definition equals ``desired``."""
    for arn in module.params["reuse"]:
        if not arn or parse_task_definition_arn(arn)[0] != family:
            continue
        candidate, tags = described(module, client, arn)
        if candidate.get("status", "ACTIVE") != "ACTIVE":
            continue
        if not diff_task_definitions(normalise_task_definition(candidate, task_fields), desired):
            return candidate, tags
    return None, {}


def latest_active(module, client, family):
    """(described taskDefinition, tags dict) of the latest ACTIVE revision, or (None, {}).

    AWS's DescribeTaskDefinition(family) returns the latest ACTIVE revision, but moto 5.2.5
    returns the latest revision whatever its status (so after state=absent the emulator would
    compare against a deregistered revision), and a missing family is only a generic
    ClientException. Listing the ACTIVE revisions first gives the same answer on both.
    """
    try:
        arns = list_revision_arns(client, family, "ACTIVE", latest_only=True)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to look up the latest revision of {family}")
    return described(module, client, arns[0]) if arns else (None, {})


def predicted_arn(module, client, family, current):
    """Revision and ARN the next registration gets; AWS never reuses a deregistered number."""
    try:
        inactive = list_revision_arns(client, family, "INACTIVE", latest_only=True)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to list the revisions of {family}")
    known = list(inactive)
    if current:
        known.append(current["taskDefinitionArn"])
    if known:
        highest = max(parse_task_definition_arn(arn)[1] for arn in known)
        return highest + 1, next_revision_arn(known[0], family, highest + 1)
    account, partition = get_aws_account_info(module)
    return 1, task_definition_arn(partition, module.region, account, family, 1)


def register_fields(client=None):
    """What RegisterTaskDefinition accepts, from botocore's own model of the API.

    Without a client the model is loaded from botocore's data files: no credentials, no call.
    """
    if client is None:
        model = boto3_session()._session.get_service_model("ecs")
    else:
        model = client.meta.service_model
    task = set(model.operation_model("RegisterTaskDefinition").input_shape.members)
    container = set(model.shape_for("ContainerDefinition").members)
    return task, container


NOTHING_WRITTEN = "Nothing was written to AWS."


def _refuse(module, error):
    """Fail on bad input, which is always refused before the first AWS call."""
    module.fail_json(msg=f"{str(error).rstrip('.')}. {NOTHING_WRITTEN}")


def render(module):
    """The definition to register, from the options alone: fails before any AWS call."""
    params = module.params
    try:
        definition, definition_source = params["definition"], "definition"
        if params["definition_file"] is not None:
            definition_source = params["definition_file"]
            definition = read_json_file(definition_source, "definition_file")
        env_file, env_source = params["env_file"], "env_file"
        if params["env_file_path"] is not None:
            env_source = params["env_file_path"]
            env_file = read_json_file(env_source, "env_file_path")
        log_configuration = params["log_configuration"]
        if params["log_group"] is not None:
            log_configuration = awslogs_configuration(
                params["log_group"], module.region, params["log_stream_prefix"]
            )
        return render_task_definition(
            definition,
            params["family"],
            placeholders=params["placeholders"],
            image=params["image"],
            image_containers=params["image_containers"],
            env_file=env_file,
            env_containers=params["env_containers"],
            ssm_parameter_arn_prefix=params["ssm_parameter_arn_prefix"],
            execution_role_arn=params["execution_role_arn"],
            task_role_arn=params["task_role_arn"],
            container=params["container"],
            cpu=params["cpu"],
            memory=params["memory"],
            log_configuration=log_configuration,
            environment=params["environment"],
            definition_source=definition_source,
            env_source=env_source,
            known_parameters=params["known_parameters"],
            labels=params["variables"],
            readonly_root_filesystem=params["readonly_root_filesystem"],
            writable_paths=params["writable_paths"],
            log_mode=params["log_mode"],
            log_max_buffer_size=params["log_max_buffer_size"],
        )
    except TaskDefinitionError as e:
        _refuse(module, e)


def check_fields(module, rendered, task_fields, container_fields):
    """Fail, before any write, on a field RegisterTaskDefinition does not accept."""
    problems = unknown_fields(rendered, task_fields, container_fields)
    if problems:
        _refuse(
            module,
            "definition has field(s) RegisterTaskDefinition does not accept: "
            + "; ".join(problems),
        )


def split_tags(module, rendered):
    """(definition without its tags, the tags to set or None to keep the current ones)."""
    rendered = dict(rendered)
    definition_tags = boto3_tag_list_to_ansible_dict(
        rendered.pop("tags", None) or [], "key", "value"
    )
    wanted_tags = None
    tags = module.params["tags"]
    if tags is not None or definition_tags:
        wanted_tags = {**definition_tags, **{k: str(v) for k, v in (tags or {}).items()}}
    return rendered, wanted_tags


def validate_only(module, rendered):
    """Exit with what would be registered, having made no AWS call and created no client."""
    task_fields, container_fields = register_fields()
    check_fields(module, rendered, task_fields, container_fields)
    rendered, wanted_tags = split_tags(module, rendered)
    module.exit_json(
        changed=False,
        family=module.params["family"],
        task_definition=normalise_task_definition(rendered),
        tags=wanted_tags or {},
    )


def ensure_present(module, client, rendered, register_client=None):
    params = module.params
    family = params["family"]
    register_client = register_client or client
    task_fields, container_fields = register_fields(client)
    check_fields(module, rendered, task_fields, container_fields)
    rendered, wanted_tags = split_tags(module, rendered)

    desired = normalise_task_definition(rendered)
    digest = content_digest(desired)
    current, current_tags = latest_active(module, client, family)
    before = normalise_task_definition(current, task_fields) if current else None

    changes = diff_task_definitions(before, desired) if before is not None else []
    # A latest revision equal to the rendered one is kept whoever registered it (it is only
    # tagged); one that differs and was not registered here is drift, never reused.
    drift = {}
    if changes and drift_of(before, current_tags):
        drift = {"arn": current["taskDefinitionArn"], "images": container_images(before)}
        module.warn(
            f"{current['taskDefinitionArn']} was registered outside leverslabs.asset_manager "
            f"(images {drift['images']}); registering the rendered definition as the latest "
            "revision instead."
        )
    reused = False
    if changes and not drift:
        candidate, candidate_tags = reusable(module, client, family, desired, task_fields)
        if candidate:
            current, current_tags, reused = candidate, candidate_tags, True
            before, changes = normalise_task_definition(candidate, task_fields), []
    register = before is None or bool(changes) or bool(drift)
    # The content tag always; the other tags only when O(tags) or the definition name them.
    wanted_tags = {**(current_tags if wanted_tags is None else wanted_tags), CONTENT_TAG: digest}
    tags_to_set, tags_to_unset = compare_aws_tags(
        current_tags, wanted_tags, purge_tags=params["purge_tags"]
    )
    # The tags the latest revision ends up with; aws:* tags are AWS's own and never set by us.
    final_tags = {k: v for k, v in current_tags.items() if k not in tags_to_unset}
    final_tags.update(tags_to_set)
    if register:
        final_tags = {k: v for k, v in final_tags.items() if not k.startswith("aws:")}
    # A new revision's content tag is new by definition: not a change of the tags.
    tag_changes = set(tags_to_set) - ({CONTENT_TAG} if register else set()) | set(tags_to_unset)
    if before is not None and tag_changes:
        changes.append("tags")
    changed = register or bool(tags_to_set or tags_to_unset)

    result = {
        "changed": changed,
        "family": family,
        "changes": changes,
        "drift": drift,
        "reused": reused,
    }
    if module.check_mode:
        if register:
            revision, arn = predicted_arn(module, client, family, current)
        else:
            arn = current["taskDefinitionArn"]
            revision = current["revision"]
        task_definition = desired
    elif register:
        try:
            response = register_exactly_once(
                module, register_client, client, family, rendered, final_tags
            )
        except BOTO_ERRORS as e:
            module.fail_json_aws(e, msg=f"Failed to register a new revision of {family}")
        registered = response["taskDefinition"]
        arn, revision = registered["taskDefinitionArn"], registered["revision"]
        task_definition = normalise_task_definition(registered, task_fields)
    else:
        arn, revision = current["taskDefinitionArn"], current["revision"]
        task_definition = before
        try:
            if tags_to_unset:
                untag_resource(client, arn, tags_to_unset)
            if tags_to_set:
                tag_resource(client, arn, tags_to_set)
        except BOTO_ERRORS as e:
            module.fail_json_aws(e, msg=f"Failed to update the tags of {arn}")

    result.update(revision=revision, arn=arn, task_definition=task_definition, tags=final_tags)
    if module._diff:
        result["diff"] = {
            "before": {**before, "tags": current_tags} if before is not None else {},
            "after": {**desired, "tags": final_tags},
        }
    module.exit_json(**result)


def ensure_absent(module, client):
    family = module.params["family"]
    try:
        arns = list_revision_arns(client, family, "ACTIVE")
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to list the active revisions of {family}")
    result = {"changed": bool(arns), "family": family, "deregistered": arns}
    if module._diff:
        before = {}
        if arns:
            current, current_tags = latest_active(module, client, family)
            if current:
                task_fields, _container_fields = register_fields(client)
                before = {**normalise_task_definition(current, task_fields), "tags": current_tags}
        result["diff"] = {"before": before, "after": {}}
    if not module.check_mode:
        for arn in arns:
            try:
                deregister_task_definition(client, arn)
            except BOTO_ERRORS as e:
                module.fail_json_aws(e, msg=f"Failed to deregister {arn}")
    module.exit_json(**result)


def main():
    argument_spec = dict(
        family=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        definition=dict(type="dict"),
        definition_file=dict(type="path"),
        container=dict(type="str"),
        placeholders=dict(type="dict", default={}),
        image=dict(type="str"),
        image_containers=dict(type="list", elements="str"),
        env_file=dict(type="dict"),
        env_file_path=dict(type="path"),
        env_containers=dict(type="list", elements="str"),
        ssm_parameter_arn_prefix=dict(type="str"),
        execution_role_arn=dict(type="str"),
        task_role_arn=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        cpu=dict(type="raw"),
        memory=dict(type="raw"),
        log_configuration=dict(type="dict"),
        log_group=dict(type="str"),
        log_stream_prefix=dict(type="str"),
        log_mode=dict(type="str"),
        log_max_buffer_size=dict(type="str"),
        readonly_root_filesystem=dict(type="bool"),
        writable_paths=dict(type="list", elements="str", default=[]),
        environment=dict(type="dict"),
        reuse=dict(type="list", elements="str", default=[]),
        validate_only=dict(type="bool", default=False),
        known_parameters=dict(type="list", elements="str"),
        variables=dict(type="dict", default={}),
    )
    module = AssetManagerModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ["definition", "definition_file"], True)],
        mutually_exclusive=[
            ("definition", "definition_file"),
            ("env_file", "env_file_path"),
            ("log_configuration", "log_group"),
        ],
        required_by={"log_stream_prefix": "log_group"},
        supports_check_mode=True,
    )
    if module.params["validate_only"]:
        if module.params["state"] != "present":
            module.fail_json(msg="validate_only checks the input of state=present; remove it")
        validate_only(module, render(module))
    elif module.params["state"] == "present":
        rendered = render(module)
        client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
        # For RegisterTaskDefinition alone: no retry of its own (register_exactly_once retries).
        register_client = module.client(
            "ecs", override_config=botocore.config.Config(retries={"total_max_attempts": 1})
        )
        ensure_present(module, client, rendered, register_client)
    else:
        client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
        ensure_absent(module, client)


if __name__ == "__main__":
    main()
