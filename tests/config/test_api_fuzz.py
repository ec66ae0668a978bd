"""The published OpenAPI, fuzzed with schemathesis (docs/architecture.md): no 500, answers match
the schema.

Runs in the PostgreSQL pass (`make test`, CI) on a bounded budget: FUZZ_EXAMPLES examples per
operation (environment variable, default 60), positive and negative, against the WSGI app in
the test's database: the server API with a real program key, the widget API with a real
participant token, the `program` path parameter pinned to the program so requests reach the
views instead of stopping at 403.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from config.wsgi import application
from programs.services import api_key_create
from tests.factories import ParticipantFactory, ProgramFactory, stock_pool
from tests.widget.conftest import token_for

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
# These two judge how strict the *request* schema is (is every schema-valid body accepted, every
# invalid one refused?), not our answers. The API is deliberately lenient where the schema
# cannot say so (a form's blank field is "no value"; unknown fields are ignored, as impact.com
# senders need), so they are left out; every answer is still checked: no 5xx, a documented
# status, content type and headers, and a body matching its schema.
REQUEST_SCHEMA_CHECKS = [negative_data_rejection, positive_data_acceptance]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _keep_the_test_connection(db):
    # Django's test client does the same: a request must not close the test's connection
    # (the test's transaction holds everything it made).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db):
    from codes.services import codes_top_up

    program = ProgramFactory(slug="fuzz", codes_per_advocate=2)
    stock_pool(program, 500, prefix="FZ")
    advocate = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=advocate)
    _, key = api_key_create(program=program, name="fuzz", requests_per_minute=1_000_000)
    return {"program": program.slug, "key": key, "token": token_for(program, "alice")}


# The schema as published (no database needed to serve it).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_published_api_answers_as_documented(case, credentials):
    if "program" in (case.path_parameters or {}):
        case.path_parameters["program"] = credentials["program"]
    widget = case.path.startswith("/api/v1/widget/")
    secret = credentials["token"] if widget else credentials["key"]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {secret}"}, excluded_checks=REQUEST_SCHEMA_CHECKS
    )
