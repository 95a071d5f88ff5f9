"""kassa.frozen: a process's long-lived objects frozen once per kind of work, and no garbage frozen with them.

Run in a fresh interpreter: freezing is for the life of a process, and the test process is no worker's."""

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from kassa.frozen import frozen_once

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return a

    kept = cycle()                      # held by the process: frozen
    dropped = weakref.ref(cycle())      # garbage already (a cycle nobody holds): collected, never frozen
    frozen_once("task a")
    print(gc.get_freeze_count() > 0, dropped() is None)
    after_first = gc.get_freeze_count()
    made_since = [cycle() for _ in range(100)]
    frozen_once("task a")               # the same kind again: nothing more frozen
    print(gc.get_freeze_count() == after_first)
    frozen_once("task b")               # a new kind: what the process holds now is frozen too
    print(gc.get_freeze_count() >= after_first + 200)
    """
)


def test_a_process_freezes_what_it_holds_once_per_kind_of_work_and_never_its_garbage():
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "True", "True"], done.stderr


_WORKER_SCRIPT = textwrap.dedent(
    """
    import gc, os, uuid
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    import django
    django.setup()
    from celery.app.trace import build_tracer
    from kassa.celery import app

    ping = app.tasks["kassa.ping"]
    ping.apply()                        # run in place (eager, as the tests run tasks): not a worker's process
    print(gc.get_freeze_count() == 0)
    as_a_worker = build_tracer(ping.name, ping, app=app)  # how a worker's process runs a task it took
    as_a_worker(str(uuid.uuid4()), [], {}, request={})
    first = gc.get_freeze_count()
    print(first > 0)
    as_a_worker(str(uuid.uuid4()), [], {}, request={})
    print(gc.get_freeze_count() == first)  # the same kind again: nothing more frozen
    """
)


def test_a_worker_process_freezes_after_its_first_task_of_a_kind_and_a_task_run_in_place_does_not():
    done = subprocess.run([sys.executable, "-c", _WORKER_SCRIPT], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["True", "True", "True"], done.stderr[-3000:]


_SERVER_SCRIPT = textwrap.dedent(
    """
    import gc, importlib, sys
    from django.core.signals import request_finished
    importlib.import_module(sys.argv[1])  # the server's entry point, as gunicorn or an ASGI server loads it
    print(gc.get_freeze_count() == 0)
    request_finished.send(sender=None)  # its first request answered
    first = gc.get_freeze_count()
    print(first > 0)
    request_finished.send(sender=None)
    print(gc.get_freeze_count() == first)  # once a process
    """
)


def test_a_server_process_freezes_once_after_its_first_request_through_either_entry_point():
    for entry in ("kassa.wsgi", "kassa.asgi"):
        done = subprocess.run(
            [sys.executable, "-c", _SERVER_SCRIPT, entry], cwd=REPO, capture_output=True, text=True, check=False
        )
        assert done.stdout.split() == ["True", "True", "True"], (entry, done.stderr[-3000:])
