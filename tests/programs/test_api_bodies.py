"""Request bodies every server-API view refuses cleanly (4xx in the error shape, never 500)."""

from urllib.parse import urlencode

import pytest

from conversions.models import Conversion
from tests.api_helpers import client_for, stocked_program, url


@pytest.mark.django_db
def test_absurdly_nested_json_is_400_not_500():
    program = stocked_program()
    body = b"[" * 100_000 + b"]" * 100_000
    response = client_for(program).generic(
        "POST", url(program, "conversions"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert "nested too deeply" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_a_form_with_too_many_fields_is_413_saying_so(settings):
    program = stocked_program()
    fields = {"OrderId": "F-1", **{f"ItemSku{i}": f"S{i}" for i in range(1, 1001)}}
    response = client_for(program).generic(
        "POST",
        url(program, "conversions"),
        urlencode(fields),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields" in error["message"]
    assert not Conversion.objects.exists()
