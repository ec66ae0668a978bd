"""A read compiled to SQL once per database connection, then run with its one parameter.

For the hot reads of the API (widget /me): building a query through the ORM (resolving the
filters, joins and SQL text) cost more than running it. The query is built once with a
sentinel standing for the parameter (an id no row has), compiled, and run afterwards with the
parameter put where the sentinel was; the rows pass through the same converters as the ORM's
own values_list(), so they are what the ORM would give.
"""

import weakref
from collections.abc import Callable

from django.db import connections, router
from django.db.models import Model, QuerySet

SENTINEL = -7_319_046_201


class CompiledQuery:
    def __init__(self, model: type[Model], build: Callable[[int], QuerySet]):
        """`build(parameter)` answers the queryset (a values_list) for one parameter."""
        self.model = model
        self.build = build
        self._by_connection = weakref.WeakKeyDictionary()

    def _compiled(self, connection):
        compiled = self._by_connection.get(connection)
        if compiled is None:
            query = self.build(SENTINEL).using(connection.alias).query
            compiler = query.get_compiler(connection=connection)
            sql, params = compiler.as_sql()
            positions = [i for i, value in enumerate(params) if value == SENTINEL]
            if not positions:
                raise RuntimeError(f"{self.build!r}: the parameter is not in the query")
            converters = compiler.get_converters([column[0] for column in compiler.select])
            compiled = (sql, list(params), positions, compiler, converters)
            self._by_connection[connection] = compiled
        return compiled

    def rows(self, parameter: int) -> list:
        connection = connections[router.db_for_read(self.model)]
        sql, params, positions, compiler, converters = self._compiled(connection)
        params = list(params)
        for position in positions:
            params[position] = parameter
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            rows = [tuple(row) for row in compiler.apply_converters(rows, converters)]
        return rows
