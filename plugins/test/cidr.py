# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja test ``leverslabs.asset_manager.cidr``: a network in CIDR notation, as EC2 accepts it."""

import ipaddress


def cidr(value, version=None):
    """True for an IPv4 (or IPv6) network with a prefix length and no host bits set."""
    if not isinstance(value, str) or "/" not in value:
        return False
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return version is None or network.version == int(version)


class TestModule:
    def tests(self):
        return {"cidr": cidr}
