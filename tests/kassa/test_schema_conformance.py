"""The OpenAPI schema at /v1/schema/ describes what the API answers: schemathesis over every operation.

Kassa runs on pytest-django's live server with one merchant whose Stripe
credentials point at a real localstripe, so an operation that gets as far
as the processor talks to a real (fake) Stripe; no operation is excluded.
Generated requests for saving a card, confirming a PaymentIntent and
creating checkout sessions, payment links and webhook endpoints mostly stop
at Kassa's own validation so far (request examples in the schema would let
more through); their answers are checked all the same. The merchant has
data of every kind, made through the API: products, prices, customers, saved
cards, PaymentIntents in three states, a refund, payment links, checkout
sessions, a webhook endpoint and the events all that wrote. Schemathesis is
given those ids as dictionaries for path ids and for the parameters that name
other objects (``customer``, ``payment_method``, ``line_items[].price``, a
card ``token`` …), so retrieves, updates, deletes and creates reach the
code behind the 404s and 400s; it also feeds back ids it sees in responses and
follows the links it infers between operations (stateful phase).

The run is schemathesis' CLI in a subprocess with a fixed seed, over every
operation, in its four phases: the schema's own examples; the coverage phase
(every boundary and every kind of invalid value of every parameter, and the
methods a path does not serve: as many cases as the schema defines, about
two thirds of the run); fuzzing, ``MAX_EXAMPLES`` generated requests an
operation; and stateful sequences along the links between operations. It fails
on any 5xx and on any response whose status code, content type, headers or
body the schema does not describe. On failure the message is schemathesis' own
report, with a curl command per failure.

Checks not run, on purpose:

- ``unsupported_method`` and ``allow_header_conformance``: an unknown method
  on a known path answers 404 ``Unrecognized request URL`` without an
  ``Allow`` header, as Stripe does (and its SDKs expect), not 405.
- ``negative_data_rejection`` and ``positive_data_acceptance``: the schema
  cannot spell every rule the API enforces (one of ``product`` and
  ``product_data``; ``expires_at`` 30 min to 24 h from now; a refund no larger
  than what remains), so "the schema allows it" and "the API accepts it"
  differ by design; the API's answers to both are still checked against the
  schema.
- ``missing_required_header``, ``ignored_auth``, ``use_after_free``,
  ``ensure_resource_availability``, ``object_level_authorization``: outside
  this guard's scope; authentication and merchant isolation have their own
  tests (tests/merchants/api/).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = 20240917
# Sized to the CI budget: the coverage and stateful phases grow with every operation and parameter. At 25
# examples an operation (87 operations, ~12,000 requests) the run took 364 s on PostgreSQL on 2 loaded cores,
# 218 s once the live server kept its database connections (tests/conftest.py); at 50 it had outgrown 420 s.
# CI prints the slowest tests (--durations), so watch this one as the API grows.
MAX_EXAMPLES = 25
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
# How often a generated value is replaced by a real id; the rest stay random (and meet 404s and 400s).
REAL = 0.6


def _seed_data(api, card_token) -> dict[str, list[str]]:
    """Something of every kind, made through the API as a client app would; the ids by kind."""
    product = api.v1.products.create(params={"name": "Green tea", "metadata": {"sku": "T-1"}})
    spare = api.v1.products.create(params={"name": "Spare"})
    tea = api.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 1250})
    club = api.v1.prices.create(
        params={
            "product_data": {"name": "Tea club"},
            "currency": "eur",
            "unit_amount": 900,
            "recurring": {"interval": "month"},
        }
    )
    ada = api.v1.customers.create(params={"email": "payer@example.com", "name": "Ada"})
    bob = api.v1.customers.create(params={"email": "bob@example.com"})
    cards = [
        api.v1.payment_methods.create(params={"type": "card", "card": {"token": card_token()}, "customer": c.id})
        for c in (ada, bob)
    ]
    paid = api.v1.payment_intents.create(
        params={"amount": 20000, "currency": "eur", "customer": ada.id, "payment_method": cards[0].id, "confirm": True}
    )
    waiting = api.v1.payment_intents.create(params={"amount": 500, "currency": "eur", "customer": ada.id})
    unconfirmed = api.v1.payment_intents.create(
        params={"amount": 700, "currency": "eur", "customer": bob.id, "payment_method": cards[1].id}
    )
    refund = api.v1.refunds.create(params={"payment_intent": paid.id, "amount": 300})
    link = api.v1.payment_links.create(params={"line_items": [{"price": tea.id, "quantity": 2}]})
    redirecting = api.v1.payment_links.create(
        params={
            "line_items": [{"price": tea.id}],
            "after_completion": {"type": "redirect", "redirect": {"url": "https://shop.example/thanks"}},
        }
    )
    sessions = [
        api.v1.checkout.sessions.create(
            params={"mode": "payment", "line_items": [{"price": tea.id}], "success_url": "https://shop.example/ok"}
        ),
        api.v1.checkout.sessions.create(params={"payment_link": link.id}),
    ]
    endpoint = api.v1.webhook_endpoints.create(params={"url": "https://93.184.215.14/hooks", "enabled_events": ["*"]})
    events = api.v1.events.list(params={"limit": 20}).data
    assert events, "the writes above emit events"
    return {
        "products": [product.id, spare.id],
        "prices": [tea.id, club.id],
        "customers": [ada.id, bob.id],
        "payment_methods": [c.id for c in cards],
        "payment_intents": [paid.id, waiting.id, unconfirmed.id],
        "refunds": [refund.id],
        "payment_links": [link.id, redirecting.id],
        "checkout_sessions": [s.id for s in sessions],
        "webhook_endpoints": [endpoint.id],
        "events": [e.id for e in events],
        # Fresh card tokens from the processor, what Stripe.js hands a client app.
        "card_tokens": [card_token() for _ in range(5)],
        # Public addresses as IP literals: a webhook endpoint's URL is vetted without a DNS lookup.
        "urls": ["https://93.184.215.14/hooks", "https://93.184.215.14/other"],
    }


# Which dictionary of real ids feeds which parameter.
PARAMETERS = {
    "body.customer": "customers",
    "query.customer": "customers",
    "body.payment_method": "payment_methods",
    "body.payment_intent": "payment_intents",
    "query.payment_intent": "payment_intents",
    "body.product": "products",
    "query.product": "products",
    "body.line_items[*].price": "prices",
    "body.payment_link": "payment_links",
    "query.payment_link": "payment_links",
    "body.card.token": "card_tokens",
    "body.webhook_endpoint": "webhook_endpoints",
    "body.url": "urls",
}
PATH_IDS = {
    "/v1/products/": "products",
    "/v1/prices/": "prices",
    "/v1/customers/": "customers",
    "/v1/payment_methods/": "payment_methods",
    "/v1/payment_intents/": "payment_intents",
    "/v1/refunds/": "refunds",
    "/v1/payment_links/": "payment_links",
    "/v1/checkout/sessions/": "checkout_sessions",
    "/v1/webhook_endpoints/": "webhook_endpoints",
    "/v1/events/": "events",
}


def _config(ids: dict[str, list[str]]) -> str:
    """schemathesis.toml for this run (TOML's basic strings are JSON strings)."""
    lines = [f"seed = {SEED}", "", "[generation]", f"max-examples = {MAX_EXAMPLES}", ""]
    # No cache of earlier runs (.schemathesis/ in the work tree): the seed alone decides the run.
    lines += ["[cache]", "enabled = false", ""]
    lines += ["[checks]", *(f"{check}.enabled = true" for check in CHECKS), ""]
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines += ["[parameters]"]
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = {REAL} }}' for key, name in PARAMETERS.items()]
    lines += [""]
    for prefix, name in PATH_IDS.items():
        lines += [
            "[[operations]]",
            f'include-path-regex = "^{prefix}"',
            f'parameters = {{ "path.id" = {{ dictionary = "{name}", probability = {REAL} }} }}',
            "",
        ]
    return "\n".join(lines)


@pytest.mark.timeout(620)
def test_the_api_answers_as_its_schema_says(live_server, kassa, paying_shop, card_token, tmp_path):
    # The live server answers without Nagle's algorithm (tests/conftest.py): with it, the same run takes six times
    # as long.
    key = paying_shop.secret_key.secret
    ids = _seed_data(kassa(key), card_token)
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(ids))

    args = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run"]
    args += [f"{kassa.url}/v1/schema/", "--url", kassa.url, "--header", f"Authorization: Bearer {key}"]
    args += ["--checks", ",".join(CHECKS), "--workers", "1", "--report", "junit", "--report-dir", str(tmp_path)]
    started = time.monotonic()
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    print(f"schemathesis: {time.monotonic() - started:.0f} s", file=sys.stderr)
    assert result.returncode == 0, result.stdout[-30000:] + result.stderr[-5000:]
