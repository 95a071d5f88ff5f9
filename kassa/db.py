"""``insert`` (``insert_many``, ``insert_unless``, ``insert_many_queued``), ``update`` (``update_where``,
``update_changed``; ``together``: several in one statement), ``select`` and ``related``: rows written and read
through statements compiled once per model (and shape), for the hottest paths: the API's writes, and a renewal's,
which makes every one of its statements this way but its savepoints (docs/performance-history.md); ``atomic_unless``
(``atomic_unless_held``) and ``insert_unless`` (a row a unique constraint allows once, left out with no error)
spare a renewal two of those savepoints; ``many`` (``read_with``) hands over the rows of a many-to-many or reverse
key read with their object, without the related manager Django makes on each access; ``new`` makes a new row's
instance as ``Model.__init__`` does, without its calls for each field (``select`` makes a read row's the same way).
On PostgreSQL, a JSON column's value is written by orjson (``_json_dumped``) and a ``timestamptz`` read by
``datetime.fromisoformat`` (``_moments_read_by_python``), each giving what Django's own way gives.
``select_locked_with`` locks a row and the one its foreign key names in one statement, and ``held`` tells what the
caller calls that the second is locked already. Every statement
goes through one cursor kept per connection (``_cursor``), straight to the driver's while no execute wrapper is
installed and queries are not logged (``_run``), with the checks Django's cursor makes on the way; on PostgreSQL
through libpq's own calls (``_libpq_run``), a transaction's BEGIN sent with its first statement, and the writes
nothing needs an answer from before the next statement (``with_next``; ``together(with_next=True)``) sent with that
statement or with the COMMIT (kassa/postgresql), several commands in one round trip (``_pipelined``: libpq's pipeline
mode). A renewal's round trips to PostgreSQL went from 23 to 13 so (docs/performance-history.md).

``Model.objects.create`` compiles its INSERT anew on every call; on a
request that writes two rows (the object and its outbox event) that was
about a third of the Python work of an API write (docs/performance-history.md).
``insert`` does what ``create`` does for a plain model, in the same order
and with the same field conversions (``pre_save``, ``get_db_prep_save``),
but reuses the statement. ``update`` is ``save()`` (every loaded field) or
``save(update_fields=…)`` of a row that exists, the same way: Django
compiles a save's UPDATE anew each time too, a renewal saves about ten
rows, and the compiling was a fifth of its CPU. Neither sends
``pre_save``/``post_save`` signals nor calls a ``save()`` override: use
them only for models that have neither (Kassa's have none; a test keeps it
so).

A value is converted for the database as Django converts it (``pre_save``, then ``get_db_prep_save``), but for
the commonest fields that is four calls to hand the value back unchanged: a field of exactly Django's own
``CharField``, ``TextField``, ``BooleanField``, integer class, key to an automatic id, or ``DateTimeField`` that
stamps nothing, holding a value of exactly the Python type it stores (or None; a datetime with its time zone), is
taken as it is, with the one step that may change it (the backend's integer adaptation, psycopg's typed integers
on PostgreSQL; the automatic id's check; the backend's datetime adaptation, a string in UTC on SQLite) called
directly (``_values_prepared``). A subclass, another type (an enum member, a string in an integer field) or any other
field goes Django's whole way. A test converts a value of every kind for every field of the models written here
both ways and finds the same values.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, lru_cache, wraps
from threading import local
from typing import NamedTuple, TypeVar
from uuid import UUID

import orjson
from django.db import DEFAULT_DB_ALIAS, DatabaseError, NotSupportedError, connections, router, transaction
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from django.db.backends.signals import connection_created
from django.db.backends.utils import CursorWrapper
from django.db.models import (
    NOT_PROVIDED,
    AutoField,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKey,
    IntegerField,
    JSONField,
    Model,
    OneToOneField,
    PositiveBigIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    SmallAutoField,
    SmallIntegerField,
    TextField,
    UniqueConstraint,
)
from django.db.models.base import DEFERRED, ModelState
from django.db.models.signals import post_init, pre_init
from django.db.transaction import TransactionManagementError
from psycopg import _queries, generators, pq  # a dependency on every database: requirements/base.txt
from psycopg import errors as psycopg_errors
from psycopg._preparing import Prepare
from psycopg.adapt import Transformer
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

M = TypeVar("M", bound=Model)

_IDLE = pq.TransactionStatus.IDLE
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_COMMAND_OK = pq.ExecStatus.COMMAND_OK
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR

#: How wide a statement psycopg keeps its parsed form of (see ``_psycopg_parses_once``): an invoice's INSERT has 56
#: values; a multi-row INSERT of a renewal's events about fifty.
PSYCOPG_CACHED_PARAMS = 500
PSYCOPG_CACHED_LENGTH = 16384


def _psycopg_parses_once() -> None:
    """psycopg parses a statement's text (its ``%s`` into ``$1``…) once and keeps the result, unless the statement
    has more than 50 values or 4,096 characters: then on every call (psycopg/_queries.py; its limits keep an ORM's
    INSERTs of ever-varying row counts from filling its cache, psycopg discussion 628). Kassa's hottest statements
    are built once per shape here, and an invoice's INSERT has 56 values: parsed anew each time, that was about 3 %
    of a renewal's CPU (docs/performance-history.md). psycopg's cache stays as it is (the 128 statements used last);
    only its limits are widened, so at most 128 statements of at most 16 KiB are kept (a few MiB at worst). psycopg
    offers no setting for them: its module's own names are set, and a test checks that an INSERT of more than 50
    values is parsed once (tests/kassa/test_db.py), so a psycopg that renames them fails it rather than going
    slow unnoticed."""
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, PSYCOPG_CACHED_PARAMS)
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, PSYCOPG_CACHED_LENGTH)


_psycopg_parses_once()


def _moments_read_by_python(sender, connection, **kwargs) -> None:
    """On a new PostgreSQL connection whose time zone is UTC (Django's, with ``USE_TZ`` and no database ``TIME_ZONE``),
    each ``timestamptz`` value is read by Python's own parser of ISO 8601 (``datetime.fromisoformat``, written in C)
    rather than by Django's loader (psycopg's loader in Python, a regular expression and a dozen steps a value, then
    Django's replacing its time zone by UTC): about 40 values a renewal, some 2 % of its CPU
    (docs/performance-history.md). PostgreSQL writes a ``timestamptz`` in ISO 8601 in the session's time zone, which
    Django sets to UTC (``+00``), so the value read is the same moment in Django's ``datetime.timezone.utc``; anything
    else (another ``DateStyle`` or time zone, a year past 9999, BC, infinity) is handed to Django's loader, as before. A
    test reads values of every such kind both ways (tests/kassa/test_db.py)."""
    if connection.vendor != "postgresql" or connection.timezone is not UTC:
        return
    connection.connection.adapters.register_loader("timestamptz", _UtcLoader)


class _UtcLoader(BaseTzLoader):
    """``_moments_read_by_python``'s loader of ``timestamptz``."""

    timezone = UTC  # Django's, so that its cursors keep this loader (its DatabaseWrapper.create_cursor)

    def load(self, data):
        try:
            moment = datetime.fromisoformat(str(data, "ascii"))
        except ValueError:
            return super().load(data)
        return moment if moment.tzinfo is UTC else super().load(data)


connection_created.connect(_moments_read_by_python, dispatch_uid="kassa.db.moments")


#: Where a connection keeps the cursor ``_cursor`` hands kassa.db's statements (an attribute of Django's wrapper).
_KEPT = "_kassa_cursor"


def _cursor(connection):
    """A cursor of ``connection`` (Django's wrapper, for this thread) for one of kassa.db's statements: the one made for
    the last of them while it still would be what ``connection.cursor()`` makes now, else a new one, kept. Django makes
    a cursor per statement (psycopg's, Django's wrapper, its checks), about a third of a one-row statement's CPU outside
    the database (docs/performance-history.md). Made anew when the connection is another one (closed, reconnected), when
    whether queries are logged changed (a debug cursor: tests capturing queries), while the connection is shared between
    threads, and before a statement that Django would first check the connection for (its health check, once a request
    or task: ``CONN_HEALTH_CHECKS``), so that check is made as before. Each statement still gets what Django's wrapper
    gives it (its execute wrappers, its error translation, its refusal of a broken transaction: ``_run``), and each
    statement's rows are read to their end, so a kept cursor holds no statement open between them."""
    kept = connection.__dict__.get(_KEPT)
    if (
        kept is not None
        and kept[0] is connection.connection
        and kept[1] == connection.queries_logged
        and (connection.health_check_done or not connection.health_check_enabled)
        and not connection.allow_thread_sharing
    ):
        return kept[2]
    cursor = connection.cursor()
    connection.__dict__[_KEPT] = (connection.connection, connection.queries_logged, cursor)
    return cursor


#: Django's own field classes whose ``get_db_prep_save`` hands a value of exactly these types back unchanged, and
#: whose ``pre_save`` reads the attribute (the integer, key and datetime classes below each have one step more).
_TAKEN_AS_IS = {CharField: (str,), TextField: (str,), BooleanField: (bool,)}
_INTEGERS = (
    IntegerField,
    BigIntegerField,
    SmallIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    PositiveBigIntegerField,
)
_AUTOMATIC_IDS = (AutoField, BigAutoField, SmallAutoField)
_AS_IS, _INTEGER, _AUTOMATIC_ID, _MOMENT, _JSON = "as is", "integer", "automatic id", "moment", "json"


def _shortcut(field: Field) -> tuple[tuple[type, ...], str, str] | None:
    """How ``_values_prepared`` may convert ``field``'s value without Django's four calls: (the value types it may,
    which step, the field's internal type), or None where only Django's whole way will do. Found as a statement is
    built (``_planned``), never per value."""
    kind = type(field)
    if kind in _TAKEN_AS_IS:
        return _TAKEN_AS_IS[kind], _AS_IS, ""
    if kind in _INTEGERS:
        return (int,), _INTEGER, field.get_internal_type()
    if kind in (ForeignKey, OneToOneField) and type(field.target_field) in _AUTOMATIC_IDS:
        return (int,), _AUTOMATIC_ID, ""
    if kind is DateTimeField and not (field.auto_now or field.auto_now_add):  # those stamp the time as they save
        return (datetime,), _MOMENT, ""
    if kind is JSONField and field.encoder is None:
        return (dict, list), _JSON, ""
    return None


#: What orjson hands to ``_json_dumped``'s fallback rather than writing it itself: values ``json.dumps`` refuses, and
#: subclasses of ``str``, ``int``, ``dict`` and ``list``, which ``json.dumps`` may read otherwise than orjson (a dict
#: subclass through its own ``items()``, as Django's ``QueryDict``); a renewal's JSON holds none.
_ORJSON_REFUSES = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _json_dumped(value) -> bytes:
    """A JSON column's value as PostgreSQL takes it (``jsonb``), written by orjson: about 21 KB of JSON a renewal
    (its seven events above all), which ``json.dumps`` took some 6 % of a renewal's CPU to write (README,
    Performance). The same JSON value as Django's ``json.dumps`` writes (PostgreSQL stores the value, not its
    text: spacing and escapes do not reach it). What orjson does not write the same way it refuses, and
    ``json.dumps`` writes it, or refuses it as before: a key that is not a string, an integer past 64 bits, text that
    is not valid Unicode, a datetime, a dataclass, a Decimal, any subclass of a string, an integer, a dict or a list
    (an enum member, a ``QueryDict``). Two differences are left, both for values Kassa never writes (its amounts are
    integers; its floats, a tax rate's percentage, come from decimals): orjson writes a UUID and a plain Enum's value
    where ``json.dumps`` refuses them, and a float NaN or infinity as ``null`` where PostgreSQL refused the ``NaN``
    ``json.dumps`` wrote (an error, now a null)."""
    try:
        return orjson.dumps(value, option=_ORJSON_REFUSES)
    except orjson.JSONEncodeError:
        return json.dumps(value).encode()


def _planned(fields) -> tuple[tuple[Field, tuple | None], ...]:
    """Each of ``fields`` with its ``_shortcut``."""
    return tuple((field, _shortcut(field)) for field in fields)


def _row_prepared(planned: tuple, instance: Model, add: bool, connection) -> list:
    """For each of ``planned``'s fields, ``field.get_db_prep_save(field.pre_save(instance, add), connection)``: the
    value ``instance`` holds as the database takes it (with the field's shortcut, if it has one: those fields'
    ``pre_save`` reads the attribute)."""
    values = [
        getattr(instance, field.attname) if shortcut is not None else field.pre_save(instance, add)
        for field, shortcut in planned
    ]
    return _values_prepared(planned, values, connection)


def _values_prepared(planned: tuple, values: list, connection) -> list:
    """For each of ``planned``'s fields and its value in ``values``, ``field.get_db_prep_save(value, connection)``,
    without Django's four calls where its shortcut allows; in one loop, with no call of its own per value (about
    300 values a renewal: a call for each, and one more for each field's own reading, were a twentieth of its
    Python calls)."""
    ops = connection.ops
    prepared = []
    for (field, shortcut), value in zip(planned, values, strict=True):
        if shortcut is not None:
            if value is None:
                prepared.append(None)  # each of those fields' conversions hands None back
                continue
            types, step, internal = shortcut
            if type(value) in types:
                if step is _AS_IS:
                    prepared.append(value)
                    continue
                if step is _INTEGER:
                    prepared.append(ops.adapt_integerfield_value(value, internal))
                    continue
                if step is _AUTOMATIC_ID:
                    prepared.append(ops.validate_autopk_value(value))
                    continue
                if step is _JSON:
                    if connection.vendor == "postgresql":
                        prepared.append(Jsonb(value, dumps=_json_dumped))
                        continue
                elif value.utcoffset() is not None:  # _MOMENT; a naive one is Django's to warn about and make aware
                    prepared.append(ops.adapt_datetimefield_value(value))
                    continue
        prepared.append(field.get_db_prep_save(value, connection=connection))
    return prepared


@lru_cache(maxsize=512)  # per model, number of rows, constraint and columns returned beside the key
def _statement(
    model: type[Model], rows: int, using: str, constraint: str | None = None, returning: tuple[str, ...] = ()
) -> tuple[str, tuple]:
    meta = model._meta
    quote = connections[using].ops.quote_name
    fields = tuple(f for f in meta.concrete_fields if f is not meta.pk or not f.db_returning)
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join([f"({', '.join(['%s'] * len(fields))})"] * rows)
    unless = _conflict_clause(model, constraint, using) if constraint else ""
    returned = ", ".join(quote(column) for column in (meta.pk.column, *returning))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {values}{unless} RETURNING {returned}"  # noqa: S608
    return sql, _planned(fields)


@lru_cache(maxsize=128)  # per model, number of rows, queue and columns returned beside the key
def _queued_statement(
    model: type[Model], rows: int, using: str, queue: type[Model], returning: tuple[str, ...]
) -> tuple[str, tuple]:
    insert, fields = _statement(model, rows, using, None, returning)
    quote = connections[using].ops.quote_name
    returned = ", ".join(quote(column) for column in (model._meta.pk.column, *returning))
    queued = f"INSERT INTO {quote(queue._meta.db_table)} ({quote(queue._meta.pk.column)})"
    key = quote(model._meta.pk.column)
    sql = f"WITH written AS ({insert}), queued AS ({queued} SELECT {key} FROM written) SELECT {returned} FROM written"  # noqa: S608 (names from the models)
    return sql, fields


def _unique_fields(model: type[Model], name: str) -> tuple[list[str], UniqueConstraint | None]:
    """The fields of the model's unique constraint ``name``, or of its field ``name`` itself (``unique=True``),
    with the constraint (None for a unique field)."""
    constraint = next((c for c in model._meta.constraints if c.name == name), None)
    if isinstance(constraint, UniqueConstraint) and constraint.fields:
        return list(constraint.fields), constraint
    field = next((f for f in model._meta.concrete_fields if f.name == name), None)
    if field is not None and field.unique and not field.primary_key:
        return [name], None
    raise ValueError(f"{model._meta.label} has no unique constraint on fields, nor unique field, named {name!r}")


def _conflict_clause(model: type[Model], name: str, using: str) -> str:
    """`` ON CONFLICT (columns) WHERE condition DO NOTHING`` for the model's unique constraint ``name`` (or unique
    field ``name``): its columns, and its condition as Django wrote it into the partial index's definition (the same
    SQL, so that the database finds that index as the one to check: PostgreSQL and SQLite both want the index's
    own predicate)."""
    fields, constraint = _unique_fields(model, name)
    connection = connections[using]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(f).column) for f in fields)
    condition = ""
    if constraint is not None and constraint.condition is not None:
        # Django's own way of writing it into CREATE UNIQUE INDEX … WHERE (a private helper, but the one that wrote
        # the index: a test checks both databases find the index with it).
        editor = connection.schema_editor(collect_sql=True, atomic=False)  # not entered: it only writes SQL here
        condition = constraint._get_condition_sql(model, editor)
        if "%" in condition:  # it is pasted into a statement run with parameters: a literal % would be taken for one
            raise ValueError(f"{name}: a condition with a % sign is not supported here")
        condition = f" WHERE {condition}"
    return f" ON CONFLICT ({columns}){condition} DO NOTHING"


