"""What a long-running process keeps for its life, moved out of the cycle collector's sight (``gc.freeze``).

Python's cycle collector walks every object that survived its earlier passes whenever enough of them have piled up:
in a Kassa process that is Django, DRF, stripe-python, Celery, Kassa's modules and their caches, some hundreds of
thousands of objects, walked again and again though none of them ever becomes garbage. Frozen, they are left
alone; the collector then walks only what the process made since.

Measured in the worker's processes during a renewal day (``bench/renewals.py``, whose probe, ``bench/gc_probe``,
counts the collector's CPU exactly): 0.30 ms a renewal without, 0.13 with, of about 7 (a full collection was some
120 ms; a process ran a dozen during 5,000 renewals). An earlier try (``fd5ebff``) compared whole runs only, whose CPU
moves by ±10 % between runs, saw no gain, and was reverted; its reason given, that the in-process profile's gain
came from the fixtures that process held, was wrong: the worker's processes pay the same.

When: once a process has loaded what it keeps, which a Django process does lazily (its URLs and views on the first
request, a task's modules, serializers and statements built once on its first run). So a worker process freezes
after it first ran a task of each kind (kassa/celery.py) and a web process after its first request
(``frozen_after_first_request``, which both server entry points call through kassa/server.py); each time after
one collection of what is garbage already, so that no garbage is frozen. What is frozen is never freed by the cycle
collector (reference counting still frees it): only what a process holds when it freezes is frozen, which it keeps
anyway, but for the few of those objects that later end in a reference cycle nothing else holds (a connection
replaced, say), which stay; a freeze per kind of work bounds them. Not done where a test runs work in place (the
test's process is no worker's nor server's).
"""

import gc
import threading

from django.core.signals import request_finished

_done: set[str] = set()
_lock = threading.Lock()


def long_lived_frozen() -> None:
    """One collection of what is garbage now, then everything this process holds frozen."""
    gc.collect()
    gc.freeze()


def frozen_once(kind: str) -> None:
    """``long_lived_frozen`` the first time this process has finished work of ``kind``; nothing after that."""
    if kind in _done:
        return
    with _lock:
        if kind in _done:
            return
        _done.add(kind)
    long_lived_frozen()


def _frozen_after_request(**_kwargs) -> None:
    frozen_once("request")


def frozen_after_first_request() -> None:
    """A server process (kassa/server.py) freezes what it holds once it has answered its first request.
    Only there, not for every request Django answers: the test client's requests run in the tests' own process."""
    request_finished.connect(_frozen_after_request, dispatch_uid="kassa.frozen.request")
