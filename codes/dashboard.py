"""The admin index's dashboard (unfold's DASHBOARD_CALLBACK): a card per program the user
manages, with its available referral codes, advocates short of codes and a link to its stock
page. Counts are capped like the stock page's, so the index stays fast on a million codes."""

from django.urls import reverse

from programs.admin_scoping import managed_programs

from .selectors import DASHBOARD_PROGRAMS, programs_dashboard
from .topups import program_topup_progress, program_topup_sentence


def dashboard_callback(request, context):
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("codes.view_pool")):
        return context
    programs = managed_programs(user)
    rows = programs_dashboard(programs=programs)
    context["stock_dashboard"] = [
        {
            "row": row,
            "stock_url": reverse("admin:codes_program_stock", args=[row.program.pk]),
            "program_url": reverse("admin:programs_program_change", args=[row.program.pk]),
            "topup": program_topup_sentence(program_topup_progress(program_id=row.program.pk)),
        }
        for row in rows
    ]
    context["stock_dashboard_more"] = len(rows) == DASHBOARD_PROGRAMS and programs.count() > len(
        rows
    )
    context["programs_url"] = reverse("admin:programs_program_changelist")
    return context
