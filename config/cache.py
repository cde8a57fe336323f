"""Django's Redis cache, minus a client object per call, and degrading to a miss when down.

`django.core.cache.backends.redis.RedisCacheClient.get_client()` builds a new `redis.Redis`
around the shared connection pool on every cache call. Building one costs about as much CPU as
the round trip it makes (~0.1 ms), and a signed-in page makes several. A `redis.Redis` is safe
to share between threads (each command borrows a connection from the pool), so one per pool is
kept and reused.

A Redis that is down or hangs must not take the site with it: every command has short
connect and read timeouts (`TIMEOUT_SECONDS`, unless the OPTIONS say otherwise), a failed
command behaves as a miss (reads return the default, writes do nothing, `incr` counts as a
first hit), and after a failure the cache is not tried again for `RETRY_AFTER_SECONDS`, so a
page that makes several cache calls pays one timeout, not one each. What the cache holds is
only ever derived or versioned (forum/caching.py: a lost version comes back as a new one), so
misses cost time, never correctness. Rate limits therefore fail open while the cache is down
(accounts/ratelimit.py): a short outage shouldn't lock every writer out.

`LOCATION` may be any URL redis-py takes (`redis://`, `rediss://` for TLS, with its `ssl_*`
query parameters), or Redis Sentinel in the form Celery's broker takes, so one URL style serves
both: `sentinel://[:password@]host:26379[;sentinel://host2:26379…][/db]`, with the monitored
master's name in OPTIONS `service_name` (settings: REDIS_SENTINEL_MASTER). The password is the
master's; the sentinels get the same short timeouts, and after a failover the pool asks them for
the new master on its next connection (a command that fails meanwhile is a miss, as above).
"""

from __future__ import annotations

import functools
import logging
import time
from urllib.parse import unquote, urlsplit

from django.core.cache.backends import redis as django_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 0.25
RETRY_AFTER_SECONDS = 2.0
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


SENTINEL = "sentinel://"


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], dict]:
    """The sentinels' addresses in `url`, and the master's connection settings (db, password)."""
    sentinels, master = [], {}
    for part in url.split(";"):
        parts = urlsplit(part.strip())
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ValueError(f"not a sentinel:// address: {part!r}")
        sentinels.append((parts.hostname, parts.port or 26379))
        if parts.password:
            master["password"] = unquote(parts.password)
        if parts.username:
            master["username"] = unquote(parts.username)
        if parts.path.strip("/"):
            master["db"] = int(parts.path.strip("/"))
    return sentinels, master


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, servers, *, service_name=None, **options):
        self._service_name = service_name
        super().__init__(servers, **options)
        self._clients = {}

    def _get_connection_pool(self, write):
        url = self._servers[0]
        if not url.startswith(SENTINEL):
            return super()._get_connection_pool(write)
        if 0 not in self._pools:
            from redis.sentinel import Sentinel, SentinelConnectionPool

            if not self._service_name:
                raise ValueError("a sentinel:// cache needs OPTIONS service_name")
            addresses, master = parse_sentinel_url(url)
            timeouts = {
                key: self._pool_options[key]
                for key in ("socket_timeout", "socket_connect_timeout")
                if key in self._pool_options
            }
            manager = Sentinel(addresses, sentinel_kwargs=timeouts)
            self._pools[0] = SentinelConnectionPool(
                self._service_name, manager, **{**self._pool_options, **master}
            )
        return self._pools[0]

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client


def _degrading(miss):
    """The cache method, or `miss(*args, **kwargs)` while Redis is down (see the docstring)."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if time.monotonic() < self._down_until:
                return miss(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except _DOWN as exc:
                self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
                logger.warning(
                    "cache unavailable (%s): serving misses for %.0f s",
                    type(exc).__name__,
                    RETRY_AFTER_SECONDS,
                )
                return miss(*args, **kwargs)

        return wrapper

    return decorate


def _default(key, default=None, *args, **kwargs):
    return default


def _nothing(*args, **kwargs):
    return None


def _not_stored(*args, **kwargs):
    return False


def _first_hit(key, delta=1, *args, **kwargs):
    return delta


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        if isinstance(server, str) and server.startswith(SENTINEL):
            server = [server]  # its ";" separates sentinels, not a primary from its replicas
        params = {**params, "OPTIONS": {**params.get("OPTIONS", {})}}
        params["OPTIONS"].setdefault("socket_connect_timeout", TIMEOUT_SECONDS)
        params["OPTIONS"].setdefault("socket_timeout", TIMEOUT_SECONDS)
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._down_until = 0.0

    get = _degrading(_default)(django_redis.RedisCache.get)
    get_many = _degrading(lambda keys, *a, **k: {})(django_redis.RedisCache.get_many)
    has_key = _degrading(_not_stored)(django_redis.RedisCache.has_key)
    set = _degrading(_nothing)(django_redis.RedisCache.set)
    set_many = _degrading(lambda data, *a, **k: list(data))(django_redis.RedisCache.set_many)
    add = _degrading(_not_stored)(django_redis.RedisCache.add)
    touch = _degrading(_not_stored)(django_redis.RedisCache.touch)
    incr = _degrading(_first_hit)(django_redis.RedisCache.incr)
    delete = _degrading(_not_stored)(django_redis.RedisCache.delete)
    delete_many = _degrading(_nothing)(django_redis.RedisCache.delete_many)
