"""Every page's throughput and server CPU per request, as production serves it, on real data.

    .venv/bin/python bench/pages.py [--json FILE] [--duration S] [--only a,c] [--keep-going]

Starts throwaway PostgreSQL and Redis (it re-runs itself under `scripts/services.sh run`),
migrates, imports three real columns of the old site from ../shared/legacy/archive/ with the
site's importer (chapters, comments, commenters and author replies as they were), adds what the
old site couldn't have (a reader of ours with likes, replies and 500 notifications; one real
chapter topped up to 1,000 comments, since the old site kept 30 a chapter), collects static
files into a temporary directory, and starts `gunicorn config.wsgi -w 2` with DEBUG off (plus a
second gunicorn serving one tiny view, the floor). Then, for each scenario, side by side:

  a  anonymous, a real 30-comment chapter (the one with the most author replies)
  b  anonymous, a real chapter topped up to 1,000 comments (200 threads, depth ≤ 6), first page
  c  logged in, a
  d  logged in, b
  e  a bare Django view rendering a tiny template (same settings and middleware)
  f  anonymous, a, asked again with the ETag it was given (If-None-Match): a 304
  g  anonymous, the home page (the column, recently discussed chapters)
  h  logged in, the home page
  i  anonymous, the real column's page (its ~100 chapters)
  j  anonymous, the reader's profile (their comments, newest first)
  k  logged in, the reader's notifications (the first page of 500)

it checks the page (200, the expected comments, the reader's own state), warms up with wrk,
then runs wrk (--latency) and reads the CPU time of the gunicorn workers from /proc before and
after: CPU ms/request = (utime+stime delta) / requests. PostgreSQL's and Redis's CPU per request
are reported beside it. A table goes to stdout, then the JSON of every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import common  # noqa: E402
from bench.harness.common import BenchError, log  # noqa: E402

APP_SETTINGS = "bench.harness.app_settings"
BARE_SETTINGS = "bench.harness.bare_settings"
ROOTS_PER_PAGE = 20  # forum.selectors.ROOTS_PER_PAGE, restated: the checks must not trust it
REPLIES_SHOWN = 5  # forum.selectors.REPLIES_SHOWN

GOALS = {
    "a": ("CPU ≤ 4 ms/request", lambda r: r["a"]["cpu_ms_per_request"] <= 4.0),
    "b": (
        "CPU ≤ 1.5 × a",
        lambda r: r["b"]["cpu_ms_per_request"] <= 1.5 * r["a"]["cpu_ms_per_request"],
    ),
    "c": (
        "CPU ≤ 2 × a",
        lambda r: r["c"]["cpu_ms_per_request"] <= 2 * r["a"]["cpu_ms_per_request"],
    ),
    "d": (
        "CPU ≤ 2 × b",
        lambda r: r["d"]["cpu_ms_per_request"] <= 2 * r["b"]["cpu_ms_per_request"],
    ),
    "f": (
        "CPU ≤ 1.5 × e",
        lambda r: r["f"]["cpu_ms_per_request"] <= 1.5 * r["e"]["cpu_ms_per_request"],
    ),
}
# Every other page: within 5 × the bare view.
for _key in "ghijk":
    GOALS[_key] = (
        "CPU ≤ 5 × e",
        lambda r, k=_key: r[k]["cpu_ms_per_request"] <= 5 * r["e"]["cpu_ms_per_request"],
    )
# What each goal compares with, beside scenario a.
GOAL_NEEDS = {"d": {"b"}, **{k: {"e"} for k in "fghijk"}}

# The real archive of the old site (186 columns); the bench imports three of them.
REAL_ARCHIVE = (
    common.REPO.parent / "shared" / "legacy" / "archive" / "geektime-docs-186-columns.tar.xz"
)
# The column the article pages come from (the archive's most discussed), and two more for the
# home page's lists. Folder names as in the archive: <category>/<column>.
MAIN_COLUMN = "后端-架构/设计模式之美"
OTHER_COLUMNS = ("后端-架构/高并发系统设计40问", "后端-架构/左耳听风")
BIG_TOTAL = 1_000  # the old site kept 30 comments a chapter: the big page is topped up to this

READER_TEXT = "我也遇到过这个问题，换成乐观锁之后就好了。"


# --- Data ----------------------------------------------------------------------------------


@dataclass
class Page:
    """What the first page of an article must show, worked out from the rows themselves."""

    path: str
    total: int
    comments_on_page: int
    liked_on_page: int  # by the reader
    own_on_page: int  # written by the reader


@dataclass
class Data:
    small: Page
    big: Page
    reader_session: str
    # The other pages: path -> a text each must show.
    others: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def import_real_columns(root: Path) -> tuple[str, dict[str, float]]:
    """Unpack the archive and import MAIN_COLUMN and OTHER_COLUMNS with the site's importer;
    return the main column's name as the importer read it."""
    from forum.importing import import_sources
    from forum.legacy import iter_sources

    if not REAL_ARCHIVE.is_file():
        raise BenchError(f"no real archive at {REAL_ARCHIVE}")
    timings = {}
    t0 = time.monotonic()
    root.mkdir(parents=True)
    names = [MAIN_COLUMN, *OTHER_COLUMNS]
    subprocess.run(  # noqa: S603
        ["tar", "-xJf", str(REAL_ARCHIVE), "-C", str(root), *names],  # noqa: S607
        check=True,
    )
    timings["unpack_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    sources = list(iter_sources([root / name for name in names]))
    report = import_sources(sources)
    timings["import_s"] = time.monotonic() - t0
    if report.skipped or report.columns.created != len(names):
        raise BenchError(f"the real columns did not all import: {report}")
    main = next(s.column for s in sources if s.source.startswith(str(root / MAIN_COLUMN)))
    return main, timings


def create_data(tmp: Path) -> Data:
    """Real columns of the old site, imported; then what the old site couldn't have: a reader
    of ours (a real commenter who claimed their account) with likes and notifications, and
    one real chapter topped up to 1,000 comments."""
    from allauth.account.models import EmailAddress
    from django.core.management import call_command
    from django.db.models import Count, Q
    from django.utils import timezone

    from accounts.models import User
    from forum import services
    from forum.models import Article, Column, Comment
    from notifications.enums import Kind
    from notifications.models import Notification
    from tests.forum.discussion_builder import build_discussion

    timings = {}
    t0 = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    timings["migrate_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    call_command("collectstatic", interactive=False, verbosity=0)
    timings["collectstatic_s"] = time.monotonic() - t0
    main_column, import_timings = import_real_columns(tmp / "archive")
    timings.update(import_timings)

    t0 = time.monotonic()
    rng = random.Random(11)
    column = Column.objects.get(title=main_column)
    chapters = (
        Article.objects.filter(column=column)
        .annotate(
            roots=Count("comments", filter=Q(comments__parent__isnull=True)),
            answers=Count("comments", filter=Q(comments__author=column.author_id)),
        )
        .order_by("-roots", "-answers", "pk")
    )
    # a: a real 30-comment chapter, the one with the most author replies (作者回复).
    small, big = chapters[0], chapters[1]
    if small.roots < 30:
        raise BenchError(f"no chapter with 30 comments in {MAIN_COLUMN}")
    # The reader: the real commenter on it with the most comments on the site.
    reader = (
        User.objects.filter(comments__article=small)
        .exclude(pk=column.author_id)
        .annotate(written=Count("comments", distinct=True))
        .order_by("-written", "pk")
        .first()
    )
    reader.email = "reader@bench.example"
    reader.save(update_fields=["email"])
    EmailAddress.objects.create(user=reader, email=reader.email, verified=True, primary=True)
    on_small = list(Comment.objects.filter(article=small))
    roots = [c for c in on_small if c.parent_id is None]
    for root in rng.sample(roots, 2):
        services.post_comment(article=small, author=reader, body=READER_TEXT, parent=root)
    for comment in rng.sample(on_small, 9):
        services.toggle_like(user=reader, comment=comment)

    # b: a real chapter topped up to BIG_TOTAL comments in 200 threads, depth up to 6.
    have = Comment.objects.filter(article=big).count()
    posted = build_discussion(big, comments=BIG_TOTAL - have - 2, roots=170, max_depth=6)
    for _ in range(2):
        posted.append(services.post_comment(article=big, author=reader, body=READER_TEXT))
    bg_people = list({c.author for c in posted})
    for comment in rng.sample(posted, 80):
        for person in rng.sample(bg_people, rng.randint(1, 5)):
            services.toggle_like(user=person, comment=comment)
    for comment in rng.sample(posted[:200], 20) + rng.sample(posted[200:], 20):
        services.toggle_like(user=reader, comment=comment)

    # k: 500 notifications for the reader, the older half read.
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(
            recipient=reader,
            kind=Kind.REPLY,
            actor=comment.author,
            comment=comment,
            article=big,
            created_at=now - timedelta(minutes=n),
            read_at=now if n >= 250 else None,
        )
        for n, comment in enumerate(rng.sample(posted[:-2], 500))
    )
    timings["data_s"] = time.monotonic() - t0

    # What each other page must show: the column's title on the home page, the chapter on the
    # column's page, the reader's own newest text on their profile.
    from html import escape

    return Data(
        small=expected_page(small, reader),
        big=expected_page(big, reader),
        reader_session=common.login_session(reader),
        others={
            "/": escape(column.title),
            column.get_absolute_url(): escape(small.title),
            reader.get_absolute_url(): READER_TEXT,
            "/notifications/": "Reply to your comment",
        },
        timings=timings,
    )


def expected_page(article, reader) -> Page:
    """The first page by the default sort (top): featured roots first, then by score, then
    newest; 20 of them, each with its first 5 replies in reading order. Every comment here is
    visible."""
    from forum.models import Article, Comment, Like

    article = Article.objects.get(pk=article.pk)
    roots = list(Comment.objects.filter(article=article, parent__isnull=True))
    roots.sort(
        key=lambda c: (c.is_featured, c.like_count + max(c.legacy_like_count, 0), c.pk),
        reverse=True,
    )
    shown = []
    for root in roots[:ROOTS_PER_PAGE]:
        shown.append(root)
        shown += Comment.objects.filter(root_id=root.pk, depth__gt=0).order_by("path")[
            :REPLIES_SHOWN
        ]
    ids = [c.pk for c in shown]
    liked = Like.objects.filter(user=reader, comment_id__in=ids).count()
    return Page(
        path=article.get_absolute_url(),
        total=Comment.objects.filter(article=article).count(),
        comments_on_page=len(shown),
        liked_on_page=liked,
        own_on_page=sum(1 for c in shown if c.author_id == reader.pk),
    )


# --- Checks --------------------------------------------------------------------------------


def check_page(resp: common.Response, page: Page, *, logged_in: bool) -> list[str]:
    body = resp.body
    problems = []
    if resp.status != 200:
        return [f"status {resp.status}, expected 200"]
    found = len(common.COMMENT_RE.findall(body))
    if found != page.comments_on_page:
        problems.append(f"{found} comments on the page, expected {page.comments_on_page}")
    if f"{page.total} comments" not in body:
        problems.append(f"no '{page.total} comments' heading")
    buttons = page.comments_on_page + 1  # and the article's own like button
    if logged_in:
        checks = {
            "signed-in header": (body.count('data-testid="header-user"'), 1),
            "like forms": (body.count('class="like-form"'), buttons),
            "liked by the reader": (body.count('class="like is-liked"'), page.liked_on_page),
            "edit links (own comments)": (body.count('edit/" hx-get='), page.own_on_page),
            "comment form": (body.count('class="form comment-form"'), 1),
        }
    else:
        checks = {
            "signed-in header": (body.count('data-testid="header-user"'), 0),
            "log-in-to-like links": (body.count('<a class="like" href="/accounts/login/'), buttons),
            "like forms": (body.count('class="like-form"'), 0),
            "edit links": (body.count('edit/" hx-get='), 0),
        }
    for what, (got, want) in checks.items():
        if got != want:
            problems.append(f"{what}: {got}, expected {want}")
    if "<!--like:" in body or "<!--act:" in body:
        problems.append("unfilled personalisation markers")
    return problems


# --- wrk -----------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict:
    requests = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+),", output, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not (requests and rps):
        raise BenchError(f"could not read wrk's output:\n{output}")
    latency = {
        f"p{int(p)}_ms": _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M)
    }
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests": int(requests.group(1)),
        "duration_s": _ms(requests.group(2) + requests.group(3)) / 1000,
        "rps": float(rps.group(1)),
        **latency,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, sock.groups())) if sock else 0,
    }


