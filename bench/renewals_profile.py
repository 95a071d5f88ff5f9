"""Profile: what one renewal costs, in-process, in a minute — before running the full bench (bench/renewals.py).

What it does
    Makes merchant A with ``--subscriptions`` due subscriptions (as bench/renewals.py makes them, on
    ``--customers`` customers with a saved card, charged through the same processor stand-in at the gateway
    boundary), then renews them in this process with the very services the worker's batch task runs
    (``subscriptions_renew_due``: each renewal its own transaction, then its charge). Half of them are renewed
    plainly and timed (CPU of this process, ``time.process_time``); the other half with every SQL statement
    captured and under cProfile. It prints:

    - CPU per renewal (this process only: Kassa's code, stripe-python, the database driver; not PostgreSQL's
      nor Redis's own CPU), and renewals per second; then, apart, the CPU PostgreSQL's server process spent on
      them (read from /proc: PostgreSQL runs on this machine) and the write-ahead log it wrote for them (bytes,
      exact where CPU time on this machine is not: every row and index entry written, and each page first
      written after a checkpoint whole);
    - SQL statements per renewal, in total and grouped by kind and table;
    - events written and tasks queued per renewal;
    - with ``--where``, the statements grouped by the line of Kassa's code that ran them;
    - cProfile's top functions by cumulative and by own CPU time (``--top``; the timer is the process's CPU);
    - with ``--floor``, where a renewal's CPU goes that this design cannot do without: its events' renderings
      (timed inside the timed renewals, per object class: the objects as a renewal holds them), and, each timed
      alone and multiplied by how often a renewal does it, the processor's call through stripe-python (the same
      PaymentIntent, to the same stand-in) and the database driver's round trip for each of its statements (a
      one-row SELECT by id through Django's cursor and psycopg, no ORM);
    - with ``--instructions``, the machine instructions of the timed renewals, counted by valgrind's callgrind (the
      whole run under it, about a minute for the default 200): steady to about 0.5 % from run to run on an otherwise
      idle machine, where CPU time moves by a fifth, so it tells whether a change of a few percent is one
      (``instructions_counted``);
    - with ``--tasks``, then the tasks all the renewals queued (the payments' emails, the events' dispatch), taken
      off the queue and run in this process as the worker would run them, timed (CPU per renewal) and profiled
      apart, their top functions printed after the renewals'.

    It checks that every renewal made one paid invoice and one PaymentIntent at the stand-in (else exit 1).
    Without ``--tasks`` the tasks the renewals queue are not run (no worker): their cost is the bench's to show.

How to run
    From the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth, user ``postgres``) and Redis
    on 127.0.0.1:6379::

        .venv/bin/python bench/renewals_profile.py                       # 200 renewals, PostgreSQL + Redis db 6
        .venv/bin/python bench/renewals_profile.py --subscriptions 400 --top 40
        .venv/bin/python bench/renewals_profile.py --instructions               # instructions a renewal (valgrind)

    It creates (and at the end drops) the database ``--database`` (``kassa_profile_renewals``) and flushes the
    Redis database ``--redis`` at the start and the end, so that must be one nothing else uses.
"""

import argparse
import base64
import contextlib
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import renewals as bench
from webhook_isolation import Failed, run

REPO = bench.REPO
PYTHON = bench.PYTHON

_TABLE = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK)\b(.*)", re.S)
_FROM = re.compile(r'\bFROM\s+"?([a-z_0-9]+)"?', re.I)
_NAME = re.compile(r'^\s*"?([a-z_0-9]+)"?', re.I)


