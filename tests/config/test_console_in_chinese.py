"""Every console page a manager uses, in Chinese: a manager whose language is zh-hans walks the
index, each app page, and every registered admin's list (with its filters), add form, change
page, history and custom views (the stock page, the upload, the audit trail), and reads no run of
English words in what the page writes. What must stay as it is (codes, e-mail addresses, URLs,
ids, the names managers gave, API field and event names) is allow-listed below by its shape."""

import itertools
import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from codes.models import Pool
from codes.parsing.headers import EXPIRY_HEADER_NAMES, HEADER_NAMES
from codes.services import REFERRAL_POOL_NAME
from participants.models import Reward, RewardStatus
from programs.models import DEFAULT_FRIEND_OFFER_TEXT
from programs.services import API_KEY_PREFIX, program_manager_add
from tests.codes.test_console_language import ENGLISH_RUN, VOID_TAGS, _ElementText
from tests.programs.test_admin_scoping_walk import PASSWORD, seed_program

pytestmark = pytest.mark.django_db

# What a page may show in English because it is not a sentence of ours: the names and ids the
# seed gave (program, widgets, endpoint, key, tank, products, people, orders), the names a
# program's data starts with (its referral pool, its friend offer: the manager's to change), the
# header names a code file is read by (a file's words, quoted on the upload page), e-mail
# addresses, URLs, event types (`code.assigned`), header names, language tags, and the names
# the audit trail stored with its entries.
ALLOWED = re.compile(
    "|".join(
        [
            r"(?i:alpha)(?:[ -][A-Za-z]+)*",
            re.escape(REFERRAL_POOL_NAME),
            re.escape(DEFAULT_FRIEND_OFFER_TEXT),
            *(re.escape(name) for name in (*HEADER_NAMES, *EXPIRY_HEADER_NAMES) if " " in name),
            r"[\w.+-]+@[\w.-]+",
            r"https?://\S+",
            r"[a-z_]+\.[a-z_.]+",
            r"zh-[Hh]ans",
            # An API key's shown prefix: random URL-safe letters, now and then a word's shape.
            re.escape(API_KEY_PREFIX) + r"[\w-]+",
            r"webhook-(?:id|timestamp|signature)",  # Standard Webhooks' header names
            r"Batch \d+ \(",  # a batch's name as the audit trail stored it when it was made
        ]
    )
)

ENGLISH_WORD = re.compile(r"\b[A-Z][a-z]{2,}\b")
# Words the Chinese console writes in Latin letters: names of things, of languages, formats and
# the platforms whose exports the importer recognises.
LATIN_IN_CHINESE = {
    "Webhook",
    "English",
    "Redis",
    "Http",
    "Https",
    "Shopify",
    "Stripe",
    "Voucherify",
}

STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change", "autocomplete"}


class _PageText(_ElementText):
    """The text of the page's body without what is not words of ours: scripts and styles, icons
    (a ligature's name, such as "more_vert"), code (the embed snippet) and what a manager typed
    (text areas)."""

    SKIPPED = {"code", "pre", "textarea", "style"}

    def __init__(self):
        super().__init__(element_id=None)
        self.skipping = []  # the depth at which each skipped element opened

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            return
        if self.depth:
            self.depth += 1
        elif tag == "body":
            self.depth = 1
        self.in_script = tag == "script"
        classes = (dict(attrs).get("class") or "").split()
        if tag in self.SKIPPED or any(c.startswith("material-symbols") for c in classes):
            self.skipping.append(self.depth)

    def handle_endtag(self, tag):
        if tag not in VOID_TAGS and self.skipping and self.skipping[-1] == self.depth:
            self.skipping.pop()
        super().handle_endtag(tag)

    def handle_data(self, data):
        if not self.skipping:
            super().handle_data(data)


def english_left(html):
    """The runs of English words in the page (its header, side bar, messages and content), once
    the allowed shapes are taken out."""
    parser = _PageText()
    parser.feed(html)
    assert parser.parts, "no body on the page"
    text = ALLOWED.sub(" ", " ".join(parser.parts))
    runs = ENGLISH_RUN.findall(text)
    text = ENGLISH_RUN.sub(" ", text)
    # A label of one word ("Events"), not a word Chinese writes in Latin letters.
    return runs + [word for word in ENGLISH_WORD.findall(text) if word not in LATIN_IN_CHINESE]


