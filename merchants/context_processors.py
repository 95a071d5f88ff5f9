from django.utils.functional import SimpleLazyObject

from .dashboard import MANAGE_ROLES, scope_of
from .selectors import payments_readiness


def dashboard(request):
    """Every dashboard page: who is looking at what, and whether payers can pay in the mode in view.

    The readiness is read lazily, once, by the banner in templates/admin/base_site.html.
    """
    if not request.path.startswith("/admin/"):
        return {}
    scope = scope_of(request)
    context = {"kassa_scope": scope, "kassa_payments": None}
    if scope is not None and scope.merchant is not None:

        def payments():
            readiness = payments_readiness(merchant=scope.merchant, livemode=scope.livemode)
            can_fix = scope.can_write(MANAGE_ROLES)
            return {"ready": readiness.ready, "problem": readiness.problem, "fix_url": can_fix and readiness.fix_url}

        context["kassa_payments"] = SimpleLazyObject(payments)
    return context