def wrk(url: str, headers: dict[str, str], *, seconds: int, args: argparse.Namespace) -> str:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return done.stdout


# --- Server-side CPU ------------------------------------------------------------------------


class ServiceCpu:
    """CPU of PostgreSQL (postmaster and every child) and Redis, by pid."""

    def __init__(self) -> None:
        import redis
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            data_dir = Path(cursor.fetchone()[0])
        connection.close()
        self.postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        self.redis = int(client.info("server")["process_id"])
        client.close()

    def snapshot(self) -> dict[str, dict[int, int]]:
        pg = [self.postmaster, *common.children(self.postmaster)]
        snap = {"postgres": {}, "redis": {}}
        for group, pids in (("postgres", pg), ("redis", [self.redis])):
            for pid in pids:
                stat = common.proc_stat(pid)
                if stat:
                    snap[group][pid] = int(stat[11]) + int(stat[12])
        return snap

    @staticmethod
    def delta_ms(before: dict, after: dict, group: str) -> float:
        ticks = sum(t - before[group].get(pid, 0) for pid, t in after[group].items())
        return ticks * 1000 / common.CLK_TCK


# --- Scenarios -----------------------------------------------------------------------------


@dataclass
class Scenario:
    key: str
    label: str
    server: common.Gunicorn
    path: str
    cookies: dict[str, str]
    page: Page | None  # None: the bare view
    logged_in: bool = False
    conditional: bool = False  # ask with the page's ETag: the answer must be a 304
    expect: str = ""  # a page other than an article's: a text it must show


