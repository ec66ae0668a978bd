"""Program names reach e-mail subjects: one line, no control characters.

Existing names holding control characters (a CR or LF breaks every low-stock e-mail of the
program) are cleaned, not refused: each run of control characters becomes one space, so the
deploy goes through and the name reads as its author meant. The programs changed are listed.
"""

import re

import programs.validators
from django.db import migrations, models

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]+")


def clean_program_names(apps, schema_editor):
    Program = apps.get_model("programs", "Program")
    changed = []
    for pk, name in Program.objects.values_list("pk", "name").iterator():
        if _CONTROL.search(name):
            cleaned = " ".join(_CONTROL.sub(" ", name).split()) or f"Program {pk}"
            Program.objects.filter(pk=pk).update(name=cleaned[:200])
            changed.append(pk)
    if changed:
        ids = ", ".join(str(pk) for pk in changed)
        print(f"\n  Program names cleaned of control characters (program ids): {ids}")


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(clean_program_names, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="program",
            name="name",
            field=models.CharField(
                max_length=200, validators=[programs.validators.validate_single_line]
            ),
        ),
    ]
