"""The lint set-up: pre-commit runs the same pinned tools as `make lint`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def test_pre_commit_config_is_valid_and_runs_ruff_sqlfluff_and_hadolint():
    config = REPO / ".pre-commit-config.yaml"
    proc = subprocess.run(
        [str(VENV_BIN / "pre-commit"), "validate-config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hooks = [hook for repo in yaml.safe_load(config.read_text())["repos"] for hook in repo["hooks"]]
    tools = {hook["entry"].split()[0] for hook in hooks}
    assert tools == {".venv/bin/ruff", ".venv/bin/sqlfluff", ".venv/bin/hadolint"}
    for tool in tools:  # every hook's tool is one make venv installs (requirements-local.txt)
        assert (VENV_BIN / Path(tool).name).exists(), tool


def test_make_lint_runs_every_pre_commit_tool():
    recipe = subprocess.run(
        ["make", "-n", "lint"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for command in ("ruff check", "ruff format --check", "sqlfluff lint", "hadolint Dockerfile"):
        assert command in recipe
