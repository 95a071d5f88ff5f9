"""The hosted pay pages' language: which one a payer reads, and the words Python says (Django gettext).

The words are Django gettext catalogs: the templates' in ``{% translate %}``,
the ones Python composes (titles, error messages answered to the page's
``fetch`` calls, keyed by Kassa's error codes) in ``MESSAGES`` below. The
French is in ``locale/fr/LC_MESSAGES/django.po`` (the templates) and
``billing/locale/fr/LC_MESSAGES/django.po`` (``MESSAGES``), compiled by
``kassa.i18n_compile`` (its docstring says how to add words). LocaleMiddleware
runs for these pages too, with the dashboard's choice (its ``django_language``
cookie) or ``Accept-Language``; a hosted view ignores it, activates the payer's
language itself and hands the thread back as it found it
(``in_payer_language``), so ``translation.get_language()`` is
the payer's while a payment is taken (receipts are sent in it).

Which language, first that applies (Stripe Checkout's order):

1. the session's or link's ``locale`` when it is not ``auto`` (the merchant chose);
2. the payer's pick on the page's switch: ``?lang=fr`` on any hosted URL,
   remembered in a cookie scoped to ``/pay/`` (plain links: the pages' CSP
   allows no inline script, and a form would need Django's CSRF cookie,
   which a third-party frame does not get);
3. the browser's ``Accept-Language`` (q-values honoured, the first supported
   primary subtag wins);
4. English.

The page carries its language in its own JSON calls' URLs (``?lang=``), so
the pay request speaks, and records, the language the payer saw even where
a frame's cookies are blocked. Amounts and country names come from Babel's
CLDR data for that language, not from the catalogs.
"""

import functools
import re
import unicodedata
from functools import cache
from urllib.parse import urlencode

from babel import Locale
from django.utils import translation
from django.utils.translation import gettext_lazy as _

LANGUAGES = ("en", "fr")
DEFAULT = "en"
#: Each language named in itself, for the switch (not translated: a reader looks for their own language's name).
NAMES = {"en": "English", "fr": "Français"}
QUERY = "lang"
COOKIE = "kassa_pay_language"
COOKIE_AGE = 365 * 24 * 3600

# What Python says to the payer, by key (the page-call failures by Kassa's error codes). ``%(name)s``
# placeholders are filled by ``text``; a translation missing one fails the build (kassa/i18n_compile.py).
MESSAGES = {
    "page_title": _("Pay %(merchant)s"),
    "quantity": _("Qty %(quantity)s"),
    "pay": _("Pay %(amount)s"),
    "processing": _("Processing…"),
    "authenticating": _("Waiting for your bank's authentication…"),
    "secure_note": _("Your card details go straight to our payment processor. %(merchant)s never sees them."),
    "cancel": _("Cancel and go back"),
    # Saving a card (a setup-mode session), and a payment that saves its card (setup_future_usage)
    "save_card": _("Save card"),
    "setup_page_title": _("Save your card for %(merchant)s"),
    "setup_heading": _("Save your card"),
    "setup_body": _("%(merchant)s will keep your card to charge it later. Nothing is charged now."),
    "card_saved_title": _("Card saved"),
    "card_saved_body": _("%(merchant)s has saved your %(brand)s card ending in %(last4)s. Nothing was charged."),
    "save_card_notice": _("%(merchant)s will save this card for your future payments."),
    # Subscribing (a subscription-mode session): the first invoice is paid now, then each period's
    "subscribe": _("Subscribe"),
    "start_trial": _("Start trial"),
    "subscribe_page_title": _("Subscribe to %(merchant)s"),
    "per_interval": _("%(amount)s %(interval)s"),
    "then_every": _("Then %(amount)s %(interval)s"),
    "then_every_after_trial": _("Then %(amount)s %(interval)s, from %(date)s"),
    "trial_one_day": _("1 day free"),
    "trial_days": _("%(days)s days free"),
    "subscribed_title": _("Subscription started"),
    "subscribed_body": _("Thank you! Your subscription to %(merchant)s has started: %(amount)s was paid today."),
    "trial_started_title": _("Trial started"),
    "trial_started_body": _(
        "Your trial with %(merchant)s has started. Nothing was charged today; your %(brand)s card ending in "
        "%(last4)s is saved for the payments that follow."
    ),
    "subscribed_free_body": _(
        "Your subscription to %(merchant)s has started. Nothing was charged today: the first payment, on %(date)s, "
        "will be made with your %(brand)s card ending in %(last4)s."
    ),
    "subscribe_notice": _("%(merchant)s will save this card and charge it for each period until you cancel."),
    # Outcomes
    "paid_title": _("Payment successful"),
    "paid_body": _("Thank you! %(merchant)s has received your payment of %(amount)s."),
    "reference": _("Reference: %(reference)s"),
    # Pages that cannot take a payment
    "not_found_title": _("This payment page does not exist"),
    "not_found_body": _("Check the address you were given, or ask the seller for a new link."),
    "link_inactive_title": _("This payment link is no longer active"),
    "link_inactive_body": _("%(merchant)s no longer accepts payments through this link. Ask them for a new one."),
    "expired_title": _("This checkout has expired"),
    "expired_body": _("Nothing was charged."),
    "start_again": _("Start again"),
    "unavailable_title": _("Payments are not available"),
    "unavailable_body": _("%(merchant)s cannot take card payments at the moment. Nothing was charged."),
    # What the payer reads when a payment does not go through (keys: Kassa's error codes)
    "card_declined": _("Your card was declined. Try another card."),
    "expired_card": _("Your card has expired. Try another card."),
    "incorrect_cvc": _("Your card's security code is incorrect."),
    "incorrect_number": _("Your card number is incorrect."),
    "insufficient_funds": _("Your card has insufficient funds. Try another card."),
    "processing_error": _("An error occurred while processing your card. Try again."),
    "authentication_required": _("Your bank asked for authentication, which was not completed. Try again."),
    "payment_intent_authentication_failure": _(
        "The authentication with your bank failed. Try again or use another card."
    ),
    "invalid_card": _("This card could not be used. Check its details or try another card."),
    "card_incomplete": _("Check your card details."),
    "email_required": _("Enter your email address."),
    "email_invalid": _("Enter a valid email address."),
    "phone_required": _("Enter your phone number."),
    "address_required": _("Enter your billing address."),
    "field_too_long": _("One of the fields is too long."),
    "payment_in_progress": _("A payment for this order is already in progress. Please wait."),
    "session_not_open": _("This checkout can no longer be paid."),
    "link_inactive": _("This payment link is no longer active. Nothing was charged."),
    "processor_not_configured": _("This seller cannot take card payments at the moment. Nothing was charged."),
    "processor_error": _("The payment service did not answer. Press Pay again: you cannot be charged twice."),
    "generic_error": _("Something went wrong. Nothing was charged; try again."),
    "network_error": _("We could not reach the server. Check your connection and try again."),
    "still_processing": _("Your payment is being processed. This page will update."),
    "too_many_attempts": _("Too many card attempts. Nothing was charged; try again later."),
}

