"""The cidr test: networks EC2 accepts in a security group rule."""

from __future__ import annotations

import pytest

from ansible_collections.leverslabs.asset_manager.plugins.test.cidr import cidr


@pytest.mark.parametrize(
    "value", ["0.0.0.0/0", "10.0.0.0/8", "203.0.113.7/32", "::/0", "2001:db8::/32"]
)
def test_networks_are_cidrs(value):
    assert cidr(value)


@pytest.mark.parametrize(
    "value", ["not-a-cidr", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0", "", None, 10, "2001:db8::1/32"]
)
def test_anything_else_is_not(value):
    assert not cidr(value)


def test_version_restricts_the_family():
    assert cidr("10.0.0.0/8", 4) and not cidr("10.0.0.0/8", 6)
    assert cidr("::/0", "6") and not cidr("::/0", 4)
