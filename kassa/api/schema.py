"""How drf-spectacular describes Kassa's Stripe-shaped endpoints: one ``Doc`` per operation, the rest derived.

Each view states what a developer reads (``Doc``: resource tag, summary,
description, a real request and a real answer); everything that is the same
for every operation is added here once, by ``postprocess`` (a drf-spectacular
postprocessing hook), so no operation can forget it: the error answers with
their real types and bodies, the curl and stripe-python samples made from the
operation's own path, method and example, and field descriptions shared by
name (kassa/api/fields.py ``FIELD_DESCRIPTIONS``).

Request bodies are documented as JSON only: the API also takes Stripe's
form encoding with bracket notation (what Stripe's SDKs and the curl samples
send), but OpenAPI's form encoding cannot describe brackets, and generated
clients that follow it send nested values wrongly. Swagger UI's "Try it out"
sends the JSON example, which Kassa accepts as it is.
"""

import copy
import json
import shlex
from dataclasses import dataclass, field

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

from .fields import FIELD_DESCRIPTIONS
from .stripe_params import STRIPE_PARAMS

#: Where the samples send requests; the overview says to replace it with Kassa's own address.
SAMPLE_BASE_URL = "https://kassa.example.com"
#: The key the samples use: the reader puts their own test key there.
SAMPLE_KEY = "sk_test_…"

#: What an id prefix names (path ids and the 404 examples).
ID_PREFIXES = {
    "prod": "product",
    "price": "price",
    "cus": "customer",
    "pm": "payment method",
    "pi": "payment intent",
    "re": "refund",
    "plink": "payment link",
    "cs_test": "checkout session",
    "we": "webhook endpoint",
    "evt": "event",
    "txr": "tax rate",
    "in": "invoice",
    "ii": "invoice item",
    "inpay": "invoice payment",
    "clock": "test clock",
    "bps": "customer portal session",
}

#: Where stripe-python's names differ from the path's: ``/v1/invoiceitems`` is ``client.v1.invoice_items``,
#: ``/v1/invoices/{id}/finalize`` is ``client.v1.invoices.finalize_invoice`` …
PYTHON_NAMES = {"invoiceitems": "invoice_items", "lines": "line_items"}
PYTHON_VERBS = {
    "invoices_finalize": "finalize_invoice",
    "invoices_send": "send_invoice",
    "invoices_void": "void_invoice",
    "invoices_create_preview": "create_preview",
    "subscriptions_cancel": "cancel",
}


@dataclass(frozen=True)
class Doc:
    """What a developer reads about one operation."""

    tag: str
    summary: str
    description: str
    #: (title, body) pairs; the first is Swagger UI's default request and must succeed as it is
    #: (ids of the reader's own objects aside: a path id, a customer to charge …).
    requests: tuple[tuple[str, dict], ...] = ()
    #: the 200 answer: the object (a list operation wraps it in a list page itself)
    response: dict | None = None
    #: an example path id (``prod_…``) for operations on one object
    path_id: str | None = None
    #: example query parameters for list operations (the samples show them)
    query: dict = field(default_factory=dict)


# --- the decorators every /v1/ view uses ----------------------------------------------


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID, or your order id) of at most 255 characters. Retrying with the same key "
        "and the same parameters within 24 hours answers the first response again (with "
        "`Idempotent-Replayed: true`) instead of doing the work twice; the same key with other parameters "
        "is refused (400 `idempotency_error`), and while the first request is still running a retry gets 409."
    ),
)

EXPAND = OpenApiParameter(
    "expand[]",
    str,
    many=True,
    description=(
        "References to answer with the whole object instead of its id, e.g. `customer` (`data.customer` on "
        'a list). Which ones an operation can expand is listed with the field ("or the … when expanded").'
    ),
)


