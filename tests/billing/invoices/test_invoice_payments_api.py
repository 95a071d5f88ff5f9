"""/v1/invoice_payments through stripe-python, unmodified, against a live Kassa and localstripe.

Every invoice's ``payments.url`` names this list; each payment is the PaymentIntent that collected (or tried to
collect) the invoice.
"""

import pytest
import stripe

from tests import factories

DECLINED = "4000000000000341"  # attaches, then every charge is declined


def _open_invoice(api, customer, amount: int = 800) -> stripe.Invoice:
    invoice = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": amount, "currency": "eur", "invoice": invoice.id}
    )
    return api.v1.invoices.finalize_invoice(invoice.id)


def _paid_invoice(api, customer, amount: int = 800) -> stripe.Invoice:
    return api.v1.invoices.pay(_open_invoice(api, customer, amount).id)


def test_an_invoice_shows_its_payment_from_the_first_attempt_even_a_declined_one(api, customer, save_card):
    """An invoice's rendering lists its payments once it was attempted (an invoice never attempted has none to
    read, and reads none); a declined charge is an open payment of the invoice, as at Stripe."""
    opened = _open_invoice(api, customer, 700)
    assert (opened.attempted, opened.payments.data) == (False, [])
    save_card(DECLINED)
    with pytest.raises(stripe.CardError):
        api.v1.invoices.pay(opened.id)
    declined = api.v1.invoices.retrieve(opened.id)
    [payment] = declined.payments.data
    assert (declined.attempted, declined.status, payment.status, payment.amount_requested) == (
        True,
        "open",
        "open",
        700,
    )
    assert [p.id for p in api.v1.invoice_payments.list(params={"invoice": opened.id}).data] == [payment.id]


def test_an_invoices_payments_listed_retrieved_and_filtered(api, customer, save_card):
    save_card(DECLINED)
    declined = _open_invoice(api, customer, 700)
    with pytest.raises(stripe.CardError):
        api.v1.invoices.pay(declined.id)
    # Paid outside Kassa after the decline: the card payment that was waiting is canceled.
    api.v1.invoices.pay(declined.id, params={"paid_out_of_band": True})
    good = save_card()
    paid = _paid_invoice(api, customer, 900)

    listed = api.v1.invoice_payments.list(params={"invoice": paid.id})
    assert isinstance(listed, stripe.ListObject)
    [payment] = listed.data
    assert isinstance(payment, stripe.InvoicePayment)
    assert payment.id == paid.payments.data[0].id
    assert (payment.invoice, payment.status, payment.amount_requested, payment.amount_paid, payment.currency) == (
        paid.id,
        "paid",
        900,
        900,
        "eur",
    )
    assert (payment.livemode, listed.has_more, listed.url) == (False, False, "/v1/invoice_payments")
    assert payment.status_transitions.paid_at is not None

    [canceled] = api.v1.invoice_payments.list(params={"invoice": declined.id}).data
    assert (canceled.status, canceled.amount_paid) == ("canceled", None)
    assert canceled.status_transitions.canceled_at is not None

    # Newest first, as Stripe lists; filtered by status and by the PaymentIntent.
    everything = api.v1.invoice_payments.list()
    assert [p.id for p in everything.data] == [payment.id, canceled.id]
    assert [p.id for p in api.v1.invoice_payments.list(params={"status": "canceled"}).data] == [canceled.id]
    assert api.v1.invoice_payments.list(params={"status": "open"}).data == []
    intent_id = payment.payment.payment_intent
    by_intent = api.v1.invoice_payments.list(
        params={"payment": {"type": "payment_intent", "payment_intent": intent_id}}
    )
    assert [p.id for p in by_intent.data] == [payment.id]
    by_type = api.v1.invoice_payments.list(params={"payment": {"type": "payment_intent"}})
    assert [p.id for p in by_type.data] == [payment.id, canceled.id]

    # Retrieved by id, the same object; the PaymentIntent expanded on request.
    assert api.v1.invoice_payments.retrieve(payment.id).to_dict() == payment.to_dict()
    expanded = api.v1.invoice_payments.retrieve(payment.id, params={"expand": ["payment.payment_intent"]})
    assert isinstance(expanded.payment.payment_intent, stripe.PaymentIntent)
    assert (expanded.payment.payment_intent.id, expanded.payment.payment_intent.payment_method) == (intent_id, good.id)
    listed_expanded = api.v1.invoice_payments.list(
        params={"invoice": paid.id, "expand": ["data.payment.payment_intent"]}
    )
    assert listed_expanded.data[0].payment.payment_intent.status == "succeeded"


