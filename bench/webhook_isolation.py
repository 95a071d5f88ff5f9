"""Benchmark: how much one merchant's hanging webhook endpoint delays another merchant's deliveries.

What it measures
    Merchant B's webhook latency (from the commit of the transaction that
    created the event to the moment B's receiver has the request) while
    merchant A's endpoint hangs past ``KASSA_WEBHOOK_TIMEOUT``, next to the
    same latency while A's endpoint answers at once (the *baseline*).

    One real Celery worker runs as in production (``bin/worker``: prefork,
    ``--concurrency=2``) on Redis, with production settings (``DEBUG=false``,
    throwaway secrets, ``KASSA_WEBHOOKS_ALLOW_LOOPBACK=true`` so test-mode
    endpoints may call this machine). This script is merchant A's and B's
    server too: a threaded HTTP receiver on loopback. Each scenario uses a
    fresh pair of merchants, each with one test-mode endpoint for
    ``customer.created``. It creates a burst of customers (events) for A
    through the service layer, waits until A's first request arrives, then
    creates B's customers one at a time at a steady pace, while A's receiver
    either answers 200 at once (``baseline``) or holds every request until
    the worker gives up (``hanging``). A failed attempt is retried at once
    (``KASSA_WEBHOOK_RETRY_SCHEDULE_TEST=0,…``), so A keeps a worker slot busy
    all the time: the worst case for B. Afterwards A's receiver answers again
    and every delivery is drained before the next scenario. Scenarios
    alternate for a few rounds.

How to run
    From the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth,
    user ``postgres``) and Redis on 127.0.0.1:6379::

        .venv/bin/python bench/webhook_isolation.py
        .venv/bin/python bench/webhook_isolation.py --rounds 5 --concurrency 1

    It creates (and at the end drops) the database ``kassa_bench_webhooks``,
    runs the migrations, and uses Redis database 7 (``--redis``) with the
    Celery queue ``kassa-bench-webhooks``: that Redis database is flushed at
    the start and the end, so it must be one nothing else uses. The worker
    is stopped again, also on Ctrl-C or failure. Nothing outside a temporary
    directory is written. About 75 s with the defaults.

How to read it
    Each scenario prints a line as it ends; then the table shows, per
    scenario, the median over rounds of B's median and p90 latency, the
    worst latency of any round, and A's side: requests A's receiver got while
    B's events were being created and delivered (the window: from A's
    first request, when B's events start, to B's last), and the most it
    ever held open at once (hanging scenario).

    ``ratio`` is the hanging median divided by the baseline median: near 1
    means a hanging endpoint costs other merchants nothing. The goal is at
    most 2; absolute latencies depend on the machine, the ratio is the
    figure to compare. ``A at once`` is 1 because of the endpoint's lease
    (webhooks/services/delivery.py): while one slot waits on A, A's other
    queued tasks find the endpoint taken and return at once, so A gets about
    one request per timeout (plus ``--retry``), in one slot, whatever its
    backlog. ``--concurrency 1`` shows the other side: with no second slot,
    the lease is free again between A's tasks, each queued task of A makes
    its own attempt, and B waits for about one timeout per event of A's.

    A B event that never arrives (within 60 s plus two timeouts per event of
    A's), or deliveries that do not drain, make the run fail loudly (a
    banner and the worker's log; exit status 1): its numbers are not a valid
    measurement.
"""

import argparse
import base64
import contextlib
import json
import os
import secrets
import select
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import redis

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_URL = "postgres://postgres@127.0.0.1:5432"
DB = "kassa_bench_webhooks"
QUEUE = "kassa-bench-webhooks"


class Failed(Exception):
    """The run is not a valid measurement."""


# --- the merchants' server ----------------------------------------------------


