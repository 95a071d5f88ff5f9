"""A real Celery worker process on the configured broker (filesystem, or Redis when REDIS_URL is set)."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from merchants.models import IdempotencyKey
from merchants.tasks import idempotency_keys_purge
from tests.conftest import database_url_for_subprocess, queue_purge

ROOT = Path(__file__).resolve().parents[2]


def _worker(*options: str, env: dict | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        **(env or {}),
    }
    command = [sys.executable, "-m", "celery", "-A", "kassa", "worker", "--loglevel=INFO", *options]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _purged_by(worker: subprocess.Popen, shop, *, queue=idempotency_keys_purge.delay) -> None:
    """A stale idempotency key, the purge queued (``queue``), and the worker seen to purge it (within 60 s)."""
    stale = IdempotencyKey.objects.create(
        merchant=shop.merchant, livemode=False, key="stale", fingerprint="f", status_code=200
    )
    IdempotencyKey.objects.filter(pk=stale.pk).update(created=timezone.now() - timedelta(days=2))
    queue()
    deadline = time.monotonic() + 60
    while IdempotencyKey.objects.filter(key="stale").exists():
        assert worker.poll() is None, worker.stdout.read()
        assert time.monotonic() < deadline, "the worker did not run the task within 60 s"
        time.sleep(0.2)
    time.sleep(1)  # past the task's end (where the connection would be closed), not only its commit


def test_a_worker_runs_tasks_queued_on_commit(transactional_db, shop):
    IdempotencyKey.objects.create(merchant=shop.merchant, livemode=False, key="fresh", fingerprint="f", status_code=200)
    queue_purge()
    worker = _worker("--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat")
    try:
        _purged_by(worker, shop, queue=idempotency_keys_purge.delay_on_commit)
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert "merchants.tasks.idempotency_keys_purge" in output
    # It used the configured broker: Redis, or the embedded one (kombu's filesystem transport, whole-message writes).
    transport = getattr(settings, "CELERY_BROKER_TRANSPORT", None) or settings.CELERY_BROKER_URL.split(":")[0]
    assert transport.split(":")[0] in output


def _others(besides: frozenset = frozenset()) -> list[tuple]:
    """The other backends connected to this test database: (pid, when it connected); but those in ``besides`` (the
    backends open before the worker started: a live server's request threads keep theirs to the session's end)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row for row in cursor.fetchall() if row not in besides]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: a connection is a server backend there")
def test_a_worker_keeps_its_database_connection_from_task_to_task_and_replaces_a_broken_one(transactional_db, shop):
    """bin/worker's pool process serves its tasks through one PostgreSQL connection (Django's CONN_MAX_AGE), not a new
    backend for each task as Celery's Django fixup would open; a connection killed between two tasks is replaced
    by the next task, which runs (Django's health check before reuse)."""
    queue_purge()
    before = frozenset(_others())
    # Production's CONN_MAX_AGE (the suite's own is 0: tests/settings.py).
    worker = _worker(
        "--pool=prefork",
        "--concurrency=1",
        "--without-gossip",
        "--without-mingle",
        env={"KASSA_TESTS_CONN_MAX_AGE": "60"},
    )
    try:
        _purged_by(worker, shop)
        first = _others(before)
        assert len(first) == 1  # the worker's, still open after its task
        _purged_by(worker, shop)
        assert _others(before) == first  # the same backend, connected at the same moment
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [first[0][0]])
        _purged_by(worker, shop)
        after = _others(before)
        assert len(after) == 1
        assert after[0][0] != first[0][0]
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert output.count("merchants.tasks.idempotency_keys_purge") >= 3


def test_beat_schedules_the_purge():
    from kassa.celery import app

    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "merchants.tasks.idempotency_keys_purge" in schedule
    assert app.conf.task_acks_late
    assert app.conf.task_reject_on_worker_lost


def test_the_tasks_services_queue_by_name_exist():
    """Services queue work by task name (kassa.celery.enqueue): each name must be a task the worker knows."""
    import re
    from pathlib import Path

    from kassa.celery import app

    app.loader.import_default_modules()
    root = Path(__file__).resolve().parents[2]
    sources = [
        p.read_text() for folder in ("billing", "webhooks", "merchants", "kassa") for p in (root / folder).rglob("*.py")
    ]
    # Every enqueue*("name") (enqueue, enqueue_on_commit, enqueue_swept), and names kept in a *TASK constant.
    names = {name for text in sources for name in re.findall(r'enqueue\w*\(\s*"([^"]+)"', text)}
    names |= {name for text in sources for name in re.findall(r'^\w*TASK\w* = "([^"]+)"', text, re.MULTILINE)}
    assert {"webhooks.tasks.endpoint_deliver", "billing.tasks.test_clock_advance"} <= names, "the search misses some"
    assert names <= set(app.tasks), names - set(app.tasks)
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]
