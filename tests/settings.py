"""Settings for the test suite: kassa.settings with development secrets and test-only knobs.

Everything else (DATABASE_URL, REDIS_URL) comes from the environment exactly
as in production, so CI runs the same suite on SQLite + filesystem broker and
on PostgreSQL + Redis.
"""

import os
import uuid
from pathlib import Path

from cryptography.fernet import Fernet

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("KASSA_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
# Rate limits are tested on purpose with low limits; elsewhere they stay out of the way.
os.environ.setdefault("KASSA_RATE_LIMIT_TEST", "100000/s")
os.environ.setdefault("KASSA_RATE_LIMIT_LIVE", "100000/s")
os.environ.setdefault("KASSA_CARD_ATTEMPTS_PER_PAGE", "100000/s")
os.environ.setdefault("KASSA_CARD_ATTEMPTS_PER_ADDRESS", "100000/s")
# A queue of its own, so no other worker on this machine takes the suite's tasks.
os.environ.setdefault("CELERY_QUEUE", f"kassa-test-{uuid.uuid4().hex[:10]}")
# Webhooks on a test's time scale: retries a second apart, short timeouts, frequent sweeps.
os.environ.setdefault("KASSA_WEBHOOK_RETRY_SCHEDULE_TEST", "1,1,1,1,1")
os.environ.setdefault("KASSA_WEBHOOK_TIMEOUT", "2")
os.environ.setdefault("KASSA_WEBHOOK_SWEEP_SECONDS", "2")
# Email tasks the broker could not take, queued again on the same time scale (merchants/emails.py).
os.environ.setdefault("KASSA_EMAIL_SWEEP_SECONDS", "2")
os.environ.setdefault("KASSA_EMAIL_REQUEUE_SECONDS", "3")
# A real key of this run's own (inherited by the workers and servers it starts): live Stripe
# credentials are refused while a development key encrypts, and tests store some.
os.environ.setdefault("KASSA_ENCRYPTION_KEYS", Fernet.generate_key().decode())

from kassa.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Nothing keeps a connection open past a request, or the PostgreSQL test database cannot be dropped at the end
# of the run; the live server's request threads keep one per client connection and close it (tests/conftest.py).
# A worker started by a test that is about keeping connections is given its own (KASSA_TESTS_CONN_MAX_AGE), and
# stopped before the run ends.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("KASSA_TESTS_CONN_MAX_AGE", "0"))  # noqa: F405

# PostgreSQL: Kassa's backend (kassa/postgresql), but a transactional test's tables are emptied with DELETE, not
# TRUNCATE (tests/postgresql/base.py says why: TRUNCATE costs 0.35 s to 1.3 s after each of ~565 transactional tests).
# And a commit does not wait for its WAL to reach the disk (synchronous_commit=off, for this suite's
# connections only: its processes' too): what a commit makes visible, and when, is the same; only a crash of
# PostgreSQL itself could lose the last commits, of a database the suite drops anyway. ~1 ms a commit -> 0.1 ms.
if DATABASES["default"]["ENGINE"] == "kassa.postgresql":  # noqa: F405
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"  # noqa: F405
