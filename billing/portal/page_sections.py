"""The portal page's own sections: the saved card (with "Update card"), the customer's details, the invoices.

Registered in billing/apps.py with the others (sections.py). Each answers None when the merchant's
settings leave it off, so the page shows only what is on.
"""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kassa import money
from kassa.errors import InvalidRequest
from merchants.models import Merchant
from merchants.selectors import payments_readiness

from ..catalogue.services import ADDRESS_FIELDS
from ..checkout.pages import BRAND_NAMES, SCRIPT_TEXTS
from ..hosted import framing, i18n
from ..invoices.documents_build import format_day
from ..invoices.pages import STATUS_LABELS
from . import selectors, services
from .sections import Section

ADDRESS_LIMIT = 200
EMAIL_MAX = 512


# --- the card ---------------------------------------------------------------------------------


def _publishable_key(session) -> str | None:
    if session.merchant.status != Merchant.Status.ACTIVE:
        return None
    return payments_readiness(merchant=session.merchant, livemode=session.livemode).publishable_key or None


def payment_method_context(ctx) -> dict | None:
    if not ctx.configuration.payment_method_update:
        return None
    card = ctx.customer.default_payment_method
    shown = None
    if card is not None:
        shown = {
            "brand": BRAND_NAMES.get(card.card_brand, card.card_brand.capitalize()),
            "last4": card.card_last4,
            "expires": f"{card.card_exp_month:02d}/{card.card_exp_year}" if card.card_exp_month else "",
        }
    publishable_key = _publishable_key(ctx.session)
    save_label = str(_("Save card"))
    config = None
    if publishable_key:
        # checkout.js, as the hosted pay and invoice pages run it: Stripe.js tokenizes, the token is posted.
        config = {
            "publishableKey": publishable_key,
            "locale": ctx.language,
            "payUrl": ctx.url("card"),
            "syncUrl": ctx.url("card"),
            "pageToken": framing.page_token(ctx.session),
            "embed": False,
            "origin": None,
            "authenticate": False,
            "text": {key: i18n.text(key) for key in SCRIPT_TEXTS} | {"pay": save_label},
            "stripeJsUrl": settings.STRIPE_JS_URL,
        }
    return {
        "card": shown,
        "name": ctx.customer.name or "",
        "save_label": save_label,
        "secure_note": i18n.text("secure_note", merchant=ctx.session.merchant.name),
        "unavailable": publishable_key is None,
        "script_config": config,
    }


# --- the customer's details --------------------------------------------------------------------


def details_context(ctx) -> dict | None:
    configuration = ctx.configuration
    if not (configuration.customer_update_email or configuration.customer_update_address):
        return None
    address = ctx.customer.address or {}
    return {
        "edit_email": configuration.customer_update_email,
        "edit_address": configuration.customer_update_address,
        "email": ctx.customer.email or "",
        "address": {key: address.get(key) or "" for key in ADDRESS_FIELDS},
        "countries": i18n.countries(ctx.language),
        "default_country": address.get("country") or i18n.region_from(ctx.request),
        "email_url": ctx.action_url("details", "email"),
        "address_url": ctx.action_url("details", "address"),
    }


def _field(data, name: str, limit: int) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest("One of the fields is too long.", code="field_too_long", param=name)
    return value.strip()


def details_email(ctx, data) -> None:
    services.portal_customer_update(session=ctx.session, now=ctx.now, email=_field(data, "email", EMAIL_MAX))


def details_address(ctx, data) -> None:
    address = {key: _field(data, f"address_{key}", ADDRESS_LIMIT) or None for key in ADDRESS_FIELDS}
    if address["country"]:
        address["country"] = address["country"].upper()
    services.portal_customer_update(session=ctx.session, now=ctx.now, address=address)


# --- invoices -----------------------------------------------------------------------------------


def invoices_context(ctx) -> dict | None:
    if not ctx.configuration.invoice_history:
        return None
    rows = []
    for invoice in selectors.portal_invoices(session=ctx.session):
        page = reverse("invoices:page", args=[invoice.token])
        suffix = f"?{i18n.QUERY}={ctx.pick}" if ctx.pick else ""
        rows.append(
            {
                "number": invoice.number,
                "date": format_day(invoice.finalized_at or invoice.created, ctx.language),
                "amount": money.format_localised(invoice.total, invoice.currency, ctx.language),
                "status": invoice.status,
                "status_label": STATUS_LABELS.get(invoice.status, invoice.status),
                "page_url": page + suffix,
                "pdf_url": reverse("invoices:pdf", args=[invoice.token]) + suffix,
            }
        )
    return {"invoices": rows}


PAYMENT_METHOD = Section(
    key="payment_method",
    order=20,
    template="portal/sections/payment_method.html",
    context=payment_method_context,
    confirmations={"update": _("Your card has been updated.")},
)
DETAILS = Section(
    key="details",
    order=30,
    template="portal/sections/details.html",
    context=details_context,
    actions={"email": details_email, "address": details_address},
    confirmations={
        "email": _("Your email address has been updated."),
        "address": _("Your billing address has been updated."),
    },
)
INVOICES = Section(key="invoices", order=40, template="portal/sections/invoices.html", context=invoices_context)