_TAG = re.compile(r"^([a-zA-Z]{1,8})(?:-([a-zA-Z0-9]{1,8}))*$")
# CLDR territories that are not countries a card can be billed in.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


def _preferences(header: str) -> list[tuple[str, str]]:
    """``fr-CH, fr;q=0.9, en;q=0.8`` -> ``[("fr", "CH"), ("fr", ""), ("en", "")]``, best first."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if not _TAG.match(tag) or quality <= 0:
            continue
        subtags = tag.split("-")
        region = next((s.upper() for s in subtags[1:] if len(s) == 2 and s.isalpha()), "")
        ranked.append((-quality, position, subtags[0].lower(), region))
    ranked.sort()
    return [(language, region) for _quality, _position, language, region in ranked]


def language_from(request) -> str:
    """The browser's first choice that Kassa speaks (``Accept-Language``), else English."""
    for language, _region in _preferences(request.headers.get("Accept-Language", "")):
        if language in LANGUAGES:
            return language
    return DEFAULT


def picked(request) -> str | None:
    """The language this request's ``?lang=`` names, if Kassa speaks it (carried on to the next hosted page)."""
    value = request.GET.get(QUERY)
    return value if value in LANGUAGES else None


def chosen_language(request) -> str | None:
    """The language the payer picked on the page's switch: ``?lang=`` on this request, else the cookie; or None."""
    for value in (request.GET.get(QUERY), request.COOKIES.get(COOKIE)):
        if value in LANGUAGES:
            return value
    return None


def language_for(request, locale: str | None = None) -> str:
    """The language a payer reads a page in: ``locale`` (a session's or link's) unless ``auto`` or unset, else the
    payer's pick, else the browser's, else English. See the module docstring."""
    if locale in LANGUAGES:
        return locale
    return chosen_language(request) or language_from(request)


def activate_for(request, locale: str | None = None) -> str:
    """Make ``language_for`` the thread's language (inside an ``in_payer_language`` view) and answer it."""
    language = language_for(request, locale)
    translation.activate(language)
    return language


def in_payer_language(view):
    """A hosted view that may ``translation.activate`` the payer's language, with the thread's language put back
    afterwards (LocaleMiddleware's, the dashboard reader's): nothing of the payer's choice outlives the view."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        with translation.override(DEFAULT):
            return view(request, *args, **kwargs)

    return wrapped


def switch(request, language: str, locale: str | None = None) -> list[dict]:
    """The page's language links (this page's URL with ``?lang=``, embedding kept); none when ``locale`` fixes it."""
    if locale in LANGUAGES:
        return []
    links = []
    for code in LANGUAGES:
        query = {key: value for key, value in request.GET.items() if key != QUERY} | {QUERY: code}
        url = f"{request.path}?{urlencode(query)}"
        links.append({"code": code, "name": NAMES[code], "url": url, "current": code == language})
    return links


def remember_choice(request, response):
    """Keep a ``?lang=`` pick for the payer's next hosted pages (the cookie is sent to ``/pay/`` only)."""
    value = request.GET.get(QUERY)
    if value in LANGUAGES and request.COOKIES.get(COOKIE) != value:
        response.set_cookie(
            COOKIE,
            value,
            max_age=COOKIE_AGE,
            path="/pay/",
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response


def region_from(request) -> str:
    """The browser's country (``fr-FR`` -> ``FR``), to preselect the billing country; may be empty."""
    for _language, region in _preferences(request.headers.get("Accept-Language", "")):
        if region:
            return region
    return ""


def fill(messages: dict, key: str, **values) -> str:
    """One of a page's ``messages`` in the active language, with ``%(placeholders)s`` filled in."""
    message = str(messages[key])
    return message % values if values else message


def text(key: str, **values) -> str:
    """One of ``MESSAGES`` (what every hosted page says) in the active language."""
    return fill(MESSAGES, key, **values)


@cache
def countries(language: str) -> list[tuple[str, str]]:
    """``[(code, name)]`` of ISO 3166 countries named in ``language``, sorted by name."""
    names = Locale.parse(language).territories
    found = [(code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()]
    return sorted(((c, n) for c, n in found if c not in _NOT_COUNTRIES), key=lambda item: _sort_key(item[1]))


def _sort_key(name: str) -> str:
    # "Égypte" sorts with the E's, as a French reader expects.
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()
