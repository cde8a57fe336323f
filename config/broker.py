"""A workaround for a worker-killing bug in kombu's Redis transport (kombu 5.7.0).

The fault, as seen under load (1 of 4 broker outages): "Couldn't ack" (a task finished while
the broker was down), then "Unrecoverable error: AttributeError: 'NoneType' object has no
attribute 'hostname'" from `Channel._connparams`, reached via `QoS.restore_unacked`, and the
worker exits. Cause: when the consumer loses the broker, Celery calls `Connection.collect()`,
which drops the channel's Redis pool and sets the transport's `client` (the kombu Connection
that holds the broker's address) to None. A message whose ack failed is still "unacked" on that
old channel; anything that later touches the channel — restoring unacked messages, acking,
rejecting — needs a new pool, and `_connparams` reads `self.connection.client.hostname` from
None. AttributeError is not a connection error, so neither kombu nor Celery recovers from it
(same family: celery/kombu#582, #970; in our runs also "Error on restarting Gossip:
AttributeError ... 'connection_errors'", logged and survived).

The workaround: `_connparams` on a channel whose connection is gone raises the transport's own
connection error instead, which every caller already handles — ack_log_error logs it, Celery's
consumer reconnects, and the message, never acked, is delivered again after the visibility
timeout (every task here is idempotent: see notifications.services.deliver_email). If kombu
fixes this, the guard is inert: it only acts where kombu would raise AttributeError.
"""

from __future__ import annotations

import functools

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class BrokerConnectionClosed(RedisConnectionError):
    """A channel of a broker connection that was already closed was used again."""


def install() -> None:
    channel = kombu_redis.Channel
    if getattr(channel._connparams, "colloquy_guard", False):
        return
    original = channel._connparams

    @functools.wraps(original)
    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise BrokerConnectionClosed(
                "this broker channel's connection was closed (after a connection loss); "
                "the consumer reconnects on a new one"
            )
        return original(self, asynchronous=asynchronous)

    _connparams.colloquy_guard = True
    channel._connparams = _connparams
