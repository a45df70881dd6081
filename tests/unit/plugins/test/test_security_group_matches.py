"""The security_group_matches test: True only for a group that holds exactly the declaration."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.test.security_group_matches import (
    security_group_matches as matches,
)

IDS = {"alb-sg": "sg-alb", "svc-sg": "sg-svc"}
WANTED = {
    "description": "Security group for all Asset Manager ECS services",
    "tags": {"Application": "asset-manager", "Name": "svc-sg"},
    "ingress": [
        {"proto": "tcp", "ports": ["3000"], "group_name": "alb-sg", "group_desc": "ALB's",
         "rule_desc": "Dagster webserver from the ALB"},
    ],
    "egress": [
        {"proto": "tcp", "ports": [443], "cidr_ip": ["0.0.0.0/0"], "rule_desc": "HTTPS"},
        {"proto": "tcp", "ports": ["5432", "6000-6010"], "cidr_ip": "10.0.0.0/16",
         "rule_desc": "PG"},
    ],
}  # fmt: skip
CURRENT = {
    "description": "Security group for all Asset Manager ECS services",
    "tags": {"Name": "svc-sg", "Application": "asset-manager"},
    "ingress": [
        {"IpProtocol": "tcp", "FromPort": 3000, "ToPort": 3000, "IpRanges": [], "Ipv6Ranges": [],
         "PrefixListIds": [],
         "UserIdGroupPairs": [{"GroupId": "sg-alb", "UserId": "123456789012",
                               "Description": "Dagster webserver from the ALB"}]},
    ],
    "egress": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "PG"}]},
        {"IpProtocol": "tcp", "FromPort": 6000, "ToPort": 6010,
         "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "PG"}]},
    ],
}  # fmt: skip


def changed(path, value):
    current = copy.deepcopy(CURRENT)
    target = current
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return current


def test_the_converged_group_matches_whatever_the_order():
    assert matches(CURRENT, WANTED, IDS)
    reordered = copy.deepcopy(CURRENT)
    reordered["egress"].reverse()
    assert matches(reordered, WANTED, IDS)


@pytest.mark.parametrize(
    "path, value",
    [
        (("description",), "another"),
        (("tags",), {"Name": "svc-sg"}),
        (("tags",), {**CURRENT["tags"], "Extra": "x"}),
        (("ingress", 0, "FromPort"), 3001),
        (("ingress", 0, "UserIdGroupPairs", 0, "GroupId"), "sg-other"),
        (("ingress", 0, "UserIdGroupPairs", 0, "Description"), "edited by hand"),
        (("ingress", 0, "UserIdGroupPairs", 0, "Description"), None),
        (("egress", 0, "IpRanges", 0, "CidrIp"), "10.0.0.0/8"),
        (("egress", 0, "IpProtocol"), "udp"),
        (("egress", 2, "ToPort"), 6011),
        (("egress", 2), {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}),
        (("egress", 1, "PrefixListIds"), [{"PrefixListId": "pl-1", "Description": "PG"}]),
    ],
)
def test_any_difference_does_not_match(path, value):
    assert not matches(changed(path, value), WANTED, IDS)


def test_a_missing_or_extra_rule_does_not_match():
    fewer = copy.deepcopy(CURRENT)
    fewer["egress"].pop()
    assert not matches(fewer, WANTED, IDS)
    more = copy.deepcopy(CURRENT)
    more["egress"][0]["IpRanges"].append({"CidrIp": "10.1.0.0/16", "Description": "HTTPS"})
    assert not matches(more, WANTED, IDS)


def test_a_missing_group_does_not_match():
    assert not matches(None, WANTED, IDS)


@pytest.mark.parametrize(
    "rule",
    [
        {"proto": "icmp", "from_port": 8, "to_port": -1, "cidr_ip": "0.0.0.0/0"},
        {"proto": "tcp", "ports": [443], "ip_prefix": "pl-1"},
        {"ports": [443], "cidr_ip": "0.0.0.0/0"},
        {"proto": "tcp", "ports": ["https"], "cidr_ip": "0.0.0.0/0"},
        {"proto": "tcp", "cidr_ip": "0.0.0.0/0"},
        {"proto": "tcp", "ports": [443]},
        {"proto": "tcp", "ports": [3000], "group_name": "unknown-sg"},
    ],
)
def test_a_rule_it_cannot_read_with_certainty_leaves_the_comparison_to_the_module(rule):
    wanted = {**WANTED, "egress": WANTED["egress"] + [rule]}
    assert not matches(CURRENT, wanted, IDS)


def test_all_traffic_rules_compare_without_ports():
    current = changed(("egress",), [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert matches(current, {**WANTED, "egress": [{"proto": "all", "cidr_ip": "0.0.0.0/0"}]}, IDS)
    described_with_ports = changed(
        ("egress",),
        [{"IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    assert matches(
        described_with_ports, {**WANTED, "egress": [{"proto": "-1", "cidr_ip": "0.0.0.0/0"}]}, IDS
    )
