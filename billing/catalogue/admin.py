"""Dashboard pages for the catalogue and customers; every write calls billing.catalogue.services."""

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from kassa import metadata, money, validators
from merchants.admin_base import ScopedAdmin, errors_on_fields
from merchants.admin_lists import CreatedRangeFilter, CsvExportMixin
from merchants.widgets import DimensionsField, ListField, MetadataField, Money, MoneyField, NamedListField

from . import services
from .display import price_interval
from .models import Customer, Price, Product


class ProductForm(forms.ModelForm):
    url = forms.URLField(required=False, assume_scheme="https", label=_("Website"))
    metadata = MetadataField()
    images = ListField(
        max_items=8,
        item_label=_("Image URL"),
        input_type="url",
        max_length=2048,
        check=validators.image_urls,
        label=_("Images"),
        help_text=_("Up to 8 https:// addresses of pictures of the product."),
    )
    marketing_features = NamedListField(
        max_items=15,
        item_label=_("Feature"),
        max_length=80,
        label=_("Marketing features"),
        help_text=_("Up to 15 short selling points, e.g. “Free shipping”."),
    )
    package_dimensions = DimensionsField(
        label=_("Package dimensions"), help_text=_("Of the parcel, in inches and ounces; all four or none.")
    )

    class Meta:
        model = Product
        fields = [*services.PRODUCT_FIELDS, "metadata"]
        help_texts = {
            "statement_descriptor": _("5 to 22 characters, shown on card statements."),
            "tax_code": _("Stored and shown to API clients only: Kassa computes no tax."),
        }


