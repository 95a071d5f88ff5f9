"""Benchmark: outbound webhook delivery throughput against a Celery no-op drain on the same worker.

What it measures
    How fast Kassa's production Celery worker empties a burst of outbound
    webhook deliveries (deliveries/s, and the worker's CPU per delivery),
    next to the *ceiling*, in the same run and on the same worker: how fast
    that worker drains the same number of no-op tasks (``kassa.ping``,
    kassa/celery.py) from the same Redis broker (tasks/s, CPU per task).

    One real Celery worker runs exactly as in production (``bin/worker``:
    prefork, ``--concurrency=2``, late acks, prefetch 1) on Redis and
    PostgreSQL, with production settings (``DEBUG=false``, throwaway secrets,
    ``KASSA_WEBHOOKS_ALLOW_LOOPBACK=true`` so test-mode endpoints may call
    this machine, logging at INFO as ``bin/worker``). The merchants' server
    is a loopback receiver in a subprocess of its own (asyncio, one thread,
    HTTP/1.1 with keep-alive) that answers every POST ``200 ok`` at once. On
    its own it costs about 0.25 ms of CPU per request with a new connection
    per request and about 0.07 ms on a kept-alive
    connection, i.e. roughly 4,000 and 14,000 requests/s of one core; driven
    by this script's single-threaded Python client it answered about 2,500
    and 4,500 req/s on a busy 2-core machine. Every run measures it first and
    prints the figures (``receiver alone``), and prints how much of a core it
    used in each round.

    Each round runs three scenarios, alternating, each on fresh rows:

    - ``no-op``: E ``kassa.ping`` tasks are queued, then the worker drains
      them; done when the queue and Redis's unacked set are empty.
    - ``1 endpoint``: one merchant with one test-mode endpoint (``*``) on the
      receiver gets E customers through the service layer
      (``billing.catalogue.services.customer_create``, one transaction each,
      as the API does), so E ``customer.created`` events and the few
      dispatcher nudges their commits queue, exactly what production would
      queue. The clock covers the whole delivery side: planning the E
      deliveries (the dispatcher), queueing the endpoint, sending. Done when
      all E deliveries are ``succeeded`` in the database.
    - ``4 endpoints``: the same with four merchants, one endpoint each, E/4
      customers each (created round-robin). An endpoint is served by one
      worker process at a time (its lease), so one busy endpoint cannot use
      the second process; four can.

    The backlog is built while the worker is not consuming (Celery's
    ``cancel_consumer`` control command; the worker stays up, warm, with its
    database connections), then ``add_consumer`` releases it and the clock
    runs from that command until done (polled every 20 ms: Redis for the
    no-op drain; for deliveries the receiver's request count, then the
    database once every request has arrived).
    Worker CPU is user + system time of the worker's main process and its
    pool processes over that window, from /proc (Linux). PostgreSQL's and
    Redis's own CPU is not counted on either side.

How to run
    From the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth,
    user ``postgres``) and Redis on 127.0.0.1:6379::

        .venv/bin/python bench/webhook_delivery.py          # or: make bench-delivery
        .venv/bin/python bench/webhook_delivery.py --events 4000 --rounds 5

    It creates (and at the end drops) the database ``kassa_bench_delivery``,
    runs the migrations, and uses Redis database 13 (``--redis``) with the
    Celery queue ``kassa-bench-delivery``: that Redis database is flushed at
    the start and the end, so it must be one nothing else uses. The worker
    and the receiver are stopped again, also on Ctrl-C or failure. Nothing
    outside a temporary directory is written. E is 1,000 by default (the
    issue that asked for this bench measured a 2,000 burst: ``--events
    2000``, about twice as long): about 2 minutes on a quiet 2-core machine
    at ~100 deliveries/s, 3-4 minutes on a busy one; most of it is
    delivering and building the backlogs (2 x 3 x E customers, about 7 ms
    each).

How to read it
    Each scenario prints a line as it ends; then the table shows, per
    scenario, the median over rounds of deliveries (or tasks) per second and
    of the worker's CPU per delivery (or task), split into the pool processes
    (where tasks run) and the main process (which takes messages from Redis
    and hands them to the pool).

    ``ratio`` is deliveries/s divided by no-op tasks/s: the share of the bare
    task throughput of this worker and broker that delivering keeps. The goal
    is at least 0.5 for the one-endpoint burst (the case a busy merchant
    hits); the four-endpoint ratio is shown too. The CPU cross-check (no-op
    CPU per task divided by CPU per delivery) moves less than the rates on a
    busy machine; when the two disagree, trust the quieter run. Absolute
    numbers depend on the machine; the ratios are the figures to compare.

    ``left`` is how many of the scenario's tasks were still queued when its
    last delivery succeeded (a nudge or an endpoint task that found the work
    already done or the lease taken); the worker keeps draining them, still
    timed: ``empty at`` is when the queue was empty (seconds from the
    release) and ``with rest`` the worker's CPU per delivery up to then. For
    the no-op drain both equal the main figures.
    ``receiver`` is its share of one core during the scenario: far below
    100 % means it was not the bottleneck.

    A delivery that does not succeed in time, a receiver that got more or
    fewer requests than deliveries, or a worker that exits makes the run fail
    loudly (a banner and the worker's log; exit status 1): its numbers are not
    a valid measurement.
"""

