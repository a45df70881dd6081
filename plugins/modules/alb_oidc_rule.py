#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: alb_oidc_rule
version_added: 0.1.0
short_description: Manage one OIDC-authenticated listener rule on an Application Load Balancer
description:
  - Creates, updates or deletes one listener rule on an ALB HTTPS listener. The rule matches
    O(host_headers) and has exactly two actions, C(authenticate-oidc) (order 1) and C(forward)
    to O(target_group_arn) (order 2).
  - Unlike M(amazon.aws.elb_application_lb), the module is idempotent B(and) applies a rotated
    OIDC client secret. AWS never returns C(ClientSecret) when describing a rule, so the module
    keeps a salted PBKDF2-SHA256 fingerprint of the secret it last applied in the rule tag
    C(leverslabs:oidc-client-secret-fingerprint), and compares O(oidc.client_secret) against that
    fingerprint. The module never reads, returns or logs the secret itself.
  - The rule is found by O(priority) on O(listener_arn). If no rule has that priority, a rule
    whose host-header values equal O(host_headers) exactly is taken instead and moved to
    O(priority). The rule found at O(priority) is considered owned by this task and is
    overwritten. The listener's default rule is never touched.
  - The fingerprint tag counts towards the AWS limit of 10 tags per rule.
author:
  - Levers Labs platform team (@leverslabs)
options:
  listener_arn:
    description:
      - ARN of the listener (normally HTTPS) that holds the rule.
    type: str
    required: true
  priority:
    description:
      - Priority of the rule on the listener, from V(1) to V(50000).
      - Required when O(state=present). With O(state=absent), at least one of O(priority) and
        O(host_headers) is required.
    type: int
  host_headers:
    description:
      - Host names the rule matches (one C(host-header) condition). Order does not matter.
      - Required when O(state=present).
    type: list
    elements: str
  target_group_arn:
    description:
      - ARN of the target group that authenticated requests are forwarded to.
      - Required when O(state=present).
    type: str
  state:
    description:
      - Whether the rule should exist.
    type: str
    choices: ['present', 'absent']
    default: present
  oidc:
    description:
      - Settings of the C(authenticate-oidc) action.
      - Required when O(state=present).
    type: dict
    suboptions:
      issuer:
        description:
          - The OIDC issuer identifier of the identity provider.
        type: str
        required: true
      authorization_endpoint:
        description:
          - The authorization endpoint of the identity provider.
        type: str
        required: true
      token_endpoint:
        description:
          - The token endpoint of the identity provider.
        type: str
        required: true
      user_info_endpoint:
        description:
          - The user info endpoint of the identity provider.
        type: str
        required: true
      client_id:
        description:
          - The OAuth 2.0 client identifier.
        type: str
        required: true
      client_secret:
        description:
          - The OAuth 2.0 client secret.
          - Write-only in AWS. Whether it is sent is decided by O(client_secret_update).
        type: str
        required: true
      session_cookie_name:
        description:
          - Name of the cookie that keeps the authentication session.
        type: str
        default: AWSELBAuthSessionCookie
      session_timeout:
        description:
          - Maximum duration of the authentication session, in seconds.
        type: int
        default: 604800
      scope:
        description:
          - Space-separated set of user claims requested from the identity provider.
        type: str
        default: openid email profile
      on_unauthenticated_request:
        description:
          - What the load balancer does with a request from an unauthenticated user.
        type: str
        choices: ['deny', 'allow', 'authenticate']
        default: authenticate
      authentication_request_extra_params:
        description:
          - Up to 10 query parameters added to the redirect to the authorization endpoint.
        type: dict
        default: {}
  client_secret_update:
    description:
      - When the module sends O(oidc.client_secret) to AWS on an existing rule.
      - V(on_change) sends it when it does not match the fingerprint the module stored on the
        rule, or when the rule has no fingerprint yet (for example a rule created by hand), so
        such a rule reports a change once.
      - V(always) sends it, and reports a change, on every run.
      - V(never) keeps the secret AWS holds. The secret is still sent when the rule is created,
        or when the existing rule has no C(authenticate-oidc) action to keep a secret from.
    type: str
    choices: ['on_change', 'always', 'never']
    default: on_change
