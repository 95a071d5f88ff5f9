"""Saving cards through checkout (issue 14): setup-mode sessions, and payments with ``setup_future_usage``.

Through stripe-python, unmodified, against localstripe; the payer's part is the hosted page's JSON call
(its Chromium side is in tests/browser/test_saved_cards.py).
"""

import json
import re
from datetime import timedelta

import pytest
import stripe

from billing.checkout import services as checkout
from billing.hosted import framing
from billing.models import CheckoutSession, Customer, PaymentIntent, PaymentMethod
from billing.payments import services as payments
from kassa import gateway
from merchants.selectors import processor_credential_for
from webhooks.models import Event


@pytest.fixture
def api(kassa, paying_shop):
    return kassa(paying_shop.secret_key.secret)


@pytest.fixture
def tea(api):
    return api.v1.prices.create(params={"product_data": {"name": "Green tea"}, "currency": "eur", "unit_amount": 1250})


def _pay_page(client, session_id: str, body: dict):
    """What the hosted page's script posts (a Stripe.js token and the payer's details)."""
    session = CheckoutSession.objects.get(public_id=session_id)
    return client.post(
        f"/pay/session/{session_id}/pay",
        json.dumps(body),
        content_type="application/json",
        HTTP_X_KASSA_PAGE_TOKEN=framing.page_token(session),
        HTTP_ORIGIN="http://testserver",
    )


def _event_types() -> list[str]:
    return list(Event.objects.order_by("id").values_list("type", flat=True))


# --- setup mode ---------------------------------------------------------------------------


def test_a_setup_session_saves_a_card_then_it_is_charged_off_session(api, client, card_token):
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "setup",
            "customer_email": "ann@example.com",
            "customer_creation": "always",
            "success_url": "https://shop.example/card-saved?session={CHECKOUT_SESSION_ID}",
        }
    )
    assert isinstance(session, stripe.checkout.Session)
    assert (session.mode, session.status, session.payment_status) == ("setup", "open", "no_payment_required")
    assert (session.amount_total, session.amount_subtotal, session.currency) == (None, None, None)
    assert (session.setup_intent, session.payment_intent, session.customer) == (None, None, None)
    assert session.customer_creation == "always"
    assert api.v1.checkout.sessions.line_items.list(session.id).data == []

    page = client.get(f"/pay/session/{session.id}").content.decode()
    assert "Save card" in page
    assert "Save your card" in page
    assert "Your order" not in page

    answer = _pay_page(client, session.id, {"token": card_token(), "email": "ann@example.com", "name": "Ann"})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["message"]) == ("succeeded", "Card saved")

    done = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["customer"]})
    assert (done.status, done.payment_status, done.url, done.setup_intent) == (
        "complete",
        "no_payment_required",
        None,
        None,
    )
    assert done.customer.email == "ann@example.com"
    [card] = api.v1.payment_methods.list(params={"customer": done.customer.id}).data
    assert (card.customer, card.card.last4, card.card.exp_year) == (done.customer.id, "4242", 2034)
    assert card.billing_details.name == "Ann"
    assert [c.id for c in api.v1.customers.payment_methods.list(done.customer.id).data] == [card.id]
    types = _event_types()
    assert "payment_method.attached" in types
    assert types.index("payment_method.attached") < types.index("checkout.session.completed")
    completed = Event.objects.get(type="checkout.session.completed").data["object"]
    assert (completed["mode"], completed["customer"]) == ("setup", done.customer.id)

    # The success page sends the payer to the merchant's success_url.
    success = client.get(f"/pay/session/{session.id}/complete")
    assert success["Location"] == f"https://shop.example/card-saved?session={session.id}"

    # Later, without the payer: the saved card is charged off session.
    charged = api.v1.payment_intents.create(
        params={
            "amount": 900,
            "currency": "eur",
            "customer": done.customer.id,
            "payment_method": card.id,
            "confirm": True,
            "off_session": True,
        }
    )
    assert (charged.status, charged.amount_received, charged.payment_method) == ("succeeded", 900, card.id)
    assert PaymentIntent.objects.get(public_id=charged.id).attempts.get().off_session is True


