"""Benchmark: Kassa's Stripe webhook ingest against a bare Django + DRF create endpoint.

What it measures
    Throughput (successful requests per second), latency (p50, p99) and the
    gunicorn workers' CPU per request of ``POST /webhooks/stripe/<merchant>/test/``:
    Kassa's whole inbound path for one Stripe event (the merchant and its
    Stripe credential looked up, the signing secret decrypted, the
    ``Stripe-Signature`` verified, the event stored with insert-or-ignore and
    its processing task queued on the Celery broker). Every request is a
    different, correctly signed ``payment_intent.succeeded`` event (HMAC-SHA256
    of ``"<t>.<body>"`` with the merchant's webhook signing secret, as Stripe
    signs and as ``tests/webhooks/test_inbound.py`` does), so every request
    stores a row and queues a task; none is a duplicate.

    ``REDIS_URL`` is set, so the broker is Redis and the enqueue is real, but
    no Celery worker runs: this measures the web tier, and the queue just
    fills (it is emptied after each round, and the Redis database flushed
    at the end).

    The ceiling, in the same run and on the same machine, is the baseline of
    ``bench/api_create.py`` (``bench/baseline/``): a DRF view that looks a
    Bearer token up by its sha256 in one indexed query, inserts one row and
    returns a small JSON body. It is the ceiling named in issue 11 for every
    row ("a DRF view doing a token lookup and one insert") and the one
    ``make bench`` uses, so the ratios of the benchmarks compare with each
    other. It is also a fair one for ingest: its token lookup stands for
    finding who the request is for (Kassa's merchant and credential), its
    insert for storing the event; what Kassa does beyond it (verifying a
    signature, decrypting a secret, parsing JSON, queueing a task) is the
    cost being judged. A view that verified nothing would be the same view
    less one indexed SELECT: hardly a different number.

    Both run under the same gunicorn settings (gthread, 2 workers x 4 threads)
    on their own fresh PostgreSQL database, and are driven alternately for a
    few rounds by the load generator of ``bench/api_create.py`` (a fixed
    number of keep-alive HTTP/1.1 connections, each sending the next request
    as soon as the last answer arrived). Kassa's signed requests are made
    before each round (signing costs the load generator nothing during the
    measured window; the signature tolerance is 300 s, so a round's requests
    are signed just before it). Each round warms up first; only requests that
    complete inside the measured window count.

How to run
    From the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth,
    user ``postgres``) and Redis on 127.0.0.1:6379::

        .venv/bin/python bench/webhook_ingest.py            # or: make bench-ingest
        .venv/bin/python bench/webhook_ingest.py --rounds 5 --seconds 20 --concurrency 8

    It creates (and at the end drops) the databases ``kassa_bench_ingest`` and
    ``kassa_bench_ingest_baseline``, runs the migrations, creates a merchant
    and saves its test-mode Stripe credential with a webhook signing secret
    through the services, and uses Redis database 10 (``--redis``) as the
    Celery broker: that database is flushed at the start and at the end (and
    the queue emptied after each Kassa round), so it must be one nothing
    else uses. Both projects
    are served on free loopback ports and stopped again, also on Ctrl-C or
    failure. Nothing outside a temporary directory is written. About two
    minutes with the defaults.

How to read it
    As ``make bench``: each round prints a line as it ends; then the table
    shows, per path, the median over rounds of req/s (2xx answers only), p50
    and p99 latency and the gunicorn workers' CPU per request, and the total
    non-2xx count. ``ratio`` is Kassa's req/s divided by the baseline's; the
    goal is at least 0.5. The CPU-per-request cross-check (baseline's / Kassa's)
    is the steadier figure on a busy machine. ``signed live`` in a round's
    line counts requests the pre-signed stock did not cover (it is sized for
    ``--max-rate`` req/s); a few are harmless, many mean raise ``--max-rate``.

    Kassa runs with production settings (``DEBUG=false``) and throwaway
    secrets. Any non-2xx answer (a bad signature would be a 400) makes the
    run fail loudly (a banner with the status codes, sample bodies and the
    server's stderr; exit status 1): its numbers are not a valid measurement.
"""

import argparse
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import secrets
import shlex
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_create import (  # bench/ is put on the path just above
    BENCH,
    GUNICORN_ARGS,
    PYTHON,
    REPO,
    RoundResult,
    Server,
    Summary,
    Target,
    _interrupt,
    admin_execute,
    baseline_env,
    drive,
    kassa_env,
    migrate_kassa,
    report_errors,
    run,
    setup_baseline,
)

