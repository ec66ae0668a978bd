"""The program's page is one admin class (programs.admin.ProgramAdmin); the codes app adds its
pools panel, the reward tank and the stock and upload buttons through the page's hook, and the
programs app imports nothing of the apps above it."""

import ast
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse

from codes.models import Pool, PoolKind
from programs.admin import ProgramAdmin
from programs.models import Program, RewardKind
from tests.factories import ProgramFactory
from tests.programs.test_admin import admin_client, change_url, form_data  # noqa: F401

pytestmark = pytest.mark.django_db

HIGHER_APPS = {"codes", "participants", "conversions", "webhooks", "ops"}


def test_program_has_one_admin_class_and_programs_imports_no_higher_app():
    assert type(admin.site._registry[Program]) is ProgramAdmin
    programs = Path(__file__).resolve().parents[2] / "programs"
    imported = set()
    for source in programs.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
    assert not imported & HIGHER_APPS


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_program_page_shows_its_pools_and_reward_tank_in_every_language(
    admin_client,  # noqa: F811
    language,
):
    program = ProgramFactory(slug="shop", promo_codes_enabled=True)
    Pool.objects.create(program=program, kind=PoolKind.FUEL_TANK, name="Gift cards")
    admin_client.cookies["django_language"] = language
    page = admin_client.get(change_url(program))
    html = page.content.decode()
    assert 'name="reward_tank"' in html and "Gift cards" in html
    assert html.index('name="reward_kind"') < html.index('name="reward_tank"')
    # The pools panel: each pool linked, and a link to add a fuel tank to this program.
    assert reverse("admin:codes_pool_add") + f"?program={program.pk}" in html
    assert reverse("admin:programs_program_stock_page", args=[program.pk]) in html


def test_choosing_the_reward_tank_on_the_program_page_makes_it_pay(admin_client):  # noqa: F811
    program = ProgramFactory(slug="shop", promo_codes_enabled=True)
    tank = Pool.objects.create(program=program, kind=PoolKind.FUEL_TANK, name="Gift cards")
    refused = admin_client.post(
        change_url(program), form_data(program, reward_kind=RewardKind.FUEL_TANK)
    )
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["reward_tank"] == [
        "Choose the fuel tank that pays the rewards."
    ]
    saved = admin_client.post(
        change_url(program),
        form_data(program, reward_kind=RewardKind.FUEL_TANK, reward_tank=tank.pk),
    )
    assert saved.status_code == 302
    tank.refresh_from_db()
    program.refresh_from_db()
    assert tank.pays_rewards and program.reward_kind == RewardKind.FUEL_TANK
