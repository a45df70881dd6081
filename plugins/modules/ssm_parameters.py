#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ssm_parameters
version_added: 0.2.0
short_description: Converge a set of SSM parameters under one path in one process
description:
  - Creates, updates or deletes every parameter of O(parameters) under O(path) in one module run,
    instead of one M(community.aws.ssm_parameter) process per parameter.
  - The current parameters are read with GetParameters, ten names per call, with decryption, so
    that values are compared. A parameter is written (PutParameter) only when it is missing or
    its value or type differs; an unchanged value is never rewritten, so its version stays.
  - A parameter stored as C(SecureString) is never turned into a C(String), which would store a
    secret as plain text; the module fails before any write, naming the parameter. C(String) to
    C(SecureString) is allowed.
  - With O(tags), the tags of each parameter are compared with ListTagsForResource (one call per
    existing parameter, as SSM has no call that lists the tags of several parameters) and changed
    with AddTagsToResource and RemoveTagsFromResource. A new parameter gets its tags in its
    PutParameter call. Without O(tags), tags are not read or changed.
  - No value is ever returned. In diff mode the values of C(SecureString) parameters are
    replaced by C(********); C(String) values are shown.
options:
  path:
    description:
      - The prefix of every parameter name, for example C(/asset-manager). Must start with C(/).
      - The full name of a parameter is O(path), C(/) and its key in O(parameters).
    type: str
    required: true
  parameters:
    description:
      - The parameters, by name under O(path); each is a dictionary with C(value) and C(type).
      - C(value) (a string) is required when O(state=present). It is never logged or returned.
      - C(type), V(String) or V(SecureString), is required when O(state=present); there is no
        default, so a secret is never stored as plain text by omission.
      - Each entry is validated as an argument spec of its own; an error names the parameter.
      - With O(state=absent) only the names are used; an entry may be V({}) or V(null).
      - The whole option is C(no_log). Once the entries are valid and the current parameters
        are read, C(String) values and the type names are no longer masked in the result (they
        are shown in diff mode); C(SecureString) values stay masked everywhere, including in the
        module's invocation, and so does every value when a type change is refused.
    type: dict
    required: true
  key_id:
    description:
      - The KMS key (ID, ARN or alias) that encrypts the C(SecureString) values written by this
        run.
      - The key of an existing parameter is not compared; changing only O(key_id) does not
        re-encrypt values that are otherwise unchanged.
    type: str
    default: alias/aws/ssm
  state:
    description:
      - V(present) creates or updates the parameters of O(parameters).
      - V(absent) deletes exactly the parameters named in O(parameters) (DeleteParameters, ten
        names per call); other parameters under O(path) are left alone.
    type: str
    choices: [present, absent]
    default: present
  tags:
    description:
      - Tags set on each parameter of O(parameters). Values are turned into strings.
      - Not set (the default) leaves the tags as they are and saves one call per parameter.
      - Tags whose key starts with C(aws:) are never removed.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove the tags that are not in O(tags). Ignored when O(tags) is not set.
    type: bool
    default: true
notes:
  - Reading needs C(ssm:GetParameters) (and C(kms:Decrypt) on the keys of the existing
    C(SecureString) parameters) and, with O(tags), C(ssm:ListTagsForResource). Writing needs
    C(ssm:PutParameter), C(ssm:AddTagsToResource), C(ssm:RemoveTagsFromResource) and
    C(kms:Encrypt) or C(kms:GenerateDataKey) on O(key_id). O(state=absent) needs
    C(ssm:DeleteParameters), and C(ssm:GetParameters) (without decryption) in check or diff mode.
  - The AWS Resource Groups Tagging API (GetResources) could list the tags of many parameters in
    one call, but it is eventually consistent and needs another permission, so a tag changed
    moments ago could be compared wrongly; ListTagsForResource is always current.
  - Check mode reads as a real run does and reports exactly what it would write, per parameter,
    in RV(changes); RV(parameters) then holds the predicted versions.
  - Parameters are written one at a time, in the order of O(parameters); if a write fails, the
    ones before it are already written.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Converge the stack's parameters in one process
  leverslabs.asset_manager.ssm_parameters:
    path: /asset-manager
    parameters:
      SERVER_HOST:
        value: https://assets.example.com
        type: String
      AUTH0_CLIENT_SECRET:
        value: "{{ vault_auth0_client_secret }}"
        type: SecureString
    key_id: alias/asset-manager
    tags:
      Application: asset-manager
  # The values are secrets: hide the task's output at every verbosity.
  no_log: true
  register: ssm

