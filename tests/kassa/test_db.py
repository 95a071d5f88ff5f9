"""kassa.db's insert and update write what ``objects.create`` and ``save()`` write, and its select and related read
what the ORM reads, for the models that use them."""

import json
import signal
import threading
import time
import warnings
from contextlib import nullcontext, suppress
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import DatabaseError, IntegrityError, OperationalError, connection, connections, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import CharField, GeneratedField, Model, signals
from django.db.models.base import DEFERRED
from django.db.models.functions import Lower
from django.db.transaction import TransactionManagementError
from django.forms.models import model_to_dict
from django.http import QueryDict
from django.test.utils import isolate_apps
from psycopg import IsolationLevel
from psycopg.types.json import Jsonb

from billing.catalogue.models import Product
from billing.invoices import services as invoices
from billing.invoices.models import Invoice, InvoiceItem, InvoicePayment
from billing.models import Customer
from billing.payments.models import PaymentAttempt, PaymentIntent, PaymentMethod, PaymentTimelineEntry
from billing.subscriptions.models import Subscription
from kassa import db as kassa_db
from kassa.db import (
    atomic_unless_held,
    columns,
    insert,
    insert_many,
    insert_many_queued,
    insert_many_unless,
    insert_unless,
    many,
    new,
    read_with,
    related,
    rows,
    select,
    select_locked_with,
    select_one,
    snapshot,
    together,
    update,
    update_changed,
    update_where,
)
from merchants.models import EmailSent, IdempotencyKey
from tests import factories
from webhooks.models import Event, EventPending
from webhooks.services.outbox import event_emit, events_gathered

#: Every model the hot paths write with kassa.db.insert or kassa.db.update.
WRITTEN = [
    Customer,
    EmailSent,
    Event,
    EventPending,
    IdempotencyKey,
    Invoice,
    InvoiceItem,
    InvoicePayment,
    PaymentAttempt,
    PaymentIntent,
    PaymentTimelineEntry,
    Subscription,
]


@pytest.mark.parametrize("model", WRITTEN)
def test_the_models_written_directly_have_no_save_override_and_no_signal_receivers(model):
    """``insert`` and ``update`` skip ``save()`` and the save signals: a model that grows either must stop using
    them."""
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


def _stored(customer: Customer) -> dict:
    return {k: v for k, v in model_to_dict(Customer.objects.get(pk=customer.pk)).items() if k not in {"id", "created"}}


def test_insert_many_stores_each_row_with_its_own_key(shop):
    fields = {"merchant": shop.merchant, "livemode": False}
    made = insert_many([Customer(public_id=f"cus_many{n}", email=f"m{n}@example.com", **fields) for n in range(3)])
    bulk = Customer.objects.bulk_create(
        [Customer(public_id=f"cus_bulk{n}", email=f"b{n}@example.com", **fields) for n in range(3)]
    )
    assert len({customer.pk for customer in made}) == 3
    for n, customer in enumerate(made):
        stored = Customer.objects.get(pk=customer.pk)  # each instance got its own row's key
        assert (stored.public_id, stored.email) == (f"cus_many{n}", f"m{n}@example.com")
        assert not customer._state.adding
        ignore = {"id", "public_id", "email", "created"}
        other = model_to_dict(Customer.objects.get(pk=bulk[n].pk))
        assert {k: v for k, v in model_to_dict(stored).items() if k not in ignore} == {
            k: v for k, v in other.items() if k not in ignore
        }
    assert insert_many([]) == []
    with pytest.raises(TypeError):
        insert_many([Customer(public_id="cus_mixed", **fields), Event(type="x", **fields)])
    assert not Customer.objects.filter(public_id="cus_mixed").exists()


def test_insert_unless_writes_nothing_where_its_constraint_holds_the_row_and_the_transaction_goes_on(shop):
    """A row its unique constraint allows once, there already: None, nothing written, no error, and the transaction
    goes on (on PostgreSQL a refused INSERT would have ended it); another row is inserted as ``insert`` inserts
    it; a constraint the model does not have is a mistake, said at once. (A partial constraint's condition:
    tests/billing/subscriptions/test_services.py, an invoice's period.)"""
    from billing.invoices.models import InvoiceNumbering

    def numbering(prefix: str) -> InvoiceNumbering:
        return InvoiceNumbering(merchant=shop.merchant, livemode=False, prefix=prefix, next_number=7)

    with transaction.atomic():
        first = insert_unless(numbering("SHOPA"), "invoice_numbering_unique")
        assert first.pk is not None
        assert not first._state.adding
        assert insert_unless(numbering("SHOPA"), "invoice_numbering_unique") is None
        other = insert_unless(numbering("SHOPB"), "invoice_numbering_unique")
    stored = InvoiceNumbering.objects.filter(merchant=shop.merchant, prefix__startswith="SHOP").order_by("pk")
    assert [(n.pk, n.prefix, n.next_number) for n in stored] == [(first.pk, "SHOPA", 7), (other.pk, "SHOPB", 7)]
    with pytest.raises(ValueError, match="no unique constraint"):
        insert_unless(numbering("SHOPC"), "invoice_number_unique")
    assert not InvoiceNumbering.objects.filter(prefix="SHOPC").exists()


def test_a_function_atomic_unless_held_is_its_own_transaction_or_savepoint_or_held_its_callers_alone(
    shop, transactional_db
):
    """Not held: its own transaction, or a savepoint in the caller's that an error undoes alone. Held: it runs in
    the caller's transaction with no savepoint (what it wrote before an error stays in that transaction, which
    goes on), and never outside one."""

    class Refused(Exception):
        pass

    @atomic_unless_held
    def make(name: str, *, fail: bool = False) -> None:
        insert(Customer(public_id=f"cus_{name}", merchant=shop.merchant, livemode=False, email=f"{name}@example.com"))
        if fail:
            raise Refused

    with pytest.raises(TransactionManagementError):
        make("outside", held=True)
    make("own")
    with pytest.raises(Refused):
        make("failed", fail=True)
    with transaction.atomic():
        with pytest.raises(Refused):
            make("undone", fail=True)
        make("held", held=True)
        with pytest.raises(Refused):
            make("kept", held=True, fail=True)
    names = set(Customer.objects.filter(merchant=shop.merchant).values_list("public_id", flat=True))
    assert {"cus_own", "cus_held", "cus_kept"} <= names
    assert not names & {"cus_outside", "cus_failed", "cus_undone"}


def test_update_stores_what_save_stores(shop):
    made = insert(Customer(public_id="cus_one", merchant=shop.merchant, livemode=False, email="a@example.com"))
    other = insert(Customer(public_id="cus_two", merchant=shop.merchant, livemode=False, email="a@example.com"))
    for customer in (made, other):
        customer.name = "Renamed"
        customer.metadata = {"tier": "gold", "note": "ü"}
        customer.address = {"city": "Lyon"}
    update(made)
    other.save()
    assert _stored(made) == _stored(other)
    assert _stored(made)["name"] == "Renamed"


def test_update_of_some_fields_writes_those_alone(shop):
    customer = insert(Customer(public_id="cus_some", merchant=shop.merchant, livemode=False, email="a@example.com"))
    customer.name = "Written"
    customer.email = "not-written@example.com"
    update(customer, ["name"])
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.name, stored.email) == ("Written", "a@example.com")


def test_update_of_a_partly_loaded_row_writes_what_was_loaded(shop):
    insert(Customer(public_id="cus_part", merchant=shop.merchant, livemode=False, email="kept@example.com"))
    partial = Customer.objects.only("pk", "name").get(public_id="cus_part")
    partial.name = "Partial"
    update(partial)
    stored = Customer.objects.get(public_id="cus_part")
    assert (stored.name, stored.email) == ("Partial", "kept@example.com")


def test_update_changed_writes_what_changed_since_the_snapshot_and_leaves_the_other_columns_alone(shop):
    product = factories.product(shop.merchant, name="Before", description="Ours")
    assert type(product).save is Model.save
    before = snapshot(product)
    stamped = product.updated
    # Another writer's change to a column this step does not touch: kept.
    Product.objects.filter(pk=product.pk).update(description="Theirs")
    product.name = "After"
    product.metadata["tier"] = "gold"  # changed in place: the same dict, so written whatever
    update_changed(product, before)
    stored = Product.objects.get(pk=product.pk)
    assert (stored.name, stored.metadata, stored.description) == ("After", {"tier": "gold"}, "Theirs")
    assert stored.updated > stamped  # stamped, as save() stamps it


class _Text(str):
    """A string of another type (as an enum member is): Django's own conversion, not the shortcut, must take it."""


