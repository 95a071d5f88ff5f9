"""What a long-running process keeps for its life, moved out of the cycle collector's sight (``gc.freeze``).

Python's cycle collector walks every object that survived its earlier passes whenever enough new ones have piled
up: in a Kassa process that is Django, DRF, stripe-python, Kassa's modules and their caches, about 200,000
objects, walked again and again though none of them ever becomes garbage. Frozen, they are left alone; the
collector then walks only what the process made since. A renewal run measured in-process
(``bench/renewals_profile.py``): the collector's CPU went from 0.37 to 0.04 ms a renewal.

When: once a process has loaded what it keeps, which a Django process does lazily (its URLs and views on the
first request, a task's modules, serializers and statements built once on its first run). So a worker process
freezes after it first ran a task of each kind (kassa/celery.py) and a web process after its first request
(kassa/wsgi.py); each time after one collection of what is garbage already, so that no garbage is frozen. What is
frozen is never freed by the cycle collector (reference counting still frees it): only what a process holds when
it freezes is frozen, which it keeps anyway. Not done where a test runs work in place (the test's process is no
worker's nor server's).
"""

import gc
import threading

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
