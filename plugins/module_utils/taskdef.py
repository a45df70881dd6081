# Copyright: Levers Labs
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render, merge and normalise ECS task definitions, without AWS.

Everything here is pure data in, new data out: the module and the unit tests share it, and no
function mutates its arguments (the guide's ``sed -i`` destroyed the placeholders of the source
files, so the second deploy substituted nothing; here the source stays as it was read).

The normal form exists for one question: would registering this definition change anything? Both
the rendered definition and the described latest revision are passed through
``normalise_task_definition``; they are equal exactly when AWS would run the same thing.
"""

from __future__ import annotations

import copy
import json
import re

# $name or ${name}, with $$ for a literal dollar (Python's string.Template syntax). A name is taken
# greedily, so "$app_web" is the name "app_web", never "$app" followed by "_web".
_DOLLAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z0-9_]+)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
# Only all-lowercase names are placeholders: "$PORT", "${HOME}" or "$appName" in a command are the
# container's own shell variables and are left alone.
_PLACEHOLDER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_FAMILY = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

# Fields of a described revision that RegisterTaskDefinition does not take.
READ_ONLY_FIELDS = frozenset(
    (
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "deleteRequestedAt",
    )
)

# Lists AWS describes even when empty; every other empty list, empty dict or null is dropped, so
# "absent" and "empty" compare equal whichever of the two a side happens to use.
_CONTAINER_KEEP_EMPTY = frozenset(("portMappings", "environment", "mountPoints", "volumesFrom"))
_TASK_KEEP_EMPTY = frozenset(("containerDefinitions", "volumes", "placementConstraints"))

# Documented defaults of a container's health check (AWS describes them once filled in).
_HEALTH_CHECK_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3}

# Container lists whose order means nothing to ECS, with the key that identifies an item.
_UNORDERED_CONTAINER_LISTS = {
    "environment": "name",
    "secrets": "name",
    "mountPoints": "containerPath",
    "volumesFrom": "sourceContainer",
    "ulimits": "name",
    "dependsOn": "containerName",
    "extraHosts": "hostname",
    "systemControls": "namespace",
    "resourceRequirements": "type",
    "environmentFiles": "value",
}


class TaskDefinitionError(ValueError):
    """The input cannot become a valid task definition; the message says why, for fail_json."""


# --------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------


def validate_placeholders(placeholders):
    """The placeholders as a new {name: str} dict; raises on a name that can never match."""
    if placeholders is None:
        return {}
    if not isinstance(placeholders, dict):
        raise TaskDefinitionError("placeholders must be a dictionary of name: value")
    result = {}
    for name, value in placeholders.items():
        if not isinstance(name, str) or not _PLACEHOLDER_NAME.match(name):
            raise TaskDefinitionError(
                f"placeholder name {name!r} is invalid: names are lowercase letters, digits and "
                "underscores, starting with a letter or underscore"
            )
        if isinstance(value, (dict, list)) or value is None:
            raise TaskDefinitionError(f"placeholder {name!r} must have a string value")
        if isinstance(value, bool):
            value = "true" if value else "false"
        result[name] = str(value)
    return result


def substitute_placeholders(data, placeholders, source="definition"):
    """Return a copy of ``data`` with ``$name`` and ``${name}`` replaced in every string.

    Keys are substituted as well as values. ``$$`` is a literal ``$``. A placeholder is ``$``
    followed by a lowercase name (``[a-z_][a-z0-9_]*``, taken greedily, so write ``${app}_web`` to
    end a name early); ``$PORT`` or ``$appName`` are not placeholders and are kept as they are.
    A lowercase name that is not in ``placeholders`` raises TaskDefinitionError naming it and
    where it occurs. ``data`` is never modified.
    """
    values = validate_placeholders(placeholders)
    unknown = {}

    def replace_in(text, path):
        def replace(match):
            if match.group("escaped"):
                return "$"
            name = match.group("braced") or match.group("bare")
            if not _PLACEHOLDER_NAME.match(name):
                return match.group(0)
            if name in values:
                return values[name]
            unknown.setdefault(name, path)
            return match.group(0)

        return _DOLLAR.sub(replace, text)

    def walk(value, path):
        if isinstance(value, str):
            return replace_in(value, path)
        if isinstance(value, dict):
            return {
                (replace_in(key, path) if isinstance(key, str) else key): walk(
                    item, f"{path}.{key}" if path else str(key)
                )
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [walk(item, f"{path}[{index}]") for index, item in enumerate(value)]
        return copy.deepcopy(value)

    result = walk(data, "")
    if unknown:
        where = ", ".join(
            f"${name} (at {path or 'top level'})" for name, path in sorted(unknown.items())
        )
        known = ", ".join(sorted(values)) or "none"
        raise TaskDefinitionError(
            f"{source}: unknown placeholder(s) {where}; known placeholders: {known}. A placeholder "
            "is $ or ${} around a lowercase name; write ${name}_suffix to end a name early and $$ "
            "for a literal $"
        )
    return result


# --------------------------------------------------------------------------------------------
# Validation of the inputs
# --------------------------------------------------------------------------------------------


def validate_family(family):
    if not isinstance(family, str) or not _FAMILY.match(family):
        raise TaskDefinitionError(
            f"family {family!r} is invalid: up to 255 letters, digits, hyphens and underscores"
        )


def validate_definition(definition):
    """Raise unless ``definition`` has a non-empty containerDefinitions list of named containers."""
    if not isinstance(definition, dict):
        raise TaskDefinitionError("definition must be a dictionary (RegisterTaskDefinition's JSON)")
    containers = definition.get("containerDefinitions")
    if not isinstance(containers, list) or not containers:
        raise TaskDefinitionError(
            "definition has no containerDefinitions: it must be a non-empty list of containers"
        )
    names = []
    for index, container in enumerate(containers):
        if not isinstance(container, dict):
            raise TaskDefinitionError(f"containerDefinitions[{index}] must be a dictionary")
        name = container.get("name")
        if not isinstance(name, str) or not name:
            raise TaskDefinitionError(f"containerDefinitions[{index}] has no name")
        if name in names:
            raise TaskDefinitionError(f"container name {name!r} is used more than once")
        names.append(name)
        for key, value_key in (("environment", "value"), ("secrets", "valueFrom")):
            if container.get(key) is not None:
                _validate_pairs(container[key], value_key, f"container {name!r} {key}")
    compatibilities = definition.get("requiresCompatibilities") or []
    if "FARGATE" in compatibilities and definition.get("networkMode") != "awsvpc":
        # AWS rejects this at registration; say so before any call.
        raise TaskDefinitionError(
            "requiresCompatibilities includes FARGATE, which needs networkMode: awsvpc "
            f"(got {definition.get('networkMode')!r})"
        )
    return names


def unknown_fields(definition, task_fields, container_fields):
    """Field names of ``definition`` that RegisterTaskDefinition would reject, as 'where: name'."""
    problems = [f"definition: {key}" for key in definition if key not in task_fields]
    for container in definition.get("containerDefinitions") or []:
        if isinstance(container, dict):
            problems.extend(
                f"container {container.get('name')!r}: {key}"
                for key in container
                if key not in container_fields
            )
    return problems


def _validate_pairs(items, value_key, where):
    if not isinstance(items, list):
        raise TaskDefinitionError(f"{where} must be a list of {{name, {value_key}}} entries")
    seen = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise TaskDefinitionError(
                f"{where}[{index}] must be a dictionary with name and {value_key}"
            )
        extra = sorted(set(item) - {"name", value_key})
        if extra:
            raise TaskDefinitionError(
                f"{where}[{index}] has unexpected key(s) {', '.join(extra)}; "
                f"expected name and {value_key}"
            )
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise TaskDefinitionError(f"{where}[{index}] needs a non-empty string name")
        if not isinstance(item.get(value_key), str):
            raise TaskDefinitionError(
                f"{where}[{index}] ({name}): {value_key} must be a string, got "
                f"{type(item.get(value_key)).__name__} {item.get(value_key)!r}; quote it"
            )
        if name in seen:
            raise TaskDefinitionError(f"{where}: {name} appears more than once")
        seen.add(name)


def validate_env_file(env_file):
    """Return env.json's content as a new {"environment": [...], "secrets": [...]}, or raise."""
    if not isinstance(env_file, dict):
        raise TaskDefinitionError(
            "env_file must be a dictionary with 'environment' and/or 'secrets' lists"
        )
    extra = sorted(set(env_file) - {"environment", "secrets"})
    if extra:
        raise TaskDefinitionError(
            f"env_file has unexpected key(s) {', '.join(extra)}; expected environment and secrets"
        )
    result = {}
    for key, value_key in (("environment", "value"), ("secrets", "valueFrom")):
        items = env_file.get(key)
        items = [] if items is None else items
        _validate_pairs(items, value_key, f"env_file {key}")
        result[key] = copy.deepcopy(items)
    return result


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def merge_env(container, env_file):
    """Return a copy of ``container`` with env.json's environment and secrets merged in.

    An env_file entry replaces a container entry of the same name; both lists come out sorted by
    name, so the same inputs always give the same definition.
    """
    env_file = validate_env_file(env_file)
    result = copy.deepcopy(container)
    for key in ("environment", "secrets"):
        merged = {item["name"]: item for item in result.get(key) or []}
        merged.update({item["name"]: item for item in env_file[key]})
        result[key] = [merged[name] for name in sorted(merged)]
    return result


