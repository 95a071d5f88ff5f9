"""The hosted pay pages through Django's test client (the browser tests drive them in Chromium)."""

import html as htmllib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from babel.messages.pofile import read_po
from django.conf import settings as django_settings
from django.utils import timezone, translation

from billing.catalogue import services
from billing.checkout import services as checkout
from billing.hosted import framing
from billing.hosted import i18n as hosted_i18n
from billing.models import CheckoutSession, PaymentIntent
from kassa import money
from kassa.errors import InvalidRequest
from merchants import services as merchant_services
from tests import factories
from tests.conftest import processor_payment_intents

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9,en;q=0.5"}


@pytest.fixture
def make_link(shop):
    merchant_services.processor_credential_set(
        merchant=shop.merchant, livemode=False, secret_key="sk_test_pages", publishable_key="pk_test_pages"
    )

    def make(amount=1250, currency="eur", quantity=2, name="Tea", **options):
        m = shop.merchant
        price = factories.price(m, unit_amount=amount, currency=currency, product=factories.product(m, name=name))
        return factories.payment_link(m, price=price, quantity=quantity, **options)

    return make


@pytest.fixture
def session(make_link):
    return checkout.checkout_session_from_link(now=timezone.now(), payment_link=make_link())


def page_url(session, suffix=""):
    return f"/pay/session/{session.public_id}{suffix}"


def text_of(response) -> str:
    return htmllib.unescape(response.content.decode())