def _made_as_django_makes(model: type[Model]) -> bool:
    """Whether ``new`` and ``select`` must make ``model``'s instances through Django's own ``__init__`` and
    ``from_db``: when anything listens to its signals (nothing in Kassa does; an ``ImageField`` with dimension fields
    would), or when the model has an ``__init__`` or a ``from_db`` of its own (none of Kassa's has)."""
    return bool(pre_init.receivers or post_init.receivers) or _own_construction(model)


@cache
def _own_construction(model: type[Model]) -> bool:
    return model.__init__ is not Model.__init__ or model.from_db.__func__ is not Model.from_db.__func__


@cache
def _new_plan(model: type[Model]) -> tuple[dict, tuple, dict]:
    """How ``new`` fills ``model``'s fields: the defaults that are one value for every instance (a plain field's
    constant ``default``, or Django's None or empty string for a field without one), by attribute; the fields whose
    default is made for each instance (a callable, a relation's, a database default), with Django's own
    ``get_default``; and each name a field is given by (its name and its attribute), with its attribute and whether
    it is a relation given by its object."""
    fixed, made, names = {}, [], {}
    for field in model._meta.concrete_fields:
        if field.column is None or field.generated:
            continue  # as Django's __init__: the database's to fill (read when first asked for)
        plain_constant = field.has_default() and not callable(field.default) and not field.is_relation
        if plain_constant or not (field.has_default() or field.db_default is not NOT_PROVIDED):
            fixed[field.attname] = field.get_default()
        else:
            made.append((field.attname, field.get_default))
        names[field.attname] = (field.attname, False)
        names[field.name] = (field.attname, field.is_relation)
    return fixed, tuple(made), names