def _path_id(doc: "Doc") -> list[OpenApiParameter]:
    if doc.path_id is None:
        return []
    prefix = doc.path_id.rsplit("_", 1)[0]
    noun = ID_PREFIXES.get(prefix, "object")
    return [
        OpenApiParameter(
            "id",
            str,
            location=OpenApiParameter.PATH,
            description=f"The {noun}'s id (`{prefix}_…`), as the create call answered it.",
            examples=[OpenApiExample(noun, value=doc.path_id)],
        )
    ]


def _examples(doc: "Doc", answer: dict | None) -> list[OpenApiExample]:
    examples = [
        OpenApiExample(title, value=body, request_only=True, media_type="application/json")
        for title, body in doc.requests
    ]
    if answer is not None:
        examples.append(OpenApiExample("Answer", value=answer, response_only=True, status_codes=["200"]))
    return examples


def _answer_description(doc: "Doc", answer: dict | None) -> str:
    if answer is None:
        return "The object."
    if answer.get("object") == "list":
        return f"One page of {doc.tag.lower()}, newest first."
    if answer.get("deleted"):
        return "The deleted object's id."
    return f"The {answer['object'].replace('_', ' ').replace('.', ' ')}, as it now stands."


def _decorate(doc: "Doc", operation_id: str, *, request=None, parameters=(), response, answer):
    extensions = {"x-kassa-query": doc.query} if doc.query else None
    schema = extend_schema(
        operation_id=operation_id,
        tags=[doc.tag],
        summary=doc.summary,
        description=doc.description,
        request=request,
        parameters=[*_path_id(doc), *parameters],
        responses={200: OpenApiResponse(response, description=_answer_description(doc, answer))},
        examples=_examples(doc, answer),
        extensions=extensions,
    )

    def decorate(method):
        method = schema(method)
        # StripeView.params names Stripe's parameters by the operation's id (kassa/api/stripe_params.py).
        method.operation_id = operation_id
        return method

    return decorate


def create(params, out, *, doc: "Doc", operation_id: str, expand: bool = True):
    """A POST: a JSON body (also form-encoded, see the module docstring), an Idempotency-Key, one object.

    ``expand``: whether the answer has references ``expand[]`` can name.
    """
    return _decorate(
        doc,
        operation_id,
        request={"application/json": params},
        parameters=[IDEMPOTENCY_KEY, *([EXPAND] if expand else [])],
        response=out,
        answer=doc.response,
    )


def read(out, *, doc: "Doc", operation_id: str, expand: bool = True):
    """A GET of one object (or a DELETE): no body."""
    return _decorate(doc, operation_id, parameters=[EXPAND] if expand else [], response=out, answer=doc.response)


def delete(params, out, *, doc: "Doc", operation_id: str, expand: bool = True):
    """A DELETE with parameters: in the query string, as stripe-python sends a DELETE's ``params``."""
    parameters = [params, *([EXPAND] if expand else [])]
    return _decorate(doc, operation_id, parameters=parameters, response=out, answer=doc.response)


def listing(params, out, name, *, doc: "Doc", operation_id: str, url: str, expand: bool = True):
    """A GET of a list page: Stripe's list object around the items."""
    answer = None
    if doc.response is not None:
        url = url.replace("{id}", doc.path_id or "{id}")
        answer = {"object": "list", "data": [doc.response], "has_more": False, "url": url}
    parameters = [params, *([EXPAND] if expand else [])]
    return _decorate(doc, operation_id, parameters=parameters, response=list_of(out, name), answer=answer)


def list_of(item_serializer, name: str):
    return inline_serializer(
        name=f"{name}List",
        fields={
            "object": serializers.CharField(default="list", help_text="Always `list`."),
            "data": item_serializer(many=True, help_text="This page's objects, newest first."),
            "has_more": serializers.BooleanField(
                help_text="Whether there are more objects after this page: ask again with `starting_after` "
                "set to the last object's id."
            ),
            "url": serializers.CharField(help_text="The URL this list was read from."),
        },
    )


# --- errors: one set for every operation ------------------------------------------------

