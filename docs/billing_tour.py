"""The billing tour of the README: a year of renewals on a test clock, a dunning run settled through the customer
portal, and an invoice from draft to paid, through stripe-python (unmodified) in test mode.

Run it in a second terminal while ``make run`` runs (it reads the demo shop's test key from ``var/demo.json`` and
the addresses from ``var/make-run.env``)::

    .venv/bin/python docs/billing_tour.py

Everything it makes is the demo shop's and shows in the dashboard (Billing → Subscriptions and Invoices,
Customers, Developers → Test clocks, Events). The card numbers are turned into tokens at localstripe, as Stripe.js
does in a payer's browser; the portal step prints the portal's address, opens it as a payer would and gives it a new
card. ``tests/docs/test_billing_tour.py`` runs this very tour against a live Kassa, localstripe and a Celery worker.
"""

import json
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests
import stripe

ROOT = Path(__file__).resolve().parents[1]
DAY = 86400
#: 1 February 2027, 09:00 UTC: "every 30 days from 1 February, 50.00 EUR for John Doe".
START = int(datetime(2027, 2, 1, 9, tzinfo=UTC).timestamp())


def day(timestamp: int | None) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%d %b %Y") if timestamp else "—"


def money(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d} EUR"


class Tour:
    """The tour's steps on one Kassa (``client``); ``token(number)`` turns a test card number into a token at the
    processor; ``give_card(portal_url, token)`` gives the portal a new card as the payer would."""

    def __init__(self, client: stripe.StripeClient, *, token: Callable[[str], str], give_card, say=print):
        self.api = client.v1
        self.token = token
        self.give_card = give_card
        self.say = say

    def advance(self, clock, to: int):
        """Move the clock and wait until the worker has run everything due on the way (status ``ready``)."""
        self.api.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": to})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            clock = self.api.test_helpers.test_clocks.retrieve(clock.id)
            if clock.status == "ready":
                return clock
            time.sleep(0.2)
        raise RuntimeError(f"The test clock is still {clock.status} after 2 minutes: is the worker running?")

    def wait(self, read, *, until, seconds: float = 60):
        """Read again until the worker has done its part (a new card's retry runs as a task, after the commit)."""
        deadline = time.monotonic() + seconds
        found = read()
        while not until(found) and time.monotonic() < deadline:
            time.sleep(0.2)
            found = read()
        return found

    def card(self, customer, number: str):
        card = self.api.payment_methods.create(
            params={"type": "card", "card": {"token": self.token(number)}, "customer": customer.id}
        )
        self.api.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
        return card

    def invoices(self, customer) -> list:
        found = self.api.invoices.list(params={"customer": customer.id, "limit": 100}).data
        return sorted(found, key=lambda invoice: invoice.created)

    def run(self) -> dict:
        say = self.say
        # 1. A clock, a customer living on it, their card, and a plan: 50.00 EUR every 30 days.
        clock = self.api.test_helpers.test_clocks.create(params={"frozen_time": START, "name": "Billing tour"})
        john = self.api.customers.create(
            params={"email": "john@example.com", "name": "John Doe", "test_clock": clock.id}
        )
        self.card(john, "4242424242424242")
        plan = self.api.prices.create(
            params={
                "currency": "eur",
                "unit_amount": 5000,
                "recurring": {"interval": "day", "interval_count": 30},
                "product_data": {"name": "Every 30 days"},
            }
        )
        subscription = self.api.subscriptions.create(params={"customer": john.id, "items": [{"price": plan.id}]})
        say(f"{subscription.id} for {john.name}: {subscription.status}, from {day(subscription.start_date)}")

        # 2. A year of renewals: twelve periods of 30 days, the clock moved 30 days at a time.
        for period in range(1, 13):
            clock = self.advance(clock, START + period * 30 * DAY)
        year = self.invoices(john)
        for invoice in year:
            line = invoice.lines.data[0]
            say(
                f"  {invoice.number}  {day(line.period.start)} → {day(line.period.end)}  "
                f"{money(invoice.amount_paid)}  {invoice.status}"
            )

        # 3. Dunning: the card on file now declines. The next renewal fails, is retried a day later, and the
        #    payer, emailed a link each time, gives a new card in the portal: paid at once, active again.
        self.card(john, "4000000000000341")
        renewal_day = START + 13 * 30 * DAY
        clock = self.advance(clock, renewal_day)
        subscription = self.api.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
        failed = subscription.latest_invoice
        say(
            f"Renewal {failed.number}: declined, {subscription.id} is {subscription.status}; "
            f"next try {day(failed.next_payment_attempt)}"
        )
        clock = self.advance(clock, renewal_day + DAY)
        failed = self.api.invoices.retrieve(failed.id)
        say(f"  retried on {day(renewal_day + DAY)}: attempt {failed.attempt_count}, declined again")
        portal = self.api.billing_portal.sessions.create(
            params={"customer": john.id, "return_url": "https://shop.example/account"}
        )
        say(f"  the payer opens the portal, {portal.url}, and gives 4242 4242 4242 4242")
        self.give_card(portal.url, self.token("4242424242424242"))
        paid = self.wait(lambda: self.api.invoices.retrieve(failed.id), until=lambda invoice: invoice.status == "paid")
        subscription = self.api.subscriptions.retrieve(subscription.id)
        say(f"  {paid.number}: {paid.status}; {subscription.id} is {subscription.status} again")

        # 4. An invoice from draft to paid: an item, a draft that takes it, finalized (numbered) and charged.
        self.api.invoice_items.create(
            params={"customer": john.id, "amount": 2500, "currency": "eur", "description": "Installation"}
        )
        draft = self.api.invoices.create(params={"customer": john.id, "pending_invoice_items_behavior": "include"})
        say(f"Invoice {draft.id}: {draft.status}, {money(draft.total)}")
        final = self.api.invoices.finalize_invoice(draft.id)
        say(f"  finalized as {final.number}: {final.status}, page {final.hosted_invoice_url}")
        final = self.api.invoices.pay(draft.id)
        say(f"  {final.status}: {money(final.amount_paid)} charged; PDF {final.invoice_pdf}")
        return {
            "clock": clock,
            "customer": john,
            "subscription": subscription,
            "year": year,
            "dunning": paid,
            "invoice": final,
        }


