"""The dashboard's payments and refunds, and what another merchant or the other mode sees (real localstripe)."""

import json
import re
import uuid

import pytest
from django.utils import timezone

from billing.catalogue import services
from billing.checkout import services as checkout
from billing.models import PaymentIntent, PaymentLink, Price, Refund
from billing.payments import services as payments
from kassa.errors import CardError
from merchants.models import Membership
from tests import factories

LINKS = "/admin/billing/paymentlink/"
PAYMENTS = "/admin/billing/paymentintent/"


def _price(merchant, name, unit_amount, currency="eur", livemode=False, **options) -> Price:
    product = services.product_create(merchant=merchant, livemode=livemode, name=name)
    return services.price_create(
        merchant=merchant, livemode=livemode, product=product, currency=currency, unit_amount=unit_amount, **options
    )


def _link(merchant, unit_amount=2500, currency="eur", livemode=False, name="Tea") -> PaymentLink:
    price = _price(merchant, name, unit_amount, currency, livemode)
    return checkout.payment_link_create(
        merchant=merchant, livemode=livemode, line_items=[{"price": price, "quantity": 1}]
    )


def _paid(merchant, card_token, unit_amount=2500, currency="eur") -> PaymentIntent:
    session = checkout.checkout_session_from_link(
        now=timezone.now(), payment_link=_link(merchant, unit_amount, currency)
    )
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token(), email="p@example.com"
    )
    assert intent.status == "succeeded"
    return intent


def _link_form(**fields) -> dict:
    """What the add page posts with nothing filled in but its defaults."""
    data = {
        "after_completion_type": "hosted_confirmation",
        "after_completion_redirect_url": "",
        "after_completion_message": "",
        "email_collection": "on",
        "billing_address_collection": "auto",
        "amount": "",
        "amount_currency": "eur",
        "amount_description": "",
        **{f"quantity_{i}": "1" for i in range(5)},
    }
    data.update(fields)
    return data


def _change_url(obj) -> str:
    return f"/admin/billing/{obj._meta.model_name}/{obj.pk}/change/"


# --- isolation ---------------------------------------------------------------------


@pytest.fixture
def two_shops_with_payments(shop, other_shop):
    data = {}
    for owner_shop, email in ((shop, "buyer@shop.test"), (other_shop, "buyer@other.test")):
        merchant = owner_shop.merchant
        link = _link(merchant, name=f"{merchant.name} tea")
        session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
        intent = payments.payment_intent_create(
            now=timezone.now(), merchant=merchant, livemode=False, amount=700, currency="eur", receipt_email=email
        )
        data[merchant.name] = {"link": link, "session": session, "intent": intent, "email": email}
    return data


def test_another_merchants_links_and_payments_are_invisible(client, shop, two_shops_with_payments):
    mine, theirs = two_shops_with_payments["Shop"], two_shops_with_payments["Other"]
    client.force_login(shop.owner)
    for key in ("link", "session", "intent"):
        listing = client.get(f"/admin/billing/{mine[key]._meta.model_name}/")
        assert listing.status_code == 200
        assert _change_url(mine[key]) in listing.text
        assert _change_url(theirs[key]) not in listing.text
        assert theirs[key].public_id[:24] not in listing.text
        assert client.get(_change_url(mine[key])).status_code == 200
        # A forged URL with the other merchant's id finds nothing, exactly like a missing id.
        forged = client.get(_change_url(theirs[key]), follow=True)
        assert forged.redirect_chain == [("/admin/", 302)]
        assert theirs[key].public_id not in forged.text
    search = client.get(PAYMENTS, {"q": "buyer@other.test"})
    assert "0 results" in search.text
    assert theirs["intent"].public_id not in search.text
    assert "buyer@shop.test" in client.get(PAYMENTS, {"q": "buyer@shop.test"}).text
    # The custom pages too: another merchant's link cannot be switched off, their payment not refunded.
    assert client.post(f"{LINKS}{theirs['link'].pk}/activation/", {"active": "0"}).status_code == 404
    assert client.get(f"{PAYMENTS}{theirs['intent'].pk}/refund/").status_code == 404
    assert (
        client.post(f"{PAYMENTS}{theirs['intent'].pk}/refund/", {"request_key": _key(), "amount": "1.00"}).status_code
        == 404
    )
    theirs["link"].refresh_from_db()
    assert theirs["link"].active


