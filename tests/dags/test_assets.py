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


def test_each_load_emits_its_table_asset():
    dag = _bag().dags["final_project"]
    expected = {
        "Load_songplays_fact_table": "songplays",
        "Load_user_dim_table": "users",
        "Load_song_dim_table": "songs",
        "Load_artist_dim_table": "artists",
        "Load_time_dim_table": "time",
    }
    for task_id, table in expected.items():
        (asset,) = dag.get_task(task_id).outlets
        assert asset.name == f"sparkify_{table}"
        assert asset.uri.endswith(f"/public/{table}")
        assert asset.uri.startswith(("postgres://", "redshift://"))
