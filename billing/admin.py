"""Django's admin finds an app's pages here: billing's parts each register their own.

Order matters only in that checkout's pages extend payments' (the payment's source).
"""

from .catalogue import admin as catalogue_admin
from .checkout import admin as checkout_admin
from .clocks import admin as clocks_admin
from .dashboard import admin as dashboard_admin
from .invoices import admin as invoices_admin
from .payments import admin as payments_admin
from .portal import admin as portal_admin
from .subscriptions import admin as subscriptions_admin

__all__ = [
    "catalogue_admin",
    "checkout_admin",
    "clocks_admin",
    "dashboard_admin",
    "invoices_admin",
    "payments_admin",
    "portal_admin",
    "subscriptions_admin",
]