def statement_kind(sql: str) -> str:
    """``SELECT billing_invoice``, ``INSERT billing_invoiceitem``, ``SAVEPOINT`` …; a ``WITH``'s first statement (the
    events' INSERT with their queue rows: kassa.db.insert_many_queued)."""
    if sql.lstrip()[:5].upper() == "WITH ":
        sql = sql.split("(", 1)[-1]
    match = _TABLE.match(sql)
    if not match:
        return sql.split(None, 1)[0].upper() if sql.strip() else "?"
    verb, rest = match.group(1).upper(), match.group(2)
    if verb in ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK"):
        return verb
    table = _FROM.search(rest) if verb == "SELECT" else _NAME.match(rest)
    return f"{verb.split()[0]} {table.group(1) if table else '?'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=200, help="due ones (200): half timed, half profiled")
    parser.add_argument("--customers", type=int, default=50, help="their customers (50)")
    parser.add_argument("--database", default="kassa_profile_renewals", help="a PostgreSQL database to create and drop")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6", help="a Redis database for this run alone")
    parser.add_argument("--where", action="store_true", help="also group the statements by the Kassa line running them")
    parser.add_argument("--top", type=int, default=25, help="cProfile's functions to print (25)")
    parser.add_argument("--dump", metavar="FILE", help="also write cProfile's statistics to FILE (pstats)")
    parser.add_argument("--floor", action="store_true", help="also time what a renewal cannot do without, alone")
    parser.add_argument("--tasks", action="store_true", help="then run the queued tasks here: their CPU, profiled")
    parser.add_argument("--dump-tasks", metavar="FILE", help="with --tasks, write their cProfile statistics to FILE")
    parser.add_argument(
        "--instructions", action="store_true", help="count the timed renewals' machine instructions (valgrind)"
    )
    args = parser.parse_args()
    if args.subscriptions < 2 or not 1 <= args.customers <= args.subscriptions:
        parser.error("--subscriptions must be at least 2 and --customers from 1 to --subscriptions")
    if args.instructions and not os.environ.get(_UNDER_CALLGRIND):
        return instructions_counted(args)

    import redis

    broker = redis.Redis.from_url(args.redis)
    processor = None
    bench.DB = args.database
    with tempfile.TemporaryDirectory(prefix="kassa-profile-") as tmpdir:
        try:
            processor = bench.Processor()
            env = bench.kassa_env(Path(tmpdir), redis_url=args.redis, processor=processor, concurrency=1)
            env["CELERY_QUEUE"] = "kassa-profile-renewals"
            env["LOG_LEVEL"] = "WARNING"
            broker.flushdb()
            bench.admin_execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            bench.admin_execute(f'CREATE DATABASE "{args.database}"')
            run([PYTHON, "manage.py", "migrate", "--noinput"], env=env)
            os.environ.update(env)
            sys.path.insert(0, str(REPO))
            import django

            django.setup()
            return profile(args, processor, broker)
        except Failed as exc:
            print(f"!!! {exc}\n!!! THIS RUN IS NOT A VALID MEASUREMENT", flush=True)
            return 1
        finally:
            if processor is not None:
                processor.stop()
            if "django" in sys.modules:
                from django.db import connections

                connections.close_all()
            bench.admin_execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            broker.flushdb()


