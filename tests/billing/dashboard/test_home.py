"""The dashboard's home page (billing/dashboard/): numbers, chart, failures, checklist, scoping, the banner, the menu.

Payments are made as payers make them: through a link's checkout session and
the pay page's service, with localstripe's test cards (4000 0000 0000 0002 is
declined when Stripe is asked to save it).
"""

import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from billing.checkout import services as checkout
from billing.dashboard.selectors import day_start
from billing.payments import services as payments
from kassa.errors import CardError
from merchants import services as merchant_services
from merchants.models import Membership
from tests import factories

HOME = "/admin/"
CHART = "/admin/home/volume.svg"
DECLINED = "4000000000000002"


def _credentials(merchant, livemode=False):
    mode = "live" if livemode else "test"
    return merchant_services.processor_credential_set(
        merchant=merchant,
        livemode=livemode,
        secret_key=f"sk_{mode}_{merchant.public_id}",
        publishable_key=f"pk_{mode}_{merchant.public_id}",
    )


def _pay(link, card_token, *, email, number="4242424242424242"):
    session = checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
    return checkout.checkout_session_pay(session=session, token=card_token(number), email=email, now=timezone.now())


def _declined(link, card_token, *, email):
    session = checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
    with pytest.raises(CardError):
        checkout.checkout_session_pay(session=session, token=card_token(DECLINED), email=email, now=timezone.now())
    session.refresh_from_db()
    return session.payment_intent


def _shop_with_payments(name, card_token, unit_amount):
    """A merchant whose link was paid once (then partly refunded) and declined once."""
    shop = factories.merchant(name)
    m = shop.merchant
    _credentials(m)
    link = factories.payment_link(m, price=factories.price(m, unit_amount=unit_amount))
    paid = _pay(link, card_token, email=f"ann@{name.lower()}.test")
    assert paid.status == "succeeded"
    payments.refund_create(payment_intent=paid, amount=500)
    declined = _declined(link, card_token, email=f"bob@{name.lower()}.test")
    return shop, paid, declined


@pytest.fixture
def shops(db, stripe_backend, card_token):
    alpha = _shop_with_payments("Alpha", card_token, 2500)
    beta = _shop_with_payments("Beta", card_token, 7777)
    return {"Alpha": alpha, "Beta": beta}


def _bars(svg: str) -> list[str]:
    """The chart's days with a payment, as their bars' values ("25.00 EUR")."""
    return [v for v in re.findall(r'<desc class="value">([^<]*)</desc>', svg) if not re.match(r"0(\.0+)? ", v)]


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</div>", start)]


# --- a brand-new merchant: the checklist ------------------------------------------------------------


def test_a_new_merchant_sees_the_set_up_checklist_and_no_numbers(client, db):
    shop = factories.merchant("Fresh")
    client.force_login(shop.owner)
    home = client.get(HOME).text
    checklist = _section(home, "kassa-checklist")
    for item, url in [
        ("credentials", "/admin/merchants/processorcredential/add/"),
        ("product", "/admin/billing/product/add/"),
        ("link", "/admin/billing/paymentlink/add/"),
        ("webhook", "/admin/webhooks/webhookendpoint/add/"),
    ]:
        assert re.search(rf'<li class="" data-item="{item}">\s*<a href="{url}">', checklist), item
    assert 'id="kassa-no-payments"' in home
    assert 'id="kassa-volume-chart"' not in home
    assert 'id="kassa-start-here"' in home  # the "Start here" box stays
    # The chart's URL answers all the same, with pygal's "no data" picture.
    chart = client.get(CHART)
    assert (chart.status_code, chart["Content-Type"]) == (200, "image/svg+xml")
    assert b"No payments yet" in chart.content
    assert b"<script" not in chart.content


