"""The canonical-form CHECK of a code in its cheaper equivalent form: `code ~ '^[A-Z0-9_-]+$'
AND char_length(code) <= 64` instead of `code ~ '^[A-Z0-9_-]{1,64}$'` (the same codes pass;
PostgreSQL's regex engine spends about three times as long on the bounded repeat, paid on every
row an import inserts).

PostgreSQL: the new constraint is added NOT VALID in the same transaction that drops the old one
(no scan under an exclusive lock), then validated outside it while codes keep being assigned,
as in 0006/0007. SQLite rebuilds the table as usual."""

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models

OLD = models.CheckConstraint(
    condition=models.Q(("code__regex", "^[A-Z0-9_-]{1,64}$")), name="promocode_canonical_form"
)
NEW = models.CheckConstraint(
    condition=models.Q(
        ("code__regex", "^[A-Z0-9_-]+$"),
        django.db.models.lookups.LessThanOrEqual(
            django.db.models.functions.text.Length("code"), 64
        ),
    ),
    name="promocode_canonical_form",
)


def swap(old, new, *, not_valid):
    def run(apps, schema_editor):
        model = apps.get_model("codes", "PromoCode")
        schema_editor.remove_constraint(model, old)
        if not_valid and schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(str(new.create_sql(model, schema_editor)) + " NOT VALID")
        else:
            schema_editor.add_constraint(model, new)

    return run


def validate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE codes_promocode VALIDATE CONSTRAINT promocode_canonical_form"
        )


class Migration(migrations.Migration):
    atomic = False  # the swap commits, then VALIDATE runs in a transaction of its own

    dependencies = [("codes", "0009_top_up_function")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="promocode", name=OLD.name),
                migrations.AddConstraint(model_name="promocode", constraint=NEW),
            ],
            database_operations=[
                migrations.RunPython(
                    swap(OLD, NEW, not_valid=True),
                    swap(NEW, OLD, not_valid=False),
                    atomic=True,
                )
            ],
        ),
        migrations.RunPython(validate, migrations.RunPython.noop, atomic=True),
    ]
