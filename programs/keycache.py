"""API keys kept in each web process, and the shared generation that empties every copy.

Each process keeps the keys it looked up (with their program), by the key's digest, tagged with
the generation they were read under; a digest that matched no key is kept too, as no key, so
that a request with an unknown key costs what one with a known key costs (one dictionary
lookup by digest once seen, one database read before): the time of an answer does not tell
whether a key exists. The generation is a random token in Redis: any change to a
key or a program (a revocation, a new rate, a renamed slug) sets a new one after its commit, so
on its next request every process on every machine sees its copies are stale and reads the key
from the database again. The request reads the generation in the same Redis round trip as its
throttle count (programs.ratelimit.count_request_and_generation).

Only with Redis: without a shared cache (the embedded default) a process could not learn of a
revocation made by another, so every request reads the database. When Redis cannot be reached,
a process forgets every copy it holds and reads the database until Redis answers again (a new
generation set during the outage may have been lost). Copies also expire after a minute.
"""

import logging
import secrets
import threading
import time
import weakref
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

from foundation.resilience import CACHE_ERRORS

log = logging.getLogger(__name__)

GENERATION_KEY = "apikeys:generation"
KEY_COPY_SECONDS = 60.0
MAX_KEYS = 1000


_clients = weakref.WeakKeyDictionary()


def shared_redis():
    """The raw client of the shared cache when it is Redis, else None."""
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return None
    # Django's RedisCache keeps its redis-py client behind a private attribute: the one place
    # that reaches for it, to pipeline the throttle with the generation. get_client() builds a
    # new redis-py client (over the same pool) on every call, which costs more than the round
    # trip's Python; one per cache client is kept (redis-py's client is thread-safe).
    backend = cache._cache
    client = _clients.get(backend)
    if client is None:
        client = _clients[backend] = backend.get_client(write=True)
    return client


def generation_key() -> str:
    return caches["default"].make_and_validate_key(GENERATION_KEY)


@dataclass
class _Copy:
    generation: bytes
    expires: float
    api_key: object


# What `ApiKeyCache.get` answers for a digest it holds no current copy of.
UNSEEN = object()


class ApiKeyCache:
    """One process's copies of API keys (ApiKey with its program, or None for a digest that
    matched no key), by digest. Unknown digests are kept apart, so that a client sending
    random keys cannot push the real ones out."""

    def __init__(self, *, max_keys: int = MAX_KEYS, seconds: float = KEY_COPY_SECONDS):
        self.max_keys = max_keys
        self.seconds = seconds
        self._copies: dict[str, _Copy] = {}
        self._unknown: dict[str, _Copy] = {}
        self._lock = threading.Lock()

    def get(self, digest: str, generation: bytes | None):
        """The key read under `generation` (None: unknown, so never trusted), None when the
        digest matched no key then, or UNSEEN."""
        if generation is None:
            return UNSEEN
        copy = self._copies.get(digest) or self._unknown.get(digest)
        if copy is None or copy.generation != generation or copy.expires < time.monotonic():
            return UNSEEN
        return copy.api_key

    def put(self, digest: str, generation: bytes | None, api_key) -> None:
        """Keep what the database said of `digest`: its key, or None for no key."""
        if generation is None:
            return
        copies = self._copies if api_key is not None else self._unknown
        with self._lock:
            if len(copies) >= self.max_keys:
                copies.clear()
            copies[digest] = _Copy(generation, time.monotonic() + self.seconds, api_key)

    def clear(self) -> None:
        with self._lock:
            self._copies.clear()
            self._unknown.clear()

    def __contains__(self, digest: str) -> bool:
        return digest in self._copies


# This process's copies.
key_cache = ApiKeyCache()


def generation_start(client) -> bytes | None:
    """Redis holds no generation (new, or flushed): set one unless another process just did;
    return the one in force. One round trip, only then."""
    token = secrets.token_hex(8).encode()
    previous = client.set(generation_key(), token, nx=True, get=True)
    return previous if previous is not None else token


def generation_bump() -> None:
    """Every process's copies are stale from now on: a new generation. Call after the change
    is committed (generation_bump_on_commit), or a process could re-read the old row under the
    new generation."""
    client = shared_redis()
    key_cache.clear()
    if client is None:
        return
    try:
        client.set(generation_key(), secrets.token_hex(8).encode())
    except CACHE_ERRORS as exc:
        log.error(
            "API key copies in other web processes could not be marked stale: the cache (Redis) "
            "is unreachable (%s). They forget them when they find Redis unreachable, or within "
            "%.0f s.",
            exc,
            KEY_COPY_SECONDS,
        )


def generation_bump_on_commit() -> None:
    transaction.on_commit(generation_bump)
