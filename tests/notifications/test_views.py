"""The reader's side of notifications through HTTP: the inbox, the bell, opening and marking
read, the settings page, one-click unsubscribe and following columns and articles.

Every page or endpoint is tried allowed, denied (anonymous, someone else's, wrong method) and
with bad input.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from forum import services as forum
from forum.models import Follow
from notifications import services
from notifications.enums import DEFAULT_DELIVERY, Delivery, Kind
from notifications.models import Notification, Preference
from tests.events import dispatch_events
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def notify(reader, article, n: int = 1, *, actor=None) -> list[Notification]:
    """`n` replies to a comment of `reader`'s: `n` reply notifications for them, newest first."""
    actor = actor or UserFactory()
    root = CommentFactory(article=article, author=reader, body="My comment")
    for i in range(n):
        CommentFactory(parent=root, author=actor, body=f"Reply number {i}")
    dispatch_events()
    return list(Notification.objects.filter(recipient=reader))


def is_login_redirect(response, next_path: str) -> bool:
    login = reverse("account_login")
    return response.status_code == 302 and response.url.startswith(f"{login}?next={next_path}")


def unread(user) -> int:
    dispatch_events()
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


# --- The inbox -------------------------------------------------------------------------------


def test_the_inbox_asks_anonymous_visitors_to_log_in(client):
    url = reverse("notifications:inbox")

    assert is_login_redirect(client.get(url), url)


def test_the_inbox_shows_only_my_notifications(client_for, article, reader, other_reader):
    mine = notify(reader, article, 2)
    theirs = notify(other_reader, article, 1, actor=UserFactory(display_name="stranger"))

    response = client_for("reader").get(reverse("notifications:inbox"))

    assert response.status_code == 200
    tree = HTMLParser(response.text)
    shown = {int(li.attributes["id"][2:]) for li in tree.css("li.notification")}
    assert shown == {n.pk for n in mine}
    assert theirs[0].pk not in shown
    assert "stranger" not in response.text
    assert len(tree.css("li.notification.is-unread")) == 2
    link = tree.css_first(f"#n-{mine[0].pk} a.notification-link")
    assert link.attributes["href"] == reverse("notifications:open", args=[mine[0].pk])
    assert "Reply to your comment" in link.text()
    assert "Why Pods?" in link.text()


def test_the_inbox_groups_notifications_by_day_newest_first(client_for, article, reader):
    notifications = notify(reader, article, 3)
    now = timezone.now()
    days_ago = [0, 1, 1]
    for notification, days in zip(notifications, days_ago, strict=True):
        Notification.objects.filter(pk=notification.pk).update(
            created_at=now - timedelta(days=days)
        )

    response = client_for("reader").get(reverse("notifications:inbox"))

    tree = HTMLParser(response.text)
    headings = [h.text(strip=True) for h in tree.css("h2.day")]
    expected = [
        timezone.localdate(now).isoformat(),
        timezone.localdate(now - timedelta(days=1)).isoformat(),
    ]
    assert headings == expected
    groups = [len(ul.css("li.notification")) for ul in tree.css("ul.notification-list")]
    assert groups == [1, 2]


def test_an_empty_inbox_says_so(client_for, reader):
    response = client_for("reader").get(reverse("notifications:inbox"))

    assert response.status_code == 200
    assert "Nothing yet" in response.text


def test_the_inbox_shows_a_moderators_reason(client_for, article, reader, moderator):
    comment = CommentFactory(article=article, author=reader)
    services.notify_comment_moderated(comment=comment, by=moderator, reason="Please stay kind")

    response = client_for("reader").get(reverse("notifications:inbox"))

    assert "Please stay kind" in response.text


def test_the_inbox_does_not_show_the_text_of_a_comment_that_was_taken_down(
    client_for, article, reader, other_reader
):
    root = CommentFactory(article=article, author=reader)
    reply = CommentFactory(parent=root, author=other_reader, body="Something abusive")
    forum.delete_comment(comment=reply)

    response = client_for("reader").get(reverse("notifications:inbox"))

    assert response.status_code == 200
    assert "Something abusive" not in response.text


