"""Benchmark: an invoice finalized and charged off-session through Kassa's API, against the charge alone.

What it measures
    The server-side cost of the two calls that turn a draft into money, as a
    client developer makes them with stripe-python: ``invoices.finalize_invoice``
    (the gap-free number taken under the counter's lock, the totals, the
    customer's and seller's details copied, events) and ``invoices.pay`` with
    the customer's saved card, off-session (the PaymentIntent and its attempt
    committed first, then the processor's create-and-confirm, then the result
    recorded and the invoice marked paid, with its events). Each draft is
    made before the clock starts (an invoice item and an invoice that takes it).

    Next to it, the *floor*: the same off-session charge made straight at the
    processor (localstripe's ``payment_intents.create`` with ``confirm`` and
    ``off_session``), which Kassa's ``pay`` makes inside. The ratio
    Kassa / floor says how much Kassa's invoicing adds around the one call that
    moves money. localstripe is an in-process Python fake; against real
    Stripe the charge itself takes a few hundred milliseconds and Kassa's share
    shrinks accordingly.

    Kassa runs under gunicorn with production settings (``DEBUG=false``) on
    its own fresh PostgreSQL database, localstripe on its own loopback port
    keeping its state in memory only. Kassa's invoices and the floor's charges alternate, one
    client, one request at a time, so a busy machine slows both alike.

How to run
    From the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth)::

        .venv/bin/python bench/invoice_cycle.py              # or: make bench-invoices
        .venv/bin/python bench/invoice_cycle.py --invoices 500

    It creates (and at the end drops) the database ``kassa_bench_invoices`` and
    empties the Redis database given by ``--redis`` (default 12) before and after.

How to read it
    p50 and p99 in milliseconds of each call as the client sees it (loopback
    HTTP included), and the ratio of the medians. Every invoice must end
    ``paid`` with a number one higher than the last; the run fails otherwise.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
import stripe

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from api_create import (  # bench/ is put on the path just above
    PYTHON,
    REPO,
    Server,
    admin_execute,
    kassa_env,
    migrate_kassa,
    run,
)

from kassa.localstripe_harness import LocalStripe

DB = "kassa_bench_invoices"

# Run by `manage.py shell` with the server's settings: a merchant with test Stripe credentials.
SETUP = """
import json
from merchants.services import merchant_create, processor_credential_set
made = merchant_create(name="Bench invoices", owner_email="invoices@bench.example")
processor_credential_set(merchant=made.merchant, livemode=False, secret_key="sk_test_bench_invoices",
                         webhook_secret="whsec_bench_invoices")
print(json.dumps({"secret_key": made.secret_key.secret}))
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=200, help="invoices finalized and paid (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured invoices first (default 10)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="a Redis database for this run alone")
    args = parser.parse_args()
    if args.invoices < 2 or args.warmup < 0:
        parser.error("--invoices must be at least 2")

    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        server = None
        with LocalStripe() as processor:  # no state file: nothing pickled after every write
            try:
                print(f"setting up database {DB}, localstripe on {processor.url} ...", flush=True)
                env = kassa_env(tmp, debug=False, db=DB)
                env["STRIPE_API_BASE"] = processor.url
                # Celery's broker, as in production: the events' dispatcher nudges and the emails are queued there
                # (no worker runs; the queue is emptied before and after).
                env["REDIS_URL"] = args.redis
                env["CELERY_QUEUE"] = "kassa-bench-invoices"
                redis.Redis.from_url(args.redis).flushdb()
                migrate_kassa(env, DB)
                out = run([PYTHON, "manage.py", "shell", "-c", SETUP], env=env, cwd=REPO)
                key = json.loads(next(line for line in reversed(out.splitlines()) if line.startswith("{")))
                server = Server("kassa", "kassa.wsgi:application", env=env, cwd=REPO, logdir=tmp)
                server.wait_ready("/healthz")
                return measure(args, key["secret_key"], server, processor)
            finally:
                if server is not None:
                    server.stop()
                    server.dump_log()
                admin_execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
                redis.Redis.from_url(args.redis).flushdb()


def measure(args, secret_key: str, server: Server, processor: LocalStripe) -> int:
    kassa = stripe.StripeClient(secret_key, base_addresses={"api": f"http://127.0.0.1:{server.port}"})
    direct = stripe.StripeClient("sk_test_bench_invoices", base_addresses={"api": processor.url})

    customer = kassa.v1.customers.create(params={"email": "payer@bench.example", "name": "Bench payer"})
    token = direct.v1.tokens.create(
        params={"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}}
    )
    card = kassa.v1.payment_methods.create(
        params={"type": "card", "card": {"token": token.id}, "customer": customer.id}
    )
    # The floor: the same kind of card saved on a customer at the processor, charged off-session there.
    processor_customer = direct.v1.customers.create(params={"email": "payer@bench.example"})
    floor_token = direct.v1.tokens.create(
        params={"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}}
    )
    floor_card = direct.v1.customers.payment_sources.create(processor_customer.id, params={"source": floor_token.id})

    finalize_ms, pay_ms, both_ms, floor_ms, numbers = [], [], [], [], []
    total = args.warmup + args.invoices
    print(f"{args.warmup} warm-up + {args.invoices} measured invoices, alternating with direct charges ...", flush=True)
    for n in range(total):
        kassa.v1.invoice_items.create(
            params={"customer": customer.id, "amount": 1000 + n, "currency": "eur", "description": f"Order {n}"}
        )
        draft = kassa.v1.invoices.create(
            params={"customer": customer.id, "pending_invoice_items_behavior": "include", "auto_advance": False}
        )
        t0 = time.perf_counter()
        finalized = kassa.v1.invoices.finalize_invoice(draft.id)
        t1 = time.perf_counter()
        paid = kassa.v1.invoices.pay(draft.id, params={"payment_method": card.id, "off_session": True})
        t2 = time.perf_counter()
        direct.v1.payment_intents.create(
            params={
                "amount": 1000 + n,
                "currency": "eur",
                "customer": processor_customer.id,
                "payment_method": floor_card.id,
                "confirm": True,
                "off_session": True,
            }
        )
        t3 = time.perf_counter()
        if paid.status != "paid" or paid.amount_paid != 1000 + n:
            print(f"FAILED: invoice {paid.id} is {paid.status}, paid {paid.amount_paid}", flush=True)
            return 1
        numbers.append(finalized.number)
        if n >= args.warmup:
            finalize_ms.append((t1 - t0) * 1000)
            pay_ms.append((t2 - t1) * 1000)
            both_ms.append((t2 - t0) * 1000)
            floor_ms.append((t3 - t2) * 1000)
    serials = [int(number.rsplit("-", 1)[1]) for number in numbers]
    if serials != list(range(1, total + 1)):
        print(f"FAILED: numbers are not consecutive from 1: {numbers[:5]} …", flush=True)
        return 1

    print()
    print(f"{'call':<44} {'p50 ms':>8} {'p99 ms':>8}")
    rows = [
        ("invoices.finalize_invoice", finalize_ms),
        ("invoices.pay (off-session, saved card)", pay_ms),
        ("finalize + pay", both_ms),
        ("floor: the charge alone at the processor", floor_ms),
    ]
    for label, values in rows:
        print(f"{label:<44} {statistics.median(values):8.1f} {percentile(values, 0.99):8.1f}")
    ratio = statistics.median(both_ms) / statistics.median(floor_ms)
    print(f"\nfinalize + pay / charge alone (medians): {ratio:.2f} times ({len(both_ms)} invoices)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
