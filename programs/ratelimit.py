"""Request counts in fixed windows, kept in the shared cache (Redis when configured), failing open.

With Redis: one round trip per request, INCR of the window's counter pipelined with EXPIRE … NX
(its lifetime, set once) and, for the API, the read of the API key generation
(programs.keycache). Concurrent web processes share one count. Another cache (local memory, the
embedded default) counts with INCR, creating the counter with ADD when missing.

When the cache cannot be reached the request is let through (docs/architecture.md, Resilience: the
APIs
keep answering), a warning is logged, and for a few seconds no further attempt is made, so an
unreachable Redis does not cost every request its connection timeout.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache

from foundation.resilience import CACHE_ERRORS

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
    return _count(key, window_seconds, now=now, read_generation=False)[0]


def count_request_and_generation(key, window_seconds, *, now=None):
    """Count one request under `key` and read the API key generation (programs.keycache), in
    one Redis round trip. Returns (WindowCount, generation): generation None without Redis, or
    when it cannot be reached (then this process forgets its key copies)."""
    return _count(key, window_seconds, now=now, read_generation=True)


def _count(key, window_seconds, *, now, read_generation):
    from .keycache import generation_key, generation_start, key_cache, shared_redis

    global _open_until
    now = time.time() if now is None else now
    window = int(now // window_seconds)
    retry_after = window_seconds - (now % window_seconds)
    if now < _open_until:
        key_cache.clear()
        return WindowCount(None, retry_after), None
    generation = None
    try:
        client = shared_redis()
        if client is None:
            count = _incr(f"{key}:{window}", window_seconds)
        else:
            counter = cache.make_and_validate_key(f"{key}:{window}")
            pipe = client.pipeline(transaction=False)
            pipe.incr(counter)
            pipe.expire(counter, window_seconds + 10, nx=True)
            if read_generation:
                pipe.get(generation_key())
            count, _, *rest = pipe.execute()
            if read_generation:
                generation = rest[0] if rest[0] is not None else generation_start(client)
    except CACHE_ERRORS as exc:
        key_cache.clear()
        with _lock:
            _open_until = now + FAIL_OPEN_SECONDS
        log.warning(
            "Rate limits are off for %.0f s: the cache (Redis) is unreachable (%s).",
            FAIL_OPEN_SECONDS,
            exc,
        )
        return WindowCount(None, retry_after), None
    return WindowCount(count, retry_after), generation


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
