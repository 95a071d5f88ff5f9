"""The Celery app, configured for at-least-once work.

- ``acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged only
  after it ran, so a worker killed mid-task gives the task back to the queue
  instead of losing it. The price is that a task may run twice, so every task
  is idempotent (keyed by a business row).
- On Redis an unacknowledged task comes back after ``visibility_timeout``;
  it is set (in settings) well above the longest task.
- JSON only: no pickle from the broker.
- ``worker_prefetch_multiplier = 1``: with late acks, a worker holds at most
  one unstarted task per process, so a slow task does not strand others.
- Tasks are queued only after the transaction that made their rows commits
  (``delay_on_commit``/``transaction.on_commit``); see the services.
- The beat schedule lives here, in code.
- A worker process keeps its database connection from task to task, by
  Django's own rule for requests: ``CONN_MAX_AGE`` seconds, health-checked
  before reuse (``CONN_HEALTH_CHECKS``), closed after an error
  (``close_old_connections`` as each task starts and ends). Celery's Django
  fixup would otherwise close it before and after every task (it does unless
  ``CELERY_DB_REUSE_MAX`` says how many tasks a connection may serve): a new
  PostgreSQL backend, and every statement prepared anew, for each task. A
  renewal day runs a task for every 50 renewals, and one for each second's
  emails and for the events' dispatch.
- A worker process freezes what it holds once it has run a task of a kind
  for the first time: the cycle collector then leaves it alone
  (kassa/frozen.py).
"""

import logging
import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections, transaction

from .frozen import frozen_once

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")

# How often beat sweeps for webhook deliveries and inbound Stripe events no task picked up. Read
# from the environment here, not from Django's settings, which import this module while loading.
WEBHOOK_SWEEP_SECONDS = float(os.environ.get("KASSA_WEBHOOK_SWEEP_SECONDS", "30"))
# How often beat looks for email tasks the broker could not take or lost (merchants/emails.py).
EMAIL_SWEEP_SECONDS = float(os.environ.get("KASSA_EMAIL_SWEEP_SECONDS", "60"))
# How often beat runs billing's every-minute work (renewals, automatic charges, retries, expiries): 60 s; tests
# that run a real beat next to real workers tick every second instead of waiting minutes.
BILLING_TICK_SECONDS = float(os.environ.get("KASSA_BILLING_TICK_SECONDS", "60"))

app = Celery("kassa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    task_time_limit=15 * 60,
    task_soft_time_limit=14 * 60,
    worker_hijack_root_logger=False,
    beat_schedule={
        "purge-expired-idempotency-keys": {
            "task": "merchants.tasks.idempotency_keys_purge",
            "schedule": crontab(minute=17),
        },
        "expire-checkout-sessions": {
            "task": "billing.tasks.checkout_sessions_expire",
            "schedule": BILLING_TICK_SECONDS,
        },
        # Members' daily summaries of the day before (billing/dashboard/summaries.py), each morning in UTC.
        "send-daily-summaries": {
            "task": "billing.tasks.daily_summaries_send",
            "schedule": crontab(hour=6, minute=5),
        },
        "reconcile-payments": {
            "task": "billing.tasks.payments_reconcile",
            "schedule": 120.0,
        },
        "advance-invoices": {
            "task": "billing.tasks.invoices_advance",
            "schedule": BILLING_TICK_SECONDS,
        },
        "retry-invoices": {
            "task": "billing.tasks.invoices_retry_due",
            "schedule": BILLING_TICK_SECONDS,
        },
        # Subscriptions: renewals fanned out per merchant (billing/subscriptions/services/renewal.py), notices.
        "renew-subscriptions": {
            "task": "billing.tasks.subscriptions_tick",
            "schedule": BILLING_TICK_SECONDS,
        },
        "mark-overdue-invoices": {
            "task": "billing.tasks.invoices_mark_overdue",
            "schedule": BILLING_TICK_SECONDS,
        },
        # Test clocks: advances whose task was lost queued again (services.ADVANCE_STALE_AFTER says when), and
        # clocks past deletes_after deleted (where their customers, invoices and subscriptions allow it).
        "sweep-test-clock-advances": {
            "task": "billing.tasks.test_clocks_sweep",
            "schedule": 60.0,
        },
        "delete-expired-test-clocks": {
            "task": "billing.tasks.test_clocks_delete_expired",
            "schedule": crontab(minute=41),
        },
        # Safety nets for lost tasks and long retries (tests sweep every few seconds).
        "sweep-webhook-deliveries": {
            "task": "webhooks.tasks.deliveries_sweep",
            "schedule": WEBHOOK_SWEEP_SECONDS,
        },
        "sweep-email-tasks": {
            "task": "merchants.tasks.email_tasks_sweep",
            "schedule": EMAIL_SWEEP_SECONDS,
        },
        "sweep-inbound-stripe-events": {
            "task": "webhooks.tasks.processor_events_sweep",
            "schedule": WEBHOOK_SWEEP_SECONDS,
        },
    },
)
# Celery's Django fixup reads this old-style key alone (celery.fixups.django): with it, it closes the connection only
# every that many tasks, in effect never; the signals below apply Django's rule instead.
app.conf.update(CELERY_DB_REUSE_MAX=2**31)


