"""What a pool's codes look like (prefix, length), read from its codes and batch names."""

import re
from collections import Counter
from dataclasses import dataclass

from programs.models import Program

from ..models import (
    CODE_PATTERN_REGEX,
    Batch,
    BatchSource,
    Pool,
    PoolKind,
    PromoCode,
)


@dataclass(frozen=True)
class CodePattern:
    """How a code made by hand in a pool looks: a prefix and a number of random characters."""

    prefix: str
    length: int

    @property
    def shown(self) -> str:
        return self.prefix + "?" * self.length


_GENERATED_FILE_NAME = re.compile(r"× ([A-Z0-9_-]*?)(\?{4,})$")


_PATTERN_SAMPLE = 200


_SEPARATORS = "-_"


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)  # what the first and last share, all share
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def pool_code_pattern(*, pool: Pool, default_length: int = 10) -> CodePattern:
    """The pattern of codes added by hand to `pool`: the pool's own (`code_pattern`) when set;
    else the prefix and length of its latest generated batch; else what the codes of its latest
    batch share (a prefix up to a `-` or `_`, and their usual length); else no prefix."""
    if pool.code_pattern:
        prefix, marks = re.fullmatch(CODE_PATTERN_REGEX, pool.code_pattern).groups()
        return CodePattern(prefix, len(marks))
    latest = (
        Batch.objects.filter(pool=pool, codes_added__gt=0).order_by("-created_at", "-id").first()
    )
    if latest is None:
        return CodePattern("", default_length)
    generated = _GENERATED_FILE_NAME.search(latest.file_name or "")
    if latest.source == BatchSource.GENERATED and generated:
        return CodePattern(generated.group(1), len(generated.group(2)))
    sample = list(
        PromoCode.objects.filter(batch=latest).values_list("code", flat=True)[:_PATTERN_SAMPLE]
    )
    if not sample:
        return CodePattern("", default_length)
    shared = _common_prefix(sample)
    cut = max(shared.rfind(ch) for ch in _SEPARATORS)
    prefix = shared[: cut + 1] if cut >= 0 else ""
    usual = Counter(len(code) for code in sample).most_common(1)[0][0]
    return CodePattern(prefix, max(usual - len(prefix), 6))


def referral_code_pattern(*, program: Program) -> CodePattern:
    """The pattern a code added by hand to the program's referral pool follows."""
    pool = Pool.objects.filter(program=program, kind=PoolKind.REFERRAL).first()
    return pool_code_pattern(pool=pool) if pool else CodePattern("", 10)
