"""The dashboard's base ModelAdmin: every query scoped, every write through a service.

- ``get_queryset`` keeps the current merchant's objects (all merchants for
  platform staff who picked none) in the current mode; a forged URL with
  another merchant's id finds nothing, exactly like a missing object.
- Foreign-key choices are scoped the same way.
- Permissions come from the membership role, not Django's per-model
  permissions: viewers read, ``write_roles`` write.
- Writes call the app's services (``save_via_service``/``delete_model``).
- Words, not raw fields, on every object page: a public id with a Copy
  button, "Test"/"Live" for the mode, "Active"/"Deleted" for a tombstone
  (``READONLY_DISPLAYS``, swapped in ``render_change_form`` so every page gets
  them whatever its fieldsets); an add page shows none of the fields a new
  object does not have yet (its id, mode, creation time).
"""

from contextlib import contextmanager

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from kassa.errors import KassaError

from .dashboard import WRITE_ROLES_DEFAULT, scope_of
from .widgets import copyable

#: read-only model fields shown through a display method of ScopedAdmin instead of raw
READONLY_DISPLAYS = {"public_id": "public_id_copy", "livemode": "mode", "deleted": "deletion_status"}


def _swap(fields, swaps: dict):
    return [tuple(_swap(f, swaps)) if isinstance(f, list | tuple) else swaps.get(f, f) for f in fields]


class ScopedAdmin(admin.ModelAdmin):
    #: roles that may add/change/delete; everyone with access may view
    write_roles = WRITE_ROLES_DEFAULT
    #: the model has a ``livemode`` field filtered by the test/live switch
    mode_scoped = True
    #: the path from this model to its merchant
    merchant_path = "merchant"

    # --- scoping ---------------------------------------------------------
    def scope(self, request):
        return scope_of(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        scope = self.scope(request)
        if scope is None:
            return queryset.none()
        if scope.merchant is not None:
            queryset = queryset.filter(**{self.merchant_path: scope.merchant})
        elif not scope.is_platform:
            return queryset.none()
        if self.mode_scoped:
            queryset = queryset.filter(livemode=scope.livemode)
        return queryset

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        scope = self.scope(request)
        if scope and scope.is_platform and scope.merchant is None:
            filters.insert(0, self.merchant_path)
        return filters

    def get_list_display(self, request):
        columns = [READONLY_DISPLAYS.get(c, c) if c == "deleted" else c for c in super().get_list_display(request)]
        scope = self.scope(request)
        if scope and scope.is_platform and scope.merchant is None and self.merchant_path == "merchant":
            columns.append("merchant")
        return columns

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        scope = self.scope(request)
        if scope is not None and related._meta.app_label in ("billing", "webhooks"):
            queryset = related._default_manager.all()
            if scope.merchant is not None:
                queryset = queryset.filter(merchant=scope.merchant)
            if any(f.name == "livemode" for f in related._meta.fields):
                queryset = queryset.filter(livemode=scope.livemode)
            kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- words instead of raw fields --------------------------------------
    @admin.display(description=_("ID"))
    def public_id_copy(self, obj):
        return copyable(obj.public_id, label=_("ID"))

    @admin.display(description=_("Mode"))
    def mode(self, obj):
        return _("Live") if obj.livemode else _("Test")

    @admin.display(description=_("Status"), ordering="deleted")
    def deletion_status(self, obj):
        return _("Deleted") if obj.deleted else _("Active")

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is None:
            # A new object has no id, mode or creation time yet: no "Livemode ✖" on an add page.
            model_fields = {f.name for f in self.model._meta.get_fields()}
            readonly = [f for f in readonly if f not in model_fields]
        return readonly

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_write"] = self._can_write(request)  # the page's own buttons (services) show for writers only
        adminform = context.get("adminform")
        if adminform is not None:
            swaps = {f: display for f, display in READONLY_DISPLAYS.items() if f in adminform.readonly_fields}
            if swaps:
                adminform.readonly_fields = _swap(adminform.readonly_fields, swaps)
                adminform.fieldsets = [
                    (title, {**options, "fields": _swap(options["fields"], swaps)})
                    for title, options in adminform.fieldsets
                ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- permissions -----------------------------------------------------
    def has_module_permission(self, request):
        return self.scope(request) is not None

    def has_view_permission(self, request, obj=None):
        return self.scope(request) is not None

    def _can_write(self, request):
        scope = self.scope(request)
        return scope is not None and scope.can_write(self.write_roles)

    def object_for_write(self, request, pk):
        """The object, for someone who may act on it; 404 first, so another merchant's is missing, not forbidden."""
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self._can_write(request):
            raise PermissionDenied
        return obj

    def button_view(self, request, pk, act) -> HttpResponse:
        """A button on an object's page: POST only, by someone who may write, then back to the page.

        ``act(obj)`` calls the service and returns what to tell the person (None: nothing, it said so
        itself); a service's refusal is shown as an error.
        """
        obj = self.object_for_write(request, pk)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            message = act(obj)
        except KassaError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            if message:
                self.message_user(request, message)
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))

    def has_add_permission(self, request):
        scope = self.scope(request)
        # Creating needs one merchant in view (platform staff pick one first).
        return self._can_write(request) and scope.merchant is not None

    def has_change_permission(self, request, obj=None):
        return self._can_write(request)

    def has_delete_permission(self, request, obj=None):
        return self._can_write(request)

    # --- writes through services ----------------------------------------
    def current(self, request):
        """(merchant, livemode) for a new object."""
        scope = self.scope(request)
        if scope is None or scope.merchant is None:
            raise PermissionDenied
        return scope.merchant, scope.livemode

    def get_form(self, request, obj=None, change=False, **kwargs):
        """Wrap the form so that validating it runs the service, inside the admin's transaction.

        The service's own checks then show as form errors (the page re-renders
        with the input kept), and a failed service leaves nothing written.
        """
        form_class = super().get_form(request, obj, change, **kwargs)
        model_admin = self

        class ServiceForm(form_class):
            def _post_clean(self):
                if self._errors:
                    return
                try:
                    with transaction.atomic():
                        result = model_admin.save_via_service(request, self, change)
                except KassaError as exc:
                    service_errors_as_form_errors(self, exc)
                    return
                if result is not None:
                    self.instance = result

        return ServiceForm

    def save_via_service(self, request, form, change):  # pragma: no cover - each admin says how
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        """Nothing left to do: the form's validation already saved through the service."""

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except KassaError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk deletes would bypass the services
        return actions