def test_test_and_live_data_are_separate(client, shop):
    merchant = shop.merchant
    test_link = _link(merchant, name="Test tea")
    live_link = _link(merchant, name="Live tea", livemode=True)
    live_intent = payments.payment_intent_create(
        now=timezone.now(), merchant=merchant, livemode=True, amount=900, currency="eur", receipt_email="live@shop.test"
    )
    client.force_login(shop.owner)

    assert test_link.public_id in client.get(LINKS).text
    assert live_link.public_id not in client.get(LINKS).text
    assert "live@shop.test" not in client.get(PAYMENTS).text
    assert client.get(_change_url(live_intent), follow=True).redirect_chain == [("/admin/", 302)]
    assert "Live tea" not in client.get(f"{LINKS}add/").text

    client.post("/admin/switch/mode/", {"livemode": "1"})
    assert live_link.public_id in client.get(LINKS).text
    assert test_link.public_id not in client.get(LINKS).text
    assert "live@shop.test" in client.get(PAYMENTS).text
    add = client.get(f"{LINKS}add/")
    assert "Live tea" in add.text
    assert "Test tea" not in add.text
    client.post(f"{LINKS}add/", _link_form(amount="3.00", amount_description="Live tip"))
    made = PaymentLink.objects.get(line_items__price__product__name="Live tip")
    assert made.livemode
    assert not made.slug.startswith("test_")


# --- payments ----------------------------------------------------------------------


def test_payments_list_filters_by_status_and_date(client, paying_shop, card_token):
    merchant = paying_shop.merchant
    paid = _paid(merchant, card_token)
    waiting = payments.payment_intent_create(
        now=timezone.now(),
        merchant=merchant,
        livemode=False,
        amount=700,
        currency="eur",
        receipt_email="waiting@example.com",
    )
    client.force_login(paying_shop.owner)

    listing = client.get(PAYMENTS)
    assert listing.status_code == 200
    assert paid.public_id in listing.text
    assert waiting.public_id in listing.text
    assert "25.00 EUR" in listing.text
    assert "p@example.com" in listing.text
    assert "Succeeded" in listing.text
    assert "Incomplete" in listing.text
    assert "Requires Payment Method" not in listing.text  # the API's words stay in the API

    succeeded = client.get(PAYMENTS, {"status": "succeeded"})
    assert paid.public_id in succeeded.text
    assert waiting.public_id not in succeeded.text
    unpaid = client.get(PAYMENTS, {"status": "incomplete"})
    assert waiting.public_id in unpaid.text
    assert paid.public_id not in unpaid.text

    today = timezone.localdate(paid.created).isoformat()
    this_day = client.get(PAYMENTS, {"created_from": today, "created_to": today})
    assert paid.public_id in this_day.text
    long_ago = client.get(PAYMENTS, {"created_from": "2001-01-01", "created_to": "2001-01-02"})
    assert paid.public_id not in long_ago.text
    assert waiting.public_id not in long_ago.text

    found = client.get(PAYMENTS, {"q": "p@example.com"})
    assert paid.public_id in found.text
    assert waiting.public_id not in found.text
    assert paid.public_id in client.get(PAYMENTS, {"q": paid.public_id}).text


