"""Every conversions test runs on each path that records orders: on PostgreSQL the database
function (conversions_attribute) and the Python path; on SQLite the Python path alone."""

import os

import pytest

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
PATHS = ["database", "python"] if ON_POSTGRES else ["python"]


def pytest_generate_tests(metafunc):
    if "conversion_path" in metafunc.fixturenames and not metafunc.definition.get_closest_marker(
        "both_conversion_paths"
    ):
        metafunc.parametrize("conversion_path", PATHS, indirect=True)


@pytest.fixture(autouse=True)
def conversion_path(request, settings):
    path = getattr(request, "param", PATHS[0])
    settings.CONVERSIONS_FAST_PATH = path == "database"
    return path
