"""The dashboard (Django admin) as merchant staff and platform staff see it."""

import re

import pytest
from django.urls import reverse

from billing.catalogue import services as billing
from billing.models import Customer, Price, Product
from merchants import services
from merchants.models import APIKey, Membership
from tests import factories


@pytest.fixture
def two_shops(db):
    alpha, beta = factories.merchant("Alpha"), factories.merchant("Beta")
    data = {}
    for shop in (alpha, beta):
        m = shop.merchant
        product = billing.product_create(merchant=m, livemode=False, name=f"{m.name} Widget")
        price = billing.price_create(merchant=m, livemode=False, product=product, currency="usd", unit_amount=1234)
        customer = billing.customer_create(merchant=m, livemode=False, email=f"buyer@{m.name.lower()}.test")
        credential = services.processor_credential_set(
            merchant=m, livemode=False, secret_key=f"sk_test_{m.name}0000secret"
        )
        data[m.name] = {
            "shop": shop,
            "staff": factories.staff(m, Membership.Role.ADMIN),
            "objects": {
                "billing/product": product,
                "billing/price": price,
                "billing/customer": customer,
                "merchants/apikey": shop.secret_key.api_key,
                "merchants/membership": Membership.objects.get(merchant=m, role="owner"),
                "merchants/processorcredential": credential,
            },
        }
    return data


OBJECT_PAGES = [
    "billing/product",
    "billing/price",
    "billing/customer",
    "merchants/apikey",
    "merchants/membership",
    "merchants/processorcredential",
]


@pytest.mark.parametrize("page", OBJECT_PAGES)
def test_merchant_staff_see_only_their_own_objects(client, two_shops, page):
    alpha, beta = two_shops["Alpha"], two_shops["Beta"]
    client.force_login(alpha["staff"])
    mine, theirs = alpha["objects"][page], beta["objects"][page]

    changelist = client.get(f"/admin/{page}/")
    assert changelist.status_code == 200
    assert f"/admin/{page}/{mine.pk}/change/" in changelist.text
    assert f"/admin/{page}/{theirs.pk}/change/" not in changelist.text
    assert "Beta" not in changelist.text
    assert "buyer@beta.test" not in changelist.text

    assert client.get(f"/admin/{page}/{mine.pk}/change/").status_code == 200
    # A forged URL with the other merchant's id finds nothing, exactly like a missing id.
    forged = client.get(f"/admin/{page}/{theirs.pk}/change/", follow=True)
    missing = client.get(f"/admin/{page}/999999/change/", follow=True)
    assert forged.redirect_chain == [("/admin/", 302)] == missing.redirect_chain
    assert "Beta" not in forged.text
    assert client.post(f"/admin/{page}/{theirs.pk}/delete/", {"post": "yes"}).status_code in (302, 403)
    assert type(theirs).objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(("page", "term"), [("billing/product", "Widget"), ("billing/customer", "buyer")])
def test_search_never_crosses_merchants(client, two_shops, page, term):
    client.force_login(two_shops["Beta"]["staff"])
    result = client.get(f"/admin/{page}/", {"q": term})
    assert result.status_code == 200
    assert "Beta" in result.text or "beta" in result.text
    assert "Alpha" not in result.text
    assert "alpha.test" not in result.text


def test_foreign_key_choices_are_scoped(client, two_shops):
    client.force_login(two_shops["Alpha"]["staff"])
    page = client.get("/admin/billing/price/add/")
    assert "Alpha Widget" in page.text
    assert "Beta Widget" not in page.text
    beta_product = two_shops["Beta"]["objects"]["billing/product"]
    response = client.post(
        "/admin/billing/price/add/",
        {"product": beta_product.pk, "unit_amount_currency": "usd", "unit_amount": "5", "active": "on"},
    )
    assert response.status_code == 200  # the form comes back with an error
    assert not Price.objects.filter(product=beta_product, unit_amount=5).exists()


