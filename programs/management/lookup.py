"""The program a management command names, with one wording for every command's refusal."""

from django.core.management.base import CommandError

from ..models import Program
from ..selectors import program_get_by_slug


def unknown_program_message(slug: str) -> str:
    return f"No program with slug {slug!r}."


def promo_codes_off_message(slug: str) -> str:
    return (
        f"Referral promo codes are off for program {slug!r}: turn them on first "
        "(in the admin, or create the program with --single-use or --multi-use)."
    )


def program_from_option(slug: str, *, promo_codes: bool = True) -> Program:
    """The program named by `--program SLUG`, or CommandError saying why not.

    `promo_codes`: also refuse a program with referral promo codes turned off.
    """
    program = program_get_by_slug(slug)
    if program is None:
        raise CommandError(unknown_program_message(slug))
    if promo_codes and not program.promo_codes_enabled:
        raise CommandError(promo_codes_off_message(slug))
    return program