def new(model: type[M], **values) -> M:
    """``model(**values)``: a new, unsaved instance, as Django's ``Model.__init__`` makes it, without its calls for each
    field (a setattr, a default looked up, a descriptor for each key's attribute: about a twentieth of a renewal's CPU,
    which makes fourteen new rows). The values are set on the instance as Django sets them (a related object
    through its descriptor, which checks it and caches it; anything else as the attribute's value), and every field
    not given gets its default, a callable's called for this instance only. Anything else Django's own way: a
    property, a value deferred, a name that is no field (Django's error), a relation given by both its object and
    its key, and a model while something listens to ``pre_init`` or ``post_init`` or that has an ``__init__`` of its
    own (``_made_as_django_makes``); a generated field is left for the database to fill, as Django leaves it. A
    test makes every model of Kassa both ways and finds the same instances."""
    if _made_as_django_makes(model):
        return model(**values)
    fixed, made, names = _new_plan(model)
    state = dict(fixed)
    related = {}  # attribute -> (name, object): set through the relation's descriptor
    for name, value in values.items():
        plan = names.get(name)
        if plan is None or value is DEFERRED:
            return model(**values)
        attname, by_object = plan
        if by_object:
            if attname in values:
                return model(**values)
            related[attname] = (name, value)
            state.pop(attname, None)
        else:
            state[attname] = value
    for attname, default in made:
        if attname not in state and attname not in related:
            state[attname] = default()
    instance = _bare(model)
    instance.__dict__.update(state)
    for name, value in related.values():
        setattr(instance, name, value)
    return instance


def _bare(model: type[M]) -> M:
    """An instance of ``model`` with no field set, its state new (``Model.__init__``'s first step)."""
    instance = model.__new__(model)
    instance._state = ModelState()
    return instance


def _from_row(model: type[M], using: str, names: list, values: list) -> M:
    """``model.from_db(using, names, values)`` for a row of every concrete field (``select``'s), without
    ``Model.__init__``'s setattr (and key descriptor) for each field: the values set as Django's ``__init__`` sets
    a row's, the instance marked as read from ``using``."""
    if _made_as_django_makes(model):
        return model.from_db(using, names, values)
    instance = _bare(model)
    instance._state.adding = False
    instance._state.db = using
    instance.__dict__.update(zip(names, values, strict=True))
    return instance


def insert(instance: M) -> M:
    """INSERT ``instance`` (new, unsaved) and set its primary key, as ``Model.objects.create`` would. Inside
    ``together``, sent with the block's other writes at its end, its key set then (nothing in the block may need it)."""
    if getattr(_gathering, "writes", None) is None:
        insert_many([instance])
        return instance
    model = type(instance)
    using = router.db_for_write(model, instance=instance)
    connection = connections[using]
    sql, fields = _statement(model, 1, using)
    _write(using, _Write(model, sql, _row_prepared(fields, instance, True, connection), None, instance))
    return instance


def insert_many(instances: list[M]) -> list[M]:
    """INSERT ``instances`` (new, unsaved, of one model) in one statement and set their primary keys, as
    ``bulk_create`` would (the database hands the keys back in the order of the rows, as Django relies on too)."""
    if not instances:
        return instances
    _inserted(instances, None)
    return instances


def insert_many_queued(instances: list[M], queue: type[Model], *, match: str, with_next: bool = False) -> list[M]:
    """``insert_many``, and for each row a row of ``queue``, a model whose one column is its primary key, a one-to-one
    key to the rows' model (an outbox's queue: webhooks' ``EventPending``): in the same statement on PostgreSQL (a
    data-modifying ``WITH``; an event written by an API request or a renewal costs no statement more than it did
    before it had a queue), in a second one elsewhere. ``match``: a unique text or integer field of the rows, by whose
    value each row's key is found (the order of a ``WITH``'s rows is not promised). ``with_next``: sent with the
    transaction's next statement or its COMMIT (``with_next``), the keys set once it is answered."""
    if not instances:
        return instances
    model = type(instances[0])
    field = _matchable(model, match)
    _queue_check(model, queue)
    connection = connections[router.db_for_write(model, instance=instances[0])]
    if connection.vendor != "postgresql":
        insert_many(instances)
        insert_many([queue(pk=instance.pk) for instance in instances])
        return instances

    keys = _inserted(instances, None, match=field, queue=queue, later=with_next)
    if keys is not None and len(keys) != len(instances):
        raise DatabaseError(f"{model._meta.label}: {len(instances)} rows inserted, fewer keys found")
    return instances


@cache
def _queue_check(model: type[Model], queue: type[Model]) -> None:
    key = queue._meta.pk
    if not (isinstance(key, OneToOneField) and key.related_model is model and queue._meta.concrete_fields == (key,)):
        raise TypeError(f"{queue._meta.label} is not a queue of {model._meta.label}: its one column a key to it")


def atomic_unless(held: bool):
    """``transaction.atomic()`` (its own transaction, or a savepoint in the caller's), unless ``held``: then nothing
    of its own, the caller's transaction (which there must be) and no savepoint, two statements fewer. Only for work
    that, held, writes nothing before whatever refusal its caller goes on after (``insert_unless``'s None, a check
    made before the first write), so that such a refusal has nothing to undo; any other error fails the caller's
    whole transaction."""
    if not held:
        return transaction.atomic(using=DEFAULT_DB_ALIAS)
    if not transaction.get_connection(DEFAULT_DB_ALIAS).in_atomic_block:
        raise TransactionManagementError("held work runs inside its caller's transaction")
    return nullcontext()


def atomic_unless_held(function):
    """``function`` inside ``atomic_unless(held)``, ``held`` a keyword of its call (default False) it does not see."""

    @wraps(function)
    def wrapper(*args, held: bool = False, **kwargs):
        with atomic_unless(held):
            return function(*args, **kwargs)

    return wrapper


def insert_unless(instance: M, constraint: str) -> M | None:
    """INSERT ``instance`` as ``insert`` does, unless a row holds already what the model's unique constraint named
    ``constraint`` (or its unique field of that name) allows once: then nothing is written and None is returned, with
    no error raised, so the caller's transaction goes on without a savepoint to roll back to (``ON CONFLICT … DO
    NOTHING``, on that constraint's columns and condition only: any other constraint refuses the row with an
    IntegrityError, as ever)."""
    return instance if _inserted([instance], constraint) else None


#: The fields ``insert_many_unless`` may match rows on: their value comes back from the database as it went in.
_MATCHABLE = (CharField, TextField, IntegerField)


def _matchable(model: type[Model], name: str) -> Field:
    """The model's field ``name``, if rows may be matched on it: unique, text or integer."""
    field = model._meta.get_field(name)
    if not (field.unique and isinstance(field, _MATCHABLE)):
        raise ValueError(f"{field} is not a unique text or integer field")
    return field


def insert_many_unless(instances: list[M], unique: str) -> list[M]:
    """INSERT ``instances`` as ``insert_many`` does, in one statement, except those whose value of the unique text or
    integer field ``unique`` a row holds already: those are left out with no error, so the caller's transaction goes
    on (``ON CONFLICT … DO NOTHING`` on that field alone: any other constraint refuses the rows with an
    IntegrityError, as ever). Returns the instances written, their keys set, in their order: what this call
    claimed, where another claimed the rest first."""
    if not instances:
        return []
    field = _matchable(type(instances[0]), unique)
    values = [getattr(instance, field.attname) for instance in instances]
    if len(set(values)) != len(values):
        raise ValueError(f"{type(instances[0])._meta.label}: two of the rows have one {unique}")
    written = set(_inserted(instances, unique, match=field))
    return [instance for instance in instances if instance.pk in written]