#: A value of each kind the hot paths hold: those a shortcut takes, and others of the wrong type or a subclass.
_SAMPLES = [
    None,
    "",
    "text ü",
    "7",
    _Text("sub"),
    0,
    7,
    -3,
    2**40,
    True,
    False,
    7.5,
    datetime(2027, 1, 31, 23, 59, 58, 123456, tzinfo=UTC),
    datetime(2027, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
    datetime(2027, 1, 31, 12, 0),  # naive: Django warns and makes it aware in its own way
    date(2027, 2, 28),
    # JSON columns' values (kassa.db._json_dumped): what both write, and what both refuse.
    {},
    [],
    {"object": {"id": "in_1", "lines": {"data": [{"amount": 1250, "period": [1, 2]}]}, "paid": True, "due": None}},
    {"text": 'ü € 日本 \u2028 "quoted" \\ back', "nested": [[], {}, [None, 0.1, -7, 2**63 - 1]]},
    [_Text("a member of a str subclass"), (1, 2), 7.25, False],
    {7: "an integer key", "big": 2**80},
    {"moment": datetime(2027, 1, 31, tzinfo=UTC)},
    {"money": Decimal("12.50")},
    {"broken": "\ud800"},
    {"form": QueryDict("a=1&a=2&b=3")},  # a dict subclass that json.dumps reads through its own items()
]


def _outcome(convert):
    """What ``convert`` hands the database, or the kind of error it raises; a JSON column's value as the database
    gets it: its JSON read back (PostgreSQL stores the value, not the text), or the error writing it raises."""
    try:
        value = convert()
    except Exception as exc:  # noqa: BLE001  (the kind of error is what is compared)
        return ("raised", type(exc))
    if isinstance(value, Jsonb):
        return ("jsonb", _outcome(lambda: json.loads(value.dumps(value.obj))))
    return (type(value), value)


def test_each_value_is_converted_for_the_database_as_django_converts_it():
    """insert and update skip Django's four calls per value where a field of Django's own class holds a value of
    its exact type (kassa.db._shortcut): for every field of every model written directly, and values of each kind,
    what they hand the database (value and type: psycopg's typed integers on PostgreSQL) is what Django's
    ``pre_save`` and ``get_db_prep_save`` hand it, or the same kind of error."""
    from kassa.db import _planned, _row_prepared, _values_prepared

    taken = 0
    fields = [planned for model in WRITTEN for planned in _planned(model._meta.concrete_fields)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a naive datetime's, warned of both ways alike
        for planned in fields:
            field, shortcut = planned
            if shortcut is None:
                continue  # Django's own way whatever the value (a field that stamps the time among them)
            for value in _SAMPLES:
                instance = field.model()
                setattr(instance, field.attname, value)
                django = _outcome(lambda: field.get_db_prep_save(field.pre_save(instance, True), connection=connection))  # noqa: B023
                row = _outcome(lambda: _row_prepared((planned,), instance, True, connection)[0])  # noqa: B023
                assert row == django, (field, value)
                assert _outcome(lambda: _values_prepared((planned,), [value], connection)[0]) == django, (field, value)  # noqa: B023
                taken += 1
    assert taken > 100  # the shortcut is there to be checked: most of the hot paths' columns


def test_update_of_a_row_that_is_gone_raises_and_inserts_nothing(shop):
    customer = insert(Customer(public_id="cus_gone", merchant=shop.merchant, livemode=False))
    Customer.objects.filter(pk=customer.pk).delete()
    with pytest.raises(DatabaseError):
        update(customer)
    assert not Customer.objects.filter(public_id="cus_gone").exists()


def test_update_where_sets_those_values_on_the_matching_rows_alone(shop):
    fields = {"merchant": shop.merchant, "livemode": False, "name": "Before"}
    made = insert_many([Customer(public_id=f"cus_uw{n}", email=f"uw{n}@example.com", **fields) for n in range(3)])
    other = insert(Customer(public_id="cus_uw_other", email="other@example.com", **fields))
    changed = update_where(
        Customer,
        {"name": "After", "metadata": {"tier": "ü"}},
        "id IN (%s, %s)",
        [made[0].pk, made[2].pk],
    )
    assert changed == 2
    stored = {c.public_id: (c.name, c.metadata, c.email) for c in Customer.objects.filter(name__in=["Before", "After"])}
    assert stored == {
        "cus_uw0": ("After", {"tier": "ü"}, "uw0@example.com"),
        "cus_uw1": ("Before", {}, "uw1@example.com"),
        "cus_uw2": ("After", {"tier": "ü"}, "uw2@example.com"),
        "cus_uw_other": ("Before", {}, "other@example.com"),
    }
    assert update_where(Customer, {"name": "None"}, "id = %s", [other.pk + 1000]) == 0


def test_writes_together_are_made_at_the_blocks_end_in_one_statement_on_postgresql(shop):
    """A row of each of two tables and two rows of a third, written at the block's end: one statement on PostgreSQL,
    one each elsewhere, each as ``update`` and ``update_where`` make it alone."""
    from django.test.utils import CaptureQueriesContext

    fields = {"merchant": shop.merchant, "livemode": False}
    customer = insert(Customer(public_id="cus_tog", name="Before", **fields))
    product = insert(Product(public_id="prod_tog", name="Before", **fields))
    events = insert_many(
        [Event(public_id=f"evt_tog{n}", type="t", data={}, api_version="v", **fields) for n in range(2)]
    )
    customer.name, product.name = "After", "After"
    with CaptureQueriesContext(connection) as queries:
        with together():
            update(customer, ["name"])
            update(product)
            assert update_where(Event, {"type": "u"}, "public_id LIKE %s", ["evt_tog%"]) is None
        written = len(queries)
    assert written == (1 if connection.vendor == "postgresql" else 3)
    assert Customer.objects.get(pk=customer.pk).name == "After"
    assert Product.objects.get(pk=product.pk).name == "After"
    assert set(Event.objects.filter(pk__in=[e.pk for e in events]).values_list("type", flat=True)) == {"u"}


def test_writes_together_refuse_what_would_go_wrong_and_check_each_row(shop):
    """A statement inside the block (it would run before the writes), two writes to one table (PostgreSQL makes a
    statement's writes in no set order), a block inside another: refused, nothing written. A row that is gone
    fails the block at its end, as ``update`` alone fails, and the row beside it is not written either (the
    caller's transaction fails with it)."""
    fields = {"merchant": shop.merchant, "livemode": False}
    customer = insert(Customer(public_id="cus_tog2", name="Before", **fields))
    product = insert(Product(public_id="prod_tog2", name="Before", **fields))
    customer.name = product.name = "After"

    def reading_inside():
        with together():
            update(customer, ["name"])
            Customer.objects.filter(pk=customer.pk).exists()

    def one_table_twice():
        with together():
            update(customer, ["name"])
            update_where(Customer, {"name": "Other"}, "id = %s", [customer.pk])

    def nested():
        with together(), together():
            pass

    def a_row_gone():
        with transaction.atomic(), together():
            update(customer, ["name"])
            update(product)

    with pytest.raises(RuntimeError, match="would run before its writes"):
        reading_inside()
    with pytest.raises(ValueError, match="one write a table"):
        one_table_twice()
    with pytest.raises(RuntimeError, match="not nested"):
        nested()
    assert Customer.objects.get(pk=customer.pk).name == "Before"
    Product.objects.filter(pk=product.pk).delete()
    with pytest.raises(DatabaseError, match="no row updated"):
        a_row_gone()
    assert Customer.objects.get(pk=customer.pk).name == "Before"
    with together():  # and the thread is out of the block again: its writes are its own
        update(customer, ["name"])
    assert Customer.objects.get(pk=customer.pk).name == "After"


def test_inserts_together_are_made_with_the_blocks_updates_and_get_their_keys_as_it_ends(shop):
    """New rows of two tables and an update of a third, written at the block's end: one statement on PostgreSQL, one
    each elsewhere; each new row has no key inside the block and its own key after it, and is stored as ``insert``
    alone stores it."""
    from django.test.utils import CaptureQueriesContext

    fields = {"merchant": shop.merchant, "livemode": False}
    customer = insert(Customer(public_id="cus_togi", name="Before", **fields))
    customer.name = "After"
    product = Product(public_id="prod_togi", name="Made together", metadata={"n": "ü"}, **fields)
    event = Event(public_id="evt_togi", type="t", data={"object": {"id": "x"}}, api_version="v", **fields)
    with CaptureQueriesContext(connection) as queries:
        with together():
            assert insert(product) is product
            update(customer, ["name"])
            insert(event)
            assert product.pk is None
            assert event.pk is None
        written = len(queries)
    assert written == (1 if connection.vendor == "postgresql" else 3)
    assert product.pk is not None
    assert not product._state.adding
    stored = Product.objects.get(pk=product.pk)
    assert (stored.public_id, stored.name, stored.metadata) == ("prod_togi", "Made together", {"n": "ü"})
    assert Event.objects.get(pk=event.pk).data == {"object": {"id": "x"}}
    assert Customer.objects.get(pk=customer.pk).name == "After"


def test_an_insert_together_that_the_database_refuses_fails_the_block_and_writes_nothing(shop):
    """A new row refused by a unique constraint fails the block at its end as ``insert`` alone would fail, and the
    update beside it is not made either; two inserts into one table are refused as two updates are."""
    fields = {"merchant": shop.merchant, "livemode": False}
    customer = insert(Customer(public_id="cus_togr", name="Before", **fields))
    insert(Product(public_id="prod_togr", name="First", **fields))
    customer.name = "After"

    def a_row_refused():
        with transaction.atomic(), together():
            update(customer, ["name"])
            insert(Product(public_id="prod_togr", name="Again", **fields))

    def one_table_twice():
        with together():
            insert(Product(public_id="prod_togr2", name="One", **fields))
            insert(Product(public_id="prod_togr3", name="Two", **fields))

    with pytest.raises(IntegrityError):
        a_row_refused()
    assert Customer.objects.get(pk=customer.pk).name == "Before"
    assert list(Product.objects.filter(public_id="prod_togr").values_list("name", flat=True)) == ["First"]
    with pytest.raises(ValueError, match="one write a table"):
        one_table_twice()
    assert not Product.objects.filter(public_id__in=["prod_togr2", "prod_togr3"]).exists()


def test_statements_share_a_cursor_while_django_would_make_the_same_one(shop):
    """kassa.db's statements in a row go through one cursor of the connection; a new one is made once queries are
    captured (and each statement is captured), once the connection is another one, and before the first statement
    of a request or task when Django checks its connection first (the health check is still made)."""
    from django.test.utils import CaptureQueriesContext

    wrapper = connections["default"]  # not the proxy django.db.connection: its own attributes
    customer = insert(Customer(public_id="cus_cur", name="Kept", merchant=shop.merchant, livemode=False))
    select_one(Customer, "id = %s", [customer.pk])
    kept = wrapper.__dict__["_kassa_cursor"][2]
    assert select_one(Customer, "id = %s", [customer.pk]).name == "Kept"
    assert wrapper.__dict__["_kassa_cursor"][2] is kept
    with CaptureQueriesContext(connection) as queries:
        select_one(Customer, "id = %s", [customer.pk])
        customer.name = "Captured"
        update(customer, ["name"])
    assert len(queries) == 2
    assert wrapper.__dict__["_kassa_cursor"][2] is not kept
    enabled, done = wrapper.health_check_enabled, wrapper.health_check_done
    try:
        wrapper.health_check_enabled, wrapper.health_check_done = True, False
        assert select_one(Customer, "id = %s", [customer.pk]).name == "Captured"
        assert wrapper.health_check_done  # Django's check ran, as it does for a cursor of its own
    finally:
        wrapper.health_check_enabled, wrapper.health_check_done = enabled, done


def test_a_statement_gets_what_djangos_cursor_gives_it_wrapped_or_not(shop, monkeypatch):
    """Whether a statement goes through Django's cursor (an execute wrapper installed) or straight to the driver's
    (none: kassa.db._run), the driver's errors are Django's (and one that may have broken the connection marks it
    so), a transaction an error has broken refuses the next statement as the ORM's would, and an execute wrapper
    sees every statement with its values."""
    fields = {"merchant": shop.merchant, "livemode": False}
    customer = insert(Customer(public_id="cus_run", name="Kept", **fields))
    seen, through_django = [], {False: [], True: []}
    djangos = CursorWrapper.execute

    def execute(cursor, sql, params=None):  # Django's own, counted: which statements went its way
        through_django[wrapped].append(params)
        return djangos(cursor, sql, params)

    def watch(execute, sql, params, many, context):
        seen.append(params)
        return execute(sql, params, many, context)

    monkeypatch.setattr(CursorWrapper, "execute", execute)
    for wrapped in (False, True):
        with connection.execute_wrapper(watch) if wrapped else nullcontext():
            with pytest.raises(IntegrityError), transaction.atomic():
                insert(Customer(public_id="cus_run", name="Again", **fields))
            with transaction.atomic():
                with pytest.raises(IntegrityError), transaction.atomic(savepoint=False):
                    insert(Customer(public_id="cus_run", name="Again", **fields))
                with pytest.raises(TransactionManagementError):
                    select_one(Customer, "id = %s", [customer.pk])
            customer.name = f"Wrapped {wrapped}"
            update(customer, ["name"])
            assert select_one(Customer, "id = %s", [customer.pk]).name == f"Wrapped {wrapped}"
            connection.errors_occurred = False
            with pytest.raises(DatabaseError) as refused, transaction.atomic():
                rows("SELECT nothing FROM kassa_no_such_table WHERE 1 = %s", [1])
            assert type(refused.value).__module__ == "django.db.utils"  # Django's error, not the driver's
            assert connection.errors_occurred  # as Django's cursor marks it, for its end-of-request check
            connection.errors_occurred = False
    # Unwrapped, kassa.db's statements went straight to the driver (Django's cursor ran the savepoints alone, which
    # have no values); wrapped, each went Django's way and its wrapper saw it: the two inserts refused, the select
    # refused (Django's wrappers see a statement before its cursor refuses it), the update, the select, the error.
    assert [params for params in through_django[False] if params is not None] == []
    statements = [params for params in seen if params is not None]
    assert [params for params in through_django[True] if params is not None] == statements
    assert [params[0] for params in statements[:2]] == ["cus_run", "cus_run"]
    assert [params[-1] for params in statements[2:]] == [customer.pk] * 3 + [1]
    assert Customer.objects.filter(public_id="cus_run").count() == 1


@pytest.mark.django_db(transaction=True)
def test_statements_after_the_connection_closed_use_the_new_one(shop):
    """A cursor kept on a connection that was closed is not used again: the next statement reconnects, as the ORM's
    would."""
    wrapper = connections["default"]
    customer = insert(Customer(public_id="cus_cur2", name="Before", merchant=shop.merchant, livemode=False))
    select_one(Customer, "id = %s", [customer.pk])
    wrapper.close()
    customer.name = "After"
    update(customer, ["name"])
    assert select_one(Customer, "id = %s", [customer.pk]).name == "After"
    assert wrapper.__dict__["_kassa_cursor"][0] is wrapper.connection


def _on_another_connection(work) -> None:
    """``work()`` in a thread of its own, so on a database connection of its own (closed once it is done)."""

    def run():
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)


@pytest.mark.django_db(transaction=True)
def test_a_row_inserted_alone_together_is_committed_at_once_for_other_connections(shop):
    """A row ``together`` inserts, alone outside a transaction or with an update inside one, is there for another
    connection once the block (and the transaction) ends, and that connection can write: the cursor kept for the
    next statement holds no statement open (kassa.db._cursor)."""
    customer = Customer(public_id="cus_seen", name="Seen", merchant=shop.merchant, livemode=False)
    product = insert(Product(public_id="prod_seen", name="Before", merchant=shop.merchant, livemode=False))
    product.name = "After"
    with transaction.atomic(), together():
        insert(customer)
        update(product, ["name"])
    with together():
        insert(Customer(public_id="cus_seen2", name="Alone", merchant=shop.merchant, livemode=False))
    seen = []

    def other_connection():
        seen.append(Customer.objects.filter(pk=customer.pk).values_list("name", flat=True).first())
        Customer.objects.filter(pk=customer.pk).update(name="Written by another")

    _on_another_connection(other_connection)
    assert seen == ["Seen"]
    assert select_one(Customer, "id = %s", [customer.pk]).name == "Written by another"


def test_select_makes_what_the_orm_reads(shop):
    """Every kind of column converted as the ORM converts it (on SQLite: dates, JSON and booleans come as text and
    numbers)."""
    customer = insert(
        Customer(
            public_id="cus_read",
            merchant=shop.merchant,
            livemode=False,
            email="read@example.com",
            metadata={"tier": "gold", "note": "ü"},
            address={"city": "Lyon"},
        )
    )
    intent = insert(
        PaymentIntent(
            public_id="pi_read",
            merchant=shop.merchant,
            livemode=False,
            amount=1999,
            currency="eur",
            customer=customer,
            client_secret="pi_read_secret",
            metadata={"order": "7"},
        )
    )
    for model, made in ((Customer, customer), (PaymentIntent, intent)):
        (read,) = select(model, "id = %s", [made.pk])
        orm = model.objects.get(pk=made.pk)
        assert model_to_dict(read) == model_to_dict(orm)
        assert [getattr(read, f.attname) for f in model._meta.concrete_fields] == [
            getattr(orm, f.attname) for f in model._meta.concrete_fields
        ]
        assert not read._state.adding


def test_select_orders_and_limits_and_select_one_raises_when_nothing_is_there(shop):
    made = [insert(Customer(public_id=f"cus_{n}", merchant=shop.merchant, livemode=False)) for n in range(3)]
    found = select(
        Customer, "merchant_id = %s AND id >= %s", [shop.merchant.pk, made[1].pk], tail="ORDER BY id DESC LIMIT 1"
    )
    assert [customer.public_id for customer in found] == ["cus_2"]
    with pytest.raises(Customer.DoesNotExist):
        select_one(Customer, "id = %s", [made[-1].pk + 1000])


def test_select_reads_extra_columns_onto_each_instance_with_their_values_first(shop):
    made = [insert(Customer(public_id=f"cus_x{n}", merchant=shop.merchant, livemode=False)) for n in range(2)]
    found = select(
        Customer,
        "merchant_id = %s",
        [10, shop.merchant.pk],
        tail="ORDER BY id",
        extra=(
            ("plus_ten", "id + %s"),
            (
                "same_merchant",
                "(SELECT COUNT(*) FROM billing_customer c WHERE c.merchant_id = billing_customer.merchant_id)",
            ),
        ),
    )
    assert [(c.public_id, c.plus_ten, c.same_merchant) for c in found] == [
        ("cus_x0", made[0].pk + 10, 2),
        ("cus_x1", made[1].pk + 10, 2),
    ]
    assert model_to_dict(found[0]) == model_to_dict(Customer.objects.get(pk=made[0].pk))


def test_related_answers_what_the_descriptor_answers_and_keeps_it(shop, django_assert_num_queries):
    card_owner = insert(Customer(public_id="cus_owner", merchant=shop.merchant, livemode=False))
    intent = insert(
        PaymentIntent(
            public_id="pi_rel", merchant=shop.merchant, livemode=False, amount=500, currency="eur",
            customer=card_owner, client_secret="pi_rel_secret",
        )
    )  # fmt: skip
    bare = PaymentIntent.objects.get(pk=intent.pk)
    with django_assert_num_queries(1):
        customer = related(bare, "customer")
    assert model_to_dict(customer) == model_to_dict(Customer.objects.get(pk=card_owner.pk))
    with django_assert_num_queries(0):  # kept on the instance, as the descriptor keeps it
        assert related(bare, "customer") is customer
        assert bare.customer is customer
        assert related(bare, "payment_method") is None  # a null key: nothing to read
        assert bare.payment_method is None
    PaymentIntent.objects.filter(pk=intent.pk).update(customer=None)
    Customer.objects.filter(pk=card_owner.pk).delete()
    gone = PaymentIntent(pk=intent.pk, customer_id=card_owner.pk)
    with pytest.raises(Customer.DoesNotExist):
        related(gone, "customer")


def test_many_answers_what_the_related_manager_answers_reading_nothing_when_it_was_read_with_the_object(
    shop, django_assert_num_queries
):
    customer = factories.customer(shop.merchant)
    rates = [
        invoices.tax_rate_create(
            merchant=shop.merchant, livemode=False, display_name=name, percentage="10", inclusive=False
        )
        for name in ("VAT", "City tax")
    ]
    invoice = invoices.invoice_create(
        merchant=shop.merchant, livemode=False, customer=customer, now=datetime.now(UTC), currency="eur",
        default_tax_rates=rates,
    )  # fmt: skip
    other = invoices.invoice_create(
        merchant=shop.merchant, livemode=False, customer=customer, now=datetime.now(UTC), currency="eur"
    )
    bare = Invoice.objects.get(pk=invoice.pk)
    assert read_with(bare, "default_tax_rates") is None  # not read with it
    with django_assert_num_queries(1):
        assert {rate.pk for rate in many(bare, "default_tax_rates")} == {rate.pk for rate in rates}
    prefetched = Invoice.objects.prefetch_related("default_tax_rates", "payments").get(pk=invoice.pk)
    without_rates = Invoice.objects.prefetch_related("default_tax_rates").get(pk=other.pk)
    with django_assert_num_queries(0):
        assert [r.pk for r in many(prefetched, "default_tax_rates")] == [
            r.pk for r in prefetched.default_tax_rates.all()
        ]
        assert read_with(prefetched, "payments") == []  # read with it, and empty: not None
        assert many(without_rates, "default_tax_rates") == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: SQLite has no row locks")
def test_select_with_skip_locked_passes_over_a_row_another_transaction_holds(shop, transactional_db):
    customer = insert(Customer(public_id="cus_skipped", merchant=shop.merchant, livemode=False))
    held, release = threading.Event(), threading.Event()

    def other_connection():
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute("SELECT id FROM billing_customer WHERE id = %s FOR UPDATE", [customer.pk])
                held.set()
                release.wait(10)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=other_connection)
    thread.start()
    try:
        assert held.wait(10)
        with transaction.atomic():
            assert select(Customer, "id = %s", [customer.pk], lock=True, skip_locked=True) == []
    finally:
        release.set()
        thread.join()
    with transaction.atomic():
        (found,) = select(Customer, "id = %s", [customer.pk], lock=True, skip_locked=True)
    assert found.public_id == "cus_skipped"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: SQLite has no row locks")