def profile(args, processor, broker) -> int:
    from django.db import connection
    from django.utils import timezone

    from billing.invoices.models import Invoice
    from billing.subscriptions.models import Subscription
    from billing.subscriptions.services import renewal
    from kassa.frozen import long_lived_frozen
    from tests import factories
    from webhooks.models import Event

    now = timezone.now()
    print(f"making {args.subscriptions} due subscriptions on {args.customers} customers ...", flush=True)
    a, customers, first = bench.merchant_with_customers("Profile A", args.customers, receipts=False, now=now)
    spread = [customers[n % len(customers)] for n in range(1, args.subscriptions)]
    factories.subscriptions_copied(first, customers=spread)
    due = Subscription.objects.filter(merchant=a, next_renewal_at__lte=now).count()
    if due != args.subscriptions:
        raise Failed(f"{due} subscriptions due, not {args.subscriptions}")

    def renew(n: int) -> int:
        return renewal.subscriptions_renew_due(now=now, merchant_pk=a.pk, livemode=False, limit=n)

    half = args.subscriptions // 2
    renew(1)  # warm: imports, caches, the first connection to the stand-in
    long_lived_frozen()  # as a worker process does after its first task of a kind (kassa/frozen.py)
    timed = half - 1
    pg0, wal0 = backend_cpu(connection), bench.wal_position(connection)
    rendered = renderings_timed()  # each rendering's CPU, by class (its events and their "before")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with callgrind_counting():
        done = renew(timed)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rendered.stop()
    pg_cpu = backend_cpu(connection) - pg0
    wal = bench.wal_since(connection, wal0)
    if done != timed:
        raise Failed(f"renewed {done} of {timed}")

    rest = args.subscriptions - half
    events0 = Event.objects.count()
    queued0 = broker.llen(bench_queue())
    profiler = cProfile.Profile(time.process_time)  # CPU time, not waiting for the database
    kinds: Counter = Counter()
    where: Counter = Counter()

    def count(sql):
        kinds[statement_kind(sql)] += 1
        if args.where:
            where[(statement_kind(sql), kassa_caller())] += 1

    with counted_at_the_driver(connection, count):
        profiler.enable()
        done = renew(rest)
        profiler.disable()
    if done != rest:
        raise Failed(f"renewed {done} of {rest}")
    events = Event.objects.count() - events0
    event_types = Counter(Event.objects.order_by("-pk").values_list("type", flat=True)[:events])
    queued = broker.llen(bench_queue()) - queued0

    cycle = Invoice.objects.filter(merchant=a, billing_reason=Invoice.BillingReason.SUBSCRIPTION_CYCLE)
    if cycle.count() != args.subscriptions or cycle.exclude(status=Invoice.Status.PAID).exists():
        raise Failed(f"{cycle.count()} renewal invoices, {cycle.exclude(status='paid').count()} not paid")
    charges = processor.count()["payment_intent"]
    if charges != args.subscriptions + 1:  # + the first subscription's own first invoice
        raise Failed(f"the stand-in made {charges} PaymentIntents for {args.subscriptions} renewals + 1")

    print()
    print(f"timed: {timed} renewals, {cpu / timed * 1000:.2f} ms CPU each (this process), {timed / wall:.1f}/s")
    print(f"  PostgreSQL's CPU for them     {pg_cpu / timed * 1000:.2f} ms each (the server process serving this one)")
    print(f"  WAL PostgreSQL wrote for them {wal / timed / 1024:.1f} KiB each (exact, where CPU time is noisy)")
    print(f"profiled: {rest} renewals")
    print(f"  SQL statements per renewal   {sum(kinds.values()) / rest:.1f}")
    print(f"  round trips to PostgreSQL    {count.round_trips / rest:.1f} (BEGIN and COMMIT included)")
    print(f"  events per renewal           {events / rest:.1f}")
    for name, n in event_types.most_common():
        print(f"    {n / rest:6.2f}  {name}")
    print(f"  tasks queued per renewal     {queued / rest:.2f} (queue length after, not run)")
    names = Counter(json.loads(message)["headers"]["task"] for message in broker.lrange(bench_queue(), 0, -1))
    for name, n in names.most_common():
        print(f"    {n / args.subscriptions:6.2f}  {name} (per renewal over the whole run)")
    print_statements(kinds, where, rest)
    if args.dump:
        profiler.dump_stats(args.dump)
    print_profile(profiler, args.top, "")
    if args.floor:
        floor(a, timed, rendered, sum(kinds.values()) / rest, cpu / timed)
    if args.tasks:
        run_tasks(broker, args)
    return 0


#: Set in the environment of this script run again under callgrind (``--instructions``).
_UNDER_CALLGRIND = "KASSA_PROFILE_UNDER_CALLGRIND"