def test_platform_staff_see_every_merchant_with_a_filter(client, two_shops):
    client.force_login(factories.platform_staff())
    page = client.get("/admin/billing/product/")
    assert "Alpha Widget" in page.text
    assert "Beta Widget" in page.text
    assert "By merchant" in page.text
    beta = two_shops["Beta"]["shop"].merchant
    filtered = client.get("/admin/billing/product/", {"merchant__id__exact": beta.pk})
    assert "Beta Widget" in filtered.text
    assert "Alpha Widget" not in filtered.text
    # Picking a merchant narrows everything to it, and allows creating for it.
    assert client.get("/admin/billing/product/add/").status_code == 403
    client.post("/admin/switch/merchant/", {"merchant": beta.public_id})
    narrowed = client.get("/admin/billing/product/")
    assert "Beta Widget" in narrowed.text
    assert "Alpha Widget" not in narrowed.text
    assert client.get("/admin/billing/product/add/").status_code == 200


def test_test_live_switch_decides_which_data_is_shown(client, two_shops):
    alpha = two_shops["Alpha"]
    merchant = alpha["shop"].merchant
    billing.product_create(merchant=merchant, livemode=True, name="Live Gadget")
    client.force_login(alpha["staff"])
    test_page = client.get("/admin/billing/product/")
    assert "TEST DATA" in test_page.text
    assert "Alpha Widget" in test_page.text
    assert "Live Gadget" not in test_page.text
    client.post("/admin/switch/mode/", {"livemode": "1"}, HTTP_REFERER="http://testserver/admin/billing/product/")
    live_page = client.get("/admin/billing/product/")
    assert "TEST DATA" not in live_page.text
    assert "Live Gadget" in live_page.text
    assert "Alpha Widget" not in live_page.text


def test_viewer_can_look_but_not_change(client, two_shops):
    alpha = two_shops["Alpha"]
    viewer = factories.staff(alpha["shop"].merchant, Membership.Role.VIEWER)
    client.force_login(viewer)
    product = alpha["objects"]["billing/product"]
    assert client.get("/admin/billing/product/").status_code == 200
    assert client.get("/admin/billing/product/add/").status_code == 403
    assert client.post("/admin/billing/product/add/", {"name": "Sneaky", "metadata": "{}"}).status_code == 403
    change = client.get(f"/admin/billing/product/{product.pk}/change/")
    assert change.status_code == 200
    assert 'name="name"' not in change.text
    client.post(f"/admin/billing/product/{product.pk}/change/", {"name": "Renamed", "metadata": "{}"})
    product.refresh_from_db()
    assert product.name == "Alpha Widget"
    assert client.get("/admin/merchants/apikey/add/").status_code == 403
    assert client.get(f"/admin/merchants/apikey/{alpha['shop'].secret_key.api_key.pk}/revoke/").status_code == 403
    assert not Product.objects.filter(name="Sneaky").exists()


def test_writes_go_through_the_services(client, two_shops):
    alpha = two_shops["Alpha"]
    client.force_login(alpha["staff"])
    response = client.post(
        "/admin/billing/product/add/",
        {
            "name": "Dashboard Tea",
            "description": "",
            "active": "on",
            "url": "",
            "images": "[]",
            "unit_label": "cup",
            "shippable": "false",
            "statement_descriptor": "DASHBOARD TEA",
            "marketing_features-item": "Organic",
            "package_dimensions_height": "1",
            "package_dimensions_length": "2",
            "package_dimensions_weight": "3.5",
            "package_dimensions_width": "4",
            "metadata-key": "sku",
            "metadata-value": "D1",
        },
    )
    assert response.status_code == 302, response.text[:2000]
    product = Product.objects.get(name="Dashboard Tea")
    assert product.public_id.startswith("prod_")
    assert (product.unit_label, product.shippable, product.statement_descriptor) == ("cup", False, "DASHBOARD TEA")
    assert (product.marketing_features, product.package_dimensions) == (
        [{"name": "Organic"}],
        {"height": 1, "length": 2, "weight": 3.5, "width": 4},
    )
    assert (product.merchant, product.livemode, product.metadata) == (alpha["shop"].merchant, False, {"sku": "D1"})
    # The service's own rules show as form errors: an unknown currency.
    bad = client.post(
        "/admin/billing/price/add/",
        {"product": product.pk, "unit_amount_currency": "xyz", "unit_amount": "1", "active": "on"},
    )
    assert bad.status_code == 200
    assert "Select a valid choice. xyz is not one of the available choices." in bad.text
    ok = client.post(
        "/admin/billing/price/add/",
        {
            "product": product.pk,
            "unit_amount_currency": "jpy",
            "unit_amount": "500",
            "billing_interval": "month",
            "billing_interval_count": 1,
            "active": "on",
        },
    )
    assert ok.status_code == 302
    price = Price.objects.get(product=product)
    assert (price.unit_amount, price.currency, price.type, price.recurring_interval) == (
        500,
        "jpy",
        "recurring",
        "month",
    )
    assert "500 JPY" in client.get("/admin/billing/price/").text
    # A product a price uses cannot be deleted, only archived.
    client.post(f"/admin/billing/product/{product.pk}/delete/", {"post": "yes"})
    assert Product.objects.filter(pk=product.pk).exists()
    # Customers: create, then delete (a tombstone, as at Stripe).
    client.post("/admin/billing/customer/add/", {"email": "desk@example.com", "metadata": "{}"})
    customer = Customer.objects.get(email="desk@example.com")
    client.post(f"/admin/billing/customer/{customer.pk}/delete/", {"post": "yes"})
    customer.refresh_from_db()
    assert customer.deleted


