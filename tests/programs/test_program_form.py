"""The program page: fields shown by kind, the template for widgets added in the same save,
errors at their field, and the widget's embed snippet."""

import html

import pytest
from django.contrib.messages import get_messages

from programs.models import CodeUsage, WidgetComponentKind
from tests.factories import ProgramFactory
from tests.programs.test_admin import admin_client, change_url, form_data  # noqa: F401

pytestmark = pytest.mark.django_db


def test_apply_template_reaches_a_widget_added_in_the_same_save_and_says_which(admin_client):  # noqa: F811
    program = ProgramFactory(code_usage=CodeUsage.SINGLE)
    program.widgets.create(name="Account page")
    data = form_data(
        program,
        apply_template_to_widgets="on",
        **{
            "widgets-TOTAL_FORMS": "1",
            "widgets-0-name": "Checkout",
            "widgets-0-program": program.pk,
        },
    )
    response = admin_client.post(change_url(program), data)
    assert response.status_code == 302
    for name in ("Account page", "Checkout"):
        kinds = list(program.widgets.get(name=name).components.values_list("kind", flat=True))
        assert kinds == [WidgetComponentKind.REFERRAL_PROMO_CODE], name
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Added the referral promo code component to: Account page, Checkout." in shown


def test_apply_template_when_every_widget_has_it_says_so(admin_client):  # noqa: F811
    program = ProgramFactory(code_usage=CodeUsage.SINGLE)
    widget = program.widgets.create(name="Account page")
    widget.components.create(kind=WidgetComponentKind.REFERRAL_PROMO_CODE)
    response = admin_client.post(
        change_url(program), form_data(program, apply_template_to_widgets="on")
    )
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Every widget of this program already has the referral promo code." in shown


def test_a_bad_recipient_address_is_shown_at_its_field(admin_client):  # noqa: F811
    program = ProgramFactory(code_usage=CodeUsage.SINGLE)
    data = form_data(program, low_stock_recipients="ops@example.com\nnot-an-address")
    response = admin_client.post(change_url(program), data)
    assert response.status_code == 200  # the form again, nothing saved
    form = response.context["adminform"].form
    assert form.errors["low_stock_recipients"] == ["Not an e-mail address: not-an-address."]
    assert not form.non_field_errors()
    program.refresh_from_db()
    assert program.low_stock_recipients == ""


def test_reward_and_quota_fields_show_only_for_their_kind(admin_client):  # noqa: F811
    program = ProgramFactory(code_usage=CodeUsage.SINGLE)
    page = html.unescape(admin_client.get(change_url(program)).content.decode())
    # unfold's conditional fields: Alpine shows each row only while its condition holds.
    for condition in (
        "reward_kind == 'credit'",
        "reward_kind == 'percent'",
        "reward_kind == 'fuel_tank'",
        "code_usage == 'single'",
    ):
        assert f'x-show="{condition}"' in page, condition


def test_the_program_page_shows_the_widget_embed_snippet(admin_client, settings):  # noqa: F811
    settings.SITE_URL = "https://referrals.example.com"
    program = ProgramFactory(slug="acme", code_usage=CodeUsage.SINGLE)
    page = admin_client.get(change_url(program)).content.decode()
    assert "Embed the widget" in page
    assert "&lt;div data-promo-codes data-token=&quot;PARTICIPANT_TOKEN&quot;&gt;" in page
    assert "https://referrals.example.com/static/promo-codes/promo-codes.js" in page
    assert "https://referrals.example.com/widget/acme/#token=PARTICIPANT_TOKEN" in page
