import pytest
from django.test import Client

SERVER_PATHS = {
    "/api/v1/programs/{program}/participants/{participant_id}": {"get", "put"},
    "/api/v1/programs/{program}/codes/{code}": {"get"},
    "/api/v1/programs/{program}/stock": {"get"},
    "/api/v1/programs/{program}/conversions": {"post"},
    "/api/v1/programs/{program}/conversions/{order_id}/reversal": {"post"},
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
            # 404 is for a thing looked up by the path; an unknown program is a 403, like
            # another program's (a key cannot tell slugs apart).
            looks_up = "{" in path.replace("{program}", "") and method in {"get", "post"}
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
def test_the_docs_are_public_and_served_without_a_cdn():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assert "cdn" not in html.lower() and "//unpkg" not in html
    assert "/static/drf_spectacular_sidecar/" in html
    import re

    assets = re.findall(r'(/static/drf_spectacular_sidecar/[^"\']+\.js)', html)
    assert assets
    assert Client().get(assets[0]).status_code == 200
