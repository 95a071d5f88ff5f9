"""kassa.db.insert writes what ``objects.create`` writes, for the models that use it."""

import pytest
from django.db.models import Model, signals
from django.forms.models import model_to_dict

from billing.models import Customer
from kassa.db import insert
from merchants.models import IdempotencyKey
from webhooks.models import Event

#: Every model the hot paths insert with kassa.db.insert.
INSERTED = [Customer, Event, IdempotencyKey]


@pytest.mark.parametrize("model", INSERTED)
def test_the_models_inserted_directly_have_no_save_override_and_no_signal_receivers(model):
    """``insert`` skips ``save()`` and the save signals: a model that grows either must stop using it."""
    assert model.save is Model.save
    assert not signals.pre_save.has_listeners(model)
    assert not signals.post_save.has_listeners(model)


def test_insert_stores_what_create_stores(shop):
    fields = {
        "merchant": shop.merchant,
        "livemode": False,
        "email": "same@example.com",
        "name": "Same",
        "metadata": {"order": "1001", "nested": "ü"},
        "address": {"city": "Lyon", "country": "FR"},
    }
    made = insert(Customer(public_id="cus_inserted", **fields))
    created = Customer.objects.create(public_id="cus_created", **fields)
    assert made.pk is not None
    assert not made._state.adding
    stored = Customer.objects.get(pk=made.pk)
    other = Customer.objects.get(pk=created.pk)
    ignore = {"id", "public_id", "created"}
    assert {k: v for k, v in model_to_dict(stored).items() if k not in ignore} == {
        k: v for k, v in model_to_dict(other).items() if k not in ignore
    }
    assert stored.created == made.created
