"""Request counts in fixed windows, kept in the shared cache (Redis when configured), failing open.

One atomic INCR per request; the window's counter is created with ADD when missing, so
concurrent web processes share one count. When the cache cannot be reached the request is let
through (DESIGN §2 Resilience: the APIs keep answering), a warning is logged, and for a few
seconds no further attempt is made, so an unreachable Redis does not cost every request its
connection timeout.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache

from config.resilience import CACHE_ERRORS

log = logging.getLogger(__name__)

# After a failure, rate limits stay off (open) this long before the cache is tried again.
FAIL_OPEN_SECONDS = 5.0
_lock = threading.Lock()
_open_until = 0.0


@dataclass(frozen=True)
class WindowCount:
    """The request's number in its window (None when it could not be counted) and the seconds
    until the window ends."""

    count: int | None
    retry_after: float


def count_request(key, window_seconds, *, now=None):
    """Count one request under `key` in the current window of `window_seconds`."""
    global _open_until
    now = time.time() if now is None else now
    window = int(now // window_seconds)
    retry_after = window_seconds - (now % window_seconds)
    if now < _open_until:
        return WindowCount(None, retry_after)
    try:
        count = _incr(f"{key}:{window}", window_seconds)
    except CACHE_ERRORS as exc:
        with _lock:
            _open_until = now + FAIL_OPEN_SECONDS
        log.warning(
            "Rate limits are off for %.0f s: the cache (Redis) is unreachable (%s).",
            FAIL_OPEN_SECONDS,
            exc,
        )
        return WindowCount(None, retry_after)
    return WindowCount(count, retry_after)


def _incr(key, window_seconds):
    try:
        return cache.incr(key)
    except ValueError:  # no counter for this window yet
        if cache.add(key, 1, timeout=window_seconds + 10):
            return 1
        return cache.incr(key)


def reset_fail_open():
    """Try the cache again at the next request (tests, and after Redis is known to be back)."""
    global _open_until
    with _lock:
        _open_until = 0.0