def env_secret_conflicts(container):
    """Names a container sets both as a plain variable and as a secret (ECS keeps only one)."""
    plain = {item["name"] for item in container.get("environment") or []}
    secret = {item["name"] for item in container.get("secrets") or []}
    return sorted(plain & secret)


def resolve_secret_arn(value_from, prefix):
    """An SSM parameter name becomes prefix/name; an ARN (Secrets Manager or SSM) is kept."""
    if not prefix or value_from.startswith("arn:"):
        return value_from
    return prefix.rstrip("/") + "/" + value_from.lstrip("/")


def canonical_task_cpu(value):
    """Task cpu as AWS describes it: a string of CPU units ("1 vCPU" is "1024")."""
    return _canonical_units(value, "vcpu")


def canonical_task_memory(value):
    """Task memory as AWS describes it: a string of MiB ("2 GB" is "2048")."""
    return _canonical_units(value, "gb")


def _canonical_units(value, unit):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(int(value))
    text = str(value).strip()
    if text.isdigit():
        return str(int(text))
    # RegisterTaskDefinition converts "1 vCPU" / "1vcpu" and "2 GB" / "2GB" to units on register.
    match = re.match(r"^(\d+(?:\.\d+)?)\s*" + unit + r"$", text, re.IGNORECASE)
    if match:
        return str(int(float(match.group(1)) * 1024))
    return text