def rows(sql: str, params: list, connection=None) -> list[tuple]:
    """The rows of a statement built once (values as ``%s`` in ``params``), through the cursor kassa.db keeps
    (``_cursor``), every row read to the end: every kassa.db statement that answers rows goes through it, and so may a
    caller's statement that no model's shape fits (several tables, a ``WITH`` that writes: the dispatcher's take of
    its queue). ``connection``: Django's wrapper of the one to use, the default database's if None."""
    return _run(connection if connection is not None else connections[DEFAULT_DB_ALIAS], sql, params, True)


class _Pending(NamedTuple):
    """A write kept for the connection's next statement (``with_next``): its values dumped as it was kept (by its
    Transformer, into its query), whether it answers rows, and what to do with its answer once it has one (set the
    keys it returns)."""

    transformer: Transformer
    query: _queries.PostgresQuery
    answer_rows: bool
    done: Callable[[object], None]


_PENDING = "_kassa_pending"  # on Django's connection wrapper: the writes kept (a list of _Pending)


def keeps(connection=None) -> bool:
    """Whether ``with_next`` keeps a write on ``connection`` (the default database's if None) rather than making it at
    once: inside a transaction, on PostgreSQL through libpq's calls (``_through_libpq``: prepared statements on), on
    Kassa's backend (kassa/postgresql, whose COMMIT sends them), while nothing watches statements (``_fast``)."""
    return _keeping(connection if connection is not None else connections[DEFAULT_DB_ALIAS]) is not None


def _keeping(connection):
    """``keeps``: the cursor whose connection takes the writes kept (``_cursor``'s), None where none is kept."""
    if not (getattr(connection, "commits_pending", False) and connection.in_atomic_block):
        return None
    cursor = _cursor(connection)
    return cursor if _fast(connection, cursor) and _through_libpq(cursor.cursor, True) else None


def with_next(sql: str, params: list, answer_rows: bool, done: Callable[[object], None], connection=None) -> None:
    """Run a write whose answer nothing needs before the transaction's next statement: sent with that statement in
    one round trip, where it would otherwise be a round trip of its own (the writes of a step whose next step reads,
    a transaction's last writes, sent with its COMMIT by the backend: kassa/postgresql). Its ``done`` gets its answer
    (rows if ``answer_rows``, else its count) once it has one: the caller needs nothing of it before (an INSERT's
    key), and ``done`` only takes it, never refuses it, since it may come with the COMMIT's: whatever is to refuse
    the write is the statement's to refuse (a constraint; ``together``'s check of the rows an UPDATE finds), which
    fails it and whatever it went with (the transaction fails, nothing of it committed, as it would have at the
    write). Its values are dumped now (an error in them raised now; a dict changed in place later is not what is
    written). Kept only where ``keeps`` says; else made at once. A statement of Django's own (the ORM's, a
    SAVEPOINT's) sends the writes kept before it (an execute wrapper is installed while any is kept), and so does a
    statement kassa.db cannot send with them (one with no values); if they fail there, the transaction is marked
    for rollback (Django's ``needs_rollback``), so that a caller catching the error as its own statement's cannot go
    on as if they had been made; a rollback, or a rollback to a savepoint made since, drops them (never sent).
    Several may be kept: they go in order, in one round trip. A tool that starts watching statements (an execute
    wrapper, a debug cursor) while writes are kept does not see them."""
    connection = connection if connection is not None else connections[DEFAULT_DB_ALIAS]
    cursor = _keeping(connection) if params else None
    if cursor is None:
        done(_run(connection, sql, params, answer_rows))
        return
    with connection.wrap_database_errors:
        transformer, query = _converted(cursor.cursor, sql, params)
    kept = connection.__dict__.get(_PENDING)
    if kept is None:
        kept = connection.__dict__[_PENDING] = []
        connection.execute_wrappers.append(_pending_first)
    kept.append(_Pending(transformer, query, answer_rows, done))


def _pending_take(connection) -> list[_Pending]:
    """The writes kept on ``connection``, no longer kept (and its execute wrapper gone)."""
    kept = connection.__dict__.pop(_PENDING, None)
    if kept is None:
        return []
    connection.execute_wrappers.remove(_pending_first)
    return kept


def _pending_first(execute, sql, params, many, context):
    """The execute wrapper installed while writes are kept: they are sent before any statement of Django's."""
    _pending_send(context["connection"], end=None)
    return execute(sql, params, many, context)


def _pending_send(connection, *, end: bytes | None) -> bool:
    """The writes kept, sent in one round trip (after the transaction's BEGIN if the server has not begun it yet),
    with ``end`` (a COMMIT) if given, each one's answer handed to its ``done``; whether there were any. Failing
    without ``end``, the transaction is marked for rollback (``with_next`` says why); with it, the caller's commit
    fails, which rolls back."""
    kept = _pending_take(connection)
    if not kept:
        return False
    try:
        connection.validate_no_broken_transaction()
        driver = _cursor(connection).cursor
        conn = driver.connection
        with connection.wrap_database_errors, conn.lock:
            results = _sent(conn, [(write.transformer, write.query) for write in kept], end=end)
    except Exception:
        if end is None and connection.in_atomic_block:
            connection.needs_rollback = True
        raise
    _pending_answered(kept, results)
    return True


def _pending_answered(kept: list[_Pending], results: list) -> None:
    """Each kept write's answer (its result, of ``results`` in the same order) handed to its ``done``."""
    for write, result in zip(kept, results, strict=False):
        write.done(_answer(write.transformer, result, write.answer_rows))


def pending_commit(connection) -> bool:
    """The backend's COMMIT (kassa/postgresql): the writes kept sent with it in one round trip (``with_next``); False
    when none was kept (the caller commits its way)."""
    return _pending_send(connection, end=b"COMMIT")


def pending_drop(connection) -> None:
    """The writes kept, dropped (the transaction they were for rolled back, or the connection closed)."""
    _pending_take(connection)


def _planned_statements(conn, converted: list[tuple]) -> list[tuple]:
    """Each converted statement (its Transformer and query) with whether and by what name it is prepared (the
    connection's ``PrepareManager``): a statement that appears twice in one round trip is prepared once, by its
    first, and the second runs what the first prepared."""
    planned, named = [], {}
    for transformer, query in converted:
        key = conn._prepared.key(query)
        if key in named:
            prepare, name = Prepare.YES, named[key]
        else:
            prepare, name = conn._prepared.get(query)
            if prepare is Prepare.SHOULD:
                named[key] = name
        planned.append((transformer, query, prepare, name))
    return planned


def _run(connection, sql: str, params: list, answer_rows: bool):
    """Run one of kassa.db's statements on ``connection`` (Django's wrapper) through the cursor ``_cursor`` keeps, and
    answer its rows, every one read (``answer_rows``), or how many rows it wrote. As Django's cursor runs it, but
    without its per-statement calls where nothing needs them: while no execute wrapper is installed (``together``'s
    refusal, a test or the profile counting statements, anything else) and queries are not logged (a debug cursor),
    the statement goes straight to the driver after the two checks Django's makes on the way, a transaction an error
    has broken refused and the driver's errors raised as Django's (``wrap_database_errors``): on PostgreSQL through
    libpq's own calls (``_libpq_run``), elsewhere through the driver's cursor. Django's
    wrapper spends about 0.01 to 0.02 ms of CPU a statement besides (its execute, its wrappers' loop, its ``fetchall``
    looked up and wrapped anew each time): some 3 % of a renewal's 20 (docs/performance-history.md). Otherwise, its way.
    A tool that watches statements by patching Django's cursor class (as some monitoring agents do) does not see
    these: one that installs an execute wrapper (``connection.execute_wrapper``) does, and sends them Django's way.
    A write kept for the connection's next statement (``with_next``) goes first, in the same round trip on libpq's
    path, alone before it otherwise."""
    cursor = _cursor(connection)
    driver = cursor.cursor
    fast = _fast(connection, cursor)
    if not (fast and _through_libpq(driver, params)) and _PENDING in connection.__dict__:
        _pending_send(connection, end=None)  # sent alone, before this one
    if not fast:
        cursor.execute(sql, params)
        return cursor.fetchall() if answer_rows else cursor.rowcount
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        if _through_libpq(driver, params):
            return _libpq_run(driver, sql, params, answer_rows, connection)
        driver.execute(sql, params)
        return driver.fetchall() if answer_rows else driver.rowcount


