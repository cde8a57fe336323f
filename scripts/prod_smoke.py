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
    """Background processes, each logging to a file; all stopped at exit."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log)
        self.running.append((name, process))
        return process

    def check(self) -> None:
        for name, process in self.running:
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"prod-smoke: {name} exited ({process.returncode}):\n{tail}")

    def stop(self) -> None:
        for _, process in reversed(self.running):
            if process.poll() is None:
                process.terminate()
        for name, process in reversed(self.running):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in 20 s; killing it")
                process.kill()


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


def psql(db: dict, sql: str) -> str:
    import psycopg

    conninfo = f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return conn.execute(sql).fetchone()[0]


def main() -> int:
    for tool in ("haproxy", "pgbouncer", "redis-server"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            raise SystemExit(f"prod-smoke: {tool} is missing (apt-get install {tool})")
    work = Path(tempfile.mkdtemp(prefix="colloquy-prod-smoke."))
    logs = work / "logs"
    logs.mkdir()
    if os.geteuid() == 0:  # the replica (run as postgres) logs its statements here
        work.chmod(0o711)
        shutil.chown(logs, "postgres", "postgres")
    replica_log = logs / "replica.log"
    processes = Processes(logs)
    smtp = None
    passed = False
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(processes.stop)
            primary = stack.enter_context(pg_primary())
            standby_port = stack.enter_context(pg_standby(primary, log_statements_to=replica_log))
            bouncer_port = stack.enter_context(pgbouncer(primary, pool_size=10))
            say(
                f"PostgreSQL :{primary['PORT']}, replica :{standby_port}, PgBouncer :{bouncer_port}"
            )
            redis_port = free_port()
            processes.start(
                "redis",
                ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", ""]
                + ["--appendonly", "no", "--dir", str(work)],
                dict(os.environ),
            )
            mailbox = Mailbox()
            smtp_port = free_port()
            smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
            smtp.start()
            proxy_port = free_port()
            web_ports = [free_port(), free_port()]
            base_env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTEST"))},
                "DEBUG": "false",
                "SECRET_KEY": "prod-smoke-" + "k" * 50,
                "ALLOWED_HOSTS": "127.0.0.1",
                "HTTPS": "false",
                "BEHIND_PROXY": "true",
                "SITE_URL": f"http://127.0.0.1:{proxy_port}",
                "DATABASE_URL": f"postgres://postgres@127.0.0.1:{primary['PORT']}/colloquy",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/1",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp_port),
                "EMAIL_USE_TLS": "false",
                "STATIC_ROOT": str(work / "static"),
                "MEDIA_ROOT": str(work / "var" / "media"),
                "IMPORT_ROOT": str(work / "var" / "imports"),
                "METRICS_TOKEN": TOKEN,
                "LOG_FORMAT": "json",
            }
            for step in (
                ["migrate", "--noinput"],
                ["collectstatic", "--noinput"],
                ["seed_demo", "--force"],
            ):
                done = subprocess.run(
                    [PYTHON, "manage.py", *step, "-v", "0"],
                    cwd=ROOT,
                    env=base_env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if done.returncode:
                    raise SystemExit(f"prod-smoke: manage.py {step[0]} failed:\n{done.stderr}")
            wait_for_replay(primary, standby_port)
            say("migrated, static files collected, demo content seeded")
            # The processes of the site go through PgBouncer, and read the replica.
            site_env = {
                **base_env,
                "DATABASE_URL": f"postgres://postgres@127.0.0.1:{bouncer_port}/colloquy",
                "PGBOUNCER": "true",
                "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{standby_port}/colloquy",
            }
            for number, port in enumerate(web_ports, 1):
                multiproc = work / f"prometheus-{number}"
                processes.start(
                    f"web{number}",
                    [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"],
                    {
                        **site_env,
                        "GUNICORN_BIND": f"127.0.0.1:{port}",
                        "WEB_CONCURRENCY": "2",
                        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
                    },
                )
            processes.start(
                "worker",
                [PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO"]
                + ["--concurrency", "2", "--hostname", "smoke@%h"],
                {**site_env, "CELERY_HEARTBEAT_FILE": str(work / "heartbeat")},
            )
            processes.start(
                "beat",
                [PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]
                + ["--schedule", str(work / "beat-schedule")],
                site_env,
            )
            config = work / "haproxy.cfg"
            config.write_text(
                "defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n"
                "  timeout server 30s\n  option forwardfor\n"
                f"frontend site\n  bind 127.0.0.1:{proxy_port}\n"
                "  http-request set-header X-Forwarded-Proto http\n"
                "  default_backend web\n"
                "backend web\n  balance roundrobin\n  option httpchk GET /readyz\n"
                "  http-response set-header X-Served-By %s\n"
                + "".join(
                    f"  server web{n} 127.0.0.1:{port} check inter 500ms\n"
                    for n, port in enumerate(web_ports, 1)
                )
            )
            processes.start("haproxy", ["haproxy", "-f", str(config), "-db"], dict(os.environ))
            served_by: list = []

            last_answer = {}

            def both_ready():
                processes.check()
                seen = set()
                for _ in range(6):
                    probe = Browser(f"http://127.0.0.1:{proxy_port}", [])
                    try:
                        last_answer["text"] = probe.request("/readyz")[0]
                    except (OSError, SystemExit) as error:
                        last_answer["text"] = str(error)
                        continue
                    seen |= set(probe.served_by)
                return seen >= {"web1", "web2"}

            try:
                wait_for(both_ready, what="both web instances behind the proxy", timeout=60)
            except SystemExit:
                say(f"/readyz said: {last_answer.get('text', '')[:500]}")
                raise
            say("two web instances ready behind haproxy; worker and beat running")

            base = f"http://127.0.0.1:{proxy_port}"
            ada, bo = Browser(base, served_by), Browser(base, served_by)
            reads_before = _replica_reads(replica_log)
            sign_up(ada, mailbox, ADA, "SmokeAda")
            sign_up(bo, mailbox, BO, "SmokeBo")
            say("two people signed up and verified their email from the messages received")

            home, _ = ada.request("/")
            article = re.search(r'href="(/columns/[^"/]+/[^"/]+/)"', home).group(1)
            page, _ = ada.request(article)
            comment = "Through the proxy, the bouncer and the replica."
            page, landed = ada.request(
                article + "comments/", {"csrfmiddlewaretoken": ada.token(page), "body": comment}
            )
            if comment not in html.unescape(page):
                raise SystemExit("prod-smoke: the writer doesn't see their comment")
            pk = re.search(r"#c-(\d+)", landed) or re.search(r"[?&]c=(\d+)", landed)
            pk = pk.group(1)
            page, _ = bo.request(article)
            reply = "A reply from the other web instance, perhaps."
            bo.post_form(f"/c/{pk}/reply/", {"body": reply}, form_page=page)
            bo.request(f"/c/{pk}/like/", {"csrfmiddlewaretoken": bo.token(page)})
            say(f"Ada commented (#{pk}); Bo replied and liked it")
            # Someone who wrote nothing: their reads may go to the replica.
            anonymous = Browser(base, served_by)
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
            replica_reads = _replica_reads(replica_log) - reads_before
            if not replica_reads:
                raise SystemExit("prod-smoke: no web process read the site's tables on the replica")
            counts = {
                "comment": f"SELECT count(*) FROM forum_comment WHERE body_md = '{comment}'",
                "reply": f"SELECT count(*) FROM forum_comment WHERE body_md = '{reply}'",
                "like": f"SELECT like_count FROM forum_comment WHERE id = {int(pk)}",
            }
            for what, sql in counts.items():
                if psql(primary, sql) != 1:
                    raise SystemExit(f"prod-smoke: the {what} is not there exactly once")
            recount = subprocess.run(
                [PYTHON, "manage.py", "recount", "--check"],
                cwd=ROOT,
                env=site_env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if recount.returncode:
                raise SystemExit(f"prod-smoke: recount --check: {recount.stdout}{recount.stderr}")
            for number, port in enumerate(web_ports, 1):
                metrics = urllib.request.Request(
                    f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                text = urllib.request.urlopen(metrics, timeout=10).read().decode()  # noqa: S310
                if "colloquy_http_requests_total{" not in text:
                    raise SystemExit(f"prod-smoke: web{number}'s /metrics counts no request")
            say(
                f"{len(served_by)} requests: web1 {served_by.count('web1')}, web2 "
                f"{served_by.count('web2')}; {replica_reads} reads of the site's tables on the "
                "replica; every write once; recount clean; /metrics on both"
            )
        say("all stopped; the rehearsal passed")
        passed = True
        return 0
    finally:
        if smtp is not None:
            smtp.stop()
        if not passed:
            for log in sorted(logs.glob("*.log")):
                lines = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name} (last lines)", *lines, sep="\n", file=sys.stderr)
        if os.environ.get("PROD_SMOKE_KEEP") or not passed:
            print(f"prod-smoke: logs kept in {logs}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _replica_reads(log: Path) -> int:
    """SELECTs of the site's tables the replica ran (it logs every statement)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return len(re.findall(r'statement: SELECT .*?FROM "(?:forum|accounts|notifications)_', text))


if __name__ == "__main__":
    sys.exit(main())