def test_select_with_lock_outside_a_transaction_is_refused_as_the_orm_refuses_it(shop, transactional_db):
    customer = insert(Customer(public_id="cus_unheld", merchant=shop.merchant, livemode=False))
    with pytest.raises(TransactionManagementError):
        select_one(Customer, "id = %s", [customer.pk], lock=True)
    with pytest.raises(TransactionManagementError):
        Customer.objects.select_for_update().get(pk=customer.pk)
    assert select_one(Customer, "id = %s", [customer.pk]).public_id == "cus_unheld"  # an unlocked read is fine


def _taken_elsewhere(table: str, pk: int) -> str:
    """Whether another connection (a thread's) can lock the row now: "took it", or "held" by someone else."""
    outcome = []

    def other_connection():
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])  # noqa: S608
            outcome.append("took it")
        except OperationalError:
            outcome.append("held")
        finally:
            connections["default"].close()

    thread = threading.Thread(target=other_connection)
    thread.start()
    thread.join()
    (answer,) = outcome
    return answer


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: SQLite has no row locks")
def test_select_with_lock_holds_the_row_until_the_transaction_ends(shop, transactional_db):
    customer = insert(Customer(public_id="cus_locked", merchant=shop.merchant, livemode=False))
    outcome = []
    with transaction.atomic():
        select_one(Customer, "id = %s", [customer.pk], lock=True)
        outcome.append(_taken_elsewhere("billing_customer", customer.pk))
    assert outcome == ["held"]
    outcome.append(_taken_elsewhere("billing_customer", customer.pk))
    assert outcome == ["held", "took it"]