def _fast(connection, cursor) -> bool:
    """Whether ``_run`` may skip Django's cursor: no execute wrapper installed (but the one that sends the writes
    kept, ``_pending_first``, which ``_run`` does itself), queries not logged."""
    wrappers = connection.execute_wrappers
    return (not wrappers or wrappers == [_pending_first]) and type(cursor) is CursorWrapper


def _through_libpq(driver, params: list) -> bool:
    """``_libpq_run``'s conditions: PostgreSQL, its values bound by the server (prepared statements on), values given,
    rows as tuples, no pipeline of psycopg's own."""
    return (
        type(driver) is ServerBindingCursor
        and bool(params)
        and driver.row_factory is tuple_row
        and driver.connection._pipeline is None
    )


def _libpq_run(driver, sql: str, params: list, answer_rows: bool, connection=None):
    """What ``driver.execute`` then ``fetchall`` (or ``rowcount``) answer, through libpq's own calls: the statement
    sent (``PQsendQueryPrepared``, or ``PQsendQueryParams``), its result waited for by the connection's own wait
    (interruptible, a query cancelled on Ctrl-C, a lost connection raised as OperationalError, as the cursor's) and
    its rows loaded by psycopg's own Transformer, as its cursor does, but without the cursor's state machine around
    them (its execute generators, its results' bookkeeping, a Transformer made anew for each new statement's object):
    about a sixth of a statement's CPU in a renewal: 0.45 ms a renewal in one process, 0.19 in the worker, where two
    processes and PostgreSQL share the cores (docs/performance-history.md). Each step
    the cursor takes is taken with psycopg's own parts: the transaction begun if the connection is in one that
    has not begun (the BEGIN of psycopg's ``_start_query``, with the isolation level Django set, sent with the
    statement: ``_pipelined``); the statement's ``%s`` made ``$1``…
    and its values dumped by the cursor's adapters (``PostgresQuery``, psycopg's cache of parsed statements
    included); the statement prepared on the server by the connection's own ``PrepareManager`` (on its fifth run,
    Django's ``prepare_threshold``; the statements psycopg deallocates, all of them after a ROLLBACK, DROP or ALTER,
    and its oldest past ``prepared_max``, are this path's too, so neither ever runs a statement the other dropped);
    a result checked as the cursor checks it (a failed statement raised as the error psycopg raises,
    ``error_from_result``, which Django's ``wrap_database_errors`` around this makes Django's; rows asked of a
    statement that answers none refused); the rows loaded by the cursor's loaders (time zone, JSON, Kassa's
    ``_UtcLoader``). Only for a statement with values (none: the cursor's way, which runs several in one string),
    its values bound by the server (Django's ``ServerBindingCursor``, never its ``Cursor``, which binds them in
    Python), outside a pipeline, rows as tuples (``_run`` checks), under the connection's lock as the cursor's.
    psycopg is pinned (requirements/base.txt); tests run statements both ways and compare rows, counts, errors,
    prepared statements and transactions (tests/kassa/test_db.py). ``connection``: Django's wrapper, whose writes
    kept for this statement (``with_next``) are sent before it in the same round trip, once it is ready to go (its
    values dumped), each one's answer handed to its ``done``."""
    conn = driver.connection
    with conn.lock:
        transformer, query = _converted(driver, sql, params)
        pending = _pending_take(connection) if connection is not None and _PENDING in connection.__dict__ else []
        results = _sent(conn, [*((write.transformer, write.query) for write in pending), (transformer, query)])
    _pending_answered(pending, results)
    return _answer(transformer, results[-1], answer_rows)


def _converted(driver, sql: str, params: list) -> tuple[Transformer, _queries.PostgresQuery]:
    """A statement made ready to send on ``driver``: its Transformer (``_transformer``) and its query (``%s`` made
    ``$1``…, its values dumped: an error in them raised now)."""
    transformer = _transformer(driver)
    query = _queries.PostgresQuery(transformer)
    query.convert(sql, params)
    return transformer, query


_TRANSFORMER = "_kassa_transformer"  # on psycopg's cursor: the Transformer of kassa.db's statements on it


def _transformer(driver) -> Transformer:
    """The Transformer of the statements ``_libpq_run`` and ``with_next`` send on ``driver`` (psycopg's cursor, which
    ``_cursor`` keeps): one per cursor, made with its first statement. It is what turns a statement's values into what
    the server takes (a dumper for each Python type) and its answer's columns into Python values (a loader for each
    column's type), and it keeps the dumpers and loaders it found: a new one looks each up again in psycopg's Python
    ``AdaptersMap`` (``get_dumper``, ``get_loader``) and makes each loader anew, some 5 µs a statement of a renewal's
    kind (30 values, or 10 columns read: ``bench/renewals_profile.py``). psycopg's cursor keeps its own only for the
    same statement run again (``_start_query``); what it finds does not depend on the statement: the dumper on the
    value's type (and, for an integer or a list, on what ``get_key`` reads of the value), the loader on the column's
    type and the cursor's adapters, so every statement on the cursor gets what a new one would find. It holds no
    statement's values: a statement's query takes its own (``PostgresQuery.dump``: new lists each time), and its rows
    are loaded as its answer comes (``_answer``: the result set, read at once, then let go), so writes kept with it
    (``with_next``) may share it. Some loaders read session settings as they are made (a moment's the session's
    TimeZone and DateStyle, an interval's IntervalStyle), so a Transformer is kept only while those are what they were
    when it was made (the server reports each change: ``parameter_status``). A cursor whose adapters change
    (``cursor.adapters.register_loader``, which nothing in Kassa calls) would keep loaders found before: a new
    connection's cursor is a new cursor (``_cursor``)."""
    status = driver.connection.pgconn.parameter_status  # the server's last report of each, kept by libpq
    kept = driver.__dict__.get(_TRANSFORMER)
    if (
        kept is not None
        and kept[1] == status(b"TimeZone")
        and kept[2] == status(b"DateStyle")
        and kept[3] == status(b"IntervalStyle")
    ):
        return kept[0]
    transformer = Transformer(driver)
    driver.__dict__[_TRANSFORMER] = (transformer, status(b"TimeZone"), status(b"DateStyle"), status(b"IntervalStyle"))
    return transformer


def _sent(conn, converted: list[tuple], *, end: bytes | None = None) -> list:
    """Each converted statement's result (its Transformer and query: ``_planned_statements``), checked as the cursor
    checks it (``_results_checked``), under the connection's lock: one statement of a begun transaction, or outside
    one, alone as the cursor sends it (its PREPARE first, when it is to be prepared); else all in one round trip
    (``_pipelined``), after the transaction's BEGIN if the server has not begun it yet, and with ``end`` (a COMMIT).
    After a COMMIT, the statements past ``prepared_max`` are deallocated with the next statement, not here, where a
    failure would tell the caller its commit failed."""
    pgconn = conn.pgconn
    statements = _planned_statements(conn, converted)
    begin = not conn.autocommit and pgconn.transaction_status == _IDLE
    if begin or len(statements) > 1 or end is not None:
        results = _pipelined(conn, statements, begin=begin, end=end)
    else:
        ((_transformer, query, prepare, name),) = statements
        if prepare is Prepare.SHOULD:
            pgconn.send_prepare(name, query.query, query.types)
            _checked_all(conn.wait(generators.execute(pgconn)), conn)
        _send(pgconn, query, prepare, name)
        results = [conn.wait(generators.execute(pgconn))]
    _results_checked(conn, statements, results, maintain=end is None)
    return [result for (result,) in results]


def _results_checked(conn, statements: list[tuple], results: list[list], maintain: bool = True) -> None:
    """Each statement's results taken as the cursor takes them: counted by the connection's ``PrepareManager`` (a
    statement prepared now is known as prepared from now on), then checked (``_result_check``); then the statements
    that manager drops past its ``prepared_max`` deallocated, as the cursor does after each statement."""
    for made, (_transformer, query, prepare, name) in zip(results, statements, strict=True):
        key = conn._prepared.maybe_add_to_cache(query, prepare, name)
        if key is not None:
            conn._prepared.validate(key, prepare, name, made)
        (result,) = made  # one statement, one result (a second ``;`` is refused by the extended protocol)
        _result_check(result, conn)
    if maintain and conn._prepared._to_flush:
        conn.wait(conn._prepared.maintain_gen(conn))


def _answer(transformer, result, answer_rows: bool):
    """A checked result's rows (``answer_rows``) or count, as the cursor's ``fetchall`` or ``rowcount`` answer."""
    if answer_rows:
        if result.status != _TUPLES_OK:
            raise psycopg_errors.ProgrammingError("the last operation didn't produce records")
        transformer.set_pgresult(result)
        try:
            return transformer.load_rows(0, result.ntuples, tuple)
        finally:  # the Transformer outlives the statement (``_transformer``): it keeps no result alive
            transformer.set_pgresult(None, set_loaders=False)
    if result.status == _TUPLES_OK:
        return result.ntuples
    count = result.command_tuples
    return -1 if count is None else count


