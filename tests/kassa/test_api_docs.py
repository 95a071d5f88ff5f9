"""The API docs at /v1/docs/ are true: what they show is checked against the schema and against a live Kassa.

- Every example (request bodies, answers, error bodies) is valid against the
  schema it illustrates, read strictly: no field the schema does not list.
- Every operation has a summary, a description and its resource's tag; every
  field and parameter has a description; none shows internal wording.
- Every operation lists the error statuses it can answer, each with its real type.
- "Try it out" works: every request example of every write, sent as Swagger UI
  sends it (JSON), succeeds on a live Kassa whose Stripe is localstripe; the
  answer has the example's fields. The curl and stripe-python samples of every
  operation run as they are against the same Kassa, with the example ids
  replaced by the ids of real objects (and the placeholder key by a real one),
  which is what a reader does.
"""

import json
import re
import shlex
import subprocess

import pytest
import requests
import stripe
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from jsonschema import Draft202012Validator

from kassa.api.params import unflatten
from kassa.api.schema import SAMPLE_BASE_URL, SAMPLE_KEY

WRITES = ("post", "delete")
# Wording written for Kassa's developers, which must not reach API readers.
INTERNAL = re.compile(
    r"StripeView|[Ss]erializer|docstring|queryset|selector|drf-spectacular|services\.py|(?<!`)``(?!`)"
)
# The ids in the examples, found to be replaced with real objects' (a price_data key is not an id: 20+ characters).
EXAMPLE_ID = re.compile(
    r"\b(prod|price|cus|pm|pi|re|plink|cs_test|we|evt|txr|in|ii|inpay|clock|sub|si)_[A-Za-z0-9]{20,}\b|\btok_visa\b"
)
# Fields an example may carry beyond the schema: none (the create answer of a webhook endpoint has its own
# schema with the secret).
EXTRA_FIELDS: frozenset = frozenset()


@pytest.fixture(scope="module")
def schema():
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


# --- OpenAPI 3.0 to JSON Schema, strictly -----------------------------------------------


