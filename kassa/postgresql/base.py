"""Django's PostgreSQL backend, whose COMMIT takes with it the writes kassa.db kept for the transaction's next
statement (``kassa.db.with_next``): a renewal's, an API write's last INSERT of its events goes in the COMMIT's round
trip rather than in one of its own. A rollback drops them (never sent), as do a rollback to a savepoint (they were
made inside it) and closing the connection. And a COMMIT of a transaction PostgreSQL has failed (an error caught with
no savepoint) raises, where PostgreSQL would roll it back silently and Django run its on-commit work.

kassa/settings.py selects it for a PostgreSQL ``DATABASE_URL``; it is Django's own in everything else (tests/postgresql
is this, for the test suite, with a faster flush).
"""

from django.db.backends.postgresql import base
from django.db.transaction import TransactionManagementError
from psycopg import pq

from kassa import db


class DatabaseWrapper(base.DatabaseWrapper):
    #: kassa.db keeps writes for the next statement only on a connection whose COMMIT sends them.
    commits_pending = True

    def _commit(self):
        if self.connection is not None:
            if self.connection.pgconn.transaction_status == pq.TransactionStatus.INERROR:
                # A statement failed and its error was caught with no savepoint to undo it: PostgreSQL would answer
                # this COMMIT with a ROLLBACK that psycopg does not raise, and Django would run the transaction's
                # on-commit work (its events' nudge, its emails' tasks) for writes that were all undone.
                raise TransactionManagementError(
                    "The transaction failed and was not committed: a statement of it failed."
                )
            if db.pending_commit(self):
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
