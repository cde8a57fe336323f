"""What posting a comment and liking one cost the request, with 0 and 5,000 followers.

    .venv/bin/python bench/fanout.py [--followers N] [--repeat N]

On throwaway PostgreSQL and Redis (it re-runs itself under `scripts/services.sh run`), with the
app's own services: an article nobody follows and one `--followers` people follow (all with a
verified email, so each would get an email). For each it measures, per call, the request's part
— `forum.services.post_comment` in its transaction, commit included (the event row; the task is
not run) — and then the worker's part, `forum.events.dispatch` of that event (recipients, their
notifications and email rows), plus a like and an unlike (`toggle_like`). Prints CPU ms (this
process: Python and the driver), wall ms (PostgreSQL included) and queries per call.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import common  # noqa: E402

SETTINGS = "bench.harness.app_settings"


def create_data(followers: int):
    from allauth.account.models import EmailAddress
    from django.core.management import call_command

    from accounts.models import User
    from accounts.names import name_skeleton
    from forum.models import Follow
    from tests.factories import ArticleFactory, ColumnFactory, UserFactory

    call_command("migrate", interactive=False, verbosity=0)
    column = ColumnFactory(slug="bench")
    quiet = ArticleFactory(column=column, slug="quiet", position=1)
    crowded = ArticleFactory(column=column, slug="crowded", position=2)
    # In bulk (the factory hashes a password per person): verified emails, unusable passwords.
    people = User.objects.bulk_create(
        User(
            email=f"follower{n}@example.com",
            display_name=f"follower{n}",
            display_name_skeleton=name_skeleton(f"follower{n}"),
            password="!",
        )
        for n in range(followers)
    )
    EmailAddress.objects.bulk_create(
        EmailAddress(user=p, email=p.email, verified=True, primary=True) for p in people
    )
    Follow.objects.bulk_create(Follow(user=p, article=crowded) for p in people)
    writer = UserFactory(display_name="writer")
    return {"0 followers": quiet, f"{followers:,} followers": crowded}, writer


def measure(repeat: int, call) -> tuple[float, float, float]:
    """(CPU ms, wall ms, queries) per call of `call()`, averaged over `repeat` calls."""
    from django.db import connection

    executed = []

    def count(execute, sql, params, many, context):
        executed.append(1)
        return execute(sql, params, many, context)

    cpu = wall = 0.0
    with connection.execute_wrapper(count):
        for n in range(repeat):
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            call(n)
            cpu += time.process_time() - cpu_start
            wall += time.perf_counter() - wall_start
    return cpu * 1000 / repeat, wall * 1000 / repeat, len(executed) / repeat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if os.environ.get("BENCH_SERVICES") != "1":
        common.system_deps("postgresql", "redis-server")
        return common.rerun_under_services(str(Path(__file__).resolve()), sys.argv[1:])

    env = common.django_env(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        BENCH_STATIC_ROOT=tempfile.mkdtemp(prefix="colloquy-bench-fanout."),
    )
    common.setup_django(env, SETTINGS)
    from django.db import transaction

    from forum import events, services
    from forum.models import Event
    from notifications import services as notifications_services

    # No worker here: the tasks an event or an email would be handed to are not run, so each
    # part is measured on its own (the fan-out below calls what the event's task would).
    events._enqueue = lambda event_id: None
    notifications_services.enqueue_emails = lambda ids: None
    with common.quiet_setup():
        articles, writer = create_data(args.followers)
    common.log(f"data: {args.followers:,} followers with a verified email on one article")
    print(f"{'':<44}{'CPU ms':>9}{'wall ms':>9}{'queries':>9}")
    for name, article in articles.items():
        posted = []

        def post(n, article=article, posted=posted):
            # What the request does: the comment and its event, committed; the task not run.
            with transaction.atomic():
                comment = services.post_comment(article=article, author=writer, body=f"#{n}")
            posted.append(comment)

        def fan_out(n, posted=posted):
            events.dispatch(event_id=Event.objects.get(comment=posted[n]).pk)

        def like(n, posted=posted):
            services.toggle_like(user=writer, comment=posted[n // 2])

        for label, call, repeat in (
            ("post a comment (request)", post, args.repeat),
            # The worker's part, per event: a few are enough (each writes every follower's rows).
            ("fan-out (worker)", fan_out, min(args.repeat, 3)),
        ):
            cpu, wall, queries = measure(repeat, call)
            print(f"{name + ': ' + label:<44}{cpu:>9.2f}{wall:>9.2f}{queries:>9.1f}")
        cpu, wall, queries = measure(args.repeat, like)
        print(f"{name + ': like or unlike':<44}{cpu:>9.2f}{wall:>9.2f}{queries:>9.1f}")
    return 0


if __name__ == "__main__":
    common.run_main(main)