def test_a_setup_session_for_a_known_customer_saves_the_card_there(api, client, card_token):
    customer = api.v1.customers.create(params={"email": "known@example.com", "name": "Known"})
    api.v1.customers.create(params={"email": "typed@example.com"})
    session = api.v1.checkout.sessions.create(
        params={"mode": "setup", "customer": customer.id, "currency": "usd", "success_url": "https://shop.example/ok"}
    )
    assert (session.customer, session.currency) == (customer.id, "usd")
    assert _pay_page(client, session.id, {"token": card_token(), "email": "typed@example.com"}).status_code == 200
    [card] = api.v1.payment_methods.list(params={"customer": customer.id}).data
    assert card.card.last4 == "4242"
    assert api.v1.checkout.sessions.retrieve(session.id).customer == customer.id


def test_a_card_refused_when_saved_leaves_the_session_open(api, client, card_token):
    session = api.v1.checkout.sessions.create(params={"mode": "setup", "success_url": "https://shop.example/ok"})
    answer = _pay_page(client, session.id, {"token": card_token("4000000000000002"), "email": "ann@example.com"})
    assert answer.status_code == 402
    assert (answer.json()["code"], answer.json()["message"]) == (
        "card_declined",
        "Your card was declined. Try another card.",
    )
    again = api.v1.checkout.sessions.retrieve(session.id)
    assert (again.status, again.url is not None) == ("open", True)
    assert not PaymentMethod.objects.exists()
    assert "checkout.session.completed" not in _event_types()
    # Another card then saves.
    assert _pay_page(client, session.id, {"token": card_token(), "email": "ann@example.com"}).status_code == 200
    assert api.v1.checkout.sessions.retrieve(session.id).status == "complete"


def test_a_setup_session_can_be_expired_and_then_saves_nothing(api, client, card_token):
    session = api.v1.checkout.sessions.create(params={"mode": "setup", "success_url": "https://shop.example/ok"})
    assert api.v1.checkout.sessions.expire(session.id).status == "expired"
    answer = _pay_page(client, session.id, {"token": card_token(), "email": "ann@example.com"})
    assert answer.status_code == 410
    assert not PaymentMethod.objects.exists()


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"mode": "setup", "line_items": [{"price": "{tea}"}]}, "line_items"),
        ({"mode": "setup", "payment_intent_data": {"setup_future_usage": "off_session"}}, "payment_intent_data"),
        ({"mode": "setup", "currency": "xyz"}, "currency"),
        ({"mode": "setup", "customer_creation": "never"}, "customer_creation"),
        ({"mode": "payment", "line_items": [{"price": "{tea}"}], "currency": "usd"}, "currency"),
        (
            {"mode": "payment", "line_items": [{"price": "{tea}"}], "payment_intent_data": {"setup_future_usage": "x"}},
            "payment_intent_data[setup_future_usage]",
        ),
        (
            {
                "mode": "payment",
                "line_items": [{"price": "{tea}"}],
                "payment_intent_data": {"capture_method": "manual"},
            },
            "payment_intent_data[capture_method]",
        ),
    ],
)
def test_setup_parameters_are_checked(api, tea, params, param):
    params = json.loads(json.dumps(params).replace("{tea}", tea.id))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(params=params)
    assert (exc.value.http_status, exc.value.param) == (400, param)
    assert api.v1.checkout.sessions.list().data == []


# --- payments that save their card ------------------------------------------------------------


