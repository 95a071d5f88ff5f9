import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import database_url_for_subprocess, queue_purge
from tests.webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


class Worker:
    """A real Celery worker (prefork, 2 processes, as bin/worker runs it) on the configured broker."""

    def __init__(self, *, beat: bool = False, concurrency: int = 2):
        from django.conf import settings

        env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "DJANGO_SETTINGS_MODULE": "tests.settings"}
        # What this test pointed Kassa at (the stripe_backend fixture's localstripe, say), the worker uses too.
        env["STRIPE_API_BASE"] = settings.STRIPE_API_BASE
        env["STRIPE_MAX_NETWORK_RETRIES"] = str(settings.STRIPE_MAX_NETWORK_RETRIES)
        env["KASSA_PUBLIC_URL"] = settings.KASSA_PUBLIC_URL
        args = [sys.executable, "-m", "celery", "-A", "kassa", "worker", f"--concurrency={concurrency}"]
        args += ["--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if beat:
            args += ["--beat", "--schedule", str(Path(os.environ["KASSA_VAR_DIR"]) / f"beat-{os.getpid()}")]
        self.log_path = Path(os.environ["KASSA_VAR_DIR"]) / f"worker-{os.getpid()}-{id(self)}.log"
        self.log = self.log_path.open("w")
        # A session of its own: SIGKILL reaches the whole process group (parent and pool children).
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def worker_factory(transactional_db):
    queue_purge()  # a fresh queue for this test's workers
    workers = []

    def start(**kwargs) -> Worker:
        worker = Worker(**kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
