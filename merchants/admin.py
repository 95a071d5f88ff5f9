"""Dashboard pages for the merchant itself: settings, members, API keys, Stripe credentials."""

from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from kassa.errors import KassaError

from . import selectors, services, two_factor
from .admin_base import ScopedAdmin, secret_once_page
from .dashboard import MANAGE_ROLES
from .email_settings import EMAIL_SETTINGS
from .login import KassaLoginForm
from .models import APIKey, Membership, Merchant, ProcessorCredential
from .widgets import CurrencyField, PermissionsField, copyable

# The site's titles and menu: merchants/admin_site.py (KassaAdminSite, installed as admin.site).
# Password and, for those who switched it on, the two-factor code (merchants/login.py).
admin.site.login_form = KassaLoginForm


def _secret_page(request, model_admin, title, secrets, next_url):
    return secret_once_page(
        request,
        model_admin,
        title=title,
        secrets=secrets,
        next_url=next_url,
        template="admin/merchants/secret_once.html",
    )


# --- merchant ---------------------------------------------------------------


class MerchantForm(forms.ModelForm):
    default_currency = CurrencyField(
        label=_("Default currency"), help_text=_("Preselected when you make a price or a payment link.")
    )

    class Meta:
        model = Merchant
        fields = ["name", "support_email", "default_currency", "receipts_enabled", "status", "require_two_factor"]


class MerchantCreateForm(MerchantForm):
    owner_email = forms.EmailField(help_text=_("The owner logs in with this address (made a user if new)."))
    owner_password = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text=_("Leave empty to set one later.")
    )

    class Meta:
        model = Merchant
        fields = ["name", "support_email", "default_currency"]


@admin.register(Merchant)
class MerchantAdmin(ScopedAdmin):
    form = MerchantForm
    list_display = ["name", "public_id", "status", "default_currency", "created"]
    search_fields = ["name", "public_id", "support_email"]
    readonly_fields = ["public_id", "created"]
    mode_scoped = False
    merchant_path = "pk"
    write_roles = MANAGE_ROLES

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        scope = self.scope(request)
        if scope is None:
            return queryset.none()
        if scope.is_platform:
            return queryset
        return queryset.filter(pk__in=[m.pk for m in scope.merchants])

    def get_list_filter(self, request):
        return ["status"]

    def get_list_display(self, request):
        return self.list_display

    def has_add_permission(self, request):
        scope = self.scope(request)
        return scope is not None and scope.is_platform

    def has_change_permission(self, request, obj=None):
        scope = self.scope(request)
        if scope is None:
            return False
        if obj is None:
            return scope.is_platform or any(role in MANAGE_ROLES for role in scope.roles.values())
        return scope.can_write_for(obj, MANAGE_ROLES)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MerchantCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        scope = self.scope(request)
        readonly = list(self.readonly_fields)
        if obj is not None and not (scope and scope.is_platform):
            readonly.append("status")
            if scope is None or scope.roles.get(obj.pk) != Membership.Role.OWNER:
                readonly.append("require_two_factor")
        return readonly

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        if change:
            changes = {k: data[k] for k in form.changed_data}
            merchant = form.instance
            if "require_two_factor" in changes:
                scope = self.scope(request)
                merchant = two_factor.merchant_two_factor_set(
                    merchant=merchant,
                    required=changes.pop("require_two_factor"),
                    acting_role=None if scope.is_platform else scope.roles.get(merchant.pk),
                )
            return services.merchant_update(merchant=merchant, **changes)
        created = services.merchant_create(
            name=data["name"],
            owner_email=data["owner_email"],
            owner_password=data.get("owner_password") or None,
            support_email=data.get("support_email") or "",
            default_currency=data.get("default_currency") or "usd",
            invite=True,  # the owner gets an email with a link to set their password (merchants/emails.py)
            language=translation.get_language(),
        )
        request._kassa_secrets = [
            (_("Test secret key"), created.secret_key.secret),
            (_("Test publishable key"), created.publishable_key.secret),
        ]
        return created.merchant

    def response_add(self, request, obj, post_url_continue=None):
        return _secret_page(
            request,
            self,
            _("Merchant %(name)s created") % {"name": obj.name},
            request._kassa_secrets,
            reverse("admin:merchants_merchant_change", args=[obj.pk]),
        )


# --- members ----------------------------------------------------------------