def verify(s: Scenario) -> tuple[dict[str, str], int, dict[str, str]]:
    """GET the page once as the scenario will; return the cookies a browser would send next
    (the CSRF cookie the page set, so wrk's requests don't each mint a new one), its size and
    the headers wrk sends."""
    headers = {"Accept-Language": "en"}
    if s.cookies:
        headers["Cookie"] = common.cookie_header(s.cookies)
    resp = common.request(s.server.port, "GET", s.path, headers=headers)
    if s.conditional:
        etag = resp.headers.get("ETag")
        if resp.status != 200 or not etag:
            raise BenchError(f"scenario {s.key}: no ETag on {s.path} (status {resp.status})")
        headers["If-None-Match"] = etag
        again = common.request(s.server.port, "GET", s.path, headers=headers)
        if again.status != 304 or again.body:
            raise BenchError(f"scenario {s.key}: status {again.status} for the page's own ETag")
        return dict(s.cookies), len(again.body.encode()), headers
    if s.page is None:
        expected = s.expect or "Hello from Colloquy."
        problems = (
            []
            if resp.status == 200 and expected in resp.body
            else [f"status {resp.status}: {resp.body[:200]!r}"]
        )
    else:
        problems = check_page(resp, s.page, logged_in=s.logged_in)
    if problems:
        raise BenchError(f"scenario {s.key} ({s.label}) GET {s.path}: " + "; ".join(problems))
    cookies = dict(s.cookies)
    if "csrftoken" in resp.cookies():
        cookies["csrftoken"] = resp.cookies()["csrftoken"]
    return cookies, len(resp.body.encode()), headers


