"""Installed the first, hand-typed conversions_attribute(). Its text no longer lives in a
migration: the function is generated from the rule definitions by conversions.sql and installed
by migration 0007 and after every migrate (conversions.receivers). Kept, empty, so existing
databases' migration history stays whole."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("conversions", "0003_conversion_items"),
        ("participants", "0003_participant_erased_at"),
        ("codes", "0007_validate_code_constraints"),
        ("programs", "0002_program_name_single_line"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