def test_a_payment_with_setup_future_usage_keeps_its_card(api, tea, client, card_token):
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea.id}],
            "payment_intent_data": {"setup_future_usage": "off_session"},
        }
    )
    page = client.get(f"/pay/session/{session.id}").content.decode()
    assert "Shop will save this card for your future payments." in page
    answer = _pay_page(client, session.id, {"token": card_token(), "email": "keep@example.com"})
    assert answer.status_code == 200, answer.content
    paid = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert paid.payment_intent.setup_future_usage == "off_session"
    [card] = api.v1.payment_methods.list(params={"customer": paid.customer}).data
    assert (card.id, card.customer) == (paid.payment_intent.payment_method, paid.customer)
    attached = Event.objects.get(type="payment_method.attached")
    assert attached.data["object"]["customer"] == paid.customer
    # Charged again later, off session.
    again = api.v1.payment_intents.create(
        params={
            "amount": 500,
            "currency": "eur",
            "customer": paid.customer,
            "payment_method": card.id,
            "confirm": True,
            "off_session": True,
        }
    )
    assert again.status == "succeeded"


def test_without_setup_future_usage_the_card_pays_once_as_at_stripe(api, tea, client, card_token):
    session = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    page = client.get(f"/pay/session/{session.id}").content.decode()
    assert "save this card" not in page
    assert _pay_page(client, session.id, {"token": card_token(), "email": "once@example.com"}).status_code == 200
    paid = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert paid.payment_intent.setup_future_usage is None
    assert api.v1.payment_methods.list(params={"customer": paid.customer}).data == []
    card = api.v1.payment_methods.retrieve(paid.payment_intent.payment_method)
    assert (card.customer, card.card.last4) == (None, "4242")
    assert "payment_method.attached" not in _event_types()
    for call in (
        lambda: api.v1.payment_intents.create(
            params={
                "amount": 500,
                "currency": "eur",
                "customer": paid.customer,
                "payment_method": card.id,
                "confirm": True,
            }
        ),
        lambda: api.v1.payment_methods.attach(card.id, params={"customer": paid.customer}),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert exc.value.code == "payment_method_unexpected_state"
        assert "without Customer attachment" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.customers.update(paid.customer, params={"invoice_settings": {"default_payment_method": card.id}})
    assert exc.value.param == "invoice_settings[default_payment_method]"


def test_a_declined_payment_with_setup_future_usage_saves_nothing(api, tea, client, card_token):
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea.id}],
            "payment_intent_data": {"setup_future_usage": "on_session"},
        }
    )
    # 4000000000000341: saved at the processor, then declined when charged.
    answer = _pay_page(client, session.id, {"token": card_token("4000000000000341"), "email": "no@example.com"})
    assert answer.status_code == 402
    assert not PaymentMethod.objects.filter(customer__isnull=False).exists()
    assert "payment_method.attached" not in _event_types()


def test_a_payment_link_with_setup_future_usage(api, tea, client, card_token):
    link = api.v1.payment_links.create(
        params={
            "line_items": [{"price": tea.id, "quantity": 1}],
            "payment_intent_data": {"setup_future_usage": "off_session"},
        }
    )
    assert link.payment_intent_data.setup_future_usage == "off_session"
    assert link.payment_intent_data.capture_method is None
    assert api.v1.payment_links.retrieve(link.id).payment_intent_data.setup_future_usage == "off_session"

    opened = client.get(f"/pay/{link.url.rsplit('/', 1)[1]}")
    session_id = opened["Location"].split("/")[-1]
    assert CheckoutSession.objects.get(public_id=session_id).setup_future_usage == "off_session"
    assert _pay_page(client, session_id, {"token": card_token(), "email": "link@example.com"}).status_code == 200
    paid = api.v1.checkout.sessions.retrieve(session_id, params={"expand": ["payment_intent"]})
    assert paid.payment_intent.setup_future_usage == "off_session"
    [card] = api.v1.payment_methods.list(params={"customer": paid.customer}).data
    assert card.id == paid.payment_intent.payment_method

    on = api.v1.payment_links.update(link.id, params={"payment_intent_data": {"setup_future_usage": "on_session"}})
    assert on.payment_intent_data.setup_future_usage == "on_session"
    unset = api.v1.payment_links.update(link.id, params={"payment_intent_data": {"setup_future_usage": ""}})
    assert unset.payment_intent_data is None
    plain = api.v1.payment_links.create(params={"line_items": [{"price": tea.id}]})
    assert plain.payment_intent_data is None
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_links.create(
            params={"line_items": [{"price": tea.id}], "payment_intent_data": {"setup_future_usage": "always"}}
        )
    assert exc.value.param == "payment_intent_data[setup_future_usage]"


