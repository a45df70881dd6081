# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: role_check
version_added: 0.2.0
short_description: Run a role's offline check in one task, its argument spec first
description:
  - For a task in one of the collection's roles (its C(tasks/check.yml)). Validates the role's
    variables against the role's argument spec entry point O(entry_point), as Ansible's own
    role argument validation does; when that passes, reads the role's list of problems from
    O(problems_from) and fails with them, one sentence each.
  - The problems are read only after the spec passed, so a variable of the wrong type is
    reported by the spec (naming the variable and the type), not by a rule that trips over it.
  - One task instead of two (Ansible's inserted validation task and an assert of the
    problems), in every run of every role. A play that imports the role's C(check) tasks turns
    Ansible's own validation off for that import (C(rolespec_validate=false)).
  - Makes no AWS call and no change; runs in check mode as it does otherwise.
options:
  problems_from:
    description:
      - Name of the role variable holding the list of problems (sentences that name the
        variable and say what is allowed), for example C(__storage_problems). No problem, or
        none given, passes.
    type: str
  apply_rules:
    description:
      - Whether to read O(problems_from) at all, for example only when the role's state is
        V(present). The argument spec is validated either way.
    type: bool
    default: true
  entry_point:
    description:
      - The argument spec entry point of the role to validate against.
      - Empty, the rules only, for a role whose spec Ansible itself validates in a task of its
        own before this one. So does the C(asset_manager) role, every role's dependency, whose
        entry point C(main) Ansible validates wherever it runs.
    type: str
    default: check
  closing:
    description:
      - A sentence to end the message with when there are problems, for example what was not
        done because of them.
    type: str
    default: ""
author:
  - Levers Labs platform team (@leverslabs)
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  connection:
    support: none
  check_mode:
    support: full
  delegation:
    support: none
  diff_mode:
    support: none
  platform:
    platforms: all
"""

EXAMPLES = r"""
# roles/storage/tasks/check.yml
- name: Check the bucket and log group settings
  leverslabs.asset_manager.role_check:
    problems_from: __storage_problems
    apply_rules: "{{ storage_state == 'present' }}"
  register: __storage_checked
"""

RETURN = r"""
msg:
  description: What failed (the spec's errors, or the problems as one message), or that all passed.
  returned: always
  type: str
argument_errors:
  description: The argument spec's errors.
  returned: when the spec failed
  type: list
  elements: str
problems:
  description: The role's problems.
  returned: when there are any
  type: list
  elements: str
"""