def _send(pgconn, query, prepare: Prepare, name: bytes) -> None:
    """Send ``query``: prepared by ``name`` (prepared before, or just now), or with its text when not to prepare."""
    if prepare is Prepare.NO:
        pgconn.send_query_params(query.query, query.params, query.types, query.formats)
    else:
        pgconn.send_query_prepared(name, query.params, query.formats)


def _pipelined(conn, statements: list[tuple], *, begin: bool = False, end: bytes | None = None) -> list[list]:
    """Each of ``statements``' results (``_planned_statements``), the statements sent together in one round trip
    (libpq's pipeline mode: the BEGIN psycopg's ``_start_query`` sends, its isolation level included, when ``begin``;
    then each statement, after its PREPARE when it is to be prepared; then ``end``, a command with no values (a COMMIT);
    then one Sync; each answer read in turn). The cursor's way waits for each answer before it sends the next command: a
    round trip each. What the server does is the same: it runs the commands in order, and one that fails aborts what
    follows it up to the Sync; the first failure is raised (a statement's by ``_result_check``, after this), as the
    cursor's way would have raised it. The connection is left as the cursor's way leaves it: idle in the transaction, in
    a failed one, or out of one after ``end``, and out of pipeline mode once every answer is read. The answers are read
    by the connection's own wait, as the cursor's are (interrupted, it cancels the statement and reads them to the end);
    should the connection be left in pipeline mode all the same (lost under it), it is closed, never used so."""
    pgconn = conn.pgconn
    kinds = []  # per command sent: True for a statement's, False for a BEGIN's, a PREPARE's or ``end``'s
    pgconn.enter_pipeline_mode()
    try:
        if begin:
            pgconn.send_query_params(conn._get_tx_start_command(), None)
            kinds.append(False)
        for _transformer, query, prepare, name in statements:
            if prepare is Prepare.SHOULD:
                pgconn.send_prepare(name, query.query, query.types)
                kinds.append(False)
            _send(pgconn, query, prepare, name)
            kinds.append(True)
        if end is not None:
            pgconn.send_query_params(end, None)
            kinds.append(False)
        pgconn.pipeline_sync()
        answers = conn.wait(_pipeline_read(pgconn, len(kinds)))
    finally:
        try:
            pgconn.exit_pipeline_mode()
        except psycopg_errors.Error:  # answers left unread: a connection in no state to go on
            pgconn.finish()
    for answer in answers:  # the first failure, in the order sent, is the one to raise
        _checked_all(answer, conn)
    return [answer for answer, statement in zip(answers, kinds, strict=True) if statement]


def _pipeline_read(pgconn, commands: int):
    """psycopg's wait generator: the pipeline sent, then each of its ``commands``' results, then its Sync's."""
    yield from generators.send(pgconn)
    answers = []
    for _command in range(commands):
        answers.append((yield from generators.fetch_many(pgconn)))
    yield from generators.fetch_many(pgconn)  # the Sync's, alone
    return answers


def _checked_all(results: list, conn) -> None:
    """A command's results (a PREPARE's, a BEGIN's, any in a pipeline) checked for a failure, raised as psycopg's."""
    for made in results:
        if made.status == _FATAL_ERROR:
            raise psycopg_errors.error_from_result(made, encoding=conn.info.encoding)


def _result_check(result, conn) -> None:
    """As the cursor checks a statement's result: a failure raised as psycopg's error for it, anything but rows or a
    command's count refused."""
    status = result.status
    if status == _FATAL_ERROR:
        raise psycopg_errors.error_from_result(result, encoding=conn.info.encoding)
    if status not in (_TUPLES_OK, _COMMAND_OK):
        raise psycopg_errors.ProgrammingError(f"unexpected result status from query: {status.name}")


def _inserted(
    instances: list[M],
    constraint: str | None,
    match: Field | None = None,
    queue: type[Model] | None = None,
    later: bool = False,
) -> list[int] | None:
    """INSERT the rows and set their keys (as ``insert_many`` says); none inserted on a conflict with
    ``constraint``: no key. ``match``: some may be left out (``insert_many_unless``), each row written found by that
    field's value, which the database hands back beside its key (the order of RETURNING's rows is not promised).
    ``queue``: with a row of it for each, in the same statement (``insert_many_queued``, PostgreSQL only). ``later``:
    sent with the transaction's next statement (``with_next``), the keys set once it is answered (None answered now);
    with ``match`` and no ``constraint`` only: an INSERT with no conflict clause answers every row, so there is no
    count to check, and every key is found by its value."""
    model = type(instances[0])
    if any(type(instance) is not model for instance in instances):
        raise TypeError("rows of one model are inserted together")
    using = router.db_for_write(model, instance=instances[0])
    connection = connections[using]
    returning = (match.column,) if match is not None else ()
    if queue is None:
        sql, fields = _statement(model, len(instances), using, constraint, returning)
    else:
        sql, fields = _queued_statement(model, len(instances), using, queue, returning)
    values = [value for instance in instances for value in _row_prepared(fields, instance, True, connection)]
    if later and keeps(connection):
        if match is None or constraint is not None:
            raise ValueError("_inserted: rows sent later are found by a unique field (match), with no conflict clause")
        with_next(sql, values, True, lambda written: _keys_set(instances, written, match, using), connection)
        return None
    written = rows(sql, values, connection)
    if match is not None:
        return _keys_set(instances, written, match, using)
    keys = [pk for (pk,) in written]
    if constraint is not None and not keys:
        return keys  # the row the constraint allows once is there: nothing written
    if len(keys) != len(instances):
        raise DatabaseError(f"{model._meta.label}: {len(instances)} rows inserted, {len(keys)} keys returned")
    for instance, pk in zip(instances, keys, strict=True):
        _keyed(instance, pk, using)
    return keys


def _keys_set(instances: list[Model], written: list[tuple], match: Field, using: str) -> list:
    """The keys of the rows written (``written``: each one's key and ``match``'s value) set on their instances, found
    by that value; the keys, in the instances' order."""
    found = {value: pk for pk, value in written}
    keyed = [(i, found[v]) for i in instances if (v := getattr(i, match.attname)) in found]
    for instance, pk in keyed:
        _keyed(instance, pk, using)
    return [pk for _instance, pk in keyed]


def _keyed(instance: Model, pk: object, using: str) -> None:
    """``instance`` as inserted: its key set, saved in ``using``."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using


@lru_cache(maxsize=1024)  # per model and set of columns (update_changed's vary with what a step changed)
def _update_where_statement(model: type[Model], names: tuple[str, ...], where: str, using: str) -> tuple[str, tuple]:
    meta = model._meta
    quote = connections[using].ops.quote_name
    fields = tuple(meta.get_field(name) for name in names)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {where}", _planned(fields)  # noqa: S608


def update(instance: M, fields: Iterable[str] | None = None) -> M:
    """UPDATE ``instance``'s row as ``instance.save(update_fields=fields)`` would (``fields`` None: every field
    loaded, as ``instance.save()``); a row that is not there raises DatabaseError, never inserts. Inside
    ``together``, sent with the block's other writes at its end."""
    meta = type(instance)._meta
    if fields is None:
        deferred = instance.get_deferred_fields()
        names = tuple(f.name for f in meta.concrete_fields if not f.primary_key and f.attname not in deferred)
    else:
        names = tuple(dict.fromkeys(meta.get_field(name).name for name in fields))
    return _update(instance, names)


def _update(instance: M, names: tuple[str, ...]) -> M:
    """``update`` of the fields named ``names`` (their names, each once: ``update`` makes them so)."""
    meta = type(instance)._meta
    using = router.db_for_write(type(instance), instance=instance)
    connection = connections[using]
    pk = connection.ops.quote_name(meta.pk.column)
    sql, concrete = _update_where_statement(type(instance), names, f"{pk} = %s", using)
    values = _row_prepared(concrete, instance, False, connection)
    _write(
        using,
        _Write(type(instance), sql, [*values, meta.pk.get_db_prep_value(instance.pk, connection)], instance.pk),
        connection,
    )
    instance._state.db = using
    return instance


class _Write(NamedTuple):
    """One UPDATE: its model, statement and values, and the key of the one row it must find (None: any number); or
    one INSERT (``together``): the same, with the new instance whose key it returns (``row``)."""

    model: type[Model]
    sql: str
    params: list
    one: object
    row: Model | None = None


_gathering = local()  # .writes: the writes of the ``together`` block this thread is in


