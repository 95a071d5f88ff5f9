"""The dashboard home page's "Start here" box: the merchant's pay pages and the API docs.

A template tag of billing's (the top layer) because the dashboard's home page
belongs to no part, and the payment links it lists are billing's.
"""

from django import template
from django.urls import reverse

from billing.checkout.selectors import payment_link_list
from billing.checkout.services import payment_link_url

register = template.Library()

SHOWN_LINKS = 5


@register.inclusion_tag("admin/billing/_start_here.html", takes_context=True)
def start_here(context) -> dict:
    """The links of the merchant and mode in view (none for platform staff looking at every merchant)."""
    scope = context.get("kassa_scope")
    links = []
    if scope is not None and scope.merchant is not None:
        active = payment_link_list(merchant=scope.merchant, livemode=scope.livemode, active=True)
        links = [(link, payment_link_url(link)) for link in active.order_by("-created")[:SHOWN_LINKS]]
    return {"pay_links": links, "docs_url": reverse("docs"), "scope": scope}