def measure(s: Scenario, args: argparse.Namespace, services: ServiceCpu) -> dict:
    cookies, size, headers = verify(s)
    url = f"http://{common.HOST}:{s.server.port}{s.path}"
    headers = {**headers, "Cookie": common.cookie_header(cookies)}
    log(f"{s.key}: {s.label}: warm-up {args.warmup}s, then {args.duration}s")
    wrk(url, headers, seconds=args.warmup, args=args)
    workers = s.server.worker_pids()
    busy0, wrk0 = common.machine_busy_ms(), common.children_cpu_ms()
    cpu0, svc0 = common.cpu_ticks(workers), services.snapshot()
    output = wrk(url, headers, seconds=args.duration, args=args)
    cpu1, svc1 = common.cpu_ticks(workers), services.snapshot()
    busy1, wrk1 = common.machine_busy_ms(), common.children_cpu_ms()
    if s.server.worker_pids() != workers:
        raise BenchError(f"scenario {s.key}: gunicorn workers changed during the run")
    result = parse_wrk(output)
    n = max(result["requests"], 1)
    worker_ms = (cpu1 - cpu0) * 1000 / common.CLK_TCK
    pg_ms = ServiceCpu.delta_ms(svc0, svc1, "postgres")
    redis_ms = ServiceCpu.delta_ms(svc0, svc1, "redis")
    # What the rest of the machine (other people's processes) took meanwhile: the figures are
    # only as good as this is small.
    others_ms = (busy1 - busy0) - worker_ms - pg_ms - redis_ms - (wrk1 - wrk0)
    result.update(
        key=s.key,
        label=s.label,
        path=s.path,
        logged_in=s.logged_in,
        page_bytes=size,
        comments_on_page=s.page.comments_on_page if s.page and not s.conditional else 0,
        comments_total=s.page.total if s.page and not s.conditional else 0,
        cpu_ms_per_request=worker_ms / n,
        postgres_cpu_ms_per_request=pg_ms / n,
        redis_cpu_ms_per_request=redis_ms / n,
        wrk_cpu_share=(wrk1 - wrk0) / (result["duration_s"] * 1000 * os.cpu_count()),
        other_processes_cpu_share=max(others_ms, 0)
        / (result["duration_s"] * 1000 * os.cpu_count()),
        worker_pids=workers,
    )
    # The page must still be right after the load (nothing was corrupted or invalidated).
    verify(s)
    return result


