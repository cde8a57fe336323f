"""gunicorn settings for a web process of Colloquy (container or machine alike).

    gunicorn -c deploy/gunicorn.conf.py config.wsgi

Environment: GUNICORN_BIND (default 0.0.0.0:8000), WEB_CONCURRENCY (workers, default 2 per
CPU), GUNICORN_TIMEOUT (default 30 s), PROMETHEUS_MULTIPROC_DIR (see config/metrics.py: emptied
here at start, and a dead worker's live gauges dropped).
"""

import multiprocessing
import os
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20  # a rolling deploy's SIGTERM lets requests in flight finish
keepalive = 5  # behind a load balancer that keeps connections open
# Recycle workers now and then (a slow leak can't grow forever); the jitter keeps them from all
# restarting at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
accesslog = None  # the proxy logs requests; the site logs what it does, with the request id
# Two instances on one machine (the rehearsal) would share the default control socket.
control_socket_disable = True


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # an earlier run's samples would be counted again
            stale.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
