"""Benchmark: a renewal day of 10,000 subscriptions, renewed by Kassa's production worker, with the processor
answering at once.

What it measures
    Merchant A has N subscriptions (10,000 by default) due for renewal; merchant B has one, due at the same
    moment. At t0 the bench sends beat's renewal tick (``billing.tasks.subscriptions_tick``, as ``bin/beat``
    does every minute; the bench sends it again every 60 s) and one real Celery worker, run exactly as in
    production (``bin/worker``: prefork, two processes, late acks, prefetch 1, logging at INFO, with
    production settings, ``DEBUG=false``) on PostgreSQL and Redis, does the rest: fan-out per merchant,
    batches, each renewal's invoice made and finalized in its own transaction, then charged off-session
    through Kassa's gateway (two-phase), the invoice paid, the events written, and whatever those queue.
    It prints:

    - the wall time from t0 until every one of A's invoices is paid, and renewals per second;
    - Kassa's own CPU per renewal: the worker's processes' CPU time (main + pool, from /proc) from t0 until
      the queue is empty, divided by the renewals (PostgreSQL's and Redis's own CPU is not counted);
    - of that CPU, what Python's cycle collector took in those processes, by generation: exact, through a probe
      the worker's processes load (``bench/gc_probe``, on their ``PYTHONPATH`` only), where the CPU of whole runs
      moves by ±10 % between runs;
    - how long B's single renewal, due at t0, took until its invoice was paid, while A's day was running;
    - apart, what PostgreSQL did for them: its CPU (all its processes on this machine, from /proc: on two cores it
      shares the CPU with the worker) and the write-ahead log it wrote (bytes: exact, where CPU time is noisy).

    Goals (issue 15): under 2 minutes, under 5 ms of CPU per renewal, B within a minute.

    **The processor is a stand-in**: a tiny local HTTP server (``--processor``, a subprocess) that speaks
    the few Stripe answers Kassa's gateway needs (a customer, a card attached to it, a PaymentIntent created
    and confirmed: ``succeeded`` at once; an ``Idempotency-Key`` replays its first answer, as at Stripe),
    pointed at by ``STRIPE_API_BASE``. Kassa's own code runs unchanged, stripe-python included; only the
    processor's latency is taken away (Stripe takes a few hundred milliseconds per charge, which a worker
    spends waiting, not computing). The stand-in counts the PaymentIntents it made, so the bench checks
    that every renewal was charged exactly once.

    The data: A's customers (``--customers``, 2,000 by default, each with a saved default card) and one
    subscription are made through the services; the other N-1 subscriptions are copies of that one
    (``tests.factories.subscriptions_copied``: the rows the services leave after a first invoice, without
    that invoice), spread over the customers, all a month and a few days old, so all due now. The
    merchants send no receipts (``receipts_enabled`` off: a receipt PDF costs far more than a renewal; see
    bench/invoice_pdf.py for that cost); ``--receipts`` turns them on.

How to run
    From the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth, user ``postgres``) and Redis
    on 127.0.0.1:6379::

        .venv/bin/python bench/renewals.py                     # or: make bench-renewals
        .venv/bin/python bench/renewals.py --subscriptions 2000

    It creates (and at the end drops) the database ``kassa_bench_renewals``, runs the migrations, and uses
    Redis database 14 (``--redis``) with the Celery queue ``kassa-bench-renewals``: that Redis database is
    flushed at the start and the end, so it must be one nothing else uses. Setting up 10,000 subscriptions
    takes a minute or two; the worker and the stand-in are stopped again, also on Ctrl-C or failure.

How to read it
    A renewal that is not paid in time, an invoice too many or too few, or a PaymentIntent count at the
    stand-in other than one per invoice makes the run fail loudly (a banner and the worker's log; exit
    status 1): its numbers are not a valid measurement.
"""

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_delivery import Worker
from webhook_isolation import Failed, _interrupt, admin_execute, run

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_URL = "postgres://postgres@127.0.0.1:5432"
DB = "kassa_bench_renewals"
QUEUE = "kassa-bench-renewals"
TICK = "billing.tasks.subscriptions_tick"


