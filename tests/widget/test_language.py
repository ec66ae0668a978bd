"""The widget's language: the participant's locale, else ?lang=, else Accept-Language, else
the program's default; its texts from the JSON catalogue; the page in that language."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from participants.models import Participant
from participants.widget.language import widget_language
from participants.widget.tokens import widget_token_decode
from tests.api_helpers import client_for, url
from tests.factories import ProgramFactory
from tests.widget.conftest import bearer, token_for

ME = "/api/v1/widget/me"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"locale": "zh-Hans", "requested": "en", "accept_language": "en"}, "zh-hans"),
        ({"locale": "zh_CN"}, "zh-hans"),
        ({"locale": "fr", "requested": "zh-hans"}, "zh-hans"),  # not offered: falls through
        ({"requested": "en", "accept_language": "zh-CN,zh;q=0.9"}, "en"),
        ({"requested": "klingon", "accept_language": "fr-FR,zh-CN;q=0.8"}, "zh-hans"),
        ({"accept_language": "de,fr;q=0.5", "program_default": "zh-hans"}, "zh-hans"),
        ({"accept_language": "en-GB", "program_default": "zh-hans"}, "en"),
        ({"accept_language": "*", "program_default": "zh-hans"}, "zh-hans"),
        ({}, "en"),
    ],
)
def test_the_first_offered_language_wins(given, expected):
    assert widget_language(**given) == expected


def test_the_token_locale_is_kept_on_the_participant_and_spoken(api, program):
    token = token_for(program, "li", locale="zh-Hans")
    response = api.get(ME, HTTP_ACCEPT_LANGUAGE="en", **bearer(token))
    assert response.status_code == 200
    assert response.json()["language"] == "zh-hans"
    assert response["Content-Language"] == "zh-hans"
    assert Participant.objects.get(participant_id="li").locale == "zh-Hans"
    # A later token without the claim: the stored locale still speaks first.
    response = api.get(ME, {"lang": "en"}, **bearer(token_for(program, "li")))
    assert response.json()["language"] == "zh-hans"


def test_without_a_locale_the_page_lang_then_the_browser_then_the_program(api, program):
    token = token_for(program, "bo")
    assert api.get(ME, {"lang": "zh-hans"}, **bearer(token)).json()["language"] == "zh-hans"
    answer = api.get(ME, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9", **bearer(token))
    assert answer.json()["language"] == "zh-hans"
    assert api.get(ME, **bearer(token)).json()["language"] == "en"
    program.default_language = "zh-hans"
    program.save()
    assert api.get(ME, **bearer(token)).json()["language"] == "zh-hans"
    answer = api.get(ME, HTTP_ACCEPT_LANGUAGE="en-US", **bearer(token))
    assert answer.json()["language"] == "en"


def test_a_token_with_a_malformed_locale_is_refused(api, program):
    response = api.get(ME, **bearer(token_for(program, "li", locale="zh Hans<script>")))
    assert response.status_code == 401
    assert "'locale' claim" in response.json()["error"]["message"]


def test_the_upsert_api_takes_and_answers_the_locale(program):
    api = client_for(program)
    path = url(program, "participants/ada")
    response = api.put(path, {"locale": "zh-Hans"}, format="json")
    assert response.status_code == 201
    assert response.json()["locale"] == "zh-Hans"
    refused = api.put(path, {"locale": "chinese please"}, format="json")
    assert refused.status_code == 400
    assert "locale" in refused.json()["error"]["fields"]
    assert Participant.objects.get(participant_id="ada").locale == "zh-Hans"


def test_the_catalogue_serves_the_widget_texts_to_any_site(client, db):
    response = client.get("/widget/i18n/zh-hans.json")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    catalog = response.json()["catalog"]
    assert catalog["Copy code"] == "复制优惠码"
    assert catalog["You've copied this code before"] == "您之前复制过此优惠码"
    assert client.get("/widget/i18n/fr.json").status_code == 404


def test_the_widget_page_speaks_the_lang_it_is_given(client, db):
    program = ProgramFactory(slug="tea", name="Tea House")
    page = client.get("/widget/tea/", {"lang": "zh-hans"}).content.decode()
    assert '<html lang="zh-hans">' in page
    assert "Tea House · 推荐好友" in page
    assert 'data-lang="zh-hans"' in page
    assert '<html lang="en">' in client.get("/widget/tea/").content.decode()
    program.default_language = "zh-hans"
    program.save()
    assert '<html lang="zh-hans">' in client.get("/widget/tea/").content.decode()


def test_widget_token_carries_a_locale(program, capsys):
    call_command(
        "widget_token", "--program", program.slug, "--participant", "li", "--locale", "zh-Hans"
    )
    token = capsys.readouterr().out.splitlines()[0]
    assert widget_token_decode(token).claims["locale"] == "zh-Hans"
    with pytest.raises(CommandError, match="not a language tag"):
        call_command(
            "widget_token", "--program", program.slug, "--participant", "li", "--locale", "中文"
        )


def test_widget_api_errors_speak_the_advocates_language_with_their_codes_unchanged(api, program):
    expired = token_for(program, "li", ttl_seconds=-60)
    response = api.get(ME, {"lang": "zh-hans"}, **bearer(expired))
    assert response.status_code == 401
    assert response["Content-Language"] == "zh-hans"
    assert response.json()["error"] == {
        "code": "token_expired",
        "message": "参与者令牌已过期。",
        "fields": {},
    }
    # After the token is read: its locale, and the program's default, count too.
    copy = api.post(
        "/api/v1/widget/codes/NOPE/copy",
        HTTP_ACCEPT_LANGUAGE="en",
        **bearer(token_for(program, "li", locale="zh-Hans")),
    )
    assert copy.status_code == 404
    assert copy.json()["error"]["code"] == "not_found"
    assert copy.json()["error"]["message"] == "此参与者尚未持有任何优惠码。"
    english = api.get(ME, **bearer(expired)).json()["error"]
    assert english["message"] == "The participant token has expired."


def test_server_api_errors_follow_accept_language(program):
    api = client_for(program)
    path = url(program, "participants/ada")
    refused = api.put(path, {"locale": "x"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert refused["Content-Language"] == "zh-hans"
    error = refused.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"] == "无效字段：locale"
    assert error["fields"]["locale"] == [
        "'x' 不是语言标签：应为字母开头，各部分以“-”连接（例如 zh-Hans、en-US）。"
    ]
    missing = api.get(url(program, "participants/nobody"), HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "此计划中没有参与者 'nobody'。",
        "fields": {},
    }
    assert api.get(url(program, "participants/nobody")).json()["error"]["message"] == (
        "No participant 'nobody' in this program."
    )
