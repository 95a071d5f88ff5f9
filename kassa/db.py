"""``insert``, ``update`` and ``select``: rows written and read through statements compiled once per model (and
shape), for the hottest paths: the API's writes, and a renewal's (README, Performance).

``Model.objects.create`` compiles its INSERT anew on every call; on a
request that writes two rows (the object and its outbox event) that was
about a third of the Python work of an API write (README, Performance).
``insert`` does what ``create`` does for a plain model, in the same order
and with the same field conversions (``pre_save``, ``get_db_prep_save``),
but reuses the statement. ``update`` is ``save()`` (every loaded field) or
``save(update_fields=…)`` of a row that exists, the same way: Django
compiles a save's UPDATE anew each time too, a renewal saves about ten
rows, and the compiling was a fifth of its CPU. Neither sends
``pre_save``/``post_save`` signals nor calls a ``save()`` override: use
them only for models that have neither (Kassa's have none; a test keeps it
so).
"""

from collections.abc import Iterable
from functools import cache
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router
from django.db.models import Model

M = TypeVar("M", bound=Model)


@cache
def _statement(model: type[Model], using: str) -> tuple[str, tuple]:
    meta = model._meta
    quote = connections[using].ops.quote_name
    fields = tuple(f for f in meta.concrete_fields if f is not meta.pk or not f.db_returning)
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) RETURNING {quote(meta.pk.column)}"  # noqa: S608
    return sql, fields


def insert(instance: M) -> M:
    """INSERT ``instance`` (new, unsaved) and set its primary key, as ``Model.objects.create`` would."""
    using = router.db_for_write(type(instance), instance=instance)
    connection = connections[using]
    sql, fields = _statement(type(instance), using)
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection=connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        (pk,) = cursor.fetchone()
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using
    return instance


@cache
def _update_statement(model: type[Model], names: tuple[str, ...], using: str) -> tuple[str, tuple]:
    meta = model._meta
    quote = connections[using].ops.quote_name
    fields = tuple(meta.get_field(name) for name in names)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    return sql, fields


def update(instance: M, fields: Iterable[str] | None = None) -> M:
    """UPDATE ``instance``'s row as ``instance.save(update_fields=fields)`` would (``fields`` None: every field
    loaded, as ``instance.save()``); a row that is not there raises DatabaseError, never inserts."""
    meta = type(instance)._meta
    if fields is None:
        deferred = instance.get_deferred_fields()
        names = tuple(f.name for f in meta.concrete_fields if not f.primary_key and f.attname not in deferred)
    else:
        names = tuple(dict.fromkeys(meta.get_field(name).name for name in fields))
    using = router.db_for_write(type(instance), instance=instance)
    connection = connections[using]
    sql, concrete = _update_statement(type(instance), names, using)
    values = [f.get_db_prep_save(f.pre_save(instance, False), connection=connection) for f in concrete]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, meta.pk.get_db_prep_value(instance.pk, connection)])
        if cursor.rowcount != 1:
            raise DatabaseError(f"{meta.label} {instance.pk}: no row updated")
    instance._state.db = using
    return instance


def columns(model: type[Model], using: str = DEFAULT_DB_ALIAS) -> str:
    """Every column of ``model``'s table, named with the table, in the order of its concrete fields (the order
    ``Model.from_db`` and ``objects.raw`` take them in)."""
    quote = connections[using].ops.quote_name
    table = quote(model._meta.db_table)
    return ", ".join(f"{table}.{quote(field.column)}" for field in model._meta.concrete_fields)


@cache
def _select_statement(model: type[Model], where: str, tail: str, lock: bool, using: str) -> tuple[str, list, list]:
    meta = model._meta
    connection = connections[using]
    fields = meta.concrete_fields
    locking = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    table = connection.ops.quote_name(meta.db_table)
    sql = f"SELECT {columns(model, using)} FROM {table} WHERE {where}{f' {tail}' if tail else ''}{locking}"  # noqa: S608
    converters = []
    for field in fields:  # as the ORM's compiler converts a column it reads (SQLCompiler.get_converters)
        column = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        converters.append((found, column))
    return sql, [f.attname for f in fields], converters


def select(model: type[M], where: str, params: list, *, tail: str = "", lock: bool = False) -> list[M]:
    """``model``'s rows ``WHERE where`` (SQL naming the table's own columns, values as ``%s`` in ``params``) with
    ``tail`` (``ORDER BY id LIMIT 2``), locked ``FOR UPDATE`` with ``lock`` where the database locks rows: every
    column, converted and made into instances as the ORM makes them, through a statement built once per shape (an
    ORM query compiles its SQL anew each time: 0.9 against 0.5 ms of CPU for one row, measured on PostgreSQL).
    For the hottest reads of one table; the ORM for everything else."""
    using = router.db_for_write(model) if lock else router.db_for_read(model)  # a lock is the writer's to take
    connection = connections[using]
    sql, names, converters = _select_statement(model, where, tail, lock, using)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    made = []
    for row in rows:
        values = list(row)
        for i, (found, column) in enumerate(converters):
            for converter in found:
                values[i] = converter(values[i], column, connection)
        made.append(model.from_db(using, names, values))
    return made


def select_one(model: type[M], where: str, params: list, *, lock: bool = False) -> M:
    """The one row ``select`` finds; none raises ``model.DoesNotExist``, as ``get`` does."""
    rows = select(model, where, params, lock=lock)
    if not rows:
        raise model.DoesNotExist(f"No {model._meta.label} where {where} {params}")
    return rows[0]
