"""The dashboard's "Email notifications" page: a member chooses their own notices about the current merchant.

Any member may change their own (a viewer too, who cannot open the members'
pages); managers change anyone's on the member's page. Platform staff have no
membership, so nothing to set here.
"""

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import services
from .dashboard import scope_of
from .models import Membership

# What a member chooses about their own emails (this page, and the member's page for managers).
EMAIL_SETTINGS = ("notify_payments", "notify_failures", "notify_daily", "language")


class EmailSettingsForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = EMAIL_SETTINGS


def email_settings_page(request):
    scope = scope_of(request)
    if scope is None or scope.merchant is None or scope.is_platform:
        raise Http404
    membership = Membership.objects.get(user=request.user, merchant=scope.merchant)
    form = EmailSettingsForm(request.POST or None, instance=membership)
    if request.method == "POST" and form.is_valid():
        services.membership_email_settings_set(membership=membership, **form.cleaned_data)
        messages.success(request, _("Your email settings are saved."))
        return HttpResponseRedirect(reverse("dashboard-email-settings"))
    context = {
        **admin.site.each_context(request),
        "title": _("Email notifications"),
        "form": form,
        "merchant": scope.merchant,
    }
    return TemplateResponse(request, "admin/merchants/email_settings.html", context)