def table(results: dict[str, dict], goals: dict[str, dict]) -> str:
    head = (
        f"{'':2} {'scenario':<44} {'on page':>8} {'KiB':>6} {'req/s':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'CPU ms/req':>10} {'pg ms':>6} {'redis':>6} {'others':>6} "
        f"{'errors':>6}  goal"
    )
    lines = [head, "-" * len(head)]
    for key, r in results.items():
        goal = goals.get(key)
        goal_text = f"{goal['goal']}: {'MET' if goal['met'] else 'MISSED'}" if goal else ""
        on_page = f"{r['comments_on_page']}/{r['comments_total']}" if r["comments_total"] else "-"
        lines.append(
            f"{key:2} {r['label']:<44} {on_page:>8} {r['page_bytes'] / 1024:>6.1f} "
            f"{r['rps']:>8.1f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
            f"{r['cpu_ms_per_request']:>10.2f} {r['postgres_cpu_ms_per_request']:>6.2f} "
            f"{r['redis_cpu_ms_per_request']:>6.2f} {r['other_processes_cpu_share']:>6.0%} "
            f"{r['non_2xx'] + r['socket_errors']:>6}  "
            f"{goal_text}"
        )
    lines += [
        "",
        "on page: comments on the first page / in the article. CPU ms/req: gunicorn workers "
        "(utime+stime) per request;",
        "pg ms, redis: PostgreSQL's and Redis's CPU per request; others: share of the machine's "
        "CPU that other processes",
        "took during the run (high = noisy figures); errors: non-2xx/3xx and socket errors.",
    ]
    return "\n".join(lines)


def evaluate(results: dict[str, dict]) -> dict[str, dict]:
    goals = {}
    for key, (text, test) in GOALS.items():
        needed = {"a", key} | GOAL_NEEDS.get(key, set())
        if needed <= results.keys():
            goals[key] = {"goal": text, "met": bool(test(results))}
    return goals