def _card_and_customer(shop) -> tuple[PaymentMethod, PaymentMethod, Customer]:
    fields = {"merchant": shop.merchant, "livemode": False}
    customer = insert(Customer(public_id="cus_lw", name="Held", email="held@example.com", **fields))
    card = insert(PaymentMethod(public_id="pm_lw1", customer=customer, card_brand="visa", card_last4="4242", **fields))
    loose = insert(PaymentMethod(public_id="pm_lw2", card_brand="visa", card_last4="0002", **fields))
    return card, loose, customer


def test_select_locked_with_reads_each_row_and_the_one_its_key_names_as_the_orm_reads_them(
    shop, django_assert_num_queries
):
    """``select_locked_with``: the rows, each with the row its foreign key names (None where it is null), read as
    the ORM reads them and kept on the row, so that asking for it reads nothing more."""
    card, loose, customer = _card_and_customer(shop)
    with transaction.atomic():
        found = select_locked_with(PaymentMethod, "customer", "id IN (%s, %s)", [card.pk, loose.pk])
        with django_assert_num_queries(0):
            by_id = {row.public_id: (row, related(row, "customer")) for row in found}
    assert set(by_id) == {"pm_lw1", "pm_lw2"}
    (read_card, its_customer), (read_loose, none) = by_id["pm_lw1"], by_id["pm_lw2"]
    assert none is None
    assert model_to_dict(read_card) == model_to_dict(PaymentMethod.objects.get(pk=card.pk))
    assert model_to_dict(read_loose) == model_to_dict(PaymentMethod.objects.get(pk=loose.pk))
    assert model_to_dict(its_customer) == model_to_dict(Customer.objects.get(pk=customer.pk))
    assert its_customer.created == Customer.objects.get(pk=customer.pk).created


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: SQLite has no row locks")
def test_select_locked_with_holds_both_rows_and_reads_the_second_as_committed_while_it_waited(shop, transactional_db):
    """In one statement on PostgreSQL, both rows locked to the transaction's end, and the second read as it is once
    locked: a change to it committed while the statement waited for the first row's lock is what it reads (not the
    row as it was when the statement began). Outside a transaction it is refused, as a lock is."""
    card, _loose, customer = _card_and_customer(shop)
    with pytest.raises(TransactionManagementError):
        select_locked_with(PaymentMethod, "customer", "id = %s", [card.pk])
    holding = threading.Event()

    def changes_the_customer_while_holding_the_card():
        try:
            with transaction.atomic():
                PaymentMethod.objects.select_for_update().get(pk=card.pk)
                Customer.objects.filter(pk=customer.pk).update(name="Changed while it waited")
                holding.set()
                time.sleep(1)  # meanwhile the statement below waits for the card's lock
        finally:
            connections.close_all()

    other = threading.Thread(target=changes_the_customer_while_holding_the_card)
    other.start()
    assert holding.wait(30)
    outcome = []
    with transaction.atomic():
        (found,) = select_locked_with(PaymentMethod, "customer", "id = %s", [card.pk])
        assert related(found, "customer").name == "Changed while it waited"
        for table, pk in (("billing_paymentmethod", card.pk), ("billing_customer", customer.pk)):
            outcome.append(_taken_elsewhere(table, pk))
    other.join()
    assert outcome == ["held", "held"]


