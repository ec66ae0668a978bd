"""The "Program managers" group: exactly the permissions a program manager needs.

A manager runs their programs day to day: settings, widgets, pools and code uploads, voiding
codes, blocking advocates and adding them codes, paying or cancelling rewards. They see (never
change) referrals, conversions and stock alerts, delete nothing of the record, and get no user,
group, manager or audit-trail pages, and no way to create API keys (`create_api_key` does).
Which rows they see is the admin's business (programs.admin_scoping: only their programs');
this group says which pages and buttons they get.

The group is made by a migration and set to this list again after every `migrate` (and every
test-database flush): extra permissions go to a user, not to the group.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

PROGRAM_MANAGERS_GROUP = "Program managers"
PROGRAM_MANAGER_PERMISSIONS = [
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
    # webhooks: endpoints (added with their secret shown once) and the delivery log (redeliver)
    ("webhooks", "view_endpoint"),
    ("webhooks", "add_endpoint"),
    ("webhooks", "change_endpoint"),
    ("webhooks", "view_delivery"),
    ("webhooks", "change_delivery"),
]


def program_managers_group_sync(*, apps=global_apps, using="default", **kwargs) -> None:
    """Make the group hold exactly PROGRAM_MANAGER_PERMISSIONS (in a migration: `apps` is its
    state; as a post_migrate receiver: the project's)."""
    # Permissions are made after migrating (post_migrate, app by app): they may not exist yet.
    # An app not migrated yet (in an early migration's state) is left to the post_migrate run.
    labels = set()
    for label in sorted({app for app, _ in PROGRAM_MANAGER_PERMISSIONS}):
        try:
            app_config = apps.get_app_config(label)
        except LookupError:
            continue
        labels.add(label)
        # A migration state's app config says it has no models module: say it has, for this.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = models_module
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    group, _ = group_model.objects.using(using).get_or_create(name=PROGRAM_MANAGERS_GROUP)
    wanted = [
        permission_model.objects.using(using).get(content_type__app_label=app, codename=codename)
        for app, codename in PROGRAM_MANAGER_PERMISSIONS
        if app in labels
    ]
    group.permissions.set(wanted)
