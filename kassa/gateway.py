"""The only module that imports ``stripe``.

One ``StripeClient`` per merchant and mode, built from that merchant's own
encrypted credentials; never the global ``stripe.api_key``. In development
and tests ``STRIPE_API_BASE`` points the client at localstripe. Stripe's
errors are translated here, once, into messages that never carry a key.
"""

import functools
import json
import logging
import urllib.parse
import urllib.request
from dataclasses import dataclass

import stripe
import urllib3
from django.conf import settings

from kassa import crypto
from kassa.errors import CardError, InvalidRequest, ProcessorError
from kassa.logging import redact

logger = logging.getLogger(__name__)


#: Clients a process keeps (the most recently used): one per stored key, mode and processor address.
CLIENTS_KEPT = 256


def client_for(credential) -> stripe.StripeClient:
    """A client speaking for ``credential``'s merchant, in ``credential``'s mode only.

    Kept and reused while its key is the one stored: a client holds its HTTP connection open, and a new client
    for each call opened a new connection for each charge (measured against bench/renewals.py's stand-in: 2.1
    against 1.5 ms of CPU and 2.7 against 1.7 ms of wall time a PaymentIntent). The key is recognised by its
    ciphertext, which a rotation or a new key changes (Fernet's is never the same twice), so a client never
    outlives the key it was made with; the keys held are the ones the process decrypts to call Stripe anyway.
    """
    return _client(
        credential.secret_key_ciphertext,
        credential.livemode,
        settings.STRIPE_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
    )


@functools.lru_cache(maxsize=CLIENTS_KEPT)
def _client(ciphertext: str, livemode: bool, api_base: str, retries: int) -> stripe.StripeClient:
    secret_key = crypto.decrypt(ciphertext)
    expected = "sk_live_" if livemode else "sk_test_"
    if not (secret_key.startswith((expected, "r" + expected[1:]))):
        # Saved credentials are checked on the way in; this guards the way out.
        raise InvalidRequest("These Stripe credentials do not belong to this mode.")
    options = {"max_network_retries": retries}
    if api_base:
        options["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(
        secret_key, http_client=_Pool(_proxy_for(api_base or stripe.DEFAULT_API_BASE)), **options
    )


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY`` …), None if ``NO_PROXY`` names its host: read
    once, as its client is made, which is when its process first calls for that key (set them before the process
    starts, as for any setting). ``~/.netrc`` is not read: the API key is the only credential sent."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


#: How long a call to the processor may wait to connect, and then between two reads (stripe-python's own default).
TIMEOUT = 80


class _Pool(stripe.HTTPClient):
    """stripe-python's HTTP client, on urllib3 (already Kassa's, for its outbound webhooks) instead of ``requests``:
    one pool of kept connections per client, shared by its threads (urllib3's pools are made for that), TLS checked
    against stripe-python's own certificate bundle, no redirect followed, and every network error raised as
    stripe-python's ``RequestsClient`` raises it (``APIConnectionError``; retried by stripe-python, with the
    call's idempotency key, for a timeout or a connection refused, reset or lost; never for a certificate).

    ``requests`` builds, merges and checks each call's settings before handing it to urllib3: a third of a
    PaymentIntent's CPU in Kassa's process, and about 0.4 ms of a renewal's (bench/renewals_profile.py --floor;
    docs/performance-history.md)."""

    name = "urllib3"

    def __init__(self, proxy: str | None):
        super().__init__()
        options = {
            "ca_certs": stripe.ca_bundle_path,
            "cert_reqs": "CERT_REQUIRED",
            "retries": False,  # stripe-python retries, not urllib3
            "timeout": urllib3.Timeout(connect=TIMEOUT, read=TIMEOUT),
            "maxsize": 8,  # connections kept per host: as many as bin/web's threads (8) calling at once
        }
        self._pool = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)

    def request(self, method: str, url: str, headers, post_data=None):
        response = self._call(method, url, headers, post_data, preload=True)
        return response.data, response.status, response.headers

    def request_stream(self, method: str, url: str, headers, post_data=None):
        response = self._call(method, url, headers, post_data, preload=False)
        return response, response.status, response.headers

    def _call(self, method: str, url: str, headers, post_data, *, preload: bool) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.request(
                method, url, headers=headers, body=post_data, redirect=False, preload_content=preload
            )
        except urllib3.exceptions.SSLError as exc:
            raise self._error(exc, "Could not verify Stripe's SSL certificate.", retry=False) from exc
        except (
            urllib3.exceptions.TimeoutError,
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.ProxyError,
        ) as exc:
            raise self._error(exc, "Unexpected error communicating with Stripe.", retry=True) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise self._error(exc, "Unexpected error communicating with Stripe.", retry=False) from exc

    @staticmethod
    def _error(exc: Exception, message: str, *, retry: bool) -> stripe.APIConnectionError:
        return stripe.APIConnectionError(
            f"{message}\n\n(Network error: {type(exc).__name__}: {exc})", should_retry=retry
        )

    def close(self) -> None:
        self._pool.clear()