def _write(using: str, write: _Write, connection=None) -> int | None:
    """Run ``write`` now (how many rows), or keep it for the ``together`` block this thread is in (None).
    ``connection``: ``using``'s, when the caller has it (each lookup is one of Django's, through asgiref's Local)."""
    gathered = getattr(_gathering, "writes", None)
    if gathered is not None:
        if using != DEFAULT_DB_ALIAS or any(kept.model is write.model for kept in gathered):
            raise ValueError(f"together: one write a table, on the default database ({write.model._meta.label})")
        gathered.append(write)
        return None
    # An INSERT's key, its rows read to their end whatever the driver: a kept cursor holds no statement open (_cursor).
    connection = connection if connection is not None else connections[using]
    answer = _run(connection, write.sql, write.params, write.row is not None)
    count = answer if write.row is None else answer[0][0]
    _checked(write, count, using)
    return count


def _checked(write: _Write, count: object, using: str = DEFAULT_DB_ALIAS) -> None:
    """An UPDATE's count of rows as it must be; an INSERT's key set on its instance."""
    if write.row is not None:
        if count is None:
            raise DatabaseError(f"{write.model._meta.label}: no row inserted")  # never: a plain INSERT
        _keyed(write.row, count, using)
    elif write.one is not None and count != 1:
        raise DatabaseError(f"{write.model._meta.label} {write.one}: no row updated")


@contextmanager
def together(*, with_next: bool = False) -> Iterator[None]:
    """The ``update``, ``update_where`` and ``insert`` calls inside the block are made at its end, on PostgreSQL in one
    statement (a ``WITH`` of the UPDATEs, each one's rows counted, and INSERTs, each one's key returned: one round
    trip, where each costs a statement's whole way through Django and psycopg), elsewhere one after the other; each
    is checked as it is alone (a row ``update`` does not find raises DatabaseError), ``update_where`` answers None
    inside, its count unknown until then, and an ``insert``'s instance has its key once the block has ended (a row
    written in the block may name a row written before it, never one written in it).
    At most one write a table (PostgreSQL makes the writes of one statement in no set order, and none of them sees
    another's). Nothing else may reach the database inside the block (it would run before the writes kept for its
    end): a statement there raises RuntimeError; the block raising drops its writes (the caller's transaction
    fails with it). Not nested. ``with_next``: on PostgreSQL, the block's statement is sent with the transaction's
    next one or its COMMIT (``with_next``), its UPDATEs' rows checked by the statement itself (``_together_result``),
    its INSERTs' keys set once it is answered."""
    if getattr(_gathering, "writes", None) is not None:
        raise RuntimeError("together: blocks are not nested")
    gathered = _gathering.writes = []
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.execute_wrapper(_refused):
            yield
    finally:
        _gathering.writes = None
    _flush(gathered, connection, later=with_next)


def _refused(execute, sql, params, many, context):
    raise RuntimeError("together: a statement inside the block would run before its writes")


def _flush(writes: list[_Write], connection, later: bool = False) -> None:
    """A ``together`` block's writes, made on ``connection`` (the default database's) (``later``: kept for the
    transaction's next statement, ``with_next``)."""
    if not writes:
        return
    later = later and keeps(connection)
    if connection.vendor != "postgresql" or (len(writes) < 2 and not later):
        for write in writes:
            _write(DEFAULT_DB_ALIAS, write, connection)
        return
    shapes = tuple((write.sql, write.row is not None, later and write.one is not None) for write in writes)
    params = [p for w in writes for p in w.params]

    def done(answer) -> None:
        (counts,) = answer
        for write, count in zip(writes, counts, strict=True):
            _checked(write, count)

    if later:  # every check made by the statement itself (``_together_result``): nothing is left to refuse after it
        with_next(_together_statement(shapes), params, True, done, connection)
    else:
        done(rows(_together_statement(shapes), params, connection))


@lru_cache(maxsize=128)
def _together_statement(shapes: tuple[tuple[str, bool, bool], ...]) -> str:
    """``shapes``: each write's statement, whether it is an INSERT (returning its one row's key: ``_statement``) or an
    UPDATE (its rows counted), and whether the statement itself refuses an UPDATE that does not find its one row."""
    parts = ", ".join(f"w{i} AS ({sql}{'' if row else ' RETURNING 1'})" for i, (sql, row, _one) in enumerate(shapes))
    counts = ", ".join(_together_result(i, row, one, sql) for i, (sql, row, one) in enumerate(shapes))
    return f"WITH {parts} SELECT {counts}"


def _together_result(i: int, row: bool, one: bool, sql: str) -> str:
    """What the ``i``-th write of a ``together`` statement answers: an INSERT's key, an UPDATE's count of rows. ``one``:
    the count is checked by the statement: anything but one row fails it, as ``_checked`` would after it, with an
    error naming the table and the count (``invalid input syntax for type integer: "kassa: no row updated in
    <table>: 0"``, a DataError, raised by the statement: a cast of text made from the count, which the planner cannot
    make before the count is known, as it could a constant's). So a write sent with the transaction's COMMIT
    (``with_next``) can be refused by the statement and fail the transaction, where a check made after the COMMIT
    came too late."""
    if row:
        return f"(SELECT * FROM w{i})"  # noqa: S608 (no values)
    if not one:
        return f"(SELECT COUNT(*) FROM w{i})"  # noqa: S608 (no values)
    table = sql.split()[1].strip('"')  # UPDATE "table" SET …: a model's table name
    refused = f"CAST('kassa: no row updated in {table}: ' || COUNT(*) AS integer)"
    return f"(SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE {refused} END FROM w{i})"  # noqa: S608 (no values)


#: Values that never change in place, so that ``!=`` tells whether a field was set to something else; a field
#: holding anything else (a JSON field's dict or list, changed in place, looks the same) is written whatever.
_IMMUTABLE = (str, int, float, Decimal, date, time, timedelta, UUID, bytes, type(None))


@cache
def _fields_kept(model: type[Model]) -> tuple[tuple[str, str, bool], ...]:
    """``model``'s concrete fields but its key, as ``snapshot`` and ``update_changed`` go through them: each one's
    attribute, name, and whether it is stamped on each save (``auto_now``)."""
    return tuple(
        (f.attname, f.name, bool(getattr(f, "auto_now", False)))
        for f in model._meta.concrete_fields
        if not f.primary_key
    )


def snapshot(instance: Model) -> dict:
    """``instance``'s loaded values, for ``update_changed`` to write what changes after this. A field's value is read
    from the instance's own attributes, where Django keeps a loaded field's (one not loaded, deferred, is not
    there and is left out, as ``get_deferred_fields`` leaves it out)."""
    values = instance.__dict__
    return {attname: values[attname] for attname, _name, _stamped in _fields_kept(type(instance)) if attname in values}


def update_changed(instance: M, before: dict) -> M:
    """``update`` of the fields set to another value since ``snapshot`` took ``before`` (read or written then: the
    row held what ``before`` holds), with those that hold mutable values (JSON) and those stamped on each save
    (``auto_now``) whatever: for a row of many columns of which a step changes a few, each of its values prepared
    and sent: a finalized invoice's UPDATE went from 56 values to about 20. The fields are gone through as
    ``snapshot`` goes through them, once listed per model (listing them and reading each one's attribute through
    ``getattr``, twice an invoice, was about 3 % of a renewal's Python calls)."""
    values = instance.__dict__
    names = []
    for attname, name, stamped in _fields_kept(type(instance)):
        if attname not in before:
            continue
        value = values[attname] if attname in values else getattr(instance, attname)
        if stamped or not isinstance(value, _IMMUTABLE) or value != before[attname]:
            names.append(name)
    return _update(instance, tuple(names)) if names else instance  # each a field's name, once (_fields_kept)


def update_where(model: type[Model], values: dict, where: str, params: list) -> int | None:
    """``model.objects.filter(…).update(**values)`` for the rows ``WHERE where`` (SQL naming the table's own
    columns, values as ``%s`` in ``params``), through a statement built once per shape; how many rows (None inside
    ``together``, made at the block's end). As a queryset's ``update``, it neither calls ``save()`` nor sends
    signals, and sets only ``values``."""
    using = router.db_for_write(model)
    connection = connections[using]
    sql, fields = _update_where_statement(model, tuple(values), where, using)
    prepared = _values_prepared(fields, list(values.values()), connection)
    return _write(using, _Write(model, sql, [*prepared, *params], None), connection)


def columns(model: type[Model], using: str = DEFAULT_DB_ALIAS) -> str:
    """Every column of ``model``'s table, named with the table, in the order of its concrete fields (the order
    ``Model.from_db`` and ``objects.raw`` take them in)."""
    quote = connections[using].ops.quote_name
    table = quote(model._meta.db_table)
    return ", ".join(f"{table}.{quote(field.column)}" for field in model._meta.concrete_fields)


