"""The program page's codes part: its pools, the tank that pays its fuel-tank rewards, and
the links to its stock page and the upload.
"""

from django import forms
from django.contrib import admin
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from foundation.admin_links import LINK_CLASS, admin_link
from programs.admin import ProgramPageLink, ProgramPagePart, ProgramPanel, program_page_add
from programs.models import RewardKind

from ..models import (
    Pool,
    PoolKind,
)
from ..services import (
    pool_set_reward_tank,
    reward_tank_of,
)
from .shared import _upload_url, stock_url

# --- The program page: its pools and the tank that pays its fuel-tank rewards ------------------


def _reward_tank_prepare(form):
    program = form.instance
    if program.pk:
        form.fields["reward_tank"].queryset = Pool.objects.filter(
            program=program, kind=PoolKind.FUEL_TANK
        )
        form.fields["reward_tank"].initial = reward_tank_of(program)


def _reward_tank_clean(form, data):
    if data.get("reward_kind") == RewardKind.FUEL_TANK and not data.get("reward_tank"):
        if form.instance.pk and form.fields["reward_tank"].queryset.exists():
            form.add_error("reward_tank", _("Choose the fuel tank that pays the rewards."))
        else:
            form.add_error(
                "reward_kind",
                _(
                    "Add a fuel tank first (Pools → Add pool, or the create_pool command), "
                    "then choose it here."
                ),
            )


def _reward_tank_saved(program, data):
    tank = data.get("reward_tank")
    if data.get("reward_kind") == RewardKind.FUEL_TANK and tank is not None:
        pool_set_reward_tank(program=program, pool=tank)


@admin.display(description=_("Pools"))
def pools_overview(program):
    if program is None or not program.pk:
        return "—"
    rows = [
        [
            admin_link(reverse("admin:codes_pool_change", args=[pool.pk]), pool.name),
            pool.get_kind_display(),
            _("Pays the rewards") if pool.pays_rewards else "",
            admin_link(_upload_url(pool), _("Upload codes")),
        ]
        for pool in Pool.objects.filter(program=program).order_by("-kind", "name")
    ]
    add = reverse("admin:codes_pool_add") + f"?program={program.pk}"
    table = render_to_string(
        "unfold/components/table.html",
        {"table": {"headers": [_("Pool"), _("Kind"), _("Rewards"), ""], "rows": rows}},
    )
    return format_html(
        '{}<p class="mt-3"><a class="{}" href="{}">{}</a> {} · '
        '<a class="{}" href="{}">{}</a> {}</p>',
        table,
        LINK_CLASS,
        stock_url(program),
        _("Stock page"),
        _("(counts, use per day, days left)"),
        LINK_CLASS,
        add,
        _("Add a fuel tank"),
        _("(a pool of reward codes)"),
    )


def _upload_target(program):
    return _upload_url(Pool.objects.filter(program=program, kind=PoolKind.REFERRAL).first())


# The program page (programs.admin.ProgramAdmin, through its hook): the program's pools, the
# tank that pays its fuel-tank rewards, and buttons to its stock page and to the upload.
program_page_add(
    ProgramPagePart(
        fields={
            "reward_tank": forms.ModelChoiceField(
                queryset=Pool.objects.none(),
                required=False,
                label=_("Reward fuel tank"),
                help_text=_("For rewards of kind “fuel tank code”: the tank whose codes pay them."),
            )
        },
        after={"reward_tank": "reward_kind"},
        conditional_fields={"reward_tank": "reward_kind == 'fuel_tank'"},
        prepare=_reward_tank_prepare,
        clean=_reward_tank_clean,
        saved=_reward_tank_saved,
        panels=(
            ProgramPanel(title=_("Pools"), render=pools_overview, after="promo_codes_enabled"),
        ),
        links=(
            ProgramPageLink(
                name="stock_page",
                description=_("Stock"),
                icon="inventory_2",
                url_path="stock",
                target=stock_url,
                permitted=lambda request: request.user.has_perm("codes.view_pool"),
            ),
            ProgramPageLink(
                name="upload_codes",
                description=_("Upload codes"),
                icon="upload",
                url_path="upload",
                target=_upload_target,
                permitted=lambda request: request.user.has_perm("codes.add_batch"),
            ),
        ),
    )
)