import argparse
import asyncio
import base64
import contextlib
import http.client
import json
import os
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_isolation import Failed, _interrupt, admin_execute, run

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_URL = "postgres://postgres@127.0.0.1:5432"
DB = "kassa_bench_delivery"
QUEUE = "kassa-bench-delivery"
POLL = 0.02
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the merchants' server (a subprocess: ``webhook_delivery.py --receiver``) -------------------


def receiver_main() -> None:
    """Answer every POST ``200 ok`` at once, with keep-alive; ``GET /count`` answers how many POSTs came."""
    posts = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal posts
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, close = 0, False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection":
                        close = value.strip().lower() == b"close"
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"POST "):
                    posts += 1
                    body = b"ok"
                else:
                    body = str(posts).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Receiver:
    def __init__(self):
        self.proc = subprocess.Popen(
            [PYTHON, __file__, "--receiver"],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # Ctrl-C reaches only this script, which then stops the receiver
        )
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            raise Failed("the receiver did not start")
        self.port = int(line)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/count")
            return int(conn.getresponse().read())
        finally:
            conn.close()

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def self_test(self, requests: int) -> str:
        """The receiver alone, driven by this process: req/s and the receiver's CPU per request."""
        body = json.dumps({"id": "evt_x", "data": {"object": {"id": "cus_x", "email": "x" * 600}}}).encode()
        headers = {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=" + "0" * 64}
        results = []
        for label, keep_alive in (("new connection each", False), ("keep-alive", True)):
            conn = None
            cpu0, t0 = self.cpu(), time.perf_counter()
            for _ in range(requests):
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", "/self-test", body=body, headers=headers)
                conn.getresponse().read()
                if not keep_alive:
                    conn.close()
                    conn = None
            if conn is not None:
                conn.close()
            seconds, cpu = time.perf_counter() - t0, self.cpu() - cpu0
            results.append(f"{label} {requests / seconds:,.0f} req/s, {cpu / requests * 1000:.3f} ms CPU/req")
        return "; ".join(results)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- database, Redis, worker ------------------------------------------------------


def kassa_env(tmp: Path, *, redis_url: str, concurrency: int) -> dict:
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
                ["sh", str(REPO / "bin" / "worker")],  # `exec celery ...`: this pid becomes the main process
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only this script, which then stops the worker
            )

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise Failed(f"the worker exited with status {self.proc.returncode}")

    def pool_pids(self) -> list[int]:
        pids = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(pid) for pid in (task / "children").read_text().split()]
        return pids

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the main process and of its pool processes (Linux /proc)."""
        pool = 0.0
        for pid in self.pool_pids():
            with contextlib.suppress(OSError):
                pool += proc_cpu(pid)
        return proc_cpu(self.proc.pid), pool

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


class Broker:
    """The bench's Redis database as kombu's Redis transport uses it, and the worker's consumer switch."""

    def __init__(self, url: str):
        self.redis = redis.Redis.from_url(url)

    def queued(self) -> int:
        """Messages waiting in the queue plus those a worker took and has not acknowledged (late acks)."""
        return self.redis.llen(QUEUE) + self.redis.hlen("unacked")

    def _control(self, command: str) -> None:
        from kassa.celery import app

        replies = getattr(app.control, command)(QUEUE, reply=True, timeout=10, limit=1)
        if len(replies) != 1:
            raise Failed(f"{command}: expected one worker to answer, got {replies!r}")

    def pause(self) -> None:
        self._control("cancel_consumer")

    def release(self) -> None:
        self._control("add_consumer")