def test_the_checklist_ticks_items_off_and_goes_away_when_all_are_done(client, db, stripe_backend):
    shop = factories.merchant("Steps")
    m = shop.merchant
    client.force_login(shop.owner)
    _credentials(m)
    factories.product(m)
    checklist = _section(client.get(HOME).text, "kassa-checklist")
    assert 'class="kassa-done" data-item="credentials"' in checklist
    assert 'class="kassa-done" data-item="product"' in checklist
    assert 'class="" data-item="link"' in checklist
    factories.payment_link(m)
    factories.webhook_endpoint(m)
    assert 'id="kassa-checklist"' not in client.get(HOME).text
    # Live mode has its own checklist: nothing is set up there.
    client.post("/admin/switch/mode/", {"livemode": "1"})
    live = _section(client.get(HOME).text, "kassa-checklist")
    assert "Set up live payments" in live
    assert "kassa-done" not in live


# --- a merchant with payments: the numbers, the chart, the failures ------------------------------------


def test_the_home_page_shows_volume_refunds_failures_and_customers(client, shops):
    shop, paid, declined = shops["Alpha"]
    assert declined.status == "requires_payment_method"
    assert declined.last_payment_error["code"] == "card_declined"
    client.force_login(shop.owner)
    home = client.get(HOME).text

    for window in ("today", "7d", "30d"):
        figure = _section(home, f"kassa-volume-{window}")
        assert "25.00 EUR" in figure
        assert "\N{MINUS SIGN} 5.00 EUR refunded = 20.00 EUR net" in figure
        assert "1 payment" in figure
    assert f'src="{CHART}"' in home
    failed = _section(home, "kassa-failed-payments")
    assert re.search(r'id="kassa-failed-count">1<', failed)
    assert f"/admin/billing/paymentintent/{declined.pk}/change/" in failed
    # The heading opens the payments list filtered to exactly these.
    listing = client.get(re.search(r'href="([^"]+)" id="kassa-failed-list"', failed).group(1).replace("&amp;", "&"))
    assert declined.public_id in listing.text
    assert paid.public_id not in listing.text
    assert "Your card was declined." in failed
    assert "bob@alpha.test" in failed
    recent = _section(home, "kassa-recent-payments")
    assert f"/admin/billing/paymentintent/{paid.pk}/change/" in recent
    assert re.search(r'class="kassa-status kassa-status--partially_refunded">Partially refunded<', recent)
    assert re.search(r'class="kassa-status kassa-status--failed">Failed<', recent)
    assert "ann@alpha.test" in recent
    assert "5.00 EUR" in _section(home, "kassa-recent-refunds")
    assert re.search(r'id="kassa-new-customer-count">2<', home)
    assert 'id="kassa-checklist"' in home  # no webhook endpoint yet

    chart = client.get(CHART).content.decode()
    assert chart.count('class="rect reactive tooltip-trigger"') == 30  # a bar per day
    assert _bars(chart) == ["25.00 EUR"]  # today's, gross


def test_volume_outside_the_window_counts_only_in_the_longer_windows(client, shops):
    shop, paid, _declined = shops["Alpha"]
    type(paid).objects.filter(pk=paid.pk).update(created=timezone.now() - timezone.timedelta(days=10))
    client.force_login(shop.owner)
    home = client.get(HOME).text
    assert "25.00 EUR" not in _section(home, "kassa-volume-today")
    assert "25.00 EUR" not in _section(home, "kassa-volume-7d")
    assert "25.00 EUR" in _section(home, "kassa-volume-30d")


# --- scoping: another merchant's data, the other mode's -----------------------------------------------


def test_another_merchants_numbers_never_show(client, shops):
    alpha, beta = shops["Alpha"][0], shops["Beta"][0]
    client.force_login(alpha.owner)
    home = client.get(HOME).text
    for beta_value in ("77.77", "72.77", "@beta.test", shops["Beta"][2].public_id):
        assert beta_value not in home, beta_value
    assert _bars(client.get(CHART).content.decode()) == ["25.00 EUR"]
    # B's staff see B's, not A's.
    client.force_login(beta.owner)
    home = client.get(HOME).text
    assert "77.77 EUR" in _section(home, "kassa-volume-today")
    assert "@alpha.test" not in home
    assert "25.00" not in home


