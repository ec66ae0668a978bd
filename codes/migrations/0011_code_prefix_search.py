"""The unique (program, code) index rebuilt with the pattern operator class, so that it also
serves the code manager's prefix search (`code LIKE 'AB%'`): a plain btree serves LIKE only
under the C collation. Built CONCURRENTLY beside the old one on PostgreSQL, so codes keep being
read, assigned and imported meanwhile; SQLite has no operator classes (state only)."""

from django.db import migrations, models

FORWARDS = [
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS promocode_unique_per_program_new "
    "ON codes_promocode (program_id int8_ops, code varchar_pattern_ops)",
    "ALTER TABLE codes_promocode DROP CONSTRAINT IF EXISTS promocode_unique_per_program",
    "ALTER INDEX promocode_unique_per_program_new RENAME TO promocode_unique_per_program",
]
BACKWARDS = [
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS promocode_unique_per_program_old "
    "ON codes_promocode (program_id, code)",
    "DROP INDEX IF EXISTS promocode_unique_per_program",
    "ALTER TABLE codes_promocode ADD CONSTRAINT promocode_unique_per_program "
    "UNIQUE USING INDEX promocode_unique_per_program_old",
]


def on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("codes", "0010_cheaper_code_check")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="promocode", name="promocode_unique_per_program"
                ),
                migrations.AddConstraint(
                    model_name="promocode",
                    constraint=models.UniqueConstraint(
                        fields=("program", "code"),
                        name="promocode_unique_per_program",
                        opclasses=["int8_ops", "varchar_pattern_ops"],
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(on_postgresql(FORWARDS), on_postgresql(BACKWARDS))
            ],
        )
    ]