def describe_error(exc: stripe.StripeError) -> str:
    """A message for people and logs: the error class and Stripe's message, no secrets."""
    return redact(f"{type(exc).__name__}: {exc.user_message or ''}".strip())


def check_connection(credential) -> tuple[bool, str]:
    """Whether Stripe accepts the saved secret key (one cheap read)."""
    try:
        client = client_for(credential)
        client.v1.customers.list(params={"limit": 1})
    except stripe.AuthenticationError as exc:
        logger.info("Stripe rejected the key of merchant %s: %s", credential.merchant_id, describe_error(exc))
        return False, "Stripe rejected this secret key."
    except stripe.PermissionError:
        return False, "The key works but may not read customers; Kassa needs a key that can."
    except stripe.StripeError as exc:
        logger.warning(
            "Stripe connection check failed for merchant %s: %s", credential.merchant_id, describe_error(exc)
        )
        return False, f"Could not reach Stripe ({type(exc).__name__})."
    except InvalidRequest as exc:
        return False, exc.message
    return True, "Connected to Stripe."


# --- payments -------------------------------------------------------------------
#
# Kassa keeps its own catalogue, checkout sessions and PaymentIntents; from the
# processor it needs customers, cards, PaymentIntents and refunds only. Cards
# reach Kassa as tokens made by Stripe.js in the payer's browser; the server
# attaches them to the processor's customer (a declined card fails here, as at
# Stripe) and confirms a PaymentIntent with the resulting card id.


@dataclass(frozen=True)
class Card:
    id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class ProcessorPayment:
    id: str | None
    status: str  # the processor's PaymentIntent status, or "failed" when the card was refused
    client_secret: str | None = None
    latest_charge: str | None = None
    amount_received: int = 0
    error_code: str | None = None
    decline_code: str | None = None
    error_message: str | None = None
    kassa_id: str | None = None  # the Kassa PaymentIntent it was made for (its metadata)
    attempt_id: str | None = None  # the Kassa attempt that made it (its metadata; None before attempts were named)


@dataclass(frozen=True)
class ProcessorRefund:
    id: str | None
    status: str
    failure_reason: str | None = None


# What a payer reads when the processor says no; never the processor's own words for other errors.
CARD_MESSAGES = {
    "card_declined": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "incorrect_number": "Your card number is incorrect.",
    "insufficient_funds": "Your card has insufficient funds.",
    "processing_error": "An error occurred while processing your card. Try again.",
    "authentication_required": "Your bank asked for authentication, which was not completed.",
    "payment_intent_authentication_failure": "The authentication with your bank failed. Try again or use another card.",
}


def _card_error(exc: stripe.CardError) -> CardError:
    code = exc.code or "card_declined"
    decline_code = (exc.error.decline_code if exc.error else None) or None
    message = CARD_MESSAGES.get(code, CARD_MESSAGES["card_declined"])
    extra = {"decline_code": decline_code} if decline_code else {}
    return CardError(message, code=code, **extra)


def _processor_error(exc: stripe.StripeError, action: str, credential) -> ProcessorError:
    logger.warning(
        "Stripe %s failed for merchant %s (%s mode): %s",
        action,
        credential.merchant_id,
        "live" if credential.livemode else "test",
        describe_error(exc),
    )
    return ProcessorError(
        "The payment processor could not complete the request. Nothing was charged; try again.",
        code="processor_error",
    )


def customer_create(credential, *, email: str | None, name: str | None, kassa_id: str) -> str:
    params = {"metadata": {"kassa_customer": kassa_id}}
    if email:
        params["email"] = email
    if name:
        params["name"] = name
    try:
        return (
            client_for(credential)
            .v1.customers.create(params=params, options={"idempotency_key": f"{kassa_id}-customer"})
            .id
        )
    except stripe.StripeError as exc:
        raise _processor_error(exc, "customer create", credential) from exc


