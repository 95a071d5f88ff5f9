"""The dashboard's login: password, then the two-factor code on the same form, under django-axes' lockout.

django-axes counts failed logins (settings: AXES_*) and refuses every
attempt, right password or not, while a user name or an address is locked
out. A wrong or missing two-factor code after a right password counts as a
failure too, so guessing codes is held to the same limit as guessing
passwords (and django-otp's own throttle slows each device on top).

The code is asked on the login form itself, optional in the form: people
without two-factor leave it empty. A code is needed only when the password
is right and the user has a confirmed device.
"""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from kassa.errors import RateLimited

from .two_factor import two_factor_enabled, two_factor_verify


def login_username(request, credentials) -> str | None:
    """The user name axes counts failures against: members log in by email, so case and spaces do not matter."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    return value.strip().lower() if isinstance(value, str) else value


def client_ip(request) -> str:
    """The client's address, trusting X-Forwarded-For only as far as KASSA_TRUSTED_PROXY_COUNT proxies.

    Each trusted proxy appends the address it received the request from, so
    with N proxies the client is the N-th entry from the right; anything to
    the left of it was written by the client and is ignored. django-ipware's
    proxy_count needs the header to have exactly N+1 entries, which honest
    requests through one nginx do not have and a client can forge, so Kassa
    does not use it.
    """
    count = settings.KASSA_TRUSTED_PROXY_COUNT
    if count > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR", "")


def lockout_response(request, original_response=None, credentials=None):
    """The page every attempt gets while locked out, 429 as axes answers by default."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    context = {"title": _("Too many failed login attempts"), "cooloff_minutes": minutes}
    return render(request, "admin/locked_out.html", context, status=429)


LOGIN_REFUSED = _(
    "Please enter the correct email address and password, and your two-factor code if you have switched it on. "
    "A code from your app is good for 30 seconds; after a wrong one, wait a few seconds."
)


class KassaLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label=_("Two-factor code"),
        required=False,
        max_length=32,
        help_text=_("Only if you have switched on two-factor: the 6-digit code from your app, or a backup code."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autocapitalize": "off"}
        ),
    )

    # One answer for every refusal: a wrong password, a missing code, a wrong or too early code. Telling
    # them apart would tell someone guessing that the password they tried was right.
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": LOGIN_REFUSED,
    }

    def clean(self):
        cleaned = super().clean()  # the password, through axes' backend first
        user = self.get_user()
        if user is not None and two_factor_enabled(user=user):
            token = cleaned.get("otp_token") or ""
            try:
                device = two_factor_verify(user=user, token=token) if token else None
            except RateLimited:  # django-otp's pause after a wrong code
                device = None
            if device is None:
                self.user_cache = None
                # Count it with axes like a wrong password (never pass the code or password along).
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": cleaned.get("username")},
                    request=self.request,
                )
                raise forms.ValidationError(LOGIN_REFUSED, code="invalid_login")
            # django-otp marks the session verified when Django's login() sees this attribute.
            user.otp_device = device
        return cleaned