notes:
  - The fingerprint has the form C(pbkdf2-sha256:<iterations>:<salt-hex>:<digest-hex>), with a new
    random salt on every write. It lets anyone allowed to read the rule's tags test guesses of the
    secret, at the cost of one PBKDF2 run per guess; use a long random client secret.
  - Supports check mode and diff mode. In the diff the client secret appears only as a marker,
    V(<hidden>) or V(<will be updated>).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Sign users in through Auth0 before forwarding to the Dagster webserver
  leverslabs.asset_manager.alb_oidc_rule:
    listener_arn: "{{ https_listener_arn }}"
    priority: 100
    host_headers:
      - dg.example.com
    target_group_arn: "{{ web_target_group_arn }}"
    oidc:
      issuer: https://example.eu.auth0.com/
      authorization_endpoint: https://example.eu.auth0.com/authorize
      token_endpoint: https://example.eu.auth0.com/oauth/token
      user_info_endpoint: https://example.eu.auth0.com/userinfo
      client_id: "{{ auth0_client_id }}"
      client_secret: "{{ vault_auth0_client_secret }}"
    tags:
      Application: asset-manager
  no_log: true

- name: Change rule settings without ever re-sending the client secret
  leverslabs.asset_manager.alb_oidc_rule:
    listener_arn: "{{ https_listener_arn }}"
    priority: 100
    host_headers:
      - dg.example.com
    target_group_arn: "{{ web_target_group_arn }}"
    client_secret_update: never
    oidc:
      issuer: https://example.eu.auth0.com/
      authorization_endpoint: https://example.eu.auth0.com/authorize
      token_endpoint: https://example.eu.auth0.com/oauth/token
      user_info_endpoint: https://example.eu.auth0.com/userinfo
      client_id: "{{ auth0_client_id }}"
      client_secret: "{{ vault_auth0_client_secret }}"
      session_timeout: 43200
  no_log: true

- name: Remove the rule
  leverslabs.asset_manager.alb_oidc_rule:
    listener_arn: "{{ https_listener_arn }}"
    priority: 100
    state: absent
"""

RETURN = r"""
rule_arn:
  description: ARN of the rule. V(null) when the rule is absent, or would be created in check mode.
  returned: always
  type: str
  sample: "arn:aws:elasticloadbalancing:us-west-1:123456789012:listener-rule/app/alb/1a2b/3c4d/5e6f"
secret_updated:
  description: Whether the client secret was (or, in check mode, would be) sent to AWS.
  returned: always
  type: bool
  sample: false
changes:
  description: Names of the settings that differ (or differed) from the wanted state.
  returned: always
  type: list
  elements: str
  sample: ["client_secret", "oidc.session_timeout"]
rule:
  description:
    - The rule after the run (in check mode, as it would be), normalised. Never holds the client
      secret nor its fingerprint. Empty when the rule is absent.
  returned: always
  type: dict
  contains:
    priority:
      description: Priority of the rule.
      type: int
      sample: 100
    host_headers:
      description: Host names the rule matches, sorted.
      type: list
      elements: str
      sample: ["dg.example.com"]
    target_group_arn:
      description: The target group the rule forwards to.
      type: str
      sample: arn:aws:elasticloadbalancing:us-west-1:123456789012:targetgroup/web/73e2d6bc24d8a067
    oidc:
      description: The C(authenticate-oidc) settings, without the client secret.
      type: dict
      sample:
        issuer: https://example.eu.auth0.com/
        authorization_endpoint: https://example.eu.auth0.com/authorize
        token_endpoint: https://example.eu.auth0.com/oauth/token
        user_info_endpoint: https://example.eu.auth0.com/userinfo
        client_id: abc123
        session_cookie_name: AWSELBAuthSessionCookie
        session_timeout: 604800
        scope: openid email profile
        on_unauthenticated_request: authenticate
        authentication_request_extra_params: {}
    tags:
      description: Tags of the rule, without the fingerprint tag.
      type: dict
      sample: {"Application": "asset-manager"}
    unmanaged:
      description:
        - Conditions, actions or transforms of an existing rule that this module does not manage
          (they are removed on update). Present only when there are some.
      type: dict
      returned: when the rule has settings the module does not manage
