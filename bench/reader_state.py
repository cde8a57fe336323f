"""The query behind every signed-in article page, for light and heavy likers.

    .venv/bin/python bench/reader_state.py [--articles N] [--comments N] [--repeat N]

`forum.selectors.get_article_version(reader=…)` finds the article's version and reads the
reader's likes in it and whether they follow it, in one query. Its cost grows with the reader's
likes, so this measures it on throwaway PostgreSQL (it re-runs itself under
`scripts/services.sh run`) for: an anonymous reader (the version alone), a reader with 30 likes,
and a reader who liked every other comment of the site (half of the article's comments). Other
people's likes are there too, so the planner sees a realistic table. Prints, per reader: wall
milliseconds per call (Python and PostgreSQL together), PostgreSQL's planning and execution
time from EXPLAIN ANALYZE, and how many liked comments came back.
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


def create_data(articles: int, comments: int):
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from forum.models import Comment, Like
    from tests.factories import ArticleFactory, ColumnFactory, UserFactory

    call_command("migrate", interactive=False, verbosity=0)
    column = ColumnFactory(slug="bench")
    chapters = [
        ArticleFactory(column=column, slug=f"chapter-{n}", position=n) for n in range(articles)
    ]
    writer = UserFactory(display_name="writer")
    now = timezone.now()
    Comment.objects.bulk_create(
        [
            Comment(article=chapter, author=writer, body_md="x", body_html="x", created_at=now)
            for chapter in chapters
            for _ in range(comments)
        ],
        batch_size=5000,
    )
    ids = list(Comment.objects.order_by("pk").values_list("pk", flat=True))
    heavy, light = UserFactory(display_name="heavy"), UserFactory(display_name="light")
    crowd = [UserFactory() for _ in range(50)]
    likes = [Like(user=heavy, comment_id=pk) for pk in ids[::2]]
    likes += [Like(user=light, comment_id=pk) for pk in ids[comments * 2 : comments * 2 + 30]]
    likes += [Like(user=person, comment_id=pk) for person in crowd for pk in ids[::20]]
    likes += [Like(user=person, article=chapters[2]) for person in crowd]
    Like.objects.bulk_create(likes, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return chapters[2], {"anonymous": None, "30 likes": light, f"{len(ids) // 2} likes": heavy}


def explain(sql: str, params: list) -> tuple[float, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else plan
    return plan["Planning Time"], plan["Execution Time"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--comments", type=int, default=1000, help="per article")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    if os.environ.get("BENCH_SERVICES") != "1":
        common.system_deps("postgresql", "redis-server")
        return common.rerun_under_services(str(Path(__file__).resolve()), sys.argv[1:])

    env = common.django_env(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        BENCH_STATIC_ROOT=tempfile.mkdtemp(prefix="colloquy-bench-state."),
    )
    common.setup_django(env, SETTINGS)
    from forum import selectors

    with common.quiet_setup():
        article, readers = create_data(args.articles, args.comments)
    common.log(f"data: {args.articles} articles × {args.comments} comments")
    print(f"{'reader':<14}{'ms/call':>9}{'plan ms':>9}{'exec ms':>9}{'liked':>7}")
    for name, reader in readers.items():
        lookup = {"column_slug": article.column.slug, "slug": article.slug, "reader": reader}
        state = selectors.get_article_version(**lookup)  # warm the connection
        started = time.perf_counter()
        for _ in range(args.repeat):
            state = selectors.get_article_version(**lookup)
        per_call = (time.perf_counter() - started) * 1000 / args.repeat
        planning, execution = explain(*selectors.article_version_query(**lookup))
        liked = len(state.liked_comment_ids)
        print(f"{name:<14}{per_call:>9.2f}{planning:>9.2f}{execution:>9.2f}{liked:>7}")
    return 0


if __name__ == "__main__":
    common.run_main(main)
