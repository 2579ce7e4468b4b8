"""dev/airflow_component.py (an Airflow component started beside `airflow db migrate`) and
the keys dev/stack.py gives every component in its environment instead of airflow.cfg."""

from __future__ import annotations

import configparser
import json
import stat
import threading

import pytest

from dev.airflow_component import main, wait_for_migration
from dev.stack import Stack


def test_a_component_waits_for_the_migration(tmp_path):
    flag = tmp_path / "airflow-migrated"
    timer = threading.Timer(0.3, flag.touch)
    timer.start()
    try:
        wait_for_migration(flag, timeout=30, interval=0.01)
    finally:
        timer.cancel()
    assert flag.exists()


def test_a_component_gives_up_when_the_migration_never_ends(tmp_path):
    with pytest.raises(SystemExit, match=r"not migrated within 0 s .*airflow-db-migrate.log"):
        wait_for_migration(tmp_path / "airflow-migrated", timeout=0, interval=0.01)


@pytest.mark.parametrize("argv", [[], ["webserver"], ["scheduler", "extra"]])
def test_only_the_four_components_are_started(argv):
    with pytest.raises(SystemExit, match=r"usage: python -m dev\.airflow_component"):
        main(argv)


def stack(state_dir) -> Stack:
    return Stack(state_dir, pg_port=1, s3_port=2, api_port=3, bucket="b")


def test_the_keys_are_drawn_once_per_stack_and_kept_private(tmp_path):
    keys = stack(tmp_path).airflow_keys()
    assert set(keys) == {"fernet_key", "jwt_secret", "secret_key"}
    assert len(set(keys.values())) == 3 and all(len(v) >= 32 for v in keys.values())
    assert stack(tmp_path).airflow_keys() == keys  # another Stack() of the same state: the same keys
    assert stat.S_IMODE((tmp_path / "airflow-keys.json").stat().st_mode) == 0o600
    assert stack(tmp_path / "other").airflow_keys() != keys

    env = stack(tmp_path).airflow_env()
    assert (
        env["AIRFLOW__CORE__FERNET_KEY"],
        env["AIRFLOW__API_AUTH__JWT_SECRET"],
        env["AIRFLOW__API__SECRET_KEY"],
    ) == (
        keys["fernet_key"],
        keys["jwt_secret"],
        keys["secret_key"],
    )


def test_a_state_directory_of_an_earlier_release_keeps_its_keys(tmp_path):
    """Its airflow.cfg holds the keys the metadata database was written with."""
    cfg = configparser.ConfigParser()
    cfg.read_dict({"core": {"fernet_key": "F" * 43 + "="}, "api_auth": {"jwt_secret": "J" * 24}, "api": {}})
    (tmp_path / "airflow").mkdir()
    with open(tmp_path / "airflow" / "airflow.cfg", "w") as handle:
        cfg.write(handle)
    keys = stack(tmp_path).airflow_keys()
    assert (keys["fernet_key"], keys["jwt_secret"]) == ("F" * 43 + "=", "J" * 24)
    assert len(keys["secret_key"]) >= 32  # none in that file: drawn
    assert json.loads((tmp_path / "airflow-keys.json").read_text()) == keys
