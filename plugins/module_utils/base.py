# Copyright: Levers Labs
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared base for the collection's modules."""

from ansible_collections.amazon.aws.plugins.module_utils.common import set_collection_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

COLLECTION_NAME = "leverslabs.asset_manager"
COLLECTION_VERSION = "0.1.0"


class AssetManagerModule(AnsibleAWSModule):
    """AnsibleAWSModule that names this collection in botocore's user agent."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        set_collection_info(collection_name=COLLECTION_NAME, collection_version=COLLECTION_VERSION)
