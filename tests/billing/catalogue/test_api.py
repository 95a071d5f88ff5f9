"""Products, prices and customers through stripe-python, unmodified."""

import pytest
import stripe

from billing.models import Customer, Price, Product


@pytest.fixture
def api(kassa, shop):
    return kassa(shop.secret_key.secret)


def test_product_lifecycle(api):
    product = api.v1.products.create(
        params={
            "name": "Green tea",
            "description": "Loose leaf",
            "images": ["https://img.test/tea.png"],
            "metadata": {"sku": "T1"},
        }
    )
    assert isinstance(product, stripe.Product)
    assert product.id.startswith("prod_")
    assert (product.name, product.active, product.images, product.metadata.to_dict()) == (
        "Green tea",
        True,
        ["https://img.test/tea.png"],
        {"sku": "T1"},
    )
    assert api.v1.products.retrieve(product.id).description == "Loose leaf"
    updated = api.v1.products.update(product.id, params={"description": "", "metadata": {"sku": "", "new": "1"}})
    assert updated.description is None
    assert updated.metadata.to_dict() == {"new": "1"}
    deleted = api.v1.products.delete(product.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        api.v1.products.retrieve(product.id)


def test_product_used_by_a_price_is_archived_not_deleted(api):
    product = api.v1.products.create(params={"name": "Mug"})
    api.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 1200})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.products.delete(product.id)
    assert "archive" in str(exc.value).lower()
    archived = api.v1.products.update(product.id, params={"active": False})
    assert archived.active is False
    assert [p.id for p in api.v1.products.list(params={"active": False}).data] == [product.id]
    assert api.v1.products.list(params={"active": True}).data == []


def test_prices_one_time_and_recurring(api):
    product = api.v1.products.create(params={"name": "Plan"})
    one_time = api.v1.prices.create(params={"product": product.id, "currency": "EUR", "unit_amount": 999})
    assert (one_time.type, one_time.currency, one_time.unit_amount, one_time.recurring) == (
        "one_time",
        "eur",
        999,
        None,
    )
    monthly = api.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 1500,
            "recurring": {"interval": "month", "interval_count": 3},
            "nickname": "Quarterly",
            "lookup_key": "plan_quarterly",
        }
    )
    assert monthly.type == "recurring"
    assert (monthly.recurring.interval, monthly.recurring.interval_count) == ("month", 3)
    jpy = api.v1.prices.create(params={"product_data": {"name": "Yen thing"}, "currency": "jpy", "unit_amount": 500})
    assert jpy.unit_amount == 500
    assert api.v1.products.retrieve(jpy.product).name == "Yen thing"

    expanded = api.v1.prices.retrieve(monthly.id, params={"expand": ["product"]})
    assert isinstance(expanded.product, stripe.Product)
    assert expanded.product.name == "Plan"
    listed = api.v1.prices.list(params={"expand": ["data.product"], "product": product.id})
    assert {p.product.id for p in listed.data} == {product.id}
    assert [p.id for p in api.v1.prices.list(params={"type": "recurring"}).data] == [monthly.id]
    assert [p.id for p in api.v1.prices.list(params={"lookup_keys": ["plan_quarterly"]}).data] == [monthly.id]
    assert [p.id for p in api.v1.prices.list(params={"recurring": {"interval": "month"}}).data] == [monthly.id]
    assert [p.id for p in api.v1.prices.list(params={"currency": "jpy"}).data] == [jpy.id]


