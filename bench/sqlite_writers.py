"""The zero-setup SQLite mode under concurrent logged-in writers.

    .venv/bin/python bench/sqlite_writers.py [--users 8] [--requests 2000] [--seconds 20]
                                             [--json FILE]

Runs `gunicorn config.wsgi -w 2` (DEBUG off) on a throwaway SQLite file, with no Redis (the
local-memory cache of each worker; sessions are cached_db, so they are read from the database),
exactly as the zero-setup site would be deployed. N logged-in users, one thread each, then post
comments and replies, like and unlike, and read the article, over real HTTP with their session
and CSRF cookies, until --requests requests or --seconds have gone by. Reported: requests,
responses by status, 5xx, "database is locked" in gunicorn's log, requests/s and latency by kind,
and whether the counters in the database still agree with the rows afterwards.

The goal is zero 5xx: a well-known Django forum answers ~1.5% of logged-in requests with
"database is locked" 500s on SQLite under two workers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import common  # noqa: E402
from bench.harness.common import BenchError, log  # noqa: E402

APP_SETTINGS = "bench.harness.app_settings"
# The site's per-user and per-IP rate limits (accounts.ratelimit) would stop 8 users who all
# come from 127.0.0.1 and write at machine speed within seconds; what is measured here is the
# database under concurrent writers, so they are lifted (settings read them from the
# environment). Every text is unique, so the duplicate refusal does not trigger either.
RATE_LIMITS_ENV = {"RATE_LIMIT_COMMENT": "1000000/60", "RATE_LIMIT_LIKE": "1000000/60"}
SEED_COMMENTS = 40
# What each simulated user does, and how often (weights).
ACTIONS = {"comment": 25, "reply": 20, "like": 35, "read": 20}
EXPECTED_STATUS = {"comment": 302, "reply": 302, "like": 302, "read": 200}
TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PERMALINK_RE = re.compile(r"^/c/(\d+)/")


def create_data(users: int) -> dict:
    from django.core.management import call_command

    from forum import services
    from tests.factories import UserFactory

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    columnist = UserFactory(email="columnist@bench.example", display_name="columnist")
    column = services.create_column(author=columnist, title="Reliable web services", slug="rws")
    article = services.publish_article(
        column=column, title="Transactions", body_md="Every write in **one** transaction."
    )
    rng = random.Random(5)
    people = [UserFactory() for _ in range(10)]
    seed = []
    for n in range(SEED_COMMENTS):
        parent = rng.choice(seed) if seed and n % 3 else None
        seed.append(
            services.post_comment(
                article=article, author=rng.choice(people), body=f"seed {n}", parent=parent
            )
        )
    writers = [
        UserFactory(email=f"writer{n}@bench.example", display_name=f"writer{n}")
        for n in range(users)
    ]
    return {
        "article_id": article.pk,
        "article_path": article.get_absolute_url(),
        "comment_path": f"{article.get_absolute_url()}comments/",
        "seed_ids": [c.pk for c in seed],
        "sessions": [common.login_session(user) for user in writers],
    }


class Load:
    """N users in threads sharing one request budget and one deadline."""

    def __init__(self, port: int, data: dict, *, requests: int, seconds: float) -> None:
        self.port, self.data = port, data
        self.budget, self.deadline = requests, time.monotonic() + seconds
        self.lock = threading.Lock()
        self.comment_ids: list[int] = list(data["seed_ids"])
        self.records: list[tuple[str, int, float]] = []  # (kind, status, seconds)
        self.failures: list[str] = []  # unexpected responses, for the report
        self.created = 0

    def take(self) -> bool:
        with self.lock:
            if self.budget <= 0 or time.monotonic() >= self.deadline:
                return False
            self.budget -= 1
            return True

    def user(self, n: int, session: str) -> None:
        rng = random.Random(n)
        cookies = {"sessionid": session}
        resp = common.request(
            self.port, "GET", self.data["article_path"], headers=self.headers(cookies)
        )
        cookies.update(resp.cookies())
        tokens = TOKEN_RE.findall(resp.body)
        if resp.status != 200 or "csrftoken" not in cookies or not tokens:
            raise BenchError(f"user {n}: could not get a CSRF token (status {resp.status})")
        token = tokens[0]
        kinds, weights = list(ACTIONS), list(ACTIONS.values())
        while self.take():
            kind = rng.choices(kinds, weights)[0]
            with self.lock:
                target = rng.choice(self.comment_ids)
            form = {"csrfmiddlewaretoken": token}
            if kind == "comment":
                path = self.data["comment_path"]
                form["body"] = f"writer {n}: a root comment, {rng.random():.6f}"
            elif kind == "reply":
                path = f"/c/{target}/reply/"
                form["body"] = f"writer {n} answers #{target}, {rng.random():.6f}"
            elif kind == "like":
                path = f"/c/{target}/like/"
            else:
                path = self.data["article_path"]
            headers = self.headers(cookies)
            t0 = time.monotonic()
            try:
                if kind == "read":
                    resp = common.request(self.port, "GET", path, headers=headers)
                else:
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                    body = urlencode(form)
                    resp = common.request(self.port, "POST", path, headers=headers, body=body)
                status = resp.status
            except OSError as exc:  # no HTTP answer at all: counted apart from 5xx
                status, resp = 0, None
                self.note(f"{kind} {path}: {exc!r}")
            elapsed = time.monotonic() - t0
            with self.lock:
                self.records.append((kind, status, elapsed))
            if resp is None:
                continue
            if status != EXPECTED_STATUS[kind]:
                self.note(f"{kind} {path}: {status} {resp.body[:160]!r}")
            elif kind in ("comment", "reply"):
                match = PERMALINK_RE.match(resp.headers.get("Location", ""))
                if match:
                    with self.lock:
                        self.comment_ids.append(int(match.group(1)))
                        self.created += 1

    @staticmethod
    def headers(cookies: dict[str, str]) -> dict[str, str]:
        return {"Cookie": common.cookie_header(cookies), "Accept-Language": "en"}

    def note(self, failure: str) -> None:
        with self.lock:
            if len(self.failures) < 20:
                self.failures.append(failure)

    def run(self) -> float:
        errors: list[BaseException] = []

        def runner(n: int, session: str) -> None:
            try:
                self.user(n, session)
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=runner, args=(n, s), daemon=True)
            for n, s in enumerate(self.data["sessions"])
        ]
        t0 = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            # Bounded: every request has a 30 s socket timeout and the loop a deadline.
            thread.join(timeout=max(self.deadline - time.monotonic(), 0) + 60)
        elapsed = time.monotonic() - t0
        if any(thread.is_alive() for thread in threads):
            raise BenchError("load threads did not finish")
        if errors:
            raise BenchError(f"a user thread failed: {errors[0]!r}")
        return elapsed


def integrity(article_id: int) -> dict:
    """Do the denormalised counters still agree with the rows after the storm?"""
    from django.db.models import Count, F, Q

    from forum.enums import CommentStatus
    from forum.models import Article, Comment, Like

    article = Article.objects.get(pk=article_id)
    comments = Comment.objects.filter(article=article)
    visible = comments.filter(status=CommentStatus.VISIBLE).count()
    like_mismatch = (
        comments.annotate(n=Count("likes", distinct=True)).exclude(like_count=F("n")).count()
    )
    reply_mismatch = (
        comments.annotate(
            n=Count("replies", filter=Q(replies__status=CommentStatus.VISIBLE), distinct=True)
        )
        .exclude(reply_count=F("n"))
        .count()
    )
    return {
        "comments": comments.count(),
        "article_comment_count": article.comment_count,
        "visible_comments": visible,
        "likes": Like.objects.filter(comment__article=article).count(),
        "comments_whose_like_count_disagrees": like_mismatch,
        "comments_whose_reply_count_disagrees": reply_mismatch,
        "ok": article.comment_count == visible and like_mismatch == 0 and reply_mismatch == 0,
    }


def summarise(load: Load, elapsed: float) -> dict:
    by_kind: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[str] = Counter()
    for kind, status, seconds in load.records:
        by_kind[kind].append(seconds * 1000)
        statuses[f"{kind} {status}"] += 1

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]

    kinds = {
        kind: {
            "requests": len(ms),
            "p50_ms": pct(ms, 50),
            "p99_ms": pct(ms, 99),
            "max_ms": max(ms),
        }
        for kind, ms in sorted(by_kind.items())
    }
    total = len(load.records)
    return {
        "requests": total,
        "seconds": elapsed,
        "rps": total / elapsed if elapsed else 0.0,
        "status_5xx": sum(1 for _, s, _ in load.records if s >= 500),
        "no_response": sum(1 for _, s, _ in load.records if s == 0),
        "unexpected_status": sum(
            1 for k, s, _ in load.records if s and s < 500 and s != EXPECTED_STATUS[k]
        ),
        "comments_created": load.created,
        "statuses": dict(sorted(statuses.items())),
        "by_kind": kinds,
        "failures_sample": load.failures,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8, help="concurrent logged-in users")
    parser.add_argument("--requests", type=int, default=2000, help="stop after this many")
    parser.add_argument("--seconds", type=float, default=20, help="or after this long")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--json", type=Path, help="also write the JSON figures to this file")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    common.exit_on_sigterm()
    tmp = Path(tempfile.mkdtemp(prefix="colloquy-bench-sqlite."))
    db = tmp / "db.sqlite3"
    env = common.django_env(
        DATABASE_URL=f"sqlite:///{db}",
        REDIS_URL="",
        BENCH_STATIC_ROOT=str(tmp / "static"),
        **RATE_LIMITS_ENV,
    )
    stack = common.Stack()
    server = None
    try:
        common.setup_django(env, APP_SETTINGS)
        from django.db import connections

        t0 = time.monotonic()
        with common.quiet_setup():
            data = create_data(args.users)
        connections.close_all()  # this process must hold no SQLite lock during the load
        log(f"setup {time.monotonic() - t0:.1f}s; SQLite file {db}")
        server = stack.add(
            common.Gunicorn("sqlite", APP_SETTINGS, env, tmp / "gunicorn.log", args.workers)
        )
        load = Load(server.port, data, requests=args.requests, seconds=args.seconds)
        log(f"{args.users} users, up to {args.requests} requests or {args.seconds:g}s")
        workers = server.worker_pids()
        cpu0, busy0, self0 = (
            common.cpu_ticks(workers),
            common.machine_busy_ms(),
            time.process_time(),
        )
        elapsed = load.run()
        cpu_ms = (common.cpu_ticks(workers) - cpu0) * 1000 / common.CLK_TCK
        # The rest of the machine meanwhile (other people's processes): the figures are only
        # as good as this is small.
        others_ms = common.machine_busy_ms() - busy0 - cpu_ms - (time.process_time() - self0) * 1000
        if server.worker_pids() != workers:
            raise BenchError("gunicorn workers changed during the run (a worker died?)")
        stack.close()  # gunicorn's log is complete once it has stopped
        log_text = server.log_path.read_text()
        figures = summarise(load, elapsed)
        figures.update(
            worker_cpu_ms_per_request=cpu_ms / max(figures["requests"], 1),
            other_processes_cpu_share=max(others_ms, 0) / (elapsed * 1000 * (os.cpu_count() or 1)),
            database_is_locked=log_text.count("database is locked"),
            tracebacks_in_log=log_text.count("Traceback (most recent call last)"),
            integrity=integrity(data["article_id"]),
        )
        connections.close_all()
        if figures["tracebacks_in_log"]:
            first = log_text.index("Traceback (most recent call last)")
            log("first traceback in gunicorn's log:\n" + log_text[first : first + 3000])
    except Exception:
        if server is not None and server.log_path.exists():
            log(f"--- the end of gunicorn's log ---\n{server.tail_log()}")
        raise
    finally:
        stack.close()
        shutil.rmtree(tmp, ignore_errors=True)

    report = {
        "bench": "sqlite_writers",
        "setup": {
            "gunicorn": f"config.wsgi -w {args.workers} (sync), DEBUG off, SQLite, no Redis",
            "users": args.users,
            "request_budget": args.requests,
            "seconds_budget": args.seconds,
            "mix": ACTIONS,
            "environment": RATE_LIMITS_ENV,
        },
        **figures,
        "goal": {"zero 5xx": figures["status_5xx"] == 0},
    }
    print(render_table(report))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
        log(f"wrote {args.json}")
    problems = []
    if figures["unexpected_status"] or figures["no_response"]:
        problems.append("unexpected responses (see failures_sample)")
    if not figures["integrity"]["ok"]:
        problems.append("counters disagree with rows")
    if problems:
        log("FAILED: " + "; ".join(problems))
        return 2
    return 0


def render_table(r: dict) -> str:
    share = 100 * r["status_5xx"] / r["requests"] if r["requests"] else 0.0
    lines = [
        f"SQLite, {r['setup']['gunicorn']}, {r['setup']['users']} logged-in users",
        f"  requests            {r['requests']} in {r['seconds']:.1f}s = {r['rps']:.1f} req/s",
        f"  worker CPU          {r['worker_cpu_ms_per_request']:.1f} ms/request (both workers)",
        f"  other processes     {r['other_processes_cpu_share']:.0%} of the machine's CPU "
        "meanwhile (high = noisy figures)",
        f"  5xx                 {r['status_5xx']} ({share:.2f}%)   goal: 0 -> "
        f"{'MET' if r['status_5xx'] == 0 else 'MISSED'}",
        f"  database is locked  {r['database_is_locked']} (in gunicorn's log)",
        f"  other unexpected    {r['unexpected_status']} non-5xx, {r['no_response']} no answer",
        f"  comments created    {r['comments_created']}",
        f"  counters vs rows    {'agree' if r['integrity']['ok'] else 'DISAGREE'} "
        f"({r['integrity']['comments']} comments, {r['integrity']['likes']} likes)",
        f"  {'kind':<8} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}",
    ]
    for kind, k in r["by_kind"].items():
        lines.append(
            f"  {kind:<8} {k['requests']:>8} {k['p50_ms']:>8.1f} {k['p99_ms']:>8.1f} "
            f"{k['max_ms']:>8.1f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    common.run_main(main)