"""

import hashlib
import hmac
import json
import os
import re
import traceback
from urllib.parse import quote, quote_plus

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)

FINGERPRINT_TAG = "leverslabs:oidc-client-secret-fingerprint"
FINGERPRINT_SCHEME = "pbkdf2-sha256"
# About 0.1 s per run; each guess at the secret costs an attacker the same.
FINGERPRINT_ITERATIONS = 150_000
# Bounds on what a stored fingerprint may claim, so an edited tag cannot stall the module.
FINGERPRINT_MIN_ITERATIONS = 10_000
FINGERPRINT_MAX_ITERATIONS = 2_000_000
FINGERPRINT_SALT_BYTES = 16
# ELBv2 tag values allow only letters, digits, spaces and _.:/=+-@, so "$" cannot separate fields.
FINGERPRINT_RE = re.compile(r"^pbkdf2-sha256:(\d{1,9}):([0-9a-f]{16,64}):([0-9a-f]{64})$")

SECRET_HIDDEN = "<hidden>"
SECRET_WILL_UPDATE = "<will be updated>"
MASK = "********"

OIDC_KEYS = {
    "issuer": "Issuer",
    "authorization_endpoint": "AuthorizationEndpoint",
    "token_endpoint": "TokenEndpoint",
    "user_info_endpoint": "UserInfoEndpoint",
    "client_id": "ClientId",
    "session_cookie_name": "SessionCookieName",
    "session_timeout": "SessionTimeout",
    "scope": "Scope",
    "on_unauthenticated_request": "OnUnauthenticatedRequest",
    "authentication_request_extra_params": "AuthenticationRequestExtraParams",
}
# What AWS applies when a field is omitted; a rule created elsewhere may not describe them.
OIDC_AWS_DEFAULTS = {
    "session_cookie_name": "AWSELBAuthSessionCookie",
    "session_timeout": 604800,
    "scope": "openid",
    "on_unauthenticated_request": "authenticate",
    "authentication_request_extra_params": {},
}


# ---------------------------------------------------------------------------------------------
# Fingerprint of the client secret


def fingerprint_secret(secret, salt=None, iterations=FINGERPRINT_ITERATIONS):
    """Return a salted PBKDF2-SHA256 fingerprint of ``secret``, safe to store in a tag."""
    if salt is None:
        salt = os.urandom(FINGERPRINT_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, iterations)
    return f"{FINGERPRINT_SCHEME}:{iterations}:{salt.hex()}:{digest.hex()}"


def fingerprint_matches(secret, fingerprint):
    """Whether ``fingerprint`` was made from ``secret``; False for a missing or malformed one."""
    if not fingerprint:
        return False
    match = FINGERPRINT_RE.match(fingerprint)
    if not match:
        return False
    iterations = int(match.group(1))
    if not FINGERPRINT_MIN_ITERATIONS <= iterations <= FINGERPRINT_MAX_ITERATIONS:
        return False
    salt = bytes.fromhex(match.group(2))
    expected = fingerprint_secret(secret, salt=salt, iterations=iterations)
    return hmac.compare_digest(expected, fingerprint)


# ---------------------------------------------------------------------------------------------
# Normalised rule: one shape for what is wanted and what AWS describes


def build_desired(params):
    """The normalised rule the task asks for (never holds the client secret)."""
    oidc = params["oidc"]
    extra = oidc.get("authentication_request_extra_params") or {}
    return {
        "priority": params["priority"],
        "host_headers": sorted(set(params["host_headers"])),
        "target_group_arn": params["target_group_arn"],
        "oidc": {
            "issuer": oidc["issuer"],
            "authorization_endpoint": oidc["authorization_endpoint"],
            "token_endpoint": oidc["token_endpoint"],
            "user_info_endpoint": oidc["user_info_endpoint"],
            "client_id": oidc["client_id"],
            "session_cookie_name": oidc["session_cookie_name"],
            "session_timeout": int(oidc["session_timeout"]),
            "scope": oidc["scope"],
            "on_unauthenticated_request": oidc["on_unauthenticated_request"],
            "authentication_request_extra_params": _strings(extra),
        },
        "tags": None if params["tags"] is None else _strings(params["tags"]),
    }


def _strings(mapping):
    # AWS stores tag values and extra params as strings; YAML may have given ints or bools.
    return {str(key): str(value) for key, value in mapping.items()}


def split_tags(tags):
    """Split a rule's tags into (tags the user manages, stored secret fingerprint or None)."""
    user_tags = dict(tags or {})
    fingerprint = user_tags.pop(FINGERPRINT_TAG, None)
    return user_tags, fingerprint