def test_prices_are_immutable_but_for_active_nickname_lookup_key_metadata(api):
    price = api.v1.prices.create(params={"product_data": {"name": "X"}, "currency": "usd", "unit_amount": 100})
    for field, value in (
        ("unit_amount", 200),
        ("currency", "eur"),
        ("product", "prod_x"),
        ("recurring", {"interval": "day"}),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            api.v1.prices.update(price.id, params={field: value})
        assert exc.value.code == "parameter_unknown"
        assert exc.value.param.startswith(field)
    updated = api.v1.prices.update(price.id, params={"active": False, "nickname": "old", "metadata": {"a": "b"}})
    assert (updated.active, updated.nickname, updated.metadata.to_dict(), updated.unit_amount) == (
        False,
        "old",
        {"a": "b"},
        100,
    )


def test_lookup_keys_are_unique_unless_transferred(api):
    a = api.v1.prices.create(
        params={"product_data": {"name": "A"}, "currency": "usd", "unit_amount": 1, "lookup_key": "std"}
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.prices.create(
            params={"product_data": {"name": "B"}, "currency": "usd", "unit_amount": 2, "lookup_key": "std"}
        )
    assert exc.value.param == "lookup_key"
    assert Price.objects.count() == 1
    assert Product.objects.count() == 1
    b = api.v1.prices.create(
        params={
            "product_data": {"name": "B"},
            "currency": "usd",
            "unit_amount": 2,
            "lookup_key": "std",
            "transfer_lookup_key": True,
        }
    )
    assert api.v1.prices.retrieve(a.id).lookup_key is None
    assert api.v1.prices.retrieve(b.id).lookup_key == "std"


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"currency": "xyz", "unit_amount": 100}, "currency", "parameter_invalid_currency"),
        ({"currency": "usd", "unit_amount": -1}, "unit_amount", "amount_too_small"),
        ({"currency": "usd", "unit_amount": 100_000_000}, "unit_amount", "amount_too_large"),
        ({"currency": "usd", "unit_amount": "12.5"}, "unit_amount", "parameter_invalid_integer"),
        ({"currency": "usd"}, "unit_amount", "parameter_missing"),
        ({"unit_amount": 100}, "currency", "parameter_missing"),
        (
            {"currency": "usd", "unit_amount": 1, "recurring": {"interval": "fortnight"}},
            "recurring[interval]",
            "parameter_invalid",
        ),
        (
            {"currency": "usd", "unit_amount": 1, "recurring": {"interval": "month", "interval_count": 13}},
            "recurring[interval_count]",
            "parameter_invalid_integer",
        ),
        ({"currency": "usd", "unit_amount": 1, "colour": "red"}, "colour", "parameter_unknown"),
    ],
)
def test_bad_price_input_names_the_parameter_and_writes_nothing(api, params, param, code):
    product = api.v1.products.create(params={"name": "P"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.prices.create(params={"product": product.id, **params})
    assert exc.value.http_status == 400
    assert exc.value.param == param
    assert exc.value.code == code
    assert Price.objects.count() == 0


def test_price_for_another_merchants_product_is_refused(api, other_shop):
    from billing.catalogue import services

    theirs = services.product_create(merchant=other_shop.merchant, livemode=False, name="Theirs")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.prices.create(params={"product": theirs.public_id, "currency": "usd", "unit_amount": 1})
    assert (exc.value.http_status, exc.value.param, exc.value.code) == (400, "product", "resource_missing")
    assert Price.objects.count() == 0


def test_customer_lifecycle(api):
    customer = api.v1.customers.create(
        params={
            "email": "ann@example.com",
            "name": "Ann",
            "phone": "+33 1 23 45 67 89",
            "description": "VIP",
            "address": {"line1": "1 rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"},
            "metadata": {"crm": "123"},
        }
    )
    assert isinstance(customer, stripe.Customer)
    assert customer.id.startswith("cus_")
    assert customer.address.city == "Paris"
    assert api.v1.customers.retrieve(customer.id).phone == "+33 1 23 45 67 89"
    updated = api.v1.customers.update(customer.id, params={"name": "Ann B", "phone": ""})
    assert (updated.name, updated.phone, updated.email) == ("Ann B", None, "ann@example.com")
    assert [c.id for c in api.v1.customers.list(params={"email": "ann@example.com"}).data] == [customer.id]
    deleted = api.v1.customers.delete(customer.id)
    assert deleted.deleted is True
    assert api.v1.customers.retrieve(customer.id).deleted is True
    assert api.v1.customers.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        api.v1.customers.update(customer.id, params={"name": "ghost"})


def test_metadata_rules(api):
    with pytest.raises(stripe.InvalidRequestError) as too_many:
        api.v1.customers.create(params={"metadata": {f"k{i}": "v" for i in range(51)}})
    with pytest.raises(stripe.InvalidRequestError) as long_key:
        api.v1.customers.create(params={"metadata": {"k" * 41: "v"}})
    with pytest.raises(stripe.InvalidRequestError) as long_value:
        api.v1.customers.create(params={"metadata": {"k": "v" * 501}})
    for exc in (too_many, long_key, long_value):
        assert exc.value.param == "metadata"
    assert Customer.objects.count() == 0

    customer = api.v1.customers.create(params={"metadata": {f"k{i}": "v" for i in range(50)}})
    with pytest.raises(stripe.InvalidRequestError):  # 51 keys after merging
        api.v1.customers.update(customer.id, params={"metadata": {"one_more": "x"}})
    assert len(api.v1.customers.retrieve(customer.id).metadata.to_dict()) == 50
    cleared = api.v1.customers.update(customer.id, params={"metadata": ""})
    assert cleared.metadata.to_dict() == {}


def test_pagination_across_250_objects(api, shop):
    from billing.catalogue import services

    made = [
        services.customer_create(merchant=shop.merchant, livemode=False, email=f"c{i}@example.com").public_id
        for i in range(250)
    ]
    seen = [c.id for c in api.v1.customers.list(params={"limit": 100}).auto_paging_iter()]
    assert seen == list(reversed(made))  # newest first, each exactly once

    first = api.v1.customers.list(params={"limit": 10})
    assert first.has_more is True
    assert len(first.data) == 10
    second = api.v1.customers.list(params={"limit": 10, "starting_after": first.data[-1].id})
    back = api.v1.customers.list(params={"limit": 10, "ending_before": second.data[0].id})
    assert [c.id for c in back.data] == [c.id for c in first.data]
    assert back.has_more is False
    last = api.v1.customers.list(params={"limit": 100, "starting_after": made[99]})
    assert len(last.data) == 99
    assert last.has_more is False

    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.customers.list(params={"starting_after": "cus_unknown"})
    assert exc.value.param == "starting_after"


def test_created_filters(api, shop):
    from datetime import timedelta

    from billing.catalogue import services

    old = services.customer_create(merchant=shop.merchant, livemode=False, email="old@example.com")
    Customer.objects.filter(pk=old.pk).update(created=old.created - timedelta(days=2))
    new = services.customer_create(merchant=shop.merchant, livemode=False, email="new@example.com")
    cutoff = int((new.created - timedelta(days=1)).timestamp())
    assert [c.id for c in api.v1.customers.list(params={"created": {"gte": cutoff}}).data] == [new.public_id]
    assert [c.id for c in api.v1.customers.list(params={"created": {"lt": cutoff}}).data] == [old.public_id]


def test_concurrent_lookup_key_transfers_all_succeed_in_turn(api):
    import threading

    product = api.v1.products.create(params={"name": "Tiers"})
    results, barrier = [], threading.Barrier(4)

    def create(i):
        barrier.wait()
        try:
            price = api.v1.prices.create(
                params={
                    "product": product.id,
                    "currency": "usd",
                    "unit_amount": 100 + i,
                    "lookup_key": "gold",
                    "transfer_lookup_key": True,
                }
            )
            results.append(price.id)
        except stripe.StripeError as exc:  # pragma: no cover - the assertion below reports it
            results.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, str) for r in results), results
    assert Price.objects.filter(lookup_key="gold").count() == 1


