"""Benchmark: how much one merchant's flood past its rate limit slows another merchant's API calls.

What it measures
    Merchant B's latency (p50, p99) for ``POST /v1/customers`` while merchant
    A, on the same Kassa, floods the same endpoint at about ten times its rate
    limit, next to B's latency while A is idle (the *baseline* of this
    benchmark: B against itself, not against a bare ceiling). The headline is
    the ratio p99(flood) / p99(quiet); the goal is at most 1.5 (a tenant over
    its limit must cost the others little). Also shown: A's answers (accepted
    and 429), the WARNING lines the server wrote to its stderr, and the
    gunicorn workers' CPU use (share of one CPU) in each scenario.

    Kassa runs as in production: gunicorn gthread 2 workers x 4 threads,
    production settings (``DEBUG=false``, throwaway secrets), PostgreSQL, and
    ``REDIS_URL`` set, so the rate limiter counts in Redis (shared by both
    workers, as in production) and Celery's broker is Redis (no worker runs;
    the outbox's queue just fills). The test-mode limit is set with
    ``KASSA_RATE_LIMIT_TEST`` (``--limit``, default ``25/s``, Kassa's own
    default). Both merchants are made through the services and use their
    test secret keys; every request carries a fresh ``Idempotency-Key`` (as
    stripe-python sends), built as ``bench/api_create.py`` builds them and
    sent over its keep-alive HTTP/1.1 connections.

    B sends at a steady pace (``--b-rate``, default 10 req/s, well under the
    limit) over 2 connections, open loop: request k is due at
    ``start + k / rate`` whatever happened to the earlier ones, and B's
    latency is counted from when it was due, so a stalled server is not
    hidden by the sender waiting for it. Four scenarios alternate for a few
    rounds (medians over rounds):

    ``quiet``
        A sends nothing.
    ``within``
        A sends paced at nine tenths of its limit (22.5 req/s at 25/s):
        as busy as A may be without a single refusal. ``flood/within``
        shows what A's refusals add to the load A is entitled to.
    ``flood``
        A sends paced at ``--flood-rate`` (default ten times the limit,
        250 req/s) over 8 connections (the headline).
    ``unpaced``
        A sends as fast as 8 connections allow, each sending the next request
        as soon as the last answer came (``--no-unpaced`` skips it).

    A's load generator is a separate process, so its threads never hold the
    interpreter lock B's sender needs to send on time. Each scenario warms up
    first; only requests due inside the measured window count.

How to run
    From the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth,
    user ``postgres``) and Redis on 127.0.0.1:6379::

        .venv/bin/python bench/tenant_flood.py            # or: make bench-flood
        .venv/bin/python bench/tenant_flood.py --rounds 5 --seconds 30 --limit 100/s

    It creates (and at the end drops) the database ``kassa_bench_flood``,
    runs the migrations, creates the two merchants, and uses Redis database
    11 (``--redis``) for the rate limiter's counters and the Celery broker:
    that database is flushed at the start and the end, so it must be one
    nothing else uses. Kassa is served on a free loopback port and stopped
    again, also on Ctrl-C or failure. Nothing outside a temporary directory
    is written. About four minutes with the defaults.

How to read it
    Each scenario prints a line as it ends; then the table shows, per
    scenario, the median over rounds of B's p50 and p99 (and the worst B
    latency of any round), A's requests per second and its answers in the
    measured window (2xx and 429), the WARNING lines the server wrote in the
    window, and the workers' CPU (100 % is one CPU, the machine has
    ``os.cpu_count()``). The ratios compare B's p99 (and p50) under each
    flood with the quiet scenario's. B sends ``--b-rate`` x ``--seconds``
    requests a round (150 by default), so a round's p99 is about its second
    slowest request: rounds differ, the median over rounds is the figure;
    ``--seconds`` longer gives steadier ones.

    A non-2xx answer to B, an answer to A other than 2xx or 429, or a flood
    that no 429 answered (the limit was not reached, so nothing was
    measured), makes the run fail loudly (a banner with the statuses, sample
    bodies and the server's stderr; exit status 1): its numbers are not a
    valid measurement.
"""