def test_a_payment_shows_its_timeline(client, paying_shop, card_token, stripe_backend):
    merchant = paying_shop.merchant
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=_link(merchant))
    with pytest.raises(CardError):
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token("4000000000000341"), email="p@example.com"
        )
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token("4000002500003155"), email="p@example.com"
    )
    assert intent.status == "requires_action"
    stripe_backend.authenticate(intent.processor_id, payments.processor_client_secret(intent), success=True)
    checkout.checkout_session_sync(now=timezone.now(), session=session)
    intent.refresh_from_db()
    assert intent.status == "succeeded"
    client.force_login(paying_shop.owner)

    page = client.get(_change_url(intent))
    assert page.status_code == 200
    timeline = page.text[page.text.index('id="kassa-timeline"') :]
    timeline = timeline[: timeline.index("</table>")]
    steps = ["Created", "Failed", "3-D Secure asked", "Succeeded"]
    positions = [timeline.index(f"<td>{step}</td>") for step in steps]
    assert positions == sorted(positions)
    assert "card_declined" in timeline
    assert "Stripe confirmed 25.00 EUR" in timeline
    assert "p@example.com" in page.text
    assert "Refund…" in page.text

    # A ledger: nothing to edit, add or delete.
    assert 'name="_save"' not in page.text
    assert 'name="status"' not in page.text
    assert client.post(_change_url(intent), {"status": "canceled"}).status_code == 403
    assert client.get(f"{PAYMENTS}add/").status_code == 403
    assert client.post(f"{PAYMENTS}{intent.pk}/delete/", {"post": "yes"}).status_code == 403
    intent.refresh_from_db()
    assert intent.status == "succeeded"


def _localstripe_refunded(stripe_backend, intent) -> int:
    remote = json.loads(stripe_backend.request("GET", f"/v1/payment_intents/{intent.processor_id}"))
    charge = remote["charges"]["data"][0]
    return charge["amount_refunded"]


def _key() -> str:
    """What the refund page puts in its hidden field: a fresh key per page shown."""
    return uuid.uuid4().hex


def test_partial_then_full_refund(client, paying_shop, card_token, stripe_backend):
    intent = _paid(paying_shop.merchant, card_token)
    client.force_login(paying_shop.owner)
    refund_url = f"{PAYMENTS}{intent.pk}/refund/"

    form = client.get(refund_url)
    assert form.status_code == 200
    assert 'value="25.00"' in form.text  # the default: what remains
    response = client.post(refund_url, {"request_key": _key(), "amount": "10.00", "reason": "requested_by_customer"})
    assert response.status_code == 302
    assert response["Location"] == _change_url(intent)
    refund = Refund.objects.get()
    assert (refund.amount, refund.currency, refund.reason, refund.status) == (
        1000,
        "eur",
        "requested_by_customer",
        "succeeded",
    )
    page = client.get(_change_url(intent))
    assert refund.public_id in page.text
    assert "Refund requested" in page.text
    assert "Requested by customer" in page.text
    assert "Refund…" in page.text  # 15.00 EUR left

    form = client.get(refund_url)
    assert 'value="15.00"' in form.text
    client.post(refund_url, {"request_key": _key(), "amount": "15.00", "reason": ""})
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [1000, 1500]
    assert _localstripe_refunded(stripe_backend, intent) == 2500

    page = client.get(_change_url(intent))
    assert "Refund…" not in page.text
    assert "25.00 EUR" in page.text
    done = client.get(refund_url)
    assert "refunded in full" in done.text
    assert 'id="kassa-refund-form"' not in done.text
    client.post(refund_url, {"request_key": _key(), "amount": "1.00"})
    assert Refund.objects.count() == 2

    # The refunds ledger shows both, read-only.
    refunds = client.get("/admin/billing/refund/")
    assert all(r.public_id in refunds.text for r in Refund.objects.all())
    assert client.get("/admin/billing/refund/add/").status_code == 403


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("30.00", "Refund amount (30.00 EUR) is greater than the unrefunded amount (25.00 EUR)."),
        ("10.005", "EUR has at most 2 decimals, e.g. 12.50."),
        ("0", "The amount must be more than zero."),
        ("ten", "Enter an amount in EUR"),
    ],
)
def test_a_refund_beyond_the_rules_shows_the_error_and_writes_nothing(
    client, paying_shop, card_token, stripe_backend, amount, error
):
    intent = _paid(paying_shop.merchant, card_token)
    events = intent.timeline.count()
    client.force_login(paying_shop.owner)
    response = client.post(
        f"{PAYMENTS}{intent.pk}/refund/", {"request_key": _key(), "amount": amount, "reason": "duplicate"}
    )
    assert response.status_code == 200
    assert error in response.text
    assert not Refund.objects.exists()
    assert intent.timeline.count() == events
    assert _localstripe_refunded(stripe_backend, intent) == 0


