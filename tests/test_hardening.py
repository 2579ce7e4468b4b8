"""Hardened local state and deploy defaults (issue 11): the local stack's state directory and
the files in it that hold a password are its user's alone, Airflow uses the local warehouse
as a role that owns the database and nothing more, the COPY role can be assumed by Redshift
Serverless of the deploying account only, listing is limited to the three source prefixes,
and docs/deploy.md creates a private workgroup. (Alert escaping: tests/unit/test_alerts.py.)"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import uuid
from pathlib import Path

import pytest

from dev.stack import ETL_USER, PG_PASSWORD, PG_SYSTEM_USER, PG_USER, Stack

REPO = Path(__file__).resolve().parents[1]
IAM = REPO / "docs" / "iam"
DEPLOY = (REPO / "docs" / "deploy.md").read_text()
SOURCE_PREFIXES = ["log_data/*", "song_data/*", "log_json_path.json"]


# ---------------------------------------------------------------- the state directory
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private_dir_mode(stack: Stack, path: Path) -> int:
    """0700; run as root, the state directory and logs/ are 0710 with group pgserver (PostgreSQL
    runs as that user and must pass through them to its data directory and log)."""
    passage = stack._pg_account() is not None and path in (stack.state_dir, stack.log_dir)
    if passage:
        assert path.stat().st_gid == stack._pg_account().pw_gid
    return 0o710 if passage else 0o700


def assert_private(stack: Stack) -> None:
    for path in (stack.state_dir, stack.pid_dir, stack.log_dir, stack.airflow_home):
        if path.exists():
            assert mode(path) == private_dir_mode(stack, path), f"{path}: {oct(mode(path))}"
    for path in [stack.passwords_file, stack.warehouse_passwords_file, *stack.log_dir.glob("*.log")]:
        if path.exists():
            assert mode(path) == 0o600, f"{path}: {oct(mode(path))}"


def test_a_state_directory_of_an_earlier_release_is_made_private(tmp_path):
    state = tmp_path / "local"
    (state / "airflow").mkdir(parents=True)
    (state / "logs").mkdir()
    (state / "pids").mkdir()
    old = {
        "airflow-passwords.json": '{"admin": "x"}',
        "airflow/airflow.cfg": "[api]\nsecret_key = k\n",
        "airflow/simple_auth_manager_passwords.json.generated": '{"admin": "y"}',
        "logs/airflow-scheduler.log": "",
        "pgpass.tmp": PG_PASSWORD,
    }
    for name, text in old.items():
        (state / name).write_text(text)
    for path in [state, *state.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    stack = Stack(state)
    assert_private(stack)
    for name in (
        "airflow-passwords.json",
        "airflow/airflow.cfg",
        "airflow/simple_auth_manager_passwords.json.generated",
    ):
        assert mode(state / name) == 0o600, name
    assert not (state / "pgpass.tmp").exists()


def test_what_the_stack_writes_is_private_from_the_start(tmp_path):
    stack = Stack(tmp_path / "new")
    assert_private(stack)
    password = stack.etl_password()
    assert mode(stack.warehouse_passwords_file) == 0o600 and len(password) >= 24
    assert Stack(tmp_path / "new").etl_password() == password != Stack(tmp_path / "other").etl_password()
    assert [p.name for p in stack.state_dir.iterdir() if p.name.startswith(".")] == []  # no draft left
    # A component's log, and what it writes (airflow.cfg, ...): umask 077.
    written = stack.state_dir / "written-by-a-component"
    pid = stack._spawn("probe", [sys.executable, "-c", f"open({str(written)!r}, 'w').write('k')"])
    os.waitpid(pid, 0)
    assert mode(written) == 0o600 and mode(stack.log_dir / "probe.log") == 0o600


# ---------------------------------------------------------------- the warehouse role
def test_airflow_and_the_tools_use_the_etl_role_and_setup_the_superuser(tmp_path):
    stack = Stack(tmp_path / "s", pg_port=5999)
    conn = stack.redshift_conn()
    assert (conn["login"], conn["password"]) == (ETL_USER, stack.etl_password())
    assert json.loads(stack.airflow_env()["AIRFLOW_CONN_REDSHIFT"]) == conn
    assert stack.warehouse_dsn() == f"postgresql://{ETL_USER}:{stack.etl_password()}@127.0.0.1:5999/sparkify"
    assert PG_PASSWORD not in json.dumps(stack.airflow_env()) and PG_PASSWORD not in stack.warehouse_dsn()
    assert stack.admin_dsn() == f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:5999/postgres"


def test_the_etl_role_owns_the_warehouse_and_nothing_more(stack):
    import psycopg
    from psycopg import errors

    assert_private(stack)
    assert stack._pg_account() is None or stack._pg_account().pw_name == PG_SYSTEM_USER
    with psycopg.connect(stack.warehouse_dsn(), autocommit=True) as conn:
        assert conn.execute(
            "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
            "pg_get_userbyid(d.datdba) FROM pg_roles, pg_database AS d "
            "WHERE rolname = current_user AND d.datname = current_database()"
        ).fetchone() == (ETL_USER, False, False, False, False, False, ETL_USER)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE not_allowed")

    # The database and the objects an earlier release created as the superuser are handed
    # over at the next start.
    schema = f"earlier_release_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.admin_dsn(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE sparkify OWNER TO {PG_USER}")
    with psycopg.connect(stack.admin_dsn("sparkify"), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(f"CREATE TABLE {schema}.plays (id SERIAL PRIMARY KEY, n INT GENERATED ALWAYS AS IDENTITY)")
        admin.execute(f"CREATE VIEW {schema}.v AS SELECT id FROM {schema}.plays")
        admin.execute(f"CREATE SEQUENCE {schema}.free")
    try:
        stack.setup_warehouse()
        with psycopg.connect(stack.warehouse_dsn()) as conn:  # one transaction, as the staging engine's
            owners = conn.execute(
                "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class AS c "
                "JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = %s",
                (schema,),
            ).fetchall()
            assert {owner for _, owner in owners} == {ETL_USER} and len(owners) >= 6, owners
            conn.execute(f"LOCK TABLE {schema}.plays IN SHARE ROW EXCLUSIVE MODE")
            conn.execute(f"TRUNCATE {schema}.plays")
            conn.execute(f"CREATE TEMP TABLE t (LIKE {schema}.plays)")
            conn.execute(f"ALTER TABLE {schema}.plays ADD COLUMN added TEXT")
        with psycopg.connect(stack.warehouse_dsn(), autocommit=True) as conn:
            assert conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            ).fetchone() == (ETL_USER,)
            public = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner <> current_user"
            ).fetchall()
            assert public == []
    finally:
        with psycopg.connect(stack.admin_dsn("sparkify"), autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        stack.setup_warehouse()


# ---------------------------------------------------------------- IAM
def policy(name: str) -> dict:
    return json.loads((IAM / name).read_text())


def test_only_redshift_serverless_of_the_account_may_assume_the_copy_role():
    [statement] = policy("redshift-copy-role-trust.json")["Statement"]
    assert statement["Principal"] == {"Service": "redshift.amazonaws.com"} and statement["Action"] == "sts:AssumeRole"
    condition = statement["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": "SPARKIFY_ACCOUNT_ID"}
    arns = condition["ArnLike"]["aws:SourceArn"]
    assert arns and all(
        re.fullmatch(r"arn:aws:redshift-serverless:SPARKIFY_REGION:SPARKIFY_ACCOUNT_ID:(namespace|workgroup)/\*", a)
        for a in arns
    ), arns


@pytest.mark.parametrize("name", ["redshift-copy-role-policy.json", "airflow-identity-policy.json"])
def test_listing_is_limited_to_the_three_source_prefixes(name):
    statements = policy(name)["Statement"]
    actions = [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not any(a in ("*", "s3:*") or a.endswith("*") for a in actions), actions
    listing = [s for s in statements if "s3:ListBucket" in json.dumps(s["Action"])]
    assert len(listing) == 1
    [statement] = listing
    assert statement["Effect"] == "Allow" and statement["Resource"] == "arn:aws:s3:::SPARKIFY_BUCKET"
    assert statement["Condition"] == {"StringLike": {"s3:prefix": SOURCE_PREFIXES}}


# ---------------------------------------------------------------- docs/deploy.md
def shell_commands(doc: str) -> list[str]:
    """The commands of the doc's sh blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", doc, re.S)
    return [c.strip() for block in blocks for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def test_every_iam_file_is_used_with_its_placeholders_substituted():
    commands = shell_commands(DEPLOY)
    assert not re.search(r"file://docs/iam/", DEPLOY), "an IAM file used as is, placeholders and all"
    values = {"ACCOUNT_ID": "123456789012", "AWS_REGION": "eu-west-1", "BUCKET": "my-bucket"}
    for path in sorted(IAM.glob("*.json")):
        [sed] = [c for c in commands if c.startswith("sed ") and f"docs/iam/{path.name}" in c]
        target = re.search(r"> (/tmp/[\w.-]+\.json)$", sed).group(1)
        assert any(f"file://{target}" in c for c in commands), f"{target} is never used"
        text = path.read_text()
        for placeholder, variable in re.findall(r"s/(SPARKIFY_[A-Z_]+)/\$(\w+)/g", sed):
            text = text.replace(placeholder, values[variable])
        assert not re.findall(r"SPARKIFY_[A-Z_]+", text), (path.name, sed)
        json.loads(text)


def test_the_workgroup_is_private_unless_public_access_is_chosen():
    [create] = [c for c in shell_commands(DEPLOY) if "create-workgroup" in c]
    assert "--no-publicly-accessible" in create and not re.search(r"(?<!no-)publicly-accessible", create)
    opt_in = DEPLOY[DEPLOY.index("**Public access is an opt-in**") :]
    opt_in = opt_in[: opt_in.index("Create the user Airflow logs in as")]
    assert "--publicly-accessible" in opt_in and "authorize-security-group-ingress" in opt_in and "/32" in opt_in
    assert "0.0.0.0/0" not in "".join(shell_commands(DEPLOY))
    assert DEPLOY.index("The workgroup is **private**") < DEPLOY.index("--no-publicly-accessible")