- name: Say which parameters were written (names only)
  ansible.builtin.debug:
    msg: "{{ ssm.changes | map(attribute='name') | list }}"

- name: Delete exactly the named parameters (values are not needed)
  leverslabs.asset_manager.ssm_parameters:
    path: /asset-manager
    parameters:
      SERVER_HOST: {}
      AUTH0_CLIENT_SECRET: {}
    state: absent
"""

RETURN = r"""
changes:
  description:
    - Every parameter this run wrote or deleted (would write or delete, in check mode), in the
      order of O(parameters). Empty when nothing changed.
    - C(action) is V(created), V(updated) or V(deleted); C(fields) says what of an updated
      parameter differed (V(type), V(value), V(tags)); it is empty for the other actions.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The full name of the parameter.
      type: str
    action:
      description: V(created), V(updated) or V(deleted).
      type: str
    fields:
      description: What differed, for V(updated).
      type: list
      elements: str
  sample:
    - {name: /asset-manager/SERVER_HOST, action: updated, fields: [value]}
    - {name: /asset-manager/DAGSTER_PG_PASSWORD, action: created, fields: []}
parameters:
  description:
    - Each parameter of O(parameters) after this run, without its value.
    - In check mode, C(version) is the version a write would give (the current one plus one).
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    name:
      description: The full name of the parameter.
      type: str
    type:
      description: V(String) or V(SecureString).
      type: str
    version:
      description: The version of the parameter.
      type: int
  sample:
    - {name: /asset-manager/SERVER_HOST, type: String, version: 3}
    - {name: /asset-manager/AUTH0_CLIENT_SECRET, type: SecureString, version: 1}
diff:
  description:
    - The parameters before and after, by full name, each with C(type), C(value) (V(********)
      for a C(SecureString)), C(version) and, when O(tags) is set, C(tags).
    - With O(state=absent), C(before) has the named parameters that exist, without tags, and
      C(after) is empty.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The parameters as they were; a missing one is not listed.
      type: dict
    after:
      description: The parameters as this run leaves them.
      type: dict
"""

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    BOTO_ERRORS,
    AssetManagerModule,
)
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.tags import plan_tags

# What diff mode shows instead of a SecureString value.
MASK = "********"
TYPES = ("String", "SecureString")
# GetParameters and DeleteParameters take at most ten names per call.
BATCH = 10

_ENTRY_SPEC = {
    "present": dict(
        value=dict(type="str", required=True, no_log=True),
        type=dict(type="str", required=True, choices=list(TYPES)),
    ),
    "absent": dict(
        value=dict(type="str", no_log=True),
        type=dict(type="str", choices=list(TYPES)),
    ),
}


def full_name(path, name):
    """``path`` and ``name`` joined by one ``/`` (``/asset-manager`` + ``DB``)."""
    return path.rstrip("/") + "/" + name.strip("/")


def validate_entries(path, parameters, state):
    """Validate each entry of ``parameters`` with an argument spec of its own.

    Returns (entries, errors): entries maps each full name to ``{"value", "type"}`` (validated),
    errors are messages naming the parameter; they never hold a value.
    """
    if not path.startswith("/"):
        return {}, [f"path must start with '/', got {path!r}"]
    entries, errors, seen = {}, [], {}
    validator = ArgumentSpecValidator(_ENTRY_SPEC[state])
    for name, entry in parameters.items():
        name = str(name)
        if not name.strip("/"):
            errors.append(f"parameters: {name!r} is not a parameter name")
            continue
        if entry is None and state == "absent":
            entry = {}
        if not isinstance(entry, dict):
            errors.append(f"parameters[{name}] must be a dictionary with value and type")
            continue
        result = validator.validate(entry)
        if result.error_messages:
            errors.extend(f"parameters[{name}]: {message}" for message in result.error_messages)
            continue
        key = full_name(path, name)
        if key in seen:
            errors.append(f"parameters {seen[key]!r} and {name!r} both name {key}")
            continue
        seen[key] = name
        entries[key] = {
            "value": result.validated_parameters["value"],
            "type": result.validated_parameters["type"],
        }
    return entries, errors


def _strings(obj):
    """Every string ansible-core collects from a no_log option's value (its leaves, as text)."""
    if isinstance(obj, (str, bytes)):
        if obj:
            yield obj if isinstance(obj, str) else obj.decode("utf-8", "surrogateescape")
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, (list, tuple, set)):
        for value in obj:
            yield from _strings(value)
    elif obj is None or isinstance(obj, bool):
        return
    elif isinstance(obj, (int, float)):
        yield str(obj)


