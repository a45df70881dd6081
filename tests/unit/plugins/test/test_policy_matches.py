"""The policy_matches test: the same policy as amazon.aws.iam_policy sees it."""

from __future__ import annotations

from ansible_collections.leverslabs.asset_manager.plugins.test.policy_matches import (
    policy_matches,
)

WANTED = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
        {"Sid": "B", "Effect": "Allow", "Action": "ecs:RunTask", "Resource": ["arn:x"]},
    ],
}


def test_the_same_policy_in_another_order_and_shape_matches():
    read = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "B", "Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": "arn:x"},
            {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        ],
    }
    assert policy_matches(read, WANTED)


def test_any_other_statement_does_not_match():
    for change in ({"Action": "s3:*"}, {"Resource": "arn:y"}, {"Effect": "Deny"}, {"Sid": "C"}):
        read = {
            **WANTED,
            "Statement": [{**WANTED["Statement"][0], **change}, WANTED["Statement"][1]],
        }
        assert not policy_matches(read, WANTED), change
    fewer = {**WANTED, "Statement": WANTED["Statement"][:1]}
    assert not policy_matches(fewer, WANTED)


def test_a_missing_policy_does_not_match():
    assert not policy_matches(None, WANTED)
    assert not policy_matches("", WANTED)
