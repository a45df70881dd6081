#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: alb_load_balancer
version_added: 0.2.0
short_description: Converge an ALB and its listeners, with exact check and diff mode
description:
  - Creates an Application Load Balancer or converges an existing one on its subnets, security
    groups, IP address type, attributes, tags, listeners (protocol, SSL policy, default
    certificate and default actions) and its AWS WAF (v2) web ACL. Listener rules are not
    managed.
  - Unlike M(amazon.aws.elb_application_lb), whose check mode stops at the first difference and
    shows no diff, the module compares every managed setting, reports all of them in
    RV(changes) and, in diff mode, shows them before and after. Check mode never writes.
  - Not given means not managed. An attribute that is not in O(attributes), or O(tags) or
    O(listeners) omitted, is neither compared nor written.
  - Default actions are compared as AWS describes them, with its defaults filled in (a redirect's
    unnamed URI components, a single-target-group forward's C(ForwardConfig)), so a rerun is
    idempotent.
  - AWS cannot change a load balancer's scheme in place; when it differs the module fails before
    any write.
options:
  name:
    description:
      - Name of the load balancer.
    type: str
    required: true
  scheme:
    description:
      - V(internet-facing) or V(internal).
    type: str
    choices: [internet-facing, internal]
    default: internet-facing
  ip_address_type:
    description:
      - The IP address type. Omitted, not managed (AWS creates V(ipv4)).
    type: str
    choices: [ipv4, dualstack, dualstack-without-public-ipv4]
  subnets:
    description:
      - IDs of the subnets, compared regardless of order. Required to create the load balancer.
      - Omitted on an existing load balancer, its subnets are kept.
    type: list
    elements: str
  security_groups:
    description:
      - IDs of the security groups, compared regardless of order. Omitted, not managed.
    type: list
    elements: str
  attributes:
    description:
      - Load balancer attributes by their AWS key, for example
        C(routing.http.drop_invalid_header_fields.enabled). Values are compared as AWS reports
        them (strings; V(true) and V(false) for booleans). Only the keys given are managed.
    type: dict
    default: {}
  listeners:
    description:
      - The listeners, by port. Omitted, listeners are not managed.
    type: list
    elements: dict
    suboptions:
      port:
        description: Port of the listener.
        type: int
        required: true
      protocol:
        description: Protocol of the listener.
        type: str
        choices: [HTTP, HTTPS]
        required: true
      ssl_policy:
        description: Security policy of an HTTPS listener. Omitted, not managed.
        type: str
      certificate_arn:
        description: ARN of an HTTPS listener's default certificate. Omitted, not managed.
        type: str
      default_actions:
        description:
          - The default actions, in the shape of the C(DefaultActions) parameter of
            C(CreateListener) (C(Type), C(FixedResponseConfig), C(RedirectConfig),
            C(TargetGroupArn), C(ForwardConfig), C(Order)).
        type: list
        elements: dict
        required: true
  purge_listeners:
    description:
      - Delete the listeners on ports not in O(listeners).
    type: bool
    default: true
  tags:
    description:
      - Tags of the load balancer. Omitted, the tags are not read or changed.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove the tags that are not in O(tags).
    type: bool
    default: true
  web_acl_arn:
    description:
      - ARN of the regional AWS WAF (v2) web ACL associated with the load balancer; V("") for
        none (an associated one is removed). Omitted, the association is not read or changed
        (for example when AWS Firewall Manager associates web ACLs).
      - A web ACL that does not exist fails the run, naming it. Unlike
        M(community.aws.wafv2_resources), which takes the web ACL's name, reports no change
        when no web ACL has that name, and shows no diff.
    type: str
notes:
  - A no-op run makes four calls (DescribeLoadBalancers, DescribeLoadBalancerAttributes,
    DescribeListeners, DescribeTags); the last three only with O(attributes), O(listeners) and
    O(tags). With O(web_acl_arn), one more (WAFv2 GetWebACLForResource).
  - Writes the web ACL last (WAFv2 AssociateWebACL, or DisassociateWebACL for V("")).
  - Deleting the load balancer is M(amazon.aws.elb_application_lb)'s job.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Ensure the load balancer and its HTTPS and HTTP listeners
  leverslabs.asset_manager.alb_load_balancer:
    name: asset-manager-alb
    scheme: internet-facing
    ip_address_type: ipv4
    subnets: [subnet-0a, subnet-0b]
    security_groups: [sg-0123456789abcdef0]
    attributes:
      deletion_protection.enabled: true
      routing.http.drop_invalid_header_fields.enabled: true
    listeners:
      - port: 443
        protocol: HTTPS
        ssl_policy: ELBSecurityPolicy-TLS13-1-2-2021-06
        certificate_arn: arn:aws:acm:us-west-1:123456789012:certificate/0a1b2c3d
        default_actions:
          - Type: fixed-response
            FixedResponseConfig:
              StatusCode: "404"
              ContentType: text/plain
              MessageBody: Not Found
      - port: 80
        protocol: HTTP
        default_actions:
          - Type: redirect
            RedirectConfig: {Protocol: HTTPS, Port: "443", StatusCode: HTTP_301}
    tags:
      Application: asset-manager
"""

RETURN = r"""
load_balancer_arn:
  description: ARN of the load balancer; V(null) when check mode would create it.
  returned: always
  type: str
dns_name:
  description: DNS name of the load balancer; V(null) when check mode would create it.
  returned: always
  type: str
canonical_hosted_zone_id:
  description: Route 53 zone of the load balancer's DNS name (for alias records).
  returned: always
  type: str
listeners:
  description:
    - The listeners after this run, by port. In check mode, the existing listeners that are kept.
  returned: always
  type: list
  elements: dict
  contains:
    port:
      description: Port of the listener.
      type: int
    protocol:
      description: Protocol of the listener.
      type: str
    listener_arn:
      description: ARN of the listener.
      type: str
  sample:
    - port: 443
      protocol: HTTPS
      listener_arn: arn:aws:elasticloadbalancing:us-west-1:123456789012:listener/app/alb/1a2b/3c4d
changes:
  description:
    - The settings this run changed (in check mode, would change); V(load_balancer) on creation.
  returned: always
  type: list
  elements: str
  sample: [attributes.routing.http.drop_invalid_header_fields.enabled, listeners.443.ssl_policy]
diff:
  description: The managed settings before (V({}) when the load balancer did not exist) and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The settings as they were.
      type: dict
    after:
      description: The settings as this run leaves them.
      type: dict
"""

import copy

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
)

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    BOTO_ERRORS,
    AssetManagerModule,
)
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.elbv2 import (
    attribute_value,
    describe_tags,
    write_tags,
)
from ansible_collections.leverslabs.asset_manager.plugins.module_utils.tags import plan_tags

# What AWS describes for a redirect's URI components the request did not name.
REDIRECT_DEFAULTS = {
    "Protocol": "#{protocol}",
    "Port": "#{port}",
    "Host": "#{host}",
    "Path": "/#{path}",
    "Query": "#{query}",
}
# The settings of a listener the module compares, in the order the diff and RV(changes) list them.
LISTENER_SETTINGS = ("protocol", "ssl_policy", "certificate_arn", "default_actions")


# ---- boto3 calls ---------------------------------------------------------------------------


def describe_load_balancer(client, name):
    try:
        found = client.describe_load_balancers(Names=[name], aws_retry=True)["LoadBalancers"]
    except is_boto3_error_code("LoadBalancerNotFound"):
        return None
    return found[0] if found else None


def describe_attributes(client, arn):
    response = client.describe_load_balancer_attributes(LoadBalancerArn=arn, aws_retry=True)
    return {a["Key"]: a["Value"] for a in response.get("Attributes", [])}


def read_web_acl(waf, arn):
    """ARN of the web ACL associated with the load balancer ``arn``, or None."""
    found = waf.get_web_acl_for_resource(ResourceArn=arn, aws_retry=True).get("WebACL")
    return (found or {}).get("ARN")


def write_web_acl(waf, arn, web_acl_arn):
    if web_acl_arn:
        # Associating replaces the web ACL the load balancer had: it is never unprotected.
        waf.associate_web_acl(WebACLArn=web_acl_arn, ResourceArn=arn, aws_retry=True)
    else:
        waf.disassociate_web_acl(ResourceArn=arn, aws_retry=True)


def describe_listeners(client, arn):
    listeners, kwargs = [], {"LoadBalancerArn": arn}
    while True:
        page = client.describe_listeners(aws_retry=True, **kwargs)
        listeners.extend(page.get("Listeners", []))
        if not page.get("NextMarker"):
            return listeners
        kwargs["Marker"] = page["NextMarker"]


# ---- the comparison ------------------------------------------------------------------------


def normalise_action(action):
    """An action as AWS describes it, without its order: defaults filled in, write-only and
    redundant fields dropped, numbers as strings."""
    action = copy.deepcopy(action)
    action.pop("Order", None)
    kind = action.get("Type")
    if kind == "redirect":
        config = {**REDIRECT_DEFAULTS, **(action.get("RedirectConfig") or {})}
        action["RedirectConfig"] = {k: str(v) for k, v in config.items()}
    elif kind == "fixed-response":
        config = action.get("FixedResponseConfig") or {}
        action["FixedResponseConfig"] = {k: str(v) for k, v in config.items()}
    elif kind == "forward":
        forward = action.pop("ForwardConfig", None) or {}
        groups = forward.get("TargetGroups") or []
        sticky = (forward.get("TargetGroupStickinessConfig") or {}).get("Enabled", False)
        if len(groups) == 1 and not sticky:
            # AWS describes a forward to one group with a ForwardConfig of weight 1 as well.
            action.setdefault("TargetGroupArn", groups[0]["TargetGroupArn"])
        elif groups:
            action["ForwardConfig"] = forward
    elif kind and kind.startswith("authenticate-"):
        key = (
            "AuthenticateOidcConfig" if kind == "authenticate-oidc" else "AuthenticateCognitoConfig"
        )
        for secret in ("ClientSecret", "UseExistingClientSecret"):
            (action.get(key) or {}).pop(secret, None)
    return action


def normalise_actions(actions):
    ordered = sorted(
        enumerate(actions or []), key=lambda pair: (pair[1].get("Order", pair[0] + 1), pair[0])
    )
    return [normalise_action(action) for _position, action in ordered]


def current_listener(listener):
    """The module's view of a described listener."""
    certificates = listener.get("Certificates") or []
    view = {
        "protocol": listener.get("Protocol"),
        "ssl_policy": listener.get("SslPolicy"),
        "certificate_arn": certificates[0]["CertificateArn"] if certificates else None,
        "default_actions": normalise_actions(listener.get("DefaultActions")),
    }
    return view


def desired_listener(listener):
    return {
        "protocol": listener["protocol"],
        "ssl_policy": listener.get("ssl_policy"),
        "certificate_arn": listener.get("certificate_arn"),
        "default_actions": normalise_actions(listener["default_actions"]),
    }


def current_settings(balancer, attributes, listeners, tags):
    current = {
        "scheme": balancer.get("Scheme"),
        "ip_address_type": balancer.get("IpAddressType"),
        "subnets": sorted(z["SubnetId"] for z in balancer.get("AvailabilityZones") or []),
        "security_groups": sorted(balancer.get("SecurityGroups") or []),
        "attributes": attributes or {},
    }
    if listeners is not None:
        current["listeners"] = {str(item["Port"]): current_listener(item) for item in listeners}
    if tags is not None:
        current["tags"] = tags
    return current


def desired_settings(params):
    desired = {
        "scheme": params["scheme"],
        "ip_address_type": params["ip_address_type"],
        "subnets": sorted(params["subnets"]) if params["subnets"] is not None else None,
        "security_groups": (
            sorted(params["security_groups"]) if params["security_groups"] is not None else None
        ),
        "attributes": {str(k): attribute_value(v) for k, v in params["attributes"].items()},
    }
    if params["listeners"] is not None:
        desired["listeners"] = {
            str(item["port"]): desired_listener(item) for item in params["listeners"]
        }
    if params["tags"] is not None:
        desired["tags"] = {str(k): str(v) for k, v in params["tags"].items()}
    if params["web_acl_arn"] is not None:
        desired["web_acl_arn"] = params["web_acl_arn"] or None
    return desired


def compare_listener(desired, current):
    """The settings of one listener that differ; a setting not given is not compared."""
    return [
        key
        for key in LISTENER_SETTINGS
        if desired[key] is not None and desired[key] != current[key]
    ]


def compare_load_balancer(desired, current, purge_listeners=True, purge_tags=True):
    """What converging ``current`` (None when it does not exist) onto ``desired`` takes; pure.

    Returns a dict: ``changes``, ``immutable``, ``set_subnets``, ``set_security_groups``,
    ``set_ip_address_type``, ``attributes`` (to write), ``listeners_to_create``,
    ``listeners_to_modify`` (port -> differing settings), ``listeners_to_delete`` (ports),
    ``tags_to_set``, ``tags_to_unset``, ``before`` and ``after`` (for the diff).
    """
    plan = {
        "changes": [],
        "immutable": [],
        "set_subnets": False,
        "set_security_groups": False,
        "set_ip_address_type": False,
        "attributes": {},
        "listeners_to_create": [],
        "listeners_to_modify": {},
        "listeners_to_delete": [],
        "tags_to_set": {},
        "tags_to_unset": [],
        "set_web_acl": False,
    }
    keys = ["scheme", "ip_address_type", "subnets", "security_groups"]
    managed = [k for k in keys if desired[k] is not None]
    after = {k: desired[k] for k in managed}
    after["attributes"] = dict(desired["attributes"])
    if "listeners" in desired:
        after["listeners"] = copy.deepcopy(desired["listeners"])
    if "tags" in desired:
        after["tags"] = dict(desired["tags"])
    if "web_acl_arn" in desired:
        after["web_acl_arn"] = desired["web_acl_arn"]

    if current is None:
        plan.update(
            changes=["load_balancer"],
            set_web_acl=bool(desired.get("web_acl_arn")),
            attributes=dict(desired["attributes"]),
            listeners_to_create=sorted(desired.get("listeners", {}), key=int),
            tags_to_set=dict(desired.get("tags") or {}),
            before={},
            after=after,
        )
        return plan

    before = {k: current[k] for k in managed}
    before["attributes"] = {k: current["attributes"].get(k) for k in desired["attributes"]}
    if desired["scheme"] != current["scheme"]:
        plan["immutable"].append("scheme")
    for key, flag in (
        ("ip_address_type", "set_ip_address_type"),
        ("subnets", "set_subnets"),
        ("security_groups", "set_security_groups"),
    ):
        if key in managed and desired[key] != current[key]:
            plan[flag] = True
            plan["changes"].append(key)
    for key, value in desired["attributes"].items():
        if current["attributes"].get(key) != value:
            plan["attributes"][key] = value
            plan["changes"].append(f"attributes.{key}")

    if "listeners" in desired:
        existing = current["listeners"]
        before["listeners"] = copy.deepcopy(existing)
        for port in sorted(set(desired["listeners"]) | set(existing), key=int):
            if port not in existing:
                plan["listeners_to_create"].append(port)
                plan["changes"].append(f"listeners.{port}")
            elif port not in desired["listeners"]:
                if purge_listeners:
                    plan["listeners_to_delete"].append(port)
                    plan["changes"].append(f"listeners.{port}")
                else:
                    after["listeners"][port] = copy.deepcopy(existing[port])
            else:
                differing = compare_listener(desired["listeners"][port], existing[port])
                merged = {
                    key: desired["listeners"][port][key]
                    if desired["listeners"][port][key] is not None
                    else existing[port][key]
                    for key in LISTENER_SETTINGS
                }
                after["listeners"][port] = merged
                if differing:
                    plan["listeners_to_modify"][port] = differing
                    plan["changes"].extend(f"listeners.{port}.{key}" for key in differing)

    if "tags" in desired:
        before["tags"] = dict(current.get("tags") or {})
        to_set, to_unset, after["tags"] = plan_tags(before["tags"], desired["tags"], purge_tags)
        plan.update(tags_to_set=to_set, tags_to_unset=to_unset)
        if to_set or to_unset:
            plan["changes"].append("tags")
    if "web_acl_arn" in desired:
        before["web_acl_arn"] = current.get("web_acl_arn")
        if desired["web_acl_arn"] != before["web_acl_arn"]:
            plan["set_web_acl"] = True
            plan["changes"].append("web_acl_arn")
    plan.update(before=before, after=after)
    return plan


# ---- requests ------------------------------------------------------------------------------


def request_actions(actions):
    """Default actions as CreateListener takes them: the string fields AWS types as strings."""
    actions = copy.deepcopy(actions)
    for action in actions:
        for key in ("RedirectConfig", "FixedResponseConfig"):
            if isinstance(action.get(key), dict):
                action[key] = {k: str(v) for k, v in action[key].items()}
    return actions


def listener_request(listener, keys):
    """CreateListener/ModifyListener parameters of ``keys`` of a listener option."""
    request = {}
    if "protocol" in keys:
        request["Protocol"] = listener["protocol"]
    if "ssl_policy" in keys and listener.get("ssl_policy"):
        request["SslPolicy"] = listener["ssl_policy"]
    if "certificate_arn" in keys and listener.get("certificate_arn"):
        request["Certificates"] = [{"CertificateArn": listener["certificate_arn"]}]
    if "default_actions" in keys:
        request["DefaultActions"] = request_actions(listener["default_actions"])
    return request


def create_request(params, tags):
    request = {
        "Name": params["name"],
        "Subnets": params["subnets"],
        "Scheme": params["scheme"],
        "Type": "application",
    }
    if params["security_groups"] is not None:
        request["SecurityGroups"] = params["security_groups"]
    if params["ip_address_type"]:
        request["IpAddressType"] = params["ip_address_type"]
    if tags:
        request["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    return request


def apply_plan(client, params, balancer, listeners, plan):
    """Write what ``plan`` says, ``listeners`` being the ones described before; returns the
    load balancer (as created, or as described before)."""
    created = balancer is None
    if created:
        request = create_request(params, plan["tags_to_set"])
        balancer = client.create_load_balancer(aws_retry=True, **request)["LoadBalancers"][0]
    arn = balancer["LoadBalancerArn"]
    if plan["set_security_groups"]:
        client.set_security_groups(
            LoadBalancerArn=arn, SecurityGroups=params["security_groups"], aws_retry=True
        )
    if plan["set_subnets"]:
        client.set_subnets(LoadBalancerArn=arn, Subnets=params["subnets"], aws_retry=True)
    if plan["set_ip_address_type"]:
        client.set_ip_address_type(
            LoadBalancerArn=arn, IpAddressType=params["ip_address_type"], aws_retry=True
        )
    if plan["attributes"]:
        client.modify_load_balancer_attributes(
            LoadBalancerArn=arn,
            Attributes=[{"Key": k, "Value": v} for k, v in sorted(plan["attributes"].items())],
            aws_retry=True,
        )
    wanted = {str(item["port"]): item for item in params["listeners"] or []}
    existing = {str(item["Port"]): item for item in listeners or []}
    for port in plan["listeners_to_delete"]:
        client.delete_listener(ListenerArn=existing[port]["ListenerArn"], aws_retry=True)
    for port in plan["listeners_to_create"]:
        client.create_listener(
            LoadBalancerArn=arn,
            Port=int(port),
            aws_retry=True,
            **listener_request(wanted[port], LISTENER_SETTINGS),
        )
    for port, keys in plan["listeners_to_modify"].items():
        if "protocol" in keys and wanted[port]["protocol"] == "HTTPS":
            keys = LISTENER_SETTINGS  # a listener turned HTTPS needs its policy and certificate
        client.modify_listener(
            ListenerArn=existing[port]["ListenerArn"],
            aws_retry=True,
            **listener_request(wanted[port], keys),
        )
    if not created:  # a new load balancer got its tags with CreateLoadBalancer
        write_tags(client, arn, plan["tags_to_set"], plan["tags_to_unset"])
    return balancer


def apply_web_acl(module, waf, arn, web_acl_arn):
    try:
        write_web_acl(waf, arn, web_acl_arn)
    except is_boto3_error_code("WAFNonexistentItemException") as e:
        module.fail_json_aws(
            e, msg=f"web_acl_arn {web_acl_arn} names no web ACL of this account and region"
        )
    except BOTO_ERRORS as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to set the web ACL of load balancer {arn}")


def listeners_result(listeners):
    return [
        {"port": item["Port"], "protocol": item["Protocol"], "listener_arn": item["ListenerArn"]}
        for item in sorted(listeners, key=lambda item: item["Port"])
    ]


def main():
    listener_options = dict(
        port=dict(type="int", required=True),
        protocol=dict(type="str", required=True, choices=["HTTP", "HTTPS"]),
        ssl_policy=dict(type="str"),
        certificate_arn=dict(type="str"),
        default_actions=dict(type="list", elements="dict", required=True),
    )
    argument_spec = dict(
        name=dict(type="str", required=True),
        scheme=dict(type="str", default="internet-facing", choices=["internet-facing", "internal"]),
        ip_address_type=dict(
            type="str", choices=["ipv4", "dualstack", "dualstack-without-public-ipv4"]
        ),
        subnets=dict(type="list", elements="str"),
        security_groups=dict(type="list", elements="str"),
        attributes=dict(type="dict", default={}),
        listeners=dict(type="list", elements="dict", options=listener_options),
        purge_listeners=dict(type="bool", default=True),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        web_acl_arn=dict(type="str"),
    )
    module = AssetManagerModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    name = params["name"]
    ports = [item["port"] for item in params["listeners"] or []]
    if len(ports) != len(set(ports)):
        module.fail_json(msg="listeners: each port may appear once")
    desired = desired_settings(params)

    client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    waf = None
    if "web_acl_arn" in desired:
        # WAF answers WAFUnavailableEntityException for a moment after a load balancer or web
        # ACL is created.
        waf = module.client(
            "wafv2",
            retry_decorator=AWSRetry.jittered_backoff(
                catch_extra_error_codes=["WAFUnavailableEntityException"]
            ),
        )
    try:
        balancer = describe_load_balancer(client, name)
        current, listeners = None, []
        if balancer is not None:
            arn = balancer["LoadBalancerArn"]
            attributes = describe_attributes(client, arn) if desired["attributes"] else {}
            listeners = describe_listeners(client, arn) if "listeners" in desired else None
            tags = describe_tags(client, arn) if "tags" in desired else None
            current = current_settings(balancer, attributes, listeners, tags)
            if waf is not None:
                current["web_acl_arn"] = read_web_acl(waf, arn)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to read load balancer {name}")
    if balancer is None and not params["subnets"]:
        module.fail_json(msg=f"Load balancer {name} does not exist; creating it needs subnets")

    plan = compare_load_balancer(desired, current, params["purge_listeners"], params["purge_tags"])
    if plan["immutable"]:
        module.fail_json(
            msg=f"Load balancer {name} exists with scheme {current['scheme']!r} (wanted "
            f"{desired['scheme']!r}), which AWS cannot change in place. Delete the load balancer, "
            "then run again. Nothing was changed."
        )

    result = {"changed": bool(plan["changes"]), "changes": plan["changes"]}
    if module._diff:
        result["diff"] = {"before": plan["before"], "after": plan["after"]}
    if not module.check_mode and plan["changes"]:
        try:
            balancer = apply_plan(client, params, balancer, listeners, plan)
            listeners = describe_listeners(client, balancer["LoadBalancerArn"])
        except BOTO_ERRORS as e:
            module.fail_json_aws(e, msg=f"Failed to write load balancer {name}")
        if plan["set_web_acl"]:
            apply_web_acl(module, waf, balancer["LoadBalancerArn"], desired["web_acl_arn"])
    elif listeners is not None and plan["listeners_to_delete"]:
        deleted = {int(port) for port in plan["listeners_to_delete"]}
        listeners = [item for item in listeners if item["Port"] not in deleted]
    balancer = balancer or {}
    result.update(
        load_balancer_arn=balancer.get("LoadBalancerArn"),
        dns_name=balancer.get("DNSName"),
        canonical_hosted_zone_id=balancer.get("CanonicalHostedZoneId"),
        listeners=listeners_result(listeners or []),
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
