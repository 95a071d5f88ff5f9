"""The hosted customer portal with Django's test client: what the payer sees, changes, and can never reach."""

import re
from datetime import timedelta

import pytest
from django.template import Template
from django.test import Client
from django.utils import timezone

from billing.hosted import framing
from billing.models import Customer, PortalSession
from billing.portal import sections, services
from billing.portal.sections import Section
from tests import factories
from webhooks.models import Event

pytestmark = pytest.mark.django_db

RETURN_URL = "https://shop.example/account"


@pytest.fixture
def payer(shop):
    return factories.customer(shop.merchant, email="ada@example.com", name="Ada Lovelace")


@pytest.fixture
def configuration(shop):
    configuration = services.portal_configuration_for(merchant=shop.merchant, livemode=False)
    return services.portal_configuration_update(
        configuration=configuration,
        customer_update_email=True,
        customer_update_address=True,
        headline="Manage your tea club",
        privacy_policy_url="https://shop.example/privacy",
    )


def new_session(customer, *, now=None, **options) -> PortalSession:
    return services.portal_session_create(
        merchant=customer.merchant,
        livemode=customer.livemode,
        customer=customer,
        now=now or timezone.now(),
        **({"return_url": RETURN_URL} | options),
    )


def opened(client, session, **headers):
    response = client.get(f"/portal/{session.token}", **headers)
    assert response.status_code == 200, response.content[:500]
    return response


def test_the_page_shows_the_customer_their_invoices_and_the_way_back(client, shop, payer, configuration):
    tea = factories.price(shop.merchant)
    mine = factories.open_invoice(shop.merchant, customer=payer, price=tea)
    other_payer = factories.customer(shop.merchant, email="grace@example.com", name="Grace Hopper")
    theirs = factories.open_invoice(shop.merchant, customer=other_payer, price=tea)
    elsewhere = factories.merchant("Elsewhere")
    foreign = factories.open_invoice(
        elsewhere.merchant,
        customer=factories.customer(elsewhere.merchant, email="ada@example.com"),
        price=factories.price(elsewhere.merchant),
    )
    page = opened(client, new_session(payer)).content.decode()
    assert "Ada Lovelace" in page
    assert "ada@example.com" in page
    assert "Manage your tea club" in page
    assert f'href="{RETURN_URL}"' in page
    assert "Return to Shop" in page
    assert 'href="https://shop.example/privacy"' in page
    assert mine.number in page
    assert f"/invoices/{mine.token}" in page
    assert f"/invoices/{mine.token}/pdf" in page
    assert "€12.50" in page
    for invoice in (theirs, foreign):
        assert invoice.token not in page
    assert "Grace" not in page
    # Strict CSP with a nonce; never framed.
    response = client.get(f"/portal/{PortalSession.objects.get().token}")
    assert response.status_code == 200  # the same browser comes back
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "nonce-" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    # No placeholder text for what does not exist yet.
    assert "coming soon" not in page.lower()


def test_only_the_features_turned_on_are_shown(client, shop, payer):
    configuration = services.portal_configuration_for(merchant=shop.merchant, livemode=False)
    services.portal_configuration_update(configuration=configuration, invoice_history=False)
    page = opened(client, new_session(payer)).content.decode()
    assert 'id="section-payment_method"' in page
    assert 'id="section-invoices"' not in page
    assert 'id="section-details"' not in page  # email and address editing are off by default
    services.portal_configuration_update(configuration=configuration, payment_method_update=False)
    page = opened(Client(), new_session(payer)).content.decode()
    assert 'id="section-payment_method"' not in page
    assert "checkout.js" not in page


def test_the_url_opens_once_within_five_minutes_and_lasts_an_hour_in_that_browser(client, payer, configuration):
    session = new_session(payer)
    opened(client, session)
    # Another browser with the same URL (forwarded, leaked, in a log) gets nothing.
    stranger = Client().get(f"/portal/{session.token}")
    assert stranger.status_code == 410
    assert "This page has expired" in stranger.content.decode()
    assert "Ada" not in stranger.content.decode()
    assert f'href="{RETURN_URL}"' in stranger.content.decode()
    # An hour later the opener's session is over too.
    PortalSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/portal/{session.token}").status_code == 410
    # A URL not opened within 5 minutes never opens.
    late = new_session(payer, now=timezone.now() - timedelta(minutes=5, seconds=1))
    assert Client().get(f"/portal/{late.token}").status_code == 410
    # An unknown token is a 404 that names nothing.
    for token in ("x" * 43, "x" * 300):
        missing = Client().get(f"/portal/{token}")
        assert missing.status_code == 404
        assert "Shop" not in missing.content.decode()
    # A customer deleted since: the session ends with it.
    again = new_session(payer)
    browser = Client()
    opened(browser, again)
    services.catalogue.customer_delete(customer=payer)
    assert browser.get(f"/portal/{again.token}").status_code == 410


