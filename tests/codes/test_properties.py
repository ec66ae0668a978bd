"""Property tests (hypothesis) of the code rules: the canonical form, the header rule, and the
normalised order payload a replay is compared by."""

import csv
import io
import re
import string
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from codes.models import CANONICAL_CODE_REGEX
from codes.parsing import NoCodeColumn, UnreadableFile, header_key, names_code_column, read_rows
from codes.rules import HEADER_NAMES, InvalidCode, canonical_code, canonical_or_none
from conversions.payload import payload_digest, payload_normalise

FIRST_CHARS = string.ascii_letters + string.digits
CODE_CHARS = FIRST_CHARS + "-_"
codes = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(FIRST_CHARS),
    st.text(CODE_CHARS, max_size=63),
)
spaces = st.text(" \t", max_size=3)


@given(code=codes, before=spaces, after=spaces)
def test_a_valid_code_in_any_case_with_spaces_around_is_its_upper_case(code, before, after):
    canonical = canonical_code(before + code + after)
    assert canonical == code.upper()
    assert re.fullmatch(CANONICAL_CODE_REGEX, canonical)
    assert canonical_code(canonical) == canonical  # idempotent
    assert canonical_code(code.lower()) == canonical_code(code.upper())  # case-insensitive


@given(st.text(max_size=80))
def test_any_text_is_either_a_canonical_code_or_refused_with_a_reason(text):
    try:
        canonical = canonical_code(text)
    except InvalidCode as refused:
        assert str(refused)
        stripped = text.strip()
        assert (
            not stripped
            or len(stripped) > 64
            or stripped[0] not in FIRST_CHARS
            or any(ch not in CODE_CHARS for ch in stripped)
        )
    else:
        assert re.fullmatch(CANONICAL_CODE_REGEX, canonical)
        assert canonical == text.strip().upper()


cells = st.text(string.ascii_letters + string.digits + " -", max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=4), min_size=1, max_size=12),
    header_at=st.none() | st.integers(min_value=0, max_value=3),
    # the product's own list of header names, written as people write them
    header_text=st.sampled_from(HEADER_NAMES).flatmap(
        lambda name: st.sampled_from([name, name.upper(), name.title(), f" {name} "])
    ),
    # a second cell naming codes: the name earlier in the product's list wins
    rival_text=st.none() | st.sampled_from(HEADER_NAMES),
)
def test_the_header_rule(rows, header_at, header_text, rival_text):
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    if header_at is not None:
        header_at = min(header_at, width - 1)
        header = ["name"] * width
        header[header_at] = header_text
        rival_at = (header_at + 1) % width
        if rival_text is not None and rival_at != header_at:
            header[rival_at] = rival_text
            keys = [header_key(name) for name in HEADER_NAMES]
            rank = {at: keys.index(header_key(header[at])) for at in (header_at, rival_at)}
            header_at = min(rank, key=lambda at: (rank[at], at))
        rows = [header, *rows]
    elif any(names_code_column(c) for c in rows[0]):
        return  # the first row happens to name the codes: covered by the header case
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    data = out.getvalue().encode()
    column = header_at if header_at is not None else 0
    body = rows[1:] if header_at is not None else rows
    expected = [r[column].strip().upper() for r in body if r[column].strip()]
    try:
        got = [row.code or row.value for row in read_rows(io.BytesIO(data), "csv")]
    except NoCodeColumn as refused:
        assert header_at is None
        first = rows[0][0]
        if refused.person_data:
            # a first row of several cells, one naming a person's data (`name`, `user`, …)
            assert len([c for c in rows[0] if c.strip()]) > 1
        else:
            # a first row whose first cell is no code (blank beside others, not valid), or
            # holding a word
            assert (
                not first.strip()
                or canonical_or_none(first) is None
                or any(c.strip().isalpha() for c in rows[0])
            )
        return
    except UnreadableFile:
        assert not expected  # refused whole only when there are no codes at all
        return
    assert [g.strip().upper() for g in got] == expected


amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False)


@given(
    order_id=st.text(CODE_CHARS, min_size=1, max_size=20),
    code=codes,
    email=st.emails(),
    subtotal=amounts,
)
def test_an_order_normalises_the_same_however_it_is_written(order_id, code, email, subtotal):
    as_json = {
        "order_id": order_id,
        "promo_code": code.lower(),
        "customer_email": email.upper(),
        "order_subtotal": subtotal,
        "currency_code": "usd",
    }
    as_form = {
        "order_id": f" {order_id} ",
        "promo_code": f"{code.upper()} ",
        "customer_email": email.lower(),
        "order_subtotal": Decimal(str(subtotal)).normalize(),
        "currency_code": "USD",
        "customer_id": "",  # blank is the same as missing
    }
    one, other = payload_normalise(as_json), payload_normalise(as_form)
    assert one == other
    assert payload_digest(one) == payload_digest(other)
    assert payload_normalise(one) == one  # idempotent


@given(first=codes, second=codes)
def test_different_codes_give_different_digests(first, second):
    one = payload_normalise({"order_id": "A", "promo_code": first})
    other = payload_normalise({"order_id": "A", "promo_code": second})
    assert (payload_digest(one) == payload_digest(other)) == (first.upper() == second.upper())