# The statuses every operation can answer, and those only some can.
CARD_OPERATIONS = {"payment_intents_create", "payment_intents_confirm", "payment_methods_create", "invoices_pay"}

ERROR_TYPES = {
    400: ("InvalidRequestError", ["invalid_request_error", "idempotency_error"]),
    401: ("AuthenticationError", ["authentication_error"]),
    402: ("CardError", ["card_error"]),
    403: ("PermissionError", ["permission_error"]),
    404: ("NotFoundError", ["invalid_request_error"]),
    409: ("IdempotencyError", ["idempotency_error"]),
    429: ("RateLimitError", ["rate_limit_error"]),
    500: ("APIError", ["api_error"]),
}
ERROR_DESCRIPTIONS = {
    400: "The request is invalid: a parameter is missing, unknown or wrong (`param` names it), or an "
    "Idempotency-Key was reused with other parameters (`idempotency_error`).",
    401: "No API key, or one that is not valid, revoked or expired.",
    402: "The card was refused by the payer's bank; nothing was charged. On a PaymentIntent the error carries "
    "it as it now stands (`last_payment_error`).",
    403: "The key may not do this: a restricted key without the permission, or a publishable key.",
    404: "No such object (another merchant's, or the other mode's, is missing just the same) or no such URL.",
    409: "A request with this Idempotency-Key is still running: retry once it has finished.",
    429: "Too many requests with this key: wait `Retry-After` seconds and retry with exponential backoff.",
    500: "Kassa or the payment processor failed. Retrying with the same Idempotency-Key is safe.",
}


def _error_schema(types: list[str]) -> dict:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "description": "What went wrong, in Stripe's error shape.",
                "properties": {
                    "type": {"type": "string", "enum": types, "description": "The kind of error."},
                    "code": {
                        "type": "string",
                        "description": "A stable machine code for the error, e.g. `parameter_missing`, "
                        "`resource_missing`, `card_declined` (https://docs.stripe.com/error-codes).",
                    },
                    "message": {"type": "string", "description": "What went wrong, for people to read."},
                    "param": {"type": "string", "description": "The parameter at fault, in bracket notation."},
                    "decline_code": {"type": "string", "description": "The bank's reason for a card refusal."},
                    "payment_intent": {
                        "description": "The PaymentIntent the error is about: the object after a card refusal, "
                        "its id otherwise."
                    },
                },
            }
        },
    }


def _error(type_: str, message: str, **more) -> dict:
    return {"error": {"type": type_, "message": message, **more}}


def _resource(operation_id: str) -> str:
    """The restricted-key permission an operation needs (merchants/api/permissions.py)."""
    special = {
        "customers_payment_methods_list": "payment_methods",
        "events_retry": "webhook_endpoints",
        "payment_links_line_items": "payment_links",
        "checkout_sessions_line_items": "checkout_sessions",
        "invoices_finalize": "invoices",
        "invoices_send": "invoices",
        "invoices_pay": "invoices",
        "invoices_void": "invoices",
        "invoices_mark_uncollectible": "invoices",
        "invoices_line_items": "invoices",
        "test_helpers_test_clocks_list": "test_clocks",
        "test_helpers_test_clocks_create": "test_clocks",
        "test_helpers_test_clocks_retrieve": "test_clocks",
        "test_helpers_test_clocks_delete": "test_clocks",
        "test_helpers_test_clocks_advance": "test_clocks",
        "billing_portal_sessions_create": "billing_portal",
    }
    return special.get(operation_id) or operation_id.rsplit("_", 1)[0]


def _first_required(operation: dict, components: dict) -> str | None:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in body:
        body = components.get(body["$ref"].rsplit("/", 1)[1], {})
    required = body.get("required") or []
    return required[0] if required else None


