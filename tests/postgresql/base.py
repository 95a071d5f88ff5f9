"""Kassa's PostgreSQL backend (kassa/postgresql), for the test suite: a transactional test's tables are emptied
with DELETE.

After every test that commits (``transactional_db``, and so every test on the live server: about half of
the suite), pytest-django empties every table with Django's ``flush``, which on PostgreSQL is one
``TRUNCATE`` of all ~60 tables. TRUNCATE gives each table new files on disk: 0.35 s to 1.3 s a test on
CI's 2-core machine, against 0.02 s for a DELETE of the few rows a test leaves. The end is the same: every
table empty, sequences untouched (Django's flush does not restart them either, unless asked).

The DELETEs run in the one transaction ``flush`` opens, with the foreign keys checked at its commit
(Django creates them DEFERRABLE INITIALLY DEFERRED), so their order does not matter. Asked to restart
the sequences, it is Django's TRUNCATE as before.

Content types and permissions stay: ``flush`` emits ``post_migrate`` afterwards, which would make the same
rows again (0.08 s more a test); kept, it finds them there, as a test in a transaction (``db``) always does.

Only tests/settings.py selects it (``ENGINE``); the application, its workers and production use kassa/postgresql.
"""

from django.db.backends.postgresql import operations

from kassa.postgresql import base

#: What post_migrate makes again after every flush, the same rows: kept rather than deleted and made again.
KEPT = {"django_content_type", "auth_permission"}


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences:
            return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        delete = style.SQL_KEYWORD("DELETE FROM")
        return [
            style.SQL_KEYWORD("SET CONSTRAINTS ALL DEFERRED;"),
            *(f"{delete} {style.SQL_FIELD(self.quote_name(table))};" for table in tables if table not in KEPT),
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