# --- the product fields Stripe's quick-starts use ---------------------------------------


def test_a_product_with_its_default_price_and_every_stripe_field(api):
    product = api.v1.products.create(
        params={
            "name": "Coffee beans",
            "default_price_data": {"currency": "eur", "unit_amount": 1490},
            "unit_label": "bag",
            "shippable": True,
            "statement_descriptor": "KASSA COFFEE",
            "tax_code": "txcd_99999999",
            "marketing_features": [{"name": "Single origin"}, {"name": "Roasted weekly"}],
            "package_dimensions": {"height": 2.5, "length": 8, "weight": 17.6, "width": 4},
        }
    )
    assert isinstance(product, stripe.Product)
    assert product.default_price.startswith("price_")
    assert (product.unit_label, product.shippable, product.statement_descriptor, product.tax_code, product.type) == (
        "bag",
        True,
        "KASSA COFFEE",
        "txcd_99999999",
        "service",
    )
    assert [feature.name for feature in product.marketing_features] == ["Single origin", "Roasted weekly"]
    assert product.package_dimensions.to_dict() == {"height": 2.5, "length": 8, "weight": 17.6, "width": 4}
    # Every field stripe-python's Product declares is there (tax_details aside: Kassa computes no tax).
    declared = set(stripe.Product.__annotations__) - {"OBJECT_NAME", "deleted", "tax_details"}
    assert declared <= set(product.to_dict())

    expanded = api.v1.products.retrieve(product.id, params={"expand": ["default_price"]})
    assert isinstance(expanded.default_price, stripe.Price)
    assert (expanded.default_price.unit_amount, expanded.default_price.product) == (1490, product.id)
    [price] = api.v1.prices.list(params={"product": product.id}).data
    assert price.id == product.default_price
    listed = api.v1.products.list(params={"expand": ["data.default_price"]}).data
    assert listed[0].default_price.id == price.id

    # A plain product has the same fields, empty.
    plain = api.v1.products.create(params={"name": "Plain"})
    assert (plain.default_price, plain.unit_label, plain.shippable, plain.package_dimensions) == (
        None,
        None,
        None,
        None,
    )
    assert plain.marketing_features == []


