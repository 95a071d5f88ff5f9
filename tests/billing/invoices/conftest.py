"""Invoicing through stripe-python, unmodified: a paying shop, its customer with saved cards, tax rates."""

import pytest
import stripe


@pytest.fixture
def api(kassa, paying_shop):
    return kassa(paying_shop.secret_key.secret)


@pytest.fixture
def customer(api):
    return api.v1.customers.create(params={"email": "payer@example.com", "name": "Ada", "preferred_locales": ["fr-FR"]})


@pytest.fixture
def save_card(api, customer, card_token):
    def save(number: str = "4242424242424242", default: bool = True) -> stripe.PaymentMethod:
        card = api.v1.payment_methods.create(
            params={"type": "card", "card": {"token": card_token(number)}, "customer": customer.id}
        )
        if default:
            api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
        return card

    return save


@pytest.fixture
def vat(api):
    return api.v1.tax_rates.create(params={"display_name": "TVA", "percentage": 20, "inclusive": False})


@pytest.fixture
def price(api):
    product = api.v1.products.create(params={"name": "Tea"})
    return api.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 1250})
