"""The dashboard's forms in Chromium: money in major units, metadata rows, the permission grid, copy buttons.

What a merchant types is what is stored: "18" with EUR is a price of 1800
minor units shown as 18.00 EUR, "500" JPY is 500; rows become a metadata
dict; the grid's radios become the key's permissions, which the API then
enforces; Copy puts the secret on the clipboard (read back through the
Clipboard API, permission granted to the page).
"""

import pytest
import stripe
from django.test import Client
from playwright.sync_api import expect

from billing.catalogue import services as catalogue
from billing.models import Price
from merchants.models import APIKey
from tests import factories

ADMIN = "/admin"


def _logged_in(page, base, user) -> None:
    """The dashboard session of ``user`` in the browser (the login form has its own browser test)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])


@pytest.fixture
def eur_shop(db):
    return factories.merchant("Forms", default_currency="eur")


def test_a_price_is_typed_in_major_units_from_the_product_page(page, kassa_url, eur_shop):
    product = catalogue.product_create(merchant=eur_shop.merchant, livemode=False, name="Green tea")
    _logged_in(page, kassa_url, eur_shop.owner)

    page.goto(f"{kassa_url}{ADMIN}/billing/product/{product.pk}/change/")
    page.click("#kassa-add-price")
    expect(page.locator("#id_product")).to_have_value(str(product.pk))
    expect(page.locator("#id_unit_amount_currency")).to_have_value("eur")  # the merchant's default
    expect(page.locator("#id_unit_amount")).to_have_attribute("placeholder", "12.50")
    page.fill("#id_unit_amount", "18")
    page.fill("input[name=metadata-key]", "sku")
    page.fill("input[name=metadata-value]", "GT-1")
    page.get_by_role("button", name="Add row").click()
    page.locator("input[name=metadata-key]").nth(1).fill("origin")
    page.locator("input[name=metadata-value]").nth(1).fill("Japan")
    page.get_by_role("button", name="Add row").click()
    page.locator("input[name=metadata-key]").nth(2).fill("discard")
    page.locator("[data-kassa-row-remove]").nth(2).click()
    page.click("input[name=_save]")

    # Back on the product's page, with the new price listed.
    page.wait_for_url(f"{kassa_url}{ADMIN}/billing/product/{product.pk}/change/")
    expect(page.locator(".messagelist")).to_contain_text("Price 18.00 EUR added to Green tea.")
    expect(page.locator(".inline-group")).to_contain_text("18.00 EUR")
    price = Price.objects.get(product=product)
    assert (price.unit_amount, price.currency) == (1800, "eur")
    assert price.metadata == {"sku": "GT-1", "origin": "Japan"}

    # JPY has no decimals: "1.5" is refused with a message saying so, "500" is 500 yen.
    page.click("#kassa-add-price")
    page.select_option("#id_unit_amount_currency", "jpy")
    expect(page.locator("#id_unit_amount")).to_have_attribute("placeholder", "1500")
    expect(page.locator("[data-kassa-money-hint]")).to_have_text("no decimals")
    page.fill("#id_unit_amount", "1.5")
    page.click("input[name=_save]")
    expect(page.locator(".errorlist")).to_contain_text("JPY has no decimals")
    expect(page.locator("#id_unit_amount_currency")).to_have_value("jpy")  # what was typed stays
    page.fill("#id_unit_amount", "500")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("Price 500 JPY added to Green tea.")
    assert Price.objects.get(product=product, currency="jpy").unit_amount == 500


def test_the_permission_grid_makes_a_restricted_key_and_copy_puts_it_on_the_clipboard(page, kassa_url, kassa, shop):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=kassa_url)
    _logged_in(page, kassa_url, shop.owner)

    page.goto(f"{kassa_url}{ADMIN}/merchants/apikey/add/")
    grid = page.locator("[data-kassa-permission-grid]")
    page.select_option("#id_kind", "secret")
    expect(grid).to_be_hidden()  # the grid is for restricted keys only
    page.select_option("#id_kind", "restricted")
    expect(grid).to_be_visible()
    page.fill("#id_name", "Catalogue sync")
    page.get_by_label("Products: Write").check()
    page.get_by_label("Customers: Read").check()
    page.click("input[name=_save]")

    secret_box = page.locator(".kassa-secret")
    secret = secret_box.inner_text().strip()
    assert secret.startswith("rk_test_")
    page.get_by_role("button", name="Copy New restricted key").click()
    expect(page.get_by_role("button", name="Copy New restricted key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    key = APIKey.objects.get(name="Catalogue sync")
    assert key.permissions == {"products": "write", "customers": "read"}  # the stored format: no "none"s
    api = kassa(secret)
    assert api.v1.products.create(params={"name": "Synced"}).name == "Synced"
    assert api.v1.customers.list().object == "list"
    with pytest.raises(stripe.PermissionError) as refused:
        api.v1.customers.create(params={"email": "no@example.com"})
    assert refused.value.http_status == 403
    with pytest.raises(stripe.PermissionError):
        api.v1.payment_intents.list()

    # The key's page shows the same grid, editable as at Stripe: the change applies from the key's next request.
    page.goto(f"{kassa_url}{ADMIN}/merchants/apikey/{key.pk}/change/")
    expect(page.get_by_label("Products: Write")).to_be_checked()
    expect(page.get_by_label("Refunds: None")).to_be_checked()
    expect(page.get_by_label("Customers: Write")).to_be_enabled()
    page.get_by_label("Customers: Write").check()
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_be_visible()
    key.refresh_from_db()
    assert key.permissions == {"products": "write", "customers": "write"}
    assert api.v1.customers.create(params={"email": "yes@example.com"}).email == "yes@example.com"


def test_copy_buttons_on_a_payment_links_url_and_id(page, kassa_url, shop):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=kassa_url)
    _logged_in(page, kassa_url, shop.owner)
    page.goto(f"{kassa_url}{ADMIN}/billing/paymentlink/add/")
    expect(page.locator("#id_amount_currency")).to_have_value(shop.merchant.default_currency)
    page.select_option("#id_amount_currency", "eur")
    page.fill("#id_amount", "12.5")
    page.fill("#id_amount_description", "Consultation")
    page.click("input[name=_save]")

    url = page.locator("#kassa-link-url").inner_text().strip()
    page.get_by_role("button", name="Copy URL").click()
    assert page.evaluate("navigator.clipboard.readText()") == url
    link_id = page.locator(".field-public_id_copy code").inner_text().strip()
    assert link_id.startswith("plink_")
    page.locator(".field-public_id_copy button").click()
    expect(page.locator(".field-public_id_copy button")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link_id
    expect(page.locator(".field-mode")).to_contain_text("Test")
    expect(page.locator("body")).to_contain_text("12.50 EUR")
