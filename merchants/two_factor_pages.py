"""The dashboard's "Two-factor authentication" page, and the middleware that sends people there when they must.

Who must use two-factor is decided in ``two_factor.two_factor_required``.
Such a person, in a session not verified with a code, may open only this
page and log out: without a device they are sent here to set one up; with a
device (a session from before, or made without the code) they are logged out
and asked to log in again with the code.
"""

import segno
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login

from kassa.errors import KassaError

from . import two_factor

SETUP_PATH = "/admin/two-factor/"
# What a person who still owes a second factor may open.
_OPEN_PATHS = (SETUP_PATH, "/admin/login/", "/admin/logout/", "/admin/jsi18n/")


class TwoFactorPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # path_info: the path inside Kassa, whatever prefix a proxy serves it under. The path first: the
        # API and Stripe's webhooks have no ``request.user`` (kassa.page_middleware).
        if not request.path_info.startswith("/admin/") or request.path_info.startswith(_OPEN_PATHS):
            return self.get_response(request)
        user = request.user
        if user.is_authenticated and not user.is_verified() and two_factor.two_factor_required(user=user):
            if two_factor.two_factor_enabled(user=user):
                logout(request)
                messages.warning(request, _("Log in again with your two-factor code."))
                return HttpResponseRedirect(f"{reverse('admin:login')}?{urlencode({'next': request.path})}")
            messages.warning(request, _("Your account must use two-factor authentication. Set it up to continue."))
            return HttpResponseRedirect(reverse("dashboard-two-factor"))
        return self.get_response(request)


def _codes_page(request, title, codes):
    context = {**admin.site.each_context(request), "title": title, "backup_codes": codes}
    response = TemplateResponse(request, "admin/two_factor.html", context)
    response["Cache-Control"] = "no-store"
    return response


def two_factor_page(request):
    user = request.user
    action = request.POST.get("action") if request.method == "POST" else None
    token = request.POST.get("token", "")
    try:
        if action == "confirm":
            device, codes = two_factor.two_factor_confirm(user=user, token=token)
            otp_login(request, device)  # this session has just shown a code
            return _codes_page(request, _("Two-factor authentication is on"), codes)
        if action == "renew":
            codes = two_factor.two_factor_backup_codes_renew(user=user, token=token)
            return _codes_page(request, _("New backup codes"), codes)
        if action == "remove":
            two_factor.two_factor_remove(user=user, token=token)
            messages.success(request, _("Two-factor authentication is off."))
            return HttpResponseRedirect(reverse("dashboard-two-factor"))
    except KassaError as exc:
        messages.error(request, exc.message)

    enabled = two_factor.two_factor_enabled(user=user)
    context = {
        **admin.site.each_context(request),
        "title": _("Two-factor authentication"),
        "enabled": enabled,
        "required": two_factor.two_factor_required(user=user),
    }
    if enabled:
        context["backup_codes_left"] = two_factor.two_factor_backup_codes_left(user=user)
    else:
        pending = two_factor.two_factor_start(user=user)
        # segno escapes the otpauth URL into the SVG; nothing else goes in.
        context["qr_svg"] = mark_safe(segno.make(pending.config_url, error="m").svg_inline(scale=4))  # noqa: S308
        context["secret"] = pending.secret
    response = TemplateResponse(request, "admin/two_factor.html", context)
    response["Cache-Control"] = "no-store"  # the secret is on it
    return response
