"""The dashboard's payment links as merchant staff use them: make, change, (de)activate, share."""

import re

import pytest
import segno
from django.utils import timezone

from billing.catalogue import services
from billing.checkout import services as checkout
from billing.models import PaymentLink, Price, Product
from kassa.errors import InvalidRequest

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
    _price(merchant, "Old tea", 100, active=False)
    _price(merchant, "Live tea", 100, livemode=True)
    theirs = _price(other_shop.merchant, "Their tea", 100)
    client.force_login(shop.owner)

    add = client.get(f"{LINKS}add/")
    assert add.status_code == 200
    assert "Tea — 4.50 EUR" in add.text
    assert "Cake — 3.00 EUR" in add.text
    for hidden in ("Old tea", "Live tea", "Their tea"):
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


def test_a_link_of_a_recurring_price_makes_subscriptions(client, shop):
    merchant = shop.merchant
    box = _price(merchant, "Monthly box", 900, recurring={"interval": "month"})
    tea = _price(merchant, "Tea", 450)
    client.force_login(shop.owner)
    add = client.get(f"{LINKS}add/")
    assert "Monthly box — 9.00 EUR every month" in add.text
    assert "Free trial (days)" in add.text

    trial_on_tea = client.post(f"{LINKS}add/", _link_form(price_0=tea.pk, trial_period_days="7"))
    assert "A free trial needs recurring prices." in trial_on_tea.text
    assert not PaymentLink.objects.exists()

    made = client.post(f"{LINKS}add/", _link_form(price_0=box.pk, quantity_0="2", trial_period_days="14"))
    assert made.status_code == 302
    link = PaymentLink.objects.get()
    assert link.subscription_data["trial_period_days"] == 14
    assert checkout.payment_link_mode(link) == "subscription"
    page = client.get(_change_url(link))
    assert "Subscription" in page.text
    assert "18.00 EUR every month" in page.text
    assert "14 days" in page.text
    listing = client.get(LINKS)
    assert "Subscription" in listing.text
    # A session opened from it is in subscription mode.
    assert checkout.checkout_session_from_link(payment_link=link, now=timezone.now()).mode == "subscription"
    # A one-time price beside the recurring one: billed on the subscription's first invoice only, as at Stripe.
    mixed = client.post(f"{LINKS}add/", _link_form(price_0=box.pk, price_1=tea.pk))
    assert mixed.status_code == 302
    assert checkout.payment_link_mode(PaymentLink.objects.latest("pk")) == "subscription"


def _total_cells(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", cell).strip() for cell in re.findall(r'<td class="field-total">(.*?)</td>', text, re.S)]


def test_a_link_mixing_a_plan_and_a_one_time_price_shows_each_total_for_what_it_is(client, shop):
    """The total of a subscription link with a one-time price beside the plan: the plan's amount every month and
    the one-time price's once (on the first invoice), never their sum every month."""
    merchant = shop.merchant
    box = _price(merchant, "Monthly box", 900, recurring={"interval": "month"})
    tea = _price(merchant, "Tea", 450)
    mixed = checkout.payment_link_create(
        merchant=merchant,
        livemode=False,
        line_items=[{"price": tea, "quantity": 3}, {"price": box, "quantity": 1}],  # the one-time price first
    )
    plan = checkout.payment_link_create(merchant=merchant, livemode=False, line_items=[{"price": box, "quantity": 2}])
    client.force_login(shop.owner)

    listing = client.get(LINKS)
    assert listing.status_code == 200
    assert sorted(_total_cells(listing.text)) == ["18.00 EUR every month", "9.00 EUR every month and 13.50 EUR once"]
    assert "9.00 EUR every month and 13.50 EUR once" in client.get(_change_url(mixed)).text
    assert "18.00 EUR every month" in client.get(_change_url(plan)).text
    french = client.get(LINKS, HTTP_ACCEPT_LANGUAGE="fr")
    assert sorted(_total_cells(french.text)) == ["18.00 EUR chaque mois", "9.00 EUR chaque mois et 13.50 EUR une fois"]


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