def wait_until(predicate, *, timeout: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        worker.check_alive()
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL)


# --- one scenario -----------------------------------------------------------------


@dataclass
class ScenarioResult:
    count: int  # deliveries or tasks
    seconds: float
    main_cpu: float  # worker main process, CPU seconds in the window
    pool_cpu: float  # worker pool processes
    left: int  # the scenario's tasks still queued at the end
    receiver_cpu: float  # receiver's CPU seconds in the window
    drained: float  # seconds from the release until the queue was empty too
    drain_cpu: float  # worker CPU seconds (main + pool) from the release until then
    backlog: float = 0.0  # seconds this script took to queue the tasks or create the events (unmeasured)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_ms(self) -> float:
        return (self.main_cpu + self.pool_cpu) / self.count * 1000

    @property
    def drain_ms(self) -> float:
        return self.drain_cpu / self.count * 1000

    @property
    def pool_ms(self) -> float:
        return self.pool_cpu / self.count * 1000

    @property
    def main_ms(self) -> float:
        return self.main_cpu / self.count * 1000


def endpoints_for(receiver: Receiver, label: str, count: int):
    from merchants.services import merchant_create
    from webhooks.services.endpoints import webhook_endpoint_create

    pairs = []
    for i in range(count):
        merchant = merchant_create(name=f"Bench {label} {i}", owner_email=f"{label}-{i}@bench.example").merchant
        endpoint, _ = webhook_endpoint_create(
            merchant=merchant, livemode=False, url=receiver.url(f"/{label}/{i}"), enabled_events=["*"]
        )
        pairs.append((merchant, endpoint))
    return pairs


def customers_create(merchants: list, events: int) -> None:
    """``events`` customers, round-robin over the merchants, one transaction each (as the API creates them)."""
    from django.db import transaction

    from billing.catalogue.services import customer_create

    for i in range(events):
        with transaction.atomic():
            customer_create(merchant=merchants[i % len(merchants)], livemode=False, email=f"c{i}@bench.example")


def measure(worker: Worker, broker: Broker, receiver: Receiver, done, *, count: int, timeout: float, what: str):
    """Release the worker on the backlog, wait until ``done()``, then until the queue is empty; then pause it."""
    cpu0, receiver0 = worker.cpu(), receiver.cpu()
    start = time.perf_counter()
    broker.release()
    wait_until(done, timeout=timeout, what=what, worker=worker)
    seconds = time.perf_counter() - start
    cpu1, receiver1 = worker.cpu(), receiver.cpu()
    left = broker.queued()
    # The tasks still queued (a busy endpoint's extra tasks, which find its lease taken or nothing due) are
    # part of what the burst costs the worker: drained, timed and counted separately.
    wait_until(lambda: broker.queued() == 0, timeout=300, what="the queue to drain", worker=worker)
    drained = time.perf_counter() - start
    cpu2 = worker.cpu()
    broker.pause()
    return ScenarioResult(
        count=count,
        seconds=seconds,
        main_cpu=cpu1[0] - cpu0[0],
        pool_cpu=cpu1[1] - cpu0[1],
        left=left,
        receiver_cpu=receiver1 - receiver0,
        drained=drained,
        drain_cpu=sum(cpu2) - sum(cpu0),
    )


def run_noop(worker: Worker, broker: Broker, receiver: Receiver, *, events: int) -> ScenarioResult:
    from kassa.celery import app

    built = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for _ in range(events):
            app.send_task("kassa.ping", producer=producer)  # as kassa.celery.enqueue queues every task
    built = time.perf_counter() - built
    if broker.queued() != events:
        raise Failed(f"queued {events} no-op tasks, the queue holds {broker.queued()}")
    result = measure(
        worker,
        broker,
        receiver,
        lambda: broker.queued() == 0,
        count=events,
        timeout=60 + events * 0.05,
        what=f"{events} no-op tasks to drain",
    )
    result.backlog = built
    return result


