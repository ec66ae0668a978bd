"""The code quota: its Python and SQL forms (programs.models) say the same."""

import pytest
from django.db import connection

from programs.models import (
    CodeUsage,
    code_quota_of,
    code_quota_sql,
    counts_toward_quota_sql,
    quota_usages_of,
)


@pytest.mark.django_db
@pytest.mark.parametrize("program_usage", CodeUsage.values)
@pytest.mark.parametrize("per_advocate", [1, 3, 25])
def test_the_quota_in_sql_is_the_quota_in_python(program_usage, per_advocate):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {code_quota_sql('%s', '%s')}", [program_usage, per_advocate])
        assert cursor.fetchone()[0] == code_quota_of(program_usage, per_advocate)
        for code_usage in CodeUsage.values:
            cursor.execute(
                f"SELECT CASE WHEN {counts_toward_quota_sql('%s', '%s')} THEN 1 ELSE 0 END",
                [program_usage, code_usage],
            )
            counts = cursor.fetchone()[0] == 1
            assert counts == (code_usage in quota_usages_of(program_usage))


def test_a_single_use_program_counts_only_single_use_codes():
    assert quota_usages_of(CodeUsage.SINGLE) == (CodeUsage.SINGLE,)
    assert set(quota_usages_of(CodeUsage.MULTI)) == {CodeUsage.SINGLE, CodeUsage.MULTI}
    assert code_quota_of(CodeUsage.SINGLE, 5) == 5 and code_quota_of(CodeUsage.MULTI, 5) == 1
