# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filter ``leverslabs.asset_manager.unknown_variables``: variable names with a role's prefix
that no role of the collection declares, each with the closest declared name."""

import difflib
import os

import yaml

# libyaml's loader where PyYAML has it: the specs are read in every run, ten times faster so.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def declared(roles_dir):
    """({role: [option names of every entry point]}) from each role's meta/argument_specs.yml."""
    roles = {}
    for role in sorted(os.listdir(roles_dir)):
        path = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as handle:
            specs = (yaml.load(handle, Loader=_LOADER) or {}).get("argument_specs") or {}
        options = {name for spec in specs.values() for name in spec.get("options") or {}}
        roles[role] = sorted(options)
    return roles


def unknown(names, known, prefixes):
    """[{name, suggestion, text}] for each of ``names`` that starts with one of ``prefixes`` and is
    not in ``known``; ``suggestion`` is the closest known name, or None; ``text`` says both."""
    known = sorted(set(known))
    found = []
    for name in sorted(set(names)):
        if name in known or not name.startswith(tuple(prefixes)):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        suggestion = close[0] if close else None
        text = f"{name} (did you mean {suggestion}?)" if suggestion else name
        found.append({"name": name, "suggestion": suggestion, "text": text})
    return found


def unknown_variables(names, roles_dir, outputs=()):
    """The unknown names among ``names``: prefixes are the role names of ``roles_dir`` with ``_``,
    known names their argument specs' options and the roles' ``outputs``."""
    roles = declared(roles_dir)
    known = [name for options in roles.values() for name in options] + list(outputs)
    return unknown(names, known, [role + "_" for role in roles])


class FilterModule:
    def filters(self):
        return {"unknown_variables": unknown_variables}
