"""A rule written once as a Django `Q`, read three ways: by the ORM (a filter), in SQL (a
fragment compiled by Django, for statements and database functions) and on an object already
in memory (`matches`, without a query). docs/architecture.md, Where each rule lives.

`matches` understands what the rules use: AND, OR and NOT of `field=value`,
`field__in=[…]` and `field__isnull=…`, across foreign keys (`pool__kind`). Anything else is
refused loudly rather than guessed.
"""

from django.db import connection
from django.db.models import Model, Q

_LOOKUPS = ("exact", "in", "isnull")


def matches(predicate: Q, obj) -> bool:
    """Whether `obj` (a model instance, its related objects loaded) satisfies `predicate`."""
    outcomes = (
        matches(child, obj) if isinstance(child, Q) else _lookup(obj, *child)
        for child in predicate.children
    )
    result = all(outcomes) if predicate.connector == Q.AND else any(outcomes)
    return not result if predicate.negated else result


def _lookup(obj, path: str, expected) -> bool:
    names = path.split("__")
    lookup = names.pop() if names[-1] in _LOOKUPS and len(names) > 1 else "exact"
    value = obj
    for position, name in enumerate(names):
        if value is None:
            break
        last = position == len(names) - 1
        if last and lookup == "isnull" and isinstance(value, Model):
            # A foreign key's own column, without loading the related row.
            value = getattr(value, value._meta.get_field(name).attname)
        else:
            value = getattr(value, name)
    if lookup == "isnull":
        return (value is None) == expected
    if lookup == "in":
        return value in expected
    return value == expected


def predicate_sql(model: type[Model], predicate: Q, aliases: dict[str, str]) -> str:
    """`predicate` on `model` as a SQL fragment with its values written in (for a function
    body), each table renamed to its alias in `aliases` (table name → alias)."""
    query = model._base_manager.filter(predicate).query
    compiler = query.get_compiler(connection=connection)
    sql, params = query.where.as_sql(compiler, connection)
    for table, alias in aliases.items():
        sql = sql.replace(f'"{table}".', f"{alias}.")
    return connection.ops.compose_sql(sql, list(params))
