import os
from pathlib import Path

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("colloquy")
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
