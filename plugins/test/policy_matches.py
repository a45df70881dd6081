# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja test ``leverslabs.asset_manager.policy_matches``: is an IAM policy document, as read,
the same policy as the one wanted, by the comparison amazon.aws.iam_policy itself makes?

A no-op rerun then skips that module (a process a role). Any value that is not a document (a
missing policy) is not a match, and the module decides.
"""

import json

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies


def policy_matches(current, wanted):
    """True when ``current`` and ``wanted`` (dicts) are the same policy: statement order and a
    one-element list against a string make no difference, as in amazon.aws.iam_policy."""
    if not isinstance(current, dict) or not isinstance(wanted, dict):
        return False
    # As the module gets them: plain JSON values, not Ansible's tagged and lazy ones.
    return not compare_policies(json.loads(json.dumps(current)), json.loads(json.dumps(wanted)))


class TestModule:
    def tests(self):
        return {"policy_matches": policy_matches}
