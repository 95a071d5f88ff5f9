"""An email whose task the broker could not take is owed, and a real worker with beat sends it (merchants/emails.py).

The change that calls for the email (here a member invited) commits while the broker refuses every task, as Redis
does when it is down; then a real Celery worker with beat starts on the working broker. Its sweeper (every 2 s in the
tests, ``KASSA_EMAIL_SWEEP_SECONDS``) queues the owed task again once it is ``KASSA_EMAIL_REQUEUE_SECONDS`` old (3 s in
the tests), the worker sends it, and the row owed is deleted as the task ends (Celery's ``task_postrun``, in the
worker's process). The worker's emails go to its own process's mail backend; the ``EmailSent`` ledger says what it
sent.
"""

import time

import celery.app.task
import kombu.exceptions

from kassa import celery as kassa_celery
from merchants import services
from merchants.models import EmailSent, EmailTaskOwed
from tests.webhooks.conftest import worker_factory

__all__ = ["worker_factory"]


def _wait(predicate, worker, what: str, timeout=90.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}; the worker said:\n{worker.output()[-3000:]}"
        time.sleep(0.2)


def test_an_invitation_the_broker_could_not_take_is_sent_by_a_worker_once_the_sweeper_finds_it(
    worker_factory, shop, monkeypatch
):
    def refused(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as down:
        down.setattr(celery.app.task.Task, "apply_async", refused)
        down.setattr(kassa_celery.app, "send_task", refused)
        membership = services.membership_add(
            merchant=shop.merchant, email="new.member@shop.test", role="developer", invite=True
        )
    key = f"invitation:member:{membership.pk}"
    (owed,) = EmailTaskOwed.objects.all()
    assert (owed.task, owed.args) == ("merchants.tasks.invitation_send", [membership.pk])
    assert not EmailSent.objects.filter(key=key).exists()

    worker = worker_factory(beat=True)
    sent = EmailSent.objects.filter(key=key, status=EmailSent.Status.SENT)
    _wait(sent.exists, worker, "the invitation sent by the worker")
    _wait(lambda: not EmailTaskOwed.objects.exists(), worker, "the owed row deleted as the task ended")
    assert worker.alive(), worker.output()
    assert "queued again" in worker.output()
    time.sleep(4)  # two more sweeps: nothing owed, nothing sent again
    assert EmailSent.objects.filter(key=key).count() == 1
    assert worker.output().count("Sent invitation email") == 1
