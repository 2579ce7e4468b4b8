"""include/sparkify/staging/s3_hook.py: every session of SharedModelsS3Hook reads botocore's
data files through one loader, and its client is the one S3Hook gives for the connection."""

from __future__ import annotations

import json

import botocore.loaders
import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from include.sparkify.staging.s3_hook import SharedModelsS3Hook

CONN_ID = "s3_hook_test"
CONNECTION = {
    "conn_type": "aws",
    "login": "AKIDEXAMPLEKEY",
    "password": "example-secret-key",
    "extra": {
        "endpoint_url": "http://127.0.0.1:9",
        "region_name": "eu-west-1",
        "config_kwargs": {"s3": {"addressing_style": "path"}, "retries": {"max_attempts": 7}},
    },
}


@pytest.fixture
def connection(monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(CONNECTION))


@pytest.fixture
def data_files_read(monkeypatch) -> list[str]:
    """The botocore data files read from disk from now on (their paths)."""
    read: list[str] = []
    load_file = botocore.loaders.JSONFileLoader.load_file

    def counted(self, file_path):
        read.append(file_path)
        return load_file(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counted)
    return read


def test_a_later_client_reads_no_data_file_again(connection, data_files_read):
    SharedModelsS3Hook(aws_conn_id=CONN_ID).get_conn()  # the process's first, if no other test made one
    data_files_read.clear()
    SharedModelsS3Hook(aws_conn_id=CONN_ID).get_conn()
    assert data_files_read == []
    S3Hook(aws_conn_id=CONN_ID).get_conn()  # the provider's own hook reads them again, every time
    assert any("s3" in path for path in data_files_read), data_files_read


def test_the_sessions_share_one_loader(connection):
    sessions = [SharedModelsS3Hook(aws_conn_id=CONN_ID).get_session() for _ in range(2)]
    loaders = {id(s._session.get_component("data_loader")) for s in sessions}
    assert len(loaders) == 1


def test_the_client_is_the_one_s3hook_gives_for_the_connection(connection):
    ours = SharedModelsS3Hook(aws_conn_id=CONN_ID).get_conn()
    theirs = S3Hook(aws_conn_id=CONN_ID).get_conn()
    assert ours.meta.endpoint_url == theirs.meta.endpoint_url == CONNECTION["extra"]["endpoint_url"]
    assert ours.meta.region_name == theirs.meta.region_name == "eu-west-1"
    assert ours.meta.config.s3 == theirs.meta.config.s3 == {"addressing_style": "path"}
    assert ours.meta.config.retries == theirs.meta.config.retries
    assert ours.meta.config.user_agent_extra.split()[0] == theirs.meta.config.user_agent_extra.split()[0]
    assert ours.meta.config.user_agent_extra.startswith("Airflow/")
    credentials = ours._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == (CONNECTION["login"], CONNECTION["password"])
    assert ours.meta.service_model.service_name == "s3"
    assert sorted(ours.meta.service_model.operation_names) == sorted(theirs.meta.service_model.operation_names)
