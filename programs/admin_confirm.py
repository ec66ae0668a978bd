"""A confirmation step for admin actions that change many rows (void codes, block advocates):
the action answers this page first, and does its work when the page is posted back."""

from django import forms
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

CONFIRMED = "_confirmed"


def action_confirmed(request) -> bool:
    return request.POST.get(CONFIRMED) == "yes"


def action_confirmation(
    modeladmin,
    request,
    queryset,
    *,
    action: str,
    title: str,
    facts: list[str],
    submit: str,
    form: forms.Form | None = None,
    warning: str = "",
    submit_variant: str | None = None,
    cancel_url: str = "",
) -> TemplateResponse:
    """The page asking to confirm `action` on `queryset`, saying what it will do (`facts`).
    Posting it back runs the action again with `_confirmed=yes` and the form's fields. The
    confirming button is the console's danger button when the page warns (`warning`: what cannot
    be undone), its primary button otherwise (`submit_variant` says which when a warning is only
    a reminder). "No, go back" goes back in the browser's history, or to `cancel_url` when the
    page may be the first one opened (a link in an e-mail)."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": opts,
        "facts": facts,
        "warning": warning,
        "submit": submit,
        "submit_variant": submit_variant or ("danger" if warning else "primary"),
        "form": form,
        "action": action,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "confirmed_field": CONFIRMED,
        "count": queryset.count(),
        "cancel_url": cancel_url,
    }
    return TemplateResponse(request, "admin/action_confirmation.html", context)
