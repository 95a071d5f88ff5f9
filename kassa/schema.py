"""What Kassa's migrations share about its tables' indexes on PostgreSQL.

Every index is written to by every INSERT (and by every UPDATE that PostgreSQL cannot make "HOT"), so an index no
query uses costs each write of its table and reads nothing. Two kinds Django makes by default are such here, and
Kassa has none of them (tests/kassa/test_schema.py checks the migrated schema):

- A foreign key's own index where an index of the model's already leads with that column (its list's
  ``(merchant, livemode, -id)``, a ``(customer, -id)``, a unique constraint): the key is declared with
  ``db_index=False``, and the comment on it names the index that serves it.
- The ``…_like`` twin PostgreSQL's backend adds to every unique or indexed ``CharField`` (a ``varchar_pattern_ops``
  index, for ``LIKE 'prefix%'`` outside the C locale). Kassa looks its ids, tokens and keys up by equality
  (which the unique index answers), and the dashboard's searches are exact (``=public_id``) or match anywhere in
  the text (which no such index answers either); a renewal wrote about twenty-five of them, most on a random page
  of a random-key index (docs/performance-history.md, Renewals). Django has no option to leave them out, so a migration
  that adds such a field ends with ``like_indexes_drop()``.
"""

from django.db import migrations

_LIKE = """
SELECT i.indexname FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename LIKE %s AND i.indexname LIKE %s
  AND i.indexdef LIKE %s
"""


def _drop_like_indexes(app_label: str):
    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return  # only PostgreSQL's backend makes them
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(_LIKE, [f"{app_label}\\_%", "%\\_like", "%\\_pattern\\_ops%"])
            names = [name for (name,) in cursor.fetchall()]
        for name in names:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    return drop


def like_indexes_drop(app_label: str) -> migrations.RunPython:
    """A migration's operation: drop the ``…_like`` indexes of ``app_label``'s tables (PostgreSQL only). Undone as
    nothing: without them every lookup Kassa makes is answered the same."""
    return migrations.RunPython(_drop_like_indexes(app_label), migrations.RunPython.noop)
