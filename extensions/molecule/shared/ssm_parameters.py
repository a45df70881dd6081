"""Print {name: {type, value}} of every SSM parameter under a path, as JSON (for verify steps).

No Ansible module reports a parameter's type; this reads it with boto3, using the AWS_* environment.
"""

import json
import sys

import boto3


def main(path: str) -> None:
    ssm = boto3.client("ssm")
    found = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path=path, Recursive=True, WithDecryption=True
    ):
        for parameter in page["Parameters"]:
            name = parameter["Name"].rsplit("/", 1)[-1]
            found[name] = {"type": parameter["Type"], "value": parameter["Value"]}
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