def test_the_inbox_escapes_what_commenters_wrote(client_for, article, reader):
    mallory = UserFactory(display_name="mallory")
    root = CommentFactory(article=article, author=reader)
    CommentFactory(parent=root, author=mallory, body="<script>alert(1)</script>")
    dispatch_events()

    response = client_for("reader").get(reverse("notifications:inbox"))

    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text


def test_the_inbox_quotes_a_reply_as_read_not_its_markdown(client_for, article, reader):
    root = CommentFactory(article=article, author=reader)
    CommentFactory(
        parent=root,
        author=UserFactory(display_name="writer"),
        body="**Bold** claim with `code`\n\n```\nblock   of code\n```",
    )
    dispatch_events()

    response = client_for("reader").get(reverse("notifications:inbox"))

    [excerpt] = HTMLParser(response.text).css(".notification .excerpt")
    assert excerpt.text() == "Bold claim with code block of code"


@pytest.mark.parametrize("size", [5, 60])
def test_the_inbox_runs_a_bounded_number_of_queries(
    client_for, article, reader, django_assert_num_queries, size
):
    # Many different actors: select_related must cover them all.
    root = CommentFactory(article=article, author=reader)
    for i in range(size):
        CommentFactory(parent=root, author=UserFactory(), body=f"Reply {i}")
    client = client_for("reader")
    dispatch_events()

    # user, the page (one query: actor, comment and chapter joined), the bell's count: the
    # same for 5 and for 60 (the session and the verified-email answer come from the cache).
    with django_assert_num_queries(3):
        response = client.get(reverse("notifications:inbox"))

    assert response.status_code == 200
    assert len(HTMLParser(response.text).css("li.notification")) == min(size, 25)


def test_the_inbox_pages_past_twenty_five(client_for, article, reader):
    notify(reader, article, 27)
    client = client_for("reader")

    first = HTMLParser(client.get(reverse("notifications:inbox")).text)
    older = first.css_first("a[rel=next]").attributes["href"]
    second = HTMLParser(client.get(reverse("notifications:inbox") + older).text)
    nonsense = client.get(reverse("notifications:inbox"), {"before": "abc"})

    assert len(first.css("li.notification")) == 25
    assert older.startswith("?before=")
    assert first.css_first("a[rel=first]") is None
    shown = [li.attributes.get("id") for li in first.css("li.notification")]
    shown += [li.attributes.get("id") for li in second.css("li.notification")]
    assert len(shown) == len(set(shown)) == 27  # every notification once, none twice
    assert second.css_first("a[rel=next]") is None
    assert second.css_first("a[rel=first]").attributes["href"] == "?"
    # A cursor we did not make: a clear 400, not the first page.
    assert nonsense.status_code == 400
    assert "This “older” link is broken or outdated." in nonsense.text


def test_the_inbox_refuses_post(client_for):
    assert client_for("reader").post(reverse("notifications:inbox")).status_code == 405


# --- The bell --------------------------------------------------------------------------------


def test_the_bell_fragment_shows_my_unread_count(client_for, article, reader):
    notify(reader, article, 3)

    response = client_for("reader").get(reverse("notifications:bell"), **HX)

    assert response.status_code == 200
    tree = HTMLParser(response.text)
    assert tree.css_first("#bell")
    assert tree.css_first("[data-testid=bell-count]").text() == "3"
    assert "<html" not in response.text
    assert "Cookie" in response["Vary"]
    assert "3 unread" in tree.css_first("#bell").attributes["aria-label"]


def test_the_bell_shows_no_count_when_all_is_read(client_for, article, reader):
    notify(reader, article, 2)
    services.mark_read(user=reader)

    response = client_for("reader").get(reverse("notifications:bell"))

    assert HTMLParser(response.text).css_first("[data-testid=bell-count]") is None


def test_the_bell_asks_anonymous_visitors_to_log_in(client):
    url = reverse("notifications:bell")

    assert is_login_redirect(client.get(url), url)


def test_the_header_shows_the_bell_with_the_unread_count_to_logged_in_readers(
    client_for, client, article, reader
):
    notify(reader, article, 2)

    logged_in = HTMLParser(client_for("reader").get("/").text)
    anonymous = HTMLParser(client.get("/").text)

    assert logged_in.css_first("header #bell").attributes["href"] == reverse("notifications:inbox")
    assert logged_in.css_first("header [data-testid=bell-count]").text() == "2"
    assert anonymous.css_first("#bell") is None


