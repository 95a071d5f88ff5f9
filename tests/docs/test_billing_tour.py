"""The README's billing tour (docs/billing_tour.py) works as written: run against a live Kassa, localstripe and a
real Celery worker (as under `make run`), it shows a year of renewals, a dunning run paid through the portal and an
invoice from draft to paid."""

import re

from docs.billing_tour import START, Tour, portal_card
from tests.conftest import processor_payment_intents
from tests.webhooks.conftest import worker_factory

__all__ = ["worker_factory"]


def test_the_billing_tour_runs_as_the_readme_says(
    live_server, kassa, paying_shop, card_token, stripe_backend, worker_factory, settings
):
    settings.KASSA_PUBLIC_URL = live_server.url  # the portal's address, as make run's is its own
    worker_factory()
    said = []
    result = Tour(
        kassa(paying_shop.secret_key.secret), token=card_token, give_card=portal_card(live_server.url), say=said.append
    ).run()

    # A year: the first invoice and twelve renewals, numbered one after the other, each paid, every 30 days.
    year = result["year"]
    assert len(year) == 13
    numbers = [int(re.search(r"(\d+)$", invoice.number).group(1)) for invoice in year]
    assert numbers == list(range(numbers[0], numbers[0] + 13))
    assert [(invoice.status, invoice.amount_paid) for invoice in year] == [("paid", 5000)] * 13
    starts = [invoice.lines.data[0].period.start for invoice in year]
    assert starts == [START + n * 30 * 86400 for n in range(13)]
    # Dunning: declined twice, then paid by the card given in the portal; the subscription active again.
    assert (result["dunning"].status, result["dunning"].attempt_count) == ("paid", 3)
    assert result["subscription"].status == "active"
    assert any("past_due" in line for line in said)
    # The invoice from draft to paid.
    assert (result["invoice"].status, result["invoice"].amount_paid) == ("paid", 2500)
    # Charges at the processor: 13 for the year, 2 declined tries, the portal's card, the invoice.
    assert len(processor_payment_intents(stripe_backend)) == 13 + 2 + 1 + 1
