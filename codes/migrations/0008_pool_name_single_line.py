"""Pool names reach low-stock e-mail subjects: one line, no control characters.

Existing names holding control characters (a CR or LF made every later stock check of the
program fail on the e-mail header) are cleaned, not refused: each run of control characters
becomes one space, so the deploy goes through and the name reads as its author meant. The
pools changed are listed.
"""

import re

import programs.validators
from django.db import migrations, models

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]+")


def clean_pool_names(apps, schema_editor):
    Pool = apps.get_model("codes", "Pool")
    changed = []
    for pk, name in Pool.objects.values_list("pk", "name").iterator():
        if _CONTROL.search(name):
            cleaned = " ".join(_CONTROL.sub(" ", name).split()) or f"Pool {pk}"
            Pool.objects.filter(pk=pk).update(name=cleaned[:100])
            changed.append(pk)
    if changed:
        ids = ", ".join(str(pk) for pk in changed)
        print(f"\n  Pool names cleaned of control characters (pool ids): {ids}")


class Migration(migrations.Migration):
    dependencies = [
        ("codes", "0007_validate_code_constraints"),
        ("programs", "0002_program_name_single_line"),
    ]

    operations = [
        migrations.RunPython(clean_pool_names, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="pool",
            name="name",
            field=models.CharField(
                max_length=100, validators=[programs.validators.validate_single_line]
            ),
        ),
    ]
