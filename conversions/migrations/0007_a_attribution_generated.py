"""conversions_attribute() generated from the rule definitions (conversions.sql), replacing the
hand-typed copy: it answers refusal codes, not outcomes to re-derive. Every later migrate
re-installs it (conversions.receivers)."""

from django.db import migrations

from conversions.sql import attribute_function_drop_sql, attribute_function_install


def install(apps, schema_editor):
    attribute_function_install()


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(attribute_function_drop_sql())


class Migration(migrations.Migration):
    dependencies = [
        ("conversions", "0006_a_reason_code"),
        ("codes", "0012_pool_use_index"),
        ("participants", "0005_read_api_indexes"),
        ("programs", "0003_program_managers_group"),
    ]

    operations = [migrations.RunPython(install, drop, elidable=False)]
