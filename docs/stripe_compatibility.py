"""Writes docs/stripe-compatibility.md: Kassa's API measured against stripe-python's own types.

Both sides are read, not hand-kept: what Kassa serves is its OpenAPI schema
(drf-spectacular, as /v1/schema/ answers it), and what Stripe has is the
typed request parameters (``stripe.params.*Params`` TypedDicts, via
kassa/api/stripe_params.py, the table the API's own "not supported yet"
refusals use) and the response classes' annotations of the pinned
stripe-python. Top-level parameters are counted; one level of nesting is
listed where Kassa's schema describes the parameter as an object.

    .venv/bin/python docs/stripe_compatibility.py           # rewrite the file (`make compat`)
    .venv/bin/python docs/stripe_compatibility.py --check   # exit 1 if the committed file is stale (CI)
"""

import argparse
import os
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path

import django
import stripe
from typing_extensions import is_typeddict

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "stripe-compatibility.md"

# Kassa's modules load only once Django is set up, on development settings as `make run` has them.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
django.setup()

from drf_spectacular.generators import SchemaGenerator  # noqa: E402

from kassa import gateway  # noqa: E402
from kassa.api.stripe_params import STRIPE_PARAMS  # noqa: E402


@dataclass(frozen=True)
class Resource:
    title: str
    prefix: str  # of the operation ids it groups
    #: (label, stripe-python class name under ``stripe``, the operation whose answer is that object)
    objects: tuple[tuple[str, str, str], ...]


RESOURCES = (
    Resource("Products", "products_", (("Product", "Product", "products_retrieve"),)),
    Resource("Prices", "prices_", (("Price", "Price", "prices_retrieve"),)),
    # customers_retrieve may answer a deleted customer; create answers the object itself.
    Resource("Customers", "customers_", (("Customer", "Customer", "customers_create"),)),
    Resource("Payment methods", "payment_methods_", (("PaymentMethod", "PaymentMethod", "payment_methods_retrieve"),)),
    Resource(
        "Payment links",
        "payment_links_",
        (
            ("PaymentLink", "PaymentLink", "payment_links_retrieve"),
            ("LineItem (a link's line items)", "LineItem", "payment_links_line_items"),
        ),
    ),
    Resource(
        "Checkout sessions",
        "checkout_sessions_",
        (
            ("checkout.Session", "checkout.Session", "checkout_sessions_retrieve"),
            ("LineItem (a session's line items)", "LineItem", "checkout_sessions_line_items"),
        ),
    ),
    Resource("PaymentIntents", "payment_intents_", (("PaymentIntent", "PaymentIntent", "payment_intents_retrieve"),)),
    Resource("Refunds", "refunds_", (("Refund", "Refund", "refunds_retrieve"),)),
    Resource("Tax rates", "tax_rates_", (("TaxRate", "TaxRate", "tax_rates_retrieve"),)),
    Resource("Invoice items", "invoiceitems_", (("InvoiceItem", "InvoiceItem", "invoiceitems_retrieve"),)),
    Resource(
        "Invoices",
        "invoices_",
        (
            ("Invoice", "Invoice", "invoices_retrieve"),
            ("InvoiceLineItem (an invoice's lines)", "InvoiceLineItem", "invoices_line_items"),
        ),
    ),
    Resource(
        "Invoice payments",
        "invoice_payments_",
        (("InvoicePayment", "InvoicePayment", "invoice_payments_retrieve"),),
    ),
    Resource("Subscriptions", "subscriptions_", (("Subscription", "Subscription", "subscriptions_retrieve"),)),
    Resource(
        "Subscription items",
        "subscription_items_",
        (("SubscriptionItem", "SubscriptionItem", "subscription_items_retrieve"),),
    ),
    Resource(
        "Test clocks",
        "test_helpers_test_clocks_",
        (("test_helpers.TestClock", "test_helpers.TestClock", "test_helpers_test_clocks_retrieve"),),
    ),
    Resource(
        "Customer portal sessions",
        "billing_portal_sessions_",
        (("billing_portal.Session", "billing_portal.Session", "billing_portal_sessions_create"),),
    ),
    Resource(
        "Webhook endpoints",
        "webhook_endpoints_",
        (("WebhookEndpoint", "WebhookEndpoint", "webhook_endpoints_retrieve"),),
    ),
    Resource("Events", "events_", (("Event", "Event", "events_list"),)),
)

YES, NO = "✓ supported", "✗ not supported"


def percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({round(100 * part / whole)}%)" if whole else "—"


# --- Kassa's side: the OpenAPI schema ---------------------------------------------


