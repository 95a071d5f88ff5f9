from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.defaults import page_not_found
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from kassa import views
from kassa.api.errors import not_found_json
from merchants.dashboard import language_switch
from merchants.forms import MemberPasswordResetForm

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", include("merchants.dashboard_urls")),
    # The dashboard's (and login page's) language switch: Django's set_language, which a member's email
    # language follows (merchants/dashboard.py); outside /admin/ so that it works before logging in.
    path("i18n/setlang/", language_switch, name="set_language"),
    # New members get no password; they set one through the reset link on the login page.
    path(
        "admin/password_reset/",
        # Kassa's own words, text and HTML, in the asker's language (templates/registration/).
        auth_views.PasswordResetView.as_view(
            form_class=MemberPasswordResetForm, html_email_template_name="registration/password_reset_email_html.html"
        ),
        name="admin_password_reset",
    ),
    path("admin/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("admin/", admin.site.urls),
    path("pay/", include("billing.checkout.urls")),
    path("invoices/", include("billing.invoices.urls")),
    path("portal/", include("billing.portal.urls")),
    path("webhooks/", include("webhooks.urls")),
    path(
        "v1/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[], throttle_classes=[]),
        name="schema",
    ),
    path(
        "v1/docs/",
        SpectacularSwaggerView.as_view(
            url_name="schema", authentication_classes=[], permission_classes=[], throttle_classes=[]
        ),
        name="docs",
    ),
    path("v1/", include("billing.catalogue.api.urls")),
    path("v1/", include("billing.invoices.api.urls")),
    path("v1/", include("billing.clocks.api.urls")),
    path("v1/", include("billing.portal.api.urls")),
    path("v1/", include("billing.subscriptions.api.urls")),
    path("v1/", include("billing.payments.api.urls")),
    path("v1/", include("billing.checkout.api.urls")),
    path("v1/", include("webhooks.api.urls")),
    # Anything else under /v1/ (and /v1 itself, before APPEND_SLASH redirects it) answers in the API's
    # error shape, DEBUG or not.
    re_path(r"^v1(/|$)", not_found_json),
]


def handler404(request, exception):
    if request.path == "/v1" or request.path.startswith("/v1/"):
        return not_found_json(request, exception)
    return page_not_found(request, exception)