def _normalise_priority(priority):
    try:
        return int(priority)
    except (TypeError, ValueError):
        return priority  # "default"


def _normalise_oidc(config):
    # Pick known keys only: ClientSecret and UseExistingClientSecret must never be carried along,
    # even if some endpoint echoed them.
    oidc = {}
    for key, api_key in OIDC_KEYS.items():
        value = config.get(api_key)
        oidc[key] = OIDC_AWS_DEFAULTS.get(key) if value is None else value
    oidc["session_timeout"] = int(oidc["session_timeout"])
    oidc["authentication_request_extra_params"] = dict(oidc["authentication_request_extra_params"])
    return oidc


def _forward_target(action):
    """The single target group of a plain forward action, or None for anything fancier."""
    config = action.get("ForwardConfig")
    if config is None:
        return action.get("TargetGroupArn")
    groups = config.get("TargetGroups") or []
    if len(groups) != 1 or (config.get("TargetGroupStickinessConfig") or {}).get("Enabled"):
        return None
    arn = groups[0].get("TargetGroupArn")
    if action.get("TargetGroupArn") not in (None, arn):
        return None
    return arn


def normalise_rule(rule, user_tags):
    """Normalise a rule as DescribeRules returns it (AWS's shape or moto's) to build_desired's."""
    host_headers = set()
    unmanaged_conditions = []
    for condition in rule.get("Conditions") or []:
        if condition.get("Field") != "host-header":
            unmanaged_conditions.append(condition)
            continue
        config = condition.get("HostHeaderConfig") or {}
        if config.get("RegexValues"):
            unmanaged_conditions.append(condition)
        # AWS describes the values twice, in Values and in HostHeaderConfig.Values.
        host_headers.update(condition.get("Values") or [])
        host_headers.update(config.get("Values") or [])

    oidc = None
    target_group_arn = None
    unmanaged_actions = []
    actions = sorted(rule.get("Actions") or [], key=lambda action: action.get("Order") or 0)
    for index, action in enumerate(actions, start=1):
        kind = action.get("Type")
        if kind == "authenticate-oidc" and index == 1 and oidc is None:
            oidc = _normalise_oidc(action.get("AuthenticateOidcConfig") or {})
        elif kind == "forward" and index == 2 and target_group_arn is None:
            target_group_arn = _forward_target(action)
            if target_group_arn is None:
                unmanaged_actions.append(action)
        else:
            unmanaged_actions.append(_without_secret(action))

    normalised = {
        "priority": _normalise_priority(rule.get("Priority")),
        "host_headers": sorted(host_headers),
        "target_group_arn": target_group_arn,
        "oidc": oidc,
        "tags": dict(user_tags or {}),
    }
    unmanaged = {}
    if unmanaged_conditions:
        unmanaged["conditions"] = unmanaged_conditions
    if unmanaged_actions:
        unmanaged["actions"] = unmanaged_actions
    if rule.get("Transforms"):
        unmanaged["transforms"] = rule["Transforms"]
    if unmanaged:
        normalised["unmanaged"] = unmanaged
    return normalised


def _without_secret(action):
    config = action.get("AuthenticateOidcConfig")
    if config is None:
        return action
    return {**action, "AuthenticateOidcConfig": _normalise_oidc(config)}


def find_rule(rules, priority, host_headers):
    """Pick the rule this task owns: by priority, else by an exact host-header match.

    Never returns the listener's default rule. Raises ValueError when the host headers match
    several rules, because picking one of them would be a guess.
    """
    candidates = [rule for rule in rules if not rule.get("IsDefault")]
    if priority is not None:
        for rule in candidates:
            if _normalise_priority(rule.get("Priority")) == priority:
                return rule
    if not host_headers:
        return None
    wanted = sorted(set(host_headers))
    matches = [rule for rule in candidates if normalise_rule(rule, {})["host_headers"] == wanted]
    if len(matches) > 1:
        arns = ", ".join(rule["RuleArn"] for rule in matches)
        raise ValueError(f"several rules match host headers {wanted}: {arns}")
    return matches[0] if matches else None