def _localstripe(credential) -> bool:
    """Whether ``credential`` speaks to localstripe (test mode with ``STRIPE_API_BASE`` set), not real Stripe."""
    return not credential.livemode and bool(settings.STRIPE_API_BASE)


def card_token_for_testing(credential, *, number: str = "4242424242424242") -> str:
    """A card token made from a test card number, as Stripe.js makes one in a payer's browser.

    For the demo merchant's test payments under ``make run`` (localstripe) only: a live
    credential is refused, and so is real Stripe (which takes card numbers from browsers).
    """
    if not _localstripe(credential):
        raise InvalidRequest("Test card tokens are made against localstripe in test mode only.")
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    try:
        return client_for(credential).v1.tokens.create(params={"card": card}).id
    except stripe.StripeError as exc:
        raise _processor_error(exc, "test card token", credential) from exc


def card_attach(credential, *, customer_id: str, token: str, idempotency_key: str) -> Card:
    """Attach a Stripe.js token to the processor's customer; a refused card raises CardError (402)."""
    try:
        card = client_for(credential).v1.customers.payment_sources.create(
            customer_id, params={"source": token}, options={"idempotency_key": idempotency_key}
        )
    except stripe.CardError as exc:
        raise _card_error(exc) from exc
    except stripe.InvalidRequestError as exc:
        logger.info("Stripe refused token for merchant %s: %s", credential.merchant_id, describe_error(exc))
        raise CardError(
            "This card could not be used. Check its details or try another card.", code="invalid_card"
        ) from exc
    except stripe.StripeError as exc:
        raise _processor_error(exc, "card attach", credential) from exc
    data = card.to_dict()
    return Card(
        id=data["id"],
        brand=str(data.get("brand") or "card").lower(),
        last4=str(data.get("last4") or ""),
        exp_month=data.get("exp_month"),
        exp_year=data.get("exp_year"),
    )


