"""The unknown_variables filter: typos of role variables, against the collection's real specs."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.leverslabs.asset_manager.plugins.filter import unknown_variables as f

ROLES = Path(__file__).resolve().parents[4] / "roles"


def test_declared_reads_every_roles_argument_specs():
    roles = f.declared(str(ROLES))
    assert {"asset_manager", "ecs_services", "ecs_taskdefs", "iam", "network_security"} <= set(
        roles
    )
    assert "ecs_services_web_desired_count" in roles["ecs_services"]
    # Options of every entry point (ecs_taskdefs' canary options are declared in main and canary).
    assert "ecs_taskdefs_canary_command" in roles["ecs_taskdefs"]


def test_a_typo_is_reported_with_the_closest_name():
    found = f.unknown_variables(
        ["ecs_services_web_desired_cout", "alb_oidc_priority", "ecs_services_web_desired_count"],
        str(ROLES),
    )
    assert found == [
        {
            "name": "alb_oidc_priority",
            "suggestion": "alb_oidc_rule_priority",
            "text": "alb_oidc_priority (did you mean alb_oidc_rule_priority?)",
        },
        {
            "name": "ecs_services_web_desired_cout",
            "suggestion": "ecs_services_web_desired_count",
            "text": "ecs_services_web_desired_cout (did you mean ecs_services_web_desired_count?)",
        },
    ]


def test_other_names_outputs_and_far_typos():
    names = [
        "ansible_check_mode",
        "vault_pg_password",
        "scale_web_count",
        "image_digest",
        "iam_zzz",
    ]
    found = f.unknown_variables(names, str(ROLES), outputs=["image_digest"])
    assert found == [{"name": "iam_zzz", "suggestion": None, "text": "iam_zzz"}]