KASSA_DB = "kassa_bench_ingest"
BASELINE_DB = "kassa_bench_ingest_baseline"
QUEUE = "kassa-bench-ingest"

# Run by `manage.py shell` with the server's settings (so its encryption key): the merchant, made through
# the services, with a test-mode Stripe credential that has a webhook signing secret.
SETUP_MERCHANT = """
import json
from merchants.services import merchant_create, processor_credential_set
created = merchant_create(name="Bench ingest", owner_email="ingest@bench.example")
processor_credential_set(
    merchant=created.merchant, livemode=False, secret_key="sk_test_bench_ingest", webhook_secret=WEBHOOK_SECRET
)
print(json.dumps({"id": created.merchant.public_id}))
"""


def setup_kassa(env: dict, webhook_secret: str) -> str:
    """Migrate, create the merchant and its Stripe credential; return the merchant's public id."""
    migrate_kassa(env, KASSA_DB)
    code = SETUP_MERCHANT.replace("WEBHOOK_SECRET", repr(webhook_secret))
    out = run([PYTHON, "manage.py", "shell", "-c", code], env=env, cwd=REPO)
    line = next(line for line in reversed(out.splitlines()) if line.startswith("{"))
    return json.loads(line)["id"]


_event_numbers = itertools.count(1)
_run_tag = secrets.token_hex(4)


def stripe_event_body() -> bytes:
    """A ``payment_intent.succeeded`` event as Stripe sends it (about 700 bytes), with an id of its own."""
    n = next(_event_numbers)
    now = int(time.time())
    return json.dumps(
        {
            "id": f"evt_bench{_run_tag}{n:09d}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": now,
            "type": "payment_intent.succeeded",
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": f"req_bench{n:09d}", "idempotency_key": f"bench-{_run_tag}-{n}"},
            "data": {
                "object": {
                    "id": f"pi_bench{_run_tag}{n:09d}",
                    "object": "payment_intent",
                    "amount": 2000,
                    "amount_received": 2000,
                    "currency": "usd",
                    "status": "succeeded",
                    "capture_method": "automatic",
                    "confirmation_method": "automatic",
                    "created": now - 5,
                    "customer": None,
                    "description": "Bench order",
                    "latest_charge": f"ch_bench{n:09d}",
                    "livemode": False,
                    "metadata": {"order": str(n)},
                    "payment_method": f"pm_bench{n:09d}",
                    "payment_method_types": ["card"],
                }
            },
        },
        separators=(",", ":"),
    ).encode()


