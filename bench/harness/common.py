"""Processes, ports and HTTP for the bench scripts.

Every server a bench starts is started here, in a session of its own, and stopped by its pid
(then its process group, which is that pid) in `Stack.close()`, which the scripts call from
`finally`. SIGTERM is turned into SystemExit so that `finally` runs on it as on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"


class BenchError(RuntimeError):
    """The bench could not measure what it meant to (bad response, server down, ...)."""


def log(message: str) -> None:
    print(
        f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {message}", file=sys.stderr, flush=True
    )


def run_main(main) -> None:
    """A bench script's entry point: exit with main()'s status, 2 on a BenchError (said in
    one line), 130 on Ctrl-C."""
    try:
        sys.exit(main())
    except BenchError as exc:
        log(f"FAILED: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        log("interrupted; everything it started is stopped")
        sys.exit(130)


def exit_on_sigterm() -> None:
    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def system_deps(*names: str) -> None:
    """Install missing Debian packages (a no-op printing one line when all are there)."""
    subprocess.run(["bash", str(REPO / "scripts/system-deps.sh"), *names], check=True)


def rerun_under_services(script: str, argv: list[str]) -> int:
    """Run `script argv` again under `scripts/services.sh run` (throwaway PostgreSQL and Redis,
    DATABASE_URL and REDIS_URL exported, both stopped when it ends) and return its status.

    The child runs in a session of its own; on Ctrl-C or SIGTERM here, the whole of it gets
    SIGTERM: the bench stops its servers, then services.sh stops PostgreSQL and Redis.
    """
    env = dict(os.environ, BENCH_SERVICES="1")
    cmd = ["bash", str(REPO / "scripts/services.sh"), "run", sys.executable, script, *argv]
    child = subprocess.Popen(cmd, env=env, start_new_session=True)  # noqa: S603
    try:
        return child.wait()
    except BaseException:
        log("stopping the bench and its services")
        try:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(timeout=120)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            log(f"the bench (process group {child.pid}) did not stop in 120s; killing it")
            os.killpg(child.pid, signal.SIGKILL)
            subprocess.run(["bash", str(REPO / "scripts/services.sh"), "reap"], check=False)
        raise


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def django_env(**overrides: str) -> dict[str, str]:
    """The environment of a production-like Django process (DEBUG off, no SSL redirect).

    Every variable config/settings.py reads that could change the figures is set explicitly,
    so a developer's .env (read with overwrite=False) can't leak in.
    """
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=f"{HOST},localhost",
        HTTPS="false",
        SECURE_HSTS_SECONDS="0",
        BEHIND_PROXY="false",
        CELERY_BROKER_URL="",
        EMAIL_HOST="",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("PYTEST_VERSION", None)
    env.update(overrides)
    return env


# --- HTTP ----------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def cookies(self) -> dict[str, str]:
        jar = {}
        for value in self.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]
        return jar


def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    timeout: float = 30,
) -> Response:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


# --- Processes -----------------------------------------------------------------------------


def proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces), numbered from field 3 ("state").
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat and int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry))
    return sorted(found)


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime of the processes, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        stat = proc_stat(pid)
        if stat is None:
            raise BenchError(f"process {pid} is gone")
        total += int(stat[11]) + int(stat[12])
    return total


def machine_busy_ms() -> float:
    """CPU time every CPU of the machine has spent busy (not idle or waiting on I/O), in ms."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) * 1000 / CLK_TCK


def children_cpu_ms() -> float:
    """CPU time of this process's finished children (wrk runs), in ms."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


@dataclass
class Gunicorn:
    """`gunicorn config.wsgi -w N -b 127.0.0.1:PORT` with a given settings module."""

    name: str
    settings: str
    env: dict[str, str]
    log_path: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        env = dict(self.env, DJANGO_SETTINGS_MODULE=self.settings)
        cmd = [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi",
            "-w",
            str(self.workers),
            "-b",
            f"{HOST}:{self.port}",
            "--error-logfile",
            str(self.log_path),
            "--name",
            f"bench-{self.name}",
        ]
        log(f"starting gunicorn {self.name} on {HOST}:{self.port} ({self.settings})")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed arguments
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        answered = 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn {self.name} exited:\n{self.tail_log()}")
            # Any HTTP answer means a worker has loaded the app; a few in a row (and the master
            # still there with all its workers) means none of them failed to boot.
            answered = answered + 1 if self._answers() else 0
            if answered >= 5 and len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.1)
        raise BenchError(f"gunicorn {self.name} did not come up in {timeout}s:\n{self.tail_log()}")

    def _answers(self) -> bool:
        try:
            request(self.port, "GET", "/bench-readiness-probe/", timeout=5)
            return True
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc else []

    def tail_log(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log(f"gunicorn {self.name} did not stop in 15s; killing its process group")
        # Workers are in the master's process group (its own session): none may outlive it.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class Stack:
    """What a bench started, stopped in reverse order by close()."""

    def __init__(self) -> None:
        self.servers: list[Gunicorn] = []

    def add(self, server: Gunicorn) -> Gunicorn:
        self.servers.append(server)
        server.start()
        return server

    def close(self) -> None:
        for server in reversed(self.servers):
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                log(f"stopping {server.name} failed: {exc!r}")
        self.servers.clear()


# --- Django in this process ----------------------------------------------------------------


def setup_django(env: dict[str, str], settings: str) -> None:
    """Make this process a Django process with the servers' environment (for setup steps)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


@contextlib.contextmanager
def quiet_setup():
    """Setup steps write through the app's services, which mail notifications: with no SMTP
    server configured the site prints mails on stdout, where the bench's report goes, and the
    in-process (eager) Celery tasks log each one. Neither is wanted from the setup."""
    logging.disable(logging.INFO)
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        logging.disable(logging.NOTSET)


def login_session(user) -> str:
    """A session id for `user`, as a browser would hold after logging in."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


COMMENT_RE = re.compile(r'<article class="comment[ "]')
