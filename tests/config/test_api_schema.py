import re

import pytest
from django.test import Client

SERVER_PATHS = {
    "/api/v1/programs/{program}/participants/{participant_id}": {"get", "put"},
    "/api/v1/programs/{program}/codes/{code}": {"get"},
    "/api/v1/programs/{program}/stock": {"get"},
    "/api/v1/programs/{program}/conversions": {"post", "get"},
    "/api/v1/programs/{program}/rewards": {"get"},
    "/api/v1/programs/{program}/referrals": {"get"},
    "/api/v1/programs/{program}/rewards/{reward_id}/paid": {"post"},
    "/api/v1/programs/{program}/conversions/{order_id}/reversal": {"post"},
    "/Advertisers/{program}/Conversions": {"post"},
    "/Advertisers/{program}/Actions": {"delete", "put", "post"},
}

LOOKUPS = {
    ("/api/v1/programs/{program}/participants/{participant_id}", "get"),
    ("/api/v1/programs/{program}/codes/{code}", "get"),
    ("/api/v1/programs/{program}/rewards/{reward_id}/paid", "post"),
    ("/api/v1/programs/{program}/conversions/{order_id}/reversal", "post"),
    ("/Advertisers/{program}/Actions", "delete"),
    ("/Advertisers/{program}/Actions", "put"),
    ("/Advertisers/{program}/Actions", "post"),
}