class MembershipForm(forms.ModelForm):
    email = forms.EmailField(label=_("Email"), help_text=_("The person's email; a user is made if they have none yet."))

    class Meta:
        model = Membership
        fields = ["role"]


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    list_display = ["user_email", "role", "created"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__username"]
    mode_scoped = False
    write_roles = MANAGE_ROLES

    @admin.display(description=_("Email"), ordering="user__email")
    def user_email(self, obj):
        return obj.user.email or obj.user.username

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MembershipForm
        else:
            kwargs["fields"] = ["role", *EMAIL_SETTINGS]
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["user_email"] if obj else []

    def save_via_service(self, request, form, change):
        acting_role = self.scope(request).role  # None for platform staff
        if change:
            membership = services.membership_update(
                membership=form.instance, role=form.cleaned_data["role"], acting_role=acting_role
            )
            return services.membership_email_settings_set(
                membership=membership, **{name: form.cleaned_data[name] for name in EMAIL_SETTINGS}
            )
        return services.membership_add(
            merchant=self.current(request)[0],
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            acting_role=acting_role,
            invite=True,  # an email with a link to set a password, in the inviter's language
            language=translation.get_language(),
        )

    def delete_model(self, request, obj):
        services.membership_remove(membership=obj, acting_role=self.scope(request).role)


# --- API keys ---------------------------------------------------------------

ACCESS_CHOICES = [("none", _("None")), ("read", _("Read")), ("write", _("Write"))]
RESOURCE_LABELS = {
    "products": _("Products"),
    "prices": _("Prices"),
    "customers": _("Customers"),
    "payment_methods": _("Payment methods"),
    "payment_links": _("Payment links"),
    "checkout_sessions": _("Checkout sessions"),
    "payment_intents": _("Payments (PaymentIntents)"),
    "refunds": _("Refunds"),
    "tax_rates": _("Tax rates"),
    "invoices": _("Invoices"),
    "invoiceitems": _("Invoice items"),
    "subscriptions": _("Subscriptions"),
    "test_clocks": _("Test clocks"),
    "billing_portal": _("Customer portal"),
    "webhook_endpoints": _("Webhook endpoints"),
    "events": _("Events"),
}


def _resources() -> list[tuple[str, str]]:
    return [(r, RESOURCE_LABELS.get(r) or r.replace("_", " ").capitalize()) for r in services.RESOURCES]


def _permissions_field(**options) -> PermissionsField:
    """A key's none/read/write grid of resources (``help_text``, or ``disabled`` to show it only)."""
    return PermissionsField(resources=_resources(), levels=ACCESS_CHOICES, label=_("Permissions"), **options)


class APIKeyCreateForm(forms.ModelForm):
    """Kind and name, plus a none/read/write grid of resources for restricted keys (stored as before)."""

    perm = _permissions_field(help_text=_("Restricted keys only: what the key may read or change through the API."))

    class Meta:
        model = APIKey
        fields = ["name", "kind"]

    def permissions(self) -> dict[str, str]:
        return self.cleaned_data.get("perm") or {}


class APIKeyChangeForm(forms.ModelForm):
    """A restricted key's name and permissions (Stripe lets a restricted key be edited; other keys have no grid)."""

    perm = _permissions_field(help_text=_("What the key may read or change through the API, from its next request."))

    class Meta:
        model = APIKey
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["perm"].initial = self.instance.permissions


class RollForm(forms.Form):
    EXPIRY = [
        ("0", _("Now")),
        ("3600", _("In 1 hour")),
        ("86400", _("In 24 hours")),
        ("259200", _("In 3 days")),
        ("604800", _("In 7 days")),
    ]
    expires_in = forms.ChoiceField(choices=EXPIRY, initial="86400", label=_("The old key stops working"))


@admin.register(APIKey)
class APIKeyAdmin(ScopedAdmin):
    list_display = ["__str__", "name", "kind", "status_display", "created", "last_used_at", "expires_at"]
    list_filter = ["kind"]
    search_fields = ["name", "last4"]
    readonly_fields = [
        "redacted",
        "kind",
        "livemode",
        "status_display",
        "permissions_grid",
        "created",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "key_actions",
    ]
    fields = [*readonly_fields[:1], "name", *readonly_fields[1:]]

    @admin.display(description=_("Status"))
    def status_display(self, obj):
        return obj.status

    @admin.display(description=_("Permissions"))
    def permissions_grid(self, obj):
        if obj.kind != APIKey.Kind.RESTRICTED:
            return _("Everything (a %(kind)s key)") % {"kind": obj.get_kind_display()} if obj.kind == "secret" else "—"
        return _permissions_field(disabled=True).widget.render("perm", obj.permissions, attrs={"disabled": True})

    @admin.display(description=_("Key"))
    def redacted(self, obj):
        if obj.kind == APIKey.Kind.PUBLISHABLE:
            return obj.publishable_token
        return obj.redacted

    @admin.display(description=_("Actions"))
    def key_actions(self, obj):
        if obj is None or not obj.pk or not obj.usable:
            return "—"
        return format_html(
            '<a class="button" href="{}">Roll key…</a> <a class="button" href="{}">Revoke key…</a>',
            reverse("admin:merchants_apikey_roll", args=[obj.pk]),
            reverse("admin:merchants_apikey_revoke", args=[obj.pk]),
        )

    def has_delete_permission(self, request, obj=None):
        return False  # keys are revoked, never deleted: the audit trail stays

    def _grid_editable(self, request, obj) -> bool:
        """A usable restricted key's page, for a member who may change keys: its grid is a form field."""
        usable_restricted = obj is not None and obj.kind == APIKey.Kind.RESTRICTED and obj.usable
        return usable_restricted and self.has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = APIKeyCreateForm
            kwargs["fields"] = None
        elif self._grid_editable(request, obj):
            kwargs["form"] = APIKeyChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "kind", "perm"]
        if self._grid_editable(request, obj):
            return [("perm" if name == "permissions_grid" else name) for name in self.fields]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if self._grid_editable(request, obj):
            return [name for name in self.readonly_fields if name != "permissions_grid"]
        return self.readonly_fields

    def save_via_service(self, request, form, change):
        if change and "perm" in form.cleaned_data:
            return services.api_key_permissions_set(
                api_key=form.instance, permissions=form.cleaned_data["perm"], name=form.cleaned_data["name"]
            )
        if change:
            return services.api_key_rename(api_key=form.instance, name=form.cleaned_data["name"])
        merchant, livemode = self.current(request)
        issued = services.api_key_create(
            merchant=merchant,
            livemode=livemode,
            kind=form.cleaned_data["kind"],
            name=form.cleaned_data["name"],
            permissions=form.permissions() if form.cleaned_data["kind"] == APIKey.Kind.RESTRICTED else None,
        )
        request._kassa_secrets = [
            (_("New %(kind)s key") % {"kind": issued.api_key.get_kind_display().lower()}, issued.secret)
        ]
        return issued.api_key

    def response_add(self, request, obj, post_url_continue=None):
        return _secret_page(
            request,
            self,
            _("API key created"),
            request._kassa_secrets,
            reverse("admin:merchants_apikey_changelist"),
        )

    def get_urls(self):
        return [
            path("<int:pk>/roll/", self.admin_site.admin_view(self.roll_view), name="merchants_apikey_roll"),
            path("<int:pk>/revoke/", self.admin_site.admin_view(self.revoke_view), name="merchants_apikey_revoke"),
            *super().get_urls(),
        ]

    def roll_view(self, request, pk):
        key = self.object_for_write(request, pk)
        form = RollForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                issued = services.api_key_roll(
                    api_key=key, expires_in=timedelta(seconds=int(form.cleaned_data["expires_in"]))
                )
            except KassaError as exc:
                messages.error(request, exc.message)
            else:
                return _secret_page(
                    request,
                    self,
                    _("Key %(key)s rolled") % {"key": key.redacted},
                    [(_("New key"), issued.secret)],
                    reverse("admin:merchants_apikey_changelist"),
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Roll %(key)s") % {"key": key.redacted},
            "form": form,
            "key": key,
            "opts": self.model._meta,
            "action": "roll",
        }
        return TemplateResponse(request, "admin/merchants/key_action.html", context)

    def revoke_view(self, request, pk):
        key = self.object_for_write(request, pk)
        if request.method == "POST":
            services.api_key_revoke(api_key=key)
            messages.success(request, _("Key %(key)s revoked. It stopped working now.") % {"key": key.redacted})
            return HttpResponseRedirect(reverse("admin:merchants_apikey_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Revoke %(key)s") % {"key": key.redacted},
            "key": key,
            "opts": self.model._meta,
            "action": "revoke",
        }
        return TemplateResponse(request, "admin/merchants/key_action.html", context)