def test_the_other_modes_numbers_never_show(client, shops):
    shop = shops["Alpha"][0]
    m = shop.merchant
    live_customer = factories.customer(m, email="live-payer@alpha.test", livemode=True)
    payments.payment_intent_create(
        now=timezone.now(), merchant=m, livemode=True, amount=6666, currency="eur", customer=live_customer
    )
    client.force_login(shop.owner)
    test_home = client.get(HOME).text
    assert "66.66" not in test_home
    assert "live-payer@alpha.test" not in test_home

    client.post("/admin/switch/mode/", {"livemode": "1"})
    live_home = client.get(HOME).text
    assert "66.66 EUR" in _section(live_home, "kassa-recent-payments")
    assert "25.00" not in live_home
    assert "ann@alpha.test" not in live_home
    assert re.search(r'id="kassa-failed-count">0<', live_home)
    assert _bars(client.get(CHART).content.decode()) == []


def test_platform_staff_see_every_merchant_or_the_one_they_pick(client, shops):
    client.force_login(factories.platform_staff())
    home = client.get(HOME).text
    assert 'id="kassa-all-merchants"' in home
    today = _section(home, "kassa-volume-today")
    assert "102.77 EUR" in today  # 25.00 + 77.77
    assert re.search(r'id="kassa-failed-count">2<', home)
    assert _bars(client.get(CHART).content.decode()) == ["102.77 EUR"]  # one currency: one bar for the day
    assert 'id="kassa-checklist"' not in home  # a checklist is one merchant's
    recent = _section(home, "kassa-recent-payments")
    assert "<td>Alpha</td>" in recent
    assert "<td>Beta</td>" in recent

    client.post("/admin/switch/merchant/", {"merchant": shops["Beta"][0].merchant.public_id})
    home = client.get(HOME).text
    assert "77.77 EUR" in _section(home, "kassa-volume-today")
    assert "@alpha.test" not in home
    assert "25.00" not in home
    assert _bars(client.get(CHART).content.decode()) == ["77.77 EUR"]


def test_the_chart_is_behind_the_dashboards_login(client, db):
    response = client.get(CHART)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- payments switched off: the banner and the warning ----------------------------------------------


def test_the_banner_shows_on_every_page_in_a_mode_without_credentials(client, db, stripe_backend):
    shop = factories.merchant("Banner")
    client.force_login(shop.owner)
    for page in (HOME, "/admin/billing/product/", "/admin/billing/paymentintent/"):
        banner = _section(client.get(page).text, "kassa-payments-off")
        assert "no Stripe credentials for test mode" in banner, page
        assert 'href="/admin/merchants/processorcredential/add/"' in banner
    _credentials(shop.merchant)
    assert 'id="kassa-payments-off"' not in client.get(HOME).text
    assert 'id="kassa-payments-off"' not in client.get("/admin/billing/product/").text
    client.post("/admin/switch/mode/", {"livemode": "1"})
    assert "no Stripe credentials for live mode" in client.get(HOME).text


def test_the_banner_and_the_pay_page_follow_one_rule(client, db, stripe_backend):
    """Credentials without a publishable key: the pay page answers 503, and the banner says why."""
    shop = factories.merchant("Half")
    m = shop.merchant
    credential = merchant_services.processor_credential_set(merchant=m, livemode=False, secret_key="sk_test_half")
    link = factories.payment_link(m)
    session = checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
    assert client.get(f"/pay/{link.slug}").status_code == 302
    assert client.get(f"/pay/session/{session.public_id}").status_code == 503
    client.force_login(shop.owner)
    banner = _section(client.get(HOME).text, "kassa-payments-off")
    assert "no publishable key" in banner
    assert f"/admin/merchants/processorcredential/{credential.pk}/change/" in banner
    _credentials(m)
    assert 'id="kassa-payments-off"' not in client.get(HOME).text
    client.logout()
    assert client.get(f"/pay/session/{session.public_id}").status_code == 200


def test_a_viewer_is_told_who_can_fix_it_without_a_link_they_cannot_use(client, db):
    shop = factories.merchant("Viewer")
    client.force_login(factories.staff(shop.merchant, Membership.Role.VIEWER))
    banner = _section(client.get(HOME).text, "kassa-payments-off")
    assert "An owner or admin can fix this" in banner
    assert "processorcredential/add" not in banner


def test_platform_staff_looking_at_every_merchant_get_no_banner(client, db):
    factories.merchant("Nobody")
    client.force_login(factories.platform_staff())
    assert 'id="kassa-payments-off"' not in client.get(HOME).text


