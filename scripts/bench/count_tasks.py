"""Counts the tasks a run executed (not skipped), and how many of them are bookkeeping.

    ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ansible-playbook ... | python count_tasks.py
Bookkeeping: tasks that make no AWS call (assert, set_fact, debug, includes, argument specs, the
roles' role_check, and the offline validate_only check of ecs_taskdef).
"""

import json
import sys

BOOKKEEPING = {
    "assert",
    "set_fact",
    "debug",
    "fail",
    "include_tasks",
    "include_role",
    "include_vars",
    "validate_argument_spec",
    "role_check",
    "meta",
}


def main():
    run = json.load(sys.stdin)
    executed = bookkeeping = 0
    for play in run["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                if result.get("skipped"):
                    continue
                executed += 1
                action = (result.get("action") or task["task"].get("action", "")).split(".")[-1]
                first = (result.get("results") or [result])[0]
                offline = (
                    (first.get("invocation") or {}).get("module_args", {}).get("validate_only")
                )
                bookkeeping += action in BOOKKEEPING or bool(offline)
    print(f"{executed} {bookkeeping}")


if __name__ == "__main__":
    main()
