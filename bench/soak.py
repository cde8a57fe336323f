"""Load and faults through the multi-node rehearsal stack (scripts/prod_smoke.py).

    .venv/bin/python bench/soak.py [--seconds 60] [--users 32] [--only NAME ...]

On the rehearsal's stack (two gunicorn instances behind haproxy, PgBouncer, a PostgreSQL
primary and a streaming replica, Redis, a Celery worker, beat, an SMTP sink), `--users`
threads send a mixed load — 80 % anonymous reads, 15 % signed-in reads, 5 % writes (a reply to
one person's comment, each with a unique text, so each notifies that person by email) — first
for `--seconds` without a fault, then once per fault, injected 8 s into a run and restored
~10 s later (the SMTP server: 30 s):

    web1 killed           SIGKILL to one gunicorn instance and its workers; started again
    worker killed         SIGKILL to the Celery worker and its pool while it sends; started again
    redis paused          SIGSTOP to Redis (a hang: the harder case for timeouts), then SIGCONT
    primary restarted     PostgreSQL primary stopped (fast), started again 10 s later
    smtp down             the SMTP server stopped for 30 s

Per scenario: requests, errors (5xx, refused, timed out) before/during/after the fault, the
p99 latency, and the recovery time (from the restore to the last error). After all of them,
once the outbox has drained: `recount --check`, every accepted write (a 302) present exactly
once, and every accepted reply's notification email delivered exactly once.

Figures depend on the machine: the load generator, the servers and the workers share its CPUs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from prod_smoke import PASSWORD, Browser, Rehearsal, say, text_of  # noqa: E402

from tests.servers import pg_start, pg_stop  # noqa: E402

FAULT_AT = 8.0
READERS = 16

SETUP = """
import json
from allauth.account.models import EmailAddress
from accounts.models import User
from forum import services
from forum.models import Article

def person(email, name):
    user = User.objects.create_user(email=email, password=PASSWORD, display_name=name)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user

target = person("soak-target@example.test", "SoakTarget")
article = Article.objects.filter(published_at__isnull=False).order_by("pk").first()
root = services.post_comment(article=article, author=target, body="Reply to me, everyone.")
for n in range(READERS):
    person(f"soak-{n}@example.test", f"SoakReader{n}")
print(json.dumps({"article": article.get_absolute_url(), "root": root.pk,
                  "column": article.column.get_absolute_url()}))