def unmask_plain_values(module, entries):
    """Stop masking what of O(parameters) is not secret: String values and the type names.

    ansible-core masks every leaf of a no_log option wherever it occurs in the result (so a
    String value V(postgres), or the word V(String), would turn into C(********) in every name
    and message). Every other value (SecureString, or of no type with O(state=absent)) and the
    values of the other no_log options (the AWS keys) stay masked.
    """
    plain = set(TYPES)
    keep = set()
    for entry in entries.values():
        if entry["value"] is not None:
            (plain if entry["type"] == "String" else keep).add(entry["value"])
    for option, spec in module.argument_spec.items():
        if option != "parameters" and spec.get("no_log"):
            keep.update(_strings(module.params.get(option)))
    module.no_log_values.difference_update(plain - keep)


def plan_changes(entries, current, wanted_tags=None, purge_tags=True):
    """What converging ``entries`` onto ``current`` takes; pure, no AWS call.

    ``entries``: full name -> {"value", "type"}. ``current``: full name -> {"value", "type",
    "version", "tags"} of the parameters that exist (``tags`` only needed with ``wanted_tags``).
    Returns (plan, refused): plan is one dict per entry, in order, with ``name``, ``action``
    (created, updated or None), ``fields``, ``put`` (write the value), ``tags_to_set`` and
    ``tags_to_unset``; refused names the SecureString parameters that would become String.
    """
    plan, refused = [], []
    for name, entry in entries.items():
        step = {
            "name": name,
            "type": entry["type"],
            "action": None,
            "fields": [],
            "put": False,
            "tags_to_set": {},
            "tags_to_unset": [],
        }
        existing = current.get(name)
        if existing is None:
            step.update(action="created", put=True)
            if wanted_tags:
                step["tags_to_set"] = dict(wanted_tags)
            plan.append(step)
            continue
        if existing["type"] == "SecureString" and entry["type"] != "SecureString":
            refused.append(name)
        if existing["type"] != entry["type"]:
            step["fields"].append("type")
        if existing["value"] != entry["value"]:
            step["fields"].append("value")
        step["put"] = bool(step["fields"])
        if wanted_tags is not None:
            to_set, to_unset, _final = plan_tags(existing.get("tags"), wanted_tags, purge_tags)
            step.update(tags_to_set=to_set, tags_to_unset=to_unset)
            if to_set or to_unset:
                step["fields"].append("tags")
        if step["fields"]:
            step["action"] = "updated"
        plan.append(step)
    return plan, refused


def shown(entry_type, value):
    """A value as diff mode shows it: SecureString values are masked."""
    return MASK if entry_type == "SecureString" else value


def read_parameters(client, names, decrypt):
    """The existing parameters of ``names``: full name -> {"value", "type", "version"}."""
    found = {}
    for start in range(0, len(names), BATCH):
        response = client.get_parameters(
            Names=names[start : start + BATCH], WithDecryption=decrypt, aws_retry=True
        )
        for parameter in response.get("Parameters", []):
            found[parameter["Name"]] = {
                "value": parameter.get("Value"),
                "type": parameter["Type"],
                "version": parameter.get("Version"),
            }
    return found


def read_tags(client, name):
    response = client.list_tags_for_resource(
        ResourceType="Parameter", ResourceId=name, aws_retry=True
    )
    return boto3_tag_list_to_ansible_dict(response.get("TagList") or [])


