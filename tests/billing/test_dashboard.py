"""The dashboard's money pages as merchant staff use them: payment links, payments, refunds (real localstripe)."""

import json
import re
import uuid

import pytest
import segno
from django.utils import timezone

from billing.catalogue import services
from billing.checkout import services as checkout
from billing.models import PaymentIntent, PaymentLink, Price, Product, Refund
from billing.payments import services as payments
from kassa.errors import CardError, InvalidRequest
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


# --- payment links -----------------------------------------------------------------


def test_a_link_from_prices_with_quantities(client, shop, other_shop):
    merchant = shop.merchant
    tea, cake = _price(merchant, "Tea", 450), _price(merchant, "Cake", 300)
    dollars = _price(merchant, "Dollar cookie", 100, "usd")
    _price(merchant, "Monthly box", 900, recurring={"interval": "month"})
    _price(merchant, "Old tea", 100, active=False)
    _price(merchant, "Live tea", 100, livemode=True)
    theirs = _price(other_shop.merchant, "Their tea", 100)
    client.force_login(shop.owner)

    add = client.get(f"{LINKS}add/")
    assert add.status_code == 200
    assert "Tea — 4.50 EUR" in add.text
    assert "Cake — 3.00 EUR" in add.text
    for hidden in ("Monthly box", "Old tea", "Live tea", "Their tea"):
        assert hidden not in add.text

    response = client.post(
        f"{LINKS}add/",
        _link_form(
            price_0=tea.pk,
            quantity_0="2",
            price_2=cake.pk,
            quantity_2="3",
            after_completion_type="redirect",
            after_completion_redirect_url="https://shop.example/thanks",
            phone_number_collection="on",
            billing_address_collection="required",
        ),
    )
    link = PaymentLink.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert response["Location"] == _change_url(link)
    assert [(i.price, i.quantity) for i in link.line_items.all()] == [(tea, 2), (cake, 3)]
    assert (link.currency, link.livemode, link.active) == ("eur", False, True)
    assert (link.after_completion_type, link.after_completion_redirect_url) == (
        "redirect",
        "https://shop.example/thanks",
    )
    assert (link.email_collection, link.phone_number_collection, link.billing_address_collection) == (
        True,
        True,
        "required",
    )

    # Another merchant's price (a forged id) is no choice; mixed currencies are the service's error.
    forged = client.post(f"{LINKS}add/", _link_form(price_0=theirs.pk))
    assert forged.status_code == 200
    assert "Select a valid choice" in forged.text
    mixed = client.post(f"{LINKS}add/", _link_form(price_0=tea.pk, price_1=dollars.pk))
    assert mixed.status_code == 200
    assert "All line items must have the same currency." in mixed.text
    assert PaymentLink.objects.count() == 1


def test_the_link_page_shows_its_url_a_qr_code_and_line_items(client, shop):
    merchant = shop.merchant
    tea, cake = _price(merchant, "Tea", 450), _price(merchant, "Cake", 300)
    link = checkout.payment_link_create(
        merchant=merchant,
        livemode=False,
        line_items=[{"price": tea, "quantity": 2}, {"price": cake, "quantity": 3}],
    )
    url = checkout.payment_link_url(link)
    client.force_login(shop.owner)

    listing = client.get(LINKS)
    assert link.public_id in listing.text
    assert url in listing.text
    assert "18.00 EUR" in listing.text
    searched = client.get(LINKS, {"q": "Tea"})  # searching by product keeps the whole total
    assert link.public_id in searched.text
    assert "18.00 EUR" in searched.text

    page = client.get(_change_url(link))
    assert page.status_code == 200
    assert f'<code id="kassa-link-url">{url}</code>' in page.text
    assert f'data-copy-text="{url}"' in page.text
    assert "kassa/dashboard-widgets.js" in page.text
    qr = segno.make(url, error="m").svg_inline(scale=4, svgclass="kassa-qr", title="QR code of the payment link")
    assert qr in page.text
    assert "9.00 EUR" in page.text  # 2 x 4.50 and 3 x 3.00
    assert "18.00 EUR" in page.text
    assert "Deactivate" in page.text
    assert 'name="price_0"' not in page.text  # line items are read-only once made


