"""One way to run a module's real ``main()`` in a unit test, as amazon.aws's unit tests do.

``run_module(module, args, client)`` feeds ``args`` to the module through ansible-core's own
``patch_module_args`` and hands the module ``client`` whenever it asks for one: a real boto3
client under botocore's Stubber (``stubbed_client``), or a mapping of service name to such
clients. It returns the result of ``exit_json`` or raises ``Failed`` with the result of
``fail_json``. Import it as
``ansible_collections.leverslabs.asset_manager.tests.unit.plugins.modules.utils``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from unittest import mock

import boto3
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from botocore.stub import Stubber

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)

CONNECTION = {
    "region": "us-west-1",
    "access_key": "testing",
    "secret_key": "testing",
}


class Exited(Exception):
    """exit_json was called; ``result`` holds its keyword arguments."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class Failed(Exception):
    """fail_json (or fail_json_aws) was called; ``result`` holds its keyword arguments."""

    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


def _exit_json(self, **kwargs):
    raise Exited(kwargs)


def _fail_json(self, **kwargs):
    raise Failed(kwargs)


class StubbedClient(contextlib.AbstractContextManager):
    """A real boto3 client of ``service`` under botocore's Stubber, as ``client.stubber``; every
    queued response must have been used when the block ends without an error.

    A class rather than a generator: the fixtures yield the client from inside the block, and a
    generator-based manager's check after its own ``yield`` runs only if it is resumed (pylint's
    contextmanager-generator-missing-cleanup); ``__exit__`` always runs.
    """

    def __init__(self, service):
        self.client = boto3.client(
            service, region_name=CONNECTION["region"], aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )  # fmt: skip
        self.client.stubber = Stubber(self.client)

    def __enter__(self):
        self.client.stubber.activate()
        return self.client

    def __exit__(self, exc_type, exc, traceback):
        self.client.stubber.deactivate()
        if exc_type is None:
            self.client.stubber.assert_no_pending_responses()
        return False


def stubbed_client(service):
    """``with stubbed_client("ecs") as client:`` (StubbedClient)."""
    return StubbedClient(service)


def run_module(module, args, client=None, check_mode=False, diff=False):
    """Run ``module.main()`` with ``args`` (connection options added); return exit_json's result.

    ``client`` is returned for every ``module.client(...)`` call, so no request leaves the test.
    Raises Failed when the module fails.
    """
    module_args = {**CONNECTION, **args}
    if check_mode:
        module_args["_ansible_check_mode"] = True
    if diff:
        module_args["_ansible_diff"] = True
    with (
        patch_module_args(module_args),
        mock.patch.object(AnsibleAWSModule, "exit_json", _exit_json),
        mock.patch.object(AnsibleAWSModule, "fail_json", _fail_json),
        mock.patch.object(
            AssetManagerModule, "client", lambda self, service, *a, **kw: _wrap(client, service, kw)
        ),
    ):
        try:
            module.main()
        except Exited as done:
            return done.result
    raise AssertionError("the module returned without calling exit_json or fail_json")


def _wrap(client, service, kwargs):
    """The client the module asked for, with amazon.aws's retry wrapper when it passed one."""
    if isinstance(client, Mapping):
        client = client.get(service)
    if client is None:
        raise AssertionError("the module asked for an AWS client, but the test gave none")
    decorator = kwargs.get("retry_decorator")
    if decorator is None:
        return client
    from ansible_collections.amazon.aws.plugins.module_utils.retries import (
        RetryingBotoClientWrapper,
    )

    return RetryingBotoClientWrapper(client, decorator)


def expect_elbv2_tags(stubber, arn, tags):
    """ELBv2's DescribeTags answer for one resource (module_utils.elbv2.describe_tags)."""
    stubber.add_response(
        "describe_tags",
        {
            "TagDescriptions": [
                {"ResourceArn": arn, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        },
        {"ResourceArns": [arn]},
    )