def _secret_on_page(html: str) -> str:
    return re.search(r'data-secret-label="[^"]*">([^<]+)<', html).group(1)


def test_api_keys_created_rolled_and_revoked_in_the_dashboard(client, two_shops, kassa):
    alpha = two_shops["Alpha"]
    client.force_login(alpha["staff"])
    created = client.post(
        "/admin/merchants/apikey/add/",
        {"name": "CI", "kind": "restricted", "perm_customers": "read", "perm_products": "write"},
    )
    assert created.status_code == 200
    secret = _secret_on_page(created.text)
    assert secret.startswith("rk_test_")
    assert "no-store" in created["Cache-Control"]
    key = APIKey.objects.get(name="CI")
    assert key.permissions == {"customers": "read", "products": "write"}
    # Shown once: the key's page shows only the prefix and the last four characters.
    detail = client.get(f"/admin/merchants/apikey/{key.pk}/change/")
    assert secret not in detail.text
    assert f"rk_test_…{secret[-4:]}" in detail.text
    assert kassa(secret).v1.products.create(params={"name": "via rk"}).name == "via rk"

    rolled = client.post(f"/admin/merchants/apikey/{key.pk}/roll/", {"expires_in": "3600"})
    new_secret = _secret_on_page(rolled.text)
    assert new_secret != secret
    assert kassa(secret).v1.customers.list().object == "list"  # old one still works for an hour
    assert kassa(new_secret).v1.customers.list().object == "list"

    new_key = APIKey.objects.get(rolled_from=key)
    client.post(f"/admin/merchants/apikey/{new_key.pk}/revoke/")
    import stripe

    with pytest.raises(stripe.AuthenticationError):
        kassa(new_secret).v1.customers.list()


def _grid(html: str) -> str:
    """A key page's permissions grid: "editable", "shown" (every choice disabled) or "none"."""
    inputs = re.findall(r'<input[^>]*name="perm_customers"[^>]*>', html)
    if not inputs:
        return "none"
    return "shown" if all("disabled" in tag for tag in inputs) else "editable"


