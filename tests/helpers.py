"""Small helpers shared by several test modules."""

from __future__ import annotations

import threading

from django.db import connections
from selectolax.lexbor import LexborHTMLParser


def comment_bodies(page_html: str) -> list[str]:
    """The text of every comment shown on a page, in page order."""
    tree = LexborHTMLParser(page_html)
    return [node.text(strip=True) for node in tree.css("article.comment .comment-body")]


def article_page(client, article):
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return response


def comment_count(article) -> int:
    article.refresh_from_db(fields=["comment_count"])
    return article.comment_count


def run_at_once(jobs) -> list:
    """Start every job together (a barrier), each in its own thread and database connection;
    return their results, and fail if any raised."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []
    results: list = []

    def run(job):
        try:
            barrier.wait()
            results.append(job())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results
