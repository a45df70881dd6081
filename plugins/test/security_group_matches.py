# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja test ``leverslabs.asset_manager.security_group_matches``: does a security group, as
DescribeSecurityGroups describes it, already hold exactly what amazon.aws.ec2_security_group
would converge it to?

A no-op rerun then skips that module (two processes a group, about 0.6 s each). The test answers
True only when it is sure; any rule it cannot read with certainty (ICMP, prefix lists, a group
reference it cannot resolve, an option it does not know) makes it False, and the module decides.
"""

_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "-1": "-1", "all": "-1"}
_RULE_KEYS = {
    "proto", "ports", "from_port", "to_port", "cidr_ip", "cidr_ipv6", "group_name", "group_id",
    "group_desc", "rule_desc",
}  # fmt: skip


class _Unsure(Exception):
    """A rule this test does not read with certainty: let the module compare."""


def _listed(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _port_range(port):
    text = str(port).strip()
    low, sep, high = text.partition("-")
    if not low.isdigit() or (sep and not high.isdigit()):
        raise _Unsure(text)
    return int(low), int(high if sep else low)


def _protocol(value):
    try:
        return _PROTOCOLS[str(value).lower()]
    except KeyError:
        raise _Unsure(value) from None


def wanted_rules(rules, group_ids):
    """The (protocol, from, to, kind, target, description) tuples of amazon.aws rules."""
    found = set()
    for rule in rules or []:
        if set(rule) - _RULE_KEYS or "proto" not in rule:
            raise _Unsure(rule)
        protocol = _protocol(rule["proto"])
        if protocol == "-1":
            if rule.get("ports") or rule.get("from_port") is not None:
                raise _Unsure(rule)
            ranges = [(None, None)]
        elif rule.get("ports") is not None:
            ranges = [_port_range(port) for port in _listed(rule["ports"])]
        elif rule.get("from_port") is not None and rule.get("to_port") is not None:
            ranges = [(int(rule["from_port"]), int(rule["to_port"]))]
        else:
            raise _Unsure(rule)
        targets = [("ip", cidr) for cidr in _listed(rule.get("cidr_ip"))]
        targets += [("ipv6", cidr) for cidr in _listed(rule.get("cidr_ipv6"))]
        targets += [("group", group) for group in _listed(rule.get("group_id"))]
        for name in _listed(rule.get("group_name")):
            if not group_ids.get(name):
                raise _Unsure(name)
            targets.append(("group", group_ids[name]))
        if not ranges or not targets:
            raise _Unsure(rule)
        description = rule.get("rule_desc") or None
        found |= {(protocol, low, high, kind, target, description)
                  for low, high in ranges for kind, target in targets}  # fmt: skip
    return found


def current_rules(permissions):
    """The same tuples from EC2's IpPermissions (or IpPermissionsEgress)."""
    found = set()
    for permission in permissions or []:
        protocol = _protocol(permission.get("IpProtocol"))
        low, high = (None, None)
        if protocol != "-1":
            low, high = permission.get("FromPort"), permission.get("ToPort")
        for key, kind, field in (("IpRanges", "ip", "CidrIp"), ("Ipv6Ranges", "ipv6", "CidrIpv6"),
                                 ("UserIdGroupPairs", "group", "GroupId"),
                                 ("PrefixListIds", "prefix", "PrefixListId")):  # fmt: skip
            for entry in permission.get(key) or []:
                found.add(
                    (protocol, low, high, kind, entry.get(field), entry.get("Description") or None)
                )
    return found


def security_group_matches(current, wanted, group_ids=None):
    """True when ``current`` (stack_info's view of a group: description, ingress, egress, tags)
    holds exactly ``wanted`` (description, ingress, egress, tags, the rules in amazon.aws's shape;
    rules naming a group by name find its ID in ``group_ids``)."""
    if not current:
        return False
    ids = group_ids or {}
    try:
        return (
            current.get("description") == wanted.get("description")
            and _tags(current) == _tags(wanted)
            and current_rules(current.get("ingress")) == wanted_rules(wanted.get("ingress"), ids)
            and current_rules(current.get("egress")) == wanted_rules(wanted.get("egress"), ids)
        )
    except (_Unsure, TypeError, ValueError):
        return False


def _tags(group):
    return {str(k): str(v) for k, v in (group.get("tags") or {}).items()}


class TestModule:
    def tests(self):
        return {"security_group_matches": security_group_matches}
