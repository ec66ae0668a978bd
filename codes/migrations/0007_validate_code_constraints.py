"""Validate, outside any long transaction, the CHECK constraints 0006 added NOT VALID on
PostgreSQL: VALIDATE CONSTRAINT scans the codes table under a lock that lets codes be read,
assigned and redeemed meanwhile (SHARE UPDATE EXCLUSIVE), unlike adding a constraint."""

from django.db import migrations

CONSTRAINTS = [
    "promocode_status_valid",
    "promocode_available_iff_unheld",
    "promocode_voided_at_only_when_voided",
]


def validate(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite checked every row when it rebuilt the table
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE codes_promocode VALIDATE CONSTRAINT {name}")


class Migration(migrations.Migration):
    atomic = False  # each VALIDATE commits on its own

    dependencies = [("codes", "0006_code_lifecycle")]

    operations = [migrations.RunPython(validate, migrations.RunPython.noop)]
