"""The commands' --valid-from / --expires-at: a batch's validity, refused clearly."""

from django.core.management.base import CommandError

from codes.services import InvalidValidity, validity_moment
from codes.services.batches import validity_checked


def add_validity_arguments(parser):
    parser.add_argument(
        "--valid-from",
        help="The codes may be used from this date (ISO 8601, e.g. 2027-01-01 or "
        "2027-01-01T09:00); before it they are never handed out and attribute no order.",
    )
    parser.add_argument(
        "--expires-at",
        help="The codes expire at this date (a bare date: at the end of that day); after it "
        "they are never handed out and attribute no order.",
    )


def validity_from_options(options) -> dict:
    """{"valid_from": …, "expires_at": …} from the options, or CommandError naming the option."""
    values = {}
    for name, option, end_of_day in (
        ("valid_from", "--valid-from", False),
        ("expires_at", "--expires-at", True),
    ):
        text = options.get(name)
        try:
            values[name] = validity_moment(text, end_of_day=end_of_day) if text else None
        except InvalidValidity as error:
            raise CommandError(f"{option}: {error}") from None
    try:
        return validity_checked(**values)
    except InvalidValidity as error:
        raise CommandError(str(error)) from None
