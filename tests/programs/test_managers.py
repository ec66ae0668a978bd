"""Program managers: the ready-made group, `create_manager`, and what a manager may save."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.urls import reverse
from unfold.admin import ModelAdmin

from audit.models import AuditEntry
from programs.models import ApiKey, Program, ProgramManager, Widget
from programs.services import PROGRAM_MANAGERS_GROUP, api_key_create, program_manager_add
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

EXPECTED_PERMISSIONS = {
    "programs.view_program",
    "programs.change_program",
    "programs.view_widget",
    "programs.add_widget",
    "programs.change_widget",
    "programs.view_widgetcomponent",
    "programs.add_widgetcomponent",
    "programs.change_widgetcomponent",
    "programs.delete_widgetcomponent",
    "programs.view_apikey",
    "programs.change_apikey",
    "codes.view_pool",
    "codes.add_pool",
    "codes.change_pool",
    "codes.view_batch",
    "codes.add_batch",
    "codes.view_promocode",
    "codes.change_promocode",
    "codes.view_stockalert",
    "participants.view_participant",
    "participants.add_participant",
    "participants.change_participant",
    "participants.view_referral",
    "participants.view_reward",
    "participants.change_reward",
    "conversions.view_conversion",
    "conversions.view_conversionitem",
    "webhooks.view_endpoint",
    "webhooks.add_endpoint",
    "webhooks.change_endpoint",
    "webhooks.view_delivery",
    "webhooks.change_delivery",
}


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("create_manager", *args, stdout=out)
    return out.getvalue().strip()


def test_the_group_holds_exactly_the_managers_permissions():
    group = Group.objects.get(name=PROGRAM_MANAGERS_GROUP)
    held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert held == EXPECTED_PERMISSIONS
    assert not [p for p in held if p.startswith(("auth.", "audit."))]
    # Nothing of the record is deleted; a component is taken off a widget, nothing more.
    assert [p for p in held if ".delete_" in p] == ["programs.delete_widgetcomponent"]


def test_create_manager_makes_a_staff_user_in_the_group_who_manages_the_program():
    ProgramFactory(slug="alpha", name="Alpha")
    line = run(
        "anna",
        "--program",
        "alpha",
        "--email",
        "anna@example.com",
        "--password",
        "a-long-manager-password-1",
    )
    assert line == "Created staff user 'anna'; it now manages 'alpha' (manages: alpha)."
    anna = get_user_model().objects.get(username="anna")
    assert anna.is_staff and not anna.is_superuser
    assert anna.email == "anna@example.com"
    assert anna.check_password("a-long-manager-password-1")
    assert anna.groups.filter(name=PROGRAM_MANAGERS_GROUP).exists()
    assert anna.has_perm("codes.add_batch") and not anna.has_perm("auth.change_user")
    assert list(anna.managed_programs.values_list("slug", flat=True)) == ["alpha"]
    # The audit trail names the command as the actor.
    entry = AuditEntry.objects.filter(content_type__model="programmanager").latest("timestamp")
    assert entry.actor_label == "command: create_manager"


def test_run_again_with_another_program_adds_it_and_keeps_the_password():
    ProgramFactory(slug="alpha")
    ProgramFactory(slug="bravo")
    run("anna", "--program", "alpha", "--password", "a-long-manager-password-1")
    line = run("anna", "--program", "bravo")
    assert line == "Staff user 'anna' now manages 'bravo' (manages: alpha, bravo)."
    assert get_user_model().objects.get(username="anna").check_password("a-long-manager-password-1")
    assert "already managed 'bravo'" in run("anna", "--program", "bravo")
    assert ProgramManager.objects.filter(user__username="anna").count() == 2


def test_without_a_password_the_new_manager_is_told_how_to_set_one():
    ProgramFactory(slug="alpha")
    line = run("anna", "--program", "alpha")
    assert line.endswith("Set a password with `manage.py changepassword anna`.")
    assert not get_user_model().objects.get(username="anna").has_usable_password()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["anna", "--program", "nope"], "No program with slug 'nope'."),
        (["anna", "--program", "alpha", "--email", "not-an-address"], "email: Not an e-mail"),
        (["anna", "--program", "alpha", "--password", "123"], "password: "),
        (["bad name!", "--program", "alpha"], "username: "),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(args, message):
    ProgramFactory(slug="alpha")
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run(*args)
    assert not ProgramManager.objects.exists()


@pytest.fixture
def two_programs():
    alpha = ProgramFactory(slug="alpha", name="Alpha")
    bravo = ProgramFactory(slug="bravo", name="Bravo")
    return alpha, bravo


@pytest.fixture
def manager_client(client, two_programs):
    alpha, _ = two_programs
    result = program_manager_add(program=alpha, username="anna", password="a-long-pw-123456")
    client.force_login(result.user)
    return client


def test_a_manager_cannot_save_a_widget_into_another_program(manager_client, two_programs):
    alpha, bravo = two_programs
    data = {
        "program": bravo.pk,
        "name": "Sneaky",
        "components-TOTAL_FORMS": "0",
        "components-INITIAL_FORMS": "0",
    }
    response = manager_client.post(reverse("admin:programs_widget_add"), data)
    assert response.status_code == 200  # the form again, with the error at the program field
    assert "Select a valid choice" in response.content.decode()
    assert not Widget.objects.filter(name="Sneaky").exists()
    data["program"] = alpha.pk
    response = manager_client.post(reverse("admin:programs_widget_add"), data)
    assert response.status_code == 302
    assert Widget.objects.get(name="Sneaky").program == alpha


def test_a_manager_cannot_move_a_widget_into_another_program(manager_client, two_programs):
    alpha, bravo = two_programs
    widget = Widget.objects.create(program=alpha, name="Main")
    url = reverse("admin:programs_widget_change", args=[widget.pk])
    data = {
        "program": bravo.pk,
        "name": "Main",
        "components-TOTAL_FORMS": "0",
        "components-INITIAL_FORMS": "0",
    }
    response = manager_client.post(url, data)
    assert response.status_code == 302
    widget.refresh_from_db()
    assert widget.program == alpha  # the program is shown, not editable, on a saved widget


def test_a_manager_sees_and_revokes_only_their_programs_keys(manager_client, two_programs):
    alpha, bravo = two_programs
    api_key_create(program=alpha, name="Alpha key")
    api_key_create(program=bravo, name="Bravo key")
    page = manager_client.get(reverse("admin:programs_apikey_changelist")).content.decode()
    assert "Alpha key" in page and "Bravo key" not in page
    bravo_key = ApiKey.objects.get(name="Bravo key")
    response = manager_client.post(
        reverse("admin:programs_apikey_changelist"),
        {"action": "revoke", "_selected_action": [bravo_key.pk], "index": 0},
    )
    assert response.status_code == 302
    bravo_key.refresh_from_db()
    assert bravo_key.revoked_at is None


def test_a_manager_opens_no_user_group_or_audit_page(manager_client):
    for name in ["auth_user", "auth_group", "audit_auditentry"]:
        response = manager_client.get(reverse(f"admin:{name}_changelist"))
        assert response.status_code == 403, name


def test_a_manager_creates_no_program(manager_client):
    assert manager_client.get(reverse("admin:programs_program_add")).status_code == 403
    assert Program.objects.count() == 2


def test_an_admin_registered_without_scoping_fails_the_system_check():
    class Unscoped(ModelAdmin):
        pass

    site_registry = admin.site._registry
    original = site_registry[Widget]
    site_registry[Widget] = Unscoped(Widget, admin.site)
    try:
        errors = [e for e in run_checks() if e.id == "programs.E001"]
    finally:
        site_registry[Widget] = original
    assert [e.msg for e in errors] == [
        "tests.programs.test_managers.test_an_admin_registered_without_scoping_fails_the_system"
        "_check.<locals>.Unscoped (for programs.Widget) is not program-scoped."
    ]
    assert not [e for e in run_checks() if e.id == "programs.E001"]


def test_the_group_is_set_back_to_its_permissions_after_migrate():
    from django.contrib.auth.models import Permission

    group = Group.objects.get(name=PROGRAM_MANAGERS_GROUP)
    group.permissions.add(Permission.objects.get(codename="delete_program"))
    call_command("migrate", verbosity=0)
    held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert held == EXPECTED_PERMISSIONS