def test_off_session_needs_confirm(api):
    customer = api.v1.customers.create(params={"email": "x@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.create(
            params={"amount": 500, "currency": "eur", "customer": customer.id, "off_session": True}
        )
    assert exc.value.param == "off_session"


def test_setup_future_usage_is_sent_to_real_stripe_and_left_out_for_localstripe(paying_shop, settings):
    """Real Stripe sets a kept card up for later (SCA) only when told; localstripe refuses the parameter."""
    credential = processor_credential_for(paying_shop.merchant, False)
    params = {
        "amount": 500,
        "currency": "eur",
        "customer_id": "cus_x",
        "payment_method_id": "card_x",
        "kassa_id": "pi_x",
        "attempt_id": "payatt_x",
    }
    assert "setup_future_usage" not in gateway.payment_intent_params(
        credential, setup_future_usage="off_session", **params
    )
    settings.STRIPE_API_BASE = ""  # real Stripe
    sent = gateway.payment_intent_params(credential, setup_future_usage="off_session", **params)
    assert sent["setup_future_usage"] == "off_session"
    assert "setup_future_usage" not in gateway.payment_intent_params(credential, setup_future_usage=None, **params)


def test_a_card_kept_after_3d_secure(api, tea, client, card_token, stripe_backend):
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea.id}],
            "payment_intent_data": {"setup_future_usage": "off_session"},
        }
    )
    body = _pay_page(client, session.id, {"token": card_token("4000002500003155"), "email": "t@example.com"}).json()
    assert body["status"] == "requires_action"
    intent = PaymentIntent.objects.get()
    stripe_backend.authenticate(intent.processor_id, body["client_secret"], success=True)
    row = CheckoutSession.objects.get(public_id=session.id)
    synced = client.post(
        f"/pay/session/{session.id}/sync",
        "{}",
        content_type="application/json",
        HTTP_X_KASSA_PAGE_TOKEN=framing.page_token(row),
        HTTP_ORIGIN="http://testserver",
    )
    assert synced.json()["status"] == "succeeded"
    paid = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    [card] = api.v1.payment_methods.list(params={"customer": paid.customer}).data
    assert card.id == paid.payment_intent.payment_method


# --- single-use cards leave the processor once their payment is settled ------------------------


def _processor_cards(stripe_backend, customer_id: str) -> list[str]:
    """The cards the processor holds on the customer's processor record."""
    processor_id = Customer.objects.get(public_id=customer_id).processor_id
    answer = json.loads(stripe_backend.request("GET", f"/v1/customers/{processor_id}/sources"))
    return [source["id"] for source in answer["data"]]


@pytest.fixture
def worker(emails_on_commit):
    """What commits queue runs in place, as a worker would (the card release task)."""


def test_a_card_that_paid_once_leaves_the_processor(api, tea, client, card_token, stripe_backend, worker):
    session = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    # 4000000000000341: held at the processor, then declined when charged; then a card that pays.
    assert (
        _pay_page(client, session.id, {"token": card_token("4000000000000341"), "email": "o@example.com"}).status_code
        == 402
    )
    customer = CheckoutSession.objects.get(public_id=session.id).customer.public_id
    assert len(_processor_cards(stripe_backend, customer)) == 1  # the payer may still try again with it
    assert _pay_page(client, session.id, {"token": card_token(), "email": "o@example.com"}).status_code == 200
    assert _processor_cards(stripe_backend, customer) == []
    # Kassa's record stays: the payment shows the card it was paid with.
    paid = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert api.v1.payment_methods.retrieve(paid.payment_intent.payment_method).card.last4 == "4242"