def test_pages(api, customer, save_card):
    save_card()
    payments = [_paid_invoice(api, customer).payments.data[0].id for _ in range(3)]
    newest_first = list(reversed(payments))
    first = api.v1.invoice_payments.list(params={"limit": 2})
    assert ([p.id for p in first.data], first.has_more) == (newest_first[:2], True)
    rest = api.v1.invoice_payments.list(params={"limit": 2, "starting_after": first.data[-1].id})
    assert ([p.id for p in rest.data], rest.has_more) == (newest_first[2:], False)
    back = api.v1.invoice_payments.list(params={"limit": 2, "ending_before": rest.data[0].id})
    assert [p.id for p in back.data] == newest_first[:2]
    assert [p.id for p in api.v1.invoice_payments.list(params={"limit": 2}).auto_paging_iter()] == newest_first
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.invoice_payments.list(params={"starting_after": "inpay_nope"})
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (404, "resource_missing", "starting_after")


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"payment": {"type": "payment_record"}}, "payment[type]", "payment records"),
        ({"payment": {"type": "payment_intent", "payment_record": "pr_1"}}, "payment[payment_record]", "Kassa"),
        ({"payment": {"payment_intent": "pi_1"}}, "payment[type]", "Missing"),
        ({"status": "draft"}, "status", "status"),
        ({"limit": 101}, "limit", "limit"),
        ({"expand": ["data.invoice"]}, "expand", "data.invoice"),
        ({"customer": "cus_1"}, "customer", "customer"),
    ],
)
def test_bad_parameters_are_refused_naming_them(api, params, param, words):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.invoice_payments.list(params=params)
    assert (exc.value.http_status, exc.value.param) == (400, param)
    assert exc.value.error.type == "invalid_request_error"
    assert words in exc.value.user_message


def test_an_unknown_id_is_missing(api):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.invoice_payments.retrieve("inpay_nope")
    assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")
    assert exc.value.user_message == "No such invoice payment: 'inpay_nope'"


def test_only_the_merchants_keys_with_invoice_access_see_them(kassa, api, paying_shop, other_shop, customer, save_card):
    save_card()
    paid = _paid_invoice(api, customer)
    payment_id = paid.payments.data[0].id

    theirs = kassa(other_shop.secret_key.secret)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        theirs.v1.invoice_payments.retrieve(payment_id)
    assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")
    assert theirs.v1.invoice_payments.list().data == []
    assert theirs.v1.invoice_payments.list(params={"invoice": paid.id}).data == []

    live = kassa(factories.live_secret_key(paying_shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.invoice_payments.retrieve(payment_id)
    assert exc.value.http_status == 404
    assert "a similar object exists in test mode" in exc.value.user_message
    assert live.v1.invoice_payments.list().data == []

    for key in (
        paying_shop.publishable_key.secret,
        factories.restricted_key(paying_shop.merchant, {"payment_intents": "read"}),
    ):
        with pytest.raises(stripe.PermissionError):
            kassa(key).v1.invoice_payments.list()
        with pytest.raises(stripe.PermissionError):
            kassa(key).v1.invoice_payments.retrieve(payment_id)

    reader = kassa(factories.restricted_key(paying_shop.merchant, {"invoices": "read"}))
    assert reader.v1.invoice_payments.retrieve(payment_id).status == "paid"
    assert [p.id for p in reader.v1.invoice_payments.list().data] == [payment_id]
    # The PaymentIntent is another resource: expanding it needs its own permission.
    with pytest.raises(stripe.PermissionError) as exc:
        reader.v1.invoice_payments.retrieve(payment_id, params={"expand": ["payment.payment_intent"]})
    assert "payment_intents" in exc.value.user_message
