"""awx/configure.yml: AWX configuration as code, checked without a controller.

The play is parsed (syntax check), its module arguments are rendered by Ansible itself from
awx/vars.yml (each awx.awx task becomes a set_fact of the very same argument templates, so what is
checked is what the modules would receive), every job template is checked against the repository
(its playbook exists and reads every variable its survey asks for) and against the rules AWX applies
to a survey, and no file of awx/ holds a credential.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from ansible_collections.leverslabs.asset_manager.tests.harness import ansible_env

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"
BIN = Path(sys.executable).parent
PLAY = yaml.safe_load((AWX / "configure.yml").read_text())[0]
DEFAULTS = yaml.safe_load((AWX / "vars.yml").read_text())
TEMPLATES = {t["key"]: t for t in DEFAULTS["awx_asset_manager_job_templates"]}
QUESTIONS = [(key, q) for key, t in TEMPLATES.items() for q in t["survey"]]
EE_IMAGE = "registry.example.test/asset-manager-ee:0.1.0"
# AWX's survey question types and the Python type of a default each accepts
# (awx/api/views: JobTemplateSurveySpec.ALLOWED_TYPES).
AWX_SURVEY_TYPES = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": str,
    "integer": int,
    "float": float,
}
SECRET_KEY = re.compile(r"(password|passwd|token|secret|api_?key)", re.IGNORECASE)


def env() -> dict:
    environ = ansible_env(ANSIBLE_NOCOLOR="1")
    # A controller configured in the caller's shell must not leak into these runs.
    for name in list(environ):
        if name.startswith(("CONTROLLER_", "TOWER_")):
            del environ[name]
    return environ


def ansible_playbook(*args) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", *map(str, args)]
    cmd += ["-e", f"ansible_python_interpreter={sys.executable}"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=ROOT, check=False)


def module_of(task: dict) -> str | None:
    return next((key for key in task if key.startswith("awx.awx.")), None)


@pytest.fixture(scope="module")
def rendered():
    """Every awx.awx task's arguments (one dict per loop item) and the connection defaults.

    Rendered with an execution environment image set, so the conditional registration renders too.
    """
    tasks = [task for task in PLAY["tasks"] if not module_of(task)]  # the offline checks, as is
    collect = "{{ __rendered | combine({__key: __rendered[__key] | default([]) + [__args]}) }}"
    sources = [("module_defaults", PLAY["module_defaults"]["group/awx.awx.controller"], {})]
    sources += [
        (task["name"], task[module_of(task)], task) for task in PLAY["tasks"] if module_of(task)
    ]
    for key, args, task in sources:
        render = {
            "name": f"Render {key}",
            "ansible.builtin.set_fact": {"__rendered": collect},
            "vars": {"__args": args, "__key": key},
        }
        render.update({k: task[k] for k in ("loop", "loop_control", "when") if k in task})
        tasks.append(render)
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rendered.json"
        tasks.append(
            {
                "name": "Write what the modules would receive",
                "ansible.builtin.copy": {
                    "content": "{{ __rendered | to_json }}",
                    "dest": str(result),
                },
            }
        )
        play = {
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": [str(AWX / "vars.yml")],
            "vars": {**PLAY.get("vars", {}), "__rendered": {}},
            "tasks": tasks,
        }
        playbook = Path(tmp) / "render.json"
        playbook.write_text(json.dumps([play]))
        proc = ansible_playbook(
            playbook, "-e", f"awx_asset_manager_execution_environment_image={EE_IMAGE}"
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = json.loads(result.read_text())
    by_module = {}
    for task in PLAY["tasks"]:
        if module_of(task):
            by_module.setdefault(module_of(task), []).extend(data[task["name"]])
    by_module["module_defaults"] = data["module_defaults"]
    return by_module


def name(template: str) -> str:
    """A name from vars.yml with the default prefix, as the play renders it."""
    return template.replace("{{ awx_asset_manager_name }}", DEFAULTS["awx_asset_manager_name"])


def test_syntax_check():
    proc = ansible_playbook("--syntax-check", AWX / "configure.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_controller_connection_comes_from_variables_through_module_defaults():
    """The first controller task already talks to the host given as a variable (nothing listens)."""
    proc = ansible_playbook(
        AWX / "configure.yml",
        "-e",
        "awx_asset_manager_controller_host=http://127.0.0.1:9",
        "-e",
        "awx_asset_manager_controller_request_timeout=2",
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "http://127.0.0.1:9/api/" in output, output
    assert "ok=1 " in output  # only the offline checks passed


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_job_template_runs_a_playbook_of_the_repository(key):
    playbook = ROOT / TEMPLATES[key]["playbook"]
    assert playbook.is_file(), f"{key}: {playbook.relative_to(ROOT)} does not exist"


@pytest.mark.parametrize(
    ("key", "question"), QUESTIONS, ids=[q["variable"] for _key, q in QUESTIONS]
)
def test_every_survey_variable_is_read_by_its_playbook(key, question):
    """Not just declared: used somewhere other than its own default (or a comment)."""
    playbook = ROOT / TEMPLATES[key]["playbook"]
    if not playbook.is_file():
        pytest.fail(f"{playbook.relative_to(ROOT)} does not exist")
    variable = question["variable"]
    word = re.compile(rf"\b{re.escape(variable)}\b")
    uses = [
        line
        for line in playbook.read_text().splitlines()
        if word.search(line)
        and not line.lstrip().startswith("#")
        and not re.match(rf"\s*{re.escape(variable)}\s*:", line)
    ]
    assert uses, f"{playbook.relative_to(ROOT)} never reads {variable}"


def test_the_job_templates_are_the_six_expected_with_their_prompts_and_surveys():
    assert list(TEMPLATES) == ["site", "release", "rolling_update", "scale", "validate", "teardown"]
    site = TEMPLATES["site"]
    assert site["playbook"] == "playbooks/site.yml"
    assert site["ask_tags_on_launch"] is True and site["ask_limit_on_launch"] is True
    assert site["survey"] == []

    def only_question(key):
        (question,) = TEMPLATES[key]["survey"]
        return question

    release_tag = only_question("release")
    assert (release_tag["variable"], release_tag["type"], release_tag["required"]) == (
        "release_tag",
        "text",
        True,
    )
    assert TEMPLATES["release"]["playbook"] == "playbooks/release.yml"
    image_tag = only_question("rolling_update")
    assert (image_tag["variable"], image_tag["type"], image_tag["required"]) == (
        "rolling_update_image_tag",
        "text",
        True,
    )
    count = only_question("scale")
    assert (count["variable"], count["type"], count["required"], count["min"]) == (
        "scale_web_count",
        "integer",
        True,
        1,
    )
    cookie = only_question("validate")
    assert (cookie["variable"], cookie["type"], cookie["required"]) == (
        "validate_session_cookie",
        "password",
        False,
    )
    confirm = only_question("teardown")
    assert (confirm["variable"], confirm["type"], confirm["required"]) == (
        "teardown_confirm",
        "text",
        True,
    )


def test_job_templates_reference_credentials_and_environment_by_name(rendered):
    calls = rendered["awx.awx.job_template"]
    assert [c["name"] for c in calls] == [name(t["name"]) for t in TEMPLATES.values()]
    aws = name(DEFAULTS["awx_asset_manager_aws_credential"])
    vault = name(DEFAULTS["awx_asset_manager_vault_credential"])
    environment = name(DEFAULTS["awx_asset_manager_execution_environment"])
    for call in calls:
        assert call["credentials"] == [aws, vault], call["name"]
        assert call["execution_environment"] == environment, call["name"]
        assert call["project"] == name(DEFAULTS["awx_asset_manager_project"])
        assert call["inventory"] == name(DEFAULTS["awx_asset_manager_inventory"])
        assert call["allow_simultaneous"] is False
    (registered,) = rendered["awx.awx.execution_environment"]
    assert (registered["name"], registered["image"]) == (environment, EE_IMAGE)
    assert "credential" not in registered  # none named: omitted, not sent empty


def test_rendered_surveys_pass_awx_survey_validation(rendered):
    """AWX's own checks of a survey spec (a 400 otherwise), and no password default."""
    for call, template in zip(rendered["awx.awx.job_template"], TEMPLATES.values(), strict=True):
        spec = call["survey_spec"]
        assert call["survey_enabled"] is bool(template["survey"]), call["name"]
        if not template["survey"]:
            assert spec == {}, call["name"]  # AWX answers {} for no survey: no change on rerun
            continue
        assert isinstance(spec["name"], str) and isinstance(spec["description"], str)
        assert spec["spec"], call["name"]
        variables = [q["variable"] for q in spec["spec"]]
        assert len(set(variables)) == len(variables), call["name"]
        for q in spec["spec"]:
            for field in ("type", "question_name", "variable"):
                assert isinstance(q[field], str), (call["name"], field)
            assert isinstance(q["required"], bool), call["name"]
            assert q["type"] in AWX_SURVEY_TYPES, call["name"]
            if q.get("default", "") != "":
                assert isinstance(q["default"], AWX_SURVEY_TYPES[q["type"]]), q
            for bound in ("min", "max"):
                # An integer, not a bool (which isinstance counts as one).
                value = q.get(bound)
                assert value is None or (isinstance(value, int) and not isinstance(value, bool)), (
                    q["variable"],
                    bound,
                )
            if q.get("min") is not None and q.get("max") is not None:
                assert q["min"] <= q["max"], q["variable"]
            if q["type"] == "password":
                # AWX stores a password default encrypted: the module would see a change each run.
                assert "default" not in q, q["variable"]
    scale = next(c for c in rendered["awx.awx.job_template"] if c["playbook"].endswith("scale.yml"))
    maximum = DEFAULTS["awx_asset_manager_scale_web_count_max"]
    assert scale["survey_spec"]["spec"][0]["max"] == maximum  # an int, as AWX requires