def test_the_default_price_is_one_of_the_products_own_active_prices(api):
    product = api.v1.products.create(
        params={"name": "Tea", "default_price_data": {"currency": "eur", "unit_amount": 500}}
    )
    larger = api.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 900})
    changed = api.v1.products.update(product.id, params={"default_price": larger.id})
    assert changed.default_price == larger.id

    other = api.v1.prices.create(params={"product_data": {"name": "Mug"}, "currency": "eur", "unit_amount": 800})
    with pytest.raises(stripe.InvalidRequestError) as foreign:
        api.v1.products.update(product.id, params={"default_price": other.id})
    assert (foreign.value.http_status, foreign.value.error.param) == (400, "default_price")
    with pytest.raises(stripe.InvalidRequestError) as archived:
        api.v1.prices.update(larger.id, params={"active": False})
    assert "default price" in archived.value.user_message
    assert api.v1.prices.retrieve(larger.id).active is True


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"statement_descriptor": "1234"}, "statement_descriptor"),
        ({"statement_descriptor": "SHOP <TEA>"}, "statement_descriptor"),
        ({"unit_label": "a very long label"}, "unit_label"),
        ({"package_dimensions": {"height": 1, "length": 1, "weight": 1}}, "package_dimensions[width]"),
        ({"package_dimensions": {"height": 0, "length": 1, "weight": 1, "width": 1}}, "package_dimensions[height]"),
        ({"marketing_features": [{"name": ""}]}, "marketing_features[0][name]"),
        ({"package_dimensions": {"height": 1, "length": 1, "weight": 1, "width": "wide"}}, "package_dimensions[width]"),
        ({"default_price_data": {"currency": "eur"}}, "default_price_data[unit_amount]"),
    ],
)
def test_product_fields_are_checked_and_nothing_is_half_made(api, params, param):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.products.create(params={"name": "Checked", **params})
    assert (refused.value.http_status, refused.value.error.param) == (400, param)
    assert not Product.objects.exists()
    assert not Price.objects.exists()