def run_deliveries(
    worker: Worker, broker: Broker, receiver: Receiver, label: str, *, endpoints: int, events: int
) -> ScenarioResult:
    from webhooks.models import Delivery, EventPending

    built = time.perf_counter()
    pairs = endpoints_for(receiver, label, endpoints)
    customers_create([merchant for merchant, _ in pairs], events)
    deliveries = Delivery.objects.filter(endpoint__in=[endpoint for _, endpoint in pairs])
    # The requests wrote the events; finding their endpoints is the workers' job, so it is timed too.
    unplanned = EventPending.objects.count()
    if unplanned != events or deliveries.exists() or not broker.queued():
        raise Failed(
            f"{events} events left {unplanned} to plan, {deliveries.count()} deliveries and {broker.queued()} tasks"
        )
    built = time.perf_counter() - built
    received0 = receiver.count()
    succeeded = deliveries.filter(status=Delivery.Status.SUCCEEDED)
    try:
        result = measure(
            worker,
            broker,
            receiver,
            # The receiver's count first (cheap): the database is polled only once every request has arrived.
            lambda: receiver.count() - received0 >= events and succeeded.count() == events,
            count=events,
            timeout=120 + events * 0.1,
            what=f"{events} deliveries to succeed",
        )
    except Failed:
        by_status = {row["status"]: row["n"] for row in deliveries.values("status").annotate(n=_count())}
        raise Failed(f"deliveries by status: {by_status}") from None
    result.backlog = built
    received = receiver.count() - received0
    if received != events:
        raise Failed(f"{events} deliveries succeeded, but the receiver got {received} requests")
    return result


def _count():
    from django.db.models import Count

    return Count("id")


def warm_up(worker: Worker, broker: Broker, receiver: Receiver) -> None:
    """The worker is up and consuming, each process has its imports and database connection; then paused."""
    from kassa.celery import app
    from webhooks.models import Delivery, EventPending

    pairs = endpoints_for(receiver, "warm-up", 2)
    customers_create([merchant for merchant, _ in pairs], 16)
    for _ in range(50):
        app.send_task("kassa.ping")
    pending = Delivery.objects.exclude(status=Delivery.Status.SUCCEEDED)
    unplanned = EventPending.objects.all()
    wait_until(
        lambda: not unplanned.exists() and not pending.exists() and broker.queued() == 0,
        timeout=120,
        what="the worker to start and deliver the warm-up events",
        worker=worker,
    )
    time.sleep(0.3)
    broker.pause()


# --- report ---------------------------------------------------------------------

SCENARIOS = {"no-op": 0, "1 endpoint": 1, "4 endpoints": 4}  # name -> endpoints (0: the no-op drain)


def print_table(results: dict[str, list[ScenarioResult]]) -> float:
    print()
    print(
        f"{'scenario':<12} {'per s':>7} {'CPU ms each':>11} {'(pool':>6} {'main)':>6} {'left':>5} "
        f"{'empty at':>8} {'with rest':>9} {'receiver':>8}   per s per round"
    )
    medians = {}
    for name, rounds in results.items():
        medians[name] = rate = statistics.median(r.rate for r in rounds)
        cpu = statistics.median(r.cpu_ms for r in rounds)
        pool = statistics.median(r.pool_ms for r in rounds)
        main = statistics.median(r.main_ms for r in rounds)
        left = statistics.median(r.left for r in rounds)
        empty = statistics.median(r.drained for r in rounds)
        whole = statistics.median(r.drain_ms for r in rounds)
        share = statistics.median(r.receiver_cpu / r.seconds for r in rounds) if name != "no-op" else None
        receiver = f"{share:.0%}" if share is not None else "-"
        per_round = " ".join(f"{r.rate:.0f}" for r in rounds)
        print(
            f"{name:<12} {rate:>7.1f} {cpu:>11.2f} {pool:>6.2f} {main:>6.2f} {left:>5g} "
            f"{empty:>7.1f}s {whole:>9.2f} {receiver:>8}   {per_round}"
        )
    noop_cpu = statistics.median(r.cpu_ms for r in results["no-op"])
    print()
    ratio = None
    for name in ("1 endpoint", "4 endpoints"):
        r = medians[name] / medians["no-op"]
        cpu = noop_cpu / statistics.median(x.cpu_ms for x in results[name])
        verdict = "meets" if r >= 0.5 else "BELOW"
        goal = f"({verdict} the goal of >= 0.5)" if name == "1 endpoint" else "(for comparison)"
        print(f"ratio deliveries/s ({name}) / no-op tasks/s: {r:.3f}  {goal};  CPU cross-check: {cpu:.3f}")
        ratio = r if ratio is None else ratio
    return ratio


