from decimal import Decimal

import pytest

from foundation.wording import about_duration, counted


def test_counted_puts_the_noun_in_the_right_number():
    assert counted(1, "code") == "1 code"
    assert counted(0, "code") == "0 codes"
    assert counted(12_000, "duplicate") == "12,000 duplicates"
    assert counted(2, "entry", "entries") == "2 entries"


@pytest.mark.parametrize(
    ("days", "said"),
    [
        (Decimal("0.4"), "less than a day"),
        (Decimal("1.0"), "about 1 day"),
        (Decimal("6.6"), "about 7 days"),
        (Decimal("21.0"), "about 3 weeks"),
        (Decimal("226.3"), "about 7 months"),
        (Decimal("400"), "about 13 months"),
        (Decimal("1000"), "about 3 years"),
    ],
)
def test_a_forecast_is_rounded_to_what_a_person_says(days, said):
    assert about_duration(days) == said