@cache
def _select_statement(
    model: type[Model], where: str, tail: str, lock: bool, skip_locked: bool, extra: tuple, using: str
) -> tuple[str, list, list]:
    meta = model._meta
    connection = connections[using]
    fields = meta.concrete_fields
    locking = ""
    if lock and connection.features.has_select_for_update:
        if skip_locked and not connection.features.has_select_for_update_skip_locked:
            raise NotSupportedError("SKIP LOCKED is not supported on this database backend.")  # as the ORM's
        locking = " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"
    table = connection.ops.quote_name(meta.db_table)
    added = "".join(f", {sql} AS {connection.ops.quote_name(name)}" for name, sql in extra)
    sql = f"SELECT {columns(model, using)}{added} FROM {table} WHERE {where}{f' {tail}' if tail else ''}{locking}"  # noqa: S608
    converters = []  # the columns that have converters alone (most have none), with their places
    for i, field in enumerate(fields):  # as the ORM's compiler converts a column it reads (its get_converters)
        column = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((i, found, column))
    return sql, [f.attname for f in fields], converters


def select(
    model: type[M],
    where: str,
    params: list,
    *,
    tail: str = "",
    lock: bool = False,
    skip_locked: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
) -> list[M]:
    """``model``'s rows ``WHERE where`` (SQL naming the table's own columns, values as ``%s`` in ``params``) with
    ``tail`` (``ORDER BY id LIMIT 2``), locked ``FOR UPDATE`` with ``lock`` where the database locks rows (``FOR
    UPDATE SKIP LOCKED`` with ``skip_locked`` too): every column, converted and made into instances as the ORM makes
    them, through a statement built once per shape (an ORM query compiles its SQL anew each time: 0.9 against 0.5 ms
    of CPU for one row, measured on PostgreSQL; ``objects.raw`` maps its columns anew each time too). ``extra``:
    ``(name, SQL expression)`` pairs read as more columns and set on each instance as attributes, as an
    annotation is (not converted: plain numbers); their ``%s`` values come first in ``params``. For the hottest reads
    of one table; the ORM for everything else."""
    using = router.db_for_write(model) if lock else router.db_for_read(model)  # a lock is the writer's to take
    connection = connections[using]
    if lock:
        _lock_in_transaction(connection, "select(lock=True)")
    statement = _select_statement(model, where, tail, lock, skip_locked, extra, using)
    read = rows(statement[0], params, connection)
    made = []
    width = len(statement[1])
    for row in read:
        instance = _made(model, using, statement, list(row[:width]), connection)
        for (name, _sql), value in zip(extra, row[width:], strict=True):
            setattr(instance, name, value)
        made.append(instance)
    return made


def _made(model: type[M], using: str, statement: tuple, values: list, connection) -> M:
    """One row's instance from its ``values``, converted as ``select`` converts them (``statement``: what
    ``_select_statement`` answers for ``model``)."""
    _sql, names, converters = statement
    for i, found, column in converters:
        for converter in found:
            values[i] = converter(values[i], column, connection)
    return _from_row(model, using, names, values)


def select_locked_with(model: type[M], relation: str, where: str, params: list) -> list[M]:
    """``select(model, where, params, lock=True)``, each row with the row its foreign key ``relation`` names locked
    too, after it, and kept on it as the ORM keeps an object read with it (``related`` answers it; None where the key
    is null). On PostgreSQL in one statement, a ``WITH`` of the two locking reads, the second reading the keys the
    first locked: a statement fewer than the two reads (a paid renewal's invoice and its subscription). Each row
    locked is read as it is once locked, whatever committed while the statement waited for it (PostgreSQL reads a
    row ``FOR UPDATE`` again as its newest version, for every table the statement locks), so this is for a row that
    exists as long as the first one names it (a foreign key), not for rows that may be added meanwhile (a join
    would miss those: they are not in the statement's snapshot). Elsewhere, ``select`` then ``select_one`` locked."""
    using = router.db_for_write(model)
    connection = connections[using]
    field = model._meta.get_field(relation)
    target = field.related_model
    if connection.vendor != "postgresql":
        found = select(model, where, params, lock=True)
        for instance in found:
            key = getattr(instance, field.attname)
            locked = None if key is None else select_one(target, f"{field.target_field.column} = %s", [key], lock=True)
            field.set_cached_value(instance, locked)
        return found
    _lock_in_transaction(connection, "select_locked_with")
    sql, first, second = _locked_with_statement(model, relation, where, using)
    made = []
    width, key = len(first[1]), len(first[1]) + second[1].index(target._meta.pk.attname)
    for row in rows(sql, params, connection):
        instance = _made(model, using, first, list(row[:width]), connection)
        locked = None if row[key] is None else _made(target, using, second, list(row[width:]), connection)
        field.set_cached_value(instance, locked)  # None: its key is null (the join found nothing)
        made.append(instance)
    return made


def _lock_in_transaction(connection, what: str) -> None:
    """As the ORM's ``select_for_update()``: a lock outside a transaction would end with its statement, refused."""
    # Inside an atomic block autocommit is off (Django refuses to turn it on there): asked only outside one, where
    # get_autocommit's checks (async_unsafe's among them) are worth their cost.
    if connection.features.has_select_for_update and not connection.in_atomic_block and connection.get_autocommit():
        raise TransactionManagementError(f"{what} cannot be used outside of a transaction.")


@cache
def _locked_with_statement(model: type[Model], relation: str, where: str, using: str) -> tuple[str, tuple, tuple]:
    """``select_locked_with``'s statement, and ``_select_statement``'s answer for each of its two models."""
    quote = connections[using].ops.quote_name
    field = model._meta.get_field(relation)
    target = field.related_model
    first = _select_statement(model, where, "", True, False, (), using)
    keys = f"{quote(field.target_field.column)} IN (SELECT {quote(field.column)} FROM kassa_first)"  # noqa: S608
    second = _select_statement(target, keys, "", True, False, (), using)
    joined = f"kassa_second.{quote(field.target_field.column)} = kassa_first.{quote(field.column)}"
    sql = (
        f"WITH kassa_first AS ({first[0]}), kassa_second AS ({second[0]}) "  # noqa: S608
        f"SELECT kassa_first.*, kassa_second.* FROM kassa_first LEFT JOIN kassa_second ON {joined}"
    )
    return sql, first, second


#: The rows locked with another by the caller (``held``), as (id of the instance, relation) pairs.
_held: ContextVar[frozenset] = ContextVar("kassa_db_held", default=frozenset())


@contextmanager
def held(instance: Model, relation: str) -> Iterator[None]:
    """Inside the block, ``is_held(instance, relation)``: the caller says the row ``instance.<relation>`` names is
    locked in the transaction the block runs in and kept on ``instance`` as read once locked (``select_locked_with``),
    so that what the block calls need not lock and read it again. A block, not a mark on the instance: the lock ends
    with its transaction, the instance may outlive it."""
    token = _held.set(_held.get() | {(id(instance), relation)})
    try:
        yield
    finally:
        _held.reset(token)


def is_held(instance: Model, relation: str) -> bool:
    """Whether a ``held`` block says ``instance.<relation>`` is locked and kept on it."""
    return (id(instance), relation) in _held.get()


def select_one(model: type[M], where: str, params: list, *, lock: bool = False) -> M:
    """The one row ``select`` finds; none raises ``model.DoesNotExist``, as ``get`` does."""
    found = select(model, where, params, lock=lock)
    if not found:
        raise model.DoesNotExist(f"No {model._meta.label} where {where} {params}")
    return found[0]


def related(instance: Model, name: str) -> Model | None:
    """``instance.<name>``, a foreign key: as the ORM's descriptor answers it (the object read with ``instance``,
    else read now and kept on ``instance``; None when the key is null), but read through a statement built once
    (``select_one``) rather than a query compiled on each call."""
    field = type(instance)._meta.get_field(name)
    if field.is_cached(instance):
        return field.get_cached_value(instance)
    key = getattr(instance, field.attname)
    found = None if key is None else select_one(field.related_model, f"{field.target_field.column} = %s", [key])
    field.set_cached_value(instance, found)
    return found


def read_with(instance: Model, name: str) -> list | None:
    """What ``instance.<name>.all()`` answers (a many-to-many or reverse foreign key), when it was read with
    ``instance`` (``prefetch_related``, or handed over as such): a list; else None. Read from the ORM's own cache,
    without the related manager ``instance.<name>`` builds anew on each access (a many-to-many one computes its
    filters as it is made: about a twentieth of a renewal's CPU went on making managers only to read what was
    read already, measured with py-spy; docs/performance-history.md)."""
    found = getattr(instance, "_prefetched_objects_cache", {}).get(name)
    return None if found is None else list(found)


def many(instance: Model, name: str) -> list:
    """``list(instance.<name>.all())``: as read with ``instance`` (``read_with``), else read now."""
    found = read_with(instance, name)
    return found if found is not None else list(getattr(instance, name).all())
