"""The dashboard's and hosted pages' middleware, skipped for the machine paths (the API, Stripe's webhooks).

A request to ``/v1/`` or ``/webhooks/stripe/`` carries a key or a
signature, never a session: it has no use for sessions, the logged-in
user, two-factor state, messages or static files, and running them cost
about a fifteenth of an API write's Python work (measured in function
calls; docs/performance-history.md). Each class here is the library's
own middleware, subclassed so that Django's and the admin's checks still
recognize it, with one change: for those paths it hands the request on
untouched. Pages get exactly the library's behaviour.

LocaleMiddleware picks a page's language (the dashboard's switch, stored in
Django's ``django_language`` cookie, else ``Accept-Language``, else English).
For a machine path it does not run, and the thread's language is reset to
English instead: a worker thread that just served a French dashboard page
would otherwise answer the next API call with DRF's French messages. The
hosted pay pages run it too but resolve their own language in the view
(billing/hosted/i18n.py), which wins over it.

Left in the chain for every path: security headers and the HTTPS redirect
(SecurityMiddleware), the rate limiter, CommonMiddleware (host checks,
Content-Length), CSRF and frame headers (cheap, and ``check --deploy``
looks for Django's own classes by name), django-axes (its check wants its own class; it does
nothing for requests that are not logins) and Kassa's two-factor policy
(merchants/two_factor_pages.py, which looks at ``/admin/`` paths only).
"""

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Message
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.middleware.locale import LocaleMiddleware as _Locale
from django.utils import translation
from django_otp.middleware import OTPMiddleware as _OTP
from whitenoise.middleware import WhiteNoiseMiddleware as _WhiteNoise

#: Paths whose requests authenticate with a key or a signature, never with a session.
MACHINE_PATHS = ("/v1/", "/webhooks/stripe/")


def pages_only(middleware: type) -> type:
    """``middleware``, run for every request but those to MACHINE_PATHS, which go straight on."""

    def __call__(self, request):
        if request.path_info.startswith(MACHINE_PATHS):
            return self.get_response(request)
        return middleware.__call__(self, request)

    return type(middleware.__name__, (middleware,), {"__call__": __call__, "__module__": __name__})


WhiteNoiseMiddleware = pages_only(_WhiteNoise)
SessionMiddleware = pages_only(_Session)
AuthenticationMiddleware = pages_only(_Authentication)
OTPMiddleware = pages_only(_OTP)
MessageMiddleware = pages_only(_Message)


class LocaleMiddleware(_Locale):
    """Django's, for pages; a machine path gets the thread's language reset to English (the API speaks English)."""

    def __call__(self, request):
        if request.path_info.startswith(MACHINE_PATHS):
            translation.deactivate()  # whatever a page left on this thread; deactivated means LANGUAGE_CODE
            return self.get_response(request)
        return super().__call__(request)