def test_project_and_inventory_source_come_from_this_repository(rendered):
    (project,) = rendered["awx.awx.project"]
    assert project["scm_type"] == "git"
    assert project["scm_url"] == "https://github.com/leverslabs/asset_manager"
    assert project["scm_branch"] == DEFAULTS["awx_asset_manager_scm_branch"]
    assert project["organization"] == DEFAULTS["awx_asset_manager_organization"]
    assert "credential" not in project  # public repository: no SCM credential sent
    (source,) = rendered["awx.awx.inventory_source"]
    assert source["source"] == "scm"
    assert source["source_project"] == project["name"]
    assert (ROOT / source["source_path"] / "hosts.yml").is_file(), source["source_path"]
    assert source["overwrite"] is True and source["update_on_launch"] is True
    (inventory,) = rendered["awx.awx.inventory"]
    assert source["inventory"] == inventory["name"]


def test_the_workflow_runs_site_then_validate_on_success(rendered):
    (workflow,) = rendered["awx.awx.workflow_job_template"]
    nodes = {n["identifier"]: n for n in rendered["awx.awx.workflow_job_template_node"]}
    assert set(nodes) == {"site", "validate"}
    for identifier, node in nodes.items():
        assert node["workflow_job_template"] == workflow["name"]
        assert node["unified_job_template"] == name(TEMPLATES[identifier]["name"])
    assert nodes["site"]["success_nodes"] == ["validate"]
    assert not {"success_nodes", "failure_nodes", "always_nodes"} & set(nodes["validate"])
    # The node it links to must be created first.
    order = [n["identifier"] for n in rendered["awx.awx.workflow_job_template_node"]]
    assert order.index("validate") < order.index("site")


def test_the_controller_connection_is_omitted_unless_given(rendered):
    """Without variables every connection option is omitted: the CONTROLLER_* variables apply."""
    assert rendered["module_defaults"] == [{}]


def yaml_items(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield path + (str(key),), key, value
            yield from yaml_items(value, path + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from yaml_items(value, path + (str(index),))


@pytest.mark.parametrize("path", sorted(AWX.glob("*.yml")), ids=lambda p: p.name)
def test_no_credential_in_awx_files(path):
    """A key naming a secret holds nothing, or a template that omits it when unset."""
    for where, key, value in yaml_items(yaml.safe_load(path.read_text())):
        if not SECRET_KEY.search(str(key)):
            continue
        assert value in (None, "") or (
            isinstance(value, str) and re.fullmatch(r"\{\{.*\|\s*default\(omit\)\s*\}\}", value)
        ), f"{path.name}: {'.'.join(where)} holds a literal value"
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = re.search(r"(password|token|secret)\w*\s*:\s*(\S.*)$", line, re.IGNORECASE)
        if match and not line.lstrip().startswith("#"):
            assert match.group(2).startswith(('"{{', "'{{", "{{", '""', "''")), (
                f"{path.name}:{number}: {line.strip()}"
            )
