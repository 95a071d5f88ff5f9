"""bench/renewals.py's probe of Python's cycle collector in the worker's processes (loaded by Python at start-up from
this directory, which the bench puts on the worker's ``PYTHONPATH`` only).

With ``KASSA_BENCH_GC_DIR`` set, each process writes, after every collection, how many collections of each
generation it has run and the CPU they took (``time.process_time``, cumulative), as one line in the file named by
its pid in that directory, rewritten in place (one ``pwrite``: a few microseconds a collection). The bench reads the
worker's processes' lines at the start and at the end of its run: the collector's share of the CPU it reports,
exactly, where the runs' own CPU moves by ±10 % between runs.
"""

import gc
import os
import time

_DIRECTORY = os.environ.get("KASSA_BENCH_GC_DIR")


def _probe(directory: str) -> None:
    counts, seconds = [0, 0, 0], [0.0, 0.0, 0.0]
    started = [0.0]
    state = {"pid": None, "fd": None}

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.process_time()
            return
        pid = os.getpid()
        if state["pid"] != pid:  # a new process (a fork's child): its own file, its own counts from here
            counts[:], seconds[:] = [0, 0, 0], [0.0, 0.0, 0.0]
            state["pid"] = pid
            state["fd"] = os.open(os.path.join(directory, str(pid)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        generation = info["generation"]
        counts[generation] += 1
        seconds[generation] += time.process_time() - started[0]
        line = " ".join(f"{count} {spent:.6f}" for count, spent in zip(counts, seconds, strict=True))
        os.pwrite(state["fd"], line.ljust(127).encode() + b"\n", 0)

    gc.callbacks.append(callback)


if _DIRECTORY:
    _probe(_DIRECTORY)
