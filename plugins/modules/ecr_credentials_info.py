#!/usr/bin/python

# Copyright: Levers Labs
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecr_credentials_info
version_added: 0.2.0
short_description: Get a login for the account's ECR registry
description:
  - Calls ECR's GetAuthorizationToken for the registry of the credentials' account in the
    region, decodes the token (base64 of C(AWS:<password>)) and returns what a Docker login
    needs, for example M(community.docker.docker_login) or a registry API request with basic
    authentication.
  - Makes no change; runs in check mode as it does otherwise. Every call returns a new token,
    valid for 12 hours.
  - The result holds a secret, the registry password. Run the task with C(no_log=true) and pass
    the value on only to options that are themselves C(no_log) (see the notes).
notes:
  - Needs C(ecr:GetAuthorizationToken) (on resource C(*)).
  - A module cannot hide a value it returns from the console and still hand it to the caller;
    Ansible replaces every value a module marks as C(no_log) in the module's whole result, so
    the registered RV(password) would be C(********). This module therefore marks only the
    encoded token (which it never returns) as C(no_log), so that no failure or warning can print
    it, and leaves the password to the task's C(no_log=true), as M(amazon.aws.iam_access_key)
    does for the keys it returns.
  - A token that does not decode to C(<user>:<password>) fails the module with a message that
    names neither part.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Levers Labs platform team (@leverslabs)
"""

EXAMPLES = r"""
- name: Get a login for the account's ECR registry
  leverslabs.asset_manager.ecr_credentials_info:
  register: ecr_login
  # The result holds the registry password.
  no_log: true

- name: Log in to the registry
  community.docker.docker_login:
    registry_url: "{{ ecr_login.registry }}"
    username: "{{ ecr_login.username }}"
    password: "{{ ecr_login.password }}"
  no_log: true

- name: Say until when the login is valid (no secret in it)
  ansible.builtin.debug:
    msg: "{{ ecr_login.registry }} until {{ ecr_login.expires_at }}"
"""

RETURN = r"""
registry:
  description: The registry host of the account's ECR endpoint, without scheme.
  returned: always
  type: str
  sample: 123456789012.dkr.ecr.us-west-1.amazonaws.com
username:
  description: The user name of the login (ECR's is always C(AWS)).
  returned: always
  type: str
  sample: AWS
password:
  description:
    - The registry password, valid until RV(expires_at).
    - A secret. Run the task with C(no_log=true); pass it only to C(no_log) options.
  returned: always
  type: str
  sample: "********"
expires_at:
  description: When the login expires, in ISO 8601.
  returned: always
  type: str
  sample: "2026-01-01T12:00:00+00:00"
"""

import base64
import binascii
from urllib.parse import urlsplit

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.leverslabs.asset_manager.plugins.module_utils.base import (
    AssetManagerModule,
)


class BadToken(ValueError):
    """The authorization token is not base64 of ``<user>:<password>``; the message holds neither."""


def decode_token(token):
    """(username, password) of ECR's authorization token, base64 of ``<user>:<password>``."""
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, TypeError):
        raise BadToken("ECR's authorization token is not base64 text") from None
    username, sep, password = text.partition(":")
    if not sep or not username or not password:
        raise BadToken("ECR's authorization token does not decode to <user>:<password>")
    return username, password


def registry_host(proxy_endpoint):
    """The host (and port) of ECR's proxy endpoint, ``https://<host>`` as ECR gives it."""
    endpoint = proxy_endpoint.strip()
    return (urlsplit(endpoint).netloc if "://" in endpoint else endpoint.split("/")[0]) or None


def credentials(authorization_data):
    """What a Docker login needs, from one ``authorizationData`` entry; pure."""
    username, password = decode_token(authorization_data["authorizationToken"])
    expires_at = authorization_data.get("expiresAt")
    return {
        "registry": registry_host(authorization_data.get("proxyEndpoint") or ""),
        "username": username,
        "password": password,
        "expires_at": expires_at.isoformat() if hasattr(expires_at, "isoformat") else expires_at,
    }


def get_authorization_data(client):
    """The registry's one authorization entry (no registryIds: the credentials' account)."""
    data = client.get_authorization_token(aws_retry=True).get("authorizationData") or []
    return data[0] if data else None


def main():
    module = AssetManagerModule(argument_spec={}, supports_check_mode=True)
    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    try:
        data = get_authorization_data(client)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="Failed to get an ECR authorization token")
    if not data or not data.get("authorizationToken"):
        module.fail_json(msg="ECR returned no authorization token for this account and region")
    # The token is never returned; masking it keeps it out of any failure or warning.
    module.no_log_values.add(data["authorizationToken"])
    try:
        result = credentials(data)
    except BadToken as e:
        module.fail_json(msg=str(e))
    if not result["registry"]:
        module.fail_json(msg="ECR returned no registry endpoint with the authorization token")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