def _bad_request(method: str, operation: dict, components: dict) -> dict:
    param = _first_required(operation, components)
    if param:
        first = _error(
            "invalid_request_error", f"Missing required param: {param}.", code="parameter_missing", param=param
        )
    else:
        first = _error(
            "invalid_request_error", "Received unknown parameter: colour", code="parameter_unknown", param="colour"
        )
    examples = {"Invalid parameter": first}
    if method == "post":
        examples["Idempotency-Key reused"] = _error(
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were first used "
            "with. Try using a key other than 'order-6735' if you meant to execute a different request.",
            code="idempotency_key_in_use",
        )
    return examples


def _card_refused(operation: dict) -> dict:
    refused = _error("card_error", "Your card was declined.", code="card_declined", decline_code="generic_decline")
    answer = operation["responses"]["200"]["content"]["application/json"].get("examples", {}).get("Answer")
    if answer and answer["value"].get("object") == "payment_intent":
        # As the API answers it: the PaymentIntent after the refusal, ready for another card.
        payment_intent = copy.deepcopy(answer["value"])
        payment_intent.update(
            status="requires_payment_method",
            amount_received=0,
            latest_charge=None,
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            },
        )
        refused["error"]["payment_intent"] = payment_intent
    return {"Card declined": refused}


def _forbidden(method: str, operation: dict) -> dict:
    level = "read" if method == "get" else "write"
    return {
        "Restricted key without the permission": _error(
            "permission_error",
            "The provided key 'rk_test_****Xa9Q' does not have the required permissions for this endpoint on "
            f"account 'acct_4Nf2qJbW8xKcT1mZ'. Having the '{_resource(operation['operationId'])}:{level}' "
            "permission would allow this request to continue.",
            code="insufficient_permissions",
        ),
        "Publishable key": _error(
            "permission_error",
            "This API call cannot be made with a publishable API key. Please use a secret API key.",
            code="secret_key_required",
        ),
    }


def _not_found(operation: dict) -> dict:
    path_id = _path_id_example(operation)
    if path_id:
        noun = ID_PREFIXES.get(path_id.rsplit("_", 1)[0], "object")
        return {
            "No such object": _error("invalid_request_error", f"No such {noun}: '{path_id}'", code="resource_missing")
        }
    return {
        "Unknown cursor": _error(
            "invalid_request_error",
            "No such object: 'prod_0000000000000000000000'",
            code="resource_missing",
            param="starting_after",
        )
    }


def _server_error(operation: dict) -> dict:
    if operation["operationId"].startswith(("payment_intents_", "refunds_", "payment_methods_")):
        return {
            "Processor failed": _error(
                "api_error",
                "The payment processor could not complete the request. Nothing was charged; try again.",
                code="processor_error",
            )
        }
    return {"Unexpected error": _error("api_error", "An unexpected error occurred. Try again later.")}


# The bodies Kassa answers (kassa/errors.py, merchants/api/), word for word.
FIXED_ERROR_EXAMPLES = {
    401: {
        "Invalid key": _error(
            "authentication_error", "Invalid API Key provided: sk_test_****7890", code="api_key_invalid"
        ),
        "No key": _error(
            "authentication_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ),
    },
    409: {
        "Still running": _error(
            "idempotency_error",
            "There is currently another in-progress request using this Idempotency-Key. "
            "Retry after the first one has finished.",
            code="idempotency_key_in_use",
        )
    },
    429: {
        "Too many requests": _error(
            "rate_limit_error",
            "Too many requests hit the API too quickly. Slow down and retry with exponential backoff.",
            code="rate_limit",
        )
    },
}


def _error_examples(status: int, method: str, operation: dict, components: dict) -> dict:
    if status in FIXED_ERROR_EXAMPLES:
        return FIXED_ERROR_EXAMPLES[status]
    return {
        400: lambda: _bad_request(method, operation, components),
        402: lambda: _card_refused(operation),
        403: lambda: _forbidden(method, operation),
        404: lambda: _not_found(operation),
        500: lambda: _server_error(operation),
    }[status]()


def _path_id_example(operation: dict) -> str | None:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            return next(iter(parameter.get("examples", {}).values()), {}).get("value")
    return None


def error_statuses(method: str, path: str, operation_id: str) -> list[int]:
    statuses = [400, 401]
    if operation_id in CARD_OPERATIONS:
        statuses.append(402)
    statuses.append(403)
    # A path id, or a list's cursor, can be missing; a create's references are 400s naming the parameter.
    if "{id}" in path or method != "post":
        statuses.append(404)
    if method == "post":
        statuses.append(409)  # idempotency keys are for POSTs only
    return [*statuses, 429, 500]


def _document_errors(method: str, path: str, operation: dict, components: dict) -> None:
    responses = operation["responses"]
    for status in error_statuses(method, path, operation["operationId"]):
        name, types = ERROR_TYPES[status]
        components.setdefault(name, _error_schema(types))
        examples = _error_examples(status, method, operation, components)
        content = {
            "schema": {"$ref": f"#/components/schemas/{name}"},
            "examples": {title: {"value": value} for title, value in examples.items()},
        }
        response = {"description": ERROR_DESCRIPTIONS[status], "content": {"application/json": content}}
        if status == 429:
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
            }
        responses[str(status)] = response


