"""Voiding codes from the console: the confirmation page and the void itself."""

from django.contrib import messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from programs.admin_confirm import action_confirmation, action_confirmed
from programs.models import Program

from ..forms import VoidForm
from ..services import (
    codes_void,
    codes_void_preview,
)


def _void_flow(modeladmin, request, queryset, *, codes, action, what="", cancel_url=""):
    """Void codes after a confirmation page saying how many and who is topped up."""
    programs = list(Program.objects.filter(codes__in=codes.values("pk")).distinct())
    if len(programs) > 1:
        modeladmin.message_user(
            request,
            _("Void codes of one program at a time: filter by program first."),
            messages.ERROR,
        )
        return None
    if not programs:
        modeladmin.message_user(
            request, _("None of the selected rows holds a code."), messages.INFO
        )
        return None
    program = programs[0]
    form = VoidForm(request.POST if action_confirmed(request) else None)
    if action_confirmed(request) and form.is_valid():
        result = codes_void(
            program=program, queryset=codes, by=request.user, reason=form.cleaned_data["reason"]
        )
        modeladmin.message_user(request, result.summary(), messages.SUCCESS)
        return None
    preview = codes_void_preview(codes=codes)
    source = f" ({what})" if what else ""
    facts = [
        ngettext(
            "%(count)s code of %(program)s%(source)s will be voided: it is never assigned again "
            "and an order carrying it is rejected.",
            "%(count)s codes of %(program)s%(source)s will be voided: they are never assigned "
            "again and an order carrying one is rejected.",
            preview.to_void,
        )
        % {"count": f"{preview.to_void:,}", "program": program, "source": source}
    ]
    if preview.holders_to_top_up:
        facts.append(
            ngettext(
                "%(count)s advocate holds some of them: each is topped up with new codes at once "
                "(as far as the pool has stock).",
                "%(count)s advocates hold some of them: each is topped up with new codes at once "
                "(as far as the pool has stock).",
                preview.holders_to_top_up,
            )
            % {"count": f"{preview.holders_to_top_up:,}"}
        )
    if preview.reward_codes:
        facts.append(
            ngettext(
                "%(count)s is a fuel-tank code: a reward still in review gets another code; one "
                "already shown to its advocate is flagged for review.",
                "%(count)s are fuel-tank codes: a reward still in review gets another code; one "
                "already shown to its advocate is flagged for review.",
                preview.reward_codes,
            )
            % {"count": f"{preview.reward_codes:,}"}
        )
    if preview.already_voided:
        facts.append(
            ngettext(
                "%(count)s is voided already.",
                "%(count)s are voided already.",
                preview.already_voided,
            )
            % {"count": f"{preview.already_voided:,}"}
        )
    if preview.redeemed_left:
        facts.append(
            ngettext(
                "%(count)s was redeemed in an order and stays as it is.",
                "%(count)s were redeemed in an order and stay as they are.",
                preview.redeemed_left,
            )
            % {"count": f"{preview.redeemed_left:,}"}
        )
    return action_confirmation(
        modeladmin,
        request,
        queryset,
        action=action,
        title=_("Void codes"),
        facts=facts,
        warning=_("Voiding cannot be undone."),
        submit=ngettext("Yes, void %(count)s code", "Yes, void %(count)s codes", preview.to_void)
        % {"count": f"{preview.to_void:,}"},
        form=form,
        cancel_url=cancel_url,
    )