def test_insert_many_unless_writes_the_rows_whose_unique_value_is_new_and_says_which(shop, transactional_db):
    """Of several rows, those whose unique field's value a row holds already are left out, with no error; the others
    are written in one statement, their keys set, and returned in their order (what this call claimed); a field
    that is not unique, or two rows with one value, are mistakes said at once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from merchants.models import EmailSent

    def row(key: str) -> EmailSent:
        return EmailSent(key=key, kind="test", merchant=shop.merchant, recipient="a@example.com", language="en")

    first = insert_many_unless([row("k:1"), row("k:2")], "key")
    assert [(r.key, r.pk is not None, r._state.adding) for r in first] == [("k:1", True, False), ("k:2", True, False)]
    with CaptureQueriesContext(connection) as queries:
        again = insert_many_unless([row("k:3"), row("k:1"), row("k:4"), row("k:2")], "key")
    assert len(queries) == 1
    assert [r.key for r in again] == ["k:3", "k:4"]
    stored = dict(EmailSent.objects.filter(key__startswith="k:").values_list("key", "pk"))
    assert stored == {r.key: r.pk for r in (*first, *again)}
    assert insert_many_unless([row("k:1")], "key") == []
    assert insert_many_unless([], "key") == []
    with pytest.raises(ValueError, match="not a unique text or integer field"):
        insert_many_unless([row("k:5")], "kind")
    with pytest.raises(ValueError, match="not a unique text or integer field"):
        insert_many_unless([row("k:5")], "created")
    with pytest.raises(ValueError, match="two of the rows"):
        insert_many_unless([row("k:6"), row("k:6")], "key")
    assert not EmailSent.objects.filter(key__in=["k:5", "k:6"]).exists()


def test_insert_many_queued_writes_each_row_with_its_queue_row_in_one_statement_on_postgresql(shop):
    """Each row written and queued (its queue row naming it), its key set; one statement on PostgreSQL, two elsewhere;
    a model that is not a queue of the rows', or a field that is not unique, are mistakes said at once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def event(n: int) -> Event:
        return Event(public_id=f"evt_q{n}", merchant=shop.merchant, livemode=False, type="t", data={}, api_version="v")

    written = [event(1), event(2), event(3)]
    with CaptureQueriesContext(connection) as queries:
        assert insert_many_queued(written, EventPending, match="public_id") is written
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    stored = dict(Event.objects.filter(public_id__startswith="evt_q").values_list("public_id", "pk"))
    assert stored == {e.public_id: e.pk for e in written}
    assert set(EventPending.objects.values_list("event_id", flat=True)) == set(stored.values())
    assert insert_many_queued([], EventPending, match="public_id") == []
    with pytest.raises(TypeError, match="is not a queue of"):
        insert_many_queued([event(4)], IdempotencyKey, match="public_id")
    with pytest.raises(ValueError, match="not a unique text or integer field"):
        insert_many_queued([event(4)], EventPending, match="type")
    assert not Event.objects.filter(public_id="evt_q4").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: psycopg is its driver")
def test_a_statement_of_more_than_fifty_values_is_parsed_by_psycopg_once(shop):
    """psycopg parses a wider statement anew on every call unless kassa.db widens its limits (an invoice's INSERT
    has 56 values): the second run of one such INSERT finds its parsed form kept."""
    from psycopg import _queries

    def events(tag: str) -> list[Event]:
        return [
            Event(
                public_id=f"evt_w{tag}{n}", merchant=shop.merchant, livemode=False, type="t", data={}, api_version="v"
            )
            for n in range(8)
        ]

    first = events("a")
    values = len(first) * len([f for f in Event._meta.concrete_fields if not f.primary_key])
    assert values > 50
    insert_many(first)
    before = _queries._query2pg.cache_info()
    insert_many(events("b"))
    after = _queries._query2pg.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 0)
    assert Event.objects.filter(public_id__startswith="evt_w").count() == 16


#: Every model of Kassa's own apps, for ``new`` (made both ways).
KASSA_MODELS = [
    model
    for model in apps.get_models()
    if model._meta.app_label in {"billing", "merchants", "webhooks", "kassa"} and not model._meta.abstract
]


def _made_alike(ours: Model, django: Model, given: dict) -> None:
    """``ours`` holds what ``django`` holds: every field's value (one whose default is made per instance and was not
    given, a callable's, of the same type: a new id or moment each time), the related objects given, cached as
    Django caches them, and the state of a new instance (its database set by a related object given, as Django sets
    it)."""
    assert type(ours) is type(django)
    for field in type(ours)._meta.concrete_fields:
        mine, theirs = getattr(ours, field.attname), getattr(django, field.attname)
        made_each_time = field.has_default() and callable(field.default)
        if made_each_time and field.name not in given and field.attname not in given:
            assert type(mine) is type(theirs), field.name
        else:
            assert mine == theirs, field.name
    assert ours._state.fields_cache == django._state.fields_cache
    assert (ours._state.adding, ours._state.db) == (django._state.adding, django._state.db)
    assert ours._state.adding
    assert set(ours.__dict__) == set(django.__dict__)


@pytest.mark.parametrize("model", KASSA_MODELS, ids=lambda model: model._meta.label)
def test_new_makes_each_model_as_django_makes_it_with_nothing_given(model):
    _made_alike(new(model), model(), {})


def test_new_makes_what_django_makes_with_values_and_related_objects_given(shop):
    customer = insert(Customer(public_id="cus_new", merchant=shop.merchant, livemode=False))
    price = factories.price(shop.merchant, unit_amount=1500)
    cases = [
        (Event, {"public_id": "evt_new", "merchant_id": shop.merchant.pk, "type": "x.y", "data": {"object": {}}}),
        (Invoice, {"merchant": shop.merchant, "livemode": False, "customer": customer, "currency": "eur"}),
        (
            InvoiceItem,
            {
                "merchant_id": shop.merchant.pk,
                "customer_id": customer.pk,
                "price": price,
                "quantity": 3,
                "amount": 4500,
            },
        ),
        (PaymentIntent, {"merchant": shop.merchant, "customer": customer, "amount": 1999, "metadata": {"a": "b"}}),
        (PaymentTimelineEntry, {"payment_intent": None, "kind": "created", "message": "made"}),
    ]
    for model, given in cases:
        ours, django = new(model, **given), model(**given)
        _made_alike(ours, django, given)
        for name, value in given.items():
            if isinstance(value, Model):
                assert getattr(ours, name) is value  # cached, not read again
    made = insert(new(PaymentIntent, **cases[3][1], public_id="pi_new", client_secret="pi_new_secret"))
    assert model_to_dict(PaymentIntent.objects.get(pk=made.pk)) == model_to_dict(made)


def test_new_leaves_what_it_does_not_make_itself_to_django(shop):
    """Django's own errors for a name that is no field and for a related object of the wrong model; a relation given
    both by its object and by its key is Django's to settle, as is a value deferred."""
    with pytest.raises(TypeError, match="unexpected keyword arguments: 'nope'"):
        new(Customer, nope=1)
    with pytest.raises(ValueError, match='must be a "Merchant" instance'):
        new(Customer, merchant=Customer())
    other = factories.merchant("Other").merchant
    both = new(Customer, merchant=shop.merchant, merchant_id=other.pk)
    assert both.merchant_id == Customer(merchant=shop.merchant, merchant_id=other.pk).merchant_id == other.pk
    assert new(Customer, email=DEFERRED).get_deferred_fields() == Customer(email=DEFERRED).get_deferred_fields()


def test_new_and_select_make_instances_through_django_while_something_listens_to_their_signals(shop):
    made = insert(Customer(public_id="cus_heard", merchant=shop.merchant, livemode=False))
    heard = []

    def listener(sender, instance, **kwargs):
        heard.append(instance)

    signals.post_init.connect(listener, sender=Customer)
    try:
        fresh = new(Customer, public_id="cus_x", merchant=shop.merchant)
        (read,) = select(Customer, "id = %s", [made.pk])
    finally:
        signals.post_init.disconnect(listener, sender=Customer)
    assert heard == [fresh, read]
    assert not read._state.adding
    assert read._state.db == "default"


#: ``timestamptz`` values of every kind PostgreSQL writes: with and without fractions, the first and last years
#: Python holds, a value past 9999 and one BC (which Python cannot hold), and infinity.
MOMENTS = [
    "2026-12-04 15:04:05.633791+00",
    "2026-12-04 15:04:05+00",
    "2028-02-29 23:59:59.5+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2026-06-01 12:00:00+02",
    "10000-01-01 00:00:00+00",
    "0044-03-15 12:00:00+00 BC",
    "infinity",
]


def _moments_read(register=None) -> list:
    """Each of ``MOMENTS`` as a new cursor reads it (with Django's own loader registered on it first, ``register``),
    or the type of the error reading it raises."""
    read = []
    for moment in MOMENTS:
        with connection.cursor() as cursor:
            if register is not None:
                register(cursor.cursor)
            try:
                cursor.execute(f"SELECT '{moment}'::timestamptz")
                read.append(cursor.fetchone()[0])
            except Exception as exc:  # noqa: BLE001 (whatever Django's loader raises, the same must be raised)
                read.append(type(exc))
    return read


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: psycopg's loaders")
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_moments_are_read_as_djangos_own_loader_reads_them(db, zone):
    """In the session's time zone Django sets (UTC) and in another one, set by hand."""
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL TIME ZONE '{zone}'")
        loader = cursor.cursor.adapters.get_loader(cursor.cursor.adapters.types["timestamptz"].oid, Format.TEXT)
    assert loader.__name__ == "_UtcLoader"  # Kassa's is the one a cursor of this connection reads with
    ours = _moments_read()
    theirs = _moments_read(lambda cursor: register_tzloader(connection.timezone, cursor))
    assert ours == theirs
    if zone == "UTC":  # (in another zone, Django's loader takes the zone's time for UTC's: the same both ways)
        assert ours[0] == datetime(2026, 12, 4, 15, 4, 5, 633791, tzinfo=UTC)
        assert all(isinstance(value, datetime) and value.tzinfo is UTC for value in ours[:6])
        assert ours[5] == datetime(2026, 6, 1, 10, tzinfo=UTC)