class PriceInline(admin.TabularInline):
    model = Price
    fields = ["public_id", "amount", "type", "interval", "active", "nickname"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True

    @admin.display(description=_("Amount"))
    def amount(self, price):
        return money.format_amount(price.unit_amount, price.currency)

    @admin.display(description=_("Interval"))
    def interval(self, price):
        return price_interval(price)


@admin.register(Product)
class ProductAdmin(ScopedAdmin):
    form = ProductForm
    list_display = ["name", "public_id", "active", "created"]
    list_filter = ["active"]
    search_fields = ["name", "public_id", "description"]
    readonly_fields = ["public_id", "livemode", "created", "default_price"]
    inlines = [PriceInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj else []  # a new product has no prices yet

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # "Add price" on the product's page: the price form with this product picked.
        price_admin = self.admin_site.get_model_admin(Price)
        context["can_add_price"] = obj is not None and price_admin.has_add_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_via_service(self, request, form, change):
        data = {k: form.cleaned_data.get(k) for k in ProductForm.Meta.fields}
        if change:
            changed = {k: data[k] for k in form.changed_data if k in data}
            if "metadata" in changed:
                # The form holds the whole new metadata: unset what was removed.
                changed["metadata"] = metadata.replace(form.instance.metadata, data["metadata"])
            return services.product_update(product=form.instance, **changed)
        merchant, livemode = self.current(request)
        return services.product_create(merchant=merchant, livemode=livemode, **data)

    def delete_model(self, request, obj):
        services.product_delete(product=obj)


class PriceCreateForm(forms.ModelForm):
    unit_amount = MoneyField(
        minimum=0,
        label=_("Price"),
        help_text=_("In the currency's own units: 18 is 18.00 EUR, 500 is 500 JPY."),
    )
    billing_interval = forms.ChoiceField(
        choices=[("", _("One time")), *Price.Interval.choices], required=False, label=_("Billing")
    )
    billing_interval_count = forms.IntegerField(required=False, min_value=1, initial=1, label=_("Every"))
    metadata = MetadataField()

    class Meta:
        model = Price
        fields = ["product", "unit_amount", "nickname", "lookup_key", "active", "metadata"]


class PriceChangeForm(forms.ModelForm):
    metadata = MetadataField()

    class Meta:
        model = Price
        fields = ["active", "nickname", "lookup_key", "metadata"]


@admin.register(Price)
class PriceAdmin(ScopedAdmin):
    list_display = ["public_id", "product", "amount", "interval", "active", "created"]
    list_filter = ["active", "type", "currency"]
    search_fields = ["public_id", "product__name", "nickname", "lookup_key"]
    list_select_related = ["product"]

    @admin.display(description=_("Amount"), ordering="unit_amount")
    def amount(self, price):
        return money.format_amount(price.unit_amount, price.currency)

    @admin.display(description=_("Interval"))
    def interval(self, price):
        return price_interval(price)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = PriceChangeForm if obj else PriceCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "product",
                "unit_amount",
                "billing_interval",
                "billing_interval_count",
                "nickname",
                "lookup_key",
                "active",
                "metadata",
            ]
        return ["public_id", "product", "amount", "interval", "livemode", "created", *PriceChangeForm.Meta.fields]

    def get_readonly_fields(self, request, obj=None):
        return ["public_id", "product", "amount", "interval", "livemode", "created"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False  # prices are archived (active=false), never deleted, as at Stripe

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        if change:
            changed = {k: data[k] or None if k in ("nickname", "lookup_key") else data[k] for k in form.changed_data}
            if "metadata" in changed:
                changed["metadata"] = metadata.replace(form.instance.metadata, data["metadata"])
            return services.price_update(price=form.instance, **changed)
        merchant, livemode = self.current(request)
        interval = data.get("billing_interval")
        price: Money = data["unit_amount"]
        with errors_on_fields({"currency": "unit_amount"}):
            return services.price_create(
                merchant=merchant,
                livemode=livemode,
                product=data["product"],
                currency=price.currency,
                unit_amount=price.amount,
                recurring={"interval": interval, "interval_count": data.get("billing_interval_count") or 1}
                if interval
                else None,
                nickname=data.get("nickname") or None,
                lookup_key=data.get("lookup_key") or None,
                active=data.get("active", True),
                metadata=data.get("metadata"),
            )

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)  # ?product=<id> from the product's page
        scope = self.scope(request)
        if scope and scope.merchant is not None:
            initial.setdefault("unit_amount", scope.merchant.default_currency)
        return initial

    def response_add(self, request, obj, post_url_continue=None):
        if "product" in request.GET and not {"_addanother", "_continue", "_popup"} & set(request.POST):
            # Came from the product's "Add price": back to the product, where the new price is listed.
            self.message_user(
                request,
                _("Price %(price)s added to %(product)s.")
                % {"price": money.format_amount(obj.unit_amount, obj.currency), "product": obj.product.name},
            )
            return HttpResponseRedirect(reverse("admin:billing_product_change", args=[obj.product_id]))
        return super().response_add(request, obj, post_url_continue)


class CustomerForm(forms.ModelForm):
    metadata = MetadataField()

    class Meta:
        model = Customer
        fields = ["email", "name", "phone", "description", "metadata"]


@admin.register(Customer)
class CustomerAdmin(CsvExportMixin, ScopedAdmin):
    """A customer's page: who they are, then their history (payments, cards, refunds, total spent).

    The history comes from the parts that hold it (``add_history``, called by
    billing.payments.admin): the catalogue knows nothing of payments.
    """

    form = CustomerForm
    list_display = ["email_display", "name", "public_id", "deleted", "created"]
    list_display_links = ["email_display"]
    list_filter = [CreatedRangeFilter, "deleted"]
    search_fields = ["=public_id", "email", "name", "phone"]
    search_help_text = _("An email, a name, a phone number or an id (cus_…).")
    readonly_fields = ["public_id", "livemode", "created", "deleted", "metadata_rows"]
    csv_name = "customers"
    csv_columns = [
        ("id", lambda c: c.public_id),
        ("created", lambda c: c.created),
        ("email", lambda c: c.email),
        ("name", lambda c: c.name),
        ("phone", lambda c: c.phone),
        ("description", lambda c: c.description),
        ("deleted", lambda c: "true" if c.deleted else "false"),
    ]
    #: [(field name, title, has a writers' version, shown)], from the parts that hold a customer's history (add_history)
    history: list = []
    #: [(route, url name, act)]: buttons of other parts on the customer's page (add_button)
    buttons: list = []

    @classmethod
    def add_history(cls, name: str, title, render, render_for_writers=None, shown=None) -> None:
        """A read-only section of the customer's page: ``render(customer)`` -> html.

        ``render_for_writers``: the same section with buttons, shown to those who may write (their
        buttons submit the page's ``kassa-customer-actions`` form to a URL of ``add_button``).
        ``shown(customer)``: whether the section applies to this customer at all (default: always).
        """
        setattr(cls, name, admin.display(description=title)(lambda self, customer: render(customer)))
        cls.readonly_fields = [*cls.readonly_fields, name]
        if render_for_writers is not None:
            writers = admin.display(description=title)(lambda self, customer: render_for_writers(customer))
            setattr(cls, f"{name}_write", writers)
            cls.readonly_fields = [*cls.readonly_fields, f"{name}_write"]
        cls.history = [*cls.history, (name, title, render_for_writers is not None, shown)]

    @classmethod
    def add_button(cls, route: str, name: str, act) -> None:
        """A POST-only URL ``<customer pk>/<route>/`` (url name ``billing_customer_<name>``) for a section's buttons.

        ``act(request, customer)`` calls the service and returns what to tell the person (ScopedAdmin.button_view:
        another merchant's or mode's customer is missing, a viewer is refused).
        """
        cls.buttons = [*cls.buttons, (route, name, act)]

    def get_urls(self):
        own = [
            path(
                f"<int:pk>/{route}/",
                self.admin_site.admin_view(
                    lambda request, pk, act=act: self.button_view(request, pk, lambda obj: act(request, obj))
                ),
                name=f"billing_customer_{name}",
            )
            for route, name, act in self.buttons
        ]
        return [*own, *super().get_urls()]

    def get_fieldsets(self, request, obj=None):
        details = ["email", "name", "phone", "description"]
        if obj is None:
            return [(None, {"fields": [*details, "metadata"]})]
        # Metadata as rows for those who read; the form's field for those who may change it.
        can_write = self._can_write(request)
        metadata_field = "metadata" if can_write else "metadata_rows"
        return [
            (None, {"fields": [*details, metadata_field]}),
            *(
                (title, {"fields": [f"{name}_write" if can_write and for_writers else name]})
                for name, title, for_writers, shown in self.history
                if shown is None or shown(obj)
            ),
            (_("More"), {"fields": ["public_id", "livemode", "created", "deleted"]}),
        ]

    @admin.display(description=_("Email"), ordering="email")
    def email_display(self, customer):
        return customer.email or customer.name or customer.public_id

    @admin.display(description=_("Metadata"))
    def metadata_rows(self, customer):
        if not customer.metadata:
            return "—"
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", sorted((k, v) for k, v in customer.metadata.items())
        )
        return format_html('<table class="kassa-table" id="kassa-customer-metadata"><tbody>{}</tbody></table>', rows)

    def save_via_service(self, request, form, change):
        data = {k: (form.cleaned_data.get(k) or None) for k in ("email", "name", "phone", "description")}
        new_metadata = form.cleaned_data.get("metadata")
        if change:
            changed = {k: data[k] for k in form.changed_data if k in data}
            if "metadata" in form.changed_data:
                changed["metadata"] = metadata.replace(form.instance.metadata, new_metadata)
            return services.customer_update(customer=form.instance, **changed)
        merchant, livemode = self.current(request)
        return services.customer_create(merchant=merchant, livemode=livemode, metadata=new_metadata, **data)

    def delete_model(self, request, obj):
        services.customer_delete(customer=obj)
