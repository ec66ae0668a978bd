"""The "Program managers" group: exactly the permissions a program manager needs.

A manager runs their programs day to day: settings, widgets, pools and code uploads, voiding
codes, blocking advocates and adding them codes, paying or cancelling rewards. They see (never
change) referrals, conversions and stock alerts, delete nothing (history stays), and get no
user, group, manager or audit-trail administration, and no way to create API keys (the
`create_api_key` command does). Which rows they see is the admin's business (programs.admin_scoping:
only their programs'); this group says which pages and buttons they get.
"""

from django.db import migrations

GROUP = "Program managers"
PERMISSIONS = [
    # programs
    ("programs", "view_program"),
    ("programs", "change_program"),
    ("programs", "view_widget"),
    ("programs", "add_widget"),
    ("programs", "change_widget"),
    ("programs", "view_widgetcomponent"),
    ("programs", "add_widgetcomponent"),
    ("programs", "change_widgetcomponent"),
    ("programs", "delete_widgetcomponent"),
    ("programs", "view_apikey"),
    ("programs", "change_apikey"),
    # codes
    ("codes", "view_pool"),
    ("codes", "add_pool"),
    ("codes", "change_pool"),
    ("codes", "view_batch"),
    ("codes", "add_batch"),
    ("codes", "view_promocode"),
    ("codes", "change_promocode"),
    ("codes", "view_stockalert"),
    # participants
    ("participants", "view_participant"),
    ("participants", "add_participant"),
    ("participants", "change_participant"),
    ("participants", "view_referral"),
    ("participants", "view_reward"),
    ("participants", "change_reward"),
    # conversions
    ("conversions", "view_conversion"),
    ("conversions", "view_conversionitem"),
]


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are made after migrating (post_migrate): on a fresh database they do not
    # exist yet at this point, so make them now from the migration state.
    for label in sorted({app for app, _ in PERMISSIONS}):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    group, _ = group_model.objects.get_or_create(name=GROUP)
    wanted = [
        permission_model.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in PERMISSIONS
    ]
    group.permissions.set(wanted)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


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