def instructions_counted(args) -> int:
    """``--instructions``: this script run again under valgrind's callgrind, which counts the machine instructions
    this process runs while it is told to (``callgrind_counting``: the timed renewals alone), and their count per
    renewal printed. Instructions, not time: the same code gives the same count to within about 0.5 % from one run to
    the next, where its CPU time moves by 20 % and more on a shared machine (README, Performance), so a change of a
    few percent shows in one run of each, on an otherwise idle machine. Under valgrind the process runs some 30 times
    slower, so the work done once a second (the events' nudges, the emails' task) is done more often a renewal than at
    full speed, and more again on a busy machine (2.6 % more instructions a renewal, seen here while tests ran beside
    it): compare counts made alike, alternating, with nothing else running, never with CPU times.
    Needs valgrind (Debian's package ``valgrind``)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("!!! --instructions needs valgrind (apt-get install valgrind)", flush=True)
        return 1
    argv = [arg for arg in sys.argv[1:] if arg != "--instructions"]
    with tempfile.TemporaryDirectory(prefix="kassa-callgrind-") as tmpdir:
        out = Path(tmpdir) / "callgrind.out"
        command = [valgrind, "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        done = subprocess.run(
            [*command, PYTHON, __file__, *argv],
            env={**os.environ, _UNDER_CALLGRIND: "1"},
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    counted = re.findall(r"Collected : (\d+)", done.stderr)  # this process's is the last (a child's exits first)
    if done.returncode != 0 or not counted:
        print(done.stderr[-3000:], flush=True)
        return done.returncode or 1
    timed = args.subscriptions // 2 - 1
    print(f"\ninstructions: {int(counted[-1]) / timed / 1e6:.3f} million a timed renewal ({timed} renewals)")
    return 0


@contextlib.contextmanager
def callgrind_counting():
    """Under ``--instructions``: callgrind counts inside the block only (``callgrind_control``, which waits for it)."""
    if not os.environ.get(_UNDER_CALLGRIND):
        yield
        return
    control = [shutil.which("callgrind_control") or "callgrind_control", "-i"]
    # A timeout: where valgrind's helper may not ptrace this process, it waits for it to leave its system call.
    subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True, timeout=120)
    try:
        yield
    finally:
        subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True, timeout=120)


def print_statements(kinds: Counter, where: Counter, renewals: int) -> None:
    print("  statements per renewal by kind and table:")
    for kind, n in kinds.most_common():
        print(f"    {n / renewals:6.2f}  {kind}")
    if where:  # --where
        print("  statements per renewal by kind and the Kassa line that ran them:")
        for (kind, line), n in where.most_common():
            print(f"    {n / renewals:6.2f}  {kind:36} {line}")


def print_profile(profiler: cProfile.Profile, top: int, of: str) -> None:
    for sort in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
        print(f"\ncProfile{of}, by {sort}:")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:20000])


class renderings_timed:
    """Counts and times (CPU) the API renderings (``webhooks.services.outbox.render``'s registry) by the class
    rendered, until ``stop``; a rendering inside another counts in the outer one only."""

    def __init__(self):
        from webhooks.services import outbox

        self.counts: Counter = Counter()
        self.cpu: Counter = Counter()
        self._depth = 0
        self._registry = outbox._renderers
        self._saved = dict(self._registry)
        for key, renderer in self._saved.items():
            self._registry[key] = self._timing(key, renderer)

    def _timing(self, key, renderer):
        def timed(obj):
            self._depth += 1
            cpu0 = time.process_time()
            try:
                return renderer(obj)
            finally:
                self._depth -= 1
                if not self._depth:
                    self.counts[key] += 1
                    self.cpu[key] += time.process_time() - cpu0

        return timed

    def stop(self) -> None:
        self._registry.update(self._saved)


def cpu_each(call, n: int) -> float:
    """CPU seconds of this process per call of ``call()``, over ``n`` calls after one unmeasured."""
    call()
    cpu0 = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - cpu0) / n


def floor(merchant, renewals: int, rendered: renderings_timed, statements: float, measured: float) -> None:
    """Where a renewal's CPU goes that this design cannot do without (module docstring, ``--floor``)."""
    from django.db import connection

    from billing.invoices.models import Invoice
    from kassa import gateway
    from kassa.ids import public_id
    from merchants.selectors import processor_credential_for

    invoice = Invoice.objects.filter(merchant=merchant, status=Invoice.Status.PAID).order_by("-pk").first()
    payment_intent = invoice.payments.get().payment_intent
    credential = processor_credential_for(merchant, False)

    def charge():
        key = public_id("payatt")
        gateway.payment_intent_confirm(
            credential,
            amount=payment_intent.amount,
            currency=payment_intent.currency,
            customer_id=payment_intent.customer.processor_id,
            payment_method_id=payment_intent.payment_method.processor_id,
            idempotency_key=key,
            kassa_id=payment_intent.public_id,
            attempt_id=key,
            off_session=True,
        )

    def statement():
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM billing_invoice WHERE id = %s", [invoice.pk])
            cursor.fetchone()

    parts = [("the processor's call (stripe-python, to the stand-in), alone", 1.0, cpu_each(charge, 100))]
    for key, n in sorted(rendered.counts.items(), key=lambda item: str(item[0])):
        name = getattr(key, "__name__", key)
        parts.append((f"{name}'s rendering, in the renewals", n / renewals, rendered.cpu[key] / n))
    parts.append(("a statement's round trip (Django's cursor, psycopg), alone", statements, cpu_each(statement, 1000)))
    connection.ensure_connection()
    raw = connection.connection  # psycopg's own connection: what Django's cursor adds is the difference

    def statement_raw():
        with raw.cursor() as cursor:
            cursor.execute("SELECT id FROM billing_invoice WHERE id = %s", [invoice.pk])
            cursor.fetchone()

    raw_each = cpu_each(statement_raw, 1000)
    total = sum(times * each for _name, times, each in parts)
    print("\nwhat this design cannot do without, per renewal (CPU of this process):")
    for name, times, each in parts:
        print(f"  {times * each * 1000:6.2f} ms  {name}: {each * 1000:.3f} ms x {times:.2f}")
    print(f"  {total * 1000:6.2f} ms  in all: {total / measured:.0%} of the {measured * 1000:.2f} ms measured above")
    print(f"  (of a statement's round trip, psycopg's own cursor alone: {raw_each * 1000:.3f} ms)")


def run_tasks(broker, args) -> None:
    """The tasks the whole run queued, taken off the queue one by one and run here (``Task.apply``: in this
    process, as the worker's pool runs them), timed, then again under cProfile: what they cost per renewal."""
    from django.db import connection

    from kassa.celery import app

    app.loader.import_default_modules()  # the tasks, as a worker registers them

    # Taken oldest first (kombu pushes on the left; a worker pops on the right). Of each kind of task, every
    # other one is timed and the rest profiled, so that the timed ones stand for every kind in its share, from
    # the whole run (the run queues a payments' email task a second, the events' dispatch after commits).
    queued = broker.llen(bench_queue())
    timed, profiled, cpu, pg_cpu, wal = Counter(), Counter(), Counter(), Counter(), Counter()
    profiler = cProfile.Profile(time.process_time)
    limit = 10 * queued  # the queue's tasks, and whatever they queue in turn
    while (timed + profiled).total() < limit and (message := broker.rpop(bench_queue())) is not None:
        message = json.loads(message)
        name = message["headers"]["task"]
        task_args, task_kwargs, _ = json.loads(base64.b64decode(message["body"]))
        task = app.tasks[name]
        if timed[name] == profiled[name]:
            pg0, wal0 = backend_cpu(connection), bench.wal_position(connection)
            cpu0 = time.process_time()
            task.apply(args=task_args, kwargs=task_kwargs, throw=True)
            cpu[name] += time.process_time() - cpu0
            pg_cpu[name] += backend_cpu(connection) - pg0
            wal[name] += bench.wal_since(connection, wal0)
            timed[name] += 1
        else:
            profiler.enable()
            task.apply(args=task_args, kwargs=task_kwargs, throw=True)
            profiler.disable()
            profiled[name] += 1
    n = timed.total()
    print(
        f"\ntasks: {queued} queued by {args.subscriptions} renewals;"
        f" of each kind every other one timed ({n}), the rest profiled"
    )

    # Each kind's timed ones stand for all of that kind.
    def per_renewal(spent: Counter, name: str) -> float:
        return spent[name] * (timed[name] + profiled[name]) / timed[name] / args.subscriptions

    whole = sum(per_renewal(cpu, name) for name in timed) * 1000
    print(f"  CPU of the timed ones      {cpu.total() / n * 1000:.2f} ms a task, {whole:.2f} ms a renewal")
    print("  per renewal, by kind: this process's CPU, PostgreSQL's CPU (its server process), WAL")
    for name, k in (timed + profiled).most_common():
        mine, theirs = per_renewal(cpu, name) * 1000, per_renewal(pg_cpu, name) * 1000
        print(f"    {k:6d}  {name:48} {mine:6.2f} ms {theirs:6.2f} ms {per_renewal(wal, name) / 1024:6.1f} KiB")
    if args.dump_tasks:
        profiler.dump_stats(args.dump_tasks)
    print_profile(profiler, args.top, " of the tasks")


def backend_cpu(connection) -> float:
    """CPU seconds the PostgreSQL server process serving ``connection`` has used (it runs on this machine)."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, in clock ticks


#: psycopg's generators that its connection waits for but that send nothing (a setting's checks): not round trips.
_NO_ROUND_TRIP = {"_set_autocommit_gen", "_set_isolation_level_gen", "_set_read_only_gen", "_set_deferrable_gen"}


@contextlib.contextmanager
def counted_at_the_driver(connection, count):
    """Inside the block, ``count(sql)`` for each statement this process runs, told by the driver's cursor class
    (Django's psycopg cursor) and by ``kassa.db._planned_statements`` (the path kassa.db's statements with values take
    on PostgreSQL, each statement of the several it may send in one round trip), not by a Django execute wrapper:
    kassa.db sends its statements straight to the driver while no execute wrapper is installed (``kassa.db._run``), so a
    wrapper would profile another path than the worker's. It counts what a wrapper counted on the renewals' path (no
    ``executemany``, no named cursor there), and besides, any statement of Django's own on that cursor class (a health
    check's, a new connection's time zone): none while the connection stays open, as in this profile. A BEGIN or COMMIT
    is not counted as a statement (neither did a wrapper). A statement sent with the next one (``kassa.db.with_next``)
    is counted where that one is sent (``--where`` names that one's line). And ``count.round_trips``: the round trips to
    PostgreSQL, each a wait of psycopg's connection for an answer (a statement's, a BEGIN's, a COMMIT's, or several
    statements' sent together by ``kassa.db._pipelined``)."""
    import psycopg

    from kassa import db

    with connection.cursor() as cursor:
        driver = type(cursor.cursor)
    own = "execute" in driver.__dict__
    execute = driver.execute
    planned = db._planned_statements
    wait = psycopg.Connection.wait

    def counted(self, query, *args, **kwargs):
        count(query)
        return execute(self, query, *args, **kwargs)

    def counted_libpq(conn, statements):
        for _transformer, query in statements:
            count(query.query.decode())
        return planned(conn, statements)

    def waited(self, gen, *args, **kwargs):
        if getattr(gen, "__name__", "") not in _NO_ROUND_TRIP:
            count.round_trips += 1
        return wait(self, gen, *args, **kwargs)

    driver.execute = counted
    db._planned_statements = counted_libpq
    psycopg.Connection.wait = waited
    count.round_trips = 0
    try:
        yield
    finally:
        db._planned_statements = planned
        psycopg.Connection.wait = wait
        if own:
            driver.execute = execute
        else:
            del driver.execute  # inherited again, as it was


def kassa_caller() -> str:
    """The innermost frame of Kassa's own code (not Django's, not a library's, not kassa/db.py's: the statements'
    own layer, which every one goes through) on the stack: ``path:line``."""
    frame = sys._getframe(2)
    skipped = ("renewals_profile.py", os.path.join("kassa", "db.py"))
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(str(REPO)) and "/.venv/" not in name and not name.endswith(skipped):
            return f"{os.path.relpath(name, REPO)}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


def bench_queue() -> str:
    from django.conf import settings

    return settings.CELERY_TASK_DEFAULT_QUEUE


if __name__ == "__main__":
    sys.exit(main())