def _int_if_digits(value):
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _check_container_names(requested, names, option):
    missing = [name for name in requested if name not in names]
    if missing:
        raise TaskDefinitionError(
            f"{option} names container(s) {', '.join(missing)} not in the definition "
            f"(containers: {', '.join(names)})"
        )


def render_task_definition(
    definition,
    family,
    placeholders=None,
    image=None,
    image_containers=None,
    env_file=None,
    env_containers=None,
    ssm_parameter_arn_prefix=None,
    execution_role_arn=None,
    task_role_arn=None,
):
    """Build the definition to register from the app's JSON and the inventory's values.

    Order: validate, substitute placeholders (definition and env file), set family, roles and
    image, merge env.json, resolve SSM parameter names to ARNs, refuse a variable that is both
    plain and secret. Returns new data; raises TaskDefinitionError with a message for the user.
    """
    validate_family(family)
    validate_definition(definition)
    rendered = substitute_placeholders(definition, placeholders, "definition")
    names = validate_definition(rendered)
    env = None
    if env_file is not None:
        env = validate_env_file(substitute_placeholders(env_file, placeholders, "env_file"))

    rendered["family"] = family
    if execution_role_arn:
        rendered["executionRoleArn"] = execution_role_arn
    if task_role_arn:
        rendered["taskRoleArn"] = task_role_arn
    for key, canonical in (("cpu", canonical_task_cpu), ("memory", canonical_task_memory)):
        if rendered.get(key) is not None:
            rendered[key] = canonical(rendered[key])

    image_targets = names if image_containers is None else list(image_containers)
    env_targets = names if env_containers is None else list(env_containers)
    _check_container_names(image_targets, names, "image_containers")
    _check_container_names(env_targets, names, "env_containers")

    containers = []
    for container in rendered["containerDefinitions"]:
        if image is not None and container["name"] in image_targets:
            container["image"] = image
        if env is not None and container["name"] in env_targets:
            container = merge_env(container, env)
        if container.get("secrets"):
            container["secrets"] = [
                {
                    **item,
                    "valueFrom": resolve_secret_arn(item["valueFrom"], ssm_parameter_arn_prefix),
                }
                for item in container["secrets"]
            ]
        conflicts = env_secret_conflicts(container)
        if conflicts:
            raise TaskDefinitionError(
                f"container {container['name']!r}: {', '.join(conflicts)} set both as plain "
                "environment and as secret; keep each variable in one list only"
            )
        containers.append(container)
    rendered["containerDefinitions"] = containers
    return rendered