def test_a_restricted_keys_permissions_are_edited_in_the_dashboard_from_its_next_request(client, two_shops, kassa):
    """As at Stripe, a restricted key is edited in place: its grid on its page, applied from its next request; only by
    its own merchant's members who may change keys; a secret key has no grid to edit."""
    import stripe

    alpha, beta = two_shops["Alpha"], two_shops["Beta"]
    issued = services.api_key_create(
        merchant=alpha["shop"].merchant,
        livemode=False,
        kind="restricted",
        name="Shop app",
        permissions={"customers": "read"},
    )
    key, secret = issued.api_key, issued.secret
    with pytest.raises(stripe.PermissionError):
        kassa(secret).v1.customers.create(params={"email": "via-rk@alpha.test"})

    client.force_login(alpha["staff"])
    page = client.get(f"/admin/merchants/apikey/{key.pk}/change/").text
    assert _grid(page) == "editable"
    saved = client.post(
        f"/admin/merchants/apikey/{key.pk}/change/",
        {"name": "Shop app", "perm_customers": "write", "perm_products": "read"},
    )
    assert saved.status_code == 302
    key.refresh_from_db()
    assert key.permissions == {"customers": "write", "products": "read"}
    assert kassa(secret).v1.customers.create(params={"email": "via-rk@alpha.test"}).email == "via-rk@alpha.test"
    with pytest.raises(stripe.PermissionError):
        kassa(secret).v1.prices.create(params={"currency": "usd", "unit_amount": 100, "product_data": {"name": "X"}})

    # Another merchant's member: the same answer as for a missing key (back to the dashboard), and nothing changes.
    client.force_login(beta["staff"])
    forged = {"name": "Mine now", "perm_customers": "none"}
    theirs = client.post(f"/admin/merchants/apikey/{key.pk}/change/", forged, follow=True)
    missing = client.post("/admin/merchants/apikey/999999/change/", forged, follow=True)
    assert theirs.redirect_chain == [("/admin/", 302)] == missing.redirect_chain
    # A viewer of Alpha sees the grid, cannot change it.
    client.force_login(factories.staff(alpha["shop"].merchant, Membership.Role.VIEWER))
    assert _grid(client.get(f"/admin/merchants/apikey/{key.pk}/change/").text) == "shown"
    client.post(f"/admin/merchants/apikey/{key.pk}/change/", {"name": "Shop app", "perm_customers": "none"})
    key.refresh_from_db()
    assert (key.name, key.permissions) == ("Shop app", {"customers": "write", "products": "read"})
    # A secret key has no grid; a revoked restricted key's grid is no longer editable.
    client.force_login(alpha["staff"])
    secret_page = client.get(f"/admin/merchants/apikey/{alpha['shop'].secret_key.api_key.pk}/change/").text
    assert _grid(secret_page) == "none"
    services.api_key_revoke(api_key=key)
    assert _grid(client.get(f"/admin/merchants/apikey/{key.pk}/change/").text) == "shown"


def test_stripe_credentials_in_the_dashboard(client, two_shops, stripe_backend):
    alpha = two_shops["Alpha"]
    client.force_login(alpha["staff"])
    credential = alpha["objects"]["merchants/processorcredential"]
    page = client.get(f"/admin/merchants/processorcredential/{credential.pk}/change/")
    assert "sk_test_…cret" in page.text
    assert "sk_test_Alpha0000secret" not in page.text
    # Wrong mode is refused.
    wrong = client.post(f"/admin/merchants/processorcredential/{credential.pk}/change/", {"secret_key": "sk_live_abc"})
    assert wrong.status_code == 200
    assert "test-mode" in wrong.text
    # Check connection (a POST: it calls Stripe and records the answer): localstripe accepts sk_ keys ...
    check_url = f"/admin/merchants/processorcredential/{credential.pk}/check/"
    assert client.get(check_url).status_code == 405
    checked = client.post(check_url, follow=True)
    assert "Connected to Stripe" in checked.text
    # ... and rejects a restricted key, which the check reports.
    client.post(f"/admin/merchants/processorcredential/{credential.pk}/change/", {"secret_key": "rk_test_nope1234"})
    checked = client.post(check_url, follow=True)
    assert "Stripe rejected this secret key" in checked.text
    credential.refresh_from_db()
    assert credential.last_check_ok is False


def test_members_are_managed_by_owners_and_admins(client, two_shops):
    alpha = two_shops["Alpha"]
    client.force_login(alpha["staff"])
    response = client.post("/admin/merchants/membership/add/", {"email": "dev@alpha.test", "role": "developer"})
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="dev@alpha.test")
    assert (membership.merchant, membership.role) == (alpha["shop"].merchant, "developer")
    # A developer may manage keys but not members.
    dev = membership.user
    dev.set_password("pw")
    dev.save()
    client.force_login(dev)
    assert client.get("/admin/merchants/membership/add/").status_code == 403
    assert client.get("/admin/merchants/apikey/add/").status_code == 200


