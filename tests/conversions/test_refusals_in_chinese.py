"""A refusal's sentence in the reader's language: the conversions API answers in English unless
the request asks for another language (Accept-Language), stores it in English, and its
`reason_code` never changes; the sentences name their dates as ISO dates."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone, translation

from codes.models import CodeStatus, PromoCode
from codes.refusals import Refusal, code_sentence, order_sentence
from conversions.models import Conversion
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url

DAY = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_every_sentence_is_english_by_default_and_chinese_in_zh_hans():
    for refusal in Refusal:
        for sentence in (order_sentence, code_sentence):
            try:
                english = sentence(refusal, code="ABC-1", when=DAY, detail="code changed")
            except KeyError:
                continue  # no sentence of this kind for this refusal
            with translation.override("zh-hans"):
                chinese = sentence(refusal, code="ABC-1", when=DAY, detail="code changed")
            assert english.isascii(), english
            assert not chinese.isascii() and chinese != english, (refusal, chinese)


def test_a_date_is_named_in_its_own_sentence_and_left_out_without_one():
    assert order_sentence(Refusal.CODE_EXPIRED, when=DAY) == (
        "The code expired on 2026-12-01: it no longer attributes orders."
    )
    assert order_sentence(Refusal.CODE_EXPIRED, when=None) == (
        "The code expired: it no longer attributes orders."
    )
    assert code_sentence(Refusal.CODE_NOT_YET_VALID, code="ABC-1", when=DAY) == (
        "ABC-1 is not valid yet until 2026-12-01."
    )
    with translation.override("zh-hans"):
        assert order_sentence(Refusal.CODE_VOIDED, when=DAY) == (
            "该优惠码已于 2026-12-01 作废：不再归因订单。"
        )
        assert code_sentence(Refusal.CODE_EXPIRED, code="ABC-1", when=None) == "ABC-1 已过期。"


@pytest.mark.django_db
def test_the_conversion_answer_follows_accept_language_and_keeps_its_reason_code():
    program = stocked_program()
    _, code = advocate_with_code(program)
    voided_at = timezone.now() - timedelta(days=2)
    PromoCode.objects.filter(pk=code.pk).update(status=CodeStatus.VOIDED, voided_at=voided_at)
    client = client_for(program)
    body = {"OrderId": "ORD-1", "CustomerId": "friend-1", "OrderPromoCode": code.code}
    english = client.post(url(program, "conversions"), body).json()
    assert english["reason"] == (
        f"The code was voided on {voided_at:%Y-%m-%d}: it no longer attributes orders."
    )
    body["OrderId"] = "ORD-2"
    chinese = client.post(url(program, "conversions"), body, HTTP_ACCEPT_LANGUAGE="zh-Hans").json()
    assert chinese["reason"] == f"该优惠码已于 {voided_at:%Y-%m-%d} 作废：不再归因订单。"
    assert english["reason_code"] == chinese["reason_code"] == "code_voided"
    # Stored in English: the console and a replay read the stored answer.
    stored = Conversion.objects.get(program=program, order_id="ORD-2")
    assert stored.reason == english["reason"] and stored.response["reason"] == english["reason"]
    replay = client.post(url(program, "conversions"), body, HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert replay.status_code == 200 and replay.json()["reason"] == english["reason"]