class Schema:
    def __init__(self, document: dict, views: dict[tuple[str, str], type]):
        self.components = document["components"]["schemas"]
        self.operations: dict[str, tuple[str, str, dict]] = {}  # operation_id -> (method, path, operation)
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                self.operations[operation["operationId"]] = (method.upper(), path, operation)
        self.views = views

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.components[node["$ref"].rsplit("/", 1)[1]]
        return node

    def properties(self, node: dict | None) -> tuple[dict | None, bool]:
        """The object properties a schema node describes (through refs, allOf/oneOf, array items), and whether
        it is an array of them; None when it describes no object with named properties."""
        if not node:
            return None, False
        node = self.resolve(node)
        if "properties" in node:
            return node["properties"], False
        if "items" in node:
            found, _ = self.properties(node["items"])
            return found, True
        for key in ("allOf", "oneOf", "anyOf"):
            for option in node.get(key, ()):
                found, is_array = self.properties(option)
                if found is not None:
                    return found, is_array
        return None, False

    def request_params(self, operation_id: str) -> dict[str, dict]:
        """Top-level request parameters: the JSON body's properties and the query parameters."""
        _, _, operation = self.operations[operation_id]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        params = dict(self.properties(body)[0] or {})
        for parameter in operation.get("parameters", ()):
            if parameter["in"] == "query":
                params.setdefault(parameter["name"].split("[", 1)[0], parameter.get("schema", {}))
        return params

    def response_object(self, operation_id: str) -> dict | None:
        """The properties of the object an operation answers with (a list's items for a list)."""
        _, _, operation = self.operations[operation_id]
        body = operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema")
        found, _ = self.properties(body)
        if found is not None and "has_more" in found:  # a list: its items
            found, _ = self.properties(found.get("data"))
        return found

    def expandable(self, operation_id: str) -> list[str]:
        method, path, _ = self.operations[operation_id]
        return sorted(getattr(self.views[(method, path)], "expandable", {}))


def kassa_schema() -> Schema:
    generator = SchemaGenerator()
    document = generator.get_schema(request=None, public=True)
    views = {(method.upper(), path): callback.cls for path, _, method, callback in generator.endpoints}
    return Schema(document, views)


# --- Stripe's side: stripe-python's types ---------------------------------------------


def nested_params(params_class: type, name: str) -> tuple[list[str], bool] | None:
    """The names of the TypedDict(s) a parameter's annotation refers to, and whether it is a list of them."""
    module = sys.modules[params_class.__module__]
    annotation = repr(params_class.__annotations__[name])
    names: set[str] = set()
    for identifier in sorted(set(re.findall(r"[A-Za-z_]\w*", annotation))):
        candidate = getattr(module, identifier, None)
        if isinstance(candidate, type) and is_typeddict(candidate):
            names |= set(typing.cast(type, candidate).__annotations__)
    if not names:
        return None
    return sorted(names), "List[" in annotation


def response_fields(class_name: str) -> list[str]:
    found = stripe
    for part in class_name.split("."):
        found = getattr(found, part)
    return sorted(
        name
        for name, annotation in found.__annotations__.items()
        if not name.isupper() and not repr(annotation).startswith(("ClassVar", "typing.ClassVar"))
    )


# --- the page ---------------------------------------------------------------------


def operation_rows(schema: Schema, operation_id: str) -> tuple[list[str], int, int]:
    """The parameter table's rows for one operation, and (supported, Stripe's) top-level counts."""
    params_name = STRIPE_PARAMS[operation_id]
    kassa = schema.request_params(operation_id)
    method, _, _ = schema.operations[operation_id]
    if method == "DELETE":
        # A plain delete reads no parameters (the schema's ``expand[]`` on it comes from kassa/api/schema.py's
        # read()); a cancel or an item's removal reads its own, and ``expand`` where Stripe has it.
        kassa.pop("expand", None)
        if kassa and params_name and "expand" in gateway.typed_param_names(params_name):
            kassa.setdefault("expand", {})
    else:
        # Every other view reads ``expand`` outside its serializer (merchants/api/views.py).
        kassa.setdefault("expand", {})
    stripe_names = sorted(gateway.typed_param_names(params_name)) if params_name else []
    rows, supported = [], 0
    for name in stripe_names:
        status = YES if name in kassa else NO
        supported += name in kassa
        rows.append(f"| `{name}` | {status} |")
        if name not in kassa:
            continue
        nested = nested_params(gateway.typed_params(params_name), name)
        kassa_nested, _ = schema.properties(kassa[name])
        if nested is None or kassa_nested is None:
            continue
        names, is_array = nested
        for child in names:
            path = f"{name}{'[]' if is_array else ''}.{child}"
            rows.append(f"| &nbsp;&nbsp;`{path}` | {YES if child in kassa_nested else NO} |")
    own = "Kassa's own" + (f" (not in `{params_name}`)" if params_name else " operation")
    rows += [f"| `{name}` | {own} |" for name in sorted(set(kassa) - set(stripe_names))]
    return rows, supported, len(stripe_names)


