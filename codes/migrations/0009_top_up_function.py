"""The top-up of one advocate as one PostgreSQL function (codes.sql.top_up_function_sql): one
round trip instead of five. Its text is built from the code-state rules (CodeState) by the
codes app, and every later migrate re-installs it (codes.receivers), so the rules live in one
place. SQLite keeps the statement-by-statement top-up."""

from django.db import migrations

from codes.sql import TOP_UP_FUNCTION, top_up_function_install


def install(apps, schema_editor):
    top_up_function_install()


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {TOP_UP_FUNCTION}")


class Migration(migrations.Migration):
    dependencies = [("codes", "0008_pool_name_single_line")]

    operations = [migrations.RunPython(install, drop)]