def card_detach(credential, *, customer_id: str, card_id: str) -> None:
    """Remove a saved card from the processor's customer; a card the processor no longer has counts as removed.

    Kassa's cards are sources (``card_…``) on the processor's customer; a processor
    PaymentMethod (``pm_…``) is detached instead.
    """
    client = client_for(credential)
    try:
        if card_id.startswith("pm_"):
            client.v1.payment_methods.detach(card_id)
        else:
            client.v1.customers.payment_sources.delete(customer_id, card_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:  # already gone there (a retried detach): nothing left to remove
            return
        raise _processor_error(exc, "card detach", credential) from exc
    except stripe.StripeError as exc:
        raise _processor_error(exc, "card detach", credential) from exc


def _payment(data: dict) -> ProcessorPayment:
    charge = data.get("latest_charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    if not charge:
        charges = (data.get("charges") or {}).get("data") or []
        charge = charges[-1]["id"] if charges else None
    status = data["status"]
    error = data.get("last_payment_error") or {}
    return ProcessorPayment(
        id=data["id"],
        status=status,
        client_secret=data.get("client_secret"),
        latest_charge=charge,
        amount_received=data.get("amount_received", data["amount"] if status == "succeeded" else 0) or 0,
        error_code=error.get("code"),
        decline_code=error.get("decline_code"),
        error_message=CARD_MESSAGES.get(error.get("code") or "", CARD_MESSAGES["card_declined"]) if error else None,
        kassa_id=(data.get("metadata") or {}).get("kassa_payment_intent"),
        attempt_id=(data.get("metadata") or {}).get("kassa_attempt"),
    )


def payment_intent_params(
    credential,
    *,
    amount: int,
    currency: str,
    customer_id: str,
    payment_method_id: str,
    kassa_id: str,
    attempt_id: str,
    off_session: bool = False,
    setup_future_usage: str | None = None,
) -> dict:
    """The processor's ``payment_intents.create`` parameters for one confirm.

    ``setup_future_usage`` (a card kept for later) is sent to real Stripe, which then sets the card up
    for that use (Strong Customer Authentication: a card kept for ``off_session`` charges is
    authenticated now, while the payer is there). localstripe refuses the parameter, so it is left
    out there.

    The metadata names the Kassa PaymentIntent and the attempt (``kassa_attempt``, the attempt's public id, also
    its idempotency key): an answer lost on the way back is found by the attempt that made it
    (``payment_intent_find``), never mistaken for another attempt's charge of the same PaymentIntent.
    """
    params = {
        "amount": amount,
        "currency": currency,
        "customer": customer_id,
        "payment_method": payment_method_id,
        "confirm": True,
        # Descriptive data lives in Kassa's rows and in metadata (localstripe refuses description & co).
        "metadata": {"kassa_payment_intent": kassa_id, "kassa_attempt": attempt_id},
    }
    if off_session:
        params["off_session"] = True
    if setup_future_usage and not _localstripe(credential):
        params["setup_future_usage"] = setup_future_usage
    return params


def payment_intent_confirm(
    credential,
    *,
    amount: int,
    currency: str,
    customer_id: str,
    payment_method_id: str,
    idempotency_key: str,
    kassa_id: str,
    attempt_id: str,
    off_session: bool = False,
    setup_future_usage: str | None = None,
) -> ProcessorPayment:
    """Create and confirm a PaymentIntent; a card refusal comes back as status ``failed``, not an exception."""
    params = payment_intent_params(
        credential,
        amount=amount,
        currency=currency,
        customer_id=customer_id,
        payment_method_id=payment_method_id,
        kassa_id=kassa_id,
        attempt_id=attempt_id,
        off_session=off_session,
        setup_future_usage=setup_future_usage,
    )
    try:
        # stripe-python's documented custom request (``raw_request``): the same request, headers, retries and typed
        # errors as ``payment_intents.create``, its answer read as the JSON it is, not made into StripeObjects first
        # only to be turned back into a dict (about a twentieth of a renewal's call to the processor).
        answer = client_for(credential).raw_request(
            "post", "/v1/payment_intents", **params, idempotency_key=idempotency_key
        )
    except stripe.CardError as exc:
        error = _card_error(exc)
        payment_intent = (exc.json_body or {}).get("error", {}).get("payment_intent") or {}
        return ProcessorPayment(
            id=payment_intent.get("id"),
            status="failed",
            error_code=error.code,
            decline_code=error.extra.get("decline_code"),
            error_message=error.message,
        )
    except stripe.IdempotencyError as exc:
        raise _processor_error(exc, "payment confirm", credential) from exc
    except stripe.InvalidRequestError as exc:
        # A definite "no" that is not about the card (an amount under Stripe's minimum, say): nothing was charged.
        logger.warning("Stripe refused a payment of merchant %s: %s", credential.merchant_id, describe_error(exc))
        return ProcessorPayment(
            id=None,
            status="failed",
            error_code="processor_refused",
            error_message="The payment processor refused this payment. Nothing was charged.",
        )
    except stripe.StripeError as exc:
        raise _processor_error(exc, "payment confirm", credential) from exc
    return _payment(answer.data)


def payment_intent_find(
    credential,
    *,
    customer_id: str,
    attempt_id: str,
    kassa_id: str,
    created_since: int,
    known: frozenset[str] = frozenset(),
) -> ProcessorPayment | None:
    """The processor's PaymentIntent made by Kassa's attempt ``attempt_id`` (its ``kassa_attempt`` metadata): what
    a lost answer did. None: the processor made none, so nothing was charged.

    Only the attempt's own id decides: a PaymentIntent (an invoice's, retried by dunning) has several attempts,
    and another attempt's charge (a decline whose id Kassa never learnt, say) is not this one's. A PaymentIntent
    made before attempts were named in metadata (no ``kassa_attempt``) is matched, as it was then, by Kassa's
    PaymentIntent ``kassa_id`` among those no other attempt recorded (``known``).

    Real Stripe lists by customer and creation time. localstripe (``STRIPE_API_BASE`` set) refuses any filter, so
    there every PaymentIntent of the test server is read.
    """
    params: dict = {"limit": 100}
    if not settings.STRIPE_API_BASE:
        params.update(customer=customer_id, created={"gte": created_since})
    try:
        for intent in client_for(credential).v1.payment_intents.list(params=params).auto_paging_iter():
            data = intent.to_dict()
            metadata = data.get("metadata") or {}
            if metadata.get("kassa_attempt") == attempt_id:
                return _payment(data)
            unnamed = not metadata.get("kassa_attempt")
            if unnamed and metadata.get("kassa_payment_intent") == kassa_id and data["id"] not in known:
                return _payment(data)
    except stripe.StripeError as exc:
        raise _processor_error(exc, "payment lookup", credential) from exc
    return None


def payment_intent_retrieve(credential, processor_id: str) -> ProcessorPayment:
    try:
        return _payment(client_for(credential).v1.payment_intents.retrieve(processor_id).to_dict())
    except stripe.StripeError as exc:
        raise _processor_error(exc, "payment retrieve", credential) from exc


def payment_intent_cancel(credential, processor_id: str) -> ProcessorPayment:
    try:
        return _payment(client_for(credential).v1.payment_intents.cancel(processor_id).to_dict())
    except stripe.StripeError as exc:
        raise _processor_error(exc, "payment cancel", credential) from exc


def refund_create(
    credential, *, payment_intent_id: str, amount: int, idempotency_key: str, kassa_id: str
) -> ProcessorRefund:
    try:
        refund = client_for(credential).v1.refunds.create(
            params={"payment_intent": payment_intent_id, "amount": amount, "metadata": {"kassa_refund": kassa_id}},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.IdempotencyError as exc:
        raise _processor_error(exc, "refund", credential) from exc
    except stripe.InvalidRequestError as exc:
        # A definite "no" (already refunded at Stripe, disputed …): the refund failed and frees its amount.
        logger.warning("Stripe refused a refund of merchant %s: %s", credential.merchant_id, describe_error(exc))
        return ProcessorRefund(id=None, status="failed", failure_reason="The payment processor refused this refund.")
    except stripe.StripeError as exc:
        raise _processor_error(exc, "refund", credential) from exc
    return ProcessorRefund(id=refund.id, status=refund.status or "pending")


def refund_retrieve(credential, processor_id: str) -> ProcessorRefund:
    try:
        refund = client_for(credential).v1.refunds.retrieve(processor_id)
    except stripe.StripeError as exc:
        raise _processor_error(exc, "refund retrieve", credential) from exc
    return _refund(refund.to_dict())


def _refund(data: dict) -> ProcessorRefund:
    """The processor's refund as Kassa records it: its id, status and, for a failed one, Stripe's reason
    (``expired_or_canceled_card``, ``lost_or_stolen_card``, ``unknown`` …)."""
    return ProcessorRefund(
        id=data["id"], status=data.get("status") or "pending", failure_reason=data.get("failure_reason")
    )


def refund_find(credential, *, payment_intent_id: str, kassa_id: str) -> ProcessorRefund | None:
    """The processor's refund of ``payment_intent_id`` that Kassa's refund ``kassa_id`` made (its ``kassa_refund``
    metadata), if it made one: what a refund whose answer never came did. None: the processor has no such refund,
    so nothing was refunded. Every refund of the payment is read (a payment has few), newest first."""
    params = {"payment_intent": payment_intent_id, "limit": 100}
    try:
        for refund in client_for(credential).v1.refunds.list(params=params).auto_paging_iter():
            data = refund.to_dict()
            if (data.get("metadata") or {}).get("kassa_refund") == kassa_id:
                return _refund(data)
    except stripe.StripeError as exc:
        raise _processor_error(exc, "refund lookup", credential) from exc
    return None


# --- inbound webhooks -------------------------------------------------------------


def processor_event_verify(payload: bytes, signature: str, secret: str, *, tolerance: int) -> dict:
    """The event Stripe signed, or InvalidRequest if the signature does not hold (or is too old).

    https://docs.stripe.com/webhooks#verify-events
    """
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise InvalidRequest(
            "The Stripe-Signature header does not match this merchant's signing secret, or is too old.",
            code="signature_invalid",
        ) from None
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidRequest("The event is not JSON.", code="event_invalid") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise InvalidRequest("The event has no id or type.", code="event_invalid")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        # Every Stripe event carries its object under data.object.
        raise InvalidRequest("The event's data.object is not an object.", code="event_invalid")
    return event


# --- stripe-python's typed request parameters ---------------------------------


@functools.cache
def typed_params(name: str) -> type:
    """stripe-python's TypedDict of one operation's request parameters, by its name under ``stripe.params``.

    ``"ProductCreateParams"``, ``"checkout.SessionCreateParams"``: what the SDK
    types ``params=`` with, and so the names Stripe has for that operation.
    """
    found = stripe.params
    for part in name.split("."):
        found = getattr(found, part)
    return found


@functools.cache
def typed_param_names(name: str) -> frozenset[str]:
    """The top-level parameter names of ``typed_params(name)``, without the SDK's request options (``api_key`` …)."""
    return frozenset(typed_params(name).__annotations__) - frozenset(stripe.RequestOptions.__annotations__)