def csp(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header, directive by directive."""
    directives = [d.split() for d in response["Content-Security-Policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


def post_json(client, session, suffix, body=None, **headers):
    headers.setdefault("HTTP_X_KASSA_PAGE_TOKEN", framing.page_token(session))
    headers.setdefault("HTTP_ORIGIN", "http://testserver")
    return client.post(page_url(session, suffix), json.dumps(body or {}), content_type="application/json", **headers)


# --- opening a link and showing the page -------------------------------------------------


def test_opening_a_link_makes_a_session_and_redirects_to_it(client, make_link):
    link = make_link()
    response = client.get(f"/pay/{link.slug}")
    assert response.status_code == 302
    session = CheckoutSession.objects.get()
    assert response["Location"] == page_url(session)
    assert (session.payment_link, session.amount_total, session.currency) == (link, 2500, "eur")
    # Each opening is a fresh basket, as with Stripe's payment links.
    client.get(f"/pay/{link.slug}")
    assert CheckoutSession.objects.count() == 2


def test_the_checkout_page_shows_merchant_items_total_and_stripe_js(client, session, settings):
    response = client.get(page_url(session))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="viewport"' in html
    assert '<html lang="en">' in html
    assert "Shop" in html
    assert "Tea" in html
    assert "Qty 2" in html
    assert "€12.50" not in html  # line totals, not unit prices
    assert html.count("€25.00") >= 2  # the line and the total
    assert "Pay €25.00" in html
    assert f'<script src="{settings.STRIPE_JS_URL}" nonce="' in html
    assert "Test mode" in html
    config = json.loads(re.search(r'id="kassa-checkout" type="application/json">(.*?)</script>', html).group(1))
    assert config["publishableKey"] == "pk_test_pages"
    assert config["pageToken"] == framing.page_token(session)
    assert config["embed"] is False
    assert 'id="email"' in html
    assert 'id="phone"' not in html
    assert 'id="address-line1"' not in html
    # Framing refused, nothing cached, language negotiated.
    assert response["X-Frame-Options"] == "DENY"
    assert csp(response)["frame-ancestors"] == ["'none'"]
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Language"] == "en"
    assert "Accept-Language" in response["Vary"]


def test_french_browsers_get_the_french_page(client, session):
    response = client.get(page_url(session), **FRENCH)
    html = response.content.decode()
    assert response["Content-Language"] == "fr"
    assert '<html lang="fr">' in html
    assert "Votre commande" in html
    assert "Qté 2" in html
    assert "Payer 25,00\xa0€" in html
    assert "Mode test" in html
    assert '<option value="FR" selected>France</option>' not in html  # no address asked for this link


def test_english_is_the_fallback_and_q_values_count(rf):
    def language(header):
        return hosted_i18n.language_from(rf.get("/", HTTP_ACCEPT_LANGUAGE=header))

    assert language("") == "en"
    assert language("de-DE,de;q=0.9") == "en"
    assert language("de-DE,fr;q=0.5,en;q=0.4") == "fr"
    assert language("en;q=0.3, fr-CA;q=0.8") == "fr"
    assert language("fr;q=0, en") == "en"
    assert language("FR-fr") == "fr"
    assert language("*;q=0.5, garbage!!, fr") == "fr"
    assert hosted_i18n.region_from(rf.get("/", HTTP_ACCEPT_LANGUAGE="fr-BE,fr;q=0.9")) == "BE"


def test_every_hosted_page_word_has_its_french():
    """The French catalog is complete for the hosted pages: a missing string fails here, not on a payer's page.

    (Placeholders that do not match fail the catalog's compilation: tests/kassa/test_i18n_compile.py.)
    """
    french = {}
    # The templates' words are in the project's catalog, the Python's (MESSAGES) in the billing app's.
    for catalog in ("locale", "billing/locale"):
        with (django_settings.BASE_DIR / catalog / "fr/LC_MESSAGES/django.po").open("rb") as handle:
            french |= {m.id: m.string for m in read_po(handle) if m.id and not m.fuzzy}
    in_templates = set()
    for template in (django_settings.BASE_DIR / "templates/pay").glob("*.html"):
        in_templates |= set(re.findall(r"{% translate ['\"](.+?)['\"] %}", template.read_text()))
    assert in_templates
    for english in [str(m) for m in hosted_i18n.MESSAGES.values()] + sorted(in_templates):
        assert french.get(english), f"no French for {english!r} in the French catalogs"
    with translation.override("fr"):
        assert hosted_i18n.text("pay", amount="12,50 €") == "Payer 12,50 €"
        assert hosted_i18n.text("generic_error") == french["Something went wrong. Nothing was charged; try again."]


ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}


def test_a_session_or_link_locale_wins_over_the_browser_and_hides_the_switch(client, make_link):
    link = make_link(locale="fr")
    opened = client.get(f"/pay/{link.slug}", **ENGLISH)
    session = CheckoutSession.objects.get()
    assert session.locale == "fr"  # the link's, copied
    response = client.get(opened["Location"], {"lang": "en"}, **ENGLISH)
    html = response.content.decode()
    assert response["Content-Language"] == "fr"
    assert '<html lang="fr">' in html
    assert "Payer 25,00\xa0€" in html
    assert 'id="language-switch"' not in html  # the merchant fixed it: a switch would do nothing
    # A session made through the API with its own locale, and a link left on auto.
    auto = checkout.checkout_session_from_link(now=timezone.now(), payment_link=make_link(locale="auto"))
    assert 'id="language-switch"' in client.get(page_url(auto), **ENGLISH).content.decode()


def test_the_language_switch_is_a_link_remembered_in_a_cookie(client, session):
    english = client.get(page_url(session), {"lang": "en"}, **FRENCH)
    assert english["Content-Language"] == "en"
    assert english.cookies[hosted_i18n.COOKIE].value == "en"
    assert english.cookies[hosted_i18n.COOKIE]["path"] == "/pay/"
    assert english.cookies[hosted_i18n.COOKIE]["samesite"] == "Lax"
    html = english.content.decode()
    assert f'<a id="language-fr" href="{page_url(session)}?lang=fr"' in html
    assert "Pay €25.00" in html
    # The cookie carries the pick to the next page, over the browser's French.
    again = client.get(page_url(session), **FRENCH)
    assert again["Content-Language"] == "en"
    assert "Cookie" in again["Vary"]
    # The page's own calls carry the language the payer sees.
    config = json.loads(re.search(r'id="kassa-checkout" type="application/json">(.*?)</script>', html).group(1))
    assert config["payUrl"] == page_url(session, "/pay?lang=en")
    french = client.get(page_url(session), {"lang": "fr"})
    assert "Payer 25,00\xa0€" in french.content.decode()
    # An embedded page's switch keeps its embedding; an unknown language is ignored.
    embedded = client.get(page_url(session), {"embed": "1", "origin": "https://shop.example", "lang": "de"})
    assert embedded["Content-Language"] == "fr"  # the cookie's
    assert f'href="{page_url(session)}?embed=1&amp;origin=https%3A%2F%2Fshop.example&amp;lang=en"' in (
        embedded.content.decode()
    )


def test_a_link_opened_with_a_language_passes_it_on(client, make_link):
    opened = client.get(f"/pay/{make_link().slug}", {"lang": "fr"})
    session = CheckoutSession.objects.get()
    assert opened["Location"] == page_url(session, "?lang=fr")
    assert opened.cookies[hosted_i18n.COOKIE].value == "fr"
    assert client.get("/pay/nope", {"lang": "fr"})["Content-Language"] == "fr"


def test_the_payment_is_taken_in_the_language_the_payer_saw(client, paid_link, card_token, monkeypatch):
    """``translation.get_language()`` while ``checkout_session_pay`` runs is the page's (receipts are sent in it),
    and the payer's pick does not outlive the view: the thread keeps the language LocaleMiddleware chose for the
    request (the browser's here), as for any other page."""
    seen = []
    pay = checkout.checkout_session_pay

    def recording_pay(**kwargs):
        seen.append(translation.get_language())
        return pay(**kwargs)

    monkeypatch.setattr(checkout, "checkout_session_pay", recording_pay)
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    body = {"token": card_token("4000000000000002"), "email": "p@example.com"}
    answer = post_json(client, session, "/pay?lang=fr", body, **ENGLISH)
    assert answer.json()["message"] == "Votre carte a été refusée. Essayez une autre carte."
    assert answer["Content-Language"] == "fr"
    assert seen == ["fr"]
    assert translation.get_language() == "en"


def test_the_product_description_reaches_the_payer(client, make_link, shop):
    link = make_link(name="Sencha")
    product = link.line_items.get().price.product
    services.product_update(product=product, description="Loose-leaf green tea, 100 g.")
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    html = client.get(page_url(session)).content.decode()
    description = '<span class="line-product-description">Loose-leaf green tea, 100 g.</span>'
    assert f'<span class="line-description">Sencha{description}</span>' in html


def test_jpy_has_no_decimals(client, make_link):
    link = make_link(amount=5000, currency="jpy", quantity=1, name="Matcha")
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    html = client.get(page_url(session)).content.decode()
    assert "Pay ¥5,000" in html
    assert "¥5,000.00" not in html
    french = client.get(page_url(session), **FRENCH).content.decode()
    assert "Payer 5\u202f000\xa0JPY" in french
    assert money.format_localised(1234, "kwd", "en") == "KWD1.234"
    assert money.format_localised(199, "usd", "en") == "$1.99"


def test_the_page_asks_for_what_the_link_asks_for(client, make_link):
    link = make_link(phone_number_collection=True, billing_address_collection="required", email_collection=False)
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    html = client.get(page_url(session), **FRENCH).content.decode()
    assert 'id="email"' not in html
    assert 'id="phone"' in html
    assert 'id="address-line1"' in html
    assert '<option value="FR" selected>France</option>' in html


# --- pages that cannot take a payment ---------------------------------------------------------


def test_an_unknown_link_or_session_is_a_404_page(client, db):
    response = client.get("/pay/test_nosuchlink")
    assert response.status_code == 404
    assert "This payment page does not exist" in response.content.decode()
    response = client.get("/pay/session/cs_test_nosuchsession", **FRENCH)
    assert response.status_code == 404
    assert "Cette page de paiement n'existe pas" in text_of(response)
    assert client.get("/pay/session/cs_test_nosuchsession/complete").status_code == 404


def test_an_inactive_link_is_gone(client, make_link):
    link = make_link()
    checkout.payment_link_update(payment_link=link, active=False)
    response = client.get(f"/pay/{link.slug}")
    assert response.status_code == 410
    assert "This payment link is no longer active" in response.content.decode()
    assert not CheckoutSession.objects.exists()
    response = client.get(f"/pay/{link.slug}", **FRENCH)
    assert "Ce lien de paiement n'est plus actif" in text_of(response)


def test_an_expired_session_is_gone_and_offers_a_fresh_start(client, session):
    CheckoutSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(page_url(session))
    assert response.status_code == 410
    html = response.content.decode()
    assert "This checkout has expired" in html
    assert f'href="/pay/{session.payment_link.slug}"' in html
    session.refresh_from_db()
    assert session.status == "expired"
    # Paying it is refused too.
    answer = post_json(client, session, "/pay", {"token": "tok_x", "email": "p@example.com"})
    assert answer.status_code == 410
    assert answer.json()["status"] == "failed"


def test_a_merchant_without_stripe_credentials_gets_a_clear_page(client, shop):
    m = shop.merchant
    product = services.product_create(merchant=m, livemode=False, name="Tea")
    price = services.price_create(merchant=m, livemode=False, product=product, currency="eur", unit_amount=500)
    link = checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price, "quantity": 1}])
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    response = client.get(page_url(session))
    assert response.status_code == 503
    assert "cannot take card payments" in response.content.decode()


