"""Cross-merchant sweep over every /v1/ operation in Kassa's own OpenAPI schema.

Merchant A makes one object of every kind (through the API, in test mode);
then every operation is tried against A's objects with keys that must not
reach them:

- merchant B's secret key: 404 ``resource_missing``, the same answer as for
  an id that does not exist; B's lists never contain A's objects;
- A's publishable key: 403;
- A's restricted key without the operation's permission (or with read only,
  for writes): 403 ``permission_error`` naming the permission;
- A's restricted key with read access to the operation's resource but not to
  an expandable reference, asking ``expand[]`` for it: 403 naming the
  reference's permission;
- A's live key on A's test objects: 404 (test helpers, test clocks: 400 ``livemode_mismatch``, every call,
  as they exist in test mode only).

No answer may carry an id of A's (other than the ids the request itself
sent, which error messages echo as Stripe's do) or the email of A's
customer, and no write may change A's object. The operations come from the
schema, so a new route is swept without anyone writing a test for it; a new
kind of object needs an entry in ``KINDS`` and the sweep says so.

Each key kind is one test that walks every operation and lists every failing
(operation, key, status, body) in one assertion message.
"""

import json
import secrets
import string
from dataclasses import dataclass, field

import pytest
import requests
from django.urls import resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from billing.checkout import services as checkout
from billing.models import CheckoutSession
from merchants.services import RESOURCES
from tests import factories
from webhooks.models import Event

PUBLIC_HOOK = "https://93.184.215.14/hooks"
A_EMAIL = "ada.sweep@merchant-a.example"
A_OTHER_EMAIL = "grace.sweep@merchant-a.example"
CLOCK_TIME = 1767225600  # 2026-01-01 00:00 UTC
RETURN_URL = "https://shop.example/account"

# The kind of object a path's ``{id}`` names, by the path up to ``/{id}``, and
# the path that retrieves one (with a secret key) to see whether it changed.
KINDS = {
    "/v1/products": "product",
    "/v1/prices": "price",
    "/v1/customers": "customer",
    "/v1/payment_methods": "payment_method",
    "/v1/payment_links": "payment_link",
    "/v1/checkout/sessions": "checkout_session",
    "/v1/payment_intents": "payment_intent",
    "/v1/refunds": "refund",
    "/v1/webhook_endpoints": "webhook_endpoint",
    "/v1/events": "event",
    "/v1/tax_rates": "tax_rate",
    "/v1/invoiceitems": "invoice_item",
    # No object of its own (nothing is written): swept as a create naming A's subscription. Before
    # /v1/invoices, which RETRIEVE must keep for invoices.
    "/v1/invoices/create_preview": "invoice",
    "/v1/invoices": "invoice",
    "/v1/invoice_payments": "invoice_payment",
    "/v1/test_helpers/test_clocks": "test_clock",
    "/v1/billing_portal/sessions": "billing_portal_session",
    "/v1/subscriptions": "subscription",
    "/v1/subscription_items": "subscription_item",
}
RETRIEVE = {kind: collection for collection, kind in KINDS.items()}

# Query or body parameters that name another object: filled with A's object of that kind.
REFERENCE_PARAMS = {
    "product": "product",
    "price": "price",
    "customer": "customer",
    "payment_method": "payment_method",
    "payment_link": "payment_link",
    "payment_intent": "payment_intent",
    "webhook_endpoint": "webhook_endpoint",
    "invoice": "invoice",
    "subscription": "subscription",
}

# The permission an expandable reference needs (``price.product``: the product's).
EXPAND_RESOURCES = {
    "customer": ("customers",),
    "payment_method": ("payment_methods",),
    "payment_intent": ("payment_intents",),
    "payment_link": ("payment_links",),
    "product": ("products",),
    "price.product": ("prices", "products"),
    "default_price": ("prices",),
    "invoice_settings.default_payment_method": ("payment_methods",),
    "default_payment_method": ("payment_methods",),
    "payments": ("invoices",),
    "payments.data.payment.payment_intent": ("payment_intents",),
    "payment.payment_intent": ("payment_intents",),
    "test_clock": ("test_clocks",),
    "latest_invoice": ("invoices",),
    # A subscription-mode checkout session's subscription and first invoice.
    "subscription": ("subscriptions",),
    "invoice": ("invoices",),
}