@task_prerun.connect
@task_postrun.connect
def _connections_kept_by_djangos_rule(sender=None, **_kwargs) -> None:
    """As Django does around a request: a connection past ``CONN_MAX_AGE``, or one that errored or fails its health
    check, is closed (the next statement opens a new one); the others serve the next task. Not for a task run in
    place (eager, in the tests): its caller's connection, and transaction, are not the task's to close."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


@task_postrun.connect
def _frozen_after_first_run(sender=None, **_kwargs) -> None:
    """What a worker process holds frozen once it has run a task of a kind for the first time (kassa/frozen.py);
    not for a task run in place (eager, in the tests), whose process is not a worker's."""
    name = getattr(sender, "name", None)
    if name is not None and not getattr(getattr(sender, "request", None), "is_eager", False):
        frozen_once(f"task {name}")


app.autodiscover_tasks()
# Billing is one app in parts; each part with work for the workers has its own tasks module.
app.autodiscover_tasks(
    [
        "billing.payments",
        "billing.checkout",
        "billing.invoices",
        "billing.clocks",
        "billing.subscriptions",
        "billing.dashboard",
    ]
)


def enqueue(task_name: str, *args, countdown: float | None = None) -> None:
    """Queue a task by its name: services queue work without importing task modules (which import them)."""
    app.send_task(task_name, args=args, countdown=countdown)


def enqueue_swept(task_name: str, *args, countdown: float | None = None) -> None:
    """``enqueue`` a task whose work a beat sweeper also finds: a broker that cannot take it is logged, not raised.

    For work already committed as rows (webhook deliveries, Stripe events): the
    queue only makes it prompt, the sweeper makes it certain.
    """
    try:
        enqueue(task_name, *args, countdown=countdown)
    except Exception:
        logging.getLogger(__name__).warning(
            "Could not queue %s%s; the sweeper will run it", task_name, list(args), exc_info=True
        )


def enqueue_on_commit(task_name: str, *args) -> None:
    """After the current transaction commits, queue a task; a broker that cannot take it is logged, not raised.

    For best-effort work after a committed change (the change stands either way). A task this
    process has loaded is queued through the task itself, so that an eager Celery (the tests) runs
    it in place; otherwise by name, as ``enqueue``.
    """

    def queue() -> None:
        try:
            enqueue_loaded(task_name, *args)
        except Exception:
            logging.getLogger(__name__).warning("Could not queue %s%s", task_name, list(args), exc_info=True)

    transaction.on_commit(queue)


def enqueue_loaded(task_name: str, *args) -> None:
    """Queue a task now: through the task itself when this process has loaded it, so that an eager Celery (the tests)
    runs it in place; otherwise by name, as ``enqueue``. A broker that cannot take it raises."""
    task = app.tasks.get(task_name)
    if task is not None:
        task.apply_async(args=args)
    else:
        enqueue(task_name, *args)


@app.task(name="kassa.ping")
def ping() -> str:
    """A no-op for health checks and CI: proves a worker consumes the queue."""
    return "pong"
