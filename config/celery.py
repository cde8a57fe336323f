import os
import time
from pathlib import Path

from celery import Celery, Task, bootsteps, signals
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


@signals.worker_init.connect
def _guard_the_redis_transport(**kwargs):
    """A kombu bug turns a broker outage into a dead worker; see config/broker.py. Installed in
    workers only (the bug is the consumer's), so other processes don't import the transport."""
    from config import broker

    broker.install()


# How long sending a task may take before it is given up (the caller logs it, and the outbox's
# sweeper sends it later). A web request publishes after its commit: without a bound, a broker
# that hangs (paused, a dead link that sends no reset) hangs every worker that writes.
PUBLISH_TIMEOUT_SECONDS = 0.5
# After a publish fails, this process doesn't try the broker again for this long: a request that
# sends several tasks pays one timeout, not one each (as the cache does, config/cache.py).
PUBLISH_RETRY_AFTER_SECONDS = 2.0


class QuickToPublish(Task):
    """Every task of the site: published through connections with short socket timeouts and no
    retries, so a hanging broker costs the publisher PUBLISH_TIMEOUT_SECONDS, not a hung
    request. Only publishing: the worker's own connection (which waits in BRPOP, longer than
    any such timeout) keeps the transport's defaults. Nothing relies on a publish succeeding:
    every task is for a row (event, email, import job) that a beat sweeper re-sends."""

    def apply_async(self, args=None, kwargs=None, **options):
        if self.app.conf.task_always_eager or "producer" in options or "connection" in options:
            return super().apply_async(args, kwargs, **options)
        broker = self.app.conf.broker_url
        if time.monotonic() < _down_until.get(broker, 0.0):
            raise OperationalError(f"broker unavailable: not sending {self.name} for now")
        try:
            with _publishers(self.app).acquire(block=True) as connection:
                options.update(connection=connection, retry=False)
                return super().apply_async(args, kwargs, **options)
        except OperationalError:
            _down_until[broker] = time.monotonic() + PUBLISH_RETRY_AFTER_SECONDS
            raise


_pools: dict[tuple[int, str], object] = {}
_down_until: dict[str, float] = {}  # broker URL → until when this process doesn't try it


def _publishers(app):
    """A pool of publishing connections per process (a forked child makes its own)."""
    key = (os.getpid(), app.conf.broker_url)
    if key not in _pools:
        _pools[key] = bounded_connection(PUBLISH_TIMEOUT_SECONDS, celery_app=app).Pool(limit=None)
    return _pools[key]


def bounded_connection(timeout: float, *, celery_app=None):
    """A broker connection whose every step — the connect and each answer — gives up after
    `timeout` seconds, with no retries: for publishing, readiness and metrics, which must
    answer while the broker hangs. (A paused Redis still accepts TCP connections — the kernel
    does — so a connect timeout alone waits forever for the first answer.)"""
    celery_app = celery_app or app
    options = {
        **(celery_app.conf.broker_transport_options or {}),
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "max_retries": 0,
    }
    return celery_app.connection_for_write(connect_timeout=timeout, transport_options=options)


app = Celery("colloquy", task_cls=QuickToPublish)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_SECONDS = 10


class HeartbeatFile(bootsteps.StartStopStep):
    """With CELERY_HEARTBEAT_FILE set, the worker touches that file every HEARTBEAT_SECONDS
    from its own timer, for a liveness probe that needs no broker (`python -m
    config.worker_alive FILE`): a worker whose broker is down is waiting, not dead, and
    restarting it would not help. (With the prefork pool the timer runs in the main process,
    so a long task doesn't stop the heartbeat; with `--pool solo` it does.)"""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.path = os.environ.get("CELERY_HEARTBEAT_FILE", "")
        self.timer_ref = None

    def start(self, worker):
        if self.path:
            self.beat()
            self.timer_ref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, self.beat)

    def stop(self, worker):
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    def beat(self):
        Path(self.path).touch()


app.steps["worker"].add(HeartbeatFile)
