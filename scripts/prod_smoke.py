"""A multi-node rehearsal of production on one machine: `make prod-smoke`.

Starts, on loopback ports in a temporary directory: a PostgreSQL primary and a streaming
replica of it (`pg_basebackup -R`), PgBouncer in transaction mode in front of the primary,
Redis, two gunicorn instances of the site (DEBUG off, collected static files, PGBOUNCER=true,
the replica as DATABASE_REPLICA_URL) behind haproxy, a Celery worker, beat, and an SMTP sink.
Then it drives a journey through the proxy — two people sign up and verify their email from the
message received, one comments, the other replies and likes, the first is told by email and in
the site — and checks: requests landed on both web instances, reads were served by the replica,
every write is there exactly once, the counters recount clean, the notification email came
exactly once. Everything is stopped at the end, also on failure. Exit status 0 when it all holds.
"""

from __future__ import annotations

import contextlib
import html
import http.cookiejar
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from tests.helpers import free_port  # noqa: E402
from tests.servers import pg_primary, pg_standby, pgbouncer, wait_for_replay  # noqa: E402

PYTHON = sys.executable
TOKEN = "prod-smoke-metrics"
PASSWORD = "a-long-enough-passphrase"
ADA, BO = "smoke-ada@example.test", "smoke-bo@example.test"
started_at = time.monotonic()


def say(message: str) -> None:
    print(f"prod-smoke [{time.monotonic() - started_at:5.1f}s] {message}", flush=True)


def wait_for(condition, *, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"prod-smoke: timed out waiting for {what}")
        time.sleep(0.1)


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"

    def to(self, address: str) -> list:
        return [message for rcpt, message in self.messages if address in rcpt]


class Processes:
    """Background processes, each in its own process group, logging to a file; all stopped at
    exit. A process can be killed and started again (the soak's faults)."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list[str], dict]] = {}
        self.down: set[str] = set()  # killed on purpose: not a failure

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
        self.running[name] = process
        self.commands[name] = (args, env)
        self.down.discard(name)
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the process and all its children (a gunicorn's workers, a Celery
        worker's pool)."""
        process = self.running[name]
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.down.add(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            process.wait(timeout=30)

    def restart(self, name: str) -> None:
        self.start(name, *self.commands[name])

    def check(self) -> None:
        for name, process in self.running.items():
            if name not in self.down and process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"prod-smoke: {name} exited ({process.returncode}):\n{tail}")

    def stop(self) -> None:
        for process in reversed(self.running.values()):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGCONT)  # a paused one must hear the TERM
                process.terminate()
        for name, process in reversed(self.running.items()):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in 20 s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)


class Browser:
    """One person's browser: cookies, CSRF tokens, and which web instance answered."""

    def __init__(self, base: str, served_by: list):
        self.base = base
        self.served_by = served_by
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path: str, data: dict | None = None, *, expect=(200,)):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body)
        try:
            response = self.opener.open(request, timeout=20)
            status, text, url = response.status, response.read().decode(), response.url
            headers = response.headers
        except urllib.error.HTTPError as error:
            status, text, url, headers = error.code, error.read().decode(), path, error.headers
        self.served_by.append(headers.get("X-Served-By"))
        if status not in expect:
            raise SystemExit(f"prod-smoke: {path} answered {status}, not {expect}:\n{text[:2000]}")
        return text, url

    def token(self, page: str) -> str:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page) or re.search(
            r'<meta name="csrf-token" content="([^"]+)"', page
        )
        if not found:
            raise SystemExit("prod-smoke: no CSRF token on the page")
        return found.group(1)

    def post_form(self, path: str, fields: dict, *, form_page: str | None = None):
        page = form_page if form_page is not None else self.request(path)[0]
        return self.request(path, {"csrfmiddlewaretoken": self.token(page), **fields})


def sign_up(browser: Browser, mailbox: Mailbox, email: str, name: str) -> None:
    browser.post_form(
        "/accounts/signup/",
        {"email": email, "display_name": name, "password1": PASSWORD, "password2": PASSWORD},
    )
    message = wait_for(lambda: mailbox.to(email), what=f"the verification email to {email}")[0]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)", text_of(message))
    if not link:
        raise SystemExit(f"prod-smoke: no confirmation link in: {text_of(message)[:1500]}")
    text, _ = browser.post_form(link.group(1), {})
    if name not in html.unescape(text):
        raise SystemExit(f"prod-smoke: {name} is not signed in after confirming")


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