def _json_schema(node):
    """OpenAPI 3.0's schema dialect as JSON Schema: ``nullable``, and no properties beyond those listed."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items() if key != "example"}
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
        if EXTRA_FIELDS:
            node["patternProperties"] = {f"^({'|'.join(EXTRA_FIELDS)})$": {}}
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


def validate(schema, node: dict, value) -> list[str]:
    root = {**_json_schema(node), "components": {"schemas": _json_schema(schema["components"]["schemas"])}}
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft202012Validator(root).iter_errors(value)
    ]


def test_every_example_is_valid_against_the_schema(schema):
    checked, failures = 0, []
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        bodies = [("request", media.get("schema"), media.get("examples", {}))]
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json", {})
            bodies.append((status, media.get("schema"), media.get("examples", {})))
        for label, body_schema, examples in bodies:
            for name, example in examples.items():
                checked += 1
                value = example["value"]
                failures += [f"{where} {label} {name!r}: {e}" for e in validate(schema, body_schema, value)]
        for parameter in operation.get("parameters", []):
            for name, example in parameter.get("examples", {}).items():
                checked += 1
                failures += [
                    f"{where} {parameter['name']} {name!r}: {e}"
                    for e in validate(schema, parameter["schema"], example["value"])
                ]
    assert not failures, "\n".join(failures)
    assert checked > 400


def test_the_strict_check_refuses_a_wrong_example(schema):
    """The check above can fail: a placeholder, a missing field and a stray one are each caught."""
    product = schema["paths"]["/v1/products"]["post"]["responses"]["200"]["content"]["application/json"]
    good = product["examples"]["Answer"]["value"]
    assert validate(schema, product["schema"], good) == []
    for broken in (
        {**good, "created": "string"},
        {k: v for k, v in good.items() if k != "name"},
        {**good, "colour": "green"},
    ):
        assert validate(schema, product["schema"], broken)


def test_every_operation_is_documented(schema):
    tags = [tag["name"] for tag in schema["tags"]]
    assert all(tag["description"] for tag in schema["tags"])
    problems = []
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        prose = operation.get("description", "").split("**curl**")[0].strip()
        if not operation.get("summary") or len(prose) < 40:
            problems.append(f"{where}: no summary or description")
        if operation.get("tags", [None])[0] not in tags or len(operation["tags"]) != 1:
            problems.append(f"{where}: tag {operation.get('tags')}")
        if (
            method == "post"
            and "requestBody" in operation
            and not operation["requestBody"]["content"]["application/json"].get("examples")
        ):
            problems.append(f"{where}: no request example")
        if not operation["responses"]["200"]["content"]["application/json"].get("examples"):
            problems.append(f"{where}: no answer example")
        if not operation["responses"]["200"].get("description"):
            problems.append(f"{where}: the answer is not described")
        if {sample["label"] for sample in operation.get("x-codeSamples", [])} != {"curl", "stripe-python"}:
            problems.append(f"{where}: samples")
        for parameter in operation.get("parameters", []):
            if not parameter.get("description"):
                problems.append(f"{where}: parameter {parameter['name']} has no description")
    assert not problems, "\n".join(problems)
    # Stripe's order of resources, payments first.
    assert tags[:3] == ["Payment Intents", "Payment Methods", "Refunds"]


def _undescribed(node, where: str):
    if isinstance(node, list):
        for item in node:
            yield from _undescribed(item, where)
    elif isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if not prop.get("description"):
                yield f"{where}.{name}"
        for key, value in node.items():
            if key not in ("example", "examples"):
                yield from _undescribed(value, where)


def test_every_field_is_described(schema):
    missing = [
        name for component, node in schema["components"]["schemas"].items() for name in _undescribed(node, component)
    ]
    assert not missing, "\n".join(missing)


def test_money_and_times_say_their_units(schema):
    components = schema["components"]["schemas"]
    assert "1999 is 19.99 USD" in components["PriceCreateParamsRequest"]["properties"]["unit_amount"]["description"]
    assert "JPY" in components["PaymentIntentOut"]["properties"]["amount"]["description"]
    assert "Unix seconds" in components["PaymentIntentOut"]["properties"]["created"]["description"]
    assert "50 keys" in components["CustomerParamsRequest"]["properties"]["metadata"]["description"]


def _texts(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary", "title") and isinstance(value, str):
                yield value
            elif key not in ("examples", "x-codeSamples"):
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def test_no_internal_wording(schema):
    leaks = [text[:120] for text in _texts(schema) if INTERNAL.search(text)]
    assert not leaks, "\n".join(leaks)
    assert "string" not in json.dumps(
        [
            ex
            for _, _, op in operations(schema)
            for ex in op.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("examples", {})
            .values()
        ]
    ).replace("stringify", "")


# The error statuses and their types, written out independently of kassa/api/schema.py.
ERROR_TYPES = {
    "400": {"invalid_request_error", "idempotency_error"},
    "401": {"authentication_error"},
    "402": {"card_error"},
    "403": {"permission_error"},
    "404": {"invalid_request_error"},
    "409": {"idempotency_error"},
    "429": {"rate_limit_error"},
    "500": {"api_error"},
}
CHARGES_CARDS = {"payment_intents_create", "payment_intents_confirm", "payment_methods_create", "invoices_pay"}


def test_every_operation_lists_its_errors_with_their_real_types(schema):
    components = schema["components"]["schemas"]
    for path, method, operation in operations(schema):
        expected = {"400", "401", "403", "429", "500"}
        if operation["operationId"] in CHARGES_CARDS:
            expected.add("402")
        if method == "post":
            expected.add("409")
        if "{id}" in path or method != "post":
            expected.add("404")
        assert set(operation["responses"]) - {"200"} == expected, (method, path)
        for status in expected:
            content = operation["responses"][status]["content"]["application/json"]
            component = components[content["schema"]["$ref"].rsplit("/", 1)[1]]
            assert set(component["properties"]["error"]["properties"]["type"]["enum"]) == ERROR_TYPES[status]
            assert content["examples"], (method, path, status)
            for example in content["examples"].values():
                assert example["value"]["error"]["type"] in ERROR_TYPES[status]
                assert example["value"]["error"]["message"]
    # A refused card on a PaymentIntent carries the PaymentIntent, as the API answers it.
    refused = schema["paths"]["/v1/payment_intents/{id}/confirm"]["post"]["responses"]["402"]
    body = next(iter(refused["content"]["application/json"]["examples"].values()))["value"]["error"]
    assert body["payment_intent"]["last_payment_error"]["code"] == "card_declined"


def test_the_documented_errors_are_what_kassa_answers(live_server, paying_shop, schema):
    """The 400, 401 and 404 examples are word for word what a live Kassa answers."""
    key = paying_shop.secret_key.secret
    responses = schema["paths"]["/v1/products"]["post"]["responses"]
    answer = requests.post(f"{live_server.url}/v1/products", auth=(key, ""), data={}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == responses["400"]["content"]["application/json"]["examples"]["Invalid parameter"]["value"]
    answer = requests.post(f"{live_server.url}/v1/products", data={"name": "Tea"}, timeout=10)
    assert answer.status_code == 401
    assert answer.json() == responses["401"]["content"]["application/json"]["examples"]["No key"]["value"]
    documented = schema["paths"]["/v1/products/{id}"]["get"]["responses"]["404"]["content"]["application/json"]
    answer = requests.get(f"{live_server.url}/v1/products/prod_4Nf2qJbW8xKcT1mZr7LdA9Ye", auth=(key, ""), timeout=10)
    assert answer.status_code == 404
    assert answer.json() == documented["examples"]["No such object"]["value"]


# --- "Try it out" and the samples, against a live Kassa ------------------------------------


class World:
    """Real objects to stand for the examples' ids, made on demand (each operation gets fresh ones)."""

    def __init__(self, api: stripe.StripeClient, card_token, *, paid: bool, operation_id: str = ""):
        self.api, self.card_token, self.paid, self.made = api, card_token, paid, {}
        self.operation_id = operation_id

    def __getitem__(self, kind: str) -> str:
        if kind not in self.made:
            self.made[kind] = getattr(self, "make_" + kind)()
        return self.made[kind]

    def make_prod(self):
        return self.api.v1.products.create(params={"name": "Docs tea"}).id

    def make_price(self):
        params = {"product": self["prod"], "currency": "usd", "unit_amount": 1999}
        if self.operation_id.startswith("subscription") or self.operation_id == "invoices_create_preview":
            params["recurring"] = {"interval": "month"}  # a subscription takes recurring prices only
        return self.api.v1.prices.create(params=params).id

    def make_cus(self):
        customer = self.api.v1.customers.create(params={"email": "docs@example.com"}).id
        if self.operation_id == "invoices_create_preview":  # something to preview: a pending item
            self.api.v1.invoice_items.create(params={"customer": customer, "amount": 2500, "currency": "eur"})
        return customer

    def make_pm(self):
        card = {"token": self.card_token()}
        return self.api.v1.payment_methods.create(params={"type": "card", "card": card, "customer": self["cus"]}).id

    def make_pi(self):
        params = {"amount": 1999, "currency": "usd", "customer": self["cus"]}
        if self.paid:  # a refund needs a succeeded payment
            params.update(payment_method=self["pm"], confirm=True)
        return self.api.v1.payment_intents.create(params=params).id

    def make_re(self):
        self.paid = True
        return self.api.v1.refunds.create(params={"payment_intent": self["pi"], "amount": 100}).id

    def make_plink(self):
        return self.api.v1.payment_links.create(params={"line_items": [{"price": self["price"]}]}).id

    def make_cs_test(self):
        params = {"mode": "payment", "line_items": [{"price": self["price"]}], "success_url": "https://shop.example/ok"}
        return self.api.v1.checkout.sessions.create(params=params).id

    def make_we(self):
        params = {"url": "https://93.184.215.14/hooks", "enabled_events": ["*"]}
        return self.api.v1.webhook_endpoints.create(params=params).id

    def make_evt(self):
        self["cus"]
        return self.api.v1.events.list(params={"limit": 1}).data[0].id

    def make_txr(self):
        return self.api.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False}).id

    def make_ii(self):
        return self.api.v1.invoice_items.create(params={"customer": self["cus"], "amount": 500, "currency": "usd"}).id

    def make_in(self):
        """A draft with a line; open (and payable by the customer's default card) for the operations on one."""
        send = self.operation_id == "invoices_send"
        params = {"customer": self["cus"], "currency": "usd"}
        if send:
            params["collection_method"] = "send_invoice"
        invoice = self.api.v1.invoices.create(params=params)
        line = {"customer": self["cus"], "amount": 1500, "currency": "usd", "invoice": invoice.id}
        self.api.v1.invoice_items.create(params=line)
        if self.operation_id in ("invoices_pay", "invoices_void", "invoices_mark_uncollectible", "invoices_send"):
            if self.operation_id == "invoices_pay":
                settings = {"default_payment_method": self["pm"]}
                self.api.v1.customers.update(self["cus"], params={"invoice_settings": settings})
            self.api.v1.invoices.finalize_invoice(invoice.id)
        return invoice.id

    def make_inpay(self):
        """The payment of an invoice paid by the customer's default card."""
        settings = {"default_payment_method": self["pm"]}
        self.api.v1.customers.update(self["cus"], params={"invoice_settings": settings})
        invoice = self.api.v1.invoices.create(params={"customer": self["cus"], "currency": "usd"})
        line = {"customer": self["cus"], "amount": 1500, "currency": "usd", "invoice": invoice.id}
        self.api.v1.invoice_items.create(params=line)
        self.api.v1.invoices.finalize_invoice(invoice.id)
        return self.api.v1.invoices.pay(invoice.id).payments.data[0].id

    def make_sub(self):
        """Active (paid by the customer's default card); paused for the operation that resumes one."""
        settings = {"default_payment_method": self["pm"]}
        self.api.v1.customers.update(self["cus"], params={"invoice_settings": settings})
        sub = self.api.v1.subscriptions.create(params={"customer": self["cus"], "items": [{"price": self["price"]}]})
        if self.operation_id == "subscriptions_resume":
            self.api.v1.subscriptions.pause(sub.id)
        return sub.id

    def make_si(self):
        """The subscription's item; for the operation that deletes one, a second item (the last cannot go)."""
        item = self.api.v1.subscriptions.retrieve(self["sub"])["items"].data[0].id
        if self.operation_id == "subscription_items_delete":
            price = {"product": self["prod"], "currency": "usd", "unit_amount": 500, "recurring": {"interval": "month"}}
            extra = self.api.v1.prices.create(params=price).id
            params = {"subscription": self["sub"], "price": extra, "proration_behavior": "none"}
            self.api.v1.subscription_items.create(params=params)
        return item

    def make_clock(self):
        return self.api.v1.test_helpers.test_clocks.create(params={"frozen_time": 1767225600}).id

    def make_tok(self):
        return self.card_token()

    def real(self, text: str) -> str:
        return EXAMPLE_ID.sub(lambda match: self[(match.group(1) or "tok")], text)