def put_parameter(client, name, entry, key_id, overwrite, tags):
    params = {"Name": name, "Value": entry["value"], "Type": entry["type"]}
    if entry["type"] == "SecureString":
        params["KeyId"] = key_id
    if overwrite:
        # PutParameter refuses Tags together with Overwrite; tags of an existing parameter are
        # changed with AddTagsToResource instead.
        params["Overwrite"] = True
    elif tags:
        params["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    return client.put_parameter(aws_retry=True, **params)


def fail_refused(module, refused):
    module.fail_json(
        msg="Refusing to change the type of "
        + ", ".join(refused)
        + " from SecureString to String: that would store a secret as plain text. Keep type "
        "SecureString, or delete the parameter first if it really is not secret."
    )


def ensure_present(module, client, entries):
    params = module.params
    wanted_tags = None
    if params["tags"] is not None:
        wanted_tags = {str(k): str(v) for k, v in params["tags"].items()}
    names = list(entries)
    try:
        current = read_parameters(client, names, decrypt=True)
        if wanted_tags is not None:
            for name, existing in current.items():
                existing["tags"] = read_tags(client, name)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to read the parameters under {params['path']}")

    plan, refused = plan_changes(entries, current, wanted_tags, params["purge_tags"])
    if refused:
        # Still fully masked: the values of the refused parameters are secrets.
        fail_refused(module, refused)
    unmask_plain_values(module, entries)

    versions = {}
    for step in plan:
        name = step["name"]
        existing = current.get(name)
        version = existing["version"] if existing else 0
        if step["put"]:
            version += 1
        if not module.check_mode:
            try:
                if step["put"]:
                    response = put_parameter(
                        client,
                        name,
                        entries[name],
                        params["key_id"],
                        overwrite=existing is not None,
                        tags=step["tags_to_set"],
                    )
                    version = response.get("Version", version)
                if existing is not None and step["tags_to_unset"]:
                    client.remove_tags_from_resource(
                        ResourceType="Parameter",
                        ResourceId=name,
                        TagKeys=step["tags_to_unset"],
                        aws_retry=True,
                    )
                if existing is not None and step["tags_to_set"]:
                    client.add_tags_to_resource(
                        ResourceType="Parameter",
                        ResourceId=name,
                        Tags=ansible_dict_to_boto3_tag_list(step["tags_to_set"]),
                        aws_retry=True,
                    )
            except BOTO_ERRORS as e:
                module.fail_json_aws(e, msg=f"Failed to write the parameter {name}")
        versions[name] = version

    changes = [
        {"name": s["name"], "action": s["action"], "fields": s["fields"]}
        for s in plan
        if s["action"]
    ]
    result = {
        "changed": bool(changes),
        "changes": changes,
        "parameters": [
            {"name": s["name"], "type": s["type"], "version": versions[s["name"]]} for s in plan
        ],
    }
    if module._diff:
        result["diff"] = present_diff(entries, current, plan, versions, wanted_tags is not None)
    module.exit_json(**result)


def present_diff(entries, current, plan, versions, with_tags):
    before, after = {}, {}
    for step in plan:
        name = step["name"]
        existing = current.get(name)
        if existing is not None:
            before[name] = {
                "type": existing["type"],
                "value": shown(existing["type"], existing["value"]),
                "version": existing["version"],
            }
            if with_tags:
                before[name]["tags"] = dict(existing.get("tags") or {})
        entry = entries[name]
        after[name] = {
            "type": entry["type"],
            "value": shown(entry["type"], entry["value"]),
            "version": versions[name],
        }
        if with_tags:
            tags = dict((existing or {}).get("tags") or {})
            for key in step["tags_to_unset"]:
                tags.pop(key, None)
            tags.update(step["tags_to_set"])
            after[name]["tags"] = tags
    return {"before": before, "after": after}


def ensure_absent(module, client, entries):
    unmask_plain_values(module, entries)
    names = list(entries)
    current = {}
    if module.check_mode or module._diff:
        try:
            # Only names, types and versions are needed: no decryption, no kms:Decrypt.
            current = read_parameters(client, names, decrypt=False)
        except BOTO_ERRORS as e:
            module.fail_json_aws(
                e, msg=f"Failed to read the parameters under {module.params['path']}"
            )
    if module.check_mode:
        deleted = set(current)
    else:
        deleted = set()
        for start in range(0, len(names), BATCH):
            batch = names[start : start + BATCH]
            try:
                response = client.delete_parameters(Names=batch, aws_retry=True)
            except BOTO_ERRORS as e:
                module.fail_json_aws(e, msg="Failed to delete the parameters " + ", ".join(batch))
            deleted.update(response.get("DeletedParameters", []))
    changes = [{"name": n, "action": "deleted", "fields": []} for n in names if n in deleted]
    result = {"changed": bool(changes), "changes": changes}
    if module._diff:
        result["diff"] = {
            "before": {
                name: {
                    "type": p["type"],
                    "value": shown(p["type"], p["value"]),
                    "version": p["version"],
                }
                for name, p in current.items()
            },
            "after": {},
        }
    module.exit_json(**result)


def main():
    argument_spec = dict(
        path=dict(type="str", required=True),
        # Values are secrets: the whole option is no_log (see unmask_plain_values).
        parameters=dict(type="dict", required=True, no_log=True),
        key_id=dict(type="str", default="alias/aws/ssm"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    entries, errors = validate_entries(params["path"], params["parameters"], params["state"])
    if errors:
        module.fail_json(msg="Invalid parameters: " + "; ".join(errors))
    client = module.client("ssm", retry_decorator=AWSRetry.jittered_backoff())
    if params["state"] == "present":
        ensure_present(module, client, entries)
    else:
        ensure_absent(module, client, entries)


if __name__ == "__main__":
    main()
