"""How far a background top-up of all of a program's advocates has got (after codes per advocate
is raised, promo codes turned on or the switch to single-use): kept in the cache, so the stock
page and the dashboard of every node show it while a worker runs it. Progress only: losing it
(the cache unreachable or flushed) loses the note, never a code."""

import logging

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from foundation.resilience import CACHE_ERRORS
from foundation.wording import console_time

log = logging.getLogger(__name__)

# A finished run is still shown for this long; a run that never reports again expires.
PROGRESS_SECONDS = 24 * 3600


def _key(program_id: int) -> str:
    return f"codes:program-topup:{program_id}"


def program_topup_progress(*, program_id: int) -> dict | None:
    """{"state": "queued" | "running" | "done", "quota", "queued_at", "advocates_total",
    "advocates_seen", "codes_assigned", "finished_at"}, or None when no run is known."""
    try:
        return cache.get(_key(program_id))
    except CACHE_ERRORS:
        log.warning(
            "Top-up progress of program %s unreadable: the cache is unreachable", program_id
        )
        return None


def program_topup_note(*, program_id: int, **values) -> None:
    """Record a step of the run (the values replace the stored ones of the same name)."""
    try:
        current = cache.get(_key(program_id)) or {}
        current.update(values, updated_at=timezone.now())
        cache.set(_key(program_id), current, PROGRESS_SECONDS)
    except CACHE_ERRORS:
        log.warning("Top-up progress of program %s not kept: the cache is unreachable", program_id)


def program_topup_sentence(progress: dict | None) -> str:
    """The run as the stock page and the dashboard say it ("" when there is none)."""
    if not progress:
        return ""
    quota = progress.get("quota")
    each = ""
    if quota:
        each = " " + ngettext("to %(count)s code each", "to %(count)s codes each", quota) % {
            "count": f"{quota:,}"
        }
    seen = progress.get("advocates_seen") or 0
    handed = progress.get("codes_assigned") or 0
    assigned = ngettext("%(count)s code", "%(count)s codes", handed) % {"count": f"{handed:,}"}
    if progress.get("state") == "queued":
        return _(
            "Topping up every advocate%(each)s: queued at %(when)s, a worker starts it in a moment."
        ) % {"each": each, "when": console_time(progress["queued_at"])}
    if progress.get("state") == "running":
        total = progress.get("advocates_total")
        if total is not None:
            done = _("%(seen)s of %(total)s advocates done") % {
                "seen": f"{seen:,}",
                "total": f"{total:,}",
            }
        else:
            done = _("%(seen)s advocates done") % {"seen": f"{seen:,}"}
        return _("Topping up every advocate%(each)s: %(done)s, %(assigned)s handed out so far.") % {
            "each": each,
            "done": done,
            "assigned": assigned,
        }
    return ngettext(
        "Every advocate was topped up%(each)s at %(when)s: %(assigned)s handed out to "
        "%(count)s advocate visited.",
        "Every advocate was topped up%(each)s at %(when)s: %(assigned)s handed out to "
        "%(count)s advocates visited.",
        seen,
    ) % {
        "each": each,
        "when": console_time(progress.get("finished_at")),
        "assigned": assigned,
        "count": f"{seen:,}",
    }