# --------------------------------------------------------------------------------------------
# Normal form and comparison
# --------------------------------------------------------------------------------------------


def _is_empty(value):
    return value is None or value == [] or value == {}


def _prune(value):
    """Drop null, empty-list and empty-dict values from dicts, recursively."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            item = _prune(item)
            if not _is_empty(item):
                result[key] = item
        return result
    if isinstance(value, list):
        return [_prune(item) for item in value]
    return value


def _sort_key(item, identity=None):
    ident = item.get(identity) if identity and isinstance(item, dict) else None
    return (str(ident) if ident is not None else "", json.dumps(item, sort_keys=True, default=str))


def _normalise_port_mapping(mapping, network_mode):
    mapping = dict(mapping)
    for key in ("containerPort", "hostPort"):
        if key in mapping:
            mapping[key] = _int_if_digits(mapping[key])
    mapping.setdefault("protocol", "tcp")
    if "containerPort" in mapping and mapping.get("hostPort") is None:
        # awsvpc and host: the host port is the container port. bridge: 0 asks for a dynamic port,
        # which is how AWS describes an omitted one. (moto fills in neither.)
        mapping["hostPort"] = mapping["containerPort"] if network_mode in ("awsvpc", "host") else 0
    return mapping


def normalise_container(container, network_mode="awsvpc"):
    """One container as AWS describes it after registration, in a canonical order."""
    result = _prune(copy.deepcopy(container))
    # Container-level defaults AWS describes (moto fills these too).
    result.setdefault("essential", True)
    result.setdefault("cpu", 0)
    for key in ("cpu", "memory", "memoryReservation", "startTimeout", "stopTimeout"):
        if key in result:
            result[key] = _int_if_digits(result[key])
    for key in _CONTAINER_KEEP_EMPTY:
        result.setdefault(key, [])
    result["portMappings"] = sorted(
        (_normalise_port_mapping(mapping, network_mode) for mapping in result["portMappings"]),
        key=lambda item: (
            item.get("containerPort") or 0,
            item.get("protocol", ""),
            json.dumps(item, sort_keys=True, default=str),
        ),
    )
    for key, identity in _UNORDERED_CONTAINER_LISTS.items():
        if isinstance(result.get(key), list):
            result[key] = sorted(result[key], key=lambda item, i=identity: _sort_key(item, i))
    if isinstance(result.get("healthCheck"), dict):
        # AWS fills interval/timeout/retries; moto leaves them out.
        result["healthCheck"] = {**_HEALTH_CHECK_DEFAULTS, **result["healthCheck"]}
    log = result.get("logConfiguration")
    if isinstance(log, dict) and isinstance(log.get("secretOptions"), list):
        log["secretOptions"] = sorted(log["secretOptions"], key=lambda i: _sort_key(i, "name"))
    if result.get("versionConsistency") == "enabled":
        # The documented default; whether AWS echoes it must not decide equality.
        del result["versionConsistency"]
    return {key: result[key] for key in sorted(result)}


def normalise_task_definition(task_definition, register_fields=None):
    """The canonical form of a task definition, rendered or described.

    Strips what AWS adds on describe (ARN, revision, status, requiresAttributes, compatibilities,
    registeredAt/By and, when ``register_fields`` is given, anything RegisterTaskDefinition does
    not take), drops ``tags`` (compared on their own), fills AWS's documented defaults, sorts what
    ECS treats as unordered (containers by name, environment and secrets by name,
    requiresCompatibilities, volumes by name) and turns task cpu/memory into strings. Empty and
    null values are dropped except the lists AWS always describes. Returns new data.
    """
    result = {}
    for key, value in task_definition.items():
        if key in READ_ONLY_FIELDS or key == "tags":
            continue
        if register_fields is not None and key not in register_fields:
            continue
        result[key] = copy.deepcopy(value)
    result = {key: _prune(value) for key, value in result.items()}

    compatibilities = result.get("requiresCompatibilities") or []
    # AWS's documented default is bridge; moto 5.2.5 uses awsvpc whenever FARGATE is possible,
    # and AWS refuses FARGATE without awsvpc (validate_definition says so before any call).
    result.setdefault("networkMode", "bridge")
    if compatibilities:
        result["requiresCompatibilities"] = sorted(set(compatibilities))
    for key, canonical in (("cpu", canonical_task_cpu), ("memory", canonical_task_memory)):
        if result.get(key) is not None:
            result[key] = canonical(result[key])
    if result.get("enableFaultInjection") is False:
        # Default off; newer AWS responses describe it as false, older and moto omit it.
        del result["enableFaultInjection"]

    volumes = []
    for volume in result.get("volumes") or []:
        volume = dict(volume)
        efs = volume.get("efsVolumeConfiguration")
        if isinstance(efs, dict):
            volume["efsVolumeConfiguration"] = {"rootDirectory": "/", **efs}
        volumes.append(volume)
    result["volumes"] = sorted(volumes, key=lambda item: _sort_key(item, "name"))
    result["placementConstraints"] = sorted(
        result.get("placementConstraints") or [], key=lambda item: _sort_key(item)
    )
    result["containerDefinitions"] = sorted(
        (
            normalise_container(container, result["networkMode"])
            for container in result.get("containerDefinitions") or []
        ),
        key=lambda item: str(item.get("name")),
    )
    result = {
        key: value
        for key, value in result.items()
        if key in _TASK_KEEP_EMPTY or not _is_empty(value)
    }
    return {key: result[key] for key in sorted(result)}


def diff_task_definitions(before, after):
    """Paths at which two normalised definitions differ, e.g. ``containerDefinitions[web].image``.

    Lists of named items (containers, environment, secrets, volumes) are compared by name, so
    the paths name what changed; other lists are compared whole. Empty when equal.
    """
    paths = []

    def named(items):
        if not isinstance(items, list) or not items:
            return None
        if not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
            return None
        by_name = {item["name"]: item for item in items}
        return by_name if len(by_name) == len(items) else None

    def walk(left, right, path):
        if left == right:
            return
        if isinstance(left, dict) and isinstance(right, dict):
            for key in sorted(set(left) | set(right)):
                walk(left.get(key), right.get(key), f"{path}.{key}" if path else key)
            return
        left_named, right_named = named(left), named(right)
        if left_named is not None and right_named is not None:
            for name in sorted(set(left_named) | set(right_named)):
                walk(left_named.get(name), right_named.get(name), f"{path}[{name}]")
            return
        paths.append(path)

    walk(before or {}, after or {}, "")
    return paths


# --------------------------------------------------------------------------------------------
# Revisions and ARNs
# --------------------------------------------------------------------------------------------


def parse_task_definition_arn(arn):
    """(family, revision) of a task definition ARN, or (None, None) when it is not one."""
    match = re.match(r"^arn:[^:]+:ecs:[^:]*:[^:]*:task-definition/([^:/]+):(\d+)$", arn or "")
    if not match:
        return None, None
    return match.group(1), int(match.group(2))


def task_definition_arn(partition, region, account, family, revision):
    return f"arn:{partition}:ecs:{region}:{account}:task-definition/{family}:{revision}"


def next_revision_arn(known_arn, family, revision):
    """The ARN of ``family:revision`` in the account and region of ``known_arn``."""
    prefix = known_arn.split(":task-definition/")[0]
    return f"{prefix}:task-definition/{family}:{revision}"