import argparse
import contextlib
import itertools
import json
import multiprocessing
import os
import shlex
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_create import (  # bench/ is put on the path just above
    GUNICORN_ARGS,
    PYTHON,
    REPO,
    HTTPConnection,
    Server,
    Target,
    _interrupt,
    admin_execute,
    build_request,
    kassa_env,
    migrate_kassa,
    run,
)

DB = "kassa_bench_flood"
QUEUE = "kassa-bench-flood"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Run by `manage.py shell` with the server's settings: two merchants, made through the services.
SETUP_MERCHANTS = """
import json
from merchants.services import merchant_create
a = merchant_create(name="Bench flood A", owner_email="flood-a@bench.example")
b = merchant_create(name="Bench flood B", owner_email="flood-b@bench.example")
print(json.dumps({"a": a.secret_key.secret, "b": b.secret_key.secret}))
"""


def setup_kassa(env: dict) -> tuple[str, str]:
    """Migrate and create merchants A and B; return their test secret keys."""
    migrate_kassa(env, DB)
    out = run([PYTHON, "manage.py", "shell", "-c", SETUP_MERCHANTS], env=env, cwd=REPO)
    keys = json.loads(next(line for line in reversed(out.splitlines()) if line.startswith("{")))
    return keys["a"], keys["b"]


# --- load -------------------------------------------------------------------------


