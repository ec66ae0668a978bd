"""Broken neighbours (docs/architecture.md, Resilience): which errors mean Redis is unreachable, so
callers
can fail open (rate limits) or answer 503 (what truly needs it). An unreachable broker is
foundation.tasks.enqueue_on_commit's to survive."""

import contextlib


def _cache_errors():
    errors = [ConnectionError, TimeoutError]
    with contextlib.suppress(ImportError):
        import redis

        errors.append(redis.RedisError)
    return tuple(errors)


# The shared cache (Redis) cannot be reached, or failed to answer.
CACHE_ERRORS = _cache_errors()
