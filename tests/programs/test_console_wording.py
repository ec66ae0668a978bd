"""The console's sentences, read off every page a program manager opens: no "1 codes"-style
count, no forecast with a decimal ("226.3 days"), and one date format ("2026-12-07 13:19 UTC",
never "Dec. 7, 2026, 1:19 p.m.").

The walk follows admin.site's registry: each list, the first row's page, the custom views of
each admin (the stock page) and the confirmation page of each action with one row selected."""

import html
import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from programs.services import program_manager_add
from tests.programs.test_admin_scoping_walk import PASSWORD, manager_request, seed_program

pytestmark = pytest.mark.django_db

# "1 codes", "1 advocates", "1 duplicates": a count of one with a plural noun. Words that end in
# "s" in the singular (status, address, class, this, …) are not plurals.
ONE_PLURAL = re.compile(r"(?<![\d.,])\b1 ([a-z]+s)\b")
SINGULAR_S = re.compile(r"(ss|us|is|as|os|ys)$")
DECIMAL_DAYS = re.compile(r"\b\d+\.\d+ (days|weeks|months)\b")
OTHER_DATES = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d{1,2}, \d{4}\b|\b[ap]\.m\."
)


def page_text(response) -> str:
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def wording_errors(text: str) -> list[str]:
    errors = [f"1 {noun}" for noun in ONE_PLURAL.findall(text) if not SINGULAR_S.search(noun)]
    errors += [m.group(0) for m in DECIMAL_DAYS.finditer(text)]
    errors += [m.group(0) for m in OTHER_DATES.finditer(text)]
    return errors


@pytest.fixture
def manager_client(client, db):
    program = seed_program("Alpha", "alpha", "ALPHA")
    program_manager_add(program=program, username="alpha-manager", password=PASSWORD)
    client.force_login(get_user_model().objects.get(username="alpha-manager"))
    return client


def pages(client, manager):
    """(label, response) for each page the walk opens."""
    yield "index", client.get(reverse("admin:index"))
    request = manager_request(manager)
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if not model_admin.has_view_or_change_permission(request):
            continue
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        yield f"{opts.label} list", client.get(changelist)
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is None:
            continue
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
        yield f"{opts.label} page", client.get(change)
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None) or ""
            if not name or name.endswith(("_change", "_changelist", "_add", "_delete", "_history")):
                continue
            if "export" in name or "autocomplete" in name:
                continue
            try:
                url = reverse(f"admin:{name}", args=[first.pk])
            except NoReverseMatch:
                try:
                    url = reverse(f"admin:{name}")
                except NoReverseMatch:
                    continue
            yield f"{opts.label} {name}", client.get(url)
        for action, _, _ in model_admin.get_actions(request).values():
            action_name = action.__name__
            if "export" in action_name or action_name == "delete_selected":
                continue
            yield (
                f"{opts.label} action {action_name}",
                client.post(
                    changelist,
                    {"action": action_name, "index": 0, "_selected_action": [first.pk]},
                ),
            )


def test_no_console_page_counts_one_as_many_or_shows_another_date_format(manager_client):
    manager = get_user_model().objects.get(username="alpha-manager")
    found = {}
    walked = 0
    for label, response in pages(manager_client, manager):
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        walked += 1
        errors = wording_errors(page_text(response))
        if errors:
            found[label] = sorted(set(errors))
    assert walked > 20, f"only {walked} pages walked"
    assert not found, found


def test_the_scan_catches_what_it_is_for():
    assert wording_errors("Voided 1 codes; 1 duplicates in the file") == [
        "1 codes",
        "1 duplicates",
    ]
    assert wording_errors("1 code, 11 codes, 21 codes, 1 status, 1.5 codes") == []
    assert wording_errors("it lasts about 226.3 days") == ["226.3 days"]
    assert wording_errors("Dec. 7, 2026, 1:19 p.m.") == ["Dec. 7, 2026", "p.m."]
