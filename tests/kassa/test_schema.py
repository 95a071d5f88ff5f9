"""Kassa's migrated schema has no index that only costs writes (kassa/schema.py says which and why).

Read from the database the migrations made (PostgreSQL in CI's second run, SQLite in the first), so a new model,
field or migration that brings one back fails here, naming it.
"""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

KASSA_APPS = ("billing", "merchants", "webhooks")


def _tables() -> list[str]:
    """Kassa's own tables, without the many-to-many tables Django makes itself (their one index per key beside
    the pair's unique one is Django's, and changing it needs a through model of Kassa's own)."""
    tables = set()
    for app_label in KASSA_APPS:
        for model in apps.get_app_config(app_label).get_models():
            tables.add(model._meta.db_table)
    return sorted(tables)


def _partial(table: str) -> set[str]:
    """The indexes of ``table`` that cover only some rows (``… WHERE …``)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table])
        return {name for name, sql in cursor.fetchall() if sql and " WHERE " in sql.upper()}


def _indexes(table: str) -> dict[str, dict]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {name: c for name, c in constraints.items() if c["index"] or c["unique"] or c["primary_key"]}


def test_no_index_repeats_the_leading_columns_of_another():
    """An index whose columns another index of the table (covering every row) starts with answers nothing the
    other does not: a foreign key's own index beside the model's list index that leads with it, typically."""
    repeated = []
    for table in _tables():
        indexes, partial = _indexes(table), _partial(table)
        for name, index in indexes.items():
            if index["unique"] or index["primary_key"] or name in partial:
                continue  # a unique index constrains; a partial one is read for its rows alone
            columns = index["columns"]
            for other_name, other in indexes.items():
                if other_name != name and other_name not in partial and other["columns"][: len(columns)] == columns:
                    repeated.append(f"{table}.{name} {columns}, led by {other_name} {other['columns']}")
                    break
    assert repeated == []


def test_no_pattern_index_beside_a_unique_or_indexed_text_column():
    """PostgreSQL's backend adds a ``…_like`` index (``varchar_pattern_ops``) to every unique or indexed
    ``CharField``; Kassa looks those up by equality only, so its migrations drop them (``like_indexes_drop``).
    Meaningful on PostgreSQL: SQLite's backend makes none."""
    found = [f"{table}.{name}" for table in _tables() for name in _indexes(table) if name.endswith("_like")]
    assert found == []