def test_the_success_page_needs_a_complete_session(client, session):
    response = client.get(page_url(session, "/complete"))
    assert response.status_code == 302
    assert response["Location"] == page_url(session)


# --- embedding ------------------------------------------------------------------------------


def test_only_the_given_origin_may_frame_an_embedded_page(client, session):
    response = client.get(page_url(session), {"embed": "1", "origin": "https://shop.example"})
    assert "X-Frame-Options" not in response
    assert csp(response)["frame-ancestors"] == ["https://shop.example"]
    assert response["Cross-Origin-Opener-Policy"] == "unsafe-none"
    html = response.content.decode()
    config = json.loads(re.search(r'id="kassa-checkout" type="application/json">(.*?)</script>', html).group(1))
    assert config["origin"] == "https://shop.example"
    assert config["payUrl"].endswith("/pay?embed=1&origin=https%3A%2F%2Fshop.example")
    for bad in ("null", "javascript:alert(1)", "https://shop.example/path", "https://a.example; script-src *", ""):
        response = client.get(page_url(session), {"embed": "1", "origin": bad})
        assert response["X-Frame-Options"] == "DENY", bad
        assert csp(response)["frame-ancestors"] == ["'none'"], bad
    # Without embed=1 an origin changes nothing.
    assert client.get(page_url(session), {"origin": "https://shop.example"})["X-Frame-Options"] == "DENY"