def test_a_kept_card_stays_at_the_processor_and_the_declined_one_goes(
    api, tea, client, card_token, stripe_backend, worker
):
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea.id}],
            "payment_intent_data": {"setup_future_usage": "off_session"},
        }
    )
    assert (
        _pay_page(client, session.id, {"token": card_token("4000000000000341"), "email": "k@example.com"}).status_code
        == 402
    )
    assert _pay_page(client, session.id, {"token": card_token(), "email": "k@example.com"}).status_code == 200
    paid = api.v1.checkout.sessions.retrieve(session.id)
    [kept] = api.v1.payment_methods.list(params={"customer": paid.customer}).data
    assert _processor_cards(stripe_backend, paid.customer) == [
        PaymentMethod.objects.get(public_id=kept.id).processor_id
    ]


def test_an_expired_sessions_cards_leave_the_processor(api, tea, client, card_token, stripe_backend, worker):
    session = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    assert (
        _pay_page(client, session.id, {"token": card_token("4000000000000341"), "email": "e@example.com"}).status_code
        == 402
    )
    customer = CheckoutSession.objects.get(public_id=session.id).customer.public_id
    assert len(_processor_cards(stripe_backend, customer)) == 1
    api.v1.checkout.sessions.expire(session.id)
    assert _processor_cards(stripe_backend, customer) == []


def test_a_session_expired_by_time_releases_its_cards(api, tea, client, card_token, stripe_backend, worker):
    session = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    assert (
        _pay_page(client, session.id, {"token": card_token("4000000000000341"), "email": "t@example.com"}).status_code
        == 402
    )
    customer = CheckoutSession.objects.get(public_id=session.id).customer.public_id
    row = CheckoutSession.objects.get(public_id=session.id)
    assert checkout.checkout_sessions_expire_due(now=row.expires_at + timedelta(seconds=1)) == 1
    assert _processor_cards(stripe_backend, customer) == []


def test_a_payers_first_card_leaves_the_processor_when_another_payer_pays(
    api, tea, client, card_token, stripe_backend, worker
):
    session = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    assert (
        _pay_page(
            client, session.id, {"token": card_token("4000000000000341"), "email": "first@example.com"}
        ).status_code
        == 402
    )
    first = CheckoutSession.objects.get(public_id=session.id).customer.public_id
    assert _pay_page(client, session.id, {"token": card_token(), "email": "second@example.com"}).status_code == 200
    second = CheckoutSession.objects.get(public_id=session.id).customer.public_id
    assert first != second
    assert _processor_cards(stripe_backend, first) == []
    assert _processor_cards(stripe_backend, second) == []


def test_releasing_twice_is_safe(api, tea, client, card_token, stripe_backend, worker):
    session = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    assert _pay_page(client, session.id, {"token": card_token(), "email": "twice@example.com"}).status_code == 200
    intent = PaymentIntent.objects.get()
    assert payments.payment_intent_cards_release(payment_intent=intent) == 1  # already gone there: counts as removed
    assert _processor_cards(stripe_backend, intent.customer.public_id) == []


# --- setup mode: a second tab, an expiry, while the card is being saved at the processor -----------


def _meanwhile(monkeypatch, action):
    """Run ``action`` once while the hosted page's card is being attached at the processor (a second tab)."""
    real = payments.payment_method_create_from_token
    pending = [action]

    def attach_then(**params):
        if pending:
            pending.pop()()
        return real(**params)

    monkeypatch.setattr(payments, "payment_method_create_from_token", attach_then)


