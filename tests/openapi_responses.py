"""Every answer the API tests get is checked against the published schema by openapi-core
(strict OpenAPI 3.1 validation), as an integrator's validating client would check it.

`tests/conftest.py` wraps Django's test client (APIClient included) with `check_response` for
every request to the server API, the impact.com paths and the widget API. An answer whose
status the operation does not document, or whose body does not match the documented schema,
fails the test that got it. Requests to paths or methods the schema does not have (an unknown
path's 404, a GET on a POST-only path's 405) are not operations, so there is nothing to check.
"""

import json
from functools import cache

from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIResponse
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

CHECKED_PREFIXES = ("/api/v1/", "/Advertisers/")


@cache
def published_schema() -> dict:
    """The schema exactly as /api/schema/ serves it (JSON), generated once per test run."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


@cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(published_schema())


class _AnsweredRequest:
    """What openapi-core needs of the request to find its operation (the body was read by the
    view already and is not needed to check the answer)."""

    def __init__(self, request):
        match = request.resolver_match
        self.host_url = request._current_scheme_host
        self.path = request.path
        self.path_pattern = None if match is None else "/" + _openapi_route(match.route)
        self.method = request.method.lower()
        self.parameters = RequestParameters(
            path=match.kwargs if match else {},
            query=ImmutableMultiDict(request.GET),
            header=Headers(request.headers.items()),
            cookie=ImmutableMultiDict(dict(request.COOKIES)),
        )
        self.content_type = request.META.get("CONTENT_TYPE", "")
        self.body = b""


def _openapi_route(route: str) -> str:
    """A Django route (`programs/<slug:program>/…`) in OpenAPI's template form."""
    import re

    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def check_response(response) -> None:
    """Raise AssertionError when the answer does not match the operation's documented answers."""
    request = getattr(response, "wsgi_request", None)
    if request is None or not request.path.startswith(CHECKED_PREFIXES):
        return
    if request.resolver_match is None:
        return  # no route: not an operation of the schema
    try:
        _openapi().validate_response(_AnsweredRequest(request), DjangoOpenAPIResponse(response))
    except (PathNotFound, OperationNotFound):
        return
    except Exception as invalid:  # openapi-core's errors have no common base worth naming
        details, cause = [], invalid
        while cause is not None:
            details += [error.message for error in getattr(cause, "schema_errors", ()) or ()]
            cause = cause.__cause__
        raise AssertionError(
            f"{request.method} {request.path} answered {response.status_code}, which the "
            f"published schema does not describe: {invalid!r} {'; '.join(details)}\n"
            f"body: {response.content[:2000]!r}"
        ) from invalid