def signed_request(target: Target) -> bytes:
    """One signed event, ready to send (``target.secret`` is the webhook signing secret)."""
    body = stripe_event_body()
    at = int(time.time())
    digest = hmac.new(target.secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    head = (
        f"POST {target.path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{target.port}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Stripe-Signature: t={at},v1={digest}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
        "\r\n"
    )
    return head.encode() + body


class PreSigned:
    """A stock of signed requests made before the round; ``next`` hands them out (thread-safe)."""

    def __init__(self, target: Target, count: int):
        self.stock = iter([signed_request(target) for _ in range(count)])
        self.live = 0
        self.lock = threading.Lock()

    def __call__(self, target: Target) -> bytes:
        request = next(self.stock, None)  # next() on a list iterator is atomic under the GIL
        if request is None:
            with self.lock:
                self.live += 1
            request = signed_request(target)
        return request


def print_table(results: dict[str, list[RoundResult]], labels: dict[str, str]) -> float:
    summaries = {name: Summary.of(rounds) for name, rounds in results.items()}
    print()
    print(f"{'path':<40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} {'non-2xx':>8}   req/s per round")
    for name, x in summaries.items():
        per_round = " ".join(f"{r.rps:.0f}" for r in results[name])
        figures = f"{x.rps:>8.1f} {x.p50:>8.2f} {x.p99:>8.2f} {x.cpu_ms:>10.2f} {x.errors:>8}"
        print(f"{labels[name]:<40} {figures}   {per_round}")
    kassa, baseline = summaries["kassa"], summaries["baseline"]
    ratio = kassa.rps / baseline.rps
    verdict = "meets" if ratio >= 0.5 else "BELOW"
    print(f"\nratio kassa/baseline req/s: {ratio:.2f}  ({verdict} the goal of >= 0.5)")
    print(f"cross-check, baseline/kassa worker CPU per request: {baseline.cpu_ms / kassa.cpu_ms:.2f}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per path (default 3)")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per round (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each round (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections (default 8)")
    parser.add_argument(
        "--max-rate", type=int, default=3000, help="req/s the pre-signed stock of each round covers (default 3000)"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10", help="a Redis database for this run alone")
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or args.concurrency < 1:
        parser.error("--rounds, --seconds and --concurrency must be positive")

    signal.signal(signal.SIGTERM, _interrupt)
    broker = redis.Redis.from_url(args.redis)
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            print(f"setting up databases, migrations, merchant, Stripe credential, Redis {args.redis} ...", flush=True)
            broker.flushdb()
            k_env = kassa_env(tmp, debug=False, db=KASSA_DB)
            k_env["REDIS_URL"] = args.redis  # Celery's broker (and the cache): the enqueue is real
            k_env["CELERY_QUEUE"] = QUEUE
            b_env = baseline_env(BASELINE_DB)
            webhook_secret = "whsec_" + secrets.token_urlsafe(24)
            merchant_id = setup_kassa(k_env, webhook_secret)
            targets = {
                "kassa": Target("kassa", 0, f"/webhooks/stripe/{merchant_id}/test/", webhook_secret),
                "baseline": Target("baseline", 0, "/rows", setup_baseline(b_env, BASELINE_DB)),
            }
            labels = {"kassa": "kassa POST /webhooks/stripe/<id>/test/", "baseline": "baseline POST /rows"}
            servers["kassa"] = Server("kassa", "kassa.wsgi:application", env=k_env, cwd=REPO, logdir=tmp)
            servers["baseline"] = Server("baseline", "baseline.wsgi:application", env=b_env, cwd=BENCH, logdir=tmp)
            for name, server in servers.items():
                server.wait_ready("/healthz")
                targets[name].port = server.port

            print(
                f"{args.rounds} rounds x {args.seconds:g} s (+{args.warmup:g} s warm-up), "
                f"{args.concurrency} connections, gunicorn {' '.join(GUNICORN_ARGS)}, {os.cpu_count()} CPUs, "
                f"Kassa DEBUG=false, REDIS_URL={args.redis} (no worker: the queue fills)",
                flush=True,
            )
            results: dict[str, list[RoundResult]] = {name: [] for name in targets}
            for round_no in range(1, args.rounds + 1):
                for name, target in targets.items():
                    extra, build = "", None
                    if name == "kassa":
                        build = PreSigned(target, int(args.max_rate * (args.warmup + args.seconds)))
                    r = drive(
                        target,
                        servers[name].worker_cpu,
                        concurrency=args.concurrency,
                        warmup=args.warmup,
                        seconds=args.seconds,
                        **({"build": build} if build else {}),
                    )
                    if name == "kassa":
                        extra = f"  signed live: {build.live}"
                        queued = broker.llen(QUEUE)
                        extra += f"  queued tasks: {queued}"
                        broker.delete(QUEUE)  # no worker: keep the queue from growing round after round
                    results[name].append(r)
                    flag = f"  {r.errors} NON-2XX" if r.errors else ""
                    print(
                        f"  round {round_no} {name:<8} {r.rps:8.1f} req/s  p50 {r.percentile_ms(50):6.2f} ms"
                        f"  p99 {r.percentile_ms(99):7.2f} ms  workers {r.server_cpu_ms:5.2f} ms CPU/req"
                        f"  (load generator: {r.client_cpu / (args.warmup + args.seconds):.0%} of a CPU){extra}{flag}",
                        flush=True,
                    )
            print_table(results, labels)
            failed = report_errors(results, servers)
            python = os.path.relpath(PYTHON, REPO) if Path(PYTHON).is_relative_to(REPO) else PYTHON
            command = shlex.join([python, "bench/webhook_ingest.py", *sys.argv[1:]])
            print(f"reproduce (from the repository root): {command}")
        except KeyboardInterrupt:
            print("\ninterrupted; stopping servers, dropping the bench databases", file=sys.stderr)
            failed = True
        finally:
            for server in servers.values():
                server.stop()
            for name in (KASSA_DB, BASELINE_DB):
                with contextlib.suppress(psycopg.Error):
                    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            with contextlib.suppress(redis.RedisError):
                broker.flushdb()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
