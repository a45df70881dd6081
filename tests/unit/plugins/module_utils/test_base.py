# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""boto3_session: one botocore data loader per process and data path, for every boto3 session."""

from __future__ import annotations

from ansible_collections.leverslabs.asset_manager.plugins.module_utils import base


def test_sessions_share_one_loader_and_its_models(monkeypatch):
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    first, second = base.boto3_session(), base.boto3_session()
    assert first is not second
    assert first._loader is second._loader
    assert first._session.get_component("data_loader") is first._loader
    # The model the first session read is the second's: read once.
    model = first._session.get_service_model("ecs")
    assert second._session.get_service_model("ecs").service_name == model.service_name
    assert first._loader.load_service_model(
        "ecs", "service-2"
    ) is second._loader.load_service_model("ecs", "service-2")


def test_another_data_path_gets_its_own_loader(monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    default = base.boto3_session()
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    own = base.boto3_session()
    assert own._loader is not default._loader
    assert str(tmp_path) in own._loader.search_paths
    assert base.boto3_session()._loader is own._loader


def test_the_user_agent_names_the_version_galaxy_yml_ships():
    from pathlib import Path

    import yaml

    galaxy = yaml.safe_load((Path(__file__).parents[4] / "galaxy.yml").read_text())
    assert (base.COLLECTION_NAME, base.COLLECTION_VERSION) == (
        f"{galaxy['namespace']}.{galaxy['name']}",
        galaxy["version"],
    )


def test_the_loader_outlives_the_module_utils_as_under_mitogen(monkeypatch):
    """mitogen drops the module_utils a module imported from sys.modules once it has run; the next
    module imports base afresh and must still find the loader (and the models it read)."""
    import importlib
    import sys

    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    before = base.boto3_session()._loader
    name = base.__name__
    monkeypatch.delitem(sys.modules, name)
    fresh = importlib.import_module(name)
    assert fresh is not base
    assert fresh.boto3_session()._loader is before


def test_any_boto3_session_shares_the_loader_once_base_is_imported(monkeypatch):
    """As amazon.aws's modules make theirs: boto3.session.Session, a session per client."""
    import os

    import boto3

    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    first, second = boto3.session.Session(), boto3.session.Session()
    assert first._loader is second._loader is base.boto3_session()._loader
    assert second._session.get_component("data_loader") is second._loader
    # boto3's own data path (its resource models) once, as on a loader of its own.
    boto3_data = os.path.join(os.path.dirname(boto3.__file__), "data")
    assert first._loader.search_paths.count(boto3_data) == 1


def test_boto3_is_wrapped_once_although_mitogen_imports_base_again(monkeypatch):
    import importlib
    import sys

    import boto3

    wrapped = boto3.session.Session._setup_loader
    monkeypatch.delitem(sys.modules, base.__name__)
    importlib.import_module(base.__name__)
    assert boto3.session.Session._setup_loader is wrapped