def compare_rule(
    desired,
    current,
    client_secret,
    fingerprint,
    client_secret_update="on_change",
    purge_tags=True,
):
    """Work out what must change to turn ``current`` into ``desired``. Pure: no AWS calls.

    ``current`` is None when there is no rule. Returns a dict:
      changes: sorted names of what differs ("create", "priority", "oidc.scope", "client_secret",
               "tags", ...); empty when nothing does;
      create, set_priority, modify_rule, send_secret: bools;
      tags_to_set (dict), tags_to_unset (list): user tags to write and remove.
    """
    plan = {
        "changes": [],
        "create": False,
        "set_priority": False,
        "modify_rule": False,
        "send_secret": False,
        "tags_to_set": {},
        "tags_to_unset": [],
    }
    if current is None:
        plan.update(create=True, send_secret=True, changes=["create"])
        plan["tags_to_set"] = dict(desired.get("tags") or {})
        return plan

    changes = []
    if desired["priority"] != current["priority"]:
        changes.append("priority")
        plan["set_priority"] = True

    rule_changes = []
    for key in ("host_headers", "target_group_arn"):
        if desired[key] != current[key]:
            rule_changes.append(key)
    if current["oidc"] is None:
        rule_changes.append("oidc")
    else:
        for key, value in desired["oidc"].items():
            if current["oidc"].get(key) != value:
                rule_changes.append(f"oidc.{key}")
    if current.get("unmanaged"):
        rule_changes.append("unmanaged")

    # Without an OIDC action on the rule there is no secret to keep, whatever the mode says.
    if current["oidc"] is None or client_secret_update == "always":
        send_secret = True
    elif client_secret_update == "never":
        send_secret = False
    else:
        send_secret = not fingerprint_matches(client_secret, fingerprint)
    if send_secret:
        changes.append("client_secret")

    if desired.get("tags") is not None:
        to_set, to_unset = compare_aws_tags(current["tags"], desired["tags"], purge_tags)
        if to_set or to_unset:
            changes.append("tags")
            plan["tags_to_set"], plan["tags_to_unset"] = to_set, sorted(to_unset)

    plan["changes"] = sorted(changes + rule_changes)
    plan["modify_rule"] = bool(rule_changes) or send_secret
    plan["send_secret"] = send_secret
    return plan


def predict_rule(desired, current, plan):
    """The normalised rule as it will be once ``plan`` is applied."""
    after = {key: value for key, value in desired.items() if key != "tags"}
    after["oidc"] = dict(desired["oidc"])
    tags = dict(current["tags"]) if current else {}
    for key in plan["tags_to_unset"]:
        tags.pop(key, None)
    tags.update(plan["tags_to_set"])
    after["tags"] = tags
    return after


def diff_view(rule, secret_marker):
    """A copy of a normalised rule for diff output, the secret shown only as a marker."""
    if not rule:
        return {}
    view = json.loads(json.dumps(rule))
    if view.get("oidc") is not None:
        view["oidc"]["client_secret"] = secret_marker
    return view


# ---------------------------------------------------------------------------------------------
# API request shapes


def build_conditions(desired):
    return [{"Field": "host-header", "HostHeaderConfig": {"Values": desired["host_headers"]}}]