def test_edit_email_and_address_validated_as_the_api_does(client, payer, configuration):
    session = new_session(payer)
    opened(client, session)
    answer = client.post(f"/portal/{session.token}/details/email", {"email": "ada@newmail.example"})
    assert answer.status_code == 302
    assert answer["Location"].endswith("?done=details.email#section-details")
    assert "Your email address has been updated." in client.get(answer["Location"]).content.decode()
    payer.refresh_from_db()
    assert payer.email == "ada@newmail.example"
    assert Event.objects.filter(type="customer.updated").count() == 1
    # Refused as the API refuses it; nothing changes and the page says why.
    refused = client.post(f"/portal/{session.token}/details/email", {"email": "not-an-email"})
    assert refused.status_code == 400
    assert "Enter a valid email address." in refused.content.decode()
    payer.refresh_from_db()
    assert payer.email == "ada@newmail.example"
    address = {
        "address_line1": "8 rue de la Paix",
        "address_line2": "",
        "address_postal_code": "75002",
        "address_city": "Paris",
        "address_state": "",
        "address_country": "fr",
    }
    assert client.post(f"/portal/{session.token}/details/address", address).status_code == 302
    payer.refresh_from_db()
    assert payer.address == {
        "city": "Paris",
        "country": "FR",
        "line1": "8 rue de la Paix",
        "line2": None,
        "postal_code": "75002",
        "state": None,
    }
    missing_line = client.post(f"/portal/{session.token}/details/address", address | {"address_line1": ""})
    assert missing_line.status_code == 400
    assert "Enter your billing address." in missing_line.content.decode()
    too_long = client.post(f"/portal/{session.token}/details/address", address | {"address_city": "P" * 201})
    assert too_long.status_code == 400


def test_edits_the_settings_leave_off_are_refused(client, shop, payer):
    session = new_session(payer)
    opened(client, session)
    refused = client.post(f"/portal/{session.token}/details/email", {"email": "ada@newmail.example"})
    assert refused.status_code == 400
    assert "This is not available here" in refused.content.decode()
    payer.refresh_from_db()
    assert payer.email == "ada@example.com"
    # Subscriptions' actions, off by default, are refused the same way (test_subscriptions.py has the rest).
    cancel = client.post(f"/portal/{session.token}/subscriptions/cancel", {})
    assert cancel.status_code == 400
    assert "This is not available here" in cancel.content.decode()
    assert client.post(f"/portal/{session.token}/subscriptions/nothing", {}).status_code == 404


def test_every_post_is_csrf_protected(payer, configuration):
    browser = Client(enforce_csrf_checks=True)
    session = new_session(payer)
    page = opened(browser, session).content.decode()
    without = browser.post(f"/portal/{session.token}/details/email", {"email": "evil@example.com"})
    assert without.status_code == 403
    payer.refresh_from_db()
    assert payer.email == "ada@example.com"
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = {"email": "ada@newmail.example", "csrfmiddlewaretoken": csrf}
    assert browser.post(f"/portal/{session.token}/details/email", data).status_code == 302
    # The card call is refused without the page's token (another site cannot send it).
    card = browser.post(f"/portal/{session.token}/card", {"token": "tok_visa"}, content_type="application/json")
    assert card.status_code == 403


def test_another_customers_objects_are_never_reachable(client, shop, payer, configuration):
    """Tampered ids: a form naming another customer, another session's token with this browser's cookie."""
    other = factories.customer(shop.merchant, email="grace@example.com", name="Grace Hopper")
    mine = new_session(payer)
    opened(client, mine)
    tampered = {"email": "ada@newmail.example", "customer": other.public_id, "id": other.public_id}
    assert client.post(f"/portal/{mine.token}/details/email", tampered).status_code == 302
    other.refresh_from_db()
    payer.refresh_from_db()
    assert (payer.email, other.email) == ("ada@newmail.example", "grace@example.com")
    # Grace's session, never opened in this browser: this browser's cookie does not open it once it is opened
    # elsewhere, and its forms refuse this browser.
    theirs = new_session(other)
    opened(Client(), theirs)
    assert client.get(f"/portal/{theirs.token}").status_code == 410
    assert client.post(f"/portal/{theirs.token}/details/email", {"email": "x@evil.example"}).status_code == 410
    other.refresh_from_db()
    assert other.email == "grace@example.com"
    # The page token of one session does not open another's card call.
    card = client.post(
        f"/portal/{theirs.token}/card",
        {"token": "tok_visa"},
        content_type="application/json",
        headers={framing.PAGE_TOKEN_HEADER: framing.page_token(mine)},
    )
    assert card.status_code == 403