# --- the processor stand-in (a subprocess: ``renewals.py --processor``) -----------------------------


def processor_main() -> None:
    """Stripe's answers for a customer, a card and a confirmed PaymentIntent, at once; ``GET /count``."""
    made = {"customer": 0, "card": 0, "payment_intent": 0}
    replies: dict[str, bytes] = {}  # Idempotency-Key -> the first answer

    def answer(method: str, path: str, form: dict) -> tuple[int, dict]:
        if method == "GET" and path == "/count":
            return 200, made
        if method != "POST":
            return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}
        parts = path.strip("/").split("/")
        if parts == ["v1", "customers"]:
            made["customer"] += 1
            return 200, {"id": f"cus_standin{made['customer']}", "object": "customer", "livemode": False}
        if len(parts) == 4 and parts[:2] == ["v1", "customers"] and parts[3] == "sources":
            made["card"] += 1
            card = {"id": f"card_standin{made['card']}", "object": "card", "brand": "Visa", "last4": "4242"}
            return 200, card | {"exp_month": 12, "exp_year": 2034, "customer": parts[2]}
        if parts == ["v1", "payment_intents"]:
            made["payment_intent"] += 1
            n, amount = made["payment_intent"], int(form.get("amount", 0))
            metadata = {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")}
            return 200, {
                "id": f"pi_standin{n}",
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "currency": form.get("currency"),
                "customer": form.get("customer"),
                "payment_method": form.get("payment_method"),
                "status": "succeeded",
                "client_secret": f"pi_standin{n}_secret_x",
                "latest_charge": f"ch_standin{n}",
                "metadata": metadata,
                "livemode": False,
            }
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = (await reader.readexactly(length)).decode() if length else ""
                url = urllib.parse.urlsplit(target)
                form = dict(urllib.parse.parse_qsl(body or url.query))
                key = headers.get("idempotency-key")
                if key and key in replies:
                    status, data = 200, replies[key]
                else:
                    status, payload = answer(method, url.path, form)
                    data = json.dumps(payload).encode()
                    if key and status == 200:
                        replies[key] = data
                reason = "OK" if status == 200 else "Not Found"
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (status, reason.encode(), len(data), data)
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
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


class Processor:
    def __init__(self):
        self.proc = subprocess.Popen(
            [PYTHON, __file__, "--processor"], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            raise Failed("the processor stand-in did not start")
        self.url = f"http://127.0.0.1:{int(line)}"

    def count(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/count", timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- set-up ------------------------------------------------------------------------------------------


def kassa_env(tmp: Path, *, redis_url: str, processor: Processor, concurrency: int) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG_URL}/{DB}",
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": QUEUE,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),  # production settings need every secret: throwaway ones
        "KASSA_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "STRIPE_API_BASE": processor.url,  # the stand-in (see the docstring)
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",  # nothing leaves the machine
        "KASSA_VAR_DIR": str(tmp / "kassa-var"),  # keep the repository's var/ untouched
        # The cycle collector's probe (bench/gc_probe), in the worker's processes: its share of their CPU, exactly.
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "bench" / "gc_probe")]),
        "KASSA_BENCH_GC_DIR": str(tmp / "gc"),
        "DJANGO_SETTINGS_MODULE": "kassa.settings",
        "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # bin/worker's `celery`
        "WORKER_CONCURRENCY": str(concurrency),
        "LOG_LEVEL": "INFO",
    }


