"""Finding codes: the code manager's search, the codes a participant holds, and one code's row
looked up by its text.
"""

import re
import weakref

from django.db import connections, router
from django.db.models import Q, QuerySet

from ..models import (
    CODE_CHAR_CLASS,
    CODE_MAX_LENGTH,
    PromoCode,
)

# --- The code manager's search -------------------------------------------------------------

# What a code, or its first characters, can look like (any case: codes are stored upper-case).
CODE_PREFIX = re.compile(rf"[{CODE_CHAR_CLASS}]{{1,{CODE_MAX_LENGTH}}}")


# An advocate's id or e-mail names a handful of participants; more is not a person.
SEARCH_MAX_HOLDERS = 50


# A code prefix is resolved to at most this many codes first (see codes_matching).
SEARCH_MAX_PREFIX_CODES = 10_000


def codes_matching(
    *, queryset: QuerySet[PromoCode], term: str, program_ids: list[int]
) -> QuerySet[PromoCode]:
    """The codes of `queryset` that start with `term` (any case), or whose advocate's
    participant id or e-mail (any case) is `term`, in the programs `program_ids`.

    Each part is an index lookup, never a scan of the codes (checked with EXPLAIN on
    PostgreSQL, docs/benchmarks.md and docs/scaling.md):
    - the code prefix: resolved first to the ids of its codes, a bounded range of
      `promocode_unique_per_program` (program_id, code varchar_pattern_ops) read in code
      order, as program_id = ANY(…) AND code ~>=~ 'AB' AND code ~<~ 'AC' LIMIT 10,000; the
      codes are then `pk IN (those ids)`, so the list's ORDER BY id DESC has only them to sort.
      Left to itself, PostgreSQL over-estimates how many codes a prefix matches and, at 100 M
      codes, walks the primary key backwards looking for them (90 s). A prefix matching more
      than SEARCH_MAX_PREFIX_CODES codes is common enough in the table for that walk to find
      a page quickly, and keeps the plain condition (the same codes either way);
    - the advocate: resolved first, on the participants' `participant_unique_id`
      (program_id, participant_id) or `participant_by_email` (program_id, UPPER(email)); their
      codes then come from `promocode_by_holder` (holder_id, …).
    """
    term = term.strip()
    match = Q(pk__in=[])
    if CODE_PREFIX.fullmatch(term):
        prefix = Q(program_id__in=program_ids, code__startswith=term.upper())
        code_ids = list(
            PromoCode.objects.using(queryset.db)
            .filter(prefix)
            .order_by("program_id", "code")
            .values_list("pk", flat=True)[:SEARCH_MAX_PREFIX_CODES]
        )
        match |= Q(pk__in=code_ids) if len(code_ids) < SEARCH_MAX_PREFIX_CODES else prefix
    # The holder's model, named through the foreign key: codes does not import participants.
    participants = PromoCode._meta.get_field("holder").related_model
    holder_ids = list(
        participants.objects.using(queryset.db)
        .filter(program_id__in=program_ids)
        .filter(Q(participant_id=term) | Q(email__iexact=term))
        .values_list("pk", flat=True)[:SEARCH_MAX_HOLDERS]
    )
    if holder_ids:
        match |= Q(holder_id__in=holder_ids)
    return queryset.filter(match)


# --- Codes held --------------------------------------------------------------------------------


def codes_held(*, participant) -> list[PromoCode]:
    """The referral codes a participant holds now (can still share), in the order they were
    assigned."""
    return list(
        PromoCode.objects.held_by(participant)
        .order_by("assigned_at", "id")
        .only("code", "usage", "status", "assigned_at", "first_copied_at")
    )


# The one-lookup endpoint's columns, in the order code_lookup_row answers them.
CODE_LOOKUP_COLUMNS = (
    "code",
    "usage",
    "status",
    "pool__name",
    "pool__kind",
    "source",
    "holder__participant_id",
    "holder__email",
    "assigned_at",
    "first_copied_at",
    "redeemed_at",
    "redemption_count",
    "redeemed_order_id",
)


# Per database connection: the lookup's SQL and its column converters, compiled once. Building
# the query through the ORM (joins, SQL text) cost more than the SELECT itself on every request.
_code_lookup_compiled = weakref.WeakKeyDictionary()


def _code_lookup_query(connection):
    compiled = _code_lookup_compiled.get(connection)
    if compiled is None:
        query = (
            PromoCode.objects.using(connection.alias)
            .filter(program_id=0)
            .filter(code="")
            .order_by("id")
            .values_list(*CODE_LOOKUP_COLUMNS)[:1]
            .query
        )
        compiler = query.get_compiler(connection=connection)
        sql_text, params = compiler.as_sql()
        if tuple(params) != (0, ""):  # the parameters' order is relied on below
            raise RuntimeError(f"Unexpected parameters of the code lookup: {params!r}")
        converters = compiler.get_converters([column[0] for column in compiler.select])
        compiled = _code_lookup_compiled[connection] = (sql_text, compiler, converters)
    return compiled


def code_lookup_row(*, program_id: int, code: str) -> tuple | None:
    """The code's CODE_LOOKUP_COLUMNS (the holder's None when nobody holds it), or None."""
    connection = connections[router.db_for_read(PromoCode)]
    sql_text, compiler, converters = _code_lookup_query(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql_text, (program_id, code))
        row = cursor.fetchone()
    if row is None or not converters:
        return row
    return next(iter(compiler.apply_converters([row], converters)))