# --- Main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the JSON figures to this file")
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per scenario")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per scenario")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--only", default="abcdefghijk", help="scenarios to run, e.g. 'a,c'")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a goal is missed (not only on errors)"
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    common.exit_on_sigterm()
    if os.environ.get("BENCH_SERVICES") != "1":
        common.system_deps("postgresql", "redis-server", "wrk")
        return common.rerun_under_services(str(Path(__file__).resolve()), sys.argv[1:])

    tmp = Path(tempfile.mkdtemp(prefix="colloquy-bench-pages."))
    env = common.django_env(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        BENCH_STATIC_ROOT=str(tmp / "static"),
    )
    stack = common.Stack()
    try:
        t0 = time.monotonic()
        common.setup_django(env, APP_SETTINGS)
        with common.quiet_setup():
            data = create_data(tmp)
        from django.db import connections

        services = ServiceCpu()
        connections.close_all()
        log(
            "data: {} + {} comments; setup {:.1f}s ({})".format(
                data.small.total,
                data.big.total,
                time.monotonic() - t0,
                ", ".join(f"{k} {v:.1f}" for k, v in data.timings.items()),
            )
        )
        app = stack.add(common.Gunicorn("app", APP_SETTINGS, env, tmp / "gunicorn-app.log"))
        bare = stack.add(common.Gunicorn("bare", BARE_SETTINGS, env, tmp / "gunicorn-bare.log"))
        session = {"sessionid": data.reader_session}
        scenarios = [
            Scenario("a", "anonymous, real chapter, 30 comments", app, data.small.path, {},
                     data.small),
            Scenario("b", "anonymous, 1,000 comments, first page", app, data.big.path, {},
                     data.big),
            Scenario("c", "logged in, real chapter, 30 comments", app, data.small.path, session,
                     data.small, logged_in=True),
            Scenario("d", "logged in, 1,000 comments, first page", app, data.big.path, session,
                     data.big, logged_in=True),
            Scenario("e", "bare Django view, tiny template", bare, "/", {}, None),
            Scenario("f", "anonymous, a again with its ETag: 304", app, data.small.path, {},
                     data.small, conditional=True),
        ]  # fmt: skip
        others = list(data.others.items())
        for key, label, (path, text), cookies in (
            ("g", "anonymous, home page", others[0], {}),
            ("h", "logged in, home page", others[0], session),
            ("i", "anonymous, column page (real column)", others[1], {}),
            ("j", "anonymous, a reader's profile", others[2], {}),
            ("k", "logged in, notifications (500)", others[3], session),
        ):
            scenarios.append(
                Scenario(key, label, app, path, cookies, None, logged_in=bool(cookies), expect=text)
            )
        wanted = set(args.only.replace(",", ""))
        scenarios = [s for s in scenarios if s.key in wanted]
        for s in scenarios:  # every page is right before anything is measured
            verify(s)
        load_before = os.getloadavg()
        results = {s.key: measure(s, args, services) for s in scenarios}
        load_after = os.getloadavg()
        for server in stack.servers:
            errors = server.tail_log(10_000).count("Traceback")
            if errors:
                raise BenchError(f"gunicorn {server.name} logged {errors} tracebacks")
    except Exception:
        for server in stack.servers:
            log(f"--- the end of gunicorn {server.name}'s log ---\n{server.tail_log()}")
        raise
    finally:
        stack.close()
        shutil.rmtree(tmp, ignore_errors=True)

    goals = evaluate(results)
    print(table(results, goals))
    ratios = {
        f"{x}/{y}": results[x]["cpu_ms_per_request"] / results[y]["cpu_ms_per_request"]
        for x, y in (("b", "a"), ("c", "a"), ("d", "b"), *((k, "e") for k in "afghijk"))
        if x in results and y in results
    }
    if ratios:
        print("\nCPU/request ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print(
        f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after, on "
        f"{os.cpu_count()} CPUs shared by wrk, gunicorn, PostgreSQL, Redis and anything else "
        "running: req/s and latency move with it, CPU ms/request much less.\n"
    )
    report = {
        "bench": "pages",
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "loadavg_1min_before": load_before[0],
            "loadavg_1min_after": load_after[0],
        },
        "setup": {
            "gunicorn": "config.wsgi -w 2 (sync), DEBUG off, PostgreSQL + Redis cache",
            "wrk": {
                "threads": args.threads,
                "connections": args.connections,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
            },
            "timings": data.timings,
        },
        "results": results,
        "goals": goals,
        "cpu_ratios": ratios,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
        log(f"wrote {args.json}")
    failed = [k for k, r in results.items() if r["non_2xx"] or r["socket_errors"]]
    if failed:
        log(f"FAILED: errors under load in scenario(s) {', '.join(failed)}")
        return 2
    if args.strict and not all(g["met"] for g in goals.values()):
        return 1
    return 0


if __name__ == "__main__":
    common.run_main(main)