def test_json_columns_are_written_as_django_writes_them_and_refused_alike(shop):
    """kassa.db writes a JSON column through orjson on PostgreSQL (``_json_dumped``), Django through json.dumps: the
    database holds the same value (PostgreSQL's own text of it compared), and what json.dumps refuses is refused."""
    data = {
        "object": {"id": "in_1", "amount_due": 1250, "lines": {"data": [{"period": {"start": 1, "end": 2}}]}},
        "text": 'ü € 日本 \u2028 "quoted" \\ back',
        "numbers": [0.1, -7, 2**63 - 1, 2**80, None, True],
        7: "an integer key",
        "member": _Text("a str subclass"),
    }
    ours = insert(new(Event, public_id="evt_ours", merchant=shop.merchant, type="x.y", data=data))
    theirs = Event.objects.create(public_id="evt_theirs", merchant=shop.merchant, type="x.y", data=data)
    assert Event.objects.get(pk=ours.pk).data == Event.objects.get(pk=theirs.pk).data
    assert Event.objects.get(pk=ours.pk).data["7"] == "an integer key"
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM webhooks_event WHERE id IN (%s, %s) ORDER BY id", [ours.pk, theirs.pk])
        (stored_ours,), (stored_theirs,) = cursor.fetchall()
    assert stored_ours == stored_theirs  # jsonb's own text on PostgreSQL, json.dumps's on SQLite
    for refused in ({"at": datetime(2027, 1, 31, tzinfo=UTC)}, {"money": Decimal("12.50")}):
        with pytest.raises(TypeError), transaction.atomic():
            insert(new(Event, public_id="evt_refused", merchant=shop.merchant, type="x.y", data=refused))
        with pytest.raises(TypeError), transaction.atomic():
            Event.objects.create(public_id="evt_refused", merchant=shop.merchant, type="x.y", data=refused)
    assert not Event.objects.filter(public_id="evt_refused").exists()


@isolate_apps("billing")
def test_new_and_select_leave_a_model_of_its_own_making_and_a_generated_field_to_django():
    """A model with its own ``__init__`` is made by it; a generated field is not set on a new instance (the database
    fills it), as Django leaves it."""

    class OwnInit(Model):
        name = CharField(max_length=10, default="x")

        class Meta:
            app_label = "billing"

        def __str__(self) -> str:
            return self.name

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.made_by_own_init = True

    class Generated(Model):
        name = CharField(max_length=10)
        lower = GeneratedField(expression=Lower("name"), output_field=CharField(max_length=10), db_persist=True)

        class Meta:
            app_label = "billing"

        def __str__(self) -> str:
            return self.name

    assert new(OwnInit, name="y").made_by_own_init
    ours, django = new(Generated, name="Tea"), Generated(name="Tea")
    assert set(ours.__dict__) == set(django.__dict__)
    assert "lower" not in ours.__dict__
    assert ours.get_deferred_fields() == django.get_deferred_fields() == {"lower"}


def _prepared_here() -> dict[str, str]:
    """The statements prepared on this connection's server session, by name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def _by_psycopgs_cursor(sql: str, values: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.fetchall()


def _this_connection_terminated() -> None:
    """This thread's connection to PostgreSQL ended by the server (``pg_terminate_backend``, from another one): the
    next statement finds it lost."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()

    def terminate():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    _on_another_connection(terminate)


#: kassa.db's own way to libpq is taken on PostgreSQL with its values bound by the server (prepared statements on,
#: the settings' default; DATABASE_PREPARED_STATEMENTS=false takes Django's cursor instead).
LIBPQ = connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("server_side_binding") is True
libpq_only = pytest.mark.skipif(not LIBPQ, reason="PostgreSQL with server-side binding only: libpq's calls (kassa.db)")


@pytest.fixture
def through_libpq(monkeypatch):
    """How many statements went kassa.db's own way to libpq (``_libpq_run``)."""
    calls = []
    run = kassa_db._libpq_run

    def counted(*args, **kwargs):
        calls.append(args[1])
        return run(*args, **kwargs)

    monkeypatch.setattr(kassa_db, "_libpq_run", counted)
    return calls


@libpq_only
def test_statements_through_libpq_answer_what_psycopgs_cursor_answers(shop, through_libpq):
    """kassa.db sends its statements through libpq's calls (``_libpq_run``): each answers the rows (every type a
    model reads: text, integers, booleans, moments, JSON, nulls), the counts and the errors psycopg's cursor answers
    for the same statement, prepared on the server once run ``prepare_threshold`` times by psycopg's own manager
    (values of other types prepared apart), which drops them as it drops its own: all of them after a rollback, the
    oldest past its ``prepared_max``."""
    customer = insert(
        Customer(
            public_id="cus_libpq",
            name="Ada",
            metadata={"plan": "gold", "seats": 3},
            merchant=shop.merchant,
            livemode=False,
        )
    )
    sql = f"SELECT {columns(Customer)} FROM billing_customer WHERE id = %s AND (%s::text IS NULL OR name = %s)"  # noqa: S608

    def prepared() -> list[str]:
        return [name for name, statement in _prepared_here().items() if "$2::text IS NULL" in statement]

    threshold = connections["default"].connection.prepare_threshold
    assert threshold == 5  # the settings' (kassa/settings.py)
    # psycopg sends a small integer as an int2, a larger one as an int4: the last shape is another statement (no row).
    shapes = (
        [customer.pk, "Ada", "Ada"],
        [customer.pk, None, None],
        [customer.pk, "Bob", "Bob"],
        [10**6, "Ada", "Ada"],
    )
    with transaction.atomic():
        expected = [_by_psycopgs_cursor(sql, values) for values in shapes]  # counted by psycopg's manager too
        through_libpq.clear()
        for run in range(threshold + 2):
            for values, answer in zip(shapes, expected, strict=True):
                assert rows(sql, values) == answer, (run, values)
            # Each statement prepared on its sixth run, both ways counted: the first one's (three times a round)
            # in the first round, the larger integer's (once) in the fifth.
            assert len(prepared()) == (1 if run < 4 else 2), run
        assert through_libpq == [sql] * 4 * (threshold + 2)  # each of them through libpq, none through the cursor
        (found,) = rows(sql, [customer.pk, None, None])
        metadata = [f.attname for f in Customer._meta.concrete_fields].index("metadata")
        assert json.loads(found[metadata]) == {
            "plan": "gold",
            "seats": 3,
        }  # text, as Django reads JSON (its field decodes)
        assert rows("SELECT 1 WHERE false = %s", [True]) == []
        assert update_where(Customer, {"name": "Ada L."}, "id = %s", [customer.pk]) == 1
        counted = "UPDATE billing_customer SET name = %s WHERE merchant_id = %s AND name = %s"
        assert kassa_db._run(connection, counted, ["Ada", shop.merchant.pk, "nobody"], False) == 0
        assert kassa_db._run(connection, "SELECT 1 WHERE true = %s", [True], False) == 1  # a SELECT's count of rows
        with pytest.raises(DatabaseError, match="didn't produce records"):
            kassa_db._run(connection, counted, ["Ada", shop.merchant.pk, "nobody"], True)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(Customer(public_id="cus_libpq", name="Twice", merchant=shop.merchant, livemode=False))
    with pytest.raises(DatabaseError) as refused, transaction.atomic():
        rows("SELECT %s::integer", ["not a number"])
    assert type(refused.value).__module__ == "django.db.utils"
    # A rollback (the test's own savepoint's, here) drops every prepared statement, psycopg's rule: run again, the
    # statement is prepared anew once it has run enough, with no error meanwhile.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SAVEPOINT kassa_test; ROLLBACK TO SAVEPOINT kassa_test")
        assert prepared() == []
        for _run in range(threshold + 1):
            values = [customer.pk, "Ada L.", "Ada L."]
            assert rows(sql, values) == _by_psycopgs_cursor(sql, values)
        assert len(prepared()) == 1
    # Past prepared_max, the oldest are deallocated (psycopg's own bookkeeping, one after each new statement, which
    # this path makes too): statements prepared before are gone, and what runs next still answers.
    driver = connections["default"].connection
    driver.prepared_max = 1
    try:
        with transaction.atomic():
            before = set(_prepared_here())
            assert before  # the first statement's, prepared again above
            for number in range(2):
                for _run in range(threshold + 1):
                    assert rows(f"SELECT %s::integer + {number}", [1]) == [(1 + number,)]
            assert before - set(_prepared_here()) == before
            values = [customer.pk, "Ada L.", "Ada L."]
            assert rows(sql, values) == _by_psycopgs_cursor(sql, values)
    finally:
        driver.prepared_max = 100


