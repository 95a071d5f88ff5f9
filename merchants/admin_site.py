"""The dashboard's AdminSite: Django's own, with a menu grouped by what a merchant does.

We extend the stock admin through its documented hooks (``get_app_list``,
``get_urls``, templates) rather than adopt a theme: the login, two-factor and
lockout pages stay ours, the pages work under a strict CSP, and no theme pins
us to an old release line. Installed as ``admin.site`` by
``merchants.apps.KassaAdminConfig`` (Django's "overriding the default admin site").

The menu is one table, in the order a merchant thinks (Payments, Billing,
Customers, Products, Developers, Settings), with a few shortcuts (pages of a model's
admin that make something in one go: Billing's "Recurring payment"). It names models by label only, so this module
imports nothing from the apps above it; a registered model missing from the
table still shows, under "Other". Pages of higher layers (the home page's
chart) are added through ``add_page`` from their own ``admin.py``.
"""

from django.contrib import admin
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

# (group key, group name, [(model label, name in the menu or None for the model's own), ...])
NAVIGATION = [
    (
        "payments",
        _("Payments"),
        [("billing.PaymentIntent", _("Payments")), ("billing.Refund", None), ("billing.CheckoutSession", None)],
    ),
    (
        "billing",
        _("Billing"),
        [("billing.Invoice", None), ("billing.InvoiceItem", None), ("billing.Subscription", None)],
    ),
    ("customers", _("Customers"), [("billing.Customer", None)]),
    (
        "products",
        _("Products"),
        [
            ("billing.Product", None),
            ("billing.Price", None),
            ("billing.PaymentLink", None),
            ("billing.TaxRate", None),
        ],
    ),
    (
        "developers",
        _("Developers"),
        [
            ("merchants.APIKey", None),
            ("webhooks.WebhookEndpoint", None),
            ("webhooks.Event", None),
            ("webhooks.ProcessorEvent", None),
            ("billing.TestClock", None),
        ],
    ),
    (
        "settings",
        _("Settings"),
        [
            ("merchants.Merchant", None),
            ("merchants.Membership", None),
            ("merchants.ProcessorCredential", None),
            ("billing.InvoiceSettings", _("Invoice settings")),
            ("billing.PortalConfiguration", _("Customer portal")),
            ("billing.DunningSettings", _("Failed payments")),
        ],
    ),
]
# Pages that are no model's list, shown after a model's entry to those who may add that model:
# {model label: [(object name, name in the menu, url name)]}. Named, not imported (the apps sit above).
SHORTCUTS = {
    "billing.Subscription": [("recurringpayment", _("Recurring payment"), "admin:billing_subscription_recurring")],
}
# Platform staff's own records (users, login lockouts, two-factor devices): merchant staff never see them.
PLATFORM_APPS = ("auth", "axes", "otp_totp", "otp_static")


class KassaAdminSite(admin.AdminSite):
    site_header = "Kassa"
    site_title = _("Kassa dashboard")
    index_title = _("Dashboard")
    # "View site" would only reload the dashboard: Kassa's public pages are the payers' pay pages.
    site_url = None

    def __init__(self, name="admin"):
        super().__init__(name)
        self._pages = []

    def add_page(self, route: str, view, name: str) -> None:
        """A dashboard page of a higher layer (``/admin/<route>``), behind the admin's login like every other."""
        self._pages.append(path(route, self.admin_view(view), name=name))

    def get_urls(self):
        return self._pages + super().get_urls()

    def added_pages(self) -> list[str]:
        """The routes ``add_page`` added (the dashboard sweeps request every one of them)."""
        return [str(page.pattern) for page in self._pages]

    def get_app_list(self, request, app_label=None):
        """The menu in groups; an app's own page (``/admin/billing/``) keeps Django's list of that app."""
        if app_label is not None:
            return super().get_app_list(request, app_label)
        by_label = {}
        for app in self._build_app_dict(request).values():
            for model in app["models"]:
                by_label[model["model"]._meta.label] = (app, model)
        groups = []
        for key, name, entries in NAVIGATION:
            models = []
            for label, shown_as in entries:
                found = by_label.pop(label, None)
                if found is not None:
                    model = dict(found[1])
                    if shown_as is not None:
                        model["name"] = shown_as
                    models.append(model)
                    if model.get("add_url"):
                        models += [_shortcut(*entry) for entry in SHORTCUTS.get(label, [])]
            if key == "developers" and models:
                models.append(_docs_entry())
            if models:
                groups.append(_group(key, name, models))
        platform = [model for label, (app, model) in by_label.items() if app["app_label"] in PLATFORM_APPS]
        other = [model for label, (app, model) in by_label.items() if app["app_label"] not in PLATFORM_APPS]
        if other:
            groups.append(_group("other", _("Other"), sorted(other, key=lambda m: str(m["name"]))))
        if platform:
            groups.append(_group("platform", _("Platform"), sorted(platform, key=lambda m: str(m["name"]))))
        return groups


def _group(key, name, models) -> dict:
    # app_url empty: a group has no page of its own (templates/admin/app_list.html shows no link then).
    return {"name": name, "app_label": f"kassa-{key}", "app_url": "", "has_module_perms": True, "models": models}


def _shortcut(object_name: str, name, url_name: str) -> dict:
    return {
        "name": name,
        "object_name": object_name,
        "perms": {"add": True},
        "admin_url": reverse(url_name),
        "add_url": None,
        "shortcut": True,
    }


def _docs_entry() -> dict:
    return {
        "name": _("API docs"),
        "object_name": "apidocs",
        "perms": {"view": True},
        "admin_url": reverse("docs"),
        "add_url": None,
        "view_only": True,
        "external": True,
    }
