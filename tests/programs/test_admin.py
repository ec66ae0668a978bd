import pytest
from django.urls import reverse

from programs.models import CodeUsage, Program, WidgetComponentKind
from tests.factories import ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def form_data(program, **overrides):
    data = {
        "name": program.name,
        "promo_codes_enabled": "on" if program.promo_codes_enabled else "",
        "code_usage": program.code_usage,
        "codes_per_advocate": program.codes_per_advocate,
        "low_stock_threshold": program.low_stock_threshold,
        "low_stock_recipients": program.low_stock_recipients,
        "reward_kind": program.reward_kind,
        "reward_amount": program.reward_amount,
        "reward_currency": program.reward_currency,
        "reward_percent": program.reward_percent,
        "reward_review_days": program.reward_review_days,
        "friend_offer_text": program.friend_offer_text,
        "default_language": program.default_language,
        "alert_language": program.alert_language,
        "widget_allowed_origins": "",
        "widgets-TOTAL_FORMS": "0",
        "widgets-INITIAL_FORMS": "0",
        "programmanager_set-TOTAL_FORMS": "0",
        "programmanager_set-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def change_url(program):
    return reverse("admin:programs_program_change", args=[program.pk])


def test_turning_on_asks_for_confirmation_before_saving(admin_client):
    program = ProgramFactory(promo_codes_enabled=False, code_usage=CodeUsage.MULTI)
    response = admin_client.post(change_url(program), form_data(program, promo_codes_enabled="on"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "This cannot be undone" in page
    assert "can never be turned off" in page
    program.refresh_from_db()
    assert program.promo_codes_enabled is False  # nothing saved before confirming

    confirmed = form_data(program, promo_codes_enabled="on", _confirm_irreversible="yes")
    response = admin_client.post(change_url(program), confirmed)
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.promo_codes_enabled is True


def test_switching_to_single_use_asks_for_confirmation(admin_client):
    program = ProgramFactory(promo_codes_enabled=True, code_usage=CodeUsage.MULTI)
    response = admin_client.post(change_url(program), form_data(program, code_usage="single"))
    assert "never go back to multi-use" in response.content.decode()
    program.refresh_from_db()
    assert program.code_usage == CodeUsage.MULTI


def test_an_admin_post_cannot_turn_promo_codes_off(admin_client):
    program = ProgramFactory(promo_codes_enabled=True, code_usage=CodeUsage.MULTI)
    data = form_data(program, promo_codes_enabled="", _confirm_irreversible="yes")
    admin_client.post(change_url(program), data)
    program.refresh_from_db()
    assert program.promo_codes_enabled is True


def test_an_admin_post_cannot_go_back_to_multi_use(admin_client):
    program = ProgramFactory(code_usage=CodeUsage.SINGLE)
    data = form_data(program, code_usage="multi", _confirm_irreversible="yes")
    admin_client.post(change_url(program), data)
    program.refresh_from_db()
    assert program.code_usage == CodeUsage.SINGLE
    page = admin_client.get(change_url(program)).content.decode()
    assert "can never go back to multi-use" in page


def test_plain_changes_save_without_confirmation(admin_client):
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    data = form_data(program, codes_per_advocate="7", low_stock_recipients="ops@example.com")
    response = admin_client.post(change_url(program), data)
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.codes_per_advocate == 7
    assert program.recipient_list == ["ops@example.com"]


def test_codes_per_advocate_over_25_is_a_form_error(admin_client):
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    response = admin_client.post(change_url(program), form_data(program, codes_per_advocate="26"))
    assert response.status_code == 200
    assert "less than or equal to 25" in response.content.decode()
    program.refresh_from_db()
    assert program.codes_per_advocate == 3


def test_apply_template_adds_the_component_to_widgets_that_lack_it(admin_client):
    program = ProgramFactory(code_usage=CodeUsage.SINGLE)
    first = program.widgets.create(name="Account page")
    second = program.widgets.create(name="Thank-you page")
    second.components.create(kind=WidgetComponentKind.REFERRAL_PROMO_CODE)
    data = form_data(program, apply_template_to_widgets="on")
    assert admin_client.post(change_url(program), data).status_code == 302
    for widget in (first, second):
        kinds = list(widget.components.values_list("kind", flat=True))
        assert kinds == [WidgetComponentKind.REFERRAL_PROMO_CODE]


def test_adding_a_program_with_promo_codes_on_confirms_then_creates(admin_client):
    program = Program(slug="new-shop", name="New shop", promo_codes_enabled=True)
    data = form_data(program, slug="new-shop", promo_codes_enabled="on")
    response = admin_client.post(reverse("admin:programs_program_add"), data)
    assert "This cannot be undone" in response.content.decode()
    assert not Program.objects.filter(slug="new-shop").exists()
    data["_confirm_irreversible"] = "yes"
    response = admin_client.post(reverse("admin:programs_program_add"), data)
    assert response.status_code == 302
    created = Program.objects.get(slug="new-shop")
    assert created.promo_codes_enabled and created.pools.filter(kind="referral").exists()


def test_a_program_manager_sees_only_programs_they_manage(client):
    from django.contrib.auth.models import Permission

    manager = UserFactory()
    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="_program"))
    mine = ProgramFactory(name="Mine")
    theirs = ProgramFactory(name="Theirs")
    mine.managers.add(manager)
    client.force_login(manager)
    page = client.get(reverse("admin:programs_program_changelist")).content.decode()
    assert "Mine" in page and "Theirs" not in page
    assert client.get(change_url(theirs)).status_code == 302  # admin: "doesn't exist" redirect
    assert client.get(change_url(mine)).status_code == 200


def test_a_concurrent_one_way_switch_refuses_a_stale_form_with_a_message(admin_client):
    from unittest import mock

    from programs import admin as program_admin
    from programs.services import IrreversibleChangeError

    program = ProgramFactory(promo_codes_enabled=True, code_usage=CodeUsage.MULTI)

    # The stored row changed between the form's checks and the save: the service refuses.
    def refuse(**kwargs):
        raise IrreversibleChangeError(
            {"code_usage": "A program with single-use codes can never go back to multi-use."}
        )

    with mock.patch.object(program_admin, "program_update", refuse):
        response = admin_client.post(
            change_url(program), form_data(program, codes_per_advocate="4"), follow=True
        )
    assert response.status_code == 200
    assert "Not saved: A program with single-use codes can never go back" in response.text
    program.refresh_from_db()
    assert program.codes_per_advocate == 3


def test_the_console_lists_programs_and_codes_before_the_audit_trail_and_users(admin_client):
    from django.urls import reverse

    page = admin_client.get(reverse("admin:index")).content.decode()
    places = [page.index(f'href="/admin/{app}/"') for app in ("programs", "codes", "audit", "auth")]
    assert places == sorted(places)
