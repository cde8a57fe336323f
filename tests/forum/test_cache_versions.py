"""Every input of the cached article page changes the page at once (forum/caching.py).

Each test warms the cache the way readers do (an anonymous reader and a signed-in one), changes
one input through the path people use (their settings, the admin, the discussion's buttons), and
reads the page again. Changes that bump a site-wide version do so when their transaction commits,
so the changes run inside `django_capture_on_commit_callbacks(execute=True)`, as in production.
"""

from __future__ import annotations

import re
import time
from io import BytesIO

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.fields.files import FieldFile
from django.forms.models import model_to_dict
from django.urls import reverse
from PIL import Image

from accounts.models import User
from forum import caching, discussion, selectors, views
from forum.enums import CommentStatus
from forum.models import Column
from forum.selectors import ROOTS_PER_PAGE
from tests.factories import ArticleFactory, CommentFactory
from tests.helpers import cache_keys, pages, warm

pytestmark = pytest.mark.django_db

AVATAR_IMG = re.compile(r'<img class="avatar" src="([^"]+)"')


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def renders(monkeypatch):
    """How many times the article page was rendered from scratch (a cache miss)."""
    calls = []
    real = views._render_page_entry

    def spy(*args, **kwargs):
        calls.append(kwargs.get("query"))
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "_render_page_entry", spy)
    return calls


@pytest.fixture
def readers(client_for):
    """An anonymous reader and a signed-in one (who is not the person changed)."""
    return {"anonymous": client_for("anonymous"), "signed in": client_for("other_reader")}


