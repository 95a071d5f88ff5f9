"""`make run`'s runner (kassa/run.py): Ctrl-C stops every process gracefully, says goodbye once, exits 0."""

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = str(Path(sys.executable).parent)

# A process with a pool child in its own process group, as Celery's worker has: the child must be
# told to finish by its parent (warm shutdown), never signalled from outside.
POOL = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import signal, sys, time
def outside(signum, frame):
    print("ERROR pool child got signal", signum, flush=True); sys.exit(1)
signal.signal(signal.SIGINT, outside)
signal.signal(signal.SIGTERM, outside)
signal.signal(signal.SIGUSR1, lambda *a: (print("pool child finished its task", flush=True), sys.exit(0)))
print("pool child ready", flush=True)
while True: time.sleep(0.1)
'''])
def warm(signum, frame):
    child.send_signal(signal.SIGUSR1)
    child.wait()
    print("warm shutdown done", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, warm)
signal.signal(signal.SIGINT, lambda *a: (print("ERROR pool parent got SIGINT", flush=True), sys.exit(1)))
while True: time.sleep(0.1)
"""


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {
        **env,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "KASSA_VAR_DIR": str(tmp_path / "var"),
        **extra,
    }


def _read_until(stream_read, marker: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} in:\n{seen}"
        chunk = stream_read()
        if chunk is None:
            continue
        if chunk == "":
            raise AssertionError(f"ended before {marker!r}:\n{seen}")
        seen += chunk
    return seen


def test_sigint_to_the_foreground_group_stops_all_gracefully(tmp_path):
    (tmp_path / "pool.py").write_text(POOL)
    (tmp_path / "Procfile").write_text("pool: python pool.py\nsleeper: sleep 300\n")
    # start_new_session: the runner's group plays the terminal's foreground group.
    runner = subprocess.Popen(
        [sys.executable, "-m", "kassa.run", "Procfile"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        seen = _read_until(runner.stdout.readline, "pool child ready", timeout=30)
        os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        rest, _ = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    output = seen + rest
    assert runner.returncode == 0, output
    assert "pool    | warm shutdown done" in output
    assert "pool child finished its task" in output
    assert output.rstrip().splitlines()[-1] == "Kassa stopped."
    assert output.count("Kassa stopped.") == 1
    assert "ERROR" not in output
    assert "exited with signal" not in output


def test_a_process_that_ends_by_itself_stops_the_others(tmp_path):
    (tmp_path / "Procfile").write_text("short: sh -c 'exit 3'\nsleeper: sleep 300\n")
    result = subprocess.run(
        [sys.executable, "-m", "kassa.run", "Procfile"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "short ended (exit status 3)" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == "Kassa stopped: short ended by itself."


def _controlling_terminal():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_ctrl_c_on_make_in_a_terminal_stops_a_celery_worker_warmly_and_make_exits_0(tmp_path):
    """The real thing: make in a terminal, a Celery worker with a pool, and a Ctrl-C typed at the terminal."""
    (tmp_path / "Procfile").write_text(
        "worker: celery -A kassa worker --loglevel=INFO --concurrency=2 --without-gossip --without-mingle\n"
        "sleeper: sleep 300\n"
    )
    (tmp_path / "Makefile").write_text("run:\n\tpython -m kassa.run Procfile\n")
    primary, secondary = pty.openpty()
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=tmp_path,
        env=_env(tmp_path, DEBUG="true", TERM="dumb"),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        preexec_fn=_controlling_terminal,  # noqa: PLW1509 - a session with this terminal, as a shell's job
    )
    os.close(secondary)

    def read():
        ready, _, _ = select.select([primary], [], [], 0.5)
        if not ready:
            return None
        try:
            return os.read(primary, 4096).decode(errors="replace")
        except OSError:  # the terminal's last user has gone
            return ""

    try:
        seen = _read_until(read, " ready.", timeout=60)
        os.write(primary, b"\x03")  # Ctrl-C typed at the terminal
        while (chunk := read()) != "":
            seen += chunk or ""
            if make.poll() is not None and chunk is None:
                break
        make.wait(timeout=30)
    finally:
        if make.poll() is None:
            make.kill()
        os.close(primary)
    assert make.returncode == 0, seen
    assert "Warm shutdown" in seen or "warm shutdown" in seen.lower()
    assert seen.rstrip().splitlines()[-1].strip() == "Kassa stopped.", seen
    assert "ERROR" not in seen, seen
    assert "exited with signal" not in seen
    assert "make: ***" not in seen