def test_embed_origins_are_normalised():
    assert framing.embed_origin("HTTP://LocalHost:8000") == "http://localhost:8000"
    assert framing.embed_origin("https://shop.example/") == "https://shop.example"
    assert framing.embed_origin("http://[::1]:3000") == "http://[::1]:3000"
    assert framing.embed_origin("https://user@shop.example") is None
    assert framing.embed_origin("https://shop.example:99999") is None
    assert framing.embed_origin("https://shop.example?x=1") is None


# --- the JSON calls --------------------------------------------------------------------------


def test_pay_refuses_cross_site_requests(session):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert client.get(page_url(session, "/pay")).status_code == 405
    no_token = client.post(page_url(session, "/pay"), "{}", content_type="application/json")
    assert no_token.status_code == 403
    other = checkout.checkout_session_from_link(now=timezone.now(), payment_link=session.payment_link)
    wrong_token = post_json(client, session, "/pay", HTTP_X_KASSA_PAGE_TOKEN=framing.page_token(other))
    assert wrong_token.status_code == 403
    wrong_origin = post_json(client, session, "/pay", HTTP_ORIGIN="https://evil.example")
    assert wrong_origin.status_code == 403
    assert post_json(client, session, "/sync", HTTP_ORIGIN="https://evil.example").status_code == 403
    # The page's own request gets through to the payment (which wants a card token).
    allowed = post_json(client, session, "/pay", {"email": "p@example.com"})
    assert allowed.status_code == 400
    assert allowed.json()["message"] == "Check your card details."
    assert not PaymentIntent.objects.exists()


def test_pay_checks_the_payer_details(client, make_link):
    link = make_link(phone_number_collection=True, billing_address_collection="required")
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    answer = post_json(client, session, "/pay", {"token": "tok_x", "email": "p@example.com", "phone": "1" * 41})
    assert (answer.status_code, answer.json()["code"]) == (400, "field_too_long")
    answer = post_json(client, session, "/pay", {"token": "tok_x", "email": "p@example.com", "address": {"x": "1"}})
    assert answer.json()["code"] == "address_required"
    answer = post_json(
        client,
        session,
        "/pay",
        {"token": "tok_x", "email": "", "phone": "+33", "address": {"line1": "1 rue"}},
        **FRENCH,
    )
    assert answer.json()["message"] == "Saisissez votre adresse e-mail."
    answer = post_json(client, session, "/pay", {"token": "tok_x", "email": "p@example.com", "address": {"line1": "x"}})
    assert answer.json()["message"] == "Enter your phone number."
    assert post_json(client, session, "/pay", [1, 2]).status_code == 400