def test_a_user_in_two_merchants_switches_between_them(client, two_shops):
    alpha, beta = two_shops["Alpha"], two_shops["Beta"]
    user = alpha["staff"]
    services.membership_add(merchant=beta["shop"].merchant, email=user.email, role="viewer")
    client.force_login(user)
    assert "Alpha Widget" in client.get("/admin/billing/product/").text
    client.post("/admin/switch/merchant/", {"merchant": beta["shop"].merchant.public_id})
    page = client.get("/admin/billing/product/")
    assert "Beta Widget" in page.text
    assert "Alpha Widget" not in page.text
    assert client.get("/admin/billing/product/add/").status_code == 403  # viewer at Beta


def test_platform_staff_onboard_a_merchant(client, db):
    client.force_login(factories.platform_staff())
    response = client.post(
        "/admin/merchants/merchant/add/",
        {
            "name": "Gamma",
            "support_email": "",
            "default_currency": "eur",
            "owner_email": "boss@gamma.test",
            "owner_password": "",
        },
    )
    assert response.status_code == 200
    assert "sk_test_" in response.text
    assert "pk_test_" in response.text
    membership = Membership.objects.get(user__email="boss@gamma.test")
    assert (membership.merchant.name, membership.role, membership.merchant.default_currency) == (
        "Gamma",
        "owner",
        "eur",
    )


def test_index_lists_the_dashboard_sections(client, two_shops):
    client.force_login(two_shops["Alpha"]["staff"])
    index = client.get(reverse("admin:index"))
    for name in ("Products", "Prices", "Customers", "API keys", "Stripe credentials", "Team members"):
        assert name in index.text
    assert "Users" not in index.text  # merchant staff never manage platform users
    assert "Platform" not in index.text


def test_a_new_member_sets_a_password_through_the_reset_link(client, two_shops, mailoutbox):
    alpha = two_shops["Alpha"]
    services.membership_add(merchant=alpha["shop"].merchant, email="new@alpha.test", role="viewer")
    login = client.get("/admin/login/")
    assert "/admin/password_reset/" in login.text
    client.post("/admin/password_reset/", {"email": "new@alpha.test"})
    assert len(mailoutbox) == 1
    link = re.search(r"http://testserver(/reset/\S+/)", mailoutbox[0].body).group(1)
    form = client.get(link, follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": "a-Long-pass-123", "new_password2": "a-Long-pass-123"})
    # Through the login form, as the new member does (django-axes needs the request to count failures).
    logged_in = client.post("/admin/login/", {"username": "new@alpha.test", "password": "a-Long-pass-123"})
    assert logged_in.status_code == 302
    assert "Alpha Widget" in client.get("/admin/billing/product/").text


def test_only_managers_touch_stripe_credentials(client, two_shops, stripe_backend):
    alpha = two_shops["Alpha"]
    credential = alpha["objects"]["merchants/processorcredential"]
    check_url = f"/admin/merchants/processorcredential/{credential.pk}/check/"
    for role in ("viewer", "developer"):
        client.force_login(factories.staff(alpha["shop"].merchant, role))
        assert client.post(check_url).status_code == 403
        assert client.get("/admin/merchants/processorcredential/add/").status_code == 403
        client.post(f"/admin/merchants/processorcredential/{credential.pk}/change/", {"secret_key": "sk_test_evil"})
    credential.refresh_from_db()
    assert credential.last_checked_at is None
    assert credential.secret_key_hint == "sk_test_…cret"


def test_a_role_at_one_merchant_gives_no_power_at_another(client, two_shops):
    alpha, beta = two_shops["Alpha"], two_shops["Beta"]
    user = alpha["shop"].owner
    services.membership_add(merchant=beta["shop"].merchant, email=user.email, role="viewer")
    client.force_login(user)  # Alpha, where they are owner, is the merchant in view
    beta_merchant = beta["shop"].merchant
    client.post(
        f"/admin/merchants/merchant/{beta_merchant.pk}/change/",
        {"name": "PWNED", "support_email": "evil@example.com", "default_currency": "usd"},
    )
    beta_merchant.refresh_from_db()
    assert beta_merchant.name == "Beta"
    assert beta_merchant.support_email != "evil@example.com"


def test_only_owners_give_or_take_the_owner_role(client, two_shops):
    alpha = two_shops["Alpha"]
    admin_user = alpha["staff"]  # role: admin
    own = Membership.objects.get(user=admin_user, merchant=alpha["shop"].merchant)
    owner = Membership.objects.get(merchant=alpha["shop"].merchant, role="owner")
    client.force_login(admin_user)
    # The page also holds the member's email settings (merchants/email_settings.py).
    response = client.post(f"/admin/merchants/membership/{own.pk}/change/", {"role": "owner", "language": "en"})
    assert response.status_code == 200
    assert "Only an owner" in response.text
    client.post(f"/admin/merchants/membership/{owner.pk}/change/", {"role": "viewer", "language": "en"})
    client.post(f"/admin/merchants/membership/{owner.pk}/delete/", {"post": "yes"})
    own.refresh_from_db()
    owner.refresh_from_db()
    assert (own.role, owner.role) == ("admin", "owner")
    # The owner can.
    client.force_login(alpha["shop"].owner)
    client.post(f"/admin/merchants/membership/{own.pk}/change/", {"role": "owner", "language": "en"})
    own.refresh_from_db()
    assert own.role == "owner"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("images-item", "5", "absolute http or https URL"),
        ("images-item", "javascript:alert(1)", "absolute http or https URL"),
        ("url", "ftp://x.test/", "URL"),
        ("metadata-key", "k" * 100, "keys are 1 to 40"),
        ("metadata-key", "sku", "Every key needs a value"),
        ("metadata-value", "orphan", "The value “orphan” has no key."),
        ("statement_descriptor", "1234", "statement descriptor must be 5 to 22 characters"),
        ("package_dimensions_height", "1", "Give all four dimensions, each more than zero, or none."),
        ("marketing_features-item", "x" * 81, "at most 80 characters"),
    ],
)
def test_the_dashboard_cannot_store_what_the_api_refuses(client, two_shops, field, value, message):
    client.force_login(two_shops["Alpha"]["staff"])
    data = {"name": "Checked", "description": "", "active": "on", "url": ""}
    data[field] = value
    response = client.post("/admin/billing/product/add/", data)
    assert response.status_code == 200
    assert message in response.text
    assert not Product.objects.filter(name="Checked").exists()


