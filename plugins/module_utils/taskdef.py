# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
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
import hashlib
import json
import posixpath
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


def validate_definition(definition, source="definition"):
    """The container names of ``definition``; raises unless it is a valid RegisterTaskDefinition.

    ``source`` names the input in messages: ``definition``, or the file it was read from.
    """
    if not isinstance(definition, dict):
        raise TaskDefinitionError(
            f"{source} must be a dictionary (a JSON object, as RegisterTaskDefinition takes), "
            f"got {_type_name(definition)}"
        )
    containers = definition.get("containerDefinitions")
    if not isinstance(containers, list) or not containers:
        raise TaskDefinitionError(
            f"{source} has no containerDefinitions: it must be a non-empty list of containers"
        )
    names = []
    for index, container in enumerate(containers):
        if not isinstance(container, dict):
            raise TaskDefinitionError(
                f"{source}: containerDefinitions[{index}] must be a dictionary"
            )
        name = container.get("name")
        if not isinstance(name, str) or not name:
            raise TaskDefinitionError(f"{source}: containerDefinitions[{index}] has no name")
        if name in names:
            raise TaskDefinitionError(f"{source}: container name {name!r} is used more than once")
        names.append(name)
        for key, value_key in (("environment", "value"), ("secrets", "valueFrom")):
            if container.get(key) is not None:
                _validate_pairs(container[key], value_key, f"{source}: container {name!r} {key}")
    compatibilities = definition.get("requiresCompatibilities") or []
    if "FARGATE" in compatibilities and definition.get("networkMode") != "awsvpc":
        # AWS rejects this at registration; say so before any call.
        raise TaskDefinitionError(
            f"{source}: requiresCompatibilities includes FARGATE, which needs networkMode: awsvpc "
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


def _type_name(value):
    """The JSON name of a value's type, for messages about files."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _validate_pairs(items, value_key, where):
    if not isinstance(items, list):
        raise TaskDefinitionError(
            f"{where} is not a list: it must be a list of {{name, {value_key}}} entries, "
            f"got {_type_name(items)}"
        )
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
            value = item.get(value_key)
            problem = (
                f"{value_key} is missing"
                if value_key not in item
                else f"{value_key} is {type(value).__name__} {value!r}; quote it"
            )
            raise TaskDefinitionError(
                f"{where}[{index}] ({name}): name and {value_key} must be strings; {problem}"
            )
        if name in seen:
            raise TaskDefinitionError(f"{where}: {name} appears more than once")
        seen.add(name)


def validate_env_file(env_file, source="env_file"):
    """Return env.json's content as a new {"environment": [...], "secrets": [...]}, or raise.

    ``source`` names the input in messages: ``env_file``, or the file it was read from.
    """
    if not isinstance(env_file, dict):
        raise TaskDefinitionError(
            f"{source} must be a dictionary (a JSON object) with 'environment' and/or 'secrets' "
            f"lists, got {_type_name(env_file)}"
        )
    extra = sorted(set(env_file) - {"environment", "secrets"})
    if extra:
        raise TaskDefinitionError(
            f"{source} has unexpected key(s) {', '.join(extra)}; expected environment and secrets"
        )
    result = {}
    for key, value_key in (("environment", "value"), ("secrets", "valueFrom")):
        items = env_file.get(key)
        items = [] if items is None else items
        _validate_pairs(items, value_key, f"{source} {key}")
        result[key] = copy.deepcopy(items)
    return result


def validate_environment(environment):
    """The extra plain variables as a new {name: str} dict, or raise.

    Scalars become strings (booleans ``true``/``false``), as ECS wants them; a list, dictionary or
    null is refused, naming the variable.
    """
    if environment is None:
        return {}
    if not isinstance(environment, dict):
        raise TaskDefinitionError("environment must be a dictionary of variable name: value")
    result = {}
    for name, value in environment.items():
        if not isinstance(name, str) or not name.strip():
            raise TaskDefinitionError(
                f"environment: variable name {name!r} must be a non-empty string"
            )
        if isinstance(value, (dict, list, tuple)) or value is None:
            raise TaskDefinitionError(
                f"environment: {name} must have a string value, got {_type_name(value)}"
            )
        if isinstance(value, bool):
            value = "true" if value else "false"
        result[name] = str(value)
    return result


def validate_log_configuration(log_configuration):
    """A new copy of a container's logConfiguration, or raise unless it names a logDriver."""
    if not isinstance(log_configuration, dict):
        raise TaskDefinitionError(
            "log_configuration must be a dictionary: a container's logConfiguration, with logDriver"
        )
    driver = log_configuration.get("logDriver")
    if not isinstance(driver, str) or not driver:
        raise TaskDefinitionError("log_configuration needs a logDriver, for example awslogs")
    options = log_configuration.get("options")
    if options is not None and not (
        isinstance(options, dict) and all(isinstance(v, str) for v in options.values())
    ):
        raise TaskDefinitionError("log_configuration options must be a dictionary of strings")
    return copy.deepcopy(log_configuration)


def awslogs_configuration(log_group, region, stream_prefix=None):
    """The awslogs logConfiguration that sends a container's output to ``log_group``."""
    if not isinstance(log_group, str) or not log_group:
        raise TaskDefinitionError("log_group must be a non-empty log group name")
    if not region:
        raise TaskDefinitionError(
            "log_group needs the region of the log group (awslogs-region): set the region option"
        )
    options = {"awslogs-group": log_group, "awslogs-region": region}
    if stream_prefix:
        options["awslogs-stream-prefix"] = stream_prefix
    return {"logDriver": "awslogs", "options": options}


# Docker's delivery modes, options of every log driver. In blocking mode a container's write to
# stdout waits while the driver cannot deliver (CloudWatch throttled or unreachable), so logging can
# stall the webserver or a run; non-blocking buffers up to max-buffer-size and drops beyond it.
LOG_MODES = ("blocking", "non-blocking")
# Docker's size syntax for max-buffer-size (go-units RAMInBytes): 25m, 4MB, 1.5g, 65536.
_BUFFER_SIZE = re.compile(r"^\d+(\.\d+)? ?[kKmMgGtTpP]?[iI]?[bB]?$")


def log_delivery_options(mode=None, max_buffer_size=None, labels=None):
    """The ``mode`` and ``max-buffer-size`` log options, or raise naming the caller's variables.

    Docker refuses a max-buffer-size outside non-blocking mode when the container starts, so that
    is refused here, before any call. Empty values set nothing.
    """
    labels = {
        "log_mode": "log_mode",
        "log_max_buffer_size": "log_max_buffer_size",
        **(labels or {}),
    }
    options = {}
    if mode:
        if mode not in LOG_MODES:
            raise TaskDefinitionError(
                f"{labels['log_mode']} {mode!r} is not a log delivery mode: use one of "
                f"{', '.join(LOG_MODES)}"
            )
        options["mode"] = mode
    if max_buffer_size not in (None, ""):
        size = str(max_buffer_size).strip()
        if not _BUFFER_SIZE.match(size) or not any(c.isdigit() and c != "0" for c in size):
            raise TaskDefinitionError(
                f"{labels['log_max_buffer_size']} {max_buffer_size!r} is not a buffer size "
                "(a positive number with an optional unit, such as 25m or 4MB)"
            )
        if mode != "non-blocking":
            raise TaskDefinitionError(
                f"{labels['log_max_buffer_size']} ({size}) applies only with "
                f"{labels['log_mode']} non-blocking (got {mode or 'none'}); Docker refuses it "
                f"otherwise: empty {labels['log_max_buffer_size']}, or make the mode non-blocking"
            )
        options["max-buffer-size"] = size
    return options


# --------------------------------------------------------------------------------------------
# Read-only root filesystem and its writable directories
# --------------------------------------------------------------------------------------------

# $NAME/rest or ${NAME}/rest: a path under the value of the container's plain variable NAME.
_VARIABLE_PATH = re.compile(
    r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))(?P<rest>/.*)?$"
)
_VOLUME_NAME_PREFIX = "writable-"