def test_a_jpy_refund_has_no_decimals(client, paying_shop, card_token, stripe_backend):
    intent = _paid(paying_shop.merchant, card_token, unit_amount=5000, currency="jpy")
    client.force_login(paying_shop.owner)
    assert 'value="5000"' in client.get(f"{PAYMENTS}{intent.pk}/refund/").text
    assert (
        "Enter an amount in JPY, e.g. 1500."
        in client.post(f"{PAYMENTS}{intent.pk}/refund/", {"request_key": _key(), "amount": "x"}).text
    )
    client.post(f"{PAYMENTS}{intent.pk}/refund/", {"request_key": _key(), "amount": "1200", "reason": "fraudulent"})
    assert Refund.objects.get().amount == 1200


def test_viewers_cannot_refund_or_make_links(client, paying_shop, card_token):
    merchant = paying_shop.merchant
    intent = _paid(merchant, card_token)
    link = intent.checkout_session.payment_link
    tea = link.line_items.get().price
    client.force_login(factories.staff(merchant, Membership.Role.VIEWER))

    page = client.get(_change_url(intent))
    assert page.status_code == 200
    assert "Refund…" not in page.text
    assert client.get(f"{PAYMENTS}{intent.pk}/refund/").status_code == 403
    assert client.post(f"{PAYMENTS}{intent.pk}/refund/", {"request_key": _key(), "amount": "1.00"}).status_code == 403
    assert not Refund.objects.exists()

    assert client.get(f"{LINKS}add/").status_code == 403
    assert client.post(f"{LINKS}add/", _link_form(price_0=tea.pk)).status_code == 403
    link_page = client.get(_change_url(link))
    assert link_page.status_code == 200
    assert "Deactivate" not in link_page.text
    assert 'name="after_completion_message"' not in link_page.text
    assert checkout.payment_link_url(link) in link_page.text  # they may still look at and copy it
    assert client.post(f"{LINKS}{link.pk}/activation/", {"active": "0"}).status_code == 403
    client.post(LINKS, {"action": "deactivate_selected", "_selected_action": [link.pk]})
    client.post(_change_url(link), _link_form(after_completion_message="Hacked"))
    link.refresh_from_db()
    assert (link.active, link.after_completion_message) == (True, "")
    assert PaymentLink.objects.count() == 1

    # A developer (a write role) may refund.
    client.force_login(factories.staff(merchant, Membership.Role.DEVELOPER))
    assert client.post(f"{PAYMENTS}{intent.pk}/refund/", {"request_key": _key(), "amount": "1.00"}).status_code == 302
    assert Refund.objects.get().amount == 100


# --- smoke ---------------------------------------------------------------------------


def test_the_refund_form_posted_twice_refunds_once(client, paying_shop, card_token, stripe_backend):
    intent = _paid(paying_shop.merchant, card_token)
    client.force_login(paying_shop.owner)
    refund_url = f"{PAYMENTS}{intent.pk}/refund/"
    key = re.search(r'name="request_key" value="([^"]+)"', client.get(refund_url).text).group(1)
    for _ in range(2):  # a double click
        client.post(refund_url, {"request_key": key, "amount": "5.00", "reason": ""})
    assert list(Refund.objects.values_list("amount", flat=True)) == [500]
    assert _localstripe_refunded(stripe_backend, intent) == 500
