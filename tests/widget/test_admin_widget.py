import pytest
from django.urls import reverse

from programs.models import ProgramManager, Widget, WidgetComponent, WidgetComponentKind
from tests.factories import ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_the_secret_is_masked_with_a_reveal_on_the_change_page(admin_client):
    program = ProgramFactory()
    page = admin_client.get(reverse("admin:programs_program_change", args=[program.pk]))
    html = page.content.decode()
    assert "<summary>Reveal</summary>" in html
    assert f"…{program.widget_secret[-4:]}" in html
    assert "Rotate widget secret" in html


def test_the_rotate_button_rotates_and_needs_a_post(admin_client):
    program = ProgramFactory()
    before = program.widget_secret
    url = reverse("admin:programs_program_rotate_widget_secret", args=[program.pk])
    assert admin_client.get(url).status_code == 403
    program.refresh_from_db()
    assert program.widget_secret == before
    response = admin_client.post(url)
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.widget_secret != before and len(program.widget_secret) >= 40


def test_the_rotate_action_on_the_program_list(admin_client):
    programs = [ProgramFactory(), ProgramFactory()]
    before = {p.pk: p.widget_secret for p in programs}
    response = admin_client.post(
        reverse("admin:programs_program_changelist"),
        {"action": "rotate_widget_secret", "_selected_action": [p.pk for p in programs]},
    )
    assert response.status_code == 302
    for program in programs:
        program.refresh_from_db()
        assert program.widget_secret != before[program.pk]


def test_a_manager_of_another_program_cannot_see_or_rotate_its_secret(client):
    program, mine = ProgramFactory(), ProgramFactory()
    user = UserFactory()
    ProgramManager.objects.create(program=mine, user=user)
    client.force_login(user)
    before = program.widget_secret
    change = client.get(reverse("admin:programs_program_change", args=[program.pk]))
    assert program.widget_secret not in change.content.decode()
    client.post(reverse("admin:programs_program_rotate_widget_secret", args=[program.pk]))
    program.refresh_from_db()
    assert program.widget_secret == before


def test_the_widget_action_adds_the_component_to_the_chosen_widgets(admin_client):
    program = ProgramFactory()
    default = Widget.objects.create(program=program, name="Default widget")
    chosen = Widget.objects.create(program=program, name="Checkout")
    untouched = Widget.objects.create(program=program, name="Footer")
    response = admin_client.post(
        reverse("admin:programs_widget_changelist"),
        {"action": "add_promo_code_component", "_selected_action": [default.pk, chosen.pk]},
    )
    assert response.status_code == 302
    kinds = WidgetComponentKind.REFERRAL_PROMO_CODE
    assert WidgetComponent.objects.filter(widget=default, kind=kinds).exists()
    assert WidgetComponent.objects.filter(widget=chosen, kind=kinds).exists()
    assert not WidgetComponent.objects.filter(widget=untouched).exists()

    # Again: nothing doubles up.
    admin_client.post(
        reverse("admin:programs_widget_changelist"),
        {"action": "add_promo_code_component", "_selected_action": [default.pk, chosen.pk]},
    )
    assert WidgetComponent.objects.filter(kind=kinds).count() == 2


def test_saving_promo_settings_applies_the_template_only_when_ticked(admin_client):
    from tests.programs.test_admin import form_data

    program, other = ProgramFactory(), ProgramFactory()
    mine = [program.widgets.create(name=n) for n in ("Account", "Checkout", "Footer")]
    theirs = other.widgets.create(name="Account")
    url = reverse("admin:programs_program_change", args=[program.pk])
    assert admin_client.post(url, form_data(program)).status_code == 302
    assert not WidgetComponent.objects.exists()

    data = form_data(program, apply_template_to_widgets="on")
    assert admin_client.post(url, data).status_code == 302
    for widget in mine:
        assert list(widget.components.values_list("kind", flat=True)) == [
            WidgetComponentKind.REFERRAL_PROMO_CODE
        ]
    assert not theirs.components.exists()
