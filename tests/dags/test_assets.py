"""The asset create_tables emits is the one final_project's schedule consumes, and every
table load emits its table's asset."""

from __future__ import annotations

from airflow.dag_processing.dagbag import DagBag


def _bag():
    return DagBag()


def test_schema_asset_links_the_dags():
    bag = _bag()
    create = bag.dags["create_tables"]
    emitted = [a for t in create.tasks for a in t.outlets]
    assert [a.name for a in emitted] == ["sparkify_warehouse_schema"]
    assert create.get_task("Stop_execution").outlets == emitted

    consumed = bag.dags["final_project"].timetable.asset_condition
    # The schedule's asset condition is exactly the emitted asset (same name and URI).
    assert consumed == emitted[0]
    assert (consumed.name, consumed.uri) == (emitted[0].name, emitted[0].uri)


def test_publish_emits_every_table_asset_and_the_loads_none():
    """Write-audit-publish: a load writes audit rows no one reads; only the publish, after the
    checks, changes the tables, so only it emits their assets."""
    dag = _bag().dags["final_project"]
    for task_id in (
        "Load_songplays_fact_table",
        "Load_user_dim_table",
        "Load_song_dim_table",
        "Load_artist_dim_table",
        "Load_time_dim_table",
    ):
        assert dag.get_task(task_id).outlets == []
    emitted = dag.get_task("Publish").outlets
    assert [a.name for a in emitted] == [f"sparkify_{t}" for t in ("songplays", "users", "songs", "artists", "time")]
    for asset, table in zip(emitted, ("songplays", "users", "songs", "artists", "time"), strict=True):
        assert asset.uri.endswith(f"/public/{table}")
        assert asset.uri.startswith(("postgres://", "redshift://"))
    emitting = {t.task_id for t in dag.tasks if t.outlets}
    assert emitting == {"Publish"}
