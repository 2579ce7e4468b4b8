"""The Astro project around the DAGs, checked without a Docker engine:

* docker-compose.override.yml parses and references only services and networks that exist
  (the Astro CLI's own services, verified against its Airflow 3 compose template, plus ours);
* airflow_settings.yaml defines exactly the connections and variable the DAGs use, pointing at
  services of the compose file with the credentials those services are given;
* the one-shot seed service's script creates the bucket and uploads the sample, idempotently,
  with nothing but boto3 (it runs in the moto image);
* the Dockerfile passes hadolint and names an Airflow 3 Astro Runtime of the pinned Airflow;
* requirements.txt resolves on top of Airflow 3.3.2 without moving any of Airflow's pins.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from include.sparkify import config
from tests.conftest import find_executable, local_tools_or_skip

REPO = Path(__file__).resolve().parents[1]

# The services and network of the compose project the Astro CLI generates for Airflow 3
# (astro-cli airflow/include/airflow3/composeyml.go.tmpl), and the host ports it publishes
# by default (api-server 8080, metadata postgres 5432).
ASTRO_SERVICES = frozenset({"postgres", "db-migration", "scheduler", "dag-processor", "api-server", "triggerer"})
ASTRO_NETWORKS = frozenset({"airflow"})
ASTRO_HOST_PORTS = frozenset({8080, 5432})
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def load_yaml(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml("docker-compose.override.yml")


@pytest.fixture(scope="module")
def settings() -> dict:
    return load_yaml("airflow_settings.yaml")["airflow"]


def connections(settings: dict) -> dict[str, dict]:
    return {c["conn_id"]: c for c in settings["connections"]}


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def host_ports(service: dict) -> list[int]:
    ports = []
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        if len(parts) >= 2:
            ports.append(int(parts[-2]))
    return ports


def compose_problems(doc: dict) -> list[str]:
    """What would make `astro dev start` fail or wire things wrongly; empty when fine."""
    problems = []
    services = doc.get("services") or {}
    known = ASTRO_SERVICES | set(services)
    networks = ASTRO_NETWORKS | set(doc.get("networks") or {})
    volumes = set(doc.get("volumes") or {})
    for name, svc in services.items():
        svc = svc or {}
        if name not in ASTRO_SERVICES and not (svc.get("image") or svc.get("build")):
            problems.append(f"{name}: not an Astro service and has no image (a typo of one?)")
        for dep, condition in depends_on(svc).items():
            if dep not in known:
                problems.append(f"{name}: depends on unknown service {dep!r}")
                continue
            if condition not in CONDITIONS:
                problems.append(f"{name}: unknown condition {condition!r} for {dep}")
            target = services.get(dep) or {}
            if condition == "service_healthy" and dep not in ASTRO_SERVICES and "healthcheck" not in target:
                problems.append(f"{name}: waits for {dep} to be healthy but {dep} has no healthcheck")
            if condition == "service_completed_successfully" and str(target.get("restart", "no")) != "no":
                problems.append(f"{name}: waits for {dep} to complete but {dep} restarts ({target.get('restart')})")
        svc_networks = svc.get("networks") or []
        for net in svc_networks if isinstance(svc_networks, list) else list(svc_networks):
            if net not in networks:
                problems.append(f"{name}: unknown network {net!r}")
        if name not in ASTRO_SERVICES and "airflow" not in svc_networks:
            problems.append(f"{name}: not on the Astro network 'airflow', Airflow cannot reach it")
        for vol in svc.get("volumes", []):
            source = str(vol).split(":")[0]
            if source.startswith((".", "/")):
                if source.startswith(".") and not (REPO / source).exists():
                    problems.append(f"{name}: bind mount source {source} does not exist in the project")
            elif source not in volumes:
                problems.append(f"{name}: undeclared named volume {source!r}")
    ports = [p for svc in services.values() for p in host_ports(svc or {})]
    for port in sorted(set(ports)):
        if ports.count(port) > 1 or port in ASTRO_HOST_PORTS:
            problems.append(f"host port {port} is published twice (the Astro CLI uses {sorted(ASTRO_HOST_PORTS)})")
    return problems


# ---------------------------------------------------------------- compose


def test_compose_references_only_existing_services_networks_and_volumes(compose):
    assert compose_problems(compose) == []


def test_compose_check_catches_broken_references(compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["scheduler"]["depends_on"]["s3-sed"] = {"condition": "service_started"}
    broken["services"]["warehouse"]["networks"] = ["airflow", "default-net"]
    broken["services"]["webserver"] = {"environment": {"X": "1"}}  # Airflow 2's name: not in Airflow 3
    broken["services"]["s3-seed"]["restart"] = "on-failure"
    del broken["services"]["warehouse"]["healthcheck"]
    broken["services"]["s3"]["ports"] = ["8080:5000"]
    problems = "\n".join(compose_problems(broken))
    for expected in (
        "unknown service 's3-sed'",
        "unknown network 'default-net'",
        "webserver: not an Astro service",
        "s3-seed restarts",
        "warehouse has no healthcheck",
        "host port 8080",
    ):
        assert expected in problems


def test_the_scheduler_waits_for_the_seeded_bucket_and_the_warehouse(compose):
    services = compose["services"]
    assert depends_on(services["scheduler"]) == {
        "s3-seed": "service_completed_successfully",
        "warehouse": "service_healthy",
    }
    seed = services["s3-seed"]
    assert depends_on(seed) == {"s3": "service_started"}
    assert seed["entrypoint"][-1] == "dev.compose_seed" and (REPO / "dev/compose_seed.py").exists()
    assert seed["image"] == services["s3"]["image"]  # the moto image's Python + boto3, no other pull


def test_parse_and_run_see_the_same_sparkify_settings(compose):
    """The DAG processor (parsing: asset URIs, end date) and the scheduler (running tasks) agree."""
    env = compose["services"]
    assert env["scheduler"]["environment"] == env["dag-processor"]["environment"]
    uri = urlsplit(env["scheduler"]["environment"]["SPARKIFY_WAREHOUSE_URI"])
    assert uri.hostname == "warehouse" and uri.port == 5432


# ---------------------------------------------------------------- settings


def test_settings_define_exactly_what_the_dags_use(settings):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from include.sparkify.staging import PostgresEngine

    conns = connections(settings)
    assert set(conns) == {config.AWS_CONN_ID, config.REDSHIFT_CONN_ID}
    assert conns[config.AWS_CONN_ID]["conn_type"] == S3Hook.conn_type
    assert conns[config.REDSHIFT_CONN_ID]["conn_type"] == PostgresEngine.name  # the local stand-in's engine
    assert [v["variable_name"] for v in settings["variables"]] == [config.BUCKET_VARIABLE]
    assert all(v["variable_value"] for v in settings["variables"])


def test_settings_point_at_the_compose_services(settings, compose):
    from airflow.models.connection import Connection
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

    services = compose["services"]
    conns = connections(settings)
    aws = conns[config.AWS_CONN_ID]
    wrapper = AwsConnectionWrapper(
        Connection(
            conn_id=aws["conn_id"],
            conn_type=aws["conn_type"],
            login=aws["conn_login"],
            password=aws["conn_password"],
            extra=json.dumps(aws["conn_extra"]),
        )
    )
    endpoint = urlsplit(wrapper.endpoint_url)
    assert endpoint.hostname in services and "moto" in services[endpoint.hostname]["image"]
    assert endpoint.port == 5000  # moto server's port inside its container
    seed = services["s3-seed"]["environment"]
    assert seed["SPARKIFY_S3_ENDPOINT_URL"] == wrapper.endpoint_url
    assert (seed["AWS_ACCESS_KEY_ID"], seed["AWS_SECRET_ACCESS_KEY"]) == (
        wrapper.aws_access_key_id,
        wrapper.aws_secret_access_key,
    )
    assert seed["AWS_DEFAULT_REGION"] == wrapper.region_name
    bucket = {v["variable_name"]: v["variable_value"] for v in settings["variables"]}[config.BUCKET_VARIABLE]
    assert seed["SPARKIFY_BUCKET"] == bucket

    pg = conns[config.REDSHIFT_CONN_ID]
    warehouse = services[pg["conn_host"]]
    assert warehouse["image"].startswith("postgres:") and pg["conn_port"] == 5432
    env = warehouse["environment"]
    assert (pg["conn_login"], pg["conn_password"], pg["conn_schema"]) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_DB"],
    )


# ---------------------------------------------------------------- the seed service


def run_seed(stack, bucket: str) -> subprocess.CompletedProcess:
    """dev/compose_seed.py as the s3-seed service runs it: no Airflow importable (moto image)."""
    from dev.stack import AWS_KEY_ID, AWS_REGION, AWS_SECRET

    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SPARKIFY_S3_ENDPOINT_URL": stack.s3_endpoint,
        "SPARKIFY_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_DEFAULT_REGION": AWS_REGION,
        "SPARKIFY_SEED_EVENTS": "400",
        "SPARKIFY_SEED_SONGS": "15",
        "SPARKIFY_SEED_USERS": "10",
        "SPARKIFY_SEED_DAYS": "2",
        "NO_PROXY": "*",
    }
    code = (
        "import sys; sys.modules['airflow'] = None\n"  # importing airflow would fail, as in the moto image
        "from dev.compose_seed import main; sys.exit(main())"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_seed_service_creates_the_bucket_and_uploads_the_sample_once(stack, tmp_path):
    from dev.datagen import GeneratorSpec, generate

    bucket = "sparkify-compose-seed"
    first = run_seed(stack, bucket)
    assert first.returncode == 0, first.stderr
    expected_dir = tmp_path / "expected"
    generate(expected_dir, GeneratorSpec(events=400, songs=15, users=10, days=2))
    expected = {p.relative_to(expected_dir).as_posix(): p.read_bytes() for p in expected_dir.rglob("*") if p.is_file()}
    s3 = stack.s3_client()
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    assert sorted(keys) == sorted(expected)
    for key in ("log_json_path.json", min(k for k in expected if k.startswith("log_data/"))):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == expected[key]
    assert "bucket s3://sparkify-compose-seed created" in first.stdout
    assert f"uploaded {len(expected)}/{len(expected)} objects" in first.stdout  # progress, not silence

    second = run_seed(stack, bucket)
    assert second.returncode == 0, second.stderr
    assert "already there" in second.stdout and f"0 uploaded, {len(expected)} already there" in second.stdout


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_names_an_airflow3_astro_runtime_of_the_pinned_airflow():
    lines = [
        line for line in (REPO / "Dockerfile").read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    match = re.fullmatch(r"FROM astrocrpublic\.azurecr\.io/runtime:(\d+)\.(\d+)-(\d+)", lines[0])
    assert match, lines[0]  # Airflow 3 Runtime tags are major.minor-patch on Astronomer's registry
    airflow = local_pins()["apache-airflow"]
    assert f"{match[1]}.{match[2]}" == ".".join(airflow.split(".")[:2])


def test_pyproject_states_the_versions_the_dockerfile_and_the_venv_use():
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]
    runtime = re.fullmatch(
        r"FROM astrocrpublic\.azurecr\.io/runtime:(\S+)",
        next(line for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("FROM")),
    )[1]
    assert tool["sparkify"] == {"airflow": local_pins()["apache-airflow"], "runtime": runtime}
    # A [tool.astro] table would make astro-cli treat this Dockerfile project as a "v2" project.
    assert "astro" not in tool


def hadolint(path: Path) -> tuple[int, list[dict]]:
    local_tools_or_skip(executables=("hadolint",), what="the Dockerfile lint")
    proc = subprocess.run(
        [find_executable("hadolint"), "--no-color", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, json.loads(proc.stdout or "[]")


def test_dockerfile_passes_hadolint():
    assert hadolint(REPO / "Dockerfile") == (0, [])


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM astrocrpublic.azurecr.io/runtime:latest\nRUN apt-get update && apt-get install -y curl\n")
    code, findings = hadolint(bad)
    assert code != 0 and {"DL3007", "DL3008"} <= {f["code"] for f in findings}


# ---------------------------------------------------------------- requirements.txt on Airflow 3.3.2


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            specs = list(req.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: {line!r} is not pinned with =="
            found[canonicalize_name(req.name)] = specs[0].version
    return found


def local_pins() -> dict[str, str]:
    return pins(REPO / "requirements-local.txt")


def airflow_pins() -> dict[str, str]:
    """Airflow 3.3.2's own pins: the versions requirements-local.txt gives apache-airflow and its
    dependency closure (from the installed distributions' metadata, extras left out)."""
    local = local_pins()
    assert md.version("apache-airflow") == local["apache-airflow"], "the venv is not requirements-local.txt"
    closure, todo = set(), ["apache-airflow"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in closure:
            continue
        closure.add(name)
        for spec in md.requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    assert {"apache-airflow-core", "apache-airflow-task-sdk", "sqlalchemy", "pendulum"} <= closure
    return {name: local[name] for name in sorted(closure)}


def resolve_on_airflow(requirements: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """`uv pip compile` of apache-airflow==<pin> plus the requirements, Airflow's pins as constraints."""
    local_tools_or_skip(executables=("uv",), what="the requirements resolution")
    constraints = tmp_path / "airflow-constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in airflow_pins().items()))
    wanted = tmp_path / "requirements.in"
    wanted.write_text(f"apache-airflow=={local_pins()['apache-airflow']}\n{requirements}")
    proc = subprocess.run(
        [
            find_executable("uv"),
            "pip",
            "compile",
            "--no-config",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--python-version",
            f"{sys.version_info.major}.{sys.version_info.minor}",
            "--python-platform",
            "linux",
            "-c",
            str(constraints),
            str(wanted),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    resolved = {}
    if proc.returncode == 0:
        for line in proc.stdout.splitlines():
            if "==" in line and not line.startswith("#"):
                name, version = line.split(";")[0].strip().split("==")
                resolved[canonicalize_name(name)] = version
    return proc, resolved


def test_requirements_are_pinned_like_the_tested_environment():
    image, local = pins(REPO / "requirements.txt"), local_pins()
    assert image, "requirements.txt is empty"
    assert {name: local.get(name) for name in image} == image, "pin requirements.txt as requirements-local.txt does"


def test_requirements_install_on_airflow_without_moving_its_pins(tmp_path):
    proc, resolved = resolve_on_airflow((REPO / "requirements.txt").read_text(), tmp_path)
    assert proc.returncode == 0, proc.stderr
    airflow = airflow_pins()
    moved = {n: (v, resolved.get(n)) for n, v in airflow.items() if n in resolved and resolved[n] != v}
    assert moved == {}
    assert resolved["apache-airflow-core"] == airflow["apache-airflow-core"]
    for name, version in pins(REPO / "requirements.txt").items():
        assert resolved[name] == version


@pytest.mark.parametrize("extra", ["sqlalchemy==1.4.54", "requests==2.31.0"])
def test_a_pin_that_moves_airflow_is_refused(tmp_path, extra):
    """SQLAlchemy 1.4 conflicts with Airflow 3; requests 2.31 would satisfy Airflow's ranges but move its pin."""
    proc, _ = resolve_on_airflow((REPO / "requirements.txt").read_text() + f"\n{extra}\n", tmp_path)
    assert proc.returncode != 0
    assert extra.split("==")[0] in proc.stderr.lower()


# ---------------------------------------------------------------- skips under `astro dev pytest`


def test_tests_that_need_local_tools_declare_them():
    from tests.conftest import LOCAL_STACK_MODULES, tools_needed

    assert tools_needed(["stack", "tmp_path"], "tests.test_bad_input") == LOCAL_STACK_MODULES
    assert tools_needed(["fault_stack"], "tests.test_faults") == LOCAL_STACK_MODULES
    assert tools_needed(["tmp_path"], "tests.test_sql_lint") == ("sqlfluff",)
    assert tools_needed(["tmp_path"], "tests.unit.test_window") == ()


def test_missing_tools_skip_with_a_reason_outside_ci_and_fail_in_ci(monkeypatch):
    from tests.conftest import local_tools_or_skip, real_data_or_skip

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"needs sparkify_no_such_module .*astro dev pytest"):
        local_tools_or_skip(("sparkify_no_such_module",))
    with pytest.raises(pytest.skip.Exception, match="needs no-such-binary-sparkify"):
        local_tools_or_skip(executables=("no-such-binary-sparkify",))
    local_tools_or_skip(("json",), executables=(Path(sys.executable).name,))  # present: no skip

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must have every test tool"):
        local_tools_or_skip(("sparkify_no_such_module",))
    monkeypatch.setattr("tests.conftest.REAL_DATA", Path("/nonexistent/sparkify"))
    with pytest.raises(pytest.fail.Exception, match="missing in CI"):
        real_data_or_skip()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="real Sparkify data set"):
        real_data_or_skip()


def test_only_the_conftest_helpers_skip():
    """A bare pytest.skip would also skip in CI: every skip goes through tests/conftest.py."""
    offenders = [
        f"{p.relative_to(REPO)}:{n}"
        for p in sorted((REPO / "tests").rglob("*.py"))
        if p.name != "conftest.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"pytest\.(skip|importorskip)\(|mark\.skip", line) and "pytest.skip.Exception" not in line
    ]
    assert offenders == []


# ---------------------------------------------------------------- docs/deploy.md


def test_deploy_doc_uses_the_ids_the_dags_read_and_the_dockerfile_runtime():
    doc = (REPO / "docs/deploy.md").read_text()
    for name in (
        f"AIRFLOW_CONN_{config.REDSHIFT_CONN_ID.upper()}",
        f"AIRFLOW_CONN_{config.AWS_CONN_ID.upper()}",
        f"AIRFLOW_VAR_{config.BUCKET_VARIABLE.upper()}",
        f"airflow/connections/{config.REDSHIFT_CONN_ID}",
        f"airflow/connections/{config.AWS_CONN_ID}",
        f"airflow/variables/{config.BUCKET_VARIABLE}",
        "SPARKIFY_REDSHIFT_IAM_ROLE",
        "SPARKIFY_WAREHOUSE_URI",
    ):
        assert name in doc, name
    runtime = (REPO / "Dockerfile").read_text().split("runtime:")[1].split()[0]
    assert f"--runtime-version {runtime}" in doc
    for path in re.findall(r"file://(docs/iam/[\w.-]+\.json)", doc):
        assert (REPO / path).exists(), path
    assert "make copy-udacity" in doc and "copy-udacity:" in (REPO / "Makefile").read_text()