def resolve_writable_paths(paths, container, label="writable_paths"):
    """The absolute container paths ``paths`` name, normalised, sorted, without duplicates.

    A path that starts with ``$NAME`` is under the value of ``container``'s plain variable NAME
    (after env.json and environment are merged), so it follows, for example, whatever DAGSTER_HOME
    the application's env.json sets. Raises naming ``label`` unless every path is absolute (or
    such a variable's), and none is ``/``.
    """
    if paths is None:
        return []
    if not isinstance(paths, (list, tuple)):
        raise TaskDefinitionError(f"{label} must be a list of container paths")
    plain = {item["name"]: item.get("value") for item in container.get("environment") or []}
    secret = {item["name"] for item in container.get("secrets") or []}
    resolved = set()
    for path in paths:
        if not isinstance(path, str) or not path.strip():
            raise TaskDefinitionError(f"{label}: {path!r} is not a path")
        text = path.strip()
        match = _VARIABLE_PATH.match(text)
        if match:
            name = match.group("braced") or match.group("bare")
            if name not in plain:
                where = "as a secret only" if name in secret else "not at all"
                raise TaskDefinitionError(
                    f"{label}: {path} is under ${name}, which container {container.get('name')!r} "
                    f"sets {where}; set {name} as a plain variable (env.json's environment) or "
                    "give an absolute path"
                )
            base = plain[name] or ""
            if not base.startswith("/"):
                raise TaskDefinitionError(
                    f"{label}: {path} is under ${name}, whose value {base!r} in container "
                    f"{container.get('name')!r} is not an absolute path"
                )
            text = base + (match.group("rest") or "")
        if not text.startswith("/"):
            raise TaskDefinitionError(
                f"{label}: {path} is not an absolute path (or $VARIABLE/path under a plain "
                "variable of the container)"
            )
        text = posixpath.normpath(text)
        if text in ("/", "//"):
            raise TaskDefinitionError(
                f"{label}: {path} is the root directory; name the directories to write instead"
            )
        resolved.add(text)
    return sorted(resolved)