def test_the_article_page_stays_within_twelve_queries_with_the_bell_and_follow_button(
    client_for, article, reader, django_assert_max_num_queries
):
    notify(reader, article, 3)
    Follow.objects.create(user=reader, article=article)
    client = client_for("reader")
    from django.core.cache import cache

    cache.clear()
    with django_assert_max_num_queries(12):
        response = client.get(article.get_absolute_url())

    assert response.status_code == 200
    tree = HTMLParser(response.text)
    assert tree.css_first("[data-testid=bell-count]").text() == "3"
    follow = tree.css_first(".article-actions .follow-form button")
    assert follow.attributes["aria-pressed"] == "true"


# --- Opening a notification ------------------------------------------------------------------


def test_opening_a_notification_marks_it_read_and_goes_to_the_comment(client_for, article, reader):
    [notification] = notify(reader, article)

    response = client_for("reader").get(reverse("notifications:open", args=[notification.pk]))

    assert response.status_code == 302
    assert response.url == f"/c/{notification.comment_id}/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_opening_a_new_chapter_notification_goes_to_the_chapter(client_for, column, reader):
    Follow.objects.create(user=reader, column=column)
    chapter = forum.publish_article(column=column, title="Chapter Two", body_md="…")
    dispatch_events()
    notification = Notification.objects.get(recipient=reader)

    response = client_for("reader").get(reverse("notifications:open", args=[notification.pk]))

    assert response.url == chapter.get_absolute_url()