class Rehearsal:
    """The whole stack, started on entering and stopped on leaving (also on failure, when the
    logs are kept and their last lines printed). `bench/soak.py` runs its load on it too.

    `env`: extra variables for the site's processes."""

    def __init__(self, *, env: dict | None = None, log_replica_statements: bool = True):
        self.extra_env = env or {}
        self.log_replica_statements = log_replica_statements
        self.passed = False

    # -- starting and stopping ----------------------------------------------------------------
    def __enter__(self):
        for tool in ("haproxy", "pgbouncer", "redis-server"):
            if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
                raise SystemExit(f"prod-smoke: {tool} is missing (apt-get install {tool})")
        self.work = Path(tempfile.mkdtemp(prefix="colloquy-prod-smoke."))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        if os.geteuid() == 0:  # the replica (run as postgres) logs its statements here
            self.work.chmod(0o711)
            shutil.chown(self.logs, "postgres", "postgres")
        self.replica_log = self.logs / "replica.log"
        self.processes = Processes(self.logs)
        self.smtp = None
        self.stack = contextlib.ExitStack()
        try:
            self._start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc_info):
        try:
            self.processes.stop()
            self.stop_smtp()
            self.stack.close()
        finally:
            if not self.passed:
                for log in sorted(self.logs.glob("*.log")):
                    lines = log.read_text(errors="replace").splitlines()[-15:]
                    print(f"--- {log.name} (last lines)", *lines, sep="\n", file=sys.stderr)
            if os.environ.get("PROD_SMOKE_KEEP") or not self.passed:
                print(f"prod-smoke: logs kept in {self.logs}", file=sys.stderr)
            else:
                shutil.rmtree(self.work, ignore_errors=True)
        return False

    def _start(self) -> None:
        work = self.work
        self.primary = self.stack.enter_context(pg_primary())
        self.standby_port = self.stack.enter_context(
            pg_standby(
                self.primary,
                log_statements_to=self.replica_log if self.log_replica_statements else None,
            )
        )
        self.bouncer_port = self.stack.enter_context(pgbouncer(self.primary, pool_size=10))
        say(
            f"PostgreSQL :{self.primary['PORT']}, replica :{self.standby_port}, "
            f"PgBouncer :{self.bouncer_port}"
        )
        self.redis_port = free_port()
        self.processes.start(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port)]
            + ["--save", "", "--appendonly", "no", "--dir", str(work)],
            dict(os.environ),
        )
        self.mailbox = Mailbox()
        self.smtp_port = free_port()
        self.start_smtp()
        self.proxy_port = free_port()
        self.web_ports = [free_port(), free_port()]
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTEST"))},
            "DEBUG": "false",
            "SECRET_KEY": "prod-smoke-" + "k" * 50,
            "ALLOWED_HOSTS": "127.0.0.1",
            "HTTPS": "false",
            "BEHIND_PROXY": "true",
            "SITE_URL": f"http://127.0.0.1:{self.proxy_port}",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.primary['PORT']}/colloquy",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp_port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_TIMEOUT": "5",
            "STATIC_ROOT": str(work / "static"),
            "MEDIA_ROOT": str(work / "var" / "media"),
            "IMPORT_ROOT": str(work / "var" / "imports"),
            "METRICS_TOKEN": TOKEN,
            "LOG_FORMAT": "json",
            **self.extra_env,
        }
        for step in (
            ["migrate", "--noinput"],
            ["collectstatic", "--noinput"],
            ["seed_demo", "--force"],
        ):
            self.manage(step + ["-v", "0"], env=base_env)
        wait_for_replay(self.primary, self.standby_port)
        say("migrated, static files collected, demo content seeded")
        # The processes of the site go through PgBouncer, and read the replica.
        self.site_env = {
            **base_env,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.bouncer_port}/colloquy",
            "PGBOUNCER": "true",
            "DATABASE_REPLICA_URL": (f"postgres://postgres@127.0.0.1:{self.standby_port}/colloquy"),
        }
        for number, port in enumerate(self.web_ports, 1):
            self.processes.start(
                f"web{number}",
                [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"],
                {
                    **self.site_env,
                    "GUNICORN_BIND": f"127.0.0.1:{port}",
                    "WEB_CONCURRENCY": "2",
                    "PROMETHEUS_MULTIPROC_DIR": str(work / f"prometheus-{number}"),
                },
            )
        self.processes.start(
            "worker",
            [PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO"]
            + ["--concurrency", "2", "--hostname", "smoke@%h"],
            {**self.site_env, "CELERY_HEARTBEAT_FILE": str(work / "heartbeat")},
        )
        self.processes.start(
            "beat",
            [PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]
            + ["--schedule", str(work / "beat-schedule")],
            self.site_env,
        )
        config = work / "haproxy.cfg"
        config.write_text(
            "defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n"
            # A health check may take the cache's and the broker's timeouts (~1.3 s) while Redis
            # hangs: it must not time out first and mark every instance down.
            "  timeout server 30s\n  timeout check 3s\n  option forwardfor\n"
            # A request that a web instance dropped (killed, say) is sent to the other one —
            # unless it is a POST, which may have been done already: never twice.
            "  retries 2\n  option redispatch\n"
            "  retry-on conn-failure empty-response response-timeout\n"
            f"frontend site\n  bind 127.0.0.1:{self.proxy_port}\n"
            "  http-request set-header X-Forwarded-Proto http\n"
            "  http-request disable-l7-retry if METH_POST\n"
            "  default_backend web\n"
            "backend web\n  balance roundrobin\n  option httpchk GET /readyz\n"
            "  http-response set-header X-Served-By %s\n"
            + "".join(
                f"  server web{n} 127.0.0.1:{port} check inter 500ms fall 2 rise 2\n"
                for n, port in enumerate(self.web_ports, 1)
            )
        )
        self.processes.start("haproxy", ["haproxy", "-f", str(config), "-db"], dict(os.environ))
        self.wait_until_both_ready()
        say("two web instances ready behind haproxy; worker and beat running")

    def wait_until_both_ready(self, timeout: float = 60) -> None:
        last_answer = {}

        def both_ready():
            self.processes.check()
            seen = set()
            for _ in range(6):
                probe = Browser(self.base, [])
                try:
                    last_answer["text"] = probe.request("/readyz")[0]
                except (OSError, SystemExit) as error:
                    last_answer["text"] = str(error)
                    continue
                seen |= set(probe.served_by)
            return seen >= {"web1", "web2"}

        try:
            wait_for(both_ready, what="both web instances behind the proxy", timeout=timeout)
        except SystemExit:
            say(f"/readyz said: {last_answer.get('text', '')[:500]}")
            raise

    # -- what the journey and the soak use ----------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def start_smtp(self) -> None:
        self.smtp = Controller(self.mailbox, hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

    def stop_smtp(self) -> None:
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None

    def manage(self, args: list[str], *, env: dict | None = None, check: bool = True):
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=env or self.site_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode:
            raise SystemExit(f"prod-smoke: manage.py {args[0]} failed:\n{done.stdout}{done.stderr}")
        return done

    def sql(self, query: str, params=()) -> object:
        import psycopg

        db = self.primary
        conninfo = f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return conn.execute(query, params).fetchone()[0]


def first_article(browser: Browser) -> str:
    """The path of the first chapter the home page links to."""
    home, _ = browser.request("/")
    return re.search(r'href="(/columns/[^"/]+/[^"/]+/)"', home).group(1)


def journey(site: Rehearsal) -> None:
    served_by: list = []
    mailbox = site.mailbox
    ada, bo = Browser(site.base, served_by), Browser(site.base, served_by)
    reads_before = _replica_reads(site.replica_log)
    sign_up(ada, mailbox, ADA, "SmokeAda")
    sign_up(bo, mailbox, BO, "SmokeBo")
    say("two people signed up and verified their email from the messages received")

    article = first_article(ada)
    page, _ = ada.request(article)
    comment = "Through the proxy, the bouncer and the replica."
    page, landed = ada.request(
        article + "comments/", {"csrfmiddlewaretoken": ada.token(page), "body": comment}
    )
    if comment not in html.unescape(page):
        raise SystemExit("prod-smoke: the writer doesn't see their comment")
    pk = (re.search(r"#c-(\d+)", landed) or re.search(r"[?&]c=(\d+)", landed)).group(1)
    page, _ = bo.request(article)
    reply = "A reply from the other web instance, perhaps."
    bo.post_form(f"/c/{pk}/reply/", {"body": reply}, form_page=page)
    bo.request(f"/c/{pk}/like/", {"csrfmiddlewaretoken": bo.token(page)})
    say(f"Ada commented (#{pk}); Bo replied and liked it")
    # Someone who wrote nothing: their reads may go to the replica.
    anonymous = Browser(site.base, served_by)
    anonymous.request(article)
    anonymous.request(f"/c/{pk}/")

    told = wait_for(
        lambda: [m for m in mailbox.to(ADA) if reply in text_of(m)],
        what="the notification email to Ada",
        timeout=60,
    )
    inbox, _ = ada.request("/notifications/")
    if "SmokeBo" not in html.unescape(inbox):
        raise SystemExit("prod-smoke: Ada's notifications don't name Bo")
    time.sleep(3)  # a duplicate would have arrived by now
    if len([m for m in mailbox.to(ADA) if reply in text_of(m)]) != 1:
        raise SystemExit("prod-smoke: the notification email came more than once")
    say(f"Ada was told by email ({told[0]['Subject']!r}) and in the site")

    # The checks of the whole stack.
    hosts = {name for name in served_by if name}
    if hosts != {"web1", "web2"}:
        raise SystemExit(f"prod-smoke: requests landed on {hosts}, not both instances")
    replica_reads = _replica_reads(site.replica_log) - reads_before
    if not replica_reads:
        raise SystemExit("prod-smoke: no web process read the site's tables on the replica")
    checks = {
        "comment": ("SELECT count(*) FROM forum_comment WHERE body_md = %s", [comment]),
        "reply": ("SELECT count(*) FROM forum_comment WHERE body_md = %s", [reply]),
        "like": ("SELECT like_count FROM forum_comment WHERE id = %s", [int(pk)]),
    }
    for what, (query, params) in checks.items():
        if site.sql(query, params) != 1:
            raise SystemExit(f"prod-smoke: the {what} is not there exactly once")
    site.manage(["recount", "--check"])
    for number, port in enumerate(site.web_ports, 1):
        metrics = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        text = urllib.request.urlopen(metrics, timeout=10).read().decode()
        if "colloquy_http_requests_total{" not in text:
            raise SystemExit(f"prod-smoke: web{number}'s /metrics counts no request")
    say(
        f"{len(served_by)} requests: web1 {served_by.count('web1')}, web2 "
        f"{served_by.count('web2')}; {replica_reads} reads of the site's tables on the "
        "replica; every write once; recount clean; /metrics on both"
    )


def faults(site: Rehearsal) -> None:
    """Short drills of what bench/soak.py measures under load: each fault must cost no failed
    request (a failure stops the rehearsal with the page that failed)."""
    served_by: list = []
    reader = Browser(site.base, served_by)
    article = first_article(reader)

    # A web instance killed: the proxy sends every read to the other one (and retries a GET
    # the dying one dropped); started again, it takes requests again.
    site.processes.kill("web1")
    before = len(served_by)
    for _ in range(20):
        reader.request(article)
    if set(served_by[before:]) != {"web2"}:
        raise SystemExit(f"prod-smoke: with web1 dead, reads came from {set(served_by[before:])}")
    site.processes.restart("web1")
    site.wait_until_both_ready()
    say("web1 killed: 20 reads answered by web2; web1 back")

    # Redis hangs (SIGSTOP): reads, and a signed-in reader's comment, still answer, each in
    # about a cache timeout plus a publish timeout; the comment's event waits for the sweeper.
    writer = Browser(site.base, served_by)
    page, _ = writer.post_form("/accounts/login/", {"login": ADA, "password": PASSWORD})
    page, _ = writer.request(article)
    text = "Written while Redis hangs."
    site.processes.kill("redis", signal.SIGSTOP)
    try:
        started = time.monotonic()
        for _ in range(5):
            reader.request(article)
        writer.request(
            article + "comments/", {"csrfmiddlewaretoken": writer.token(page), "body": text}
        )
        took = time.monotonic() - started
    finally:
        site.processes.kill("redis", signal.SIGCONT)
    if site.sql("SELECT count(*) FROM forum_comment WHERE body_md = %s", [text]) != 1:
        raise SystemExit("prod-smoke: the comment written while Redis hung is not there once")
    if took > 10:
        raise SystemExit(f"prod-smoke: 6 requests took {took:.1f} s while Redis hung")
    say(f"Redis paused: 5 reads and a comment answered in {took:.1f} s; the comment saved once")


def main() -> int:
    with Rehearsal() as site:
        journey(site)
        faults(site)
        site.passed = True
    say("all stopped; the rehearsal passed")
    return 0


def _replica_reads(log: Path) -> int:
    """SELECTs of the site's tables the replica ran (it logs every statement)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return len(re.findall(r'statement: SELECT .*?FROM "(?:forum|accounts|notifications)_', text))


if __name__ == "__main__":
    sys.exit(main())
