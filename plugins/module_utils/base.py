# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared base for the collection's modules."""

import sys
import types

try:
    import boto3
    import botocore
    import botocore.exceptions

    # What a failed AWS call raises, for the modules' except clauses.
    BOTO_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
except ImportError:
    # AnsibleAWSModule fails with the missing-library message before any AWS call.
    BOTO_ERRORS = ()

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    _get_user_agent_string,
    get_aws_connection_info,
)
from ansible_collections.amazon.aws.plugins.module_utils.common import set_collection_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

COLLECTION_NAME = "leverslabs.asset_manager"
COLLECTION_VERSION = "0.2.0"

# One botocore data loader per Python process, shared by every session the collection makes. Under
# mitogen every task of a play runs in one interpreter; a new session's own loader would parse the
# endpoint and service models again (0.05-0.3 s a client, measured). A loader only reads model files
# and caches what it read; one per data path (AWS_DATA_PATH) keeps a task's own models its own.
# mitogen removes a module's module_utils from sys.modules once it has run, so a dict of this
# module would start empty every task: the loaders are kept in a holder module of their own, which
# no module's imports create and so none removes.
_HOLDER = "_leverslabs_asset_manager_loaders"
_LOADERS = vars(sys.modules.setdefault(_HOLDER, types.ModuleType(_HOLDER))).setdefault(
    "loaders", {}
)


def _share_loader(session):
    """Give ``session`` (a boto3 session) the process's loader for its data path."""
    data_path = session._session.get_config_variable("data_path")
    loader = _LOADERS.setdefault(data_path, session._loader)
    session._session.register_component("data_loader", loader)
    session._loader = loader


def _share_loaders_with_every_session():
    """Every boto3 session of the process shares the loaders, not only the collection's: the
    amazon.aws and community.aws modules make a session per client, and under mitogen they run in
    the same interpreter (an ec2_vpc_net_info call takes 0.07 s instead of 0.24 s). boto3 sets a
    session's loader up in Session._setup_loader; it is wrapped once per process (the holder
    remembers), from the first module of the collection on."""
    holder = sys.modules[_HOLDER]
    setup = getattr(boto3.session.Session, "_setup_loader", None)
    if setup is None or getattr(holder, "wrapped_setup_loader", None) is not None:
        return
    holder.wrapped_setup_loader = setup

    def _setup_loader(self):
        setup(self)
        _share_loader(self)

    boto3.session.Session._setup_loader = _setup_loader


if BOTO_ERRORS:
    _share_loaders_with_every_session()


def boto3_session(profile=None):
    """A boto3 session for ``profile`` whose botocore data loader is this process's shared one."""
    session = boto3.session.Session(profile_name=profile)
    _share_loader(session)
    return session


class AssetManagerModule(AnsibleAWSModule):
    """AnsibleAWSModule that names this collection in botocore's user agent and makes every client
    from one boto3 session (boto3_session): amazon.aws makes a session per client, and each new
    session loads the endpoint and service data again (about 0.1 s a client; stack_info makes
    eight)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        set_collection_info(collection_name=COLLECTION_NAME, collection_version=COLLECTION_VERSION)
        self._sessions = {}

    def client(self, service, retry_decorator=None, override_config=None, **extra_params):
        """A client of ``service``; ``override_config`` (a botocore Config) is merged last, over
        the task's aws_config (for example to turn botocore's retries off for one call)."""
        region, endpoint_url, params = get_aws_connection_info(self)
        params = {**params, **extra_params}
        profile = params.pop("profile_name", None)
        config = botocore.config.Config(user_agent=_get_user_agent_string())
        for key in ("config", "aws_config"):
            extra = params.pop(key, None)
            if extra:
                config = config.merge(
                    extra
                    if isinstance(extra, botocore.config.Config)
                    else botocore.config.Config(**extra)
                )
        if override_config is not None:
            config = config.merge(override_config)
        try:
            if profile not in self._sessions:
                self._sessions[profile] = boto3_session(profile)
            conn = self._sessions[profile].client(
                service, config=config, region_name=region, endpoint_url=endpoint_url, **params
            )
        except botocore.exceptions.NoRegionError:
            self.fail_json(msg=f"The {self._name} module requires a region and none was found")
        except (ValueError, botocore.exceptions.BotoCoreError) as e:
            self.fail_json_aws(e, msg="Couldn't connect to AWS")
        return conn if retry_decorator is None else RetryingBotoClientWrapper(conn, retry_decorator)
