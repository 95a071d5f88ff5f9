"""The dashboard's form fields (merchants/widgets.py) and the words on its pages, through forms and the admin."""

import pytest
from django import forms
from django.http import QueryDict

from billing.catalogue import services as catalogue
from billing.models import Customer, Price
from merchants.models import APIKey, Membership
from merchants.widgets import ListField, MetadataField, Money, MoneyField, PermissionsField, parse_major
from tests import factories

# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("18", "eur", 1800),
        ("18.5", "eur", 1850),
        ("18.000", "eur", 1800),  # zeros past the currency's decimals change nothing
        ("500", "jpy", 500),
        ("1.250", "kwd", 1250),
        ("999999.99", "usd", 99_999_999),
    ],
)
def test_amounts_are_typed_in_major_units(typed, currency, minor):
    assert parse_major(typed, currency) == minor


@pytest.mark.parametrize(
    ("typed", "currency", "message"),
    [
        ("1.5", "jpy", "JPY has no decimals: enter a whole amount, e.g. 1500."),
        ("12.505", "eur", "EUR has at most 2 decimals, e.g. 12.50."),
        ("1.2345", "kwd", "KWD has at most 3 decimals, e.g. 12.500."),
        ("12,50", "eur", "Enter an amount in EUR, e.g. 12.50."),
        ("-3", "eur", "Enter an amount in EUR"),
        ("1e3", "eur", "Enter an amount in EUR"),
        ("0", "eur", "The amount must be more than zero."),
        ("1000000", "eur", "The amount can be at most 999,999.99 EUR."),
    ],
)
def test_amounts_the_currency_cannot_hold_are_refused(typed, currency, message):
    with pytest.raises(forms.ValidationError) as refused:
        parse_major(typed, currency)
    assert message in refused.value.messages[0]


class PriceForm(forms.Form):
    price = MoneyField(minimum=0)
    tip = MoneyField(required=False)


def _posted(**fields) -> QueryDict:
    data = QueryDict(mutable=True)
    data.update(fields)
    return data