class Receiver:
    """Merchants' webhook endpoints on loopback: records when each event arrived, per path.

    A path marked hanging holds each request open until it is released or
    the caller (the worker, at its timeout) closes the connection.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals: dict[str, list[tuple[float, str]]] = defaultdict(list)  # path -> [(monotonic, object id)]
        self.releases: dict[str, threading.Event] = {}  # hanging path -> set to answer again
        self.open: dict[str, int] = defaultdict(int)
        self.most_open: dict[str, int] = defaultdict(int)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.monotonic()
                try:
                    object_id = json.loads(body)["data"]["object"]["id"]
                except (ValueError, KeyError, TypeError):
                    object_id = "?"
                with receiver.lock:
                    receiver.arrivals[self.path].append((arrived, object_id))
                    release = receiver.releases.get(self.path)
                if release is not None and not release.is_set() and not receiver.hold(self, release):
                    return  # the worker gave up on this request
                with contextlib.suppress(OSError):
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hold(self, handler: BaseHTTPRequestHandler, release: threading.Event) -> bool:
        """Wait until released (True) or the client closed the connection (False)."""
        path, sock = handler.path, handler.connection
        with self.lock:
            self.open[path] += 1
            self.most_open[path] = max(self.most_open[path], self.open[path])
        try:
            while not release.is_set():
                if select.select([sock], [], [], 0.05)[0]:
                    try:
                        if not sock.recv(1, socket.MSG_PEEK):
                            return False
                    except OSError:
                        return False
            return True
        finally:
            with self.lock:
                self.open[path] -= 1

    def url(self, path: str, *, hanging: bool = False) -> str:
        if hanging:
            self.releases[path] = threading.Event()
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def release(self, path: str) -> None:
        if path in self.releases:
            self.releases[path].set()

    def received(self, path: str) -> list[tuple[float, str]]:
        with self.lock:
            return list(self.arrivals[path])

    def close(self) -> None:
        for release in self.releases.values():
            release.set()
        self.server.shutdown()
        self.server.server_close()


# --- database, Redis, worker ------------------------------------------------------


def admin_execute(sql: str) -> None:
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def run(cmd: list[str], *, env: dict) -> None:
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")


def kassa_env(tmp: Path, *, redis_url: str, timeout: float, retry: float, concurrency: int) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG_URL}/{DB}",
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": QUEUE,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),  # production settings need every secret: throwaway ones
        "KASSA_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "KASSA_WEBHOOKS_ALLOW_LOOPBACK": "true",
        "KASSA_WEBHOOK_TIMEOUT": str(timeout),
        "KASSA_WEBHOOK_RETRY_SCHEDULE_TEST": ",".join([f"{retry:g}"] * 10),
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",  # nothing leaves the machine
        "KASSA_VAR_DIR": str(tmp / "kassa-var"),  # keep the repository's var/ untouched
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "kassa.settings",
        "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # bin/worker's `celery`
        "WORKER_CONCURRENCY": str(concurrency),
        "LOG_LEVEL": "INFO",
    }


class Worker:
    """``bin/worker`` (the production Celery worker) in a session of its own, its output in a file."""

    def __init__(self, *, env: dict, logdir: Path):
        self.log = logdir / "worker.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["sh", str(REPO / "bin" / "worker")],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only this script, which then stops the worker
            )

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise Failed(f"the worker exited with status {self.proc.returncode}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # warm shutdown: running tasks finish, reserved ones go back to the queue
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def dump_log(self, limit: int = 30) -> None:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        print(f"--- worker log (last {min(limit, len(lines))} lines of {len(lines)}) ---", flush=True)
        print("\n".join(lines[-limit:]), flush=True)


# --- one scenario -----------------------------------------------------------------


@dataclass
class ScenarioResult:
    latencies: list[float]  # seconds, one per B event
    window: float  # seconds from A's first request (B's events start) to B's last arrival
    a_in_window: int  # requests A's receiver got in that window
    a_at_once: int  # the most requests A's receiver held open at the same time

    def ms(self, pct: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


def wait_until(predicate, *, timeout: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        worker.check_alive()
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


def merchant_with_endpoint(label: str, url: str):
    from merchants.services import merchant_create
    from webhooks.services.endpoints import webhook_endpoint_create

    merchant = merchant_create(name=f"Bench {label}", owner_email=f"{label}@bench.example").merchant
    endpoint, _ = webhook_endpoint_create(
        merchant=merchant, livemode=False, url=url, enabled_events=["customer.created"]
    )
    return merchant, endpoint


def create_event(merchant) -> tuple[str, float]:
    """A customer (so a ``customer.created`` event) for ``merchant``; its id and when its transaction committed."""
    from django.db import transaction

    from billing.catalogue.services import customer_create

    committed = []
    with transaction.atomic():
        # Registered before the service's own callback (which queues the delivery): runs first, right at COMMIT.
        transaction.on_commit(lambda: committed.append(time.monotonic()))
        customer = customer_create(merchant=merchant, livemode=False, email=f"c{secrets.token_hex(4)}@bench.example")
    return customer.public_id, committed[0]


def run_scenario(receiver: Receiver, worker: Worker, label: str, *, hanging: bool, args) -> ScenarioResult:
    from webhooks.models import Delivery, EventPending

    a_path, b_path = f"/{label}/a", f"/{label}/b"
    merchant_a, endpoint_a = merchant_with_endpoint(f"{label}-a", receiver.url(a_path, hanging=hanging))
    merchant_b, endpoint_b = merchant_with_endpoint(f"{label}-b", receiver.url(b_path))

    for _ in range(args.events_a):
        create_event(merchant_a)
    wait_until(lambda: receiver.received(a_path), timeout=60, what="A's first request", worker=worker)

    committed: dict[str, float] = {}
    start = time.monotonic()
    for i in range(args.events_b):
        time.sleep(max(0.0, start + i * args.interval - time.monotonic()))
        object_id, at = create_event(merchant_b)
        committed[object_id] = at

    def arrived() -> dict[str, float]:
        first: dict[str, float] = {}
        for at, object_id in receiver.received(b_path):
            first.setdefault(object_id, at)
        return first

    deadline = 60 + 2 * args.events_a * args.timeout  # even if each of A's events held the only slot
    try:
        wait_until(lambda: committed.keys() <= arrived().keys(), timeout=deadline, what="B's events", worker=worker)
    except Failed:
        missing = sorted(committed.keys() - arrived().keys())
        raise Failed(f"{len(missing)} of B's {len(committed)} events never arrived, e.g. {missing[:3]}") from None
    first = arrived()
    latencies = [first[object_id] - at for object_id, at in committed.items()]
    window_start, window_end = receiver.received(a_path)[0][0], max(first[object_id] for object_id in committed)
    a_in_window = sum(1 for at, _ in receiver.received(a_path) if window_start <= at <= window_end)

    # A answers again; everything drains before the next scenario, so scenarios do not overlap.
    receiver.release(a_path)
    pending = Delivery.objects.filter(endpoint__in=[endpoint_a, endpoint_b], status=Delivery.Status.PENDING)
    unplanned = EventPending.objects.all()
    wait_until(
        lambda: not unplanned.exists() and not pending.exists(),
        timeout=60,
        what="the deliveries to drain",
        worker=worker,
    )
    time.sleep(0.5)  # the last task releases its lease after recording the attempt
    return ScenarioResult(latencies, window_end - window_start, a_in_window, receiver.most_open[a_path])


def warm_up(receiver: Receiver, worker: Worker) -> None:
    """The worker is ready, and each of its processes has its imports and database connection."""
    path = "/warm-up"
    merchant, _ = merchant_with_endpoint("warm-up", receiver.url(path))
    ids = {create_event(merchant)[0] for _ in range(8)}
    wait_until(
        lambda: ids <= {object_id for _, object_id in receiver.received(path)},
        timeout=120,
        what="the worker to start and deliver the warm-up events",
        worker=worker,
    )


# --- report ---------------------------------------------------------------------


def print_table(results: dict[str, list[ScenarioResult]], args) -> float:
    print()
    print(
        f"{'scenario':<10} {'B median ms':>11} {'B p90 ms':>9} {'B max ms':>9} "
        f"{'A reqs in window':>17} {'A at once':>9}   B median ms per round"
    )
    medians = {}
    for name, rounds in results.items():
        medians[name] = statistics.median(r.median_ms for r in rounds)
        p90 = statistics.median(r.ms(90) for r in rounds)
        worst = max(r.ms(100) for r in rounds)
        in_window = statistics.median(r.a_in_window for r in rounds)
        window = statistics.median(r.window for r in rounds)
        at_once = str(max(r.a_at_once for r in rounds)) if name == "hanging" else "-"
        per_round = " ".join(f"{r.median_ms:.1f}" for r in rounds)
        a_reqs = f"{in_window:g} in {window:.1f} s"
        print(f"{name:<10} {medians[name]:>11.1f} {p90:>9.1f} {worst:>9.1f} {a_reqs:>17} {at_once:>9}   {per_round}")
    ratio = medians["hanging"] / medians["baseline"]
    verdict = "meets" if ratio <= 2 else "ABOVE"
    print(f"\nratio hanging/baseline B median: {ratio:.2f}  ({verdict} the goal of <= 2)")
    print(f"for scale, one of A's timeouts: {args.timeout * 1000:.0f} ms")
    return ratio


def _interrupt(signum, frame):
    """SIGTERM (e.g. from CI) unwinds like Ctrl-C, through main()'s clean-up."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of both scenarios (default 3)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes, as bin/worker (default 2)")
    parser.add_argument("--timeout", type=float, default=3, help="KASSA_WEBHOOK_TIMEOUT in seconds (default 3)")
    parser.add_argument("--retry", type=float, default=0, help="seconds before a failed attempt's retry (default 0)")
    parser.add_argument("--events-a", type=int, default=20, help="A's burst of events per scenario (default 20)")
    parser.add_argument("--events-b", type=int, default=40, help="B's events per scenario (default 40)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between B's events (default 0.25)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7", help="a Redis database for this run alone")
    args = parser.parse_args()
    if min(args.rounds, args.events_a, args.events_b) < 1:
        parser.error("--rounds, --events-a and --events-b must be at least 1")

    signal.signal(signal.SIGTERM, _interrupt)
    failed = django_ready = False
    worker = receiver = None
    broker = redis.Redis.from_url(args.redis)
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            print(f"setting up database {DB}, migrations, Redis {args.redis}, worker ...", flush=True)
            env = kassa_env(
                tmp, redis_url=args.redis, timeout=args.timeout, retry=args.retry, concurrency=args.concurrency
            )
            broker.flushdb()
            admin_execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            admin_execute(f'CREATE DATABASE "{DB}"')
            run([PYTHON, "manage.py", "migrate", "--noinput"], env=env)
            os.environ.update(env)  # this process creates the events, with the worker's settings
            sys.path.insert(0, str(REPO))
            import django

            django.setup()
            django_ready = True
            receiver = Receiver()
            worker = Worker(env=env, logdir=tmp)
            warm_up(receiver, worker)

            print(
                f"{args.rounds} rounds; per scenario {args.events_a} events for A, then {args.events_b} for B "
                f"one every {args.interval:g} s; bin/worker --concurrency={args.concurrency}; "
                f"KASSA_WEBHOOK_TIMEOUT={args.timeout:g} s, test-mode retries after {args.retry:g} s; "
                f"{os.cpu_count()} CPUs, DEBUG=false",
                flush=True,
            )
            results: dict[str, list[ScenarioResult]] = {"baseline": [], "hanging": []}
            for round_no in range(1, args.rounds + 1):
                for name, rounds in results.items():
                    r = run_scenario(receiver, worker, f"r{round_no}-{name}", hanging=name == "hanging", args=args)
                    rounds.append(r)
                    held = f", at most {r.a_at_once} open at once" if name == "hanging" else ""
                    print(
                        f"  round {round_no} {name:<8}  B median {r.median_ms:7.1f} ms  p90 {r.ms(90):7.1f} ms"
                        f"  max {r.ms(100):7.1f} ms   A: {r.a_in_window} requests in the {r.window:.1f} s window{held}",
                        flush=True,
                    )
            print_table(results, args)
            python = os.path.relpath(PYTHON, REPO) if Path(PYTHON).is_relative_to(REPO) else PYTHON
            command = shlex.join([python, "bench/webhook_isolation.py", *sys.argv[1:]])
            print(f"reproduce (from the repository root): {command}")
        except Failed as exc:
            failed = True
            print("\n" + "!" * 78, flush=True)
            print(f"!!! {exc}", flush=True)
            print("!!! THIS RUN IS NOT A VALID MEASUREMENT", flush=True)
            print("!" * 78, flush=True)
            if worker is not None:
                worker.dump_log()
        except KeyboardInterrupt:
            print("\ninterrupted; stopping the worker, dropping the bench database", file=sys.stderr)
            failed = True
        finally:
            if receiver is not None:
                receiver.close()  # answers A's held requests, so the worker's shutdown need not wait for them
            if worker is not None:
                worker.stop()
            if django_ready:
                from django.db import connections

                connections.close_all()
            with contextlib.suppress(psycopg.Error):
                admin_execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            with contextlib.suppress(redis.RedisError):
                broker.flushdb()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