def merchant_with_customers(name: str, customers: int, *, receipts: bool, now):
    """A merchant with test Stripe credentials (the stand-in), a monthly price, and customers with a saved card."""
    from billing.catalogue import services as catalogue
    from billing.payments import services as payments
    from merchants import services as merchants
    from tests import factories

    slug = name.lower().replace(" ", "-")
    merchant = merchants.merchant_create(name=name, owner_email=f"owner@{slug}.example").merchant
    merchants.processor_credential_set(merchant=merchant, livemode=False, secret_key=f"sk_test_{slug}")
    merchant = merchants.merchant_update(merchant=merchant, receipts_enabled=receipts)
    price = factories.recurring_price(merchant, unit_amount=1500)
    made = []
    for n in range(customers):
        customer = catalogue.customer_create(merchant=merchant, livemode=False, email=f"payer{n}@{slug}.example")
        card = payments.payment_method_create_from_token(customer=customer, token="tok_visa")
        made.append(catalogue.customer_update(customer=customer, default_payment_method=card))
        if n and n % 500 == 0:
            print(f"  {name}: {n} customers", flush=True)
    # A month and a few days ago: the first period has ended, so it is due a renewal now.
    first = factories.subscription(merchant, customer=made[0], price=price, now=now - timedelta(days=35))
    if first.status != "active":
        raise Failed(f"{name}'s first subscription is {first.status}, not active")
    return merchant, made, first


def queued(broker: redis.Redis) -> int:
    """Messages waiting in the queue plus those a worker took and has not acknowledged (late acks)."""
    return broker.llen(QUEUE) + broker.hlen("unacked")


