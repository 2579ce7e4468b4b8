"""moto in this process (`mock_aws`), for the tests of the S3 stand-in's shortcuts
(tests/test_moto_fast_get.py, tests/test_moto_fast_list.py): each compares an answer of
moto's own S3 responses with the shortcut's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

# Set by the stack's fixtures in this session: boto3 would send to the stack's moto server.
STACK_VARIABLES = ("MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@contextlib.contextmanager
def in_process_moto() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in STACK_VARIABLES:
            patch.delenv(name, raising=False)
        with mock_aws():
            yield


def client(**options):
    return boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing", **options
    )
