"""Fixed-window rate limits per user and per IP address, counted in the cache.

With Redis as the cache (production) the counts are shared by every web process. While the
cache is down they fail open — every hit counts as a first one (config/cache.py) — so a short
outage doesn't refuse every writer; the spam rules at the write (forum/policy.py) still apply.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

IP_SHARE = 5


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


def client_ip(request) -> str:
    """The address a person's requests come from, for rate limits — ours and allauth's (the
    account adapter calls this). Behind TRUSTED_PROXY_COUNT proxies, each appending the address
    it saw to X-Forwarded-For, the client is that many entries from the end: entries further
    left are whatever the client sent, never trusted. A header with fewer entries than that
    didn't come through every proxy: the connection's own address is used."""
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        if len(hops) >= count and hops[-count]:
            return hops[-count][:64]
    return request.META.get("REMOTE_ADDR", "")


def hit(request, scope: str) -> None:
    """Count one `scope` action; raise RateLimited past the limit.

    The rule: a signed-in person is counted by their account only, wherever they are; an
    anonymous visitor by their address, which gets IP_SHARE times a person's room (several
    people share an address: an office, a campus, a carrier's NAT). Counting signed-in people
    by address as well refused half the comments of a class behind one NAT while stopping
    nobody: a second account is what an abuser needs then, and accounts are what the sign-up
    limit (per address, allauth's), email verification and the new-account rules
    (forum/policy.py) already ration."""
    limit, window = (int(part) for part in settings.RATE_LIMITS[scope].split("/"))
    bucket = int(time.time() // window)
    if request.user.is_authenticated:
        keys = [(f"rl:{scope}:user:{request.user.pk}:{bucket}", limit)]
    else:
        keys = [(f"rl:{scope}:ip:{client_ip(request)}:{bucket}", limit * IP_SHARE)]
    for key, limit in keys:
        cache.add(key, 0, timeout=window + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window + 5)
            count = 1
        if count > limit:
            raise RateLimited(retry_after=window - int(time.time()) % window)
