"""The console in the manager's language: their choice (the language switcher), else their
browser's. The pages' own words are Chinese in zh-hans: no run of English words is left in
what our templates and views write (names the manager gave, codes and slugs aside)."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from codes.models import Pool
from programs.models import CodeUsage
from tests.codes.test_stock_page import hand_out, manager_of, stock_url
from tests.factories import ParticipantFactory, ProgramFactory, fuel_tank, stock_pool

pytestmark = pytest.mark.django_db

# Two English words in a row (what a sentence left untranslated looks like).
ENGLISH_RUN = re.compile(r"[A-Za-z][a-z]+(?:[ -][A-Za-z][a-z]+)+")


class _ElementText(HTMLParser):
    """The text inside the element with `element_id` (scripts left out)."""

    def __init__(self, element_id):
        super().__init__()
        self.element_id, self.depth, self.in_script, self.parts = element_id, 0, False, []

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            return
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth = 1
        self.in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag not in VOID_TAGS and self.depth:
            self.depth -= 1
        self.in_script = False

    def handle_data(self, data):
        if self.depth and not self.in_script:
            self.parts.append(data)


VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "source", "col", "wbr", "area"}


def english_runs(html, element_id):
    """The runs of English words in the text of the element with this id."""
    parser = _ElementText(element_id)
    parser.feed(html)
    assert parser.parts, f"no element #{element_id}"
    return ENGLISH_RUN.findall(" ".join(parser.parts))


@pytest.fixture
def tea():
    program = ProgramFactory(name="茶馆", slug="tea", low_stock_threshold=50)
    pool = stock_pool(program, 40)
    Pool.objects.filter(pk=pool.pk).update(name="推荐码")
    alice = ParticipantFactory(program=program, participant_id="alice")
    hand_out(pool, 7, alice, days_ago=1)
    fuel_tank(program, 0, name="答谢码")
    return program


def test_the_stock_page_and_the_dashboard_in_chinese(client, tea):
    client.force_login(manager_of(tea))
    response = client.get(stock_url(tea), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    html = response.content.decode()
    assert response["Content-Language"] == "zh-hans"
    assert "茶馆 的库存" in html
    assert "近 7 天发放了 7 个：按此速度可维持<strong>约" in html
    assert "当前已低于该值" in html
    assert english_runs(html, "stock-page") == []
    # The chart's days as Chinese writes them.
    chart = json.loads(response.context["chart_data"])
    assert all(re.fullmatch(r"\d{1,2}月\d{1,2}日", day) for day in chart["labels"])

    index = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "您的计划的优惠码库存" in index
    assert english_runs(index, "stock-dashboard") == []


def test_the_managers_own_choice_beats_the_browser(client, tea):
    client.force_login(manager_of(tea))
    english = client.get(stock_url(tea), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Stock of 茶馆" in english
    # The console's language switcher posts to Django's set_language (a cookie).
    client.post(reverse("set_language"), {"language": "zh-hans", "next": stock_url(tea)})
    chosen = client.get(stock_url(tea), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "茶馆 的库存" in chosen
    assert 'action="/i18n/setlang/"' in chosen  # the switcher is on the page


def test_the_irreversible_confirmation_in_chinese(admin_client):
    program = ProgramFactory(name="茶馆", promo_codes_enabled=False, code_usage=CodeUsage.MULTI)
    form = {
        "name": program.name,
        "promo_codes_enabled": "on",
        "code_usage": "single",
        "codes_per_advocate": 1,
        "low_stock_threshold": 10,
        "alert_language": "zh-hans",
        "reward_kind": program.reward_kind,
        "reward_amount": program.reward_amount,
        "reward_currency": program.reward_currency,
        "reward_percent": program.reward_percent,
        "reward_review_days": 0,
        "review_policy": "off",
        "review_velocity_per_hour": 10,
        "friend_offer_text": "好友首单立减 20%。",
        "default_language": "zh-hans",
        "widgets-TOTAL_FORMS": "0",
        "widgets-INITIAL_FORMS": "0",
        "programmanager_set-TOTAL_FORMS": "0",
        "programmanager_set-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    url = reverse("admin:programs_program_change", args=[program.pk])
    html = admin_client.post(url, form, HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "保存“茶馆”将做出无法撤销的更改" in html
    assert "此操作无法撤销。" in html
    assert "开启推荐优惠码。开启后将无法关闭。" in html
    assert english_runs(html, "content-main") == []