def test_a_money_field_gives_minor_units_and_the_currency():
    form = PriceForm(_posted(price="18", price_currency="eur", tip="", tip_currency="jpy"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"price": Money(1800, "eur"), "tip": None}
    free = PriceForm(_posted(price="0", price_currency="usd", tip="500", tip_currency="jpy"))
    assert free.is_valid(), free.errors
    assert (free.cleaned_data["price"], free.cleaned_data["tip"]) == (Money(0, "usd"), Money(500, "jpy"))


def test_a_money_field_takes_only_the_currencies_kassa_supports():
    form = PriceForm(_posted(price="5", price_currency="dollars"))
    assert not form.is_valid()
    assert "Select a valid choice. dollars is not one of the available choices." in str(form.errors["price"])
    missing = PriceForm(_posted(price="", price_currency="eur"))
    assert missing.errors["price"] == ["Enter an amount."]


def test_a_money_field_starts_with_the_given_currency_and_shows_minor_units_as_typed():
    html = PriceForm(initial={"price": "chf", "tip": Money(1250, "eur")}).as_p()
    assert '<option value="chf" selected>CHF</option>' in html
    assert 'name="price"' in html
    assert 'id="id_price_currency"' in html
    assert 'value="12.50"' in html  # 1250 minor units are shown as 12.50


# --- rows ----------------------------------------------------------------------------------------


class RowsForm(forms.Form):
    metadata = MetadataField()
    images = ListField(max_items=2, item_label="Image URL", input_type="url")


def _rows(**lists) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, values in lists.items():
        data.setlist(key.replace("__", "-"), values)
    return data


def test_metadata_rows_become_a_dict_in_their_order_and_empty_rows_are_dropped():
    form = RowsForm(_rows(metadata__key=["b", "", "a"], metadata__value=["2", "", "1"]))
    assert form.is_valid(), form.errors
    assert list(form.cleaned_data["metadata"].items()) == [("b", "2"), ("a", "1")]
    assert form.cleaned_data["images"] == []


@pytest.mark.parametrize(
    ("keys", "values", "message"),
    [
        (["a", "a"], ["1", "2"], "The key “a” is there twice."),
        ([""], ["lonely"], "The value “lonely” has no key."),
        (["a"], [""], "Every key needs a value"),
        (["k" * 41], ["v"], "keys are 1 to 40 characters"),
        (["a"], ["v" * 501], "values are at most 500 characters"),
        ([f"k{i}" for i in range(51)], ["v"] * 51, "at most 50 keys"),
    ],
)
def test_metadata_rows_follow_the_apis_rules(keys, values, message):
    form = RowsForm(_rows(metadata__key=keys, metadata__value=values))
    assert not form.is_valid()
    assert message in str(form.errors["metadata"])


def test_metadata_rows_show_the_current_metadata_and_know_when_it_changed():
    field = MetadataField()
    html = RowsForm(initial={"metadata": {"sku": "T-1"}}).as_p()
    assert 'name="metadata-key" value="sku"' in html
    assert 'name="metadata-value" value="T-1"' in html
    assert "<script" not in html  # rows are driven by the dashboard's static script, never inline
    assert not field.has_changed({"sku": "T-1"}, [("sku", "T-1")])
    assert field.has_changed({"sku": "T-1"}, [("sku", "T-2")])
    assert field.has_changed({"sku": "T-1"}, [])


def test_a_list_of_urls_has_a_limit():
    form = RowsForm(_rows(images__item=["https://a.test/1.png", "https://a.test/2.png", "https://a.test/3.png"]))
    assert "At most 2 rows." in str(form.errors["images"])


def test_the_permission_grid_gives_every_resource_a_level():
    class KeyForm(forms.Form):
        perm = PermissionsField(
            resources=[("products", "Products"), ("refunds", "Refunds")],
            levels=[
                ("none", "None"),
                ("read", "Read"),
                ("write", "Write"),
            ],
        )

    form = KeyForm(_posted(perm_products="write"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["perm"] == {"products": "write", "refunds": "none"}
    bad = KeyForm(_posted(perm_products="admin"))
    assert "Pick None, Read or Write for Products." in str(bad.errors["perm"])


# --- the pages ---------------------------------------------------------------------------------------


@pytest.fixture
def eur_shop(db):
    return factories.merchant("Euro", default_currency="eur")


def test_add_price_from_the_product_page_with_the_merchants_currency(client, eur_shop, other_shop):
    product = catalogue.product_create(merchant=eur_shop.merchant, livemode=False, name="Green tea")
    theirs = catalogue.product_create(merchant=other_shop.merchant, livemode=False, name="Their tea")
    client.force_login(eur_shop.owner)
    page = client.get(f"/admin/billing/product/{product.pk}/change/").text
    assert f'href="/admin/billing/price/add/?product={product.pk}"' in page
    add = client.get(f"/admin/billing/price/add/?product={product.pk}").text
    assert f'<option value="{product.pk}" selected>Green tea</option>' in add
    assert '<option value="eur" selected>EUR</option>' in add
    assert "1999 is 19.99" not in add

    response = client.post(
        f"/admin/billing/price/add/?product={product.pk}",
        {"product": product.pk, "unit_amount_currency": "eur", "unit_amount": "18", "active": "on"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/billing/product/{product.pk}/change/"
    assert Price.objects.get(product=product).unit_amount == 1800
    assert "18.00 EUR" in client.get(response["Location"]).text

    # Another merchant's product in the query string is picked by nobody, named nowhere.
    forged = client.get(f"/admin/billing/price/add/?product={theirs.pk}").text
    assert "Their tea" not in forged
    assert "selected>Green tea" not in forged


def test_viewers_get_no_add_price_button(client, eur_shop):
    product = catalogue.product_create(merchant=eur_shop.merchant, livemode=False, name="Green tea")
    viewer = factories.staff(eur_shop.merchant, role=Membership.Role.VIEWER)
    client.force_login(viewer)
    assert 'id="kassa-add-price"' not in client.get(f"/admin/billing/product/{product.pk}/change/").text
    assert client.get(f"/admin/billing/price/add/?product={product.pk}").status_code == 403


def test_pages_use_words(client, eur_shop, paying_shop):
    client.force_login(eur_shop.owner)
    add = client.get("/admin/billing/product/add/").text
    assert "Livemode" not in add
    assert "field-mode" not in add
    assert "field-public_id" not in add
    product = catalogue.product_create(merchant=eur_shop.merchant, livemode=False, name="Tea")
    page = client.get(f"/admin/billing/product/{product.pk}/change/").text
    assert '<div class="readonly">Test</div>' in page
    assert f'data-copy-text="{product.public_id}"' in page

    assert "Select payment to view" in client.get("/admin/billing/paymentintent/").text  # a ledger: view only
    customer = catalogue.customer_create(merchant=eur_shop.merchant, livemode=False, email="c@example.com")
    gone = catalogue.customer_create(merchant=eur_shop.merchant, livemode=False, email="gone@example.com")
    catalogue.customer_delete(customer=gone)
    listing = client.get("/admin/billing/customer/").text
    assert "icon-no.svg" not in listing
    assert "icon-yes.svg" not in listing
    assert "Active" in listing
    assert "Deleted" in listing
    assert '<div class="readonly">Active</div>' in client.get(f"/admin/billing/customer/{customer.pk}/change/").text
    assert Customer.objects.get(pk=gone.pk).deleted


def test_the_stripe_credentials_page_has_no_row_labelled_colon(client, paying_shop):
    credential = paying_shop.merchant.processor_credentials.get(livemode=False)
    client.force_login(paying_shop.owner)
    page = client.get(f"/admin/merchants/processorcredential/{credential.pk}/change/").text
    assert "<label>:</label>" not in page
    assert "Check connection" in page
    assert 'id="kassa-stripe-webhook-url"' in page
    assert "data-copy-text=" in page


def test_a_secret_shown_once_has_a_copy_button(client, shop):
    client.force_login(shop.owner)
    response = client.post("/admin/merchants/apikey/add/", {"name": "CI", "kind": "restricted", "perm_refunds": "read"})
    assert response.status_code == 200
    key = APIKey.objects.get(name="CI")
    assert key.permissions == {"refunds": "read"}
    secret = response.text.split('data-copy-text="', 1)[1].split('"', 1)[0]
    assert secret.startswith("rk_test_")
    assert secret.endswith(key.last4)
    assert "no-store" in response["Cache-Control"]
    assert "<script>" not in response.text  # the copy button works under a strict CSP: no inline script
    assert "kassa/dashboard-widgets.js" in response.text