def image_upload():
    buffer = BytesIO()
    Image.new("RGB", (64, 64), (20, 120, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile("me.png", buffer.getvalue(), content_type="image/png")


def admin_change(client, obj, **changes):
    """POST the admin change form of `obj` with its current values and `changes`."""
    data = {key: value for key, value in model_to_dict(obj).items() if value is not None}
    data = {key: value for key, value in data.items() if not isinstance(value, FieldFile)}
    for field in ("published_at", "created_at"):
        if field in data:
            local = data.pop(field)
            data[f"{field}_0"], data[f"{field}_1"] = local.strftime("%Y-%m-%d %H:%M:%S").split()
    data.update(changes)
    url = reverse(f"admin:forum_{obj._meta.model_name}_change", args=[obj.pk])
    response = client.post(url, data)
    assert response.status_code == 302, response.text[:2000]


# --- the people shown in the discussion -------------------------------------------------------


def test_a_rename_shows_at_once_on_every_cached_page(
    readers, reader_client, reader, article, django_capture_on_commit_callbacks
):
    CommentFactory(article=article, author=reader, body="pods are cattle")
    url = article.get_absolute_url()
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        response = reader_client.post(
            reverse("accounts:settings"), {"display_name": "RenamedReader", "bio": ""}
        )
    assert response.status_code == 302

    for persona, text in pages(readers, url).items():
        assert "RenamedReader" in text, persona
        assert f">{reader.display_name}<" not in text, persona


def test_an_avatar_change_and_removal_show_at_once_without_a_broken_image(
    readers, reader_client, reader, article, django_capture_on_commit_callbacks
):
    CommentFactory(article=article, author=reader, body="pods are cattle")
    url = article.get_absolute_url()
    warm(readers, url)
    assert not AVATAR_IMG.search(pages(readers, url)["anonymous"])

    with django_capture_on_commit_callbacks(execute=True):
        reader_client.post(
            reverse("accounts:settings"),
            {"display_name": reader.display_name, "bio": "", "avatar": image_upload()},
        )
    reader.refresh_from_db()
    for persona, text in pages(readers, url).items():
        assert AVATAR_IMG.search(text).group(1) == reader.avatar.url, persona
    assert reader.avatar.storage.exists(reader.avatar.name)

    with django_capture_on_commit_callbacks(execute=True):
        reader_client.post(
            reverse("accounts:settings"),
            {"display_name": reader.display_name, "bio": "", "remove_avatar": "on"},
        )
    for persona, text in pages(readers, url).items():
        assert not AVATAR_IMG.search(text), persona  # no <img> pointing at the deleted file
        assert "avatar-fallback" in text, persona


def test_signing_in_retires_nothing(client, reader, django_capture_on_commit_callbacks):
    before = caching.current()

    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(reader)  # saves last_login only

    assert caching.current() == before


def test_an_admin_rename_of_a_reader_shows_at_once(
    readers, client_for, reader, article, django_capture_on_commit_callbacks
):
    CommentFactory(article=article, author=reader, body="pods are cattle")
    url = article.get_absolute_url()
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        reader.display_name = "NamedByStaff"
        reader.save()  # as the admin's change form does

    for persona, text in pages(readers, url).items():
        assert "NamedByStaff" in text, persona


# --- the catalogue: columns and articles ------------------------------------------------------


def test_a_column_slug_renamed_in_the_admin_moves_every_link_and_form_at_once(
    readers, client_for, article, column, django_capture_on_commit_callbacks
):
    for n in range(ROOTS_PER_PAGE + 1):  # enough threads for a "Load more" link
        CommentFactory(article=article, body=f"thread {n}")
    warm(readers, article.get_absolute_url())
    old = "/columns/deep-k8s/"

    with django_capture_on_commit_callbacks(execute=True):
        admin_change(client_for("admin_user"), column, slug="k8s-in-depth")

    article.refresh_from_db()
    new_url = article.get_absolute_url()
    assert new_url.startswith("/columns/k8s-in-depth/")
    for persona, text in pages(readers, new_url).items():
        assert old not in text, persona
        assert re.search(r'href="/columns/k8s-in-depth/why-pods/\?[^"]*cursor=', text), persona
    signed_in = pages(readers, new_url)["signed in"]
    assert 'action="/columns/k8s-in-depth/why-pods/like/"' in signed_in
    assert readers["anonymous"].get(old + "why-pods/").status_code == 404


def test_a_column_title_edited_in_the_admin_shows_at_once(
    readers, client_for, article, column, django_capture_on_commit_callbacks
):
    url = article.get_absolute_url()
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        admin_change(client_for("admin_user"), column, title="Kubernetes, Slowly")

    for persona, text in pages(readers, url).items():
        assert "Kubernetes, Slowly" in text, persona
        assert "Deep Kubernetes" not in text, persona


def test_an_article_edited_in_the_admin_shows_at_once(
    readers, client_for, article, django_capture_on_commit_callbacks
):
    url = article.get_absolute_url()
    warm(readers, url)

    with django_capture_on_commit_callbacks(execute=True):
        admin_change(
            client_for("admin_user"), article, title="Why Pods, Really?", body_md="New *body*"
        )

    for persona, text in pages(readers, url).items():
        assert "Why Pods, Really?" in text, persona
        assert "<em>body</em>" in text, persona


def test_a_neighbouring_chapter_renamed_shows_at_once_in_the_chapter_links(
    readers, article, column, django_capture_on_commit_callbacks
):
    following = ArticleFactory(column=column, title="Services Next", slug="svc", position=2)
    url = article.get_absolute_url()
    warm(readers, url)
    assert "Services Next" in pages(readers, url)["anonymous"]

    with django_capture_on_commit_callbacks(execute=True):
        following.title = "Services, Later"
        following.save()

    for persona, text in pages(readers, url).items():
        assert "Services, Later" in text, persona


# --- the discussion ---------------------------------------------------------------------------


def test_featuring_shows_at_once(readers, client_for, article):
    comment = CommentFactory(article=article, body="worth featuring")
    url = article.get_absolute_url()
    warm(readers, url)
    assert "badge-featured" not in pages(readers, url)["anonymous"]

    response = client_for("column_author").post(
        reverse("forum:comment-feature", args=[comment.pk]), {"featured": "1"}
    )
    assert response.status_code == 302

    for persona, text in pages(readers, url).items():
        assert "badge-featured" in text, persona


def test_hiding_shows_at_once(readers, client_for, article):
    comment = CommentFactory(article=article, body="soon hidden words")
    url = article.get_absolute_url()
    warm(readers, url)

    response = client_for("moderator").post(
        reverse("moderation:hide", args=[comment.pk]), {"reason": "spam"}
    )
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.status == CommentStatus.HIDDEN

    for persona, text in pages(readers, url).items():
        assert "soon hidden words" not in text, persona


def test_a_like_shows_at_once(readers, client_for, article):
    comment = CommentFactory(article=article, body="likeable")
    url = article.get_absolute_url()
    warm(readers, url)
    assert 'like-count">1<' not in pages(readers, url)["anonymous"]

    response = client_for("reader").post(reverse("forum:comment-like", args=[comment.pk]))
    assert response.status_code == 302

    for persona, text in pages(readers, url).items():
        assert 'like-count">1<' in text, persona  # the comment's count (the article has none)


@pytest.fixture
def thread_renders(monkeypatch):
    """How many times a threads region was read from the database and rendered."""
    calls = []
    real = selectors.get_thread_page

    def spy(**kwargs):
        calls.append(kwargs["sort"])
        return real(**kwargs)

    monkeypatch.setattr(selectors, "get_thread_page", spy)
    return calls


def like_counts(text: str, comments) -> tuple[str, list[str]]:
    """(the article's like count, each comment's) as the page shows them."""
    article_count = re.search(r'class="like-count">(\d+)<', text).group(1)
    by_comment = []
    for comment in comments:
        after = text[text.index(f'id="c-{comment.pk}"') :]
        by_comment.append(re.search(r'class="like-count">(\d+)<', after).group(1))
    return article_count, by_comment


def test_likes_leave_the_rendering_cached_and_show_at_once(
    readers, client_for, article, renders, thread_renders, django_assert_num_queries
):
    comments = [CommentFactory(article=article, body=f"likeable {n}") for n in range(3)]
    url = article.get_absolute_url()
    warm(readers, url)
    rendered = (list(renders), list(thread_renders))
    liker = client_for("reader")

    for comment in comments[:2]:
        assert liker.post(reverse("forum:comment-like", args=[comment.pk])).status_code == 302
    assert liker.post(reverse("forum:article-like", args=[article.column.slug, article.slug]))
    page = pages(readers, url)

    assert (renders, thread_renders) == rendered  # no page or thread was rendered again
    for persona, text in page.items():
        assert like_counts(text, comments) == ("1", ["1", "1", "0"]), persona
    liker_page = liker.get(url).text
    assert liker_page.count('aria-pressed="true"') == 3  # the liker sees their three likes
    assert 'aria-pressed="true"' not in page["signed in"]
    # The counts were read once after the likes; the next reads are cache hits again.
    with django_assert_num_queries(1):  # the article's version and counts
        assert 'like-count">1<' in readers["anonymous"].get(url).text

    liker.post(reverse("forum:comment-like", args=[comments[0].pk]))  # taken back
    text = readers["anonymous"].get(url).text
    assert like_counts(text, comments) == ("1", ["0", "1", "0"])
    assert renders == rendered[0]


def test_top_order_follows_likes_once_the_rendering_is_old(
    client_for, article, monkeypatch, thread_renders
):
    first, second = (CommentFactory(article=article, body=b) for b in ("first", "second"))
    url = article.get_absolute_url() + "?sort=top"
    reader = client_for("anonymous")

    def order() -> list[int]:
        # The page itself expires after five minutes; its threads are what is tested here.
        cache.delete_many([key.split(":", 2)[2] for key in cache_keys() if ":page:" in key])
        return [int(pk) for pk in re.findall(r'id="c-(\d+)"', reader.get(url).text)]

    assert order() == [second.pk, first.pk]  # newest first among equals
    client_for("reader").post(reverse("forum:comment-like", args=[first.pk]))
    assert order() == [second.pk, first.pk]  # counts now, order as rendered
    assert len(thread_renders) == 1

    later = time.time() + discussion.TOP_ORDER_SECONDS + 1
    monkeypatch.setattr(discussion, "_clock", lambda: later)
    assert order() == [first.pk, second.pk]
    assert len(thread_renders) == 2
    assert order() == [first.pk, second.pk]  # and cached again, not sorted on every read
    assert len(thread_renders) == 2


# --- keys from validated input only -----------------------------------------------------------


def test_a_thousand_junk_query_strings_make_one_entry(client, article, renders):
    CommentFactory(article=article, body="steady")
    url = article.get_absolute_url()
    client.get(url)
    size = len(cache_keys())

    for n in range(1000):
        response = client.get(f"{url}?x={n}&utm_source=s{n}&sort=top&c=junk{n}")
        assert response.status_code == 200

    assert renders == [""]  # the first read rendered; the 1,000 junk URLs were hits
    assert len(cache_keys()) == size
    assert "x=999" not in response.text and "utm_source" not in response.text


def test_junk_never_reaches_the_links_of_the_page_it_shares(client, article):
    for n in range(ROOTS_PER_PAGE + 1):
        CommentFactory(article=article, body=f"thread {n}")

    page = client.get(article.get_absolute_url() + "?sort=newest&evil=%22%3E%3Cscript%3E").text

    more = re.search(r'class="load-more"><a [^>]*href="([^"]+)"', page).group(1)
    assert more.startswith(f"{article.get_absolute_url()}?sort=newest&amp;cursor=")
    assert "evil" not in page


def test_the_same_query_in_another_order_or_spelling_is_the_same_entry(client, article, renders):
    url = article.get_absolute_url()
    client.get(f"{url}?sort=newest&author=1")
    client.get(f"{url}?author=1&sort=newest")
    client.get(f"{url}?author=on&sort=newest&page=2")
    client.get(url)
    client.get(f"{url}?sort=top")

    assert renders == ["sort=newest&author=1", ""]


def test_an_invalid_query_is_refused_and_nothing_is_cached(client, article, renders):
    url = article.get_absolute_url()

    response = client.get(f"{url}?sort=bogus")

    assert response.status_code == 400
    assert renders == []
    assert not [key for key in cache_keys() if ":page:" in key]


def test_an_evicted_version_is_a_miss_never_a_stale_hit(readers, reader, article):
    CommentFactory(article=article, author=reader, body="pods are cattle")
    url = article.get_absolute_url()
    warm(readers, url)
    # A rename the signals never saw, and the version lost from the cache (an eviction).
    User.objects.filter(pk=reader.pk).update(display_name="QuietlyRenamed")
    cache.delete(caching._KEYS[caching.PEOPLE])

    for persona, text in pages(readers, url).items():
        assert "QuietlyRenamed" in text, persona


def test_a_deploy_retires_the_pages_the_old_templates_rendered(
    client, article, renders, monkeypatch
):
    url = article.get_absolute_url()
    client.get(url)
    client.get(url)
    assert len(renders) == 1

    monkeypatch.setattr(caching, "deploy", lambda: "new-templates")
    client.get(url)

    assert len(renders) == 2


def test_the_deploy_digest_covers_templates_and_translations(settings, tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "locale").mkdir()
    page = tmp_path / "templates" / "page.html"
    page.write_text("one")
    settings.BASE_DIR = tmp_path
    caching.deploy.cache_clear()
    try:
        first = caching.deploy()
        caching.deploy.cache_clear()
        page.write_text("two")
        second = caching.deploy()
        caching.deploy.cache_clear()
        (tmp_path / "locale" / "django.mo").write_bytes(b"\x00")
        third = caching.deploy()
    finally:
        caching.deploy.cache_clear()
    assert len({first, second, third}) == 3


def test_a_rolled_back_change_bumps_nothing(reader, django_capture_on_commit_callbacks):
    from django.db import transaction

    before = caching.current()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            reader.display_name = "Never Saved"
            reader.save()
            Column.objects.update(title="never")
            raise RuntimeError

    assert caching.current() == before
    assert not Column.objects.filter(title="never").exists()


def test_the_query_without_form_parameters_cleans_to_what_an_empty_form_does():
    from django.http import QueryDict

    from forum.forms import ThreadQueryForm

    empty = ThreadQueryForm({})
    assert empty.is_valid()

    assert ThreadQueryForm.cleaned(QueryDict("")) == empty.cleaned_data
    assert ThreadQueryForm.cleaned(QueryDict("x=1&utm_source=feed")) == empty.cleaned_data
    assert ThreadQueryForm.cleaned(QueryDict("sort=newest"))["sort"] == "newest"
    assert ThreadQueryForm.cleaned(QueryDict("sort=nonsense")) is None
    assert ThreadQueryForm.cleaned(QueryDict("cursor=" + "x" * 201)) is None
    # Each caller gets its own dict: changing one does not change the next.
    ThreadQueryForm.cleaned(QueryDict(""))["sort"] = "oldest"
    assert ThreadQueryForm.cleaned(QueryDict(""))["sort"] == "top"
