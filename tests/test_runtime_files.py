"""The Astro image holds only the runtime: .dockerignore keeps dev/, bench/, tools/ and the
repository's tooling out, and the DAGs still import with nothing else.

The build context is made here as Docker makes it (the files .dockerignore does not exclude),
copied into a temporary directory, and the DAGs are parsed there by Airflow's DagBag in a
fresh interpreter whose import path is that directory only. A DAG (or the library under it)
importing from dev/, bench/ or tools/ fails here, and so does a runtime file left out of the
image. The same copy collects tests/ as `astro dev pytest` would in the image."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXPECTED_DAGS = [
    "create_tables",
    "final_project",
    "sparkify_analytics",
    "sparkify_monthly_listening",
    "warehouse_checks",
]

# What the image gets at its top level (/usr/local/airflow): the runtime, and what the
# Astro CLI's test commands use. Anything new at the top level needs a decision here and in
# .dockerignore.
IMAGE_TOP_LEVEL = {
    ".astro",
    ".dockerignore",
    "Dockerfile",
    "conftest.py",
    "dags",
    "include",
    "packages.txt",
    "plugins",
    "pytest.ini",
    "requirements.txt",
    "tests",
}


# ---------------------------------------------------------------- .dockerignore, as Docker reads it
def dockerignore_patterns(text: str) -> list[tuple[bool, re.Pattern]]:
    """(exclude?, regex) per pattern, in order. Docker's rules (moby/patternmatcher): blank
    lines and ``#`` comments are skipped, ``!`` re-includes, a leading ``/`` and a trailing
    ``/`` do not matter, ``*`` and ``?`` stay within one path segment, ``**`` spans any
    number of segments, ``[...]`` is a character class, ``\\`` escapes."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        line = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex, i = "", 0
        while i < len(line):
            ch = line[i]
            if line.startswith("**", i):
                i += 2
                if line.startswith("/", i):
                    i += 1
                regex += ".*" if i == len(line) else "(.*/)?"
                continue
            if ch == "*":
                regex += "[^/]*"
            elif ch == "?":
                regex += "[^/]"
            elif ch == "\\" and i + 1 < len(line):
                i += 1
                regex += re.escape(line[i])
            elif ch == "[" and "]" in line[i + 1 :]:
                end = line.index("]", i + 1)
                regex += line[i : end + 1]
                i = end
            else:
                regex += re.escape(ch)
            i += 1
        patterns.append((exclude, re.compile(f"^{regex}$")))
    return patterns


def excluded(path: str, patterns) -> bool:
    """Whether Docker leaves ``path`` (relative, with /) out: the last pattern matching the
    path or one of its parent directories decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for exclude, regex in patterns:
        if any(regex.match(c) for c in candidates):
            result = exclude
    return result


def build_context(source: Path, target: Path) -> list[str]:
    """Copy the files of ``source`` that .dockerignore lets into the build context; returns
    their relative paths."""
    patterns = dockerignore_patterns((source / ".dockerignore").read_text())
    may_reinclude = any(not exclude for exclude, _ in patterns)
    copied = []
    for root, dirs, files in os.walk(source):
        prefix = "" if Path(root) == source else Path(root).relative_to(source).as_posix() + "/"
        if not may_reinclude:  # an excluded directory cannot hold an included file
            dirs[:] = [d for d in dirs if not excluded(prefix + d, patterns)]
        for name in files:
            path = prefix + name
            if not excluded(path, patterns) and not (Path(root) / name).is_symlink():
                (target / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(root) / name, target / path)
                copied.append(path)
    return sorted(copied)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("dev/datagen.py", True),
        ("dev", True),
        ("include/sparkify/__pycache__/x.pyc", True),
        ("tests/__pycache__/a.pyc", True),
        ("logs/scheduler/latest", True),
        ("astro", True),
        ("include/astro", False),  # root-relative: only the top-level name
        ("include/sparkify/loads.py", False),
        ("dags/final_project.py", False),
        ("tests/unit/test_loads.py", False),
    ],
)
def test_the_dockerignore_reading(path, expected):
    patterns = dockerignore_patterns((REPO / ".dockerignore").read_text())
    assert excluded(path, patterns) is expected


def test_the_pattern_rules():
    patterns = dockerignore_patterns("# c\n\n/docs/\n**/*.tmp\nsrc/*.py\n!src/keep.py\ndata/?.csv\nv[0-9].txt\n")
    assert excluded("docs/a/b.md", patterns) and excluded("a/b/c.tmp", patterns) and excluded("x.tmp", patterns)
    assert excluded("src/a.py", patterns) and not excluded("src/keep.py", patterns)
    assert not excluded("src/sub/a.py", patterns)  # * stays within a segment
    assert excluded("data/1.csv", patterns) and not excluded("data/12.csv", patterns)
    assert excluded("v1.txt", patterns) and not excluded("vx.txt", patterns)
    assert not excluded("docsx/a.md", patterns)


# ---------------------------------------------------------------- the DAGs in the image's files
PARSE = """
import importlib, json, sys
from airflow.dag_processing.dagbag import DagBag

