"""What the renewal tests at scale share: real ``celery beat`` processes, waiting, and many due subscriptions."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from billing.catalogue import services as catalogue
from tests import factories
from tests.conftest import database_url_for_subprocess
from tests.webhooks.conftest import Worker

ROOT = Path(__file__).resolve().parents[3]

__all__ = ["Beat", "Worker", "due_subscriptions", "postgres_and_redis", "wait_for"]

#: Renewals at scale are tested where they run in production: PostgreSQL (row locks with skip_locked) and
#: Redis (the broker, and the shared cache that tracks each merchant's renewal chains across processes).
postgres_and_redis = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or not os.environ.get("REDIS_URL"),
    reason="PostgreSQL and Redis only: row locks with skip_locked, a real broker and a cache shared by processes",
)


class Beat:
    """``celery beat`` (as bin/beat runs it), in a session of its own, with a schedule file of its own."""

    def __init__(self, name: str):
        env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "DJANGO_SETTINGS_MODULE": "tests.settings"}
        var = Path(os.environ["KASSA_VAR_DIR"])
        args = [sys.executable, "-m", "celery", "-A", "kassa", "beat", "--loglevel=INFO"]
        args += ["--schedule", str(var / f"beat-{name}-{os.getpid()}")]
        self.log_path = var / f"beat-{name}-{os.getpid()}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def wait_for(predicate, *, timeout: float, what: str, workers=(), poll: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for worker in workers:
            assert worker.alive(), worker.output()[-3000:]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)


def due_subscriptions(
    merchant, card_token, *, count: int, customers: int, now, ago=timedelta(days=35), interval: str = "month"
) -> list:
    """``count`` subscriptions of ``merchant`` to a price billed every ``interval``, made ``ago`` before ``now``
    (by default a month and a few days: due a renewal at ``now``), on ``customers`` customers with a saved
    default card at localstripe. The customers, their cards and the first subscription are made through the
    services, the rest are copies of it (``factories.subscriptions_copied``)."""
    price = factories.recurring_price(merchant, unit_amount=1500, interval=interval)
    made = []
    for n in range(customers):
        customer = factories.customer(merchant, email=f"payer{n}@{merchant.public_id}.example")
        card = factories.saved_card(customer, card_token)
        catalogue.customer_update(customer=customer, default_payment_method=card)
        made.append(customer)
    first = factories.subscription(merchant, customer=made[0], price=price, now=now - ago)
    assert first.status == "active"
    copies = factories.subscriptions_copied(first, customers=[made[n % customers] for n in range(1, count)])
    return [first, *copies]
