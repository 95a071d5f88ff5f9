"""Who is looking at the dashboard, for which merchant, in which mode.

Merchant staff are Django users with a Membership; they see one merchant at
a time (a switcher when they belong to several). Platform staff are
superusers; they see every merchant, or one when they pick it. The test/live
switch decides which data everyone sees; it defaults to test. Both choices
live in the session and are re-checked against memberships on every request.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponseRedirect
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from kassa import mail

from . import services
from .models import Membership, Merchant
from .selectors import memberships_of

SESSION_MERCHANT = "kassa_merchant"
SESSION_LIVEMODE = "kassa_livemode"

WRITE_ROLES_DEFAULT = (Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.DEVELOPER)
MANAGE_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


@dataclass(frozen=True)
class Scope:
    merchant: Merchant | None  # None: platform staff looking at every merchant
    livemode: bool
    role: str | None  # None for platform staff
    is_platform: bool
    merchants: tuple[Merchant, ...]
    roles: dict  # merchant pk -> the user's role there

    @property
    def role_label(self) -> str:
        """The role in the reader's language ("Owner", "Propriétaire")."""
        return Membership.Role(self.role).label if self.role else ""

    def can_write(self, roles=WRITE_ROLES_DEFAULT) -> bool:
        return self.is_platform or self.role in roles

    def can_write_for(self, merchant: Merchant, roles=WRITE_ROLES_DEFAULT) -> bool:
        """For pages that list several merchants: the role at *that* merchant decides."""
        return self.is_platform or self.roles.get(merchant.pk) in roles


def scope_of(request) -> Scope | None:
    """The request's dashboard scope, cached on the request; None for users with no access."""
    if hasattr(request, "_kassa_scope"):
        return request._kassa_scope
    user = request.user
    scope = None
    livemode = bool(request.session.get(SESSION_LIVEMODE, False))
    wanted = request.session.get(SESSION_MERCHANT)
    # A session that has not shown a two-factor code sees no merchant that requires one
    # (TwoFactorPolicyMiddleware sends such people to log in again or to set it up).
    verified = user.is_authenticated and getattr(user, "is_verified", lambda: False)()
    platform_unverified = user.is_superuser and settings.KASSA_REQUIRE_2FA_PLATFORM and not verified
    if user.is_authenticated and user.is_active and user.is_staff and not platform_unverified:
        if user.is_superuser:
            merchants = tuple(Merchant.objects.all())
            merchant = next((m for m in merchants if m.public_id == wanted), None)
            scope = Scope(merchant, livemode, None, True, merchants, {})
        else:
            memberships = [m for m in memberships_of(user) if verified or not m.merchant.require_two_factor]
            if memberships:
                chosen = next((m for m in memberships if m.merchant.public_id == wanted), memberships[0])
                scope = Scope(
                    chosen.merchant,
                    livemode,
                    chosen.role,
                    False,
                    tuple(m.merchant for m in memberships),
                    {m.merchant_id: m.role for m in memberships},
                )
    request._kassa_scope = scope
    return scope


@require_POST
@staff_member_required
def switch_mode(request):
    request.session[SESSION_LIVEMODE] = request.POST.get("livemode") == "1"
    # An object page of the other mode would be missing: go back to its list.
    referer = urlparse(request.META.get("HTTP_REFERER", "")).path
    match = re.match(r"^/admin/[a-z_]+/[a-z_]+/", referer)
    return HttpResponseRedirect(match.group(0) if match else "/admin/")


@require_POST
@staff_member_required
def switch_merchant(request):
    scope = scope_of(request)
    wanted = request.POST.get("merchant", "")
    if scope and any(m.public_id == wanted for m in scope.merchants):
        request.session[SESSION_MERCHANT] = wanted
    elif scope and scope.is_platform and wanted == "":
        request.session.pop(SESSION_MERCHANT, None)
    return HttpResponseRedirect("/admin/")


@require_POST
def language_switch(request):
    """The header's language switch, logged in or not (the login page has it): Django's ``set_language`` (the
    choice in its ``django_language`` cookie, LocaleMiddleware reads it), and for a member, their email
    language too: the language a person picks to read Kassa in is the one they read its emails in."""
    response = set_language(request)
    language = request.POST.get("language")
    if language not in dict(settings.LANGUAGES):
        # set_language takes any language Django itself has a catalog for; Kassa speaks only its LANGUAGES.
        response.cookies.pop(settings.LANGUAGE_COOKIE_NAME, None)
        return response
    if request.user.is_authenticated and language in mail.LANGUAGES:
        services.member_language_set(user=request.user, language=language)
    return response
