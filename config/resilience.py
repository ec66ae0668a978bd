"""Broken neighbours (DESIGN §2 Resilience): which errors mean Redis or the broker is
unreachable, so callers can fail open (rate limits), answer 503 (what truly needs them), or log
and carry on (enqueues after a commit)."""

import contextlib


def _cache_errors():
    errors = [ConnectionError, TimeoutError]
    with contextlib.suppress(ImportError):
        import redis

        errors.append(redis.RedisError)
    return tuple(errors)


def _broker_errors():
    errors = [ConnectionError, TimeoutError, OSError]
    with contextlib.suppress(ImportError):
        import kombu.exceptions

        errors.append(kombu.exceptions.OperationalError)
    with contextlib.suppress(ImportError):
        import redis

        errors.append(redis.RedisError)
    return tuple(errors)


# The shared cache (Redis) cannot be reached, or failed to answer.
CACHE_ERRORS = _cache_errors()
# The Celery broker cannot be reached: the message was not sent.
BROKER_ERRORS = _broker_errors()