def secret_once_page(
    request, model_admin, *, title: str, secrets: list, next_url: str, template: str, **context
) -> TemplateResponse:
    """Freshly made secrets, this once: rendered here, never cached, never stored in a readable form."""
    context = {
        **model_admin.admin_site.each_context(request),
        **context,
        "title": title,
        "secrets": secrets,
        "next_url": next_url,
        "opts": model_admin.model._meta,
    }
    response = TemplateResponse(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


def when(value) -> str:
    """A moment as the dashboard shows it, in the viewer's time zone; "—" for none."""
    return date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else "—"


def admin_link(obj, label: str | None = None) -> str:
    """A link to ``obj``'s dashboard page, labelled with its public id unless told otherwise."""
    if obj is None:
        return "—"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or obj.public_id)


@contextmanager
def errors_on_fields(field_map: dict):
    """Re-aim a service error's ``param`` (the API's name) at the dashboard form's field."""
    try:
        yield
    except KassaError as exc:
        exc.param = field_map.get(exc.param, exc.param)
        raise


def service_errors_as_form_errors(form, exc: KassaError, field_map: dict | None = None):
    """Put a service's error on the form field it names."""
    field = (field_map or {}).get(exc.param, exc.param)
    if field in form.fields:
        form.add_error(field, exc.message)
    else:
        form.add_error(None, exc.message)


class LedgerAdmin(ScopedAdmin):
    """Records of what happened (payments, refunds, events): look, never touch. Buttons call services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return flatten_fieldsets(self.get_fieldsets(request, obj))


def html_table(table_id: str, headers, rows) -> str:
    """A read-only table on an object's page (timeline, attempts, refunds, a customer's history).

    ``rows`` are tuples of values; each is escaped unless it is already safe HTML (a link, a badge).
    """
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((value,) for value in row)),) for row in rows)
    )
    return format_html(
        '<table class="kassa-table" id="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', table_id, head, body
    )