def _bodies(a: "World") -> dict[str, dict]:
    """A plausible body per write operation, referring to A's objects where the operation takes a reference."""
    line = {"price": a.ids["price"], "quantity": 1}
    return {
        "products_create": {"name": "Sweep"},
        "products_update": {"metadata": {"sweep": "changed"}},
        "prices_create": {"product": a.ids["product"], "currency": "eur", "unit_amount": 100},
        "prices_update": {"metadata": {"sweep": "changed"}},
        "customers_create": {"email": "sweep@example.com", "test_clock": a.ids["test_clock"]},
        "customers_update": {
            "metadata": {"sweep": "changed"},
            "email": "changed@example.com",
            "invoice_settings": {"default_payment_method": ""},
        },
        "payment_methods_create": {"type": "card", "customer": a.ids["customer"], "card": {"token": "tok_visa"}},
        "payment_methods_attach": {"customer": a.ids["customer"]},
        "payment_methods_detach": {},
        "payment_links_create": {"line_items": [line]},
        "payment_links_update": {"active": False},
        "checkout_sessions_create": {"mode": "payment", "line_items": [line], "customer": a.ids["customer"]},
        "checkout_sessions_expire": {},
        "payment_intents_create": {
            "amount": 500,
            "currency": "eur",
            "customer": a.ids["customer"],
            "payment_method": a.ids["payment_method"],
        },
        "payment_intents_update": {"metadata": {"sweep": "changed"}, "amount": 999},
        "payment_intents_confirm": {"payment_method": a.ids["payment_method"]},
        "payment_intents_cancel": {},
        "refunds_create": {"payment_intent": a.ids["paid_payment_intent"], "amount": 100},
        "refunds_update": {"metadata": {"sweep": "changed"}},
        "webhook_endpoints_create": {"url": PUBLIC_HOOK, "enabled_events": ["*"]},
        "webhook_endpoints_update": {"disabled": True, "url": PUBLIC_HOOK + "/changed"},
        "events_retry": {"webhook_endpoint": a.ids["webhook_endpoint"]},
        "tax_rates_create": {"display_name": "Sweep VAT", "percentage": "20", "inclusive": False},
        "tax_rates_update": {"active": False, "display_name": "Changed", "metadata": {"sweep": "changed"}},
        "invoiceitems_create": {
            "customer": a.ids["customer"],
            "pricing": {"price": a.ids["price"]},
            "tax_rates": [a.ids["tax_rate"]],
        },
        "invoiceitems_update": {"quantity": 5, "metadata": {"sweep": "changed"}},
        "invoices_create": {
            "customer": a.ids["customer"],
            "default_tax_rates": [a.ids["tax_rate"]],
            "default_payment_method": a.ids["payment_method"],
            "pending_invoice_items_behavior": "include",
        },
        "invoices_update": {"metadata": {"sweep": "changed"}, "description": "Changed"},
        "invoices_finalize": {},
        "invoices_send": {},
        "invoices_pay": {"payment_method": a.ids["payment_method"]},
        "invoices_void": {},
        "invoices_mark_uncollectible": {},
        # A's subscription, a change of its item, always_invoice: B finds nothing, and nothing of A's changes.
        "invoices_create_preview": {
            "subscription": a.ids["subscription"],
            "subscription_details": {
                "items": [{"id": a.ids["subscription_item"], "quantity": 2}],
                "proration_behavior": "always_invoice",
            },
        },
        "test_helpers_test_clocks_create": {"frozen_time": CLOCK_TIME, "name": "Sweep"},
        "test_helpers_test_clocks_advance": {"frozen_time": CLOCK_TIME + 86400},
        "billing_portal_sessions_create": {"customer": a.ids["customer"], "return_url": RETURN_URL},
        "subscriptions_create": {"customer": a.ids["customer"], "items": [{"price": a.ids["recurring_price"]}]},
        "subscriptions_update": {"metadata": {"sweep": "changed"}, "cancel_at_period_end": True},
        "subscriptions_cancel": {"cancellation_details": {"comment": "sweep"}},
        "subscription_items_create": {
            "subscription": a.ids["subscription"],
            "price_data": {
                "currency": "eur",
                "product": a.ids["product"],
                "recurring": {"interval": "month"},
                "unit_amount": 100,
            },
            "proration_behavior": "none",
        },
        "subscription_items_update": {"quantity": 5, "proration_behavior": "none"},
    }


