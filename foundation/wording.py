"""Words a person reads (admin pages and messages, command output, e-mails): counts ("1 code",
"3 codes"), forecasts ("about 7 months") and times ("2026-12-07 13:19 CET", the console's one
format)."""

from django.utils import dateformat, timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """`number` with its noun in the right number, thousands separated: counted(2, "code") is
    "2 codes"; give `plural` where adding "s" is wrong (counted(1, "entry", "entries"))."""
    noun = singular if number == 1 else (plural or f"{singular}s")
    return f"{number:,} {noun}"


def about_duration(days) -> str:
    """A forecast in days as a person says it: "about 5 days", "about 3 weeks", "about 7 months",
    "about 2 years"; "less than a day" below one. Forecasts are rough: never a decimal."""
    days = float(days)
    if days < 1:
        return _("less than a day")
    if days < 14:
        n = round(days)
        return ngettext("about %(n)s day", "about %(n)s days", n) % {"n": f"{n:,}"}
    if days < 61:
        n = round(days / 7)
        return ngettext("about %(n)s week", "about %(n)s weeks", n) % {"n": f"{n:,}"}
    if days < 730:
        n = round(days / 30.44)
        return ngettext("about %(n)s month", "about %(n)s months", n) % {"n": f"{n:,}"}
    n = round(days / 365.25)
    return ngettext("about %(n)s year", "about %(n)s years", n) % {"n": f"{n:,}"}


# The console's one date and time format (Django's date-format letters), in every language: a
# time reads "2026-12-07 13:19 CET", in the reader's time zone with its abbreviation. The admin's
# own date fields take it too (config/formats/<language>/formats.py import these).
CONSOLE_DATETIME_FORMAT = "Y-m-d H:i T"
CONSOLE_DATE_FORMAT = "Y-m-d"
CONSOLE_TIME_FORMAT = "H:i"


def console_time(value) -> str:
    """A time in the console: "2026-12-07 13:19 CET", in the time zone active for the person
    reading (their own, else UTC); the same shape as every date field the admin shows."""
    if value is None:
        return "—"
    return dateformat.format(timezone.localtime(value), CONSOLE_DATETIME_FORMAT)


def said_later(message: str, **params):
    """`message` (marked with gettext_noop) filled with `params`, translated when it is read
    rather than now: for words kept before a person reads them (a refused row of a code file,
    read in the manager's language in the preview and stored in English on its batch)."""
    return _said_later(message, params)


def _said_now(message, params):
    text = _(message)
    return text % params if params else text


_said_later = lazy(_said_now, str)
