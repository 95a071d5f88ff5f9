"""Django's PostgreSQL backend, whose COMMIT takes with it the writes kassa.db kept for the transaction's next
statement (``kassa.db.with_next``): a renewal's, an API write's last INSERT of its events goes in the COMMIT's round
trip rather than in one of its own. A rollback drops them (never sent), as do a rollback to a savepoint (they were
made inside it) and closing the connection.

kassa/settings.py selects it for a PostgreSQL ``DATABASE_URL``; it is Django's own in everything else (tests/postgresql
is this, for the test suite, with a faster flush).
"""

from django.db.backends.postgresql import base

from kassa import db


class DatabaseWrapper(base.DatabaseWrapper):
    #: kassa.db keeps writes for the next statement only on a connection whose COMMIT sends them.
    commits_pending = True

    def _commit(self):
        if self.connection is not None and db.pending_commit(self):
            return None
        return super()._commit()

    def _rollback(self):
        db.pending_drop(self)
        return super()._rollback()

    def _savepoint_rollback(self, sid):
        # The writes kept were made since the last statement of Django's (a SAVEPOINT's included, which sends those
        # kept before it): inside the savepoint rolled back, so dropped as its rollback would undo them. Sent first,
        # one refused would fail the whole transaction, where the savepoint's rollback undoes only its own part.
        db.pending_drop(self)
        return super()._savepoint_rollback(sid)

    def _close(self):
        db.pending_drop(self)
        return super()._close()
