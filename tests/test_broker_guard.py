"""Issue: the Celery worker died when the broker dropped ("Couldn't ack", then "Unrecoverable
error: AttributeError: 'NoneType' object has no attribute 'hostname'" from kombu's Redis
transport via restore_unacked), and nothing was sent until someone restarted it.

Two halves: the guard in config/broker.py turns that AttributeError into the connection error
that kombu and Celery recover from (against a real Redis); and a worker that dies anyway exits
with a failure status and stops its heartbeat, so the orchestrator restarts it (compose's
restart policy, Kubernetes' liveness probe: tests/test_deploy.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import kombu
import pytest
from kombu.transport import redis as kombu_redis

from config import broker
from tests.servers import redis_server

ROOT = Path(__file__).resolve().parents[1]


def an_unacked_message_on_a_collected_connection(port: int):
    """The state a consumer leaves when the broker drops: a message delivered and not acked
    (its ack failed: "Couldn't ack"), the channel's pool dropped, and the connection collected
    (Connection.collect() sets the transport's client to None)."""
    connection = kombu.Connection(f"redis://127.0.0.1:{port}/0")
    errors = connection.connection_errors + connection.channel_errors
    queue = connection.SimpleQueue("guard-test")
    queue.put({"email": 1})
    message = queue.get(timeout=5)
    channel = message.channel
    channel._disconnect_pools()  # what Channel.close() does first
    connection._do_close_transport()  # what collect() does last
    assert channel.connection.client is None
    return channel, message, errors


def test_a_collected_channel_raises_a_connection_error_not_an_attributeerror(caplog):
    broker.install()
    with redis_server() as port:
        channel, message, errors = an_unacked_message_on_a_collected_connection(port)

        # The fault as found: kombu's own code reads the broker's address from None.
        unguarded = kombu_redis.Channel._connparams.__wrapped__
        with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'hostname'"):
            unguarded(channel)

        # Guarded: the same calls raise an error of the transport's connection_errors, which
        # Celery's consumer and kombu's ack_log_error handle.
        with pytest.raises(broker.BrokerConnectionClosed) as raised:
            channel.qos.restore_unacked()
        assert isinstance(raised.value, errors)
        with caplog.at_level(logging.CRITICAL, logger="guard"):
            message.ack_log_error(logging.getLogger("guard"), errors)  # logs, doesn't raise
        assert "Couldn't ack" in caplog.text


def test_the_guard_is_installed_once_when_a_worker_starts_and_leaves_live_channels_alone():
    from celery import signals

    import config.celery  # noqa: F401 - connects the worker_init receiver

    signals.worker_init.send(sender=None)
    assert kombu_redis.Channel._connparams.colloquy_guard is True
    before = kombu_redis.Channel._connparams
    broker.install()
    assert kombu_redis.Channel._connparams is before
    with redis_server() as port:
        with kombu.Connection(f"redis://127.0.0.1:{port}/0") as connection:
            queue = connection.SimpleQueue("live")
            queue.put({"a": 1})
            message = queue.get(timeout=5)
            message.ack()
            assert message.payload == {"a": 1}


def test_a_worker_that_dies_exits_with_a_failure_and_its_heartbeat_goes_stale(tmp_path):
    heartbeat = tmp_path / "heartbeat"
    hidden = {"PYTEST_VERSION", "REDIS_URL", "TEST_REDIS_URL", "CELERY_BROKER_URL", "DEBUG"}
    env = {
        **{k: v for k, v in os.environ.items() if k not in hidden},
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_HEARTBEAT_FILE": str(heartbeat),
    }
    started = time.monotonic()
    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tests.dying_worker", "worker", "--pool", "solo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode != 0  # compose's `restart: unless-stopped` starts it again
    assert "Unrecoverable error: AttributeError" in worker.stderr
    assert time.monotonic() - started < 30
    assert heartbeat.exists()  # it was alive, and wrote its heartbeat
    time.sleep(1.2)
    probe = subprocess.run(
        [sys.executable, "-m", "config.worker_alive", str(heartbeat), "--max-age", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 1  # a hung worker fails its liveness probe the same way
    assert "stale heartbeat" in probe.stderr