# --- code samples ----------------------------------------------------------------------


def form_pairs(value, prefix: str = "") -> list[tuple[str, str]]:
    """A JSON body as Stripe's form encoding: ``metadata[sku]=T-1``, ``line_items[0][price]=price_…``."""
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in form_pairs(item, f"{prefix}[{key}]" if prefix else key)]
    if isinstance(value, list):
        return [pair for index, item in enumerate(value) for pair in form_pairs(item, f"{prefix}[{index}]")]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, str(value))]


def _python_call(operation_id: str, method: str, path: str, path_id: str | None, params: dict | None) -> str:
    parts = [PYTHON_NAMES.get(part, part) for part in path.removeprefix("/v1/").split("/")]
    names = [part for part in parts if part != "{id}"]
    if method == "get":
        verb = "retrieve" if parts[-1] == "{id}" else "list"
    elif method == "delete":
        verb = "delete"
    elif parts[-1] == "{id}":
        verb = "update"
    elif "{id}" not in parts:
        verb = "create"
    else:
        verb = names.pop()
    verb = PYTHON_VERBS.get(operation_id, verb)
    if names[-1] == verb:  # a create under its own name: /v1/invoices/create_preview is invoices.create_preview
        names.pop()
    if operation_id in STRIPE_PARAMS and STRIPE_PARAMS[operation_id] is None:  # no method in stripe-python
        args = "".join(f", {key}={json.dumps(value)}" for key, value in (params or {}).items())
        url = path.replace("{id}", path_id or "")
        return (
            f'response = client.raw_request("post", "{url}"{args})\nevent = client.deserialize(response, api_mode="V1")'
        )
    target = {"list": "page", "delete": "deleted"}.get(verb, names[-1].rstrip("s"))
    call = f"{target} = client.v1.{'.'.join(names)}.{verb}("
    args = [json.dumps(path_id)] if path_id else []
    if params:
        args.append("params=" + _python_literal(params))
    line = call + ", ".join(args) + ")"
    if len(line) <= 100:
        return line
    if params:
        args[-1] = "params=" + _python_literal(params, indent=4).replace("\n", "\n    ")
    return call + "\n" + "".join(f"    {arg},\n" for arg in args) + ")"


