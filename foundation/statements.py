"""Two statements in one round trip, each with its own snapshot (PostgreSQL)."""

from django.db import connection


def execute_after(cursor, before: tuple[str, list], sql: str, params: list) -> None:
    """Run the statement `before` (its SQL and parameters; nothing when its SQL is empty), then
    `sql` on `cursor`, leaving `sql`'s rows to fetch. With client-side binding (Django's default
    on psycopg) both go in one message: PostgreSQL runs them one after the other, `sql` with a
    snapshot taken after `before` is done (READ COMMITTED), as if sent in turn. Otherwise (or
    on another database) they are sent in turn."""
    before_sql, before_params = before
    if not before_sql:
        cursor.execute(sql, params)
        return
    if connection.vendor == "postgresql" and _binds_on_client(cursor):
        cursor.execute(f"{before_sql}; {sql}", [*before_params, *params])
        cursor.nextset()
        return
    cursor.execute(before_sql, before_params)
    cursor.execute(sql, params)


def _binds_on_client(cursor) -> bool:
    import psycopg

    return isinstance(cursor.cursor, psycopg.ClientCursor)
