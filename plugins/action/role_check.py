# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's whole offline check in one task: its argument spec, then its own rules.

Documented in plugins/modules/role_check.py. Two tasks per role (Ansible's inserted argument spec
validation, then an assert of the role's problems) cost a task each in every run; this is one, and
it reads the problems only once the spec has passed, so a value of the wrong type is reported by
the spec, not by a rule tripping over it.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

ARGS = {
    "problems_from": {"type": "str"},
    "apply_rules": {"type": "bool", "default": True},
    "entry_point": {"type": "str", "default": "check"},
    "closing": {"type": "str", "default": ""},
}


def role_options(role, entry_point):
    """The options of ``entry_point`` in the role's meta/argument_specs.yml."""
    specs = role._get_role_argspecs() if role is not None else {}
    if entry_point not in specs:
        name = role.get_name() if role is not None else "(no role)"
        raise AnsibleError(f"role_check: role {name} has no argument spec entry {entry_point!r}")
    return specs[entry_point].get("options") or {}


def sentences(problems):
    """The problems as one message: each a sentence, runs of white space made one space."""
    return re.sub(r"\s+", " ", " ".join(str(p) for p in problems)).strip()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(ARGS)
        # No entry point: the rules only, for a role whose spec Ansible validates in its own task.
        options = role_options(self._task._role, args["entry_point"]) if args["entry_point"] else {}
        # As ansible.builtin.validate_argument_spec does for a role: the options set as variables.
        provided = self._templar.template({k: task_vars[k] for k in options if k in task_vars})
        validator = ArgumentSpecValidator(options)
        checked = validator.validate(provided, validate_role_argument_spec=True)
        if checked.error_messages:
            result.update(
                failed=True,
                msg="Validation of arguments failed:\n" + "\n".join(checked.error_messages),
                argument_errors=checked.error_messages,
            )
            return result
        problems = []
        if args["apply_rules"] and args["problems_from"]:
            problems = self._templar.resolve_variable_expression(args["problems_from"]) or []
            if not isinstance(problems, list):
                raise AnsibleError(f"role_check: {args['problems_from']} must be a list")
        if problems:
            message = sentences([*problems, args["closing"]])
            result.update(failed=True, msg=message, problems=list(problems))
            return result
        result.update(changed=False, msg="All checks passed")
        return result
