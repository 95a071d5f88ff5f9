"""The dashboard's language: the person's choice (the header's switch), else the browser's, else English.

The API and the payer's pages are not the dashboard's: the API answers in English whatever the
browser or the switch's cookie say, and a pay page resolves its own language (billing/hosted/i18n.py).
"""

import pytest
from django.conf import settings
from django.utils import timezone, translation

from billing.checkout import services as checkout
from merchants import services
from merchants.models import Membership
from tests import factories

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9,en;q=0.5"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}
PAYMENTS = "/admin/billing/paymentintent/"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def paid_shop(paying_shop, card_token):
    factories.paid_payment(paying_shop.merchant, card_token, amount=2500)
    return paying_shop


@pytest.fixture
def owner(client, paid_shop):
    user = factories.staff(paid_shop.merchant, Membership.Role.OWNER)
    client.force_login(user)
    return user


def test_the_dashboard_follows_the_browser(client, owner):
    home = client.get("/admin/", **FRENCH)
    assert home.status_code == 200
    assert home["Content-Language"] == "fr"
    assert '<html lang="fr"' in home.text
    assert "Paiements récents" in home.text
    assert "Réussi" in home.text
    assert "Volume brut (test)" in home.text

    payments = client.get(PAYMENTS, **FRENCH)
    assert payments.status_code == 200
    assert "Paiements" in payments.text
    assert "Réussi" in payments.text
    assert "Succeeded" not in payments.text

    english = client.get(PAYMENTS, **ENGLISH)
    assert "Succeeded" in english.text
    assert "Réussi" not in english.text
    # Neither: English.
    assert "Succeeded" in client.get(PAYMENTS, HTTP_ACCEPT_LANGUAGE="de-DE").text


def test_the_switch_sets_the_cookie_and_the_next_page_is_french(client, owner, paid_shop):
    answer = client.post("/i18n/setlang/", {"language": "fr", "next": PAYMENTS}, **ENGLISH)
    assert answer.status_code == 302
    assert answer["Location"] == PAYMENTS
    cookie = answer.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "fr"
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    # The choice wins over the browser's.
    page = client.get(PAYMENTS, **ENGLISH)
    assert "Réussi" in page.text
    assert 'id="kassa-language"' in page.text
    assert '<option value="fr" lang="fr" selected>Français</option>' in page.text
    # The member's emails follow the language they read Kassa in (at every merchant they belong to).
    assert Membership.objects.get(user=owner, merchant=paid_shop.merchant).language == "fr"

    client.post("/i18n/setlang/", {"language": "en", "next": PAYMENTS}, **FRENCH)
    assert "Succeeded" in client.get(PAYMENTS, **FRENCH).text
    assert Membership.objects.get(user=owner, merchant=paid_shop.merchant).language == "en"


def test_the_switch_is_on_the_login_page_before_logging_in(client, db):
    login = client.get("/admin/login/", **FRENCH)
    assert 'id="kassa-language-switch"' in login.text
    assert "Connexion" in login.text  # Django's own words, in French
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/login/"}, **FRENCH)
    assert "Log in" in client.get("/admin/login/", **FRENCH).text


def test_the_switch_refuses_a_language_kassa_does_not_have_and_a_get(client, owner, paid_shop):
    answer = client.post("/i18n/setlang/", {"language": "de", "next": PAYMENTS})
    assert settings.LANGUAGE_COOKIE_NAME not in answer.cookies
    assert Membership.objects.get(user=owner, merchant=paid_shop.merchant).language == "en"
    assert client.get("/i18n/setlang/", {"language": "fr"}).status_code == 405


def test_the_switch_sends_nobody_to_another_site(client, owner):
    answer = client.post("/i18n/setlang/", {"language": "fr", "next": "https://evil.example/"})
    assert answer["Location"] == "/"


def test_the_api_stays_english_after_a_french_page_on_the_same_thread(client, owner, paid_shop):
    client.get("/admin/", **FRENCH)
    assert translation.get_language() == "fr"  # LocaleMiddleware's, left on this thread as Django leaves it
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    key = paid_shop.secret_key.secret
    # A DRF validation message (DRF has French catalogs) and Kassa's own.
    missing = client.post("/v1/prices", "currency=eur", FORM, HTTP_AUTHORIZATION=f"Bearer {key}", **FRENCH)
    assert missing.status_code == 400
    assert "Content-Language" not in missing
    assert missing.json()["error"]["message"] == "Missing required param: unit_amount."
    assert translation.get_language() == "en"
    body = "currency=eur&unit_amount=lots&product_data[name]=Tea"
    wrong_type = client.post("/v1/prices", body, FORM, HTTP_AUTHORIZATION=f"Bearer {key}", **FRENCH)
    assert wrong_type.status_code == 400
    message = wrong_type.json()["error"]["message"]
    assert "integer" in message.lower(), message
    assert "entier" not in message


def test_a_pay_page_is_not_the_dashboards(client, owner, paid_shop):
    """The dashboard reader's French cookie does not change what a payer reads: the page's own rule decides."""
    link = factories.payment_link(paid_shop.merchant, price=factories.price(paid_shop.merchant, unit_amount=1250))
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/admin/"})
    page = client.get(f"/pay/session/{session.public_id}", **ENGLISH)
    assert page["Content-Language"] == "en"
    assert "Your order" in page.text
    assert "Votre commande" not in page.text
    # And the other way round: a French payer with the dashboard in English.
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    page = client.get(f"/pay/session/{session.public_id}", **FRENCH)
    assert page["Content-Language"] == "fr"
    assert "Votre commande" in page.text
    # A session's own locale wins over both.
    english_session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    english_session.locale = "en"
    english_session.save(update_fields=["locale"])
    client.post("/i18n/setlang/", {"language": "fr", "next": "/admin/"})
    assert "Your order" in client.get(f"/pay/session/{english_session.public_id}", **FRENCH).text


def test_a_member_of_several_merchants_gets_their_emails_in_the_chosen_language(client, paid_shop):
    other = factories.merchant("Other").merchant
    user = factories.staff(paid_shop.merchant, Membership.Role.VIEWER, email="both@shops.test")
    services.membership_add(merchant=other, email="both@shops.test", role=Membership.Role.ADMIN)
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/admin/"})
    assert set(Membership.objects.filter(user=user).values_list("language", flat=True)) == {"fr"}
