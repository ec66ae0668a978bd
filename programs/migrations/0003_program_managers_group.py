"""The "Program managers" group (programs.roles: its permissions, and why those)."""

from django.db import migrations


def create_group(apps, schema_editor):
    from programs.roles import program_managers_group_sync

    program_managers_group_sync(apps=apps, using=schema_editor.connection.alias)


def delete_group(apps, schema_editor):
    from programs.roles import PROGRAM_MANAGERS_GROUP

    apps.get_model("auth", "Group").objects.filter(name=PROGRAM_MANAGERS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0002_program_name_single_line"),
        ("codes", "0007_validate_code_constraints"),
        ("participants", "0003_participant_erased_at"),
        ("conversions", "0003_conversion_items"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