def test_someone_elses_notification_cannot_be_opened(client_for, article, other_reader):
    [theirs] = notify(other_reader, article)

    response = client_for("reader").get(reverse("notifications:open", args=[theirs.pk]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_opening_a_notification_that_does_not_exist_is_404(client_for):
    assert client_for("reader").get("/notifications/999999/").status_code == 404


def test_opening_a_notification_asks_anonymous_visitors_to_log_in(client, article, reader):
    [notification] = notify(reader, article)
    url = reverse("notifications:open", args=[notification.pk])

    assert is_login_redirect(client.get(url), url)
    notification.refresh_from_db()
    assert notification.read_at is None


# --- Marking read ----------------------------------------------------------------------------


def test_marking_one_notification_read(client_for, article, reader):
    first, second = notify(reader, article, 2)

    response = client_for("reader").post(reverse("notifications:read", args=[first.pk]))

    assert response.status_code == 302
    assert response.url == reverse("notifications:inbox")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None


def test_marking_read_with_htmx_refreshes_in_place(client_for, article, reader):
    [notification] = notify(reader, article)

    response = client_for("reader").post(
        reverse("notifications:read", args=[notification.pk]), **HX
    )

    assert response.status_code == 204
    assert response["HX-Refresh"] == "true"
    assert unread(reader) == 0


def test_marking_read_needs_post(client_for, article, reader):
    [notification] = notify(reader, article)

    response = client_for("reader").get(reverse("notifications:read", args=[notification.pk]))

    assert response.status_code == 405
    assert unread(reader) == 1


def test_someone_elses_notification_cannot_be_marked_read(client_for, article, other_reader):
    [theirs] = notify(other_reader, article)

    response = client_for("reader").post(reverse("notifications:read", args=[theirs.pk]))

    assert response.status_code == 404
    assert unread(other_reader) == 1


def test_marking_read_asks_anonymous_visitors_to_log_in(client, article, reader):
    [notification] = notify(reader, article)
    url = reverse("notifications:read", args=[notification.pk])

    assert is_login_redirect(client.post(url), url)
    assert unread(reader) == 1


def test_mark_all_read_marks_only_mine(client_for, article, reader, other_reader):
    notify(reader, article, 3)
    notify(other_reader, article, 2)

    response = client_for("reader").post(reverse("notifications:read-all"), follow=True)

    assert response.status_code == 200
    assert "All notifications are marked as read." in response.text
    assert unread(reader) == 0
    assert unread(other_reader) == 2


def test_mark_all_read_needs_post(client_for, article, reader):
    notify(reader, article, 2)

    assert client_for("reader").get(reverse("notifications:read-all")).status_code == 405
    assert unread(reader) == 2


def test_mark_all_read_needs_a_csrf_token(article, reader):
    notify(reader, article, 2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(reader)

    assert client.post(reverse("notifications:read-all")).status_code == 403
    assert unread(reader) == 2


# --- Settings --------------------------------------------------------------------------------


def all_kinds(delivery: str) -> dict[str, str]:
    return dict.fromkeys(Kind.values, delivery)


def test_the_settings_page_shows_one_set_of_radios_per_kind_with_the_current_choice(
    client_for, reader
):
    Preference.objects.create(user=reader, kind=Kind.MENTION, delivery=Delivery.OFF)

    response = client_for("reader").get(reverse("notifications:settings"))

    assert response.status_code == 200
    tree = HTMLParser(response.text)
    for kind in Kind.values:
        radios = tree.css(f'input[type=radio][name="{kind}"]')
        assert sorted(r.attributes["value"] for r in radios) == sorted(Delivery.values)
        [checked] = [r for r in radios if "checked" in r.attributes]
        expected = Delivery.OFF if kind == Kind.MENTION else DEFAULT_DELIVERY[Kind(kind)]
        assert checked.attributes["value"] == expected
    assert tree.css_first("form.preferences-form input[name=csrfmiddlewaretoken]")


def test_saving_settings_stores_one_preference_per_kind(client_for, reader):
    choices = all_kinds(Delivery.DIGEST) | {Kind.REPLY: Delivery.OFF}

    response = client_for("reader").post(reverse("notifications:settings"), choices)

    assert response.status_code == 302
    assert response.url == reverse("notifications:settings")
    stored = dict(Preference.objects.filter(user=reader).values_list("kind", "delivery"))
    assert stored == choices
    assert services.delivery_for(reader, Kind.REPLY) == Delivery.OFF


def test_saving_settings_twice_updates_instead_of_duplicating(client_for, reader):
    client = client_for("reader")
    client.post(reverse("notifications:settings"), all_kinds(Delivery.DIGEST))
    client.post(reverse("notifications:settings"), all_kinds(Delivery.IMMEDIATE))

    assert Preference.objects.filter(user=reader).count() == len(Kind.values)
    assert set(Preference.objects.values_list("delivery", flat=True)) == {Delivery.IMMEDIATE}


@pytest.mark.parametrize(
    "bad",
    [
        all_kinds(Delivery.DIGEST) | {Kind.REPLY: "weekly"},
        all_kinds(Delivery.DIGEST) | {Kind.REPLY: ""},
        {Kind.REPLY: Delivery.OFF},  # the other kinds missing
        {},
    ],
    ids=["unknown-choice", "empty-choice", "partial", "empty"],
)
def test_invalid_settings_are_refused_and_nothing_is_saved(client_for, reader, bad):
    response = client_for("reader").post(reverse("notifications:settings"), bad)

    assert response.status_code == 400
    assert Preference.objects.filter(user=reader).count() == 0
    assert HTMLParser(response.text).css_first("form.preferences-form")
    if bad:
        assert HTMLParser(response.text).css_first("form.preferences-form .error")


def test_settings_ask_anonymous_visitors_to_log_in(client):
    url = reverse("notifications:settings")

    assert is_login_redirect(client.get(url), url)
    assert is_login_redirect(client.post(url, all_kinds(Delivery.OFF)), url)
    assert Preference.objects.count() == 0


def test_settings_refuse_other_methods(client_for):
    assert client_for("reader").put(reverse("notifications:settings")).status_code == 405


# --- Unsubscribe -----------------------------------------------------------------------------


def unsubscribe_url(token: str) -> str:
    return reverse("notifications:unsubscribe", args=[token])


def test_one_click_unsubscribe_works_without_a_session_or_csrf_token(reader):
    token = services.unsubscribe_token(reader, Kind.REPLY)
    mail_client = Client(enforce_csrf_checks=True)

    response = mail_client.post(unsubscribe_url(token), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert Preference.objects.get(user=reader, kind=Kind.REPLY).delivery == Delivery.OFF
    assert Preference.objects.filter(user=reader).count() == 1
    assert "Reply to your comment" in response.text


def test_unsubscribing_twice_is_harmless(reader):
    token = services.unsubscribe_token(reader, Kind.MENTION)
    mail_client = Client(enforce_csrf_checks=True)

    first = mail_client.post(unsubscribe_url(token))
    second = mail_client.post(unsubscribe_url(token))

    assert (first.status_code, second.status_code) == (200, 200)
    assert Preference.objects.get(user=reader, kind=Kind.MENTION).delivery == Delivery.OFF


def test_the_unsubscribe_link_opened_in_a_browser_asks_first_and_changes_nothing(reader):
    token = services.unsubscribe_token(reader, Kind.REPLY)

    response = Client().get(unsubscribe_url(token))

    assert response.status_code == 200
    form = HTMLParser(response.text).css_first("main form[method=post]")
    assert form.attributes["action"] == unsubscribe_url(token)
    assert form.css_first("button[type=submit]")
    assert Preference.objects.count() == 0


def test_unsubscribing_from_the_digest_turns_off_every_kind_that_went_to_the_digest(reader):
    Preference.objects.create(user=reader, kind=Kind.MENTION, delivery=Delivery.DIGEST)
    token = services.unsubscribe_token(reader, "digest")

    response = Client(enforce_csrf_checks=True).post(unsubscribe_url(token))

    assert response.status_code == 200
    prefs = services.preferences_for(reader)
    for kind, delivery in DEFAULT_DELIVERY.items():
        if kind == Kind.MENTION or delivery == Delivery.DIGEST:
            assert prefs[kind] == Delivery.OFF, kind
        else:
            assert prefs[kind] == Delivery.IMMEDIATE, kind


def tamper(token: str) -> str:
    middle = len(token) // 2
    replacement = "A" if token[middle] != "A" else "B"
    return token[:middle] + replacement + token[middle + 1 :]


def test_a_tampered_token_is_refused_and_changes_nothing(reader):
    token = tamper(services.unsubscribe_token(reader, Kind.REPLY))
    mail_client = Client(enforce_csrf_checks=True)

    post = mail_client.post(unsubscribe_url(token))
    get = mail_client.get(unsubscribe_url(token))

    assert (post.status_code, get.status_code) == (400, 400)
    assert "not valid" in post.text
    assert Preference.objects.count() == 0


def test_a_token_with_a_changed_last_character_is_refused(reader):
    token = services.unsubscribe_token(reader, Kind.REPLY)
    token = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert Client().post(unsubscribe_url(token)).status_code == 400
    assert Preference.objects.count() == 0


def test_a_token_cannot_be_made_for_someone_else(reader, other_reader):
    """The token names the user; without the server's salted signature it is worthless."""
    forged = [
        signing.dumps({"u": other_reader.pk, "k": Kind.REPLY}, salt="something-else"),
        signing.dumps({"u": other_reader.pk, "k": Kind.REPLY}),  # no salt at all
        signing.dumps(
            {"u": other_reader.pk, "k": Kind.REPLY}, salt=services.UNSUBSCRIBE_SALT, key="guess"
        ),
    ]

    for token in forged:
        assert Client().post(unsubscribe_url(token)).status_code == 400, token
    assert Preference.objects.count() == 0


def test_a_token_for_an_unknown_kind_or_a_departed_user_is_refused(reader, other_reader):
    unknown_kind = signing.dumps(
        {"u": reader.pk, "k": "everything"}, salt=services.UNSUBSCRIBE_SALT
    )
    unknown_user = signing.dumps({"u": 987654, "k": Kind.REPLY}, salt=services.UNSUBSCRIBE_SALT)
    departed = services.unsubscribe_token(other_reader, Kind.REPLY)
    other_reader.is_active = False
    other_reader.save(update_fields=["is_active"])

    for token in (unknown_kind, unknown_user, departed, "garbage"):
        assert Client().post(unsubscribe_url(token)).status_code == 400, token
    assert Preference.objects.count() == 0


def test_the_token_of_one_user_changes_only_that_users_settings(reader, other_reader):
    Client().post(unsubscribe_url(services.unsubscribe_token(reader, Kind.REPLY)))

    assert services.delivery_for(reader, Kind.REPLY) == Delivery.OFF
    assert services.delivery_for(other_reader, Kind.REPLY) == Delivery.IMMEDIATE


def test_unsubscribe_refuses_other_methods(reader):
    token = services.unsubscribe_token(reader, Kind.REPLY)

    assert Client().put(unsubscribe_url(token)).status_code == 405
    assert Preference.objects.count() == 0


# --- Following -------------------------------------------------------------------------------


def follow_column_url(slug: str = "deep-k8s") -> str:
    return reverse("notifications:follow-column", args=[slug])


def follow_article_url(column_slug: str = "deep-k8s", slug: str = "why-pods") -> str:
    return reverse("notifications:follow-article", args=[column_slug, slug])


def test_following_a_column_toggles(client_for, column, reader):
    client = client_for("reader")

    first = client.post(follow_column_url())
    assert first.status_code == 302
    assert first.url == column.get_absolute_url()
    assert Follow.objects.filter(user=reader, column=column).count() == 1

    client.post(follow_column_url())
    assert Follow.objects.filter(user=reader).count() == 0


def test_following_an_article_toggles(client_for, article, reader):
    client = client_for("reader")

    first = client.post(follow_article_url())
    assert first.status_code == 302
    assert first.url == article.get_absolute_url()
    assert Follow.objects.filter(user=reader, article=article).count() == 1

    client.post(follow_article_url())
    assert Follow.objects.filter(user=reader).count() == 0


@pytest.mark.parametrize("target", ["column", "article"])
def test_following_with_htmx_returns_the_button_with_its_state(client_for, article, reader, target):
    url = follow_column_url() if target == "column" else follow_article_url()
    client = client_for("reader")

    on = client.post(url, **HX)
    off = client.post(url, **HX)

    for response, pressed, label in ((on, "true", "Following"), (off, "false", "Follow")):
        assert response.status_code == 200
        tree = HTMLParser(response.text)
        form = tree.css_first("form.follow-form")
        assert form.attributes["hx-post"] == url
        assert form.attributes["action"] == url
        button = form.css_first("button")
        assert button.attributes["aria-pressed"] == pressed
        assert button.text(strip=True) == label
        assert form.css_first("input[name=csrfmiddlewaretoken]")
        assert "<html" not in response.text
    assert Follow.objects.filter(user=reader).count() == 0


@pytest.mark.parametrize("target", ["column", "article"])
def test_following_asks_anonymous_visitors_to_log_in(client, article, target):
    url = follow_column_url() if target == "column" else follow_article_url()

    assert is_login_redirect(client.post(url), url)
    assert Follow.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        reverse("notifications:follow-column", args=["no-such-column"]),
        reverse("notifications:follow-article", args=["deep-k8s", "no-such-chapter"]),
        reverse("notifications:follow-article", args=["no-such-column", "why-pods"]),
    ],
)
def test_following_something_that_does_not_exist_is_404(client_for, article, url):
    assert client_for("reader").post(url).status_code == 404
    assert Follow.objects.count() == 0


@pytest.mark.parametrize("target", ["column", "article"])
def test_following_needs_post(client_for, article, target):
    url = follow_column_url() if target == "column" else follow_article_url()

    assert client_for("reader").get(url).status_code == 405
    assert Follow.objects.count() == 0


def test_following_needs_a_csrf_token(article, reader):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reader)

    assert client.post(follow_column_url()).status_code == 403
    assert Follow.objects.count() == 0


def test_the_column_and_article_pages_show_the_follow_state(client_for, article, column, reader):
    Follow.objects.create(user=reader, column=column)
    client = client_for("reader")

    column_page = HTMLParser(client.get(column.get_absolute_url()).text)
    article_page = HTMLParser(client.get(article.get_absolute_url()).text)

    column_button = column_page.css_first(".follow-form button")
    article_button = article_page.css_first(".follow-form button")
    assert column_button.attributes["aria-pressed"] == "true"
    assert article_button.attributes["aria-pressed"] == "false"
