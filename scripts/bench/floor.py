"""The benchmark's floor: the AWS API calls a recorded run made, made again in one boto3 process.

    python scripts/bench/floor.py RECORD.jsonl ENDPOINT_URL   -> prints seconds and the call count

RECORD comes from scripts/bench/recorder (sitecustomize.py) during a run of the collection against
another emulator seeded the same way. The replay makes the same calls with the same parameters, in
order, one client per service, no Ansible and no process per task: what the run would cost with
none of its own overhead. IDs the emulator generates (VPC, subnet, group IDs, ARNs) differ between
emulators, so each recorded answer is compared with the replay's answer and every differing
identifier is replaced in the later calls' parameters. Calls that failed when recorded (a lookup
of something not there yet) are made again and expected to fail.
"""

import json
import re
import sys
import time

import boto3
import botocore.exceptions
from botocore.config import Config


def _identifier(text):
    return isinstance(text, str) and len(text) >= 8 and " " not in text


def learn(recorded, actual, mapping):
    """Pairs of identifiers at the same place in two answers of the same call."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        for key in recorded.keys() & actual.keys():
            learn(recorded[key], actual[key], mapping)
    elif isinstance(recorded, list) and isinstance(actual, list) and len(recorded) == len(actual):
        for left, right in zip(recorded, actual, strict=True):
            learn(left, right, mapping)
    elif _identifier(recorded) and _identifier(actual) and recorded != actual:
        mapping[recorded] = actual
        # Parts too: a call may pass a bare ID its answer gave inside a path or an ARN
        # (/hostedzone/ID, .../loadbalancer/app/name/ID).
        left, right = re.split(r"[/:]", recorded), re.split(r"[/:]", actual)
        if len(left) == len(right):
            for part, other in zip(left, right, strict=True):
                if part != other and _identifier(part) and _identifier(other):
                    mapping[part] = other


def substitute(params, mapping):
    text = json.dumps(params)
    for recorded in sorted(mapping, key=len, reverse=True):
        text = text.replace(recorded, mapping[recorded])
    return json.loads(text)


def replay(calls, endpoint):
    clients, mapping = {}, {}
    config = Config(retries={"mode": "standard", "max_attempts": 3})
    start = time.perf_counter()
    for call in calls:
        key = (call["service"], call["region"])
        if key not in clients:
            clients[key] = boto3.client(
                call["service"],
                region_name=call["region"],
                endpoint_url=endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=config,
            )
        client = clients[key]
        operation = client.meta.method_to_api_mapping
        method = {api: name for name, api in operation.items()}[call["operation"]]
        try:
            response = getattr(client, method)(**substitute(call["params"], mapping))
        except botocore.exceptions.ClientError:
            if "error" not in call:
                raise
            continue
        learn(call.get("response") or {}, response, mapping)
    return time.perf_counter() - start


def main():
    record, endpoint = sys.argv[1], sys.argv[2]
    with open(record, encoding="utf-8") as lines:
        calls = [json.loads(line) for line in lines if line.strip()]
    seconds = replay(calls, endpoint)
    print(f"{seconds:.2f} {len(calls)}")


if __name__ == "__main__":
    main()