def _python_literal(value, indent: int | None = None) -> str:
    """A dict of JSON values as Python source: JSON's literals are Python's but for true/false/null."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{json.dumps(key)}: {_python_literal(item, indent)}" for key, item in value.items()]
    elif isinstance(value, list):
        items = [_python_literal(item, indent) for item in value]
    elif value is None or isinstance(value, bool):
        return repr(value)
    else:
        return json.dumps(value, ensure_ascii=False)
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    flat = opening + ", ".join(items) + closing
    if indent is None or len(flat) <= 60:
        return flat
    inner = ",\n".join(" " * indent + item.replace("\n", "\n" + " " * indent) for item in items)
    return f"{opening}\n{inner},\n{closing}"


def code_samples(operation_id: str, method: str, path: str, path_id: str | None, params: dict | None) -> dict[str, str]:
    url = SAMPLE_BASE_URL + (path.replace("{id}", path_id) if path_id else path)
    curl = [f"curl {url}" + (" -G" if method == "get" and params else ""), f"  -u {SAMPLE_KEY}:"]
    if method == "delete" or (method == "post" and not params):
        curl.append(f"  -X {method.upper()}")
    for key, value in form_pairs(params or {}):
        # Plain values as they are; others (spaces, URLs) percent-encoded by curl, as Stripe's docs do.
        option = "-d" if value.replace("_", "").replace(".", "").replace("-", "").isalnum() else "--data-urlencode"
        curl.append(f"  {option} {shlex.quote(f'{key}={value}')}")
    python = "\n".join(
        [
            "from stripe import StripeClient",
            "",
            f'client = StripeClient("{SAMPLE_KEY}", base_addresses={{"api": "{SAMPLE_BASE_URL}"}})',
            _python_call(operation_id, method, path, path_id, params),
        ]
    )
    return {"curl": " \\\n".join(curl), "python": python}


def _sample_inputs(operation: dict) -> tuple[str | None, dict | None]:
    path_id = _path_id_example(operation)
    query = operation.pop("x-kassa-query", None)
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("examples")
    params = next(iter(body.values()))["value"] if body else query
    return path_id, params


def _add_samples(method: str, path: str, operation: dict) -> None:
    path_id, params = _sample_inputs(operation)
    samples = code_samples(operation["operationId"], method, path, path_id, params)
    operation["x-codeSamples"] = [
        {"lang": "Shell", "label": "curl", "source": samples["curl"]},
        {"lang": "Python", "label": "stripe-python", "source": samples["python"]},
    ]
    operation["description"] = (
        operation.get("description", "").rstrip()
        + "\n\n**curl**\n\n```bash\n"
        + samples["curl"]
        + "\n```\n\n**stripe-python**\n\n```python\n"
        + samples["python"]
        + "\n```\n"
    )


# --- shared descriptions ---------------------------------------------------------------


def _describe(node, components: dict) -> None:
    """Fill in a description for every property that has none, from FIELD_DESCRIPTIONS, recursively."""
    if isinstance(node, list):
        for item in node:
            _describe(item, components)
        return
    if not isinstance(node, dict):
        return
    for name, prop in (node.get("properties") or {}).items():
        if isinstance(prop, dict) and not prop.get("description") and name in FIELD_DESCRIPTIONS:
            if "$ref" in prop:
                # A $ref's siblings are ignored in OpenAPI 3.0: wrap it to carry a description.
                node["properties"][name] = {"allOf": [prop], "description": FIELD_DESCRIPTIONS[name]}
            else:
                prop["description"] = FIELD_DESCRIPTIONS[name]
    for key, value in node.items():
        if key != "example" and isinstance(value, (dict, list)):
            _describe(value, components)


def postprocess(result, generator, request, public):
    """drf-spectacular's postprocessing hook (SPECTACULAR_SETTINGS): errors, samples, shared descriptions."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            _document_errors(method, path, operation, components)
            _add_samples(method, path, operation)
            for parameter in operation.get("parameters", []):
                name = parameter["name"].removesuffix("[]")
                if not parameter.get("description") and name in FIELD_DESCRIPTIONS:
                    parameter["description"] = FIELD_DESCRIPTIONS[name]
    for schema in components.values():
        if "enum" not in schema:
            # Otherwise a serializer's docstring, written for Kassa's developers (StrictSerializer's is on
            # every params component); the operations and fields say what a reader needs.
            schema.pop("description", None)
        _describe(schema, components)
    return result
