"""The admin index's dashboard (unfold's DASHBOARD_CALLBACK): a card per program the user
manages, with its available referral codes, advocates short of codes and a link to its stock
page. Counts are capped like the stock page's, so the index stays fast on a million codes.

A higher app adds figures of its own to each card through `dashboard_add_figures` (the
referrals waiting for review: participants; apps depend one way, docs/architecture.md)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse

from programs.admin_scoping import managed_programs

from .selectors import DASHBOARD_PROGRAMS, programs_dashboard
from .topups import program_topup_progress, program_topup_sentence


@dataclass(frozen=True)
class DashboardFigure:
    """A figure on a program's card: its label, the count, where it links, and whether it asks
    for the manager's attention (shown in red)."""

    key: str
    label: str
    count: int
    url: str
    attention: bool = False


# Each provider takes the request and the ids of the programs shown, and answers
# {program id: [DashboardFigure, …]} (nothing for a user who may not see the figure).
_FIGURE_PROVIDERS: list[Callable] = []


def dashboard_add_figures(provider: Callable) -> None:
    """The hook: each program's card shows the figures `provider` gives it too."""
    if provider not in _FIGURE_PROVIDERS:
        _FIGURE_PROVIDERS.append(provider)


def dashboard_callback(request, context):
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("codes.view_pool")):
        return context
    programs = managed_programs(user)
    rows = programs_dashboard(programs=programs)
    ids = [row.program.pk for row in rows]
    figures = {pk: [] for pk in ids}
    for provider in _FIGURE_PROVIDERS:
        for pk, given in provider(request, ids).items():
            figures[pk].extend(given)
    context["stock_dashboard"] = [
        {
            "row": row,
            "stock_url": reverse("admin:codes_program_stock", args=[row.program.pk]),
            "program_url": reverse("admin:programs_program_change", args=[row.program.pk]),
            "topup": program_topup_sentence(program_topup_progress(program_id=row.program.pk)),
            "figures": figures[row.program.pk],
        }
        for row in rows
    ]
    context["stock_dashboard_more"] = len(rows) == DASHBOARD_PROGRAMS and programs.count() > len(
        rows
    )
    context["programs_url"] = reverse("admin:programs_program_changelist")
    return context
