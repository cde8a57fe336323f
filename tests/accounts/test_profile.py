from datetime import timedelta
from io import BytesIO

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tests.factories import CommentFactory, UserFactory
from tests.helpers import png_bomb

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def image_upload(size=(800, 600), fmt="PNG", name="me.png"):
    buffer = BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def test_anyone_can_read_a_profile_with_name_bio_and_join_date(client):
    person = UserFactory(display_name="林老师", bio="写了十年 Python")

    response = client.get(person.get_absolute_url())

    assert response.status_code == 200
    assert "林老师" in response.text
    assert "写了十年 Python" in response.text
    assert timezone.localtime(person.date_joined).strftime("%Y-%m-%d") in response.text


def test_profile_lists_the_users_recent_comments_with_permalinks(client, article):
    person = UserFactory()
    comment = CommentFactory(article=article, author=person, body="My thoughts on pods")

    response = client.get(person.get_absolute_url())

    assert "My thoughts on pods" in response.text
    assert comment.get_absolute_url() in response.text


def test_profile_of_unknown_or_inactive_user_is_404(client):
    inactive = UserFactory(is_active=False)
    assert client.get(reverse("forum:profile", args=[999999])).status_code == 404
    assert client.get(inactive.get_absolute_url()).status_code == 404


def test_settings_page_sends_anonymous_visitors_to_login(client):
    response = client.get(reverse("accounts:settings"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_owner_sees_their_settings_form(reader_client, reader):
    response = reader_client.get(reverse("accounts:settings"))

    assert response.status_code == 200
    assert f'value="{reader.display_name}"' in response.text


def test_owner_updates_name_bio_and_avatar_which_is_resized(reader_client, reader):
    response = reader_client.post(
        reverse("accounts:settings"),
        {"display_name": "新名字", "bio": "Hello", "avatar": image_upload()},
    )

    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.display_name == "新名字"
    assert reader.bio == "Hello"
    with Image.open(reader.avatar.path) as stored:
        assert stored.size == (256, 256)


def test_owner_can_remove_their_avatar(reader_client, reader):
    reader_client.post(
        reverse("accounts:settings"),
        {"display_name": reader.display_name, "bio": "", "avatar": image_upload()},
    )
    reader.refresh_from_db()
    assert reader.avatar

    reader_client.post(
        reverse("accounts:settings"),
        {"display_name": reader.display_name, "bio": "", "remove_avatar": "on"},
    )
    reader.refresh_from_db()
    assert not reader.avatar


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"display_name": "x"}, "at least 2 characters"),
        (
            {"display_name": "other_reader"},
            "This display name is taken, or looks like one that is.",
        ),
        (
            {"display_name": "OTHER_READER"},
            "This display name is taken, or looks like one that is.",
        ),
        ({"bio": "b" * 501}, "at most 500 characters"),
    ],
)
def test_settings_with_bad_input_is_400_and_changes_nothing(
    reader_client, reader, other_reader, data, message
):
    before = (reader.display_name, reader.bio)

    response = reader_client.post(
        reverse("accounts:settings"), {"display_name": reader.display_name, "bio": "", **data}
    )

    assert response.status_code == 400
    assert message in response.text
    reader.refresh_from_db()
    assert (reader.display_name, reader.bio) == before


def test_a_file_that_is_not_an_image_is_refused(reader_client, reader):
    bogus = SimpleUploadedFile("x.png", b"<?php evil(); ?>", content_type="image/png")

    response = reader_client.post(
        reverse("accounts:settings"), {"display_name": reader.display_name, "avatar": bogus}
    )

    assert response.status_code == 400
    reader.refresh_from_db()
    assert not reader.avatar


def test_settings_edit_only_the_logged_in_user(reader_client, reader, other_reader):
    # There is no way to name another user: the form always edits request.user.
    reader_client.post(
        reverse("accounts:settings"), {"display_name": "changed", "bio": "", "pk": other_reader.pk}
    )
    other_reader.refresh_from_db()
    assert other_reader.display_name == "other_reader"


def test_settings_post_without_csrf_token_is_refused(reader):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(reader)

    response = client.post(reverse("accounts:settings"), {"display_name": "nope", "bio": ""})

    assert response.status_code == 403
    reader.refresh_from_db()
    assert reader.display_name == "reader"