@dataclass
class Load:
    """What one sender saw in the measured window (requests due in ``[start, stop)``)."""

    latencies: list[float] = field(default_factory=list)  # seconds from due to answered, 2xx answers
    statuses: dict[str, int] = field(default_factory=dict)  # status (or exception name) -> count, all answers
    samples: list[str] = field(default_factory=list)  # a few bodies of answers other than 2xx and 429
    cpu: float = 0.0  # CPU seconds the sender's process used, warm-up included (A's process; B's: unused)

    def count(self, *, ok: bool) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2") == ok)

    def unexpected(self, *, allow_429: bool) -> dict[str, int]:
        allowed = ("2", "429") if allow_429 else ("2",)
        return {status: n for status, n in self.statuses.items() if not status.startswith(allowed)}

    def ms(self, pct: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


def send(target: Target, *, rate: float | None, connections: int, t0: float, start: float, stop: float) -> Load:
    """Send from ``t0`` until ``stop``: paced (request k due at ``t0 + k / rate``), or unpaced if rate is None."""
    load = Load()
    lock = threading.Lock()
    numbers = itertools.count()  # next() is atomic under the GIL: each due time is taken by one connection

    def connection() -> None:
        conn = HTTPConnection(target.port)
        latencies, statuses, samples = [], {}, []
        try:
            while True:
                now = time.perf_counter()
                due = now if rate is None else t0 + next(numbers) / rate
                if due >= stop:
                    break
                if due > now:
                    time.sleep(due - now)
                try:
                    status, body = conn.request(build_request(target))
                except (OSError, ValueError, IndexError) as exc:
                    conn.close()
                    status, body = type(exc).__name__, str(exc).encode()
                done = time.perf_counter()
                if due < start:
                    continue
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if isinstance(status, int) and 200 <= status < 300:
                    latencies.append(done - due)
                elif status != 429 and len(samples) < 3:
                    samples.append(f"{status}: {body[:300].decode(errors='replace')}")
                if not isinstance(status, int):
                    time.sleep(0.05)  # connection refused or reset: do not spin
        finally:
            conn.close()
            with lock:
                load.latencies.extend(latencies)
                for key, n in statuses.items():
                    load.statuses[key] = load.statuses.get(key, 0) + n
                load.samples.extend(samples[: max(0, 5 - len(load.samples))])

    threads = [threading.Thread(target=connection, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def flood_process(pipe, target: Target, rate: float | None, connections: int, t0: float, start: float, stop: float):
    """A's load generator, in a process of its own (perf_counter is the system's monotonic clock: shared).

    Ctrl-C is the parent's to handle: it ends this process (SIGTERM) on its way out.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    cpu = time.process_time()
    load = send(target, rate=rate, connections=connections, t0=t0, start=start, stop=stop)
    load.cpu = time.process_time() - cpu
    pipe.send(load)
    pipe.close()


# --- one scenario -----------------------------------------------------------------


@dataclass
class ScenarioResult:
    seconds: float
    b: Load
    a: Load | None  # None: A idle
    warnings: int  # WARNING lines on the server's stderr in the window
    worker_cpu: float | None  # CPU seconds of the gunicorn workers in the window

    @property
    def a_rps(self) -> float:
        return sum(self.a.statuses.values()) / self.seconds if self.a else 0.0

    @property
    def cpu_share(self) -> float:
        return float("nan") if self.worker_cpu is None else self.worker_cpu / self.seconds


def log_size(server: Server) -> int:
    return server.log.stat().st_size if server.log.exists() else 0


def count_warnings(server: Server, begin: int, end: int) -> int:
    with server.log.open("rb") as log:
        log.seek(begin)
        return sum(1 for line in log.read(end - begin).splitlines() if b"WARNING" in line)


def within_rate(limit: str) -> float:
    """Nine tenths of ``limit`` (``"25/s"``, N per s, m, h or d) in requests per second: busy, never refused."""
    count, _, unit = limit.partition("/")
    return 0.9 * int(count) / {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit.strip()[0]]


def run_scenario(server: Server, a: Target, b: Target, *, flood: str | None, args) -> ScenarioResult:
    t0 = time.perf_counter() + 0.3  # time for A's process to start
    start = t0 + args.warmup
    stop = start + args.seconds
    child = pipe = None
    if flood is not None:
        pipe, child_end = multiprocessing.get_context("fork").Pipe(duplex=False)
        rate = {"paced": args.flood_rate, "within": within_rate(args.limit), "unpaced": None}[flood]
        child = multiprocessing.get_context("fork").Process(
            target=flood_process, args=(child_end, a, rate, args.a_connections, t0, start, stop), daemon=True
        )
        child.start()  # before B's threads: a fork copies no running thread
        child_end.close()
    b_load: list[Load] = []
    b_sender = threading.Thread(
        target=lambda: b_load.append(
            send(b, rate=args.b_rate, connections=args.b_connections, t0=t0, start=start, stop=stop)
        ),
        daemon=True,
    )
    b_sender.start()
    a_load = None
    try:
        time.sleep(max(0.0, start - time.perf_counter()))
        log_begin, cpu_begin = log_size(server), server.worker_cpu()
        time.sleep(max(0.0, stop - time.perf_counter()))
        log_end, cpu_end = log_size(server), server.worker_cpu()
        b_sender.join()
        if child is not None:
            if not pipe.poll(60):
                raise SystemExit("A's load generator sent no result within 60 s")
            a_load = pipe.recv()
    finally:
        if child is not None:
            if child.is_alive() and a_load is None:
                child.terminate()
            child.join()
    worker_cpu = None if cpu_begin is None or cpu_end is None else cpu_end - cpu_begin
    return ScenarioResult(
        seconds=args.seconds,
        b=b_load[0],
        a=a_load,
        warnings=count_warnings(server, log_begin, log_end),
        worker_cpu=worker_cpu,
    )


# --- report -----------------------------------------------------------------------


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def print_table(results: dict[str, list[ScenarioResult]], labels: dict[str, str]) -> dict[str, float]:
    print()
    print(
        f"{'scenario':<28} {'B p50 ms':>8} {'B p99 ms':>8} {'B max ms':>8} {'A req/s':>8} {'A 2xx':>7} "
        f"{'A 429':>7} {'WARNING':>8} {'workers':>8}   B p99 per round"
    )
    for name, rounds in results.items():
        flood = rounds[0].a is not None
        a_rps = f"{median(r.a_rps for r in rounds):>8.1f}" if flood else f"{'-':>8}"
        a_ok = f"{median(r.a.count(ok=True) for r in rounds):>7.0f}" if flood else f"{'-':>7}"
        a_429 = f"{median(r.a.statuses.get('429', 0) for r in rounds):>7.0f}" if flood else f"{'-':>7}"
        print(
            f"{labels[name]:<28} {median(r.b.ms(50) for r in rounds):>8.2f} {median(r.b.ms(99) for r in rounds):>8.2f}"
            f" {max(r.b.ms(100) for r in rounds):>8.2f} {a_rps} {a_ok} {a_429}"
            f" {median(r.warnings for r in rounds):>8.0f} {median(r.cpu_share for r in rounds):>8.0%}"
            f"   {' '.join(f'{r.b.ms(99):.1f}' for r in rounds)}"
        )
    quiet_p50 = median(r.b.ms(50) for r in results["quiet"])
    quiet_p99 = median(r.b.ms(99) for r in results["quiet"])
    ratios = {}
    print()
    for name in [n for n in results if n != "quiet"]:
        p50 = median(r.b.ms(50) for r in results[name])
        p99 = median(r.b.ms(99) for r in results[name])
        ratios[name] = p99 / quiet_p99
        verdict = ("meets" if ratios[name] <= 1.5 else "BELOW") + " the goal of <= 1.5"
        if name == "within":
            verdict = "no refusals: for comparison"
        headline = "  <- the headline" if name == "flood" else ""
        print(
            f"ratio B p99 {name}/quiet: {ratios[name]:.2f}  ({verdict})"
            f"   p50 {name}/quiet: {p50 / quiet_p50:.2f}{headline}"
        )
    within_p99 = median(r.b.ms(99) for r in results["within"])
    flood_p99 = median(r.b.ms(99) for r in results["flood"])
    print(
        f"ratio B p99 flood/within: {flood_p99 / within_p99:.2f}  (what A's refusals add to what A may do anyway:"
        " A paced at nine tenths of its limit is never refused)"
    )
    print("(A 2xx, A 429 and WARNING: medians per round of the measured window; workers: CPU, 100 % = one CPU)")
    return ratios


def report_errors(results: dict[str, list[ScenarioResult]], server: Server) -> bool:
    problems = []
    for name, rounds in results.items():
        for who, allow_429 in (("B", False), ("A", True)):
            loads = [r.b if who == "B" else r.a for r in rounds]
            loads = [load for load in loads if load is not None]
            bad: dict[str, int] = {}
            for load in loads:
                for status, n in load.unexpected(allow_429=allow_429).items():
                    bad[status] = bad.get(status, 0) + n
            if bad:
                samples = [s for load in loads for s in load.samples][:5]
                problems.append(f"{name}: {sum(bad.values())} unexpected answers to {who}: {dict(sorted(bad.items()))}")
                problems.extend(f"    sample {s}" for s in samples)
        if name not in ("quiet", "within") and any(r.a.statuses.get("429", 0) == 0 for r in rounds):
            problems.append(f"{name}: a round in which A's flood got no 429 (the limit was never reached)")
    if not problems:
        return False
    print("\n" + "!" * 78, flush=True)
    print("!!! THIS MEASUREMENT IS NOT VALID", flush=True)
    for problem in problems:
        print(f"!!! {problem}", flush=True)
    print("!" * 78, flush=True)
    server.dump_log()
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the scenarios (default 3)")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per scenario (default 15)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each (default 2)")
    parser.add_argument("--limit", default="25/s", help="KASSA_RATE_LIMIT_TEST for the run (default 25/s)")
    parser.add_argument("--b-rate", type=float, default=10, help="B's paced requests per second (default 10)")
    parser.add_argument("--b-connections", type=int, default=2, help="B's keep-alive connections (default 2)")
    parser.add_argument(
        "--flood-rate", type=float, help="A's paced requests per second (default: ten times the limit per second)"
    )
    parser.add_argument("--a-connections", type=int, default=8, help="A's keep-alive connections (default 8)")
    parser.add_argument(
        "--unpaced", action=argparse.BooleanOptionalAction, default=True, help="also flood unpaced (default: yes)"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11", help="a Redis database for this run alone")
    args = parser.parse_args()
    try:
        count, _, period = args.limit.partition("/")
        per_second = int(count) / PERIODS[period[0]]
    except (ValueError, KeyError, IndexError):
        parser.error("--limit is a count per s, m, h or d, such as 25/s")
    if args.flood_rate is None:
        args.flood_rate = 10 * per_second
    if min(args.rounds, args.b_connections, args.a_connections) < 1 or min(args.seconds, args.b_rate) <= 0:
        parser.error("--rounds, --seconds, --b-rate and the connection counts must be positive")
    if args.flood_rate <= per_second:
        parser.error(f"--flood-rate must be above the limit ({per_second:g} req/s)")

    signal.signal(signal.SIGTERM, _interrupt)
    broker = redis.Redis.from_url(args.redis)
    server = None
    failed = False
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            print(f"setting up database {DB}, migrations, merchants A and B, Redis {args.redis} ...", flush=True)
            broker.flushdb()
            env = kassa_env(tmp, debug=False, db=DB)
            env["REDIS_URL"] = args.redis  # the rate limiter's counters (and Celery's broker)
            env["CELERY_QUEUE"] = QUEUE
            env["KASSA_RATE_LIMIT_TEST"] = args.limit
            a_key, b_key = setup_kassa(env)
            server = Server("kassa", "kassa.wsgi:application", env=env, cwd=REPO, logdir=tmp)
            server.wait_ready("/healthz")
            a = Target("A", server.port, "/v1/customers", a_key)
            b = Target("B", server.port, "/v1/customers", b_key)

            floods = {
                "quiet": None,
                "within": "within",
                "flood": "paced",
                **({"unpaced": "unpaced"} if args.unpaced else {}),
            }
            labels = {
                "quiet": "quiet (A idle)",
                "within": f"within (A {within_rate(args.limit):g}/s)",
                "flood": f"flood (A paced {args.flood_rate:g}/s)",
                "unpaced": f"unpaced (A {args.a_connections} conns)",
            }
            print(
                f"{args.rounds} rounds x {args.seconds:g} s (+{args.warmup:g} s warm-up) per scenario; "
                f"KASSA_RATE_LIMIT_TEST={args.limit}; B {args.b_rate:g} req/s paced over {args.b_connections} "
                f"connections; A floods over {args.a_connections} connections; gunicorn {' '.join(GUNICORN_ARGS)}, "
                f"{os.cpu_count()} CPUs, DEBUG=false, REDIS_URL={args.redis}",
                flush=True,
            )
            results: dict[str, list[ScenarioResult]] = {name: [] for name in floods}
            for round_no in range(1, args.rounds + 1):
                for name, flood in floods.items():
                    r = run_scenario(server, a, b, flood=flood, args=args)
                    results[name].append(r)
                    a_side = ""
                    if r.a is not None:
                        a_side = (
                            f"  A {r.a_rps:6.1f} req/s: {r.a.count(ok=True)} 2xx, {r.a.statuses.get('429', 0)} 429"
                            f"  (A's load generator: {r.a.cpu / (args.warmup + args.seconds):.0%} of a CPU)"
                        )
                    odd = {**r.b.unexpected(allow_429=False), **(r.a.unexpected(allow_429=True) if r.a else {})}
                    flag = f"  UNEXPECTED {odd}" if odd else ""
                    print(
                        f"  round {round_no} {name:<8} B p50 {r.b.ms(50):6.2f} ms  p99 {r.b.ms(99):7.2f} ms"
                        f"  max {r.b.ms(100):7.2f} ms ({len(r.b.latencies)} answers){a_side}"
                        f"  WARNING lines {r.warnings}  workers {r.cpu_share:.0%} CPU{flag}",
                        flush=True,
                    )
            print_table(results, labels)
            failed = report_errors(results, server)
            python = os.path.relpath(PYTHON, REPO) if Path(PYTHON).is_relative_to(REPO) else PYTHON
            command = shlex.join([python, "bench/tenant_flood.py", *sys.argv[1:]])
            print(f"reproduce (from the repository root): {command}")
        except KeyboardInterrupt:
            print("\ninterrupted; stopping the server, dropping the bench database", file=sys.stderr)
            failed = True
        finally:
            if server is not None:
                server.stop()
            with contextlib.suppress(psycopg.Error):
                admin_execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            with contextlib.suppress(redis.RedisError):
                broker.flushdb()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