@pytest.fixture
def paid_link(paying_shop):
    m = paying_shop.merchant
    product = services.product_create(merchant=m, livemode=False, name="Tea")
    price = services.price_create(merchant=m, livemode=False, product=product, currency="eur", unit_amount=1250)
    return checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price, "quantity": 2}])


def test_a_links_prefilled_email_is_in_the_payers_email_field(client, paid_link):
    """``?prefilled_email=`` on a payment link's URL, as at Stripe: shown, and the payer may still change it."""
    opened = client.get(f"/pay/{paid_link.slug}", {"prefilled_email": "ada@example.com"})
    session = CheckoutSession.objects.get()
    assert opened["Location"].startswith(page_url(session))
    assert session.customer_email == "ada@example.com"
    page = client.get(page_url(session)).content.decode()
    assert re.search(r'<input id="email"[^>]* value="ada@example.com"', page)
    # Not an address (or too long for one): the page opens all the same, with an empty field.
    for wrong in ("not-an-address", "a" * 250 + "@example.com"):
        client.get(f"/pay/{paid_link.slug}", {"prefilled_email": wrong})
        assert CheckoutSession.objects.order_by("-id").first().customer_email is None
    # A link that asks for no email never shows the field: the URL cannot set the payer's email unseen.
    checkout.payment_link_update(payment_link=paid_link, email_collection=False)
    client.get(f"/pay/{paid_link.slug}", {"prefilled_email": "attacker@example.com"})
    assert CheckoutSession.objects.order_by("-id").first().customer_email is None