def _link_add(client):
    from tests.billing.checkout.test_dashboard import _link_form

    return client.post(
        "/admin/billing/paymentlink/add/", _link_form(amount="12.50", amount_description="Lesson"), follow=True
    )


def test_making_a_link_where_payers_cannot_pay_warns_instead_of_saying_share_it(client, db, stripe_backend):
    shop = factories.merchant("Warned")
    client.force_login(shop.owner)
    page = _link_add(client)
    assert page.status_code == 200
    assert re.search(r'<li class="warning">Payment link plink_\w+ created, but payers cannot pay it yet\.', page.text)
    assert "Share its URL" not in page.text
    _credentials(shop.merchant)
    page = _link_add(client)
    assert re.search(r'<li class="info">Payment link plink_\w+ created\. Share its URL or QR code\.', page.text)


# --- the menu ---------------------------------------------------------------------------------------


def test_the_menu_is_grouped_by_what_a_merchant_does(client, db):
    shop = factories.merchant("Menu")
    client.force_login(shop.owner)
    page = client.get("/admin/billing/product/").text
    sidebar = page[page.index('id="nav-sidebar"') :]
    groups = re.findall(r'<span class="section">([^<]+)</span>', sidebar)
    assert groups == ["Payments", "Billing", "Customers", "Products", "Developers", "Settings"]
    order = [
        "/admin/billing/paymentintent/",
        "/admin/billing/refund/",
        "/admin/billing/checkoutsession/",
        "/admin/billing/customer/",
        "/admin/billing/product/",
        "/admin/billing/price/",
        "/admin/billing/paymentlink/",
        "/admin/merchants/apikey/",
        "/admin/webhooks/webhookendpoint/",
        "/admin/webhooks/event/",
        "/admin/webhooks/processorevent/",
        "/v1/docs/",
        "/admin/merchants/merchant/",
        "/admin/merchants/membership/",
        "/admin/merchants/processorcredential/",
    ]
    positions = [sidebar.index(f'href="{url}"') for url in order]
    assert positions == sorted(positions)
    assert "View site" not in page
    assert 'aria-current="page">Products<' in sidebar
    # An app's own page (a URL people may have kept) still lists that app's pages.
    assert client.get("/admin/billing/").status_code == 200


def test_platform_staff_also_get_the_platforms_own_pages(client, db):
    client.force_login(factories.platform_staff())
    home = client.get(HOME).text
    groups = re.findall(r'<span class="section">([^<]+)</span>', home)
    assert groups[-1] == "Platform"
    assert 'href="/admin/auth/user/"' in home


def test_each_currency_has_its_own_chart(client, shops):
    shop = shops["Alpha"][0]
    m = shop.merchant
    customer = factories.customer(m, email="yen@alpha.test")
    yen = payments.payment_intent_create(
        now=timezone.now(), merchant=m, livemode=False, amount=5000, currency="jpy", customer=customer
    )
    type(yen).objects.filter(pk=yen.pk).update(status="succeeded", amount_received=5000)
    client.force_login(shop.owner)
    home = client.get(HOME).text
    # JPY's 5000 outweighs EUR's 2500 minor units: drawn first; EUR's chart next, on its own axis.
    assert f'id="kassa-volume-chart" src="{CHART}"' in home
    assert f'id="kassa-volume-chart-eur" src="{CHART}?currency=eur"' in home
    assert _bars(client.get(CHART).content.decode()) == ["5,000 JPY"]
    assert _bars(client.get(CHART, {"currency": "eur"}).content.decode()) == ["25.00 EUR"]
    assert _bars(client.get(CHART, {"currency": "usd"}).content.decode()) == []


def test_a_window_starts_at_local_midnight_across_a_clock_change():
    """Paris left summer time on 2026-10-25: a week back from the 28th starts at midnight in summer time."""
    with timezone.override("Europe/Paris"):
        now = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)
        assert day_start(now, 7) == datetime(2026, 10, 20, 22, 0, tzinfo=UTC)  # 00:00 CEST (+02:00)
        assert day_start(now) == datetime(2026, 10, 27, 23, 0, tzinfo=UTC)  # 00:00 CET (+01:00)
