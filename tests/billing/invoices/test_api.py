"""Tax rates through stripe-python, unmodified."""

import json
from decimal import Decimal

import pytest
import requests
import stripe

from billing.models import TaxRate
from webhooks.models import Event


@pytest.fixture
def api(kassa, shop):
    return kassa(shop.secret_key.secret)


def test_tax_rate_lifecycle_in_stripes_shape(api, shop):
    rate = api.v1.tax_rates.create(
        params={
            "display_name": "TVA",
            "percentage": 20,
            "inclusive": False,
            "country": "fr",
            "jurisdiction": "FR",
            "description": "TVA France, taux normal",
            "tax_type": "vat",
            "metadata": {"ledger": "44571"},
        }
    )
    assert isinstance(rate, stripe.TaxRate)
    assert rate.id.startswith("txr_")
    body = rate.to_dict()
    assert body == {
        "id": rate.id,
        "object": "tax_rate",
        "active": True,
        "country": "FR",
        "created": body["created"],
        "description": "TVA France, taux normal",
        "display_name": "TVA",
        "effective_percentage": None,
        "flat_amount": None,
        "inclusive": False,
        "jurisdiction": "FR",
        "jurisdiction_level": None,
        "livemode": False,
        "metadata": {"ledger": "44571"},
        "percentage": 20,
        "rate_type": None,
        "state": None,
        "tax_type": "vat",
    }
    assert api.v1.tax_rates.retrieve(rate.id).to_dict() == body

    updated = api.v1.tax_rates.update(
        rate.id, params={"display_name": "VAT", "description": "", "metadata": {"ledger": ""}}
    )
    assert (updated.display_name, updated.description, updated.metadata.to_dict()) == ("VAT", None, {})
    archived = api.v1.tax_rates.update(rate.id, params={"active": False})
    assert archived.active is False
    assert archived.percentage == 20

    types = list(
        Event.objects.filter(merchant=shop.merchant, type__startswith="tax_rate.")
        .order_by("pk")
        .values_list("type", flat=True)
    )
    assert types == ["tax_rate.created", "tax_rate.updated", "tax_rate.updated"]
    last = Event.objects.filter(merchant=shop.merchant, type="tax_rate.updated").order_by("pk").last()
    assert last.data["object"]["active"] is False
    assert last.data["previous_attributes"] == {"active": True}


@pytest.mark.parametrize(
    ("sent", "stored", "answered"),
    [
        ("5.5", "5.5000", "5.5"),
        ("19.6", "19.6000", "19.6"),
        ("8.875", "8.8750", "8.875"),
        ("0.0001", "0.0001", "0.0001"),
        ("100", "100.0000", "100"),
        ("0", "0.0000", "0"),
    ],
)
def test_the_percentage_is_an_exact_decimal(api, kassa, shop, sent, stored, answered):
    rate = api.v1.tax_rates.create(params={"display_name": "Tax", "percentage": sent, "inclusive": True})
    assert TaxRate.objects.get(public_id=rate.id).percentage == Decimal(stored)
    # On the wire: a JSON number written exactly as the merchant wrote it.
    raw = requests.get(f"{kassa.url}/v1/tax_rates/{rate.id}", auth=(shop.secret_key.secret, ""), timeout=30).text
    assert f'"percentage":{answered},' in raw.replace(" ", "")
    assert json.loads(raw)["percentage"] == json.loads(answered)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"percentage": 20, "inclusive": False}, "display_name"),
        ({"display_name": "VAT", "inclusive": False}, "percentage"),
        ({"display_name": "VAT", "percentage": 20}, "inclusive"),
        ({"display_name": "VAT", "percentage": "abc", "inclusive": False}, "percentage"),
        ({"display_name": "VAT", "percentage": -1, "inclusive": False}, "percentage"),
        ({"display_name": "VAT", "percentage": "100.01", "inclusive": False}, "percentage"),
        ({"display_name": "VAT", "percentage": "5.12345", "inclusive": False}, "percentage"),
        ({"display_name": "VAT", "percentage": "NaN", "inclusive": False}, "percentage"),
        ({"display_name": "VAT", "percentage": 20, "inclusive": False, "country": "XX"}, "country"),
        ({"display_name": "VAT", "percentage": 20, "inclusive": False, "country": "FRA"}, "country"),
        ({"display_name": "VAT", "percentage": 20, "inclusive": False, "tax_type": "poll_tax"}, "tax_type"),
        ({"display_name": "V" * 51, "percentage": 20, "inclusive": False}, "display_name"),
        ({"display_name": "VAT", "percentage": 20, "inclusive": False, "state": "N-Y"}, "state"),
    ],
)
def test_bad_input_names_the_parameter_and_writes_nothing(api, params, param):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.tax_rates.create(params=params)
    assert exc.value.param == param, exc.value.user_message
    assert exc.value.http_status == 400
    assert not TaxRate.objects.exists()


@pytest.mark.parametrize("fixed", [{"percentage": 10}, {"inclusive": True}])
def test_percentage_and_inclusive_never_change(api, fixed):
    rate = api.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.tax_rates.update(rate.id, params={**fixed, "display_name": "Changed"})
    name = next(iter(fixed))
    assert exc.value.param == name
    assert exc.value.code == "parameter_unknown"
    assert f"Received unknown parameter: {name}" in exc.value.user_message
    again = api.v1.tax_rates.retrieve(rate.id)
    assert (again.percentage, again.inclusive, again.display_name) == (20, False, "VAT")


def test_no_delete_archive_instead(api, kassa, shop):
    rate = api.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False})
    answer = requests.delete(f"{kassa.url}/v1/tax_rates/{rate.id}", auth=(shop.secret_key.secret, ""), timeout=30)
    assert answer.status_code == 404  # as at Stripe: no such route
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert TaxRate.objects.filter(public_id=rate.id).exists()


def test_list_filters_active_inclusive_created(api, shop):
    exclusive = api.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False})
    inclusive = api.v1.tax_rates.create(params={"display_name": "TVA", "percentage": "5.5", "inclusive": True})
    archived = api.v1.tax_rates.create(
        params={"display_name": "Old", "percentage": "19.6", "inclusive": True, "active": False}
    )

    def ids(**params):
        return [r.id for r in api.v1.tax_rates.list(params=params).data]

    assert ids() == [archived.id, inclusive.id, exclusive.id]
    assert ids(active=True) == [inclusive.id, exclusive.id]
    assert ids(active=False) == [archived.id]
    assert ids(inclusive=True) == [archived.id, inclusive.id]
    assert ids(inclusive=False, active=True) == [exclusive.id]
    assert ids(created={"gte": exclusive.created}) == [archived.id, inclusive.id, exclusive.id]
    assert ids(created={"lt": exclusive.created}) == []
    assert ids(limit=1, starting_after=archived.id) == [inclusive.id]
    page = api.v1.tax_rates.list(params={"limit": 2})
    assert page.has_more is True
    assert page.url == "/v1/tax_rates"


def test_another_merchants_and_the_other_modes_tax_rates_are_missing(api, kassa, shop, other_shop):
    rate = api.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False})
    other = kassa(other_shop.secret_key.secret)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        other.v1.tax_rates.retrieve(rate.id)
    assert exc.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError):
        other.v1.tax_rates.update(rate.id, params={"active": False})
    assert other.v1.tax_rates.list().data == []
    assert api.v1.tax_rates.retrieve(rate.id).active is True