# --- the home page's "Start here" -------------------------------------------------------


def test_the_home_page_links_merchant_staff_to_their_pay_pages_and_the_api_docs(client, two_shops):
    alpha, beta = two_shops["Alpha"], two_shops["Beta"]
    mine = factories.payment_link(alpha["shop"].merchant, price=alpha["objects"]["billing/price"])
    theirs = factories.payment_link(beta["shop"].merchant, price=beta["objects"]["billing/price"])
    live = factories.payment_link(alpha["shop"].merchant, livemode=True)
    client.force_login(alpha["staff"])

    home = client.get(reverse("admin:index"))
    assert home.status_code == 200
    start = home.text[home.text.index('id="kassa-start-here"') :]
    assert re.search(rf'href="[^"]*/pay/{mine.slug}"[^>]*class="kassa-pay-page"', start)
    product = alpha["objects"]["billing/price"].product.name
    assert f'class="kassa-pay-page">Pay page: {product}</a>' in start  # named by what it sells, not plink_…
    assert f"/admin/billing/paymentlink/{mine.pk}/change/" in start
    assert f"/pay/{theirs.slug}" not in home.text  # another merchant's link
    assert f"/pay/{live.slug}" not in home.text  # the other mode's
    assert f'href="{reverse("docs")}"' in start
    assert client.get(reverse("docs")).status_code == 200


def test_the_home_page_without_a_link_offers_to_make_one(client, two_shops):
    client.force_login(two_shops["Beta"]["staff"])
    home = client.get(reverse("admin:index")).text
    assert "No active payment link yet" in home
    assert reverse("admin:billing_paymentlink_add") in home
    assert f'href="{reverse("docs")}"' in home


def test_platform_staff_looking_at_every_merchant_see_the_api_docs_but_no_pay_pages(client, two_shops):
    link = factories.payment_link(two_shops["Alpha"]["shop"].merchant)
    client.force_login(factories.platform_staff())
    home = client.get(reverse("admin:index")).text
    assert 'id="kassa-api-docs"' in home
    assert f"/pay/{link.slug}" not in home
    assert "No active payment link yet" not in home