def wait_until(predicate, *, timeout: float, what: str, worker: Worker, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        worker.check_alive()
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


# --- the run -----------------------------------------------------------------------------------------


def measure(args, broker: redis.Redis, processor: Processor, worker: Worker, a, b) -> dict:
    from django.db import connection

    from billing.invoices.models import Invoice
    from kassa.celery import app

    cycle = Invoice.BillingReason.SUBSCRIPTION_CYCLE
    paid_a = Invoice.objects.filter(merchant=a, billing_reason=cycle, status=Invoice.Status.PAID)
    paid_b = Invoice.objects.filter(merchant=b, billing_reason=cycle, status=Invoice.Status.PAID)
    charges_before = processor.count()["payment_intent"]
    main0, pool0 = worker.cpu()
    gc0 = collector_cpu(worker)
    wal0, pg0 = wal_position(connection), postgres_cpu()
    t0 = time.perf_counter()
    app.send_task(TICK)
    next_tick, b_done, a_done = t0 + 60, None, None
    while a_done is None or b_done is None:
        worker.check_alive()
        now = time.perf_counter()
        if now - t0 > args.timeout:
            raise Failed(f"after {args.timeout} s: {paid_a.count()} of A's {args.subscriptions} renewals paid")
        if now >= next_tick:  # beat's next minute
            app.send_task(TICK)
            next_tick += 60
        if b_done is None and paid_b.exists():
            b_done = now - t0
            print(f"  B's renewal paid after {b_done:.1f} s ({paid_a.count()} of A's done by then)", flush=True)
        if a_done is None and paid_a.count() >= args.subscriptions:
            a_done = now - t0
        connection.close()  # one short connection per poll: no transaction held open meanwhile
        time.sleep(0.1 if b_done is None else 1.0)
    main1, pool1 = worker.cpu()
    wait_until(lambda: queued(broker) == 0, timeout=600, what="the queue to empty", worker=worker, poll=0.05)
    drained = time.perf_counter() - t0
    main2, pool2 = worker.cpu()
    collector = [after - before for after, before in zip(collector_cpu(worker), gc0, strict=True)]
    wal, pg = wal_since(connection, wal0), postgres_cpu() - pg0
    charges = processor.count()["payment_intent"] - charges_before
    return {
        "seconds": a_done,
        "b_seconds": b_done,
        "drained": drained,
        "cpu_paid": (main1 - main0) + (pool1 - pool0),
        "cpu": (main2 - main0) + (pool2 - pool0),
        "main": main2 - main0,
        "pool": pool2 - pool0,
        "collector": collector,
        "charges": charges,
        "wal": wal,
        "postgres": pg,
    }


def collector_cpu(worker: Worker) -> list[float]:
    """CPU seconds the worker's processes (main and pool) have spent in Python's cycle collector so far, for each
    generation (0, 1, 2), as bench/gc_probe writes them."""
    spent = [0.0, 0.0, 0.0]
    directory = Path(os.environ["KASSA_BENCH_GC_DIR"])
    for pid in [worker.proc.pid, *worker.pool_pids()]:
        with contextlib.suppress(OSError):
            fields = (directory / str(pid)).read_text().split()
            for generation in range(3):
                spent[generation] += float(fields[2 * generation + 1])
    return spent


def wal_position(connection) -> str:
    """Where PostgreSQL's write-ahead log is now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        return cursor.fetchone()[0]


def wal_since(connection, position: str) -> int:
    """Bytes of write-ahead log written since ``position`` (by this run: nothing else writes to this server): every
    row and index entry written, and each page first written after a checkpoint whole; exact where CPU time on this
    machine is noisy (also bench/renewals_profile.py's)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [position])
        return int(cursor.fetchone()[0])


def postgres_cpu() -> float:
    """CPU seconds PostgreSQL's processes on this machine have used: each live one's, and the postmaster's
    children that have exited (a closed connection's backend), from /proc (Linux)."""
    total, ticks = 0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(" (")[2].partition(")")
        except OSError:
            continue  # gone meanwhile
        if name != "postgres":
            continue
        fields = rest.split()  # from the state on: ppid is [1], utime [11], stime [12], cutime [13], cstime [14]
        total += int(fields[11]) + int(fields[12])
        if _comm(fields[1]) != "postgres":
            total += int(fields[13]) + int(fields[14])  # the postmaster: its exited children's
    return total / ticks


def _comm(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def check(args, a, b, result: dict) -> None:
    from django.db.models import Count

    from billing.invoices.models import Invoice
    from billing.subscriptions.models import Subscription

    for merchant, expected in ((a, args.subscriptions), (b, 1)):
        cycle = Invoice.objects.filter(merchant=merchant, billing_reason=Invoice.BillingReason.SUBSCRIPTION_CYCLE)
        per_sub = cycle.order_by().values("subscription").annotate(n=Count("id")).filter(n__gt=1)
        if cycle.count() != expected or per_sub.exists():
            raise Failed(f"{merchant.name}: {cycle.count()} renewal invoices for {expected} subscriptions")
        if cycle.exclude(status=Invoice.Status.PAID).exists():
            raise Failed(f"{merchant.name}: some renewal invoices are not paid")
        if Subscription.objects.filter(merchant=merchant).exclude(status="active").exists():
            raise Failed(f"{merchant.name}: some subscriptions are not active")
    if result["charges"] != args.subscriptions + 1:
        raise Failed(f"the stand-in made {result['charges']} PaymentIntents for {args.subscriptions + 1} renewals")


def report(args, result: dict) -> None:
    renewals = args.subscriptions + 1
    seconds, cpu_ms = result["seconds"], result["cpu"] / renewals * 1000

    def verdict(ok: bool, goal: str) -> str:
        if args.subscriptions != 10000:
            return f"(goal for 10,000: {goal})"
        return f"{'meets' if ok else 'MISSES'} the goal of {goal}"

    print()
    print(f"renewals                     {renewals:,} ({args.subscriptions:,} of merchant A, 1 of merchant B)")
    print(f"wall time (A's all paid)     {seconds:8.1f} s     {verdict(seconds < 120, '< 2 min')}")
    print(f"renewals per second          {renewals / seconds:8.1f}")
    print(
        f"Kassa's CPU per renewal      {cpu_ms:8.2f} ms    {verdict(cpu_ms < 5, '< 5 ms')} "
        f"(worker main {result['main'] / renewals * 1000:.2f} + pool {result['pool'] / renewals * 1000:.2f}, "
        f"until the queue was empty at {result['drained']:.1f} s)"
    )
    collector = result["collector"]
    print(
        f"  of which Python's cycle collector {sum(collector) / renewals * 1000:.2f} ms (generations 0, 1, 2: "
        + ", ".join(f"{spent / renewals * 1000:.2f}" for spent in collector)
        + " ms; bench/gc_probe)"
    )
    b_seconds = result["b_seconds"]
    print(f"B's single renewal           {b_seconds:8.1f} s     {verdict(b_seconds < 60, '< 1 min')}")
    print(f"PaymentIntents at the stand-in: {result['charges']:,}, one per renewal")
    print(
        f"PostgreSQL, per renewal: {result['postgres'] / renewals * 1000:.2f} ms of CPU (all its processes on this "
        f"machine), {result['wal'] / renewals / 1024:.1f} KiB of write-ahead log"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10000, help="merchant A's due subscriptions (10,000)")
    parser.add_argument("--customers", type=int, default=2000, help="merchant A's customers (2,000)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes, as bin/worker (default 2)")
    parser.add_argument("--receipts", action="store_true", help="merchants email a receipt PDF per paid invoice")
    parser.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds (3600)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="a Redis database for this run alone")
    parser.add_argument("--processor", action="store_true", help=argparse.SUPPRESS)  # the stand-in subprocess
    args = parser.parse_args()
    if args.processor:
        processor_main()
        return 0
    if args.subscriptions < 1 or not 1 <= args.customers <= args.subscriptions:
        parser.error("--subscriptions must be at least 1 and --customers from 1 to --subscriptions")

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    failed = django_ready = False
    worker = processor = None
    broker = redis.Redis.from_url(args.redis)
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            print(f"setting up database {DB}, migrations, Redis {args.redis}, the processor stand-in ...", flush=True)
            processor = Processor()
            env = kassa_env(tmp, redis_url=args.redis, processor=processor, concurrency=args.concurrency)
            (tmp / "gc").mkdir()
            broker.flushdb()
            admin_execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            admin_execute(f'CREATE DATABASE "{DB}"')
            run([PYTHON, "manage.py", "migrate", "--noinput"], env=env)
            os.environ.update(env)  # this process makes the data, with the worker's settings
            sys.path.insert(0, str(REPO))
            import django

            django.setup()
            django_ready = True
            from django.utils import timezone

            from tests import factories

            now = timezone.now()
            made = time.perf_counter()
            print(f"making {args.subscriptions:,} due subscriptions on {args.customers:,} customers ...", flush=True)
            a, customers, first = merchant_with_customers("Bench A", args.customers, receipts=args.receipts, now=now)
            spread = [customers[n % len(customers)] for n in range(1, args.subscriptions)]
            for start in range(0, len(spread), 2000):
                factories.subscriptions_copied(first, customers=spread[start : start + 2000])
            b, _b_customers, _b_first = merchant_with_customers("Bench B", 1, receipts=args.receipts, now=now)
            print(f"  made in {time.perf_counter() - made:.0f} s", flush=True)

            worker = Worker(env=env, logdir=tmp)
            # The worker up, and what the set-up queued (events' nudges, emails) worked off: the run starts idle.
            wait_until(lambda: queued(broker) == 0, timeout=300, what="the worker to start", worker=worker)
            time.sleep(2)
            wait_until(lambda: queued(broker) == 0, timeout=300, what="the set-up's tasks", worker=worker)
            print(
                f"renewing: bin/worker --concurrency={args.concurrency}; {os.cpu_count()} CPUs, DEBUG=false, "
                f"processor stand-in at {processor.url}",
                flush=True,
            )
            result = measure(args, broker, processor, worker, a, b)
            check(args, a, b, result)
            report(args, result)
            python = os.path.relpath(PYTHON, REPO) if Path(PYTHON).is_relative_to(REPO) else PYTHON
            print(f"reproduce (from the repository root): {shlex.join([python, 'bench/renewals.py', *sys.argv[1:]])}")
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
            if processor is not None:
                processor.stop()
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