def importable(module):
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False

bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "importable": {m: importable(m) for m in sys.argv[2:]},
}))
"""


def isolated_env(context: Path, home: Path) -> dict:
    """The environment of a process that sees ``context`` as its only project code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "SPARKIFY_"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "PYTHONPATH": str(context),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AIRFLOW_HOME": str(home),
            "SPARKIFY_TEST_AIRFLOW_HOME": str(home),  # the root conftest.py leaves these alone
            "AIRFLOW__CORE__DAGS_FOLDER": str(context / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(context / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
    )
    return env


# A module of each tool package, and of the library. (A bare `tools` would be found anyway:
# cron-descriptor, an Airflow dependency, installs a stray `tools` directory into site-packages.)
PROBES = {"dev.datagen": False, "bench.run": False, "tools.copy_source": False, "include.sparkify.loads": True}


def start(context: Path, home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=context,
        env=isolated_env(context, home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    return out


@pytest.fixture(scope="module")
def image_files(tmp_path_factory) -> tuple[Path, list[str]]:
    context = tmp_path_factory.mktemp("image") / "airflow"
    return context, build_context(REPO, context)


@pytest.fixture(scope="module")
def runs(image_files, tmp_path_factory) -> dict[str, subprocess.Popen]:
    """Started together (each takes seconds): the DAGs parsed from the image's files, from a
    copy with a DAG importing dev/, and pytest collecting tests/ there."""
    context, _ = image_files
    root = tmp_path_factory.mktemp("runs")
    broken = root / "broken"
    shutil.copytree(context, broken)
    (broken / "dags" / "uses_datagen.py").write_text(
        "from __future__ import annotations\n\n"
        "from airflow.sdk import dag\n\n"
        "from dev.datagen import GeneratorSpec\n\n\n"
        "@dag(dag_id='uses_datagen', schedule=None)\n"
        "def uses_datagen():\n"
        "    GeneratorSpec()\n\n\n"
        "uses_datagen()\n"
    )
    collect = ["-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "tests"]
    procs = {
        "parse": start(context, root / "home-parse", "-c", PARSE, str(context / "dags"), *PROBES),
        "parse_broken": start(broken, root / "home-broken", "-c", PARSE, str(broken / "dags"), *PROBES),
        "collect": start(context, root / "home-collect", *collect),
    }
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_the_image_gets_the_runtime_and_no_tooling(image_files):
    _, files = image_files
    top = {path.split("/")[0] for path in files}
    assert top == IMAGE_TOP_LEVEL, (
        f"unexpected: {sorted(top - IMAGE_TOP_LEVEL)}, missing: {sorted(IMAGE_TOP_LEVEL - top)}"
    )
    for path in ("dags/final_project.py", "include/sparkify/loads.py", "include/sql/load/songplays.sql"):
        assert path in files
    assert not any("__pycache__" in path or path.endswith(".pyc") for path in files)


def test_the_dags_import_from_the_image_files_alone(runs):
    """Every DAG parses with only the image's files importable, and a DAG that imports from
    dev/ does not: the isolation is real."""
    parsed = json.loads(finish(runs["parse"]).strip().splitlines()[-1])
    assert parsed["importable"] == PROBES
    assert parsed["import_errors"] == {}
    assert parsed["dag_ids"] == EXPECTED_DAGS

    parsed_broken = json.loads(finish(runs["parse_broken"]).strip().splitlines()[-1])
    assert parsed_broken["dag_ids"] == EXPECTED_DAGS
    [(path, error)] = parsed_broken["import_errors"].items()
    assert path.endswith("dags/uses_datagen.py") and "No module named 'dev'" in error


def test_astro_dev_pytest_collects_the_runtime_layers(runs):
    """`astro dev pytest` runs pytest on tests/ inside the image: without dev/ it collects
    tests/dags/ and tests/unit/ and nothing fails to import."""
    out = finish(runs["collect"])
    modules = {line.split("::")[0] for line in out.splitlines() if "::" in line}
    assert "tests/dags/test_dag_integrity.py" in modules and "tests/unit/test_loads.py" in modules
    assert {m.split("/")[1] for m in modules} == {"dags", "unit"}
