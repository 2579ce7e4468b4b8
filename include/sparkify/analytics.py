"""The analytics tables the downstream DAG builds from the star schema: each one a SELECT
in include/sql/analytics/<table>.sql, rebuilt whole (DELETE + INSERT in one transaction)
by the same load operator as the star schema, so its asset event carries the row counts."""

from __future__ import annotations

from include.sparkify.loads import LoadMode, TableLoadOperator


def build_statements(table: str) -> list[str]:
    return [f'DELETE FROM "{table}"', f"INSERT INTO \"{table}\"\n{{% include 'analytics/{table}.sql' %}}"]


def build_table(task_id: str, table: str, **kwargs) -> TableLoadOperator:
    """A task that rebuilds the analytics table ``table`` and emits its asset."""
    return TableLoadOperator(
        task_id=task_id,
        table=table,
        mode=LoadMode.TRUNCATE_INSERT,
        sql=build_statements(table),
        doc_md=f"Rebuilds `{table}` from `include/sql/analytics/{table}.sql`.",
        **kwargs,
    )