@libpq_only
def test_statements_of_any_shape_in_turn_on_one_cursor_send_and_read_each_value_as_psycopgs_cursor_does(
    shop, through_libpq
):
    """kassa.db's statements share one Transformer per cursor (``_transformer``: the dumpers and loaders it found are
    kept): a value goes to the server as the type a new cursor would give it, whatever went before it in the same
    place (an integer as int2, int4, int8 or numeric by its size, a list by its items, JSON, text, a moment, a null),
    and each answer's columns are read by the loader of their own type, though the statement before answered another
    type in the same column."""
    moment = datetime(2026, 1, 31, 23, 59, 59, 123456, tzinfo=UTC)
    typed = "SELECT pg_typeof(%s)::text, %s"
    # Text (and a null, a list of text) goes with no type (the server takes it as its cast says): a statement apart.
    statements = [
        (typed, [value, value])
        for value in (
            1,
            10**6,
            10**12,
            10**20,
            -(10**20),
            True,
            moment,
            Jsonb({"seats": 3}),
            [1, 2],
            [10**12, 1],
            [moment],
            Decimal("1.50"),
            date(2026, 2, 28),
        )
    ]
    statements[1:1] = [("SELECT %s::text, %s::text[]", [value, [value]]) for value in ("1", None)]
    with transaction.atomic():
        expected = [_by_psycopgs_cursor(sql, params) for sql, params in statements]
        through_libpq.clear()
        first = rows(*statements[0])
        wrapper = connections["default"]  # Django's wrapper (``connection`` is a proxy to it)
        shared = kassa_db._cursor(wrapper).cursor.__dict__[kassa_db._TRANSFORMER][0]
        # Six times through (prepared on the server by the sixth), each shape after every other.
        answers = [rows(sql, params) for sql, params in statements * 6]
        assert through_libpq == [statements[0][0]] + [sql for sql, _params in statements] * 6
        assert kassa_db._cursor(wrapper).cursor.__dict__[kassa_db._TRANSFORMER][0] is shared  # one for them all
        # Writes kept for the next statement share it with that statement: each dumped as it is kept, each answer
        # loaded in turn as the round trip that sends them all comes back.
        kept = []
        for sql, params in statements:
            kassa_db.with_next(sql, params, True, kept.append)
        last = rows(typed, [True, True])
        assert kassa_db._cursor(wrapper).cursor.__dict__[kassa_db._TRANSFORMER][0] is shared
    # repr, not ==: 10**20 == Decimal(10**20) and True == 1, so a value loaded as another type would pass ==.
    assert repr(first) == repr(expected[0])
    assert repr(answers) == repr(expected * 6)
    assert repr(kept) == repr(expected)
    assert last == [("boolean", True)]
    types = [answer[0][0] for (sql, _params), answer in zip(statements, expected, strict=True) if sql == typed]
    assert types == [
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "numeric",
        "boolean",
        "timestamp with time zone",
        "jsonb",
        "smallint[]",
        "bigint[]",
        "timestamp with time zone[]",
        "numeric",
        "date",
    ]
    # A loader made under one session time zone is not kept under another (psycopg's moment loader reads it as it is
    # made): read after the session's zone changed, a moment is what psycopg's cursor reads then.
    moment_sql = "SELECT %s::timestamptz"
    with transaction.atomic():
        before = rows(moment_sql, [moment])
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL TIME ZONE 'Asia/Kolkata'")
        assert repr(rows(moment_sql, [moment])) == repr(_by_psycopgs_cursor(moment_sql, [moment]))
    assert repr(before) == repr([(moment,)])


@libpq_only
@pytest.mark.django_db(transaction=True)
def test_statements_through_libpq_begin_the_transaction_they_are_in_and_commit_alone_outside_one(shop, through_libpq):
    """The first kassa.db statement of a transaction begins it (as psycopg's cursor does), so that a rollback takes its
    write back; outside one, each commits at once, for other connections too; with no ``prepare_threshold`` none is
    prepared."""
    fields = {"merchant": shop.merchant, "livemode": False}
    try:
        with transaction.atomic():
            insert(Customer(public_id="cus_undone", name="Undone", **fields))
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert not Customer.objects.filter(public_id="cus_undone").exists()
    kept = insert(Customer(public_id="cus_kept", name="Kept", **fields))
    assert len(through_libpq) == 2
    seen = []
    _on_another_connection(
        lambda: seen.append(Customer.objects.filter(pk=kept.pk).values_list("name", flat=True).first())
    )
    assert seen == ["Kept"]
    driver = connections["default"].connection
    driver.prepare_threshold = None
    try:
        for _run in range(10):
            assert select_one(Customer, "id = %s AND name = %s AND %s", [kept.pk, "Kept", True]).pk == kept.pk
        assert not [statement for statement in _prepared_here().values() if "AND $3" in statement]
    finally:
        connections["default"].close()