def test_paying_through_the_page_calls(client, paid_link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    answer = post_json(client, session, "/pay", {"token": card_token(), "email": "payer@example.com", "name": "Ada"})
    assert answer.status_code == 200
    body = answer.json()
    intent = PaymentIntent.objects.get()
    assert body["status"] == "succeeded"
    assert body["next_url"] == page_url(session, "/complete")
    assert body["client_secret"] is None
    assert body["payment"] == {
        "checkout_session": session.public_id,
        "payment_intent": intent.public_id,
        "amount": 2500,
        "currency": "eur",
        "status": "succeeded",
        "payment_status": "paid",
        "livemode": False,
    }
    # Paying again (a double click, a second tab) answers the same and charges nothing more.
    again = post_json(client, session, "/pay", {"token": card_token(), "email": "payer@example.com"})
    assert again.json()["status"] == "succeeded"
    assert len(processor_payment_intents(stripe_backend)) == 1
    # The page now leads to the success page, which shows the payment.
    assert client.get(page_url(session))["Location"] == page_url(session, "/complete")
    html = client.get(page_url(session, "/complete"), **FRENCH).content.decode()
    assert "Paiement réussi" in html
    assert "Shop a bien reçu votre paiement de 25,00\xa0€" in html
    assert intent.public_id in html


def test_a_declined_card_answers_a_message_and_the_session_stays_payable(client, paid_link, card_token):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    answer = post_json(client, session, "/pay", {"token": card_token("4000000000000002"), "email": "p@example.com"})
    assert answer.status_code == 402
    assert (answer.json()["status"], answer.json()["code"]) == ("failed", "card_declined")
    assert answer.json()["message"] == "Your card was declined. Try another card."
    french = post_json(
        client, session, "/pay", {"token": card_token("4000000000000002"), "email": "p@example.com"}, **FRENCH
    )
    assert french.json()["message"] == "Votre carte a été refusée. Essayez une autre carte."
    session.refresh_from_db()
    assert session.status == "open"
    assert client.get(page_url(session)).status_code == 200
    paid = post_json(client, session, "/pay", {"token": card_token(), "email": "p@example.com"})
    assert paid.json()["status"] == "succeeded"


@pytest.mark.parametrize("number", ["4000000000000002", "4000000000009995"])
def test_a_card_refused_when_saved_is_the_payments_last_error_as_at_stripe(
    client, kassa, paying_shop, paid_link, card_token, number
):
    """Stripe refuses these cards when they are attached, before any charge: the PaymentIntent still says why."""
    from webhooks.models import Event

    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    answer = post_json(client, session, "/pay", {"token": card_token(number), "email": "p@example.com"})
    assert (answer.status_code, answer.json()["code"]) == (402, "card_declined")
    intent = kassa(paying_shop.secret_key.secret).v1.payment_intents.retrieve(PaymentIntent.objects.get().public_id)
    assert intent.status == "requires_payment_method"
    error = intent.last_payment_error
    assert (error.type, error.code, error.message) == ("card_error", "card_declined", "Your card was declined.")
    assert Event.objects.filter(type="payment_intent.payment_failed", data__object__id=intent.id).count() == 1
    # Paying with a good card afterwards clears it, as at Stripe.
    assert post_json(client, session, "/pay", {"token": card_token(), "email": "p@example.com"}).status_code == 200
    paid = kassa(paying_shop.secret_key.secret).v1.payment_intents.retrieve(intent.id)
    assert (paid.status, paid.last_payment_error) == ("succeeded", None)


def test_three_d_secure_through_the_page_calls(client, paid_link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    answer = post_json(client, session, "/pay", {"token": card_token("4000002500003155"), "email": "p@example.com"})
    body = answer.json()
    intent = PaymentIntent.objects.get()
    assert body["status"] == "requires_action"
    assert body["client_secret"].startswith(intent.processor_id + "_secret_")
    assert body["payment"]["status"] == "requires_action"
    # Reaching the success page proves nothing: it sends the payer back to pay.
    assert client.get(page_url(session, "/complete"))["Location"] == page_url(session)
    # Pressing Pay again while 3-D Secure is pending asks for the same authentication, attaching no card.
    again = post_json(client, session, "/pay", {"token": card_token(), "email": "p@example.com"})
    assert (again.json()["status"], again.json()["client_secret"]) == ("requires_action", body["client_secret"])
    stripe_backend.authenticate(intent.processor_id, body["client_secret"], success=True)
    synced = post_json(client, session, "/sync").json()
    assert synced["status"] == "succeeded"
    assert synced["payment"]["payment_status"] == "paid"
    assert client.get(page_url(session, "/complete")).status_code == 200


def test_failed_three_d_secure_then_another_try(client, paid_link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    body = post_json(
        client, session, "/pay", {"token": card_token("4000002500003155"), "email": "p@example.com"}
    ).json()
    intent = PaymentIntent.objects.get()
    stripe_backend.authenticate(intent.processor_id, body["client_secret"], success=False)
    synced = post_json(client, session, "/sync", **FRENCH)
    assert synced.status_code == 402
    assert synced.json()["code"] == "payment_intent_authentication_failure"
    assert "L'authentification auprès de votre banque a échoué" in synced.json()["message"]
    paid = post_json(client, session, "/pay", {"token": card_token(), "email": "p@example.com"})
    assert paid.json()["status"] == "succeeded"


def test_the_success_page_goes_to_the_merchants_success_url(client, paying_shop, card_token):
    m = paying_shop.merchant
    product = services.product_create(merchant=m, livemode=False, name="Tea")
    price = services.price_create(merchant=m, livemode=False, product=product, currency="usd", unit_amount=700)
    session = checkout.checkout_session_create(
        now=timezone.now(),
        merchant=m,
        livemode=False,
        line_items=[{"price": price, "quantity": 1}],
        success_url="https://shop.example/thanks?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://shop.example/cart",
    )
    html = client.get(page_url(session)).content.decode()
    assert 'href="https://shop.example/cart"' in html
    checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(), email="p@example.com")
    response = client.get(page_url(session, "/complete"))
    assert response.status_code == 302
    assert response["Location"] == f"https://shop.example/thanks?session={session.public_id}"
    # Embedded, the embedding site decides where to go: the page shows success and posts it.
    embedded = client.get(page_url(session, "/complete"), {"embed": "1", "origin": "https://shop.example"})
    assert embedded.status_code == 200
    assert 'id="kassa-complete"' in embedded.content.decode()


def test_a_link_with_a_confirmation_message(client, paying_shop, card_token):
    m = paying_shop.merchant
    product = services.product_create(merchant=m, livemode=False, name="Tea")
    price = services.price_create(merchant=m, livemode=False, product=product, currency="eur", unit_amount=500)
    link = checkout.payment_link_create(
        merchant=m,
        livemode=False,
        line_items=[{"price": price, "quantity": 1}],
        after_completion={"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "See you <soon>"}},
    )
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(), email="p@example.com")
    html = client.get(page_url(session, "/complete")).content.decode()
    assert "See you &lt;soon&gt;" in html


# --- a deactivated link, and payers racing each other -------------------------------------


def test_deactivating_a_link_stops_its_open_sessions_payments(client, paid_link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    assert client.get(page_url(session)).status_code == 200
    checkout.payment_link_update(payment_link=paid_link, active=False)

    page = client.get(page_url(session))
    assert page.status_code == 410
    assert "This payment link is no longer active" in text_of(page)
    answer = post_json(client, session, "/pay", {"token": card_token(), "email": "late@example.com"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "payment_link_inactive"
    assert answer.json()["message"] == "This payment link is no longer active. Nothing was charged."
    assert processor_payment_intents(stripe_backend) == []
    session.refresh_from_db()
    assert (session.status, session.payment_status) == ("open", "unpaid")
    with pytest.raises(InvalidRequest) as refused:
        checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token())
    assert refused.value.code == "payment_link_inactive"

    # Switched on again, the same session takes the payment.
    checkout.payment_link_update(payment_link=paid_link, active=True)
    paid = post_json(client, session, "/pay", {"token": card_token(), "email": "late@example.com"})
    assert paid.json()["status"] == "succeeded"


def test_payers_racing_on_one_session_are_all_told_the_truth(live_server, paid_link, card_token, stripe_backend):
    """Six submits at once: one charge; whoever finds the session paid is told it is paid, never 'try again'."""
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    tokens = [card_token() for _ in range(6)]
    headers = {"X-Kassa-Page-Token": framing.page_token(session), "Origin": live_server.url}

    def pay(token):
        return requests.post(
            f"{live_server.url}{page_url(session, '/pay')}",
            json={"token": token, "email": "race@example.com"},
            headers=headers,
            timeout=60,
        )

    with ThreadPoolExecutor(6) as pool:
        answers = [answer.json() for answer in pool.map(pay, tokens)]

    assert len(processor_payment_intents(stripe_backend)) == 1
    assert sum(a["status"] == "succeeded" for a in answers) >= 1
    for answer in answers:
        if answer["payment"]["payment_status"] == "paid":
            assert answer["status"] == "succeeded", answer
        else:  # lost the race while the winner was still being charged
            assert answer["code"] == "payment_in_progress", answer
        assert "Nothing was charged" not in answer["message"]


# --- Content-Security-Policy ----------------------------------------------------------------


def test_every_hosted_page_runs_only_scripts_carrying_its_nonce(client, paid_link, card_token, settings):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=paid_link)
    pages_seen = {
        "checkout": client.get(page_url(session)),
        "not found": client.get("/pay/session/cs_test_missing"),
        "embedded": client.get(page_url(session), {"embed": "1", "origin": "https://shop.example"}),
    }
    post_json(client, session, "/pay", {"token": card_token(), "email": "p@example.com"})
    pages_seen["complete"] = client.get(page_url(session, "/complete"), {"embed": "1", "origin": "https://a.example"})
    nonces = set()
    for name, response in pages_seen.items():
        policy = csp(response)
        (nonce,) = [v for v in policy["script-src"] if v.startswith("'nonce-")]
        nonces.add(nonce)
        assert "'unsafe-inline'" not in policy["script-src"], name
        assert "'unsafe-eval'" not in policy["script-src"], name
        assert policy["default-src"] == ["'none'"], name
        assert policy["object-src"] == ["'none'"], name
        assert policy["base-uri"] == ["'none'"], name
        html = response.content.decode()
        for tag in re.findall(r"<script[^>]*>", html):
            if 'type="application/json"' in tag:
                continue  # data (json_script), never executed
            assert f'nonce="{nonce[7:-1]}"' in tag, (name, tag)
        assert not re.search(r"\son[a-z]+=", html), name  # no inline event handlers
    assert len(nonces) == len(pages_seen)  # a fresh nonce every response
    js_origin = settings.STRIPE_JS_URL.split("/js.stripe.com")[0]
    checkout_policy = csp(pages_seen["checkout"])
    assert js_origin in checkout_policy["script-src"]
    assert {"'self'", js_origin} <= set(checkout_policy["connect-src"])


def test_with_stripes_own_stripe_js_the_policy_names_stripes_origins(client, session, settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    settings.STRIPE_API_BASE = ""
    policy = csp(client.get(page_url(session)))
    assert "https://js.stripe.com" in policy["script-src"]
    assert set(policy["frame-src"]) == {"https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"}
    assert set(policy["script-src"]) - {v for v in policy["script-src"] if v.startswith("'nonce-")} == {
        "https://js.stripe.com",
        "https://*.js.stripe.com",
    }
    assert "https://api.stripe.com" in policy["connect-src"]