def run_rounds(worker: Worker, broker: Broker, receiver: Receiver, args) -> dict[str, list[ScenarioResult]]:
    results: dict[str, list[ScenarioResult]] = {name: [] for name in SCENARIOS}
    for round_no in range(1, args.rounds + 1):
        for name, endpoints in SCENARIOS.items():
            if endpoints:
                label = f"r{round_no}-{endpoints}"
                r = run_deliveries(worker, broker, receiver, label, endpoints=endpoints, events=args.events)
            else:
                r = run_noop(worker, broker, receiver, events=args.events)
            results[name].append(r)
            print(
                f"  round {round_no} {name:<11} {r.rate:7.1f}/s  {r.seconds:6.2f} s  "
                f"worker CPU {r.cpu_ms:5.2f} ms each (pool {r.pool_ms:.2f}, main {r.main_ms:.2f})  "
                f"left {r.left}, queue empty at {r.drained:.2f} s, {r.drain_ms:.2f} ms CPU each with those  "
                f"receiver {r.receiver_cpu / r.seconds:.0%} of a CPU  (backlog built in {r.backlog:.1f} s)",
                flush=True,
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the three scenarios (default 3)")
    parser.add_argument(
        "--events", type=int, default=1000, help="E: deliveries (and no-op tasks) per scenario (default 1000)"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes, as bin/worker (default 2)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="a Redis database for this run alone")
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)  # the receiver subprocess
    args = parser.parse_args()
    if args.receiver:
        receiver_main()
        return 0
    if args.rounds < 1 or args.events < 4 or args.events % 4:
        parser.error("--rounds must be at least 1 and --events a multiple of 4")

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background (SIGINT ignored)
    failed = django_ready = False
    worker = receiver = None
    broker = Broker(args.redis)
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            print(f"setting up database {DB}, migrations, Redis {args.redis}, receiver, worker ...", flush=True)
            env = kassa_env(tmp, redis_url=args.redis, concurrency=args.concurrency)
            broker.redis.flushdb()
            admin_execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            admin_execute(f'CREATE DATABASE "{DB}"')
            run([PYTHON, "manage.py", "migrate", "--noinput"], env=env)
            os.environ.update(env)  # this process creates the events, with the worker's settings
            sys.path.insert(0, str(REPO))
            import django

            django.setup()
            django_ready = True
            receiver = Receiver()
            print(f"receiver alone: {receiver.self_test(1000)}", flush=True)
            worker = Worker(env=env, logdir=tmp)
            warm_up(worker, broker, receiver)

            print(
                f"{args.rounds} rounds; per scenario a backlog of {args.events:,} tasks or deliveries; "
                f"bin/worker --concurrency={args.concurrency}; {os.cpu_count()} CPUs, DEBUG=false",
                flush=True,
            )
            print_table(run_rounds(worker, broker, receiver, args))
            python = os.path.relpath(PYTHON, REPO) if Path(PYTHON).is_relative_to(REPO) else PYTHON
            command = shlex.join([python, "bench/webhook_delivery.py", *sys.argv[1:]])
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
            if worker is not None:
                worker.stop()
            if receiver is not None:
                receiver.stop()
            if django_ready:
                from django.db import connections

                connections.close_all()
            with contextlib.suppress(psycopg.Error):
                admin_execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            with contextlib.suppress(redis.RedisError):
                broker.redis.flushdb()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
