"""Invoicing's models: tax rates (and, later, invoice items and invoices).

A tax rate is Stripe's: a name shown to customers, a percentage stored as a
Decimal with Stripe's precision (up to 4 decimal places, 0 to 100), and
whether it is included in prices or added on top. The percentage and
``inclusive`` never change once made (invoices refer to the rate); a rate
is archived (``active=false``), never deleted.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScoped


class TaxRate(MerchantScoped):
    PREFIX = "txr"

    #: Stripe's high-level tax types (stripe-python's TaxRate.tax_type).
    TAX_TYPES = (
        "admissions_tax",
        "amusement_tax",
        "attendance_tax",
        "communications_tax",
        "digital_excise_tax",
        "entertainment_tax",
        "get_fund",
        "gross_receipts_tax",
        "gst",
        "hospitality_tax",
        "hst",
        "igst",
        "jct",
        "lease_tax",
        "luxury_tax",
        "mass_transit_parking_tax",
        "nhil",
        "parking_tax",
        "pst",
        "qst",
        "resort_tax",
        "retail_delivery_fee",
        "rst",
        "sales_tax",
        "service_tax",
        "tourism_tax",
        "utility_users_tax",
        "vat",
    )

    display_name = models.CharField(max_length=50, verbose_name=_("display name"))
    # Stripe's precision: up to 4 decimal places, 0 to 100 (never a float).
    percentage = models.DecimalField(max_digits=7, decimal_places=4, editable=False, verbose_name=_("percentage"))
    inclusive = models.BooleanField(editable=False, verbose_name=_("inclusive"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    country = models.CharField(max_length=2, blank=True, null=True, verbose_name=_("country"))
    state = models.CharField(max_length=3, blank=True, null=True, verbose_name=_("state"))
    jurisdiction = models.CharField(max_length=50, blank=True, null=True, verbose_name=_("jurisdiction"))
    description = models.TextField(blank=True, null=True, verbose_name=_("description"))
    tax_type = models.CharField(max_length=32, blank=True, null=True, verbose_name=_("tax type"))

    class Meta:
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="tax_rate_list")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(percentage__gte=0, percentage__lte=100), name="tax_rate_percentage_0_to_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} {self.percentage_text}%"

    @property
    def percentage_text(self) -> str:
        """``20``, ``5.5``, ``19.6``: the percentage without trailing zeros (never in exponent form)."""
        text = format(self.percentage.normalize(), "f") if self.percentage is not None else ""
        return text