def build_actions(desired, client_secret, send_secret):
    config = {OIDC_KEYS[key]: value for key, value in desired["oidc"].items()}
    if send_secret:
        config["ClientSecret"] = client_secret
    else:
        config["UseExistingClientSecret"] = True
    return [
        {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": config},
        {"Type": "forward", "Order": 2, "TargetGroupArn": desired["target_group_arn"]},
    ]


# ---------------------------------------------------------------------------------------------
# AWS calls


def describe_rules(client, listener_arn):
    rules = []
    kwargs = {"ListenerArn": listener_arn, "PageSize": 100}
    while True:
        page = client.describe_rules(aws_retry=True, **kwargs)
        rules.extend(page.get("Rules", []))
        if not page.get("NextMarker"):
            return rules
        kwargs["Marker"] = page["NextMarker"]


def describe_rule(client, rule_arn):
    return client.describe_rules(RuleArns=[rule_arn], aws_retry=True)["Rules"][0]


def describe_rule_tags(client, rule_arn):
    descriptions = client.describe_tags(ResourceArns=[rule_arn], aws_retry=True)["TagDescriptions"]
    tags = descriptions[0].get("Tags", []) if descriptions else []
    return boto3_tag_list_to_ansible_dict(tags)


def create_rule(client, listener_arn, priority, conditions, actions, tags):
    kwargs = {
        "ListenerArn": listener_arn,
        "Priority": priority,
        "Conditions": conditions,
        "Actions": actions,
    }
    if tags:
        kwargs["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    return client.create_rule(aws_retry=True, **kwargs)["Rules"][0]


def modify_rule(client, rule_arn, conditions, actions, reset_transforms):
    kwargs = {"RuleArn": rule_arn, "Conditions": conditions, "Actions": actions}
    if reset_transforms:
        kwargs["ResetTransforms"] = True
    return client.modify_rule(aws_retry=True, **kwargs)


def set_rule_priority(client, rule_arn, priority):
    return client.set_rule_priorities(
        RulePriorities=[{"RuleArn": rule_arn, "Priority": priority}], aws_retry=True
    )


def add_tags(client, rule_arn, tags):
    return client.add_tags(
        ResourceArns=[rule_arn], Tags=ansible_dict_to_boto3_tag_list(tags), aws_retry=True
    )


def remove_tags(client, rule_arn, keys):
    return client.remove_tags(ResourceArns=[rule_arn], TagKeys=list(keys), aws_retry=True)


def delete_rule(client, rule_arn):
    return client.delete_rule(RuleArn=rule_arn, aws_retry=True)


# ---------------------------------------------------------------------------------------------
# Keeping the secret out of every output


def scrub(text, secret):
    """``text`` with every spelling of ``secret`` an error message might carry masked."""
    text = str(text)
    if not secret:
        return text
    spellings = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for spelling in sorted(spellings, key=len, reverse=True):
        if spelling:
            text = text.replace(spelling, MASK)
    return text


def fail_scrubbed(module, exception, msg, secret):
    """fail_json for an exception, with the secret removed from everything returned.

    fail_json_aws would return the exception text, the traceback and the raw response as they
    are; an AWS or botocore error about a request carrying the secret could quote it.
    """
    details = {"exception": scrub(traceback.format_exc(), secret)}
    response = getattr(exception, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        metadata = response.get("ResponseMetadata") or {}
        details["error"] = {
            "code": scrub(error.get("Code", ""), secret),
            "message": scrub(error.get("Message", ""), secret),
        }
        details["response_metadata"] = {
            "request_id": metadata.get("RequestId"),
            "http_status_code": metadata.get("HTTPStatusCode"),
        }
    module.fail_json(msg=scrub(f"{msg}: {exception}", secret), **details)


# ---------------------------------------------------------------------------------------------
# States


def ensure_absent(module, client, rule):
    result = {"changed": False, "rule_arn": None, "rule": {}, "secret_updated": False}
    if rule is None:
        result["changes"] = []
        return result
    before = normalise_rule(rule, split_tags(describe_rule_tags(client, rule["RuleArn"]))[0])
    result.update(changed=True, changes=["delete"])
    if module._diff:
        result["diff"] = {"before": diff_view(before, SECRET_HIDDEN), "after": {}}
    if not module.check_mode:
        delete_rule(client, rule["RuleArn"])
    return result


def ensure_present(module, client, rule):
    params = module.params
    secret = params["oidc"]["client_secret"]
    desired = build_desired(params)

    current, fingerprint = None, None
    if rule is not None:
        user_tags, fingerprint = split_tags(describe_rule_tags(client, rule["RuleArn"]))
        current = normalise_rule(rule, user_tags)

    plan = compare_rule(
        desired,
        current,
        secret,
        fingerprint,
        client_secret_update=params["client_secret_update"],
        purge_tags=params["purge_tags"],
    )
    changed = bool(plan["changes"])
    after = predict_rule(desired, current, plan)
    rule_arn = rule["RuleArn"] if rule else None

    result = {
        "changed": changed,
        "changes": plan["changes"],
        "secret_updated": plan["send_secret"],
    }
    if module._diff:
        before_marker = SECRET_HIDDEN
        after_marker = SECRET_WILL_UPDATE if plan["send_secret"] else SECRET_HIDDEN
        result["diff"] = {
            "before": diff_view(current, before_marker),
            "after": diff_view(after, after_marker),
        }

    if changed and not module.check_mode:
        conditions = build_conditions(desired)
        actions = build_actions(desired, secret, plan["send_secret"])
        if plan["create"]:
            tags = dict(plan["tags_to_set"])
            tags[FINGERPRINT_TAG] = fingerprint_secret(secret)
            rule_arn = create_rule(
                client, params["listener_arn"], desired["priority"], conditions, actions, tags
            )["RuleArn"]
        else:
            if plan["set_priority"]:
                set_rule_priority(client, rule_arn, desired["priority"])
            if plan["modify_rule"]:
                reset_transforms = bool((current.get("unmanaged") or {}).get("transforms"))
                modify_rule(client, rule_arn, conditions, actions, reset_transforms)
            tags_to_set = dict(plan["tags_to_set"])
            if plan["send_secret"]:
                # Written after the secret is applied: if this fails, the next run re-applies.
                tags_to_set[FINGERPRINT_TAG] = fingerprint_secret(secret)
            if plan["tags_to_unset"]:
                remove_tags(client, rule_arn, plan["tags_to_unset"])
            if tags_to_set:
                add_tags(client, rule_arn, tags_to_set)
        user_tags, _fingerprint = split_tags(describe_rule_tags(client, rule_arn))
        after = normalise_rule(describe_rule(client, rule_arn), user_tags)

    result.update(rule_arn=rule_arn, rule=after)
    return result


class RuleLookupError(Exception):
    """The listener or the rule to manage cannot be found unambiguously."""


def run(module, client):
    params = module.params
    try:
        rules = describe_rules(client, params["listener_arn"])
    except botocore.exceptions.ClientError as e:
        if e.response.get("Error", {}).get("Code") == "ListenerNotFound":
            raise RuleLookupError(f"listener {params['listener_arn']} not found") from None
        raise
    try:
        rule = find_rule(rules, params["priority"], params["host_headers"])
    except ValueError as e:
        raise RuleLookupError(f"cannot tell which rule to manage: {e}") from None
    if params["state"] == "absent":
        return ensure_absent(module, client, rule)
    return ensure_present(module, client, rule)


def main():
    oidc_options = dict(
        issuer=dict(type="str", required=True),
        authorization_endpoint=dict(type="str", required=True),
        # A URL, not a token: no_log=False tells Ansible (and validate-modules) so.
        token_endpoint=dict(type="str", required=True, no_log=False),
        user_info_endpoint=dict(type="str", required=True),
        client_id=dict(type="str", required=True),
        client_secret=dict(type="str", required=True, no_log=True),
        session_cookie_name=dict(type="str", default="AWSELBAuthSessionCookie"),
        session_timeout=dict(type="int", default=604800),
        scope=dict(type="str", default="openid email profile"),
        on_unauthenticated_request=dict(
            type="str", default="authenticate", choices=["deny", "allow", "authenticate"]
        ),
        authentication_request_extra_params=dict(type="dict", default={}),
    )
    argument_spec = dict(
        listener_arn=dict(type="str", required=True),
        priority=dict(type="int"),
        host_headers=dict(type="list", elements="str"),
        target_group_arn=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        oidc=dict(type="dict", options=oidc_options),
        client_secret_update=dict(
            type="str", default="on_change", choices=["on_change", "always", "never"]
        ),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AssetManagerModule(
        argument_spec=argument_spec,
        required_if=[
            ("state", "present", ["priority", "host_headers", "target_group_arn", "oidc"]),
            ("state", "absent", ["priority", "host_headers"], True),
        ],
        supports_check_mode=True,
    )
    params = module.params
    secret = (params["oidc"] or {}).get("client_secret")

    if params["priority"] is not None and not 1 <= params["priority"] <= 50000:
        module.fail_json(msg="priority must be between 1 and 50000")
    if params["state"] == "present" and not params["host_headers"]:
        module.fail_json(msg="host_headers must name at least one host")
    if params["tags"] and FINGERPRINT_TAG in params["tags"]:
        module.fail_json(msg=f"the tag {FINGERPRINT_TAG} is reserved for the module")

    try:
        client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
        result = run(module, client)
    except RuleLookupError as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        fail_scrubbed(module, e, "listener rule request failed", secret)
    except Exception as e:  # whatever it is, what it says must not carry the secret
        fail_scrubbed(module, e, "unexpected error managing the listener rule", secret)

    module.exit_json(**result)


if __name__ == "__main__":
    main()
