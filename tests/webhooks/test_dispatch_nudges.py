"""The dispatcher's nudges (webhooks/services/outbox.py, ``events_kick``): with a cache every process shares (Redis),
one dispatcher is queued at a time until it starts, and it plans every event committed before it started; with the
embedded default (each process its own cache), each process nudges as it always did. The broker is recorded at
Kassa's boundary (``enqueue``); the cache is the real Redis of this machine, on a database of its own."""

import pytest
from django.db import transaction

from billing.catalogue import services
from tests import factories
from webhooks.models import EventPending
from webhooks.services import outbox

REDIS_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/13"}
}


class _Queued(list):
    """The countdowns of the dispatcher tasks queued; ``broker_down``: the broker refuses them."""

    broker_down = False


@pytest.fixture
def nudges(monkeypatch):
    """The dispatcher tasks queued; every commit's nudge asked for (no 100 ms window in between)."""
    queued = _Queued()
    monkeypatch.setattr(outbox, "_KICK_WINDOW", 0)
    monkeypatch.setattr(outbox, "_kicks", outbox._Kicks())

    def enqueue(task_name, *args, countdown=None):
        if queued.broker_down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        assert task_name == "webhooks.tasks.events_dispatch"
        queued.append(countdown)

    monkeypatch.setattr(outbox, "enqueue", enqueue)
    return queued


@pytest.fixture
def shared_cache(settings):
    settings.CACHES = REDIS_CACHE
    outbox.dispatch_claim_release()
    yield
    outbox.dispatch_claim_release()


def _customers(merchant, count: int, django_capture_on_commit_callbacks) -> None:
    for n in range(count):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            services.customer_create(merchant=merchant, livemode=False, email=f"c{n}@example.com")


def test_with_a_shared_cache_one_dispatcher_is_queued_until_it_starts_and_it_plans_them_all(
    db, shared_cache, nudges, django_capture_on_commit_callbacks, caplog
):
    merchant = factories.merchant("Shop").merchant
    _customers(merchant, 3, django_capture_on_commit_callbacks)
    assert nudges == [None]  # three commits, one dispatcher queued
    assert EventPending.objects.count() == 3
    assert outbox.events_dispatch() == 3  # it started after the three commits: it plans all three
    assert not EventPending.objects.exists()
    _customers(merchant, 1, django_capture_on_commit_callbacks)
    assert nudges == [None, None]  # a commit after it started gets a dispatcher of its own

    outbox.events_dispatch()
    nudges.broker_down = True
    _customers(merchant, 1, django_capture_on_commit_callbacks)
    assert "Could not queue the dispatcher" in caplog.text
    nudges.broker_down = False
    _customers(merchant, 1, django_capture_on_commit_callbacks)
    assert nudges == [None, None, None]  # the failed one held nothing back


def test_with_each_process_its_own_cache_every_commit_nudges(db, settings, nudges, django_capture_on_commit_callbacks):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    merchant = factories.merchant("Shop").merchant
    _customers(merchant, 3, django_capture_on_commit_callbacks)
    assert nudges == [None, None, None]