@pytest.fixture
def alpha(db):
    program = seed_program("Alpha", "alpha", "ALPHA")
    # One reward held by the review policy: the review queue has a row.
    reward = Reward.objects.filter(program=program).first()
    Reward.objects.filter(pk=reward.pk).update(
        status=RewardStatus.PENDING_REVIEW, needs_review=True
    )
    program_manager_add(program=program, username="alpha-manager", password=PASSWORD)
    return program


@pytest.fixture
def zh_client(client, alpha):
    client.force_login(get_user_model().objects.get(username="alpha-manager"))
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/admin/"})
    return client


def console_urls(client, program):
    """Every page of the console a manager of `program` can open."""
    yield reverse("admin:index")
    for app_label in sorted({model._meta.app_label for model in admin.site._registry}):
        yield reverse("admin:app_list", args=[app_label])
    for model, model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label
    ):
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}_"
        changelist = reverse(f"{prefix}changelist")
        response = client.get(changelist)
        if response.status_code != 200:
            continue  # not the manager's (users, groups)
        yield changelist
        yield f"{changelist}?_facets=True"
        yield reverse(f"{prefix}add")
        first = response.context["cl"].result_list[:1]
        for obj in first:
            for view in ("change", "history"):
                yield reverse(f"{prefix}{view}", args=[obj.pk])
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None) or ""
            short = name.removeprefix(f"{opts.app_label}_{opts.model_name}_")
            if short == name or short in STANDARD_VIEWS:
                continue
            groups = pattern.pattern.regex.groupindex
            try:
                if "object_id" in groups:
                    args = [obj.pk for obj in first]
                elif "program_id" in groups:
                    args = [program.pk]
                elif not groups:
                    args = []
                else:
                    continue
                if args or not groups:
                    yield reverse(f"admin:{name}", args=args)
            except NoReverseMatch:
                continue


def action_pages(client):
    """Each list action run on the list's first row: its confirmation page, or the list it
    returns to with its message. Run after the pages above, since an action changes rows."""
    for model, model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label
    ):
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        if response.status_code != 200:
            continue
        rows = response.context["cl"].result_list[:1]
        actions = model_admin.get_actions(response.wsgi_request)
        for action in actions:
            if action == "delete_selected" or action.startswith("export"):
                continue
            for obj in rows:
                data = {"action": action, "index": 0, "_selected_action": [obj.pk]}
                yield f"{changelist} {action}", client.post(changelist, data, follow=True)


def test_every_console_page_a_manager_uses_is_chinese(zh_client, alpha):
    left = {}
    walked = 0
    pages = ((url, zh_client.get(url)) for url in console_urls(zh_client, alpha))
    for url, response in itertools.chain(pages, action_pages(zh_client)):
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        walked += 1
        runs = english_left(response.content.decode())
        if runs:
            left[url] = sorted(set(runs))
    assert walked > 50  # the walk reached the pages, not only the index
    assert left == {}, "\n".join(f"{url}: {runs}" for url, runs in left.items())


def test_the_scan_names_an_untranslated_label(zh_client, monkeypatch):
    """A label left in English is caught; icons, code and the allowed shapes are not."""
    html = (
        '<body><div id="content"><h2>码池</h2><label>Rows read</label>'
        '<span class="material-symbols-outlined">more_vert</span> <code>script src</code> '
        "alpha-advocate alpha-advocate@example.com https://example.com/a b code.assigned"
        "</div></body>"
    )
    assert english_left(html) == ["Rows read"]
    # On a real page: a model's field name that the catalogue does not have.
    monkeypatch.setattr(Pool._meta.get_field("name"), "verbose_name", "name of the pool")
    page = zh_client.get(reverse("admin:codes_pool_changelist")).content.decode()
    assert "Name of the pool" in english_left(page)
