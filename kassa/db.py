"""``insert`` and ``update``: one row written through a statement compiled once per model (and fields), for the
hottest writes: the API's, and a renewal's (README, Performance).

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

from django.db import DatabaseError, connections, router
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