def test_setup_a_second_tab_declined_with_another_email_leaves_the_first_payer(api, client, card_token, monkeypatch):
    session = api.v1.checkout.sessions.create(params={"mode": "setup"})

    def second_tab():
        answer = _pay_page(client, session.id, {"token": card_token("4000000000000002"), "email": "two@example.com"})
        assert answer.status_code == 402

    _meanwhile(monkeypatch, second_tab)
    assert _pay_page(client, session.id, {"token": card_token(), "email": "one@example.com"}).status_code == 200
    done = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["customer"]})
    assert (done.status, done.customer.email, done.customer_details.email) == (
        "complete",
        "one@example.com",
        "one@example.com",
    )
    [card] = api.v1.payment_methods.list(params={"customer": done.customer.id}).data
    assert CheckoutSession.objects.get(public_id=session.id).saved_payment_method.public_id == card.id
    completed = Event.objects.get(type="checkout.session.completed").data["object"]
    assert (completed["customer"], completed["customer_details"]["email"]) == (done.customer.id, "one@example.com")


def test_setup_expired_while_the_card_is_saved_stays_expired_and_keeps_no_card(
    api, client, card_token, monkeypatch, stripe_backend
):
    session = api.v1.checkout.sessions.create(params={"mode": "setup", "customer_email": "late@example.com"})
    _meanwhile(monkeypatch, lambda: api.v1.checkout.sessions.expire(session.id))
    answer = _pay_page(client, session.id, {"token": card_token(), "email": "late@example.com"})
    assert answer.status_code == 410
    assert (answer.json()["status"], answer.json()["code"]) == ("failed", "checkout_session_not_open")
    done = api.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "expired"
    customer = CheckoutSession.objects.get(public_id=session.id).customer.public_id
    assert api.v1.payment_methods.list(params={"customer": customer}).data == []
    assert _processor_cards(stripe_backend, customer) == []
    types = [t for t in _event_types() if t.startswith(("checkout.", "payment_method."))]
    assert types == ["checkout.session.expired", "payment_method.attached", "payment_method.detached"]


def test_a_kept_card_once_detached_is_refused_as_detached(api, tea, client, card_token):
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea.id}],
            "payment_intent_data": {"setup_future_usage": "off_session"},
        }
    )
    assert _pay_page(client, session.id, {"token": card_token(), "email": "k@example.com"}).status_code == 200
    paid = api.v1.checkout.sessions.retrieve(session.id)
    [card] = api.v1.payment_methods.list(params={"customer": paid.customer}).data
    api.v1.payment_methods.detach(card.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.create(
            params={
                "amount": 500,
                "currency": "eur",
                "customer": paid.customer,
                "payment_method": card.id,
                "confirm": True,
            }
        )
    assert exc.value.code == "payment_method_unexpected_state"
    assert "detached" in exc.value.user_message


def test_the_dashboard_shows_the_card_a_session_saved(api, tea, client, card_token, paying_shop):
    setup = api.v1.checkout.sessions.create(params={"mode": "setup", "customer_email": "d@example.com"})
    kept = api.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea.id}],
            "payment_intent_data": {"setup_future_usage": "off_session"},
        }
    )
    once = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    assert _pay_page(client, setup.id, {"token": card_token(), "email": "d@example.com"}).status_code == 200
    assert (
        _pay_page(client, kept.id, {"token": card_token("5555555555554444"), "email": "p@example.com"}).status_code
        == 200
    )
    assert _pay_page(client, once.id, {"token": card_token(), "email": "o@example.com"}).status_code == 200
    client.force_login(paying_shop.owner)

    def saved_card(session_id: str) -> str:
        row = CheckoutSession.objects.get(public_id=session_id)
        page = client.get(f"/admin/billing/checkoutsession/{row.pk}/change/")
        assert page.status_code == 200
        field = re.search(r'field-saved_card.*?<div class="readonly">(.*?)</div>', page.content.decode(), re.S)
        return field.group(1).strip()

    assert "•••• 4242" in saved_card(setup.id)
    assert "•••• 4444" in saved_card(kept.id)
    assert saved_card(once.id) == "—"