def writable_volume_name(path):
    """The task volume name of a writable directory: letters, digits, - and _ (ECS's rule)."""
    name = _VOLUME_NAME_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "-", path.strip("/"))
    if len(name) > 255:
        digest = hashlib.sha256(path.encode()).hexdigest()[:12]
        name = name[: 255 - 13] + "-" + digest
    return name


def add_writable_volumes(definition, container_name, paths, label="writable_paths"):
    """A copy of ``definition`` whose container ``container_name`` mounts one task-local volume
    (a bind mount without host: on Fargate, the task's ephemeral storage) read-write at each of
    ``paths`` (absolute, as resolve_writable_paths returns them).

    A path the container already mounts keeps the definition's own mount. A volume name that the
    definition already uses for something else is refused.
    """
    result = copy.deepcopy(definition)
    volumes = result.get("volumes") or []
    taken = {volume.get("name") for volume in volumes if isinstance(volume, dict)}
    for item in result["containerDefinitions"]:
        if item["name"] != container_name:
            continue
        mounts = list(item.get("mountPoints") or [])
        mounted = {posixpath.normpath(str(m.get("containerPath", ""))) for m in mounts}
        for path in paths:
            if path in mounted:
                continue
            name = writable_volume_name(path)
            if name in taken:
                raise TaskDefinitionError(
                    f"{label}: the volume for {path}, {name!r}, is already a volume of the "
                    "definition; rename that volume"
                )
            taken.add(name)
            volumes.append({"name": name})
            mounts.append({"sourceVolume": name, "containerPath": path, "readOnly": False})
        item["mountPoints"] = mounts
    result["volumes"] = volumes
    return result


# --------------------------------------------------------------------------------------------
# Input files
# --------------------------------------------------------------------------------------------