def test_update_card_saves_it_as_the_default_as_the_api_does(client, paying_shop, card_token):
    payer = factories.customer(paying_shop.merchant, email="ada@example.com", name="Ada")
    old = factories.saved_card(payer, card_token)
    payer = services.catalogue.customer_update(customer=payer, default_payment_method=old)
    session = new_session(payer)
    page = opened(client, session).content.decode()
    assert 'id="card-last4">4242<' in page
    assert 'id="kassa-checkout"' in page
    assert "kassa/checkout.js" in page
    answer = client.post(
        f"/portal/{session.token}/card",
        {"token": card_token("5555555555554444"), "name": "Ada L."},
        content_type="application/json",
        headers={framing.PAGE_TOKEN_HEADER: framing.page_token(session)},
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "succeeded"
    assert answer.json()["next_url"].startswith(f"/portal/{session.token}?done=payment_method.update")
    payer = Customer.objects.get(pk=payer.pk)
    assert payer.default_payment_method.card_last4 == "4444"
    assert payer.default_payment_method.billing_details == {"name": "Ada L."}
    assert payer.default_payment_method != old
    updated = Event.objects.filter(type="customer.updated").latest("pk")
    assert (
        updated.data["object"]["invoice_settings"]["default_payment_method"] == payer.default_payment_method.public_id
    )
    assert Event.objects.filter(type="payment_method.attached").count() == 2
    assert "Your card has been updated." in client.get(answer.json()["next_url"]).content.decode()
    # A refused card changes nothing and says why.
    refused = client.post(
        f"/portal/{session.token}/card",
        {"token": card_token("4000000000000002")},
        content_type="application/json",
        headers={framing.PAGE_TOKEN_HEADER: framing.page_token(session)},
    )
    assert refused.status_code == 402
    assert refused.json()["message"] == "Your card was declined. Try another card."
    assert Customer.objects.get(pk=payer.pk).default_payment_method == payer.default_payment_method


def test_english_and_french(shop, payer, configuration):
    french = opened(Client(), new_session(payer), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert french["Content-Language"] == "fr"
    text = french.content.decode()
    assert "Retourner sur Shop" in text
    assert "Factures" in text
    assert "Moyen de paiement" in text
    # The session's locale wins over the browser, and fixes the language (no switch).
    fixed = opened(Client(), new_session(payer, locale="fr"), HTTP_ACCEPT_LANGUAGE="en")
    assert fixed["Content-Language"] == "fr"
    assert 'id="language-switch"' not in fixed.content.decode()
    # The customer's preferred_locales, when neither the session nor the payer chose.
    services.catalogue.customer_update(customer=payer, preferred_locales=["fr-CA"])
    assert opened(Client(), new_session(payer), HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "fr"
    # The payer's pick on the switch.
    browser = Client()
    session = new_session(payer)
    opened(browser, session)
    english = browser.get(f"/portal/{session.token}?lang=en")
    assert english["Content-Language"] == "en"
    assert "Return to Shop" in english.content.decode()


def test_an_emailed_link_opens_a_fresh_session_with_the_default_return_url(shop, payer, configuration):
    services.portal_configuration_update(configuration=configuration, default_return_url="https://shop.example/me")
    link = services.portal_link_for_customer(customer=payer, now=timezone.now())
    path = link.split("://", 1)[1].split("/", 1)[1]
    browser = Client()
    answer = browser.get(f"/{path}")
    assert answer.status_code == 302
    session = PortalSession.objects.get()
    assert answer["Location"] == f"/portal/{session.token}"
    assert (session.customer, session.return_url) == (payer, "https://shop.example/me")
    assert "Ada Lovelace" in opened(browser, session).content.decode()
    # Opened again later, it makes another session; altered or old, it opens nothing.
    assert Client().get(f"/{path}").status_code == 302
    assert PortalSession.objects.count() == 2
    assert Client().get(f"/{path[:-3]}abc").status_code == 410
    old = services.portal_link_for_customer(customer=payer, now=timezone.now() - timedelta(days=31))
    assert Client().get("/" + old.split("://", 1)[1].split("/", 1)[1]).status_code == 410
    # Without a default return URL the link still works, with no way back shown.
    services.portal_configuration_update(configuration=configuration, default_return_url="")
    fresh = Client()
    assert fresh.get(f"/{path}").status_code == 302
    page = fresh.get(f"/portal/{PortalSession.objects.latest('pk').token}").content.decode()
    assert 'id="return-link"' not in page


def test_other_parts_add_sections_through_the_registry(client, payer, configuration):
    shown = []

    def context(ctx):
        shown.append(ctx.customer)
        return {"message": f"Plans of {ctx.customer.name}"}

    sections.section_register(
        Section(key="plans", order=10, template=Template("<p>{{ data.message }}</p>"), context=context)
    )
    try:
        page = opened(client, new_session(payer)).content.decode()
    finally:
        sections._SECTIONS.pop("plans")
    assert shown == [payer]
    assert page.index('id="section-plans"') < page.index('id="section-payment_method"')
    assert "Plans of Ada Lovelace" in page
