"""Redis over TLS and through Sentinel, for the cache and the Celery broker, against real servers
on loopback: the URLs a managed Redis or a Sentinel-watched one gives are accepted, and after a
failover the cache writes to the new master."""

from __future__ import annotations

import time
import urllib.parse

import kombu
import pytest
import redis

from config.cache import RedisCache, parse_sentinel_url
from tests.helpers import free_port
from tests.servers import redis_role, redis_sentinel, redis_server, tls_certificate

from .test_settings import run_manage

pytestmark = pytest.mark.integration


def cache_at(url: str, **options) -> RedisCache:
    return RedisCache(url, {"OPTIONS": options, "KEY_PREFIX": "t"})


def assert_round_trip(connection) -> None:
    """A message put on a queue through `connection` comes back."""
    queue = connection.SimpleQueue("colloquy-round-trip")
    queue.put({"task": "hello"})
    message = queue.get(timeout=5)
    assert message.payload == {"task": "hello"}
    message.ack()
    queue.close()


# --- URLs -----------------------------------------------------------------------------------


def test_a_sentinel_url_names_every_sentinel_and_the_masters_db_and_password():
    url = "sentinel://:p%40ss@10.0.0.1:26379;sentinel://10.0.0.2;sentinel://10.0.0.3:26380/2"
    assert parse_sentinel_url(url) == (
        [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26380)],
        {"password": "p@ss", "db": 2},
    )
    with pytest.raises(ValueError, match="not a sentinel"):
        parse_sentinel_url("sentinel://10.0.0.1;redis://10.0.0.2")


def test_settings_give_the_master_name_to_the_cache_and_the_broker(tmp_path):
    script = (
        "from django.conf import settings;"
        "print(settings.CACHES['default']['OPTIONS']);"
        "print(settings.CELERY_BROKER_TRANSPORT_OPTIONS)"
    )
    env = {
        "DEBUG": "true",
        "REDIS_URL": "sentinel://127.0.0.1:26379;sentinel://127.0.0.2:26379/0",
        "CELERY_BROKER_URL": "sentinel://127.0.0.1:26379/1",
        "REDIS_SENTINEL_MASTER": "colloquy-redis",
    }
    result = run_manage(["shell", "--no-imports", "-c", script], env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "{'service_name': 'colloquy-redis'}",
        "{'master_name': 'colloquy-redis'}",
    ]


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture
def tls_redis():
    with tls_certificate() as (cert, key):
        args = ("--tls-cert-file", str(cert), "--tls-key-file", str(key))
        args += ("--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no")
        ping = ("--tls", "--cacert", str(cert))
        with redis_server(*args, ping=ping) as port:
            yield port, cert


def test_the_cache_speaks_tls_to_a_rediss_url(tls_redis):
    port, cert = tls_redis
    query = urllib.parse.urlencode({"ssl_cert_reqs": "required", "ssl_ca_certs": str(cert)})
    cache = cache_at(f"rediss://127.0.0.1:{port}/0?{query}")
    cache.set("greeting", "你好", 60)

    assert cache.get("greeting") == "你好"
    # The control: the same port in plain text is no cache at all (a miss, not an error).
    plain = cache_at(f"redis://127.0.0.1:{port}/0")
    assert plain.get("greeting", "missed") == "missed"


def test_the_broker_speaks_tls_to_a_rediss_url(tls_redis):
    port, cert = tls_redis
    query = urllib.parse.urlencode({"ssl_cert_reqs": "required", "ssl_ca_certs": str(cert)})
    with kombu.Connection(f"rediss://127.0.0.1:{port}/1?{query}") as connection:
        assert_round_trip(connection)


# --- Sentinel -------------------------------------------------------------------------------


@pytest.fixture
def watched_redis():
    """A master, its replica and a sentinel watching them: (master, replica, sentinel) ports."""
    with redis_server() as master:
        with redis_server("--replicaof", "127.0.0.1", str(master)) as replica:
            deadline = time.monotonic() + 15
            while _info(replica).get("master_link_status") != "up":
                assert time.monotonic() < deadline, "the replica did not sync"
                time.sleep(0.1)
            with redis_sentinel(master, replicas=1) as sentinel:
                yield master, replica, sentinel


def _info(port):
    return redis.Redis(port=port).info("replication")


def test_the_cache_finds_the_master_through_sentinel_and_follows_a_failover(watched_redis):
    master, replica, sentinel = watched_redis
    # Two sentinels named, the first not running: the client asks the next one.
    dead = f"sentinel://127.0.0.1:{free_port()}"
    cache = cache_at(f"{dead};sentinel://127.0.0.1:{sentinel}/0", service_name="mymaster")
    cache.set("chapter", "before", 300)
    assert cache.get("chapter") == "before"
    assert redis.Redis(port=master).exists("t:1:chapter")

    redis.Redis(port=sentinel).execute_command("SENTINEL", "FAILOVER", "mymaster")
    deadline = time.monotonic() + 30
    while redis_role(replica) != "master":
        assert time.monotonic() < deadline, "no failover"
        time.sleep(0.2)

    # Writes reach the new master within a few seconds, with no restart and no new settings
    # (until then a command that fails is a miss, as when Redis is down).
    deadline = time.monotonic() + 20
    while True:
        cache.set("chapter", "after", 300)
        if redis.Redis(port=replica).get("t:1:chapter") is not None:
            break
        assert time.monotonic() < deadline, "the cache never wrote to the new master"
        time.sleep(0.5)
    assert cache.get("chapter") == "after"


def test_the_broker_reaches_the_master_through_sentinel(watched_redis):
    master, replica, sentinel = watched_redis
    url = f"sentinel://127.0.0.1:{sentinel}/1"
    with kombu.Connection(url, transport_options={"master_name": "mymaster"}) as connection:
        assert_round_trip(connection)
    assert redis_role(master) == "master"