def _refuse_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json_text(text, source):
    """The JSON value of ``text``; raises naming ``source`` and the position of the error.

    A key given twice in one object is refused too (JSON parsers silently keep the last one).
    """
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as e:
        raise TaskDefinitionError(
            f"{source} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno} "
            f"(char {e.pos})"
        ) from None
    except ValueError as e:
        raise TaskDefinitionError(f"{source} is not valid JSON: {e}") from None


def read_json_file(path, option):
    """The parsed content of the JSON file at ``path``, which the option ``option`` names.

    Raises TaskDefinitionError naming the file and the option when it is missing, unreadable or
    not JSON (with the line and column of the error).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise TaskDefinitionError(f"{option} {path} does not exist") from None
    except IsADirectoryError:
        raise TaskDefinitionError(f"{option} {path} is a directory, not a JSON file") from None
    except UnicodeDecodeError as e:
        raise TaskDefinitionError(f"{option} {path} is not UTF-8 text: {e.reason}") from None
    except OSError as e:
        raise TaskDefinitionError(f"{option} {path} cannot be read: {e.strerror}") from None
    return parse_json_text(text, path)


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


def unknown_secret_parameters(container, known_parameters):
    """valueFrom names of ``container``'s secrets that are neither ARNs nor ``known_parameters``
    (None: not checked); a task with such a secret never starts (ResourceInitializationError)."""
    if known_parameters is None:
        return []
    known = {name.lstrip("/") for name in known_parameters}
    return sorted(
        secret["valueFrom"]
        for secret in container.get("secrets") or []
        if not str(secret.get("valueFrom", "")).startswith("arn:")
        and str(secret.get("valueFrom", "")).lstrip("/") not in known
    )


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


def _check_container_names(requested, names, option, source):
    missing = [name for name in requested if name not in names]
    if missing:
        raise TaskDefinitionError(
            f"{option} names container(s) {', '.join(missing)} not in {source} "
            f"(its containers: {', '.join(names)})"
        )


def _task_size(value, key, where=None, label=None):
    """Task cpu or memory in AWS's described form; raises unless it is a number of units.
    ``label`` names the value in the message (the caller's variable), else ``where`` and ``key``."""
    label = label or (f"{where} {key}" if where else key)
    canonical = canonical_task_cpu(value) if key == "cpu" else canonical_task_memory(value)
    if not isinstance(canonical, str) or not canonical.isdigit():
        example = (
            f"{', '.join(str(cpu) for cpu in FARGATE_SIZES)} or '1 vCPU'"
            if key == "cpu"
            else "2048 or '2 GB'"
        )
        raise TaskDefinitionError(
            f"{label} {value!r} is not a number of "
            f"{'CPU units' if key == 'cpu' else 'MiB'} (for example {example})"
        )
    return canonical


# Fargate's task sizes: CPU units -> the memory (MiB) it allows, from the ECS Developer Guide's
# "Task CPU and memory" table (Linux). No other pair starts on Fargate.
FARGATE_SIZES = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


def _allowed(memory):
    """The memory choices of one cpu, shortly: a list, or a range with its step."""
    if len(memory) <= 3:
        return ", ".join(str(m) for m in memory)
    return f"{memory[0]} to {memory[-1]} in steps of {memory[1] - memory[0]}"


def fargate_size_problem(cpu, memory, labels=None):
    """Why Fargate has no configuration for task ``cpu``/``memory`` (units, MiB), or None."""
    labels = {"cpu": "cpu", "memory": "memory", **(labels or {})}
    if cpu is None or memory is None:
        return f"Fargate needs both task {labels['cpu']} and {labels['memory']}"
    allowed = FARGATE_SIZES.get(int(cpu))
    if allowed is None:
        return (
            f"{labels['cpu']} {cpu} is not a Fargate task size: cpu must be one of "
            f"{', '.join(str(c) for c in FARGATE_SIZES)}"
        )
    if int(memory) not in allowed:
        return (
            f"{labels['memory']} {memory} does not go with {labels['cpu']} {cpu} on Fargate: "
            f"cpu {cpu} allows memory {_allowed(allowed)} (MiB)"
        )
    return None


def _ports_as_ints(container):
    """containerPort and hostPort that are strings of digits (a placeholder's value) as ints."""
    mappings = container.get("portMappings")
    if not isinstance(mappings, list):
        return container
    container["portMappings"] = [
        {
            key: (_int_if_digits(value) if key in ("containerPort", "hostPort") else value)
            for key, value in mapping.items()
        }
        if isinstance(mapping, dict)
        else mapping
        for mapping in mappings
    ]
    return container


def _set_environment(container, environment):
    """A copy of ``container`` whose environment has ``environment``'s variables, sorted."""
    result = copy.deepcopy(container)
    merged = {item["name"]: item for item in result.get("environment") or []}
    merged.update({name: {"name": name, "value": value} for name, value in environment.items()})
    result["environment"] = [merged[name] for name in sorted(merged)]
    return result


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
    container=None,
    cpu=None,
    memory=None,
    log_configuration=None,
    environment=None,
    definition_source="definition",
    env_source="env_file",
    known_parameters=None,
    labels=None,
    readonly_root_filesystem=None,
    writable_paths=None,
    log_mode=None,
    log_max_buffer_size=None,
):
    """Build the definition to register from the app's JSON and the inventory's values.

    Every rule of a task definition's input is here, once: the module calls this for a real
    registration and for ``validate_only`` alike.

    Order: validate, substitute placeholders (definition and env file), check the application
    ``container``, set family, roles, task ``cpu``/``memory`` and image, merge env.json, set the
    application container's ``log_configuration`` (with ``log_mode`` and ``log_max_buffer_size``
    among its options) and extra ``environment`` (last, replacing entries of the same name), make
    its root filesystem read-only with ``readonly_root_filesystem`` and then give it a task-local
    read-write volume at each of ``writable_paths`` (resolve_writable_paths; ignored unless the
    root filesystem is read-only), turn numeric port strings into ints, resolve SSM parameter
    names to ARNs, refuse a variable that is both plain and secret.

    ``container`` names the application container: image_containers and env_containers default
    to it (to every container without it), and it receives log_configuration, the log delivery
    options, environment, the read-only root and the writable volumes.
    ``definition_source`` and ``env_source`` name the inputs in messages (the option, or the file
    they were read from). Returns new data; raises TaskDefinitionError with a message for the user.
    """
    validate_family(family)
    validate_definition(definition, definition_source)
    rendered = substitute_placeholders(definition, placeholders, definition_source)
    names = validate_definition(rendered, definition_source)
    env = None
    if env_file is not None:
        env = validate_env_file(
            substitute_placeholders(env_file, placeholders, env_source), env_source
        )
    extra_environment = validate_environment(environment)
    if log_configuration is not None:
        log_configuration = validate_log_configuration(log_configuration)
    labels = labels or {}
    delivery = log_delivery_options(log_mode, log_max_buffer_size, labels)

    if container is not None:
        if not isinstance(container, str) or container not in names:
            raise TaskDefinitionError(
                f"container {container!r} (the application container) is not in "
                f"{definition_source}; its containers are {', '.join(names)}"
            )
        default_targets = [container]
    else:
        for option, value in (
            ("log_configuration", log_configuration),
            ("environment", extra_environment),
            ("log_mode", delivery),
            ("readonly_root_filesystem", readonly_root_filesystem is not None),
        ):
            if value:
                raise TaskDefinitionError(
                    f"{option} is set on the application container: set container to its name"
                )
        default_targets = names

    rendered["family"] = family
    if execution_role_arn:
        rendered["executionRoleArn"] = execution_role_arn
    if task_role_arn:
        rendered["taskRoleArn"] = task_role_arn
    for key, override in (("cpu", cpu), ("memory", memory)):
        if override is not None and override != "":
            rendered[key] = _task_size(override, key, label=labels.get(key))
        elif rendered.get(key) is not None:
            rendered[key] = _task_size(rendered[key], key, definition_source)
    if "FARGATE" in (rendered.get("requiresCompatibilities") or []):
        problem = fargate_size_problem(rendered.get("cpu"), rendered.get("memory"), labels)
        if problem:
            raise TaskDefinitionError(problem)

    image_targets = default_targets if image_containers is None else list(image_containers)
    env_targets = default_targets if env_containers is None else list(env_containers)
    _check_container_names(image_targets, names, "image_containers", definition_source)
    _check_container_names(env_targets, names, "env_containers", definition_source)

    writable = []
    containers = []
    for item in rendered["containerDefinitions"]:
        name = item["name"]
        if image is not None and name in image_targets:
            item["image"] = image
        if env is not None and name in env_targets:
            item = merge_env(item, env)
        if name == container:
            if log_configuration is not None:
                item["logConfiguration"] = copy.deepcopy(log_configuration)
            if delivery:
                log = item.get("logConfiguration")
                if not isinstance(log, dict):
                    raise TaskDefinitionError(
                        f"{labels.get('log_mode', 'log_mode')} sets how container {name!r} "
                        "delivers its logs, but it has no logConfiguration: give log_group or "
                        "log_configuration"
                    )
                item["logConfiguration"] = {
                    **log,
                    "options": {**(log.get("options") or {}), **delivery},
                }
            secret_names = {secret["name"] for secret in item.get("secrets") or []}
            refused = sorted(set(extra_environment) & secret_names)
            if refused:
                sources = (
                    definition_source if env is None else f"{definition_source} or {env_source}"
                )
                raise TaskDefinitionError(
                    f"environment sets {', '.join(refused)}, which container {name!r} also has "
                    f"as a secret (in {sources}); a variable is either plain or secret"
                )
            if extra_environment:
                item = _set_environment(item, extra_environment)
            if readonly_root_filesystem is not None:
                item["readonlyRootFilesystem"] = bool(readonly_root_filesystem)
            if readonly_root_filesystem:
                writable = resolve_writable_paths(
                    writable_paths, item, labels.get("writable_paths", "writable_paths")
                )
        item = _ports_as_ints(item)
        unknown = unknown_secret_parameters(item, known_parameters)
        if unknown:
            raise TaskDefinitionError(
                f"container {name!r} takes secret(s) from {', '.join(unknown)}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not a parameter of the stack "
                f"({labels.get('known_parameters', 'known_parameters')}): declare "
                f"{'it' if len(unknown) == 1 else 'them'} there, or give a full ARN in valueFrom"
            )
        if item.get("secrets"):
            item["secrets"] = [
                {
                    **secret,
                    "valueFrom": resolve_secret_arn(secret["valueFrom"], ssm_parameter_arn_prefix),
                }
                for secret in item["secrets"]
            ]
        conflicts = env_secret_conflicts(item)
        if conflicts:
            sources = definition_source if env is None else f"{definition_source} and {env_source}"
            raise TaskDefinitionError(
                f"container {name!r} would set {', '.join(conflicts)} both as a plain variable "
                f"and as a secret ({sources} together); keep each variable in one list only"
            )
        containers.append(item)
    rendered["containerDefinitions"] = containers
    if container is not None and readonly_root_filesystem:
        rendered = add_writable_volumes(
            rendered, container, writable, labels.get("writable_paths", "writable_paths")
        )
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
    # readOnly defaults to false: a mount point registered without it equals one described with it.
    result["mountPoints"] = [
        {"readOnly": False, **mount} if isinstance(mount, dict) else mount
        for mount in result["mountPoints"]
    ]
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
    if result.get("readonlyRootFilesystem") is False:
        # The default, which a described revision may state or leave out.
        del result["readonlyRootFilesystem"]
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
        if volume.get("configuredAtLaunch") is False:
            # The default (an EBS volume given at launch); newer responses state it.
            del volume["configuredAtLaunch"]
        volumes.append(volume)
    result["volumes"] = sorted(volumes, key=lambda item: _sort_key(item, "name"))
    result["placementConstraints"] = sorted(result.get("placementConstraints") or [], key=_sort_key)
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
