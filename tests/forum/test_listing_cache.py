"""The listings cached for everyone (home, a column's chapters, the first page of a person's
comments; forum/caching.py invariant 5) show every change of their inputs at once.

Each test reads the page twice (the second read is served from the cache), changes one input
the way people do, committed (`django_capture_on_commit_callbacks(execute=True)`: the versions
move after the commit, as in production), and reads again as an anonymous and a signed-in reader.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from forum import caching, services, views
from forum.enums import CommentStatus
from tests.factories import ArticleFactory, CommentFactory, UserFactory
from tests.helpers import cache_keys, pages, warm

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(client_for):
    return {"anonymous": client_for("anonymous"), "signed in": client_for("other_reader")}


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# --- served from the cache ------------------------------------------------------------------


def test_the_listings_are_read_from_the_cache(client, article, reader):
    CommentFactory(article=article, author=reader)
    for url, cold, warm_ in (
        ("/", 2, 0),  # the columns, the recent chapters
        (article.column.get_absolute_url(), 2, 0),  # the column; its chapters
        (reader.get_absolute_url(), 2, 0),  # the person; their comments
    ):
        cache.clear()
        assert queries(client, url) == cold, url
        assert queries(client, url) == warm_, url


def test_query_strings_make_no_new_listing(client, article, reader, monkeypatch):
    # One minute throughout: the home page's key names the minute, which may turn meanwhile.
    monkeypatch.setattr(views.time, "time", lambda: 1_800_000_000.0)
    CommentFactory(article=article, author=reader)
    for url in ("/", article.column.get_absolute_url(), reader.get_absolute_url()):
        client.get(url)
    before = len(cache_keys())

    for n in range(200):
        client.get(f"/?x={n}")
        client.get(f"{article.column.get_absolute_url()}?utm={n}")
        client.get(f"{reader.get_absolute_url()}?page={n}")

    assert len(cache_keys()) == before


def test_an_older_page_of_a_profile_is_not_kept(client, article, reader):
    for n in range(25):
        CommentFactory(article=article, author=reader, body=f"comment {n}")
    first = client.get(reader.get_absolute_url()).text
    older = first.split('href="?before=')[1].split('"')[0]
    before = len(cache_keys())

    assert client.get(f"{reader.get_absolute_url()}?before={older}").status_code == 200

    assert len(cache_keys()) == before


# --- the home page --------------------------------------------------------------------------


def test_home_shows_a_new_comment_a_hidden_one_and_a_new_column_at_once(
    readers, article, reader, django_capture_on_commit_callbacks
):
    warm(readers, "/")

    with django_capture_on_commit_callbacks(execute=True):
        comment = services.post_comment(article=article, author=reader, body="first!")
    for persona, text in pages(readers, "/").items():
        assert article.title in text, persona
        assert "1 comment<" in text, persona

    with django_capture_on_commit_callbacks(execute=True):
        services.set_comment_status(comment, CommentStatus.HIDDEN)
    for persona, text in pages(readers, "/").items():
        assert "1 comment<" not in text, persona

    with django_capture_on_commit_callbacks(execute=True):
        services.create_column(author=reader, title="Rust, Gently", slug="rust")
    for persona, text in pages(readers, "/").items():
        assert "Rust, Gently" in text, persona


def test_home_shows_a_renamed_author_at_once(
    readers, client_for, column, django_capture_on_commit_callbacks
):
    warm(readers, "/")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("column_author").post(
            reverse("accounts:settings"), {"display_name": "TheColumnist", "bio": ""}
        )
    assert response.status_code == 302

    for persona, text in pages(readers, "/").items():
        assert "TheColumnist" in text, persona


def test_home_moves_its_active_since_with_the_minute(client, article, monkeypatch):
    CommentFactory(article=article)
    clock = [1_800_000_000.0]
    monkeypatch.setattr(views.time, "time", lambda: clock[0])
    renders = []
    real = views.render_to_string

    def spy(name, *args, **kwargs):
        if name == "forum/home.html#listing":
            renders.append(clock[0])
        return real(name, *args, **kwargs)

    monkeypatch.setattr(views, "render_to_string", spy)
    client.get("/")
    clock[0] += 30
    client.get("/")
    clock[0] += 40  # past the minute
    client.get("/")

    assert len(renders) == 2


def test_home_is_kept_per_language(client, article):
    CommentFactory(article=article)
    client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    chinese = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN").text
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").text

    assert "最近在讨论" in chinese
    assert "Recently discussed" not in chinese
    assert "Recently discussed" in english


# --- a column's page ------------------------------------------------------------------------


def test_a_column_page_shows_a_new_chapter_a_comment_and_a_renamed_slug_at_once(
    readers, client_for, column, article, reader, django_capture_on_commit_callbacks
):
    url = column.get_absolute_url()
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        services.publish_article(column=column, title="Services, Finally", body_md="x", slug="svc")
    with django_capture_on_commit_callbacks(execute=True):
        services.post_comment(article=article, author=reader, body="a question")
    for persona, text in pages(readers, url).items():
        assert "Services, Finally" in text, persona
        assert "1 comment<" in text, persona

    with django_capture_on_commit_callbacks(execute=True):
        column.slug = "k8s-in-depth"
        column.save()
    new_url = column.get_absolute_url()
    for persona, text in pages(readers, new_url).items():
        assert f'href="/columns/k8s-in-depth/{article.slug}/"' in text, persona
        assert "/columns/deep-k8s/" not in text, persona


def test_a_column_page_keeps_the_readers_own_follow_button(
    client_for, column, django_capture_on_commit_callbacks
):
    url = column.get_absolute_url()
    ArticleFactory(column=column)
    anonymous, reader = client_for("anonymous"), client_for("reader")
    anonymous.get(url)

    with django_capture_on_commit_callbacks(execute=True):
        reader.post(reverse("notifications:follow-column", args=[column.slug]))

    assert 'aria-pressed="true"' in reader.get(url).text
    assert "follow-form" not in anonymous.get(url).text


# --- a person's profile ---------------------------------------------------------------------


def test_a_profile_shows_a_new_an_edited_and_a_hidden_comment_at_once(
    readers, article, reader, django_capture_on_commit_callbacks
):
    url = reader.get_absolute_url()
    CommentFactory(article=article, author=reader, body="older words")
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        comment = services.post_comment(article=article, author=reader, body="newer words")
    for persona, text in pages(readers, url).items():
        assert "newer words" in text, persona

    with django_capture_on_commit_callbacks(execute=True):
        services.edit_comment(comment=comment, body="edited words")
    for persona, text in pages(readers, url).items():
        assert "edited words" in text and "newer words" not in text, persona

    with django_capture_on_commit_callbacks(execute=True):
        services.set_comment_status(comment, CommentStatus.HIDDEN)
    for persona, text in pages(readers, url).items():
        assert "edited words" not in text, persona
        assert "older words" in text, persona


def test_a_profile_shows_a_renamed_chapter_at_once(
    readers, article, reader, django_capture_on_commit_callbacks
):
    url = reader.get_absolute_url()
    CommentFactory(article=article, author=reader)
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        article.title = "Pods, Revisited"
        article.save()

    for persona, text in pages(readers, url).items():
        assert "Pods, Revisited" in text, persona


def test_a_listing_never_holds_the_reader(client_for, article, reader):
    # The first reader to see the profile is its owner, signed in: what is kept is what an
    # anonymous reader is shown.
    other = UserFactory(display_name="someone_else")
    CommentFactory(article=article, author=reader, body="mine")
    owner = client_for("reader")
    assert "Edit your profile" in owner.get(reader.get_absolute_url()).text

    anonymous = client_for("anonymous").get(reader.get_absolute_url()).text
    assert "Edit your profile" not in anonymous
    assert "csrfmiddlewaretoken" not in anonymous
    assert other.display_name not in anonymous


def test_a_slug_or_pk_that_finds_nothing_is_a_404_and_keeps_nothing(client):
    caching.current()  # the site-wide versions exist (made by any first request)
    before = len(cache_keys())

    for n in range(50):
        assert client.get(f"/columns/no-such-column-{n}/").status_code == 404
        assert client.get(f"/u/{10_000 + n}/").status_code == 404

    assert len(cache_keys()) == before


def test_a_rename_and_a_deactivation_show_on_the_profile_at_once(
    readers, reader_client, reader, article, django_capture_on_commit_callbacks
):
    url = reader.get_absolute_url()
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        reader_client.post(reverse("accounts:settings"), {"display_name": "Renamed", "bio": "hi"})
    for persona, text in pages(readers, url).items():
        assert "<title>Renamed · Colloquy</title>" in text, persona
        assert "<h1>Renamed</h1>" in text, persona

    with django_capture_on_commit_callbacks(execute=True):
        reader.is_active = False
        reader.save(update_fields=["is_active"])
    for persona, client in readers.items():
        assert client.get(url).status_code == 404, persona


def test_a_column_title_and_description_edit_show_at_once(
    readers, column, django_capture_on_commit_callbacks
):
    url = column.get_absolute_url()
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        column.title = "Kubernetes, Slowly"
        column.description = "<b>bold</b> claims"
        column.save()

    for persona, text in pages(readers, url).items():
        assert "<title>Kubernetes, Slowly · Colloquy</title>" in text, persona
        assert "&lt;b&gt;bold&lt;/b&gt; claims" in text, persona
