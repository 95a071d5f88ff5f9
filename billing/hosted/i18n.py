"""The hosted pay pages' words in English and French, chosen from the browser's Accept-Language.

A dictionary, not gettext. Django's gettext wants ``.po`` files compiled to
``.mo`` with GNU gettext's ``msgfmt`` (a build step and a system package
that CI and every developer would need) and a LocaleMiddleware that would
also switch the dashboard's language. For two languages and a few dozen
strings on a handful of pages, a module that a reviewer reads in one sitting
is simpler: a missing French string is a test failure (``test_catalogues_match``),
not a silently English page. If Kassa grows more languages or pages, move to
gettext then.

The language comes from ``Accept-Language`` alone (q-values honoured, the
first supported primary subtag wins, English otherwise). The browser sends
the same header with the page's own ``fetch`` calls, so the JSON answers
speak the page's language too.
"""

import re
import unicodedata
from functools import cache

from babel import Locale
from babel.numbers import format_currency

from kassa import money

LANGUAGES = ("en", "fr")
DEFAULT = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "page_title": "Pay {merchant}",
        "test_mode": "Test mode",
        "your_order": "Your order",
        "quantity": "Qty {quantity}",
        "total": "Total",
        "contact": "Contact",
        "email": "Email",
        "name": "Name on card",
        "phone": "Phone number",
        "billing_address": "Billing address",
        "line1": "Address",
        "line2": "Apartment, suite, etc. (optional)",
        "city": "City",
        "postal_code": "Postal code",
        "state": "State / region (optional)",
        "country": "Country",
        "card": "Card",
        "pay": "Pay {amount}",
        "processing": "Processing…",
        "authenticating": "Waiting for your bank's authentication…",
        "secure_note": "Your card details go straight to our payment processor. {merchant} never sees them.",
        "cancel": "Cancel and go back",
        "powered_by": "Payments by Kassa",
        # Outcomes
        "paid_title": "Payment successful",
        "paid_body": "Thank you! {merchant} has received your payment of {amount}.",
        "reference": "Reference: {reference}",
        "redirecting": "Taking you back to {merchant}…",
        "close_window": "You can close this window.",
        # Pages that cannot take a payment
        "not_found_title": "This payment page does not exist",
        "not_found_body": "Check the address you were given, or ask the seller for a new link.",
        "link_inactive_title": "This payment link is no longer active",
        "link_inactive_body": "{merchant} no longer accepts payments through this link. Ask them for a new one.",
        "expired_title": "This checkout has expired",
        "expired_body": "Nothing was charged.",
        "start_again": "Start again",
        "unavailable_title": "Payments are not available",
        "unavailable_body": "{merchant} cannot take card payments at the moment. Nothing was charged.",
        # What the payer reads when a payment does not go through (keys: Kassa's error codes)
        "card_declined": "Your card was declined. Try another card.",
        "expired_card": "Your card has expired. Try another card.",
        "incorrect_cvc": "Your card's security code is incorrect.",
        "incorrect_number": "Your card number is incorrect.",
        "insufficient_funds": "Your card has insufficient funds. Try another card.",
        "processing_error": "An error occurred while processing your card. Try again.",
        "authentication_required": "Your bank asked for authentication, which was not completed. Try again.",
        "payment_intent_authentication_failure": (
            "The authentication with your bank failed. Try again or use another card."
        ),
        "invalid_card": "This card could not be used. Check its details or try another card.",
        "card_incomplete": "Check your card details.",
        "email_required": "Enter your email address.",
        "email_invalid": "Enter a valid email address.",
        "phone_required": "Enter your phone number.",
        "address_required": "Enter your billing address.",
        "field_too_long": "One of the fields is too long.",
        "payment_in_progress": "A payment for this order is already in progress. Please wait.",
        "session_not_open": "This checkout can no longer be paid.",
        "link_inactive": "This payment link is no longer active. Nothing was charged.",
        "processor_not_configured": "This seller cannot take card payments at the moment. Nothing was charged.",
        "processor_error": "The payment service did not answer. Press Pay again: you cannot be charged twice.",
        "generic_error": "Something went wrong. Nothing was charged; try again.",
        "network_error": "We could not reach the server. Check your connection and try again.",
        "still_processing": "Your payment is being processed. This page will update.",
    },
    "fr": {
        "page_title": "Payer {merchant}",
        "test_mode": "Mode test",
        "your_order": "Votre commande",
        "quantity": "Qté {quantity}",
        "total": "Total",
        "contact": "Coordonnées",
        "email": "Adresse e-mail",
        "name": "Nom sur la carte",
        "phone": "Numéro de téléphone",
        "billing_address": "Adresse de facturation",
        "line1": "Adresse",
        "line2": "Appartement, bâtiment, etc. (facultatif)",
        "city": "Ville",
        "postal_code": "Code postal",
        "state": "Région (facultatif)",
        "country": "Pays",
        "card": "Carte",
        "pay": "Payer {amount}",
        "processing": "Traitement en cours…",
        "authenticating": "En attente de l'authentification de votre banque…",
        "secure_note": (
            "Les données de votre carte vont directement à notre prestataire de paiement. "
            "{merchant} ne les voit jamais."
        ),
        "cancel": "Annuler et revenir",
        "powered_by": "Paiements par Kassa",
        "paid_title": "Paiement réussi",
        "paid_body": "Merci ! {merchant} a bien reçu votre paiement de {amount}.",
        "reference": "Référence : {reference}",
        "redirecting": "Retour vers {merchant}…",
        "close_window": "Vous pouvez fermer cette fenêtre.",
        "not_found_title": "Cette page de paiement n'existe pas",
        "not_found_body": "Vérifiez l'adresse reçue ou demandez un nouveau lien au vendeur.",
        "link_inactive_title": "Ce lien de paiement n'est plus actif",
        "link_inactive_body": "{merchant} n'accepte plus de paiements par ce lien. Demandez-lui un nouveau lien.",
        "expired_title": "Ce paiement a expiré",
        "expired_body": "Aucun montant n'a été débité.",
        "start_again": "Recommencer",
        "unavailable_title": "Paiements indisponibles",
        "unavailable_body": (
            "{merchant} ne peut pas accepter de paiement par carte pour le moment. Aucun montant n'a été débité."
        ),
        "card_declined": "Votre carte a été refusée. Essayez une autre carte.",
        "expired_card": "Votre carte a expiré. Essayez une autre carte.",
        "incorrect_cvc": "Le code de sécurité de votre carte est incorrect.",
        "incorrect_number": "Le numéro de votre carte est incorrect.",
        "insufficient_funds": "Le solde de votre carte est insuffisant. Essayez une autre carte.",
        "processing_error": "Une erreur est survenue lors du traitement de votre carte. Réessayez.",
        "authentication_required": "Votre banque a demandé une authentification qui n'a pas abouti. Réessayez.",
        "payment_intent_authentication_failure": (
            "L'authentification auprès de votre banque a échoué. Réessayez ou utilisez une autre carte."
        ),
        "invalid_card": "Cette carte ne peut pas être utilisée. Vérifiez ses données ou essayez une autre carte.",
        "card_incomplete": "Vérifiez les données de votre carte.",
        "email_required": "Saisissez votre adresse e-mail.",
        "email_invalid": "Saisissez une adresse e-mail valide.",
        "phone_required": "Saisissez votre numéro de téléphone.",
        "address_required": "Saisissez votre adresse de facturation.",
        "field_too_long": "Un des champs est trop long.",
        "payment_in_progress": "Un paiement pour cette commande est déjà en cours. Patientez.",
        "session_not_open": "Cette commande ne peut plus être payée.",
        "link_inactive": "Ce lien de paiement n'est plus actif. Aucun montant n'a été débité.",
        "processor_not_configured": (
            "Ce vendeur ne peut pas accepter de paiement par carte pour le moment. Aucun montant n'a été débité."
        ),
        "processor_error": (
            "Le service de paiement n'a pas répondu. Appuyez à nouveau sur Payer : "
            "vous ne pouvez pas être débité deux fois."
        ),
        "generic_error": "Une erreur est survenue. Aucun montant n'a été débité ; réessayez.",
        "network_error": "Le serveur est injoignable. Vérifiez votre connexion et réessayez.",
        "still_processing": "Votre paiement est en cours de traitement. Cette page va se mettre à jour.",
    },
}

