"""A Celery app for tests/test_broker_guard.py: the site's heartbeat step, plus a consumer step
that fails the way kombu's Redis transport failed under load (an AttributeError Celery calls
unrecoverable). Started as `celery -A tests.dying_worker worker` in a subprocess."""

from celery import Celery, bootsteps

from config.celery import HeartbeatFile

app = Celery("dying", broker="memory://")
app.conf.broker_connection_retry_on_startup = True


class DiesLikeKombu(bootsteps.StartStopStep):
    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, consumer):
        raise AttributeError("'NoneType' object has no attribute 'hostname'")


app.steps["worker"].add(HeartbeatFile)
app.steps["consumer"].add(DiesLikeKombu)
