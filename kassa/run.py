"""``make run``'s process runner: the Procfile's processes, stopped cleanly by Ctrl-C.

``python -m kassa.run [Procfile]`` reads the Procfile with honcho's parser and
runs each process in a session of its own, its output prefixed with its name.
Why not ``honcho start``: honcho (like the terminal) signals whole process
groups, so Celery's pool children were killed under the worker
("exited with signal 15"), and it exits 130, so make printed an error.

- Ctrl-C: the terminal sends SIGINT to its foreground process group. When
  started from a terminal, the runner makes a process group of its own the
  foreground one, so neither make nor the children get the SIGINT: the
  runner alone gets it and stops the rest.
- Stopping: SIGTERM to each process's main process only (Celery's worker
  then makes a warm shutdown of its pool), then, once that has exited, to
  whatever is left of its group (Django's autoreloader child); SIGKILL after
  ``STOP_SECONDS``. Then one line, "Kassa stopped.", and exit status 0.
- A process that ends by itself stops the others; the runner then exits 1.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from honcho.environ import parse_procfile

STOP_SECONDS = 10.0


class Runner:
    def __init__(self, processes: dict[str, str]):
        self.commands = processes
        self.width = max(len(name) for name in processes)
        self.children: dict[str, subprocess.Popen] = {}
        self.output_lock = threading.Lock()
        self.stop_requested = threading.Event()
        self.readers: list[threading.Thread] = []

    def say(self, name: str, line: str) -> None:
        with self.output_lock:
            sys.stdout.write(f"{name:<{self.width}} | {line}")
            if not line.endswith("\n"):
                sys.stdout.write("\n")
            sys.stdout.flush()

    def _relay(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode(errors="replace"))
        stream.close()

    def start(self) -> None:
        for name, command in self.commands.items():
            # The Procfile is the project's own, and its lines are shell commands (${PORT} and all).
            child = subprocess.Popen(  # noqa: S602
                f"exec {command}",  # the shell becomes the command: its pid is the one to signal
                shell=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # out of the terminal's reach: only the runner gets Ctrl-C
            )
            self.children[name] = child
            reader = threading.Thread(target=self._relay, args=(name, child.stdout), daemon=True)
            reader.start()
            self.readers.append(reader)

    def wait_for_stop(self) -> str | None:
        """Block until a stop is asked (answer None) or a process ends by itself (answer its name)."""
        while not self.stop_requested.wait(0.2):
            for name, child in self.children.items():
                if child.poll() is not None:
                    return name
        return None

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
        for child in self.children.values():
            # What the main process left behind in its group, and anyone past the deadline.
            sig = signal.SIGTERM if child.poll() is not None else signal.SIGKILL
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, sig)
            child.wait()
        for reader in self.readers:
            reader.join(timeout=2)


@contextlib.contextmanager
def terminal_foreground():
    """Make the runner's own process group the terminal's foreground one while it runs, as a shell does for a job."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        yield  # no terminal (a test, CI): signals come from whoever started us
        return
    try:
        previous = os.tcgetpgrp(tty)
        if previous != os.getpgrp():  # not in the foreground (started with &): leave the terminal alone
            yield
            return
        # Changing the foreground from a background group would stop us with SIGTTOU.
        old_ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.setpgid(0, 0)
        os.tcsetpgrp(tty, os.getpgrp())
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.tcsetpgrp(tty, previous)
            signal.signal(signal.SIGTTOU, old_ttou)
    finally:
        os.close(tty)


def main(argv: list[str]) -> int:
    procfile = Path(argv[0] if argv else "Procfile")
    runner = Runner(parse_procfile(procfile.read_text()).processes)

    def request_stop(signum, frame):
        runner.stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with terminal_foreground():
        runner.start()
        ended = runner.wait_for_stop()
        if ended is not None:
            runner.say("kassa", f"{ended} ended (exit status {runner.children[ended].returncode}): stopping the others")
        runner.stop()
    if ended is not None:
        sys.stdout.write(f"Kassa stopped: {ended} ended by itself.\n")
        return 1
    sys.stdout.write("Kassa stopped.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
