"""Each manager reads the console in their own time zone, chosen on their settings page (with
their language), in the console's one date format; the APIs and the widget keep UTC."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from participants.models import Reward
from programs.models import ApiKey, ConsoleSettings
from programs.services import console_settings_update, program_manager_add
from tests.api_helpers import client_for, url
from tests.programs.test_admin_scoping_walk import PASSWORD, seed_program
from tests.programs.test_console_wording import page_text, pages, wording_errors

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/admin/settings/"
A_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2} ([A-Z]{3,5}|[+-]\d{2,4})\b")
# Chinese dates in Django's own zh-hans formats ("2026年12月7日").
CHINESE_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")


@pytest.fixture
def alpha(db):
    program = seed_program("Alpha", "alpha", "ALPHA")
    program_manager_add(program=program, username="alpha-manager", password=PASSWORD)
    program_manager_add(program=program, username="alpha-second", password=PASSWORD)
    return program


def user(username):
    return get_user_model().objects.get(username=username)


def test_a_manager_sets_their_own_time_zone_and_language_on_their_settings_page(client, alpha):
    client.force_login(user("alpha-manager"))
    page = client.get(SETTINGS_URL)
    assert page.status_code == 200
    text = page_text(page)
    assert "Language and time zone" in text and "UTC" in text
    # The account menu links to it.
    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{SETTINGS_URL}"' in index

    saved = client.post(
        SETTINGS_URL, {"language": "zh-hans", "time_zone": "Europe/Paris"}, follow=True
    )
    assert saved.status_code == 200
    assert ConsoleSettings.objects.get(user=user("alpha-manager")).time_zone == "Europe/Paris"
    assert client.cookies["django_language"].value == "zh-hans"
    assert "Europe/Paris" in page_text(saved)
    # Their colleague still reads UTC: the page edits only the signed-in person's settings.
    assert not ConsoleSettings.objects.filter(user=user("alpha-second")).exists()
    client.force_login(user("alpha-second"))
    assert "UTC" in page_text(client.get(SETTINGS_URL))


def test_a_zone_zoneinfo_does_not_know_is_refused_at_the_field(client, alpha):
    client.force_login(user("alpha-manager"))
    refused = client.post(SETTINGS_URL, {"language": "en", "time_zone": "Mars/Olympus_Mons"})
    assert refused.status_code == 200
    assert list(refused.context["form"].errors) == ["time_zone"]
    assert "“Mars/Olympus_Mons” is not a time zone" in page_text(refused)
    assert not ConsoleSettings.objects.exists()
    with pytest.raises(Exception, match="is not a time zone"):
        console_settings_update(user=user("alpha-manager"), time_zone="Europe/Atlantis")


def test_console_pages_show_times_in_the_managers_zone_in_one_format(client, alpha):
    manager = user("alpha-manager")
    console_settings_update(user=manager, time_zone="Europe/Paris")
    ApiKey.objects.filter(program=alpha).update(
        created_at=datetime(2026, 12, 7, 13, 19, tzinfo=UTC)
    )
    client.force_login(manager)
    keys = page_text(client.get(reverse("admin:programs_apikey_changelist")))
    assert "2026-12-07 14:19 CET" in keys
    assert "13:19" not in keys

    zones_seen, found, walked = set(), {}, 0
    for label, response in pages(client, manager):
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        walked += 1
        text = page_text(response)
        zones = {match.group(1) for match in A_TIME.finditer(text)}
        zones_seen |= zones
        wrong = (zones - {"CET", "CEST"}) | set(wording_errors(text))
        if wrong:
            found[label] = sorted(wrong)
    assert walked > 20
    assert not found, found  # no UTC time and no "Dec. 7, 2026, 1:19 p.m." on any page
    assert zones_seen & {"CET", "CEST"}


def test_in_chinese_the_console_keeps_the_same_numeric_format(client, alpha):
    manager = user("alpha-manager")
    console_settings_update(user=manager, time_zone="Asia/Shanghai")
    ApiKey.objects.filter(program=alpha).update(
        created_at=datetime(2026, 12, 7, 13, 19, tzinfo=UTC)
    )
    client.force_login(manager)
    client.cookies["django_language"] = "zh-hans"
    keys = page_text(client.get(reverse("admin:programs_apikey_changelist")))
    assert "2026-12-07 21:19 CST" in keys
    found = {}
    for label, response in pages(client, manager):
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        text = page_text(response)
        wrong = set(CHINESE_DATE.findall(text)) | {
            match.group(0) for match in A_TIME.finditer(text) if match.group(1) != "CST"
        }
        if wrong:
            found[label] = sorted(wrong)
    assert not found, found


def test_the_apis_keep_utc_while_a_manager_reads_the_console_in_tokyo(client, alpha):
    manager = user("alpha-manager")
    console_settings_update(user=manager, time_zone="Asia/Tokyo")
    Reward.objects.filter(program=alpha).update(
        created_at=datetime(2026, 12, 7, 13, 19, tzinfo=UTC)
    )
    client.force_login(manager)
    console = page_text(client.get(reverse("admin:participants_reward_changelist")))
    assert "2026-12-07 22:19 JST" in console
    (item,) = client_for(alpha).get(url(alpha, "rewards")).json()["results"]
    assert item["earned_at"] == "2026-12-07T13:19:00Z"
