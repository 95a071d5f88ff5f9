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