def render(schema: Schema) -> str:
    summary, sections = [], []
    for resource in RESOURCES:
        operation_ids = sorted(
            (o for o in schema.operations if o.startswith(resource.prefix)),
            key=lambda o: (schema.operations[o][1], schema.operations[o][0]),
        )
        lines = [f"## {resource.title}", ""]
        for operation_id in operation_ids:
            method, path, _ = schema.operations[operation_id]
            expandable = schema.expandable(operation_id)
            params_name = STRIPE_PARAMS[operation_id]
            typed = f"`stripe.params.{params_name}`" if params_name else "no stripe-python method"
            line = f"- `{method} {path}` {operation_id.removeprefix(resource.prefix)} ({typed})"
            if expandable and method != "DELETE":
                line += "; `expand[]`: " + ", ".join(f"`{e}`" for e in expandable)
            lines.append(line)
        params_supported = params_total = 0
        for operation_id in operation_ids:
            rows, supported, total = operation_rows(schema, operation_id)
            params_supported += supported
            params_total += total
            if not rows:
                continue
            method, path, _ = schema.operations[operation_id]
            lines += ["", f"### `{method} {path}` parameters: {percent(supported, total)}", ""]
            lines += ["| parameter | Kassa |", "|---|---|", *rows]
        fields_present = fields_total = 0
        for label, class_name, operation_id in resource.objects:
            stripe_fields = response_fields(class_name)
            kassa_fields = schema.response_object(operation_id)
            if kassa_fields is None:
                lines += [
                    "",
                    f"### `{label}` fields: not described",
                    "",
                    f"Kassa's schema does not list the fields of this object (the answer of `{operation_id}`), "
                    f"so they are not compared; stripe-python's `stripe.{class_name}` declares "
                    + ", ".join(f"`{f}`" for f in stripe_fields)
                    + ".",
                ]
                continue
            present = sum(f in kassa_fields for f in stripe_fields)
            fields_present += present
            fields_total += len(stripe_fields)
            lines += ["", f"### `{label}` fields: {percent(present, len(stripe_fields))}", ""]
            lines += ["| field | Kassa |", "|---|---|"]
            lines += [f"| `{f}` | {'✓' if f in kassa_fields else '✗'} |" for f in stripe_fields]
            lines += [f"| `{f}` | Kassa's own |" for f in sorted(set(kassa_fields) - set(stripe_fields))]
        lines += [
            "",
            (
                f"**{resource.title}**: parameters {percent(params_supported, params_total)} supported; "
                f"fields {percent(fields_present, fields_total)} present."
            ),
        ]
        anchor = re.sub(r"[^a-z0-9 -]", "", resource.title.lower()).replace(" ", "-")
        summary.append(
            f"| [{resource.title}](#{anchor}) | {len(operation_ids)} | {percent(params_supported, params_total)} "
            f"| {percent(fields_present, fields_total)} |"
        )
        sections.append("\n".join(lines))
    head = [
        "# Kassa and Stripe's API: what is there",
        "",
        "<!-- Generated by docs/stripe_compatibility.py (`make compat`); CI fails when it is stale. Do not edit. -->",
        "",
        (
            f"Every operation Kassa serves (its OpenAPI schema), against stripe-python {stripe.VERSION}'s typed "
            "request parameters (`stripe.params.*Params`) and response classes (`stripe.Product` …). "
            "A parameter Kassa does not support is refused with a 400 `parameter_unknown` whose message says "
            "it is a Stripe parameter Kassa does not support yet; a name Stripe does not know at all is "
            '"Received unknown parameter". Percentages count top-level parameters (per operation) and the '
            "fields stripe-python declares; nested rows (`line_items[].price_data`) are listed where Kassa's "
            "schema describes the parameter as an object, and not counted. A ✓ means Kassa takes the parameter "
            "or has the field, not that every value Stripe allows is accepted (Kassa takes cards only, "
            "`mode=payment` only …); see the README's API section for what each takes."
        ),
        "",
        "| resource | operations | parameters supported | fields present |",
        "|---|---|---|---|",
        *summary,
    ]
    return "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"


def consistency(schema: Schema) -> list[str]:
    """What would make the page wrong: operations missing from the table or from every resource."""
    problems = [
        f"{o} is not in kassa/api/stripe_params.py" for o in sorted(set(schema.operations) - set(STRIPE_PARAMS))
    ]
    problems += [
        f"{o} in kassa/api/stripe_params.py is not in the schema"
        for o in sorted(set(STRIPE_PARAMS) - set(schema.operations))
    ]
    problems += [
        f"{o} belongs to no resource of docs/stripe_compatibility.py"
        for o in sorted(schema.operations)
        if not any(o.startswith(r.prefix) for r in RESOURCES)
    ]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/stripe-compatibility.md is stale")
    args = parser.parse_args()

    schema = kassa_schema()
    problems = consistency(schema)
    if problems:
        sys.stderr.write("".join(f"{p}\n" for p in problems))
        return 1
    text = render(schema)
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(
                f"{OUTPUT.relative_to(ROOT)} is out of date with the API or stripe-python: "
                "run `make compat` and commit the result.\n"
            )
            return 1
        sys.stdout.write(f"{OUTPUT.relative_to(ROOT)} is up to date.\n")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
