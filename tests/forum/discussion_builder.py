"""Generates a realistic discussion: many threads, replies up to a given depth."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from forum import services
from forum.models import Article, Comment
from tests.factories import UserFactory


def build_discussion(
    article: Article,
    *,
    comments: int,
    roots: int,
    max_depth: int = 6,
    seed: int = 7,
    users: int = 25,
) -> list[Comment]:
    rng = random.Random(seed)
    people = [UserFactory() for _ in range(users)] + [article.author]
    start = timezone.now() - timedelta(days=30)
    posted: list[Comment] = []
    for n in range(comments):
        when = start + timedelta(minutes=10 * n)
        parent = None
        if n >= roots:
            candidates = [c for c in rng.sample(posted, min(len(posted), 8)) if c.depth < max_depth]
            parent = candidates[0] if candidates else None
        posted.append(
            services.post_comment(
                article=article,
                author=rng.choice(people),
                body=f"comment {n} " + "lorem ipsum " * rng.randint(1, 12),
                parent=parent,
                created_at=when,
            )
        )
    return posted