@pytest.mark.django_db
def test_the_schema_is_public_openapi_3_with_every_server_endpoint():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path, methods in SERVER_PATHS.items():
        assert path in schema["paths"], path
        operations = schema["paths"][path]
        assert methods <= set(operations), path
        for method in methods:
            operation = operations[method]
            responses = operation["responses"]
            assert {"401", "403", "429"} <= set(responses), (path, method)
            # 404 is for a thing looked up (a participant, a code, an order); an unknown program
            # is a 403, like another program's (a key cannot tell slugs apart).
            looks_up = (path, method) in LOOKUPS
            assert ("404" in responses) == looks_up, (path, method)
            assert any(
                "examples" in content
                for status, r in responses.items()
                if status.startswith("2")
                for content in r.get("content", {}).values()
            ), (path, method)
    conversion = schema["paths"]["/api/v1/programs/{program}/conversions"]["post"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(
        conversion["requestBody"]["content"]
    )
    assert {"409", "413", "415", "429"} <= set(conversion["responses"])
    assert schema["components"]["securitySchemes"]["programApiKey"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_the_schema_documents_impacts_path_basic_auth_items_and_ignored_fields():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["programBasic"] == {**schemes["programBasic"], "type": "http", "scheme": "basic"}
    impact = schema["paths"]["/Advertisers/{program}/Conversions"]["post"]
    native = schema["paths"]["/api/v1/programs/{program}/conversions"]["post"]
    for operation in (impact, native):
        # Either scheme (OR): Bearer or Basic.
        assert {"programApiKey": []} in operation["security"]
        assert {"programBasic": []} in operation["security"]
        assert {"application/json", "application/x-www-form-urlencoded"} <= set(
            operation["requestBody"]["content"]
        )
        assert {"409", "413", "415", "429"} <= set(operation["responses"])
    reference = impact["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    # OrderId, or Oid in its place: neither alone is required by the schema; the
    # description says one of them is.
    assert "required" not in body and "`Oid`" in body["description"]
    for item_field in ("ItemSku1", "ItemName1", "ItemCategory1", "ItemQuantity1"):
        assert item_field in body["properties"]
    for amount in ("ItemPrice1", "ItemSubTotal1", "OrderSubtotal", "OrderDiscount"):
        kinds = {choice["type"] for choice in body["properties"][amount]["oneOf"]}
        assert kinds - {"null"} == {"number", "string"}, amount
    for ignored in ("ClickId", "CampaignId", "EventTypeId", "UserAgent"):
        assert body["properties"][ignored]["description"].startswith("Accepted and ignored")
    # The two the review reads are documented as such.
    assert "same-IP" in body["properties"]["IpAddress"]["description"]
    assert "Returning" in body["properties"]["CustomerStatus"]["description"]
    assert body["additionalProperties"] is True
    reversal = schema["paths"]["/Advertisers/{program}/Actions"]
    assert {"OrderId", "DispositionCode"} <= {p["name"] for p in reversal["delete"]["parameters"]}
    assert "Amount=0" in reversal["put"]["description"]


@pytest.mark.django_db
def test_the_docs_are_public_and_served_without_a_cdn():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    # Every script and stylesheet from this server: no absolute URL to another host. (Not a
    # search for "cdn": the page carries a random CSRF token that may spell it.)
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html)
    assert "unpkg.com" not in html and "jsdelivr" not in html and "cdnjs" not in html
    assert "/static/drf_spectacular_sidecar/" in html

    assets = re.findall(r'(/static/drf_spectacular_sidecar/[^"\']+\.js)', html)
    assert assets
    assert Client().get(assets[0]).status_code == 200


def _component(schema, reference):
    return schema["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]]


@pytest.mark.django_db
def test_each_body_encoding_has_its_own_component_so_a_generated_client_sends_it():
    """A generated client picks the encoding by the body's type: the JSON body and the form
    body must be different components, and every operation reading a body declares both."""
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["openapi"] == "3.1.0"
    operations = [
        ("/api/v1/programs/{program}/conversions", "post"),
        ("/Advertisers/{program}/Conversions", "post"),
        ("/Advertisers/{program}/Actions", "delete"),
        ("/Advertisers/{program}/Actions", "put"),
        ("/Advertisers/{program}/Actions", "post"),
    ]
    for path, method in operations:
        content = schema["paths"][path][method]["requestBody"]["content"]
        json_body = content["application/json"]["schema"]["$ref"]
        form_body = content["application/x-www-form-urlencoded"]["schema"]["$ref"]
        assert json_body != form_body, (path, method)
    override = _component(
        schema,
        schema["paths"]["/Advertisers/{program}/Actions"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"],
    )
    assert "#/components/schemas/ActionMethodEnum" in str(override["properties"]["_method"])


@pytest.mark.django_db
def test_the_schema_accepts_what_the_server_accepts():
    """NOW as EventDate, a quantity sent as a string, null where an answer may hold null."""
    from openapi_schema_validator import OAS31Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    registry = Registry().with_resource("urn:api", DRAFT202012.create_resource(schema))

    def valid(component, value):
        validator = OAS31Validator(
            {"$ref": f"urn:api#/components/schemas/{component}"},
            registry=registry,
            format_checker=OAS31Validator.FORMAT_CHECKER,
        )
        return validator.is_valid(value)

    order = {"Oid": "A-1", "EventDate": "NOW", "ItemQuantity1": "2", "ItemPrice1": "9.50"}
    assert valid("ConversionInputRequest", order)
    assert valid("ConversionInputRequest", {**order, "EventDate": "now"})
    assert not valid("ConversionInputRequest", {**order, "EventDate": "yesterday"})
    assert not valid("ConversionInputRequest", {**order, "ItemQuantity1": "two"})
    assert valid("ConversionInputRequest", {**order, "ItemQuantity1": 2, "OrderSubtotal": 9.5})
    for component, field in (
        ("Conversion", "reward"),
        ("Participant", "referred_by"),
        ("Code", "owner"),
    ):
        nullable = schema["components"]["schemas"][component]["properties"][field]
        assert {"type": "null"} in nullable["oneOf"], (component, field)


@pytest.mark.django_db
def test_the_response_check_fails_an_answer_the_schema_does_not_describe():
    """The check every API test's answers go through (tests/openapi_responses.py) can fail."""
    import json

    from tests.api_helpers import advocate_with_code, client_for, stocked_program, url
    from tests.openapi_responses import check_response

    program = stocked_program()
    advocate_with_code(program)
    response = client_for(program).get(url(program, "participants/adv-1"))
    assert response.status_code == 200  # and checked on the way
    body = response.json()
    del body["referral_codes"]
    response.content = json.dumps(body).encode()
    with pytest.raises(AssertionError, match="'referral_codes' is a required property"):
        check_response(response)
    response.status_code = 418
    with pytest.raises(AssertionError, match="answered 418"):
        check_response(response)