"""


@dataclass
class Sample:
    at: float  # seconds since the run began
    kind: str  # anonymous / signed-in / write
    outcome: str  # the status code, or the exception's name
    seconds: float
    token: str = ""  # a write's unique text, when it was accepted


@dataclass
class Run:
    name: str
    samples: list = field(default_factory=list)
    fault: tuple[float, float] | None = None  # (injected at, restored at)
    lock: threading.Lock = field(default_factory=threading.Lock)


def failed(sample: Sample) -> bool:
    return not sample.outcome.isdigit() or int(sample.outcome) >= 500


_signed_in: dict[str, Browser] = {}


class Client:
    """One simulated person (a thread): anonymous, or signed in as one of the readers."""

    def __init__(self, base: str, paths: dict, email: str | None):
        self.base, self.paths, self.email = base, paths, email
        self.token = ""
        # One sign-in per person (two clients share it): sign-ins are rate limited per address.
        self.browser = _signed_in.get(email)
        if self.browser is None:
            self.browser = _signed_in[email] = Browser(base, [])
            self.browser.post_form("/accounts/login/", {"login": email, "password": PASSWORD})

    def fetch(self, path: str, data: dict | None = None, timeout: float = 15):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body)
        try:
            with self.browser.opener.open(request, timeout=timeout) as response:
                return str(response.status), response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return str(error.code), ""
        except Exception as error:  # noqa: BLE001 - refused, reset, timed out: an outcome
            return type(error).__name__, ""

    def one(self, rng: random.Random, run: Run, started: float, counter: list) -> None:
        # Each client is signed in, and sends 80 % of its requests without its cookies.
        roll = rng.random()
        t0 = time.monotonic()
        token = ""
        if roll < 0.80:
            kind = "anonymous"
            path = rng.choice([self.paths["article"], "/", self.paths["column"]])
            outcome, _ = self.anonymous_fetch(path)
        elif roll < 0.95:
            kind = "signed-in"
            outcome, page = self.fetch(self.paths["article"])
            self.remember_token(page)
        else:
            kind = "write"
            if not self.token:
                self.remember_token(self.fetch(self.paths["article"])[1])
            with run.lock:
                counter[0] += 1
                token = f"soak-{run.name.replace(' ', '-')}-{counter[0]}-{rng.random():.6f}"
            # Redirects are followed: an accepted reply ends on its page (200).
            outcome, page = self.fetch(
                f"/c/{self.paths['root']}/reply/",
                {"csrfmiddlewaretoken": self.token, "body": token},
            )
            if outcome == "200" and token in page:
                pass
            elif outcome == "200":
                outcome = "200-not-shown"
            if outcome != "200":
                token = ""
        sample = Sample(t0 - started, kind, outcome, time.monotonic() - t0, token)
        with run.lock:
            run.samples.append(sample)

    def anonymous_fetch(self, path: str):
        request = urllib.request.Request(self.base + path)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                response.read()
                return str(response.status), ""
        except urllib.error.HTTPError as error:
            return str(error.code), ""
        except Exception as error:  # noqa: BLE001
            return type(error).__name__, ""

    def remember_token(self, page: str) -> None:
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        if found:
            self.token = found.group(1)


def run_load(name, clients, seconds, inject=None, restore=None, restore_after=10.0) -> Run:
    run = Run(name)
    stop = threading.Event()
    started = time.monotonic()
    counter = [0]

    def loop(client, seed):
        rng = random.Random(seed)
        while not stop.is_set():
            client.one(rng, run, started, counter)

    threads = [
        threading.Thread(target=loop, args=(client, n), daemon=True)
        for n, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    if inject:
        time.sleep(FAULT_AT)
        injected = time.monotonic() - started
        inject()
        time.sleep(restore_after)
        restore()
        run.fault = (injected, time.monotonic() - started)
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return run


def report(run: Run) -> dict:
    samples = run.samples
    latencies = sorted(s.seconds for s in samples)
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
    row = {
        "scenario": run.name,
        "requests": len(samples),
        "writes accepted": sum(1 for s in samples if s.token),
        "p99 s": round(p99, 3),
        "share": {
            kind: round(sum(1 for s in samples if s.kind == kind) / max(1, len(samples)), 3)
            for kind in ("anonymous", "signed-in", "write")
        },
    }
    if run.fault is None:
        row["errors"] = sum(failed(s) for s in samples)
        return row
    begin, end = run.fault
    # A request in flight when the fault came counts as during it.
    row["errors before"] = sum(failed(s) for s in samples if s.at + s.seconds < begin)
    row["errors during"] = sum(
        failed(s) for s in samples if s.at + s.seconds >= begin and s.at < end
    )
    after = [s for s in samples if s.at >= end and failed(s)]
    row["errors after"] = len(after)
    row["recovered in s"] = round(max((s.at + s.seconds for s in after), default=end) - end, 1)
    outcomes: dict[str, int] = {}
    for s in samples:
        if failed(s):
            outcomes[s.outcome] = outcomes.get(s.outcome, 0) + 1
    row["what failed"] = outcomes
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the fault-free run")
    parser.add_argument("--fault-seconds", type=int, default=30, help="length of a fault run")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=None, help="scenarios to run")
    args = parser.parse_args()
    env = {
        # The load writes far more than a person would: no limits in the way.
        "RATE_LIMIT_COMMENT": "1000000/60",
        "RATE_LIMIT_WRITE": "1000000/60",
        "RATE_LIMIT_LIKE": "1000000/60",
        "RATE_LIMIT_PREVIEW": "1000000/60",
        "NOTIFICATION_EMAILS_PER_HOUR": "1000000",
        "DUPLICATE_WINDOW_SECONDS": "1",
    }
    with Rehearsal(env=env, log_replica_statements=False) as site:
        setup = site.manage(["shell", "-c", f"PASSWORD={PASSWORD!r}\nREADERS={READERS}\n" + SETUP])
        paths = json.loads(setup.stdout.strip().splitlines()[-1])
        clients = [
            Client(site.base, paths, f"soak-{n % READERS}@example.test") for n in range(args.users)
        ]
        say(f"{args.users} clients; the load begins")

        processes = site.processes
        scenarios = [
            ("no fault", args.seconds, None, None, 0),
            (
                "web1 killed",
                args.fault_seconds,
                lambda: processes.kill("web1"),
                lambda: processes.restart("web1"),
                10,
            ),
            (
                "worker killed",
                args.fault_seconds,
                lambda: processes.kill("worker"),
                lambda: processes.restart("worker"),
                10,
            ),
            (
                "redis paused",
                args.fault_seconds,
                lambda: processes.kill("redis", signal.SIGSTOP),
                lambda: processes.kill("redis", signal.SIGCONT),
                10,
            ),
            (
                "primary restarted",
                args.fault_seconds,
                lambda: pg_stop(site.primary),
                lambda: pg_start(site.primary),
                10,
            ),
            ("smtp down", args.fault_seconds + 20, site.stop_smtp, site.start_smtp, 30),
        ]
        rows, runs = [], []
        for name, seconds, inject, restore, restore_after in scenarios:
            if args.only and name not in args.only:
                continue
            run = run_load(name, clients, seconds, inject, restore, restore_after)
            runs.append(run)
            rows.append(report(run))
            say(json.dumps(rows[-1], ensure_ascii=False))
            if inject:
                site.wait_until_both_ready(timeout=90)

        say("the load is over; waiting for the outbox to drain")
        accepted = [s.token for run in runs for s in run.samples if s.token]
        drained = _wait_drained(site, timeout=420)
        recount = site.manage(["recount", "--check"], check=False)
        stored = _stored_counts(site, accepted)
        delivered = _delivered_counts(site, accepted)
        summary = {
            "writes accepted": len(accepted),
            "accepted writes missing": sum(1 for t in accepted if stored.get(t, 0) == 0),
            "accepted writes duplicated": sum(1 for t in accepted if stored.get(t, 0) > 1),
            "emails missing": sum(1 for t in accepted if delivered.get(t, 0) == 0),
            "emails duplicated": sum(1 for t in accepted if delivered.get(t, 0) > 1),
            "outbox drained": drained,
            "recount --check": "clean" if recount.returncode == 0 else recount.stdout[-500:],
        }
        print(json.dumps({"scenarios": rows, "data": summary}, ensure_ascii=False, indent=2))
        site.passed = True
    return 0


def _wait_drained(site, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = site.sql(
            "SELECT (SELECT count(*) FROM notifications_outgoingemail"
            " WHERE state IN ('pending', 'sending'))"
            " + (SELECT count(*) FROM forum_event WHERE dispatched_at IS NULL)"
        )
        if waiting == 0:
            return True
        time.sleep(2)
    return False


def _stored_counts(site, tokens) -> dict:
    import psycopg

    db = site.primary
    conninfo = f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT body_md, count(*) FROM forum_comment WHERE body_md LIKE 'soak-%%'"
            " GROUP BY body_md"
        ).fetchall()
    return dict(rows)


def _delivered_counts(site, tokens) -> dict:
    wanted = set(tokens)
    counts: dict[str, int] = {}
    for message in site.mailbox.to("soak-target@example.test"):
        for token in re.findall(r"soak-[\w-]+-\d+-0\.\d{6}", text_of(message)):
            if token in wanted:
                counts[token] = counts.get(token, 0) + 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