# --- Stripe credentials -----------------------------------------------------


class CredentialForm(forms.ModelForm):
    publishable_key = forms.CharField(
        required=False,
        label=_("Publishable key"),
        help_text=_("pk_test_… (pk_live_… in live mode): hosted pay pages give it to Stripe.js."),
    )
    secret_key = forms.CharField(
        label=_("Secret key"),
        widget=forms.PasswordInput(render_value=False),
        help_text=_("sk_test_… or rk_test_… (sk_live_… in live mode)."),
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label=_("Webhook secret"),
        help_text=_("whsec_…, the signing secret of the webhook endpoint you register at Stripe."),
    )

    class Meta:
        model = ProcessorCredential
        fields = ["publishable_key"]


@admin.register(ProcessorCredential)
class ProcessorCredentialAdmin(ScopedAdmin):
    # Replacing the Stripe key redirects the merchant's money: owners and admins only.
    write_roles = MANAGE_ROLES
    form = CredentialForm
    list_display = ["__str__", "secret_key_hint", "webhook_secret_hint", "check_status", "updated"]
    readonly_fields = [
        "secret_key_hint",
        "webhook_secret_hint",
        "stripe_webhook_url",
        "connection",
        "last_checked_at",
    ]
    actions = ["check_connection"]

    @admin.display(description=_("Webhook URL for Stripe"))
    def stripe_webhook_url(self, obj):
        if not obj or not obj.pk:
            return "—"
        note = _(
            "Register this URL at Stripe (Developers → Webhooks → Add endpoint) with at least "
            "<code>payment_intent.succeeded</code> and <code>payment_intent.payment_failed</code>, then paste "
            "that endpoint's signing secret (<code>whsec_…</code>) into “Webhook secret” above."
        )
        return format_html(
            '{}<small class="kassa-note">{}</small>',
            copyable(
                selectors.processor_events_url(merchant=obj.merchant, livemode=obj.livemode),
                label=_("Webhook URL for Stripe"),
                code_id="kassa-stripe-webhook-url",
            ),
            mark_safe(note),  # noqa: S308 -- Kassa's own words and markup, from its catalogs
        )

    @admin.display(description=_("Connection"))
    def check_status(self, obj):
        if obj.last_check_ok is None:
            return _("not checked")
        template = _("OK: %(message)s") if obj.last_check_ok else _("Failed: %(message)s")
        return template % {"message": obj.last_check_message}

    @admin.display(description=_("Connection"))
    def connection(self, obj):
        """The last check's answer and the button to check again (one labelled row, not a row labelled ":")."""
        if not obj or not obj.pk:
            return "—"
        # Submits the page's own form (with its CSRF token) to the check view, by POST.
        return format_html(
            '{} <button type="submit" class="button" formaction="{}" formnovalidate>{}</button>',
            self.check_status(obj),
            reverse("admin:merchants_processorcredential_check", args=[obj.pk]),
            _("Check connection"),
        )

    def get_fields(self, request, obj=None):
        return ["publishable_key", "secret_key", "webhook_secret", *(self.readonly_fields if obj else [])]

    def save_via_service(self, request, form, change):
        merchant, livemode = (form.instance.merchant, form.instance.livemode) if change else self.current(request)
        return services.processor_credential_set(
            merchant=merchant,
            livemode=livemode,
            secret_key=form.cleaned_data["secret_key"],
            webhook_secret=form.cleaned_data.get("webhook_secret") or "",
            publishable_key=form.cleaned_data.get("publishable_key") or "",
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/check/",
                self.admin_site.admin_view(self.check_view),
                name="merchants_processorcredential_check",
            ),
            *super().get_urls(),
        ]

    def _report(self, request, credential):
        level = messages.SUCCESS if credential.last_check_ok else messages.ERROR
        self.message_user(request, f"{credential}: {credential.last_check_message}", level)

    def check_view(self, request, pk):
        """POST only, for those who may change the credentials: it calls Stripe and records the answer."""

        def act(credential):
            self._report(request, services.processor_credential_check(credential=credential))

        return self.button_view(request, pk, act)

    @admin.action(description=_("Check connection to Stripe"), permissions=["change"])
    def check_connection(self, request, queryset):
        for credential in queryset:
            self._report(request, services.processor_credential_check(credential=credential))


# --- platform staff only: login lockouts and two-factor devices --------------


class PlatformOnlyMixin:
    """Lockout records and people's two-factor devices: superusers only, whatever model permissions say.

    Deleting a user's access attempts unlocks them; deleting their devices
    switches two-factor off (for someone who lost both phone and backup codes).
    """

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)


def _platform_only(model) -> None:
    if admin.site.is_registered(model):
        library_admin = type(admin.site.get_model_admin(model))
        admin.site.unregister(model)
        admin.site.register(model, type(library_admin.__name__, (PlatformOnlyMixin, library_admin), {}))


for _model in (AccessAttempt, AccessLog, AccessFailureLog, TOTPDevice, StaticDevice):
    _platform_only(_model)
