"""``insert``: one new row through a statement compiled once per model, for the API's hottest writes.

``Model.objects.create`` compiles its INSERT anew on every call; on a
request that writes two rows (the object and its outbox event) that was
about a third of the Python work of an API write (README, Performance).
``insert`` does what ``create`` does for a plain model, in the same order
and with the same field conversions (``pre_save``, ``get_db_prep_save``),
but reuses the statement. It sends no ``pre_save``/``post_save`` signals and
calls no ``save()`` override: use it only for models that have neither
(Kassa's have none; a test keeps it so).
"""

from functools import cache
from typing import TypeVar

from django.db import connections, router
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
