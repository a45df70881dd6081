# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one comparison of a resource's tags, for every module of the collection that manages them."""

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags


def plan_tags(existing, wanted, purge_tags=True):
    """(to_set, to_unset, final) that converge ``existing`` onto ``wanted``; pure.

    ``to_set`` is a dict and ``to_unset`` a list, both sorted by key; ``final`` is the tags the
    resource ends up with (for the diff's after)."""
    existing = existing or {}
    to_set, to_unset = compare_aws_tags(existing, wanted, purge_tags=purge_tags)
    final = {k: v for k, v in existing.items() if k not in to_unset}
    final.update(to_set)
    return dict(sorted(to_set.items())), sorted(to_unset), dict(sorted(final.items()))
