"""Tax rate endpoints: thin, Stripe's paths and verbs (POST to update; no delete, as at Stripe)."""

from kassa.api import schema
from kassa.api.views import paginate
from merchants.api.views import StripeView

from ... import selectors, services
from ...models import TaxRate
from .. import docs
from .. import serializers as s


class TaxRatesView(StripeView):
    resource = "tax_rates"

    @schema.listing(
        s.TaxRateListParams,
        s.TaxRateOut,
        "TaxRate",
        doc=docs.TAX_RATES_LIST,
        operation_id="tax_rates_list",
        url="/v1/tax_rates",
        expand=False,
    )
    def get(self, request):
        params, expand = self.params(s.TaxRateListParams)
        queryset = selectors.tax_rate_list(
            merchant=self.merchant,
            livemode=self.livemode,
            active=params.get("active"),
            inclusive=params.get("inclusive"),
        )
        return paginate(self, queryset, params, s.TaxRateOut, "/v1/tax_rates", expand)

    @schema.create(
        s.TaxRateCreateParams, s.TaxRateOut, doc=docs.TAX_RATES_CREATE, operation_id="tax_rates_create", expand=False
    )
    def post(self, request):
        params, expand = self.params(s.TaxRateCreateParams)
        tax_rate = services.tax_rate_create(merchant=self.merchant, livemode=self.livemode, **params)
        return self.render(s.TaxRateOut, tax_rate, expand)


class TaxRateView(StripeView):
    resource = "tax_rates"

    @schema.read(s.TaxRateOut, doc=docs.TAX_RATES_RETRIEVE, operation_id="tax_rates_retrieve", expand=False)
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.TaxRateOut, self.lookup(TaxRate, id), expand)

    @schema.create(
        s.TaxRateUpdateParams, s.TaxRateOut, doc=docs.TAX_RATES_UPDATE, operation_id="tax_rates_update", expand=False
    )
    def post(self, request, id):
        tax_rate = self.lookup(TaxRate, id)
        params, expand = self.params(s.TaxRateUpdateParams)
        return self.render(s.TaxRateOut, services.tax_rate_update(tax_rate=tax_rate, **params), expand)