_TAG = re.compile(r"^([a-zA-Z]{1,8})(?:-([a-zA-Z0-9]{1,8}))*$")
# CLDR territories that are not countries a card can be billed in.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


def _preferences(header: str) -> list[tuple[str, str]]:
    """``fr-CH, fr;q=0.9, en;q=0.8`` -> ``[("fr", "CH"), ("fr", ""), ("en", "")]``, best first."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
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
    return [(language, region) for _, _, language, region in ranked]


def language_from(request) -> str:
    """The page's language: the browser's first choice that Kassa speaks, else English."""
    for language, _ in _preferences(request.headers.get("Accept-Language", "")):
        if language in LANGUAGES:
            return language
    return DEFAULT


def region_from(request) -> str:
    """The browser's country (``fr-FR`` -> ``FR``), to preselect the billing country; may be empty."""
    for _, region in _preferences(request.headers.get("Accept-Language", "")):
        if region:
            return region
    return ""


def text(language: str, key: str, **values) -> str:
    """One message in ``language``, with ``{placeholders}`` filled in."""
    message = MESSAGES.get(language, MESSAGES[DEFAULT]).get(key) or MESSAGES[DEFAULT][key]
    return message.format(**values) if values else message


@cache
def countries(language: str) -> list[tuple[str, str]]:
    """``[(code, name)]`` of ISO 3166 countries named in ``language``, sorted by name."""
    names = Locale.parse(language).territories
    found = [(code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()]
    return sorted(((c, n) for c, n in found if c not in _NOT_COUNTRIES), key=lambda item: _sort_key(item[1]))


def _sort_key(name: str) -> str:
    # "Égypte" sorts with the E's, as a French reader expects.
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


def format_amount(amount: int, currency: str, language: str) -> str:
    """An amount in minor units for a reader of ``language``: ``€25.00``, ``25,00 €``, ``¥500``.

    Babel gives the locale's pattern and symbol; the number of decimals comes
    from ``kassa.money`` (Stripe's list), not from CLDR, so the page shows
    exactly what is charged: JPY has none, KWD three.
    """
    places = money.decimal_places(currency)
    pattern = Locale.parse(language).currency_formats["standard"].pattern
    pattern = re.sub(r"\.0+", "." + "0" * places if places else "", pattern)
    return format_currency(
        money.to_decimal(amount, currency), currency.upper(), format=pattern, locale=language, currency_digits=False
    )
