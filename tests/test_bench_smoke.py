"""The benchmark harness itself, on a tiny data set (`make bench` is never part of
`make test`): it runs, stages every generated record, and writes the JSON and the table
in the shape docs/benchmarks.md and issue readers rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, stack_state


def test_bench_harness_smoke_run():
    with stack_state("bench") as out:  # the harness's stack lives under --out
        check_smoke_run(out)


def check_smoke_run(out: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--only", "staging", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    document = json.loads((out / "latest.json").read_text())
    assert document["smoke"] is True and document["machine"]["cpus"] >= 1
    names = [b["name"] for b in document["benchmarks"]]
    assert names == ["local_staging_throughput", "staging_memory"]
    for bench in document["benchmarks"]:
        assert set(bench) >= {"name", "inputs", "figures", "load", "measured_at", "targets"}
        load = bench["load"]  # what else the machine was doing while it ran
        assert set(load) == {"load_average_at_start", "load_average_at_end", "other_processes_cpu_cores", "busy"}
        assert load["busy"] == (load["other_processes_cpu_cores"] >= 0.25)
    throughput = document["benchmarks"][0]

    # Every generated record was staged (counted from the generated files, not from the code).
    data = out / "work" / "data" / "events-smoke" / "log_data"
    lines = sum(len([x for x in p.read_bytes().split(b"\n") if x.strip()]) for p in data.rglob("*.json"))
    assert throughput["inputs"]["events"] == lines > 1000

    ratios = document["ratios"]
    assert set(ratios) >= {"staging_vs_ceiling", "staging_vs_naive", "staging_rss_1m_vs_100k"}
    assert all(value > 0 for value in ratios.values())
    figures = throughput["figures"]
    assert ratios["staging_vs_ceiling"] == round(
        figures["ceiling_seconds_median"] / figures["staging_seconds_median"], 3
    )

    table = (out / "benchmarks.md").read_text()
    assert "<!-- bench:begin -->" in table and "| local_staging_throughput | staging_vs_ceiling |" in table


def test_a_run_of_some_benchmarks_writes_partial_json_only(tmp_path):
    from bench.run import Bench, machine

    bench = Bench(tmp_path / "work", repeat=1, smoke=False)
    bench.ratios["staging_vs_ceiling"] = 0.5
    json_path, md_path = tmp_path / "latest.json", tmp_path / "benchmarks.md"
    assert bench.write(json_path, md_path, machine(), complete=False) == [tmp_path / "partial.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["partial.json"]  # latest.json and the docs untouched
    assert json.loads((tmp_path / "partial.json").read_text())["complete"] is False

    assert bench.write(json_path, md_path, machine(), complete=True) == [json_path, md_path]
    assert json.loads(json_path.read_text())["ratios"] == {"staging_vs_ceiling": 0.5}


@pytest.mark.parametrize("kind", ["line", "array"])
def test_a_hostile_object_runs_through_the_engines_reading_side(kind):
    """bench/hostile_once.py (the `hostile` benchmark, not in the smoke run): one 2 MiB object
    of one line, or one JSON array, is one record, spooled for PostgreSQL."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.hostile_once", kind, "2"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["kind"], figures["object_mib"], figures["records"]) == (kind, 2, 1)
    assert figures["spooled_bytes"] > 0