def _make_run_settings() -> tuple[str, str, str]:
    env = dict(line.split("=", 1) for line in (ROOT / "var" / "make-run.env").read_text().splitlines() if "=" in line)
    demo = json.loads((ROOT / "var" / "demo.json").read_text())
    return env["KASSA_PUBLIC_URL"], env["STRIPE_API_BASE"], demo["secret_key"]


def portal_card(kassa_url: str) -> Callable[[str, str], None]:
    """What the payer's browser does on the portal page: open the address, then send the card's token."""

    def give(portal_url: str, token: str) -> None:
        browser = requests.Session()
        page = browser.get(portal_url, timeout=30)
        page.raise_for_status()
        path = re.search(r"/portal/[^/?\"]+", page.url).group(0)
        script = re.search(r'<script id="kassa-checkout"[^>]*>(.*?)</script>', page.text, re.S)
        config = json.loads(script.group(1))
        answer = browser.post(
            f"{kassa_url}{path}/card",
            json={"token": token},
            headers={"X-Kassa-Page-Token": config["pageToken"], "Origin": kassa_url},
            timeout=60,
        )
        answer.raise_for_status()

    return give


def main() -> int:
    kassa_url, localstripe_url, secret_key = _make_run_settings()
    browser_side = stripe.StripeClient("sk_test_browser", base_addresses={"api": localstripe_url})

    def token(number: str) -> str:
        card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        return browser_side.v1.tokens.create(params={"card": card}).id

    client = stripe.StripeClient(secret_key, base_addresses={"api": kassa_url})
    Tour(client, token=token, give_card=portal_card(kassa_url)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