# --- the schema ---------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    query: tuple[str, ...]

    @property
    def collection(self) -> str:
        return self.path.split("/{id}")[0]

    @property
    def has_id(self) -> bool:
        return "{id}" in self.path

    @property
    def is_list(self) -> bool:
        return self.operation_id.endswith(("_list", "_line_items"))

    @property
    def is_write(self) -> bool:
        return self.method != "GET"

    def __str__(self):
        return f"{self.method} {self.path} ({self.operation_id})"


def schema_operations() -> list[Operation]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if not path.startswith("/v1/"):
                continue
            query = tuple(p["name"] for p in operation.get("parameters", ()) if p["in"] == "query")
            operations.append(Operation(method.upper(), path, operation["operationId"], query))
    return operations


OPERATIONS = schema_operations()


def kind_of(operation: Operation) -> str:
    try:
        return KINDS[operation.collection]
    except KeyError:
        raise AssertionError(
            f"add a factory for {operation.path}: map {operation.collection!r} to a kind in KINDS "
            "and make merchant A's object of that kind in World"
        ) from None


def view_of(path: str):
    return resolve(path).func.view_class


# --- HTTP ---------------------------------------------------------------------------


def form(params: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's bracket notation: ``metadata[k]=v``, ``line_items[0][price]=…``, ``expand[]=…``."""
    pairs = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs += form(value, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    pairs += form(item, f"{name}[{index}]")
                else:
                    pairs.append((f"{name}[]", str(item)))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


@dataclass
class Answer:
    status: int
    body: str

    @property
    def json(self) -> dict:
        try:
            return json.loads(self.body)
        except ValueError:
            return {}

    @property
    def error(self) -> dict:
        return self.json.get("error") or {}


class Api:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def call(self, key: str, method: str, path: str, params: dict | None = None) -> Answer:
        pairs = form(params or {})
        headers = {"Authorization": f"Bearer {key}"}
        if method == "POST":
            response = self.session.post(self.base_url + path, data=pairs, headers=headers, timeout=30)
        else:
            response = self.session.request(method, self.base_url + path, params=pairs, headers=headers, timeout=30)
        return Answer(response.status_code, response.text)

    def ok(self, key: str, method: str, path: str, params: dict | None = None) -> dict:
        answer = self.call(key, method, path, params)
        assert answer.status == 200, f"{method} {path}: {answer.status} {answer.body[:500]}"
        return answer.json


# --- merchant A's world -------------------------------------------------------------


@dataclass
class World:
    api: Api
    a: object  # MerchantCreated
    b: object
    ids: dict[str, str] = field(default_factory=dict)  # kind -> A's object swept as that kind
    extra_ids: list[str] = field(default_factory=list)  # A's other objects, scanned for too
    _keys: dict = field(default_factory=dict)

    @property
    def a_key(self) -> str:
        return self.a.secret_key.secret

    @property
    def all_ids(self) -> set[str]:
        return {*self.ids.values(), *self.extra_ids}

    @property
    def secrets(self) -> set[str]:
        """What must never appear in an answer to a key that is not allowed to see A's object."""
        return self.all_ids | {A_EMAIL, A_OTHER_EMAIL}

    def restricted(self, permissions: dict) -> str:
        frozen = tuple(sorted(permissions.items()))
        if frozen not in self._keys:
            self._keys[frozen] = factories.restricted_key(self.a.merchant, dict(permissions))
        return self._keys[frozen]

    def snapshot(self, kind: str, public_id: str) -> dict:
        """A's object as A's secret key sees it (a deleted one shows as its 404)."""
        answer = self.api.call(self.a_key, "GET", f"{RETRIEVE[kind]}/{public_id}")
        return {"status": answer.status, **answer.json}

    @property
    def kinds(self) -> dict[str, str]:
        """A's objects that a write could change, by id: their kind, to retrieve them."""
        found = {public_id: kind for kind, public_id in self.ids.items() if kind in RETRIEVE and kind != "event"}
        found[self.ids["paid_payment_intent"]] = "payment_intent"
        return found


@pytest.fixture
def world(live_server, paying_shop, other_shop, card_token) -> World:
    api = Api(live_server.url)
    w = World(api=api, a=paying_shop, b=other_shop)
    key = w.a_key
    call = api.ok
    w.ids["product"] = call(key, "POST", "/v1/products", {"name": "A's secret tea"})["id"]
    w.ids["price"] = call(
        key, "POST", "/v1/prices", {"product": w.ids["product"], "currency": "eur", "unit_amount": 1250}
    )["id"]
    w.ids["customer"] = call(key, "POST", "/v1/customers", {"email": A_EMAIL, "name": "Ada A"})["id"]
    card = {"type": "card", "customer": w.ids["customer"], "card": {"token": card_token()}}
    w.ids["payment_method"] = call(key, "POST", "/v1/payment_methods", card)["id"]
    # The customer's default card: expanding it needs its own permission, clearing it would show.
    default = {"invoice_settings": {"default_payment_method": w.ids["payment_method"]}}
    call(key, "POST", f"/v1/customers/{w.ids['customer']}", default)
    # Waiting for confirmation: a confirm, cancel or update that got through would show.
    w.ids["payment_intent"] = call(
        key,
        "POST",
        "/v1/payment_intents",
        {
            "amount": 2000,
            "currency": "eur",
            "customer": w.ids["customer"],
            "payment_method": w.ids["payment_method"],
        },
    )["id"]
    w.ids["payment_link"] = call(
        key, "POST", "/v1/payment_links", {"line_items": [{"price": w.ids["price"], "quantity": 2}]}
    )["id"]
    # A paid session: every expandable reference (customer, payment_intent) is set.
    session = call(
        key,
        "POST",
        "/v1/checkout/sessions",
        {"mode": "payment", "line_items": [{"price": w.ids["price"], "quantity": 1}], "customer": w.ids["customer"]},
    )
    checkout.checkout_session_pay(
        now=timezone.now(), session=CheckoutSession.objects.get(public_id=session["id"]), token=card_token()
    )
    w.ids["checkout_session"] = session["id"]
    paid = call(key, "GET", f"/v1/checkout/sessions/{session['id']}")
    w.ids["paid_payment_intent"] = paid["payment_intent"]
    w.ids["refund"] = call(key, "POST", "/v1/refunds", {"payment_intent": paid["payment_intent"], "amount": 100})["id"]
    # An open session from the link: its payment_link reference is set.
    from_link = call(key, "POST", "/v1/checkout/sessions", {"payment_link": w.ids["payment_link"]})
    w.extra_ids.append(from_link["id"])
    other = call(key, "POST", "/v1/customers", {"email": A_OTHER_EMAIL})
    w.extra_ids.append(other["id"])
    tax_rate = {"display_name": "A's secret VAT", "percentage": "20", "inclusive": False, "country": "FR"}
    w.ids["tax_rate"] = call(key, "POST", "/v1/tax_rates", tax_rate)["id"]
    # A pending invoice item (an update or delete that got through would show) and an open invoice that
    # could be paid, voided or sent.
    item = {"customer": w.ids["customer"], "amount": 700, "currency": "eur", "tax_rates": [w.ids["tax_rate"]]}
    w.ids["invoice_item"] = call(key, "POST", "/v1/invoiceitems", item)["id"]
    invoice = call(
        key,
        "POST",
        "/v1/invoices",
        {"customer": w.ids["customer"], "currency": "eur", "collection_method": "send_invoice"},
    )
    line = {"customer": w.ids["customer"], "amount": 900, "currency": "eur", "invoice": invoice["id"]}
    w.extra_ids.append(call(key, "POST", "/v1/invoiceitems", line)["id"])
    w.ids["invoice"] = call(key, "POST", f"/v1/invoices/{invoice['id']}/finalize")["id"]
    # A test clock with a customer on it (the customer's test_clock is expandable).
    w.ids["test_clock"] = call(key, "POST", "/v1/test_helpers/test_clocks", {"frozen_time": CLOCK_TIME})["id"]
    on_clock = call(key, "POST", "/v1/customers", {"email": A_OTHER_EMAIL, "test_clock": w.ids["test_clock"]})
    w.extra_ids.append(on_clock["id"])
    # A customer portal session for A's customer (create only: it is never retrieved).
    portal = {"customer": w.ids["customer"], "return_url": RETURN_URL}
    w.ids["billing_portal_session"] = call(key, "POST", "/v1/billing_portal/sessions", portal)["id"]
    # An active subscription of A's customer (paid by the default card), and its item.
    recurring = {"product": w.ids["product"], "currency": "eur", "unit_amount": 900, "recurring": {"interval": "month"}}
    w.ids["recurring_price"] = call(key, "POST", "/v1/prices", recurring)["id"]
    subscription = call(
        key,
        "POST",
        "/v1/subscriptions",
        {"customer": w.ids["customer"], "items": [{"price": w.ids["recurring_price"]}]},
    )
    w.ids["subscription"] = subscription["id"]
    w.ids["subscription_item"] = subscription["items"]["data"][0]["id"]
    w.extra_ids.append(subscription["latest_invoice"])
    # The first invoice's payment (paid by the default card): its PaymentIntent is expandable.
    first_invoice = call(key, "GET", f"/v1/invoices/{subscription['latest_invoice']}")
    w.ids["invoice_payment"] = first_invoice["payments"]["data"][0]["id"]
    w.extra_ids.append(first_invoice["payments"]["data"][0]["payment"]["payment_intent"])
    endpoint = {"url": PUBLIC_HOOK, "enabled_events": ["*"]}
    w.ids["webhook_endpoint"] = call(key, "POST", "/v1/webhook_endpoints", endpoint)["id"]
    events = Event.objects.filter(merchant=w.a.merchant, livemode=False).values_list("public_id", flat=True)
    w.extra_ids += list(events)
    w.ids["event"] = w.extra_ids[-1]
    assert set(KINDS.values()) <= set(w.ids), "every kind in KINDS needs an object of A's in World"
    # B has objects of its own, so its lists are not trivially empty.
    b_key = other_shop.secret_key.secret
    call(b_key, "POST", "/v1/customers", {"email": "b@merchant-b.example"})
    call(b_key, "POST", "/v1/prices", {"product_data": {"name": "B tea"}, "currency": "eur", "unit_amount": 1})
    call(b_key, "POST", "/v1/tax_rates", {"display_name": "B VAT", "percentage": "5.5", "inclusive": True})
    return w


# --- the requests each operation gets -----------------------------------------------


@dataclass
class Attempt:
    operation: Operation
    path: str
    params: dict
    label: str

    @property
    def sent(self) -> str:
        return self.path + json.dumps(self.params)


def attempts(operation: Operation, w: World, *, with_references: bool = True) -> list[Attempt]:
    """What is tried for one operation: A's object in the path, A's objects in filters and bodies."""
    kind = kind_of(operation)
    path = operation.path.replace("{id}", w.ids[kind])
    bodies = _bodies(w)
    if operation.has_id:
        found = [Attempt(operation, path, bodies.get(operation.operation_id, {}), "A's id")]
        if operation.method == "POST" and bodies.get(operation.operation_id):
            # Authorization and lookup come before validation: an empty body must not get a 400 first.
            found.append(Attempt(operation, path, {}, "A's id, empty body"))
        return found
    if operation.method == "GET":
        found = [Attempt(operation, path, {}, "list")]
        if not with_references:
            return found
        filters = {p: w.ids[REFERENCE_PARAMS[p]] for p in operation.query if p in REFERENCE_PARAMS}
        if filters:
            found.append(Attempt(operation, path, filters, "list filtered by A's ids"))
        required = {"customer": w.ids["customer"]} if "customer" in operation.query else {}
        found.append(Attempt(operation, path, {**required, "starting_after": w.ids[kind]}, "list after A's id"))
        return found
    # A create: with a body that refers to A's objects, and with none.
    found = []
    body = bodies.get(operation.operation_id, {})
    if with_references and any(v in w.all_ids for _, v in form(body)):
        found.append(Attempt(operation, path, body, "create referring to A's ids"))
    found.append(Attempt(operation, path, {}, "create, empty body"))
    return found


# --- checks -------------------------------------------------------------------------


@dataclass
class Findings:
    items: dict[tuple, list[str]] = field(default_factory=dict)
    requests: int = 0

    def add(self, attempt: Attempt, who: str, answer: Answer, problem: str):
        excerpt = answer.body[:300].replace("\n", " ")
        head = (
            f"{attempt.operation} [{attempt.label}] as {who}:\n"
            f"    request: {attempt.operation.method} {attempt.path} {json.dumps(attempt.params)}\n"
            f"    answer: {answer.status} {excerpt}"
        )
        self.items.setdefault((id(attempt), head), []).append(problem)

    def check(self):
        report = [head + "".join(f"\n    - {p}" for p in problems) for (_, head), problems in self.items.items()]
        assert not report, f"{len(report)} failing of {self.requests} requests:\n" + "\n".join(report)


def leaked(answer: Answer, attempt: Attempt, secret_values: set[str]) -> list[str]:
    """A's ids and emails in the answer, except ids the request itself sent (error messages echo them)."""
    return sorted(v for v in secret_values if v in answer.body and v not in attempt.sent)


def send(w: World, findings: Findings, attempt: Attempt, key: str, who: str, *, secret_values=None) -> Answer:
    """Send, scan the answer for A's data, and check no A object named in the request changed."""
    named = [*attempt.path.split("/"), *(v for _, v in form(attempt.params))]
    watched = {v: w.kinds[v] for v in named if v in w.kinds}
    before = {v: w.snapshot(kind, v) for v, kind in watched.items()} if attempt.operation.is_write else {}
    answer = w.api.call(key, attempt.operation.method, attempt.path, attempt.params)
    findings.requests += 1
    found = leaked(answer, attempt, w.secrets if secret_values is None else secret_values)
    if found:
        findings.add(attempt, who, answer, f"the answer carries A's {', '.join(found)}")
    for public_id, snapshot in before.items():
        after = w.snapshot(watched[public_id], public_id)
        if after != snapshot:
            changed = sorted(k for k in after if after.get(k) != snapshot.get(k))
            findings.add(attempt, who, answer, f"A's {public_id} changed: {changed}")
    return answer


def expect_error(findings, attempt, who, answer, status: int, type_: str, code: str | None = None, names=None):
    error = answer.error
    if answer.status != status or error.get("type") != type_ or (code and error.get("code") != code):
        findings.add(attempt, who, answer, f"expected {status} {type_} {code or ''}".rstrip())
    elif names and not any(n in error.get("message", "") for n in names):
        findings.add(attempt, who, answer, f"expected the message to name {' or '.join(names)}")


def expect_missing(findings, attempt, who, answer):
    """A's object in the path is a 404; A's object referred to in a create's body is a 400 naming it."""
    if attempt.operation.has_id:
        expect_error(findings, attempt, who, answer, 404, "invalid_request_error", "resource_missing")
    elif attempt.label.startswith("create referring") and (
        answer.status < 400 or answer.error.get("code") != "resource_missing"
    ):
        findings.add(attempt, who, answer, "expected resource_missing for A's object referred to in the body")


def missing_twin(attempt: Attempt, w: World) -> Attempt:
    """The same request with every id of A's replaced by an id that does not exist."""
    fakes = {}
    for public_id in sorted(w.all_ids, key=len, reverse=True):
        prefix = public_id[: public_id.rindex("_") + 1]
        alphabet = string.ascii_letters + string.digits
        fakes[public_id] = prefix + "".join(secrets.choice(alphabet) for _ in public_id[len(prefix) :])

    def swap(text: str) -> str:
        for real, fake in fakes.items():
            text = text.replace(real, fake)
        return text

    params = json.loads(swap(json.dumps(attempt.params)))
    twin = Attempt(attempt.operation, swap(attempt.path), params, attempt.label + ", missing ids")
    twin.fakes = fakes
    return twin


def same_as_missing(findings, attempt, who, answer: Answer, twin: Attempt, twin_answer: Answer):
    """Another merchant's id gets exactly the answer a made-up id gets."""
    mine = answer.error
    theirs = twin_answer.error
    message = mine.get("message", "")
    for real, fake in twin.fakes.items():
        message = message.replace(real, fake)
    if (answer.status, mine.get("type"), mine.get("code"), mine.get("param"), message) != (
        twin_answer.status,
        theirs.get("type"),
        theirs.get("code"),
        theirs.get("param"),
        theirs.get("message", ""),
    ):
        twin_excerpt = f"{twin_answer.status} {twin_answer.body[:200]}"
        findings.add(attempt, who, answer, f"differs from the answer for a missing id: {twin_excerpt}")


# --- the sweep ----------------------------------------------------------------------


def test_the_sweep_covers_every_operation_in_the_schema():
    """The sweep really iterates the schema, and every kind of path has a factory."""
    paths = {op.path for op in OPERATIONS}
    assert len(OPERATIONS) >= 40, [str(op) for op in OPERATIONS]
    assert {"/v1/customers/{id}", "/v1/payment_intents/{id}/confirm", "/v1/events/{id}/retry"} <= paths
    assert sum(op.has_id for op in OPERATIONS) >= 25
    for operation in OPERATIONS:
        kind_of(operation)  # "add a factory for <path>" when a new kind of path appears
        view = view_of(operation.path.replace("{id}", "x_1"))
        assert view.resource in RESOURCES, f"{operation}: {view.__name__}.resource is not a key permission"
        for ref in view.expandable:
            assert ref in EXPAND_RESOURCES, f"{operation}: add the permission of expandable {ref!r} to EXPAND_RESOURCES"


def test_another_merchants_secret_key_finds_nothing_of_a(world):
    """B's secret key: A's ids are missing (exactly as made-up ids are), B's lists hold nothing of A's."""
    w, findings = world, Findings()
    key, who = w.b.secret_key.secret, "B's secret key"
    secret_values = w.secrets | {w.a.merchant.public_id}
    for operation in OPERATIONS:
        for attempt in attempts(operation, w):
            answer = send(w, findings, attempt, key, who, secret_values=secret_values)
            expect_missing(findings, attempt, who, answer)
            if attempt.label != "list" and any(i in attempt.sent for i in w.all_ids):
                twin = missing_twin(attempt, w)
                twin_answer = w.api.call(key, operation.method, twin.path, twin.params)
                same_as_missing(findings, attempt, who, answer, twin, twin_answer)
    findings.check()


def test_a_publishable_key_is_refused_everything_but_starting_a_checkout(world):
    """A's publishable key: 403 everywhere (the one call it may make, a session from a link alone, is not sent)."""
    w, findings = world, Findings()
    key, who = w.a.publishable_key.secret, "A's publishable key"
    for operation in OPERATIONS:
        for attempt in attempts(operation, w):
            assert set(attempt.params) != {"payment_link"}
            answer = send(w, findings, attempt, key, who)
            expect_error(findings, attempt, who, answer, 403, "permission_error")
    findings.check()


def test_a_restricted_key_without_the_permission_is_refused(world):
    """A's restricted key with every permission but the operation's: 403 naming it; read-only keys cannot write."""
    w, findings = world, Findings()
    for operation in OPERATIONS:
        view = view_of(operation.path.replace("{id}", w.ids[kind_of(operation)]))
        level = "write" if operation.is_write else "read"
        needed = [(view.resource, level), *((other, "read") for other in getattr(view, "also_reads", ()))]
        for resource, needed_level in needed:
            lacking = ["none", "read"] if needed_level == "write" else ["none"]
            for granted in lacking:
                permissions = dict.fromkeys(RESOURCES, "write") | {resource: granted}
                key = w.restricted(permissions)
                who = f"A's restricted key with {resource}:{granted}, everything else write"
                for attempt in attempts(operation, w, with_references=False):
                    answer = send(w, findings, attempt, key, who)
                    names = [f"'{resource}:{needed_level}'"]
                    expect_error(findings, attempt, who, answer, 403, "permission_error", names=names)
    findings.check()


def test_expanding_a_reference_needs_its_permission(world):
    """A's restricted key may read the resource but not the reference: ``expand[]`` of it is a 403 naming it."""
    w, findings = world, Findings()
    swept = 0
    for operation in OPERATIONS:
        if operation.is_write:
            continue
        view = view_of(operation.path.replace("{id}", w.ids[kind_of(operation)]))
        own = [view.resource, *getattr(view, "also_reads", ())]
        for ref in view.expandable:
            resources = EXPAND_RESOURCES[ref]
            permissions = dict.fromkeys(RESOURCES, "none") | {r: "read" for r in own if r not in resources}
            missing = [r for r in resources if permissions[r] == "none"]
            if not missing:
                continue
            key = w.restricted(permissions)
            who = f"A's restricted key with {'+'.join(own)}:read only"
            expand = f"data.{ref}" if operation.is_list else ref
            [attempt] = attempts(operation, w, with_references=False)
            if operation.path == "/v1/payment_methods":
                attempt.params["customer"] = w.ids["customer"]
            attempt.params["expand"] = [expand]
            attempt.label = f"expand[]={expand}"
            answer = send(w, findings, attempt, key, who)
            swept += 1
            expect_error(findings, attempt, who, answer, 403, "permission_error", names=[f"{r}:read" for r in missing])
    assert swept >= 10
    findings.check()


def test_a_live_key_never_reaches_test_objects(world):
    """A's live secret key: A's test-mode objects are missing; live lists hold none of them."""
    w, findings = world, Findings()
    key, who = factories.live_secret_key(w.a.merchant), "A's live secret key"
    for operation in OPERATIONS:
        for attempt in attempts(operation, w):
            answer = send(w, findings, attempt, key, who)
            if operation.path.startswith("/v1/test_helpers/"):
                expect_error(findings, attempt, who, answer, 400, "invalid_request_error", "livemode_mismatch")
            else:
                expect_missing(findings, attempt, who, answer)
    findings.check()