@pytest.fixture
def world(kassa, paying_shop, card_token):
    api = kassa(paying_shop.secret_key.secret)
    return lambda operation_id: World(api, card_token, paid=operation_id == "refunds_create", operation_id=operation_id)


def _keys(value: dict) -> set[str]:
    if value.get("object") == "list":
        value = value["data"][0] if value["data"] else {}
    return set(value)


@pytest.mark.timeout(240)
def test_try_it_out_works_for_every_write(live_server, paying_shop, schema, world):
    """Each write's request examples, the first being Swagger UI's default, sent as Swagger UI sends them."""
    key = paying_shop.secret_key.secret
    tried = 0
    for path, method, operation in operations(schema):
        if method not in WRITES:
            continue
        examples = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("examples")
        documented = operation["responses"]["200"]["content"]["application/json"]["examples"]["Answer"]["value"]
        for name, example in (examples or {"no body": {"value": None}}).items():
            objects = world(operation["operationId"])
            path_id = next((p["examples"] for p in operation.get("parameters", []) if p["in"] == "path"), None)
            url = path.replace("{id}", objects.real(next(iter(path_id.values()))["value"])) if path_id else path
            body = json.loads(objects.real(json.dumps(example["value"]))) if example["value"] is not None else None
            answer = requests.request(
                method, live_server.url + url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            assert answer.status_code == 200, (method, path, name, answer.text)
            assert _keys(answer.json()) <= _keys(documented), (method, path, _keys(answer.json()) ^ _keys(documented))
            assert _keys(documented) - _keys(answer.json()) <= EXTRA_FIELDS, (method, path)
            tried += 1
    assert tried >= 25


@pytest.mark.timeout(280)
def test_the_samples_run_as_written(live_server, paying_shop, schema, world):
    """Every operation's stripe-python and curl samples, with a real key and real ids, succeed."""
    key = paying_shop.secret_key.secret
    for path, method, operation in operations(schema):
        samples = {sample["label"]: sample["source"] for sample in operation["x-codeSamples"]}
        assert f"```python\n{samples['stripe-python']}\n```" in operation["description"]
        assert f"```bash\n{samples['curl']}\n```" in operation["description"]
        for label, sample in samples.items():
            objects = world(operation["operationId"])
            source = objects.real(sample).replace(SAMPLE_KEY, key).replace(SAMPLE_BASE_URL, live_server.url)
            if label == "stripe-python":
                namespace = {}
                try:
                    exec(compile(source, f"{operation['operationId']} sample", "exec"), namespace)  # noqa: S102
                except stripe.StripeError as exc:
                    pytest.fail(f"{method.upper()} {path} stripe-python sample: {exc}\n{source}")
                answers = [value for value in namespace.values() if isinstance(value, stripe.StripeObject)]
                assert answers, source
                assert answers[-1]["object"], source
            else:
                result = subprocess.run(
                    ["bash", "-c", source.replace("curl ", "curl -sS --fail-with-body ", 1)],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                )
                assert result.returncode == 0, (
                    f"{method.upper()} {path} curl sample:\n{source}\n{result.stdout}{result.stderr}"
                )
                assert json.loads(result.stdout)["object"]


def _as_form(value):
    """A JSON body as Kassa's form parser reads its bracket notation: strings, lists as index-keyed dicts."""
    if isinstance(value, dict):
        return {key: _as_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return {str(index): _as_form(item) for index, item in enumerate(value)}
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_the_curl_samples_send_the_default_examples(schema):
    """The curl sample sends the same parameters as the JSON default, in Stripe's bracket notation."""
    for path, method, operation in operations(schema):
        examples = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("examples")
        if not examples:
            continue
        curl = next(s["source"] for s in operation["x-codeSamples"] if s["label"] == "curl")
        sent = unflatten(
            tuple(option.split("=", 1))
            for option in shlex.split(curl.replace("\\\n", " "))[1:]
            if "=" in option and not option.startswith("-")
        )
        assert sent == _as_form(next(iter(examples.values()))["value"]), (method, path)