@pytest.mark.parametrize(
    "url_name",
    ["account_email", "account_change_password"],
)
def test_account_pages_need_a_login(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert reverse("account_login") in response.url


@pytest.mark.parametrize("url_name", ["account_email", "account_change_password"])
def test_account_pages_render_for_a_verified_user(reader_client, url_name):
    assert reader_client.get(reverse(url_name)).status_code == 200


def test_password_change_with_wrong_old_password_changes_nothing(reader_client, reader):
    response = reader_client.post(
        reverse("account_change_password"),
        {
            "oldpassword": "wrong",
            "password1": "another-long-pass-1",
            "password2": "another-long-pass-1",
        },
    )
    assert response.status_code == 400
    reader.refresh_from_db()
    assert not reader.check_password("another-long-pass-1")


def test_an_image_bomb_is_refused_before_it_is_decoded(reader_client, reader):
    bomb = png_bomb()
    assert len(bomb) < 100_000

    response = reader_client.post(
        reverse("accounts:settings"),
        {
            "display_name": reader.display_name,
            "bio": "",
            "avatar": SimpleUploadedFile("bomb.png", bomb, content_type="image/png"),
        },
    )

    assert response.status_code == 400
    assert "The image is too large: at most 4096×4096 pixels." in response.text
    reader.refresh_from_db()
    assert not reader.avatar


def test_a_replaced_avatar_file_is_deleted(
    reader_client, reader, django_capture_on_commit_callbacks
):
    def upload():
        with django_capture_on_commit_callbacks(execute=True):
            reader_client.post(
                reverse("accounts:settings"),
                {"display_name": reader.display_name, "bio": "", "avatar": image_upload()},
            )
        reader.refresh_from_db()
        return reader.avatar.path

    first = upload()
    second = upload()

    assert first != second
    import os

    assert not os.path.exists(first)
    assert os.path.exists(second)


def walk(client, url) -> tuple[list[str], list]:
    """Follow a history's "Older" links from the newest page: (every comment text, responses)."""
    texts, responses = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        responses.append(response)
        page = HTMLParser(response.text)
        texts += [li.text(strip=True) for li in page.css("ul.list li div:not(.meta)")]
        older = page.css_first("a[rel=next]")
        url = url.split("?")[0] + older.attributes["href"] if older else None
    return texts, responses


def test_the_profile_pages_by_keyset_through_every_comment_once(
    client, article, django_assert_num_queries
):
    person = UserFactory()
    same_moment = timezone.now() - timedelta(days=1)
    for n in range(45):
        # Ten share one timestamp: the id breaks the tie, so no page boundary drops or repeats.
        when = same_moment if n < 10 else same_moment + timedelta(minutes=n)
        CommentFactory(article=article, author=person, body=f"comment {n:02d}", created_at=when)

    texts, responses = walk(client, person.get_absolute_url())

    assert len(responses) == 3  # 20 + 20 + 5
    assert texts == [f"comment {n:02d}" for n in reversed(range(10, 45))] + [
        f"comment {n:02d}" for n in reversed(range(10))
    ]
    first = HTMLParser(responses[0].text)
    assert first.css_first("a[rel=first]") is None  # the newest page links only to older
    assert HTMLParser(responses[2].text).css_first("a[rel=first]").attributes["href"] == "?"
    assert "?page=" not in responses[1].text
    # The last page costs what the first does: no OFFSET walks past the earlier rows.
    last_url = responses[2].request["PATH_INFO"] + "?" + responses[2].request["QUERY_STRING"]
    with django_assert_num_queries(0):  # the person and their first page are kept
        client.get(person.get_absolute_url())
    cache.clear()
    with django_assert_num_queries(2):  # the person, one page of comments with their articles
        client.get(person.get_absolute_url())
    with django_assert_num_queries(2):  # an older page is never cached: it costs the same
        client.get(last_url)


def test_a_profile_cursor_we_did_not_make_is_a_400_saying_so(client):
    person = UserFactory()

    for junk in ["abc", "1-", "-1", "1-2-3", "9" * 30 + "-1", "1.5-2"]:
        response = client.get(person.get_absolute_url(), {"before": junk})
        assert response.status_code == 400, junk
        assert "This “older” link is broken or outdated." in response.text