@pytest.mark.parametrize(
    ("currency", "typed", "minor", "shown"),
    [("jpy", "1500", 1500, "1,500 JPY"), ("eur", "12.50", 1250, "12.50 EUR"), ("kwd", "1.250", 1250, "1.250 KWD")],
)
def test_a_link_from_an_amount(client, shop, currency, typed, minor, shown):
    client.force_login(shop.owner)
    response = client.post(
        f"{LINKS}add/",
        _link_form(
            amount=typed,
            amount_currency=currency,
            amount_description="Consultation",
            after_completion_message="Thank you!",
        ),
    )
    assert response.status_code == 302, response.text[:3000]
    link = PaymentLink.objects.get()
    [item] = link.line_items.select_related("price__product")
    assert (item.price.unit_amount, item.price.currency, item.quantity) == (minor, currency, 1)
    assert item.price.product.name == "Consultation"
    assert (link.after_completion_type, link.after_completion_message) == ("hosted_confirmation", "Thank you!")
    assert shown in client.get(LINKS).text


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"amount": "12.505"}, "EUR has at most 2 decimals, e.g. 12.50."),
        ({"amount": "1.5", "amount_currency": "jpy"}, "JPY has no decimals: enter a whole amount, e.g. 1500."),
        ({"amount": "12,50"}, "Enter an amount in EUR, e.g. 12.50."),
        ({"amount": "-3"}, "Enter an amount in EUR"),
        ({"amount": "0"}, "The amount must be more than zero."),
        ({"amount": "1000000.00"}, "The amount can be at most 999,999.99 EUR."),
        ({"amount": "5", "amount_description": ""}, "Say what the payer buys."),
        ({"amount": ""}, "Pick at least one price, or enter an amount."),
        (
            {"amount": "5", "after_completion_type": "redirect", "after_completion_redirect_url": ""},
            "A redirect needs a URL.",
        ),
    ],
)
def test_a_link_from_an_amount_refuses_what_the_currency_cannot_hold(client, shop, fields, error):
    client.force_login(shop.owner)
    response = client.post(f"{LINKS}add/", _link_form(**{"amount_description": "Consultation", **fields}))
    assert response.status_code == 200
    assert error in response.text
    assert not PaymentLink.objects.exists()
    assert not Product.objects.exists()  # the service's product and price were rolled back with it


def test_prices_and_an_amount_together_are_refused(client, shop):
    tea = _price(shop.merchant, "Tea", 450)
    client.force_login(shop.owner)
    response = client.post(f"{LINKS}add/", _link_form(price_0=tea.pk, amount="5", amount_description="Tip"))
    assert "Use prices or an amount, not both." in response.text
    assert not PaymentLink.objects.exists()


def test_deactivate_activate_and_change_a_link(client, shop):
    link = _link(shop.merchant)
    client.force_login(shop.owner)
    activation = f"{LINKS}{link.pk}/activation/"
    assert client.get(activation).status_code == 405

    page = client.post(activation, {"active": "0"}, follow=True)
    link.refresh_from_db()
    assert not link.active
    assert "is inactive" in page.text
    assert ">Activate</button>" in page.text
    with pytest.raises(InvalidRequest):
        checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    client.post(activation, {"active": "0"})  # a repeated click changes nothing more
    link.refresh_from_db()
    assert not link.active

    client.post(activation, {"active": "1"})
    link.refresh_from_db()
    assert link.active

    # What Stripe lets change on a link changes here too, through payment_link_update.
    changed = client.post(
        _change_url(link),
        _link_form(
            after_completion_type="redirect",
            after_completion_redirect_url="https://shop.example/done",
            phone_number_collection="on",
            **{"metadata-key": "campaign", "metadata-value": "spring"},
        ),
    )
    assert changed.status_code == 302, changed.text[:3000]
    link.refresh_from_db()
    assert (link.after_completion_type, link.after_completion_redirect_url) == ("redirect", "https://shop.example/done")
    assert link.phone_number_collection
    assert link.metadata == {"campaign": "spring"}
    bad = client.post(_change_url(link), _link_form(after_completion_type="redirect"))
    assert "A redirect needs a URL." in bad.text

    # Several at once from the list, through the same service.
    client.post(LINKS, {"action": "deactivate_selected", "_selected_action": [link.pk]})
    link.refresh_from_db()
    assert not link.active
    assert "delete_selected" not in client.get(LINKS).text

    # Links are deactivated, never deleted.
    assert client.post(f"{LINKS}{link.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PaymentLink.objects.filter(pk=link.pk).exists()


# --- isolation ---------------------------------------------------------------------


@pytest.fixture
def two_shops_with_payments(shop, other_shop):
    data = {}
    for owner_shop, email in ((shop, "buyer@shop.test"), (other_shop, "buyer@other.test")):
        merchant = owner_shop.merchant
        link = _link(merchant, name=f"{merchant.name} tea")
        session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
        intent = payments.payment_intent_create(
            merchant=merchant, livemode=False, amount=700, currency="eur", receipt_email=email
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
        merchant=merchant, livemode=True, amount=900, currency="eur", receipt_email="live@shop.test"
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
        merchant=merchant, livemode=False, amount=700, currency="eur", receipt_email="waiting@example.com"
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


def test_a_link_made_in_french_opens_its_pay_page_in_french(client, paying_shop):
    client.force_login(paying_shop.owner)
    client.post(f"{LINKS}add/", _link_form(amount="12.50", amount_description="Cours", locale="fr"))
    link = PaymentLink.objects.get()
    assert link.locale == "fr"
    # The payer's browser asks for English; the link's language wins, as a session's locale does.
    page = client.get(f"/pay/{link.slug}", HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert '<html lang="fr"' in page.text
    assert "12,50\xa0€" in page.text

    client.post(_change_url(link), _link_form(locale="", amount_currency="", quantity_0=""))
    link.refresh_from_db()
    assert link.locale == ""