@libpq_only
@pytest.mark.django_db(transaction=True)
def test_a_statement_through_libpq_waiting_for_a_lock_can_be_interrupted_and_a_lost_connection_is_operational(
    shop, through_libpq
):
    """A statement waiting (for a row another transaction holds) is waited for by the connection's own wait: a signal's
    handler runs at once and its exception cancels the statement, as with psycopg's cursor (pytest-timeout, Celery's
    soft time limit, Ctrl-C); a connection lost under a statement raises Django's OperationalError."""
    customer = insert(Customer(public_id="cus_held", name="Held", merchant=shop.merchant, livemode=False))
    holding, released = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                Customer.objects.select_for_update().get(pk=customer.pk)
                holding.set()
                released.wait(timeout=30)
        finally:
            connections.close_all()

    class Interrupted(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupted

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(timeout=30)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        started = time.monotonic()
        with pytest.raises(Interrupted), transaction.atomic():
            select(Customer, "id = %s", [customer.pk], lock=True)
        assert time.monotonic() - started < 5  # not held until the other transaction ends
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        released.set()
        thread.join(timeout=60)
    assert through_libpq
    _this_connection_terminated()
    try:
        with pytest.raises(OperationalError):
            rows("SELECT 1 WHERE true = %s", [True])
    finally:
        connections["default"].close()


@libpq_only
@pytest.mark.django_db(transaction=True)
def test_the_first_statement_through_libpq_of_a_transaction_is_sent_with_its_begin_and_answers_as_the_cursor_would(
    shop, through_libpq, monkeypatch
):
    """The first kassa.db statement of a transaction goes with the BEGIN that opens it, in one round trip
    (``_pipelined``): the transaction has the isolation level set on the connection, a statement run first in
    transactions is prepared on its sixth run and then answers from there, a first statement that fails leaves its
    transaction failed as the cursor's way would (rolled back, nothing written, the connection usable after), and a
    connection lost under it raises Django's OperationalError."""
    begun = []
    pipelined = kassa_db._pipelined

    def counted(conn, statements, **kwargs):
        if kwargs.get("begin"):
            begun.append(statements[-1][1].query)
        return pipelined(conn, statements, **kwargs)

    monkeypatch.setattr(kassa_db, "_pipelined", counted)
    fields = {"merchant": shop.merchant, "livemode": False}
    kept = insert(Customer(public_id="cus_first", name="First", **fields))  # autocommit: no transaction to begin
    assert begun == []
    connections["default"].ensure_connection()
    driver = connections["default"].connection
    driver.isolation_level = IsolationLevel.REPEATABLE_READ
    try:
        with transaction.atomic():
            assert rows("SELECT current_setting(%s)", ["transaction_isolation"]) == [("repeatable read",)]
            renamed = []
            _on_another_connection(
                lambda: renamed.append(update_where(Customer, {"name": "Renamed"}, "id = %s", [kept.pk]))
            )
            assert renamed == [1]
            # Its snapshot was taken by its first statement, so the rename committed since is not seen.
            assert select_one(Customer, "id = %s", [kept.pk]).name == "First"
    finally:
        driver.isolation_level = None
    assert len(begun) == 1
    threshold = driver.prepare_threshold
    sql = "SELECT id FROM billing_customer WHERE id = %s AND name = %s AND %s::boolean"
    for _run in range(threshold + 2):
        with transaction.atomic():
            assert rows(sql, [kept.pk, "Renamed", True]) == [(kept.pk,)]
    assert [s for s in _prepared_here().values() if "AND $3::boolean" in s]
    assert len(begun) == 1 + threshold + 2
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(Customer(public_id="cus_first", name="Twice", **fields))
    assert len(begun) == 1 + threshold + 3
    with transaction.atomic():
        assert rows(sql, [kept.pk, "Renamed", True]) == [(kept.pk,)]
    assert list(Customer.objects.filter(public_id="cus_first").values_list("name", flat=True)) == ["Renamed"]
    _this_connection_terminated()
    try:
        with pytest.raises(OperationalError), transaction.atomic():
            rows("SELECT 1 WHERE true = %s", [True])
        assert len(begun) == 1 + threshold + 5
    finally:
        connections["default"].close()
    assert rows("SELECT 1 WHERE true = %s", [True]) == [(1,)]  # a new connection


@pytest.fixture
def pipelined(monkeypatch):
    """The statements kassa.db sent together in one round trip (``_pipelined``), each call's: their text, and the
    command that ended it (a COMMIT) or None."""
    calls = []
    pipelined = kassa_db._pipelined

    def counted(conn, statements, **kwargs):
        calls.append(([statement[1].query.decode() for statement in statements], kwargs.get("end")))
        return pipelined(conn, statements, **kwargs)

    monkeypatch.setattr(kassa_db, "_pipelined", counted)
    return calls


@libpq_only
@pytest.mark.django_db(transaction=True)
def test_a_write_kept_for_the_next_statement_goes_with_it_and_the_last_ones_with_the_commit(shop, pipelined):
    """``with_next``: a ``together(with_next=True)`` block's write is sent with the transaction's next statement,
    which sees it (a read of the same row through kassa.db or through the ORM), in one round trip with it; the events
    written as a gathering block ends go with the transaction's COMMIT, their keys set then, committed for everyone;
    outside a transaction a write is made at once."""
    fields = {"merchant": shop.merchant, "livemode": False}
    customer = insert(Customer(public_id="cus_next", name="Before", **fields))
    with transaction.atomic():
        stored = snapshot(customer)
        customer.name = "Kept"
        with together(with_next=True):
            update_changed(customer, stored)
        assert select_one(Customer, "id = %s", [customer.pk]).name == "Kept"
        (sent, end), *_rest = [call for call in pipelined if len(call[0]) > 1]
        assert sent[0].startswith('WITH w0 AS (UPDATE "billing_customer"')
        assert sent[1].startswith("SELECT")
        assert end is None
        stored = snapshot(customer)
        customer.name = "Kept twice"
        with together(with_next=True):
            update_changed(customer, stored)
        # A statement of the ORM's own (Django's cursor) sends it first, alone.
        assert Customer.objects.get(pk=customer.pk).name == "Kept twice"
    pipelined.clear()
    with transaction.atomic(), events_gathered():
        event = event_emit(type="customer.updated", obj=customer, data_object={"id": customer.public_id})
        assert event.pk is None
    assert pipelined == [([pipelined[0][0][0]], b"COMMIT")]
    assert pipelined[0][0][0].startswith("WITH written AS (INSERT INTO")
    assert event.pk is not None
    seen = []
    _on_another_connection(lambda: seen.append(list(Event.objects.filter(pk=event.pk).values_list("type", flat=True))))
    assert seen == [["customer.updated"]]
    assert EventPending.objects.filter(pk=event.pk).exists()
    pipelined.clear()
    with together(with_next=True):  # no transaction: made at once
        update(customer, ["name"])
    assert pipelined == []
    assert connection.execute_wrappers == []


@libpq_only
@pytest.mark.django_db(transaction=True)
def test_a_kept_write_that_fails_fails_its_transaction_before_anything_commits(shop, pipelined):
    """A kept write refused by the database, or by its own check (a row ``update`` must find and does not, checked by
    the statement itself), fails the statement or COMMIT it was to go with: the transaction is rolled back, nothing
    of it committed, the connection usable after; a rolled-back transaction's kept writes are never sent."""
    fields = {"merchant": shop.merchant, "livemode": False}
    first = insert(Customer(public_id="cus_one", name="One", **fields))
    second = insert(Customer(public_id="cus_two", name="Two", **fields))

    def refused_by_the_database():
        with transaction.atomic():
            update_where(Customer, {"name": "Renamed"}, "id = %s", [second.pk])
            first.public_id = second.public_id  # the unique public id of another row
            with together(with_next=True):
                update(first, ["public_id"])
            select_one(Customer, "id = %s", [first.pk])

    def refused_by_its_check():
        with transaction.atomic():
            Customer.objects.filter(pk=second.pk).delete()
            with together(with_next=True):
                update(second, ["name"])

    def rolled_back():
        with transaction.atomic():
            first.name = "Never"
            with together(with_next=True):
                update(first, ["name"])
            raise RuntimeError("rolled back")

    with pytest.raises(IntegrityError):
        refused_by_the_database()
    assert set(Customer.objects.values_list("name", flat=True)) == {"One", "Two"}
    first.public_id = "cus_one"
    pipelined.clear()
    with pytest.raises(DatabaseError, match="no row updated"):
        refused_by_its_check()
    assert Customer.objects.filter(pk=second.pk).exists()  # the delete was not committed
    assert [end for _sent, end in pipelined] == [b"COMMIT"]  # refused by the statement, with the COMMIT
    with pytest.raises(RuntimeError):
        rolled_back()
    assert Customer.objects.get(pk=first.pk).name == "One"
    assert connection.execute_wrappers == []


@libpq_only
@pytest.mark.django_db(transaction=True)
def test_a_write_kept_inside_a_savepoint_rolled_back_is_undone_with_it_and_the_transaction_goes_on(shop):
    """A savepoint rolled back undoes what was written inside it, a kept write included (never sent): one that the
    database would have refused does not fail the transaction around it, whose own writes commit."""
    fields = {"merchant": shop.merchant, "livemode": False}
    first = insert(Customer(public_id="cus_one", name="One", **fields))
    second = insert(Customer(public_id="cus_two", name="Two", **fields))

    def undone_inside():
        with transaction.atomic():
            first.public_id = second.public_id  # refused by the unique constraint, were it sent
            with together(with_next=True):
                update(first, ["public_id"])
            raise RuntimeError("undone")

    with transaction.atomic():
        update_where(Customer, {"name": "Renamed"}, "id = %s", [second.pk])
        with pytest.raises(RuntimeError):
            undone_inside()
        first.public_id = "cus_one"
        assert select_one(Customer, "id = %s", [first.pk]).public_id == "cus_one"
    assert dict(Customer.objects.values_list("public_id", "name")) == {"cus_one": "One", "cus_two": "Renamed"}


@libpq_only
@pytest.mark.django_db(transaction=True)
def test_a_write_kept_first_in_its_transaction_is_inside_it_and_its_values_are_taken_as_kept(shop, pipelined):
    """A transaction whose first statement is a kept write begins before it (the write is never made on its own
    outside the transaction: rolled back with the rest); a kept write's values are those it had as it was kept (a dict
    changed in place afterwards is not what is written)."""
    fields = {"merchant": shop.merchant, "livemode": False}
    customer = insert(Customer(public_id="cus_first_kept", name="First", metadata={"plan": "gold"}, **fields))

    def kept_then_rolled_back():
        with transaction.atomic():
            customer.name = "Never"
            with together(with_next=True):
                update(customer, ["name"])
            Customer.objects.filter(pk=customer.pk).update(phone="+33100000000")  # Django's cursor: sent before it
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        kept_then_rolled_back()
    assert Customer.objects.filter(pk=customer.pk).values_list("name", "phone").get() == ("First", None)
    pipelined.clear()
    with transaction.atomic():
        customer.metadata["plan"] = "silver"
        with together(with_next=True):
            update(customer, ["metadata"])
        customer.metadata["plan"] = "changed after"
    assert pipelined == [(pipelined[0][0], b"COMMIT")]  # the BEGIN, the write and the COMMIT in one round trip
    assert Customer.objects.get(pk=customer.pk).metadata == {"plan": "silver"}


@libpq_only
@pytest.mark.django_db(transaction=True)
def test_a_kept_write_refused_where_a_savepoint_is_made_dooms_the_transaction_even_if_the_error_is_caught(shop):
    """A kept write goes before a SAVEPOINT (a nested ``atomic``): refused there, its error comes out where the
    savepoint was being made, as if the caller's own statement had failed; the transaction is marked for rollback
    all the same, so a caller that catches it cannot go on writing, and nothing of it commits."""
    fields = {"merchant": shop.merchant, "livemode": False}
    first = insert(Customer(public_id="cus_one", name="One", **fields))
    second = insert(Customer(public_id="cus_two", name="Two", **fields))
    caught = []

    def caught_as_its_own():
        with transaction.atomic():
            update_where(Customer, {"name": "Renamed"}, "id = %s", [second.pk])
            first.public_id = second.public_id  # refused by the unique constraint
            with together(with_next=True):
                update(first, ["public_id"])
            try:
                with transaction.atomic():
                    insert(Customer(public_id="cus_three", name="Three", **fields))
            except IntegrityError:
                caught.append(True)
            update_where(Customer, {"name": "After"}, "id = %s", [second.pk])

    with pytest.raises(TransactionManagementError):
        caught_as_its_own()
    assert caught == [True]
    assert dict(Customer.objects.values_list("public_id", "name")) == {"cus_one": "One", "cus_two": "Two"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: kassa/postgresql's COMMIT")
@pytest.mark.django_db(transaction=True)
def test_a_transaction_postgresql_has_failed_is_not_reported_committed_nor_its_on_commit_work_run(shop):
    """An error caught inside a transaction with no savepoint leaves PostgreSQL's transaction failed: its COMMIT
    raises (Kassa's backend) where PostgreSQL would roll it back and Django run its on-commit work as if committed."""
    ran = []

    def caught_without_a_savepoint():
        with transaction.atomic():
            insert(Customer(public_id="cus_lost", name="Lost", merchant=shop.merchant, livemode=False))
            transaction.on_commit(lambda: ran.append("on commit"))
            with suppress(DatabaseError):
                rows("SELECT %s::integer", ["not a number"])

    with pytest.raises(TransactionManagementError, match="not committed"):
        caught_without_a_savepoint()
    assert ran == []
    assert not Customer.objects.filter(public_id="cus_lost").exists()
