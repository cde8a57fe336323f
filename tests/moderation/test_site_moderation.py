"""Moderation from the site, seen from the edge: readers report, moderators and column authors
hide and restore.

For every endpoint: each persona (anonymous, unverified, the comment's author, another reader,
the column's author, the author of another column, a staff member without the moderation
permission, a moderator, a superuser), with and without htmx where the answer differs, and bad
input. Assertions are on status codes, rendered text, database rows, audit rows and
notifications.
"""

from __future__ import annotations

import html
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from forum import services as forum_services
from forum.enums import CommentStatus
from forum.models import Comment
from moderation import services
from moderation.enums import Action, ReportReason
from moderation.models import ModerationAction, Report
from notifications.enums import Kind
from notifications.models import Notification
from tests.factories import ArticleFactory, ColumnFactory, CommentFactory, UserFactory
from tests.helpers import article_page, comment_bodies, comment_count

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
BODY = "Pods are the unit of scheduling."
THANKS = "Thank you: moderators will look at this comment."
ALREADY = "You already reported this comment. Thank you."
OWN = "You can’t report your own comment."
VERIFY = "Verify your email address to take part in discussions."
NOT_ALLOWED = "Only moderators and the column's author can do this."
WRONG_STATE = "This comment is not in a state where that applies."
HIDDEN_LABEL = "[hidden by a moderator]"


# --- Helpers -------------------------------------------------------------------------------


@pytest.fixture
def other_column_author(db):
    """The author of another column: a column author, but not of this one."""
    author = UserFactory(display_name="other_author")
    ArticleFactory(column=ColumnFactory(author=author, slug="other-column"), slug="elsewhere")
    return author


@pytest.fixture
def staff_without_permission(db):
    return UserFactory(display_name="plain_staff", is_staff=True)


@pytest.fixture
def comment(article, reader):
    """A root comment by `reader` under the column author's article."""
    return CommentFactory(article=article, author=reader, body=BODY)


def trusted_user(name: str):
    """An account old enough for its reports to count (TRUSTED_AFTER_DAYS is 2)."""
    return UserFactory(display_name=name, date_joined=timezone.now() - timedelta(days=10))


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def is_fragment(response) -> bool:
    return "<html" not in response.content.decode()


def login_url(next_url: str) -> str:
    return f"{reverse('account_login')}?next={quote(next_url, safe='/')}"


def report_url(comment: Comment) -> str:
    return reverse("moderation:report", args=[comment.pk])


def hide_url(comment: Comment) -> str:
    return reverse("moderation:hide", args=[comment.pk])


def restore_url(comment: Comment) -> str:
    return reverse("moderation:restore", args=[comment.pk])


def status_of(comment: Comment) -> str:
    comment.refresh_from_db(fields=["status"])
    return comment.status


# --- report: who may report ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_reader_who_reports_is_sent_to_log_in(client, comment, method):
    response = getattr(client, method)(report_url(comment), {"reason": "spam"})

    assert response.status_code == 302
    assert response.url == login_url(comment.get_absolute_url())
    assert not Report.objects.exists()


def test_anonymous_htmx_report_is_a_204_that_redirects_to_log_in(client, comment):
    response = client.post(report_url(comment), {"reason": "spam"}, **HX)

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == login_url(comment.get_absolute_url())
    assert not Report.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_unverified_user_cannot_report(client_for, comment, method):
    response = getattr(client_for("unverified_user"), method)(
        report_url(comment), {"reason": "spam"}
    )

    assert response.status_code == 403
    assert VERIFY in text_of(response)
    assert not Report.objects.exists()


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_a_reader_cannot_report_their_own_comment(reader_client, comment, headers):
    response = reader_client.post(report_url(comment), {"reason": "spam"}, **headers)

    assert response.status_code == 403
    assert OWN in text_of(response)
    assert not Report.objects.exists()


def test_reporting_a_comment_that_does_not_exist_is_a_404(client_for):
    response = client_for("other_reader").post("/c/999999/report/", {"reason": "spam"})

    assert response.status_code == 404
    assert not Report.objects.exists()


def test_the_report_form_offers_every_reason(client_for, comment):
    response = client_for("other_reader").get(report_url(comment))

    assert response.status_code == 200
    text = text_of(response)
    assert "Report a comment" in text
    assert BODY in text  # the comment being reported is quoted
    for value, label in ReportReason.choices:
        assert f'value="{value}"' in text
        assert str(label) in text


def test_the_htmx_report_form_is_a_fragment_that_replaces_the_reply_slot(client_for, comment):
    response = client_for("other_reader").get(report_url(comment), **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    assert f'id="reply-{comment.pk}"' in response.text
    assert 'name="reason"' in response.text


# --- report: filing one --------------------------------------------------------------------


def test_a_valid_report_is_saved_and_thanked(client_for, comment, other_reader):
    response = client_for("other_reader").post(
        report_url(comment), {"reason": "abuse", "text": "Insults the author."}
    )

    assert response.status_code == 200
    assert not is_fragment(response)
    assert THANKS in text_of(response)
    assert 'name="reason"' not in response.text  # the form is gone once it is sent
    report = Report.objects.get()
    assert (report.comment, report.reporter) == (comment, other_reader)
    assert (report.reason, report.text, report.resolved_at) == (
        "abuse",
        "Insults the author.",
        None,
    )
    assert status_of(comment) == CommentStatus.VISIBLE  # one report hides nothing
    assert not ModerationAction.objects.exists()


def test_a_valid_htmx_report_answers_with_a_fragment_in_place(client_for, comment):
    response = client_for("other_reader").post(report_url(comment), {"reason": "spam"}, **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    assert f'id="reply-{comment.pk}"' in response.text
    assert THANKS in text_of(response)
    assert Report.objects.count() == 1


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
@pytest.mark.parametrize("status", [CommentStatus.HIDDEN, CommentStatus.HELD, "deleted"])
def test_a_comment_out_of_sight_cannot_be_reported(client_for, comment, headers, status):
    if status == "deleted":
        forum_services.delete_comment(comment=comment)
    else:
        forum_services.set_comment_status(comment, status)

    response = client_for("other_reader").post(report_url(comment), {"reason": "spam"}, **headers)

    assert response.status_code == 409
    assert "This comment is no longer visible." in text_of(response)
    assert is_fragment(response) == bool(headers)
    assert not Report.objects.exists()


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_second_report_by_the_same_reader_is_a_409_and_still_one_row(
    client_for, comment, headers, method
):
    client = client_for("other_reader")
    assert client.post(report_url(comment), {"reason": "spam"}).status_code == 200

    response = getattr(client, method)(report_url(comment), {"reason": "abuse"}, **headers)

    assert response.status_code == 409
    assert ALREADY in text_of(response)
    assert is_fragment(response) == bool(headers)
    assert Report.objects.count() == 1
    assert Report.objects.get().reason == "spam"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "no reason"}, "This field is required."),
        ({"reason": ""}, "This field is required."),
        (
            {"reason": "boring"},
            "Select a valid choice. boring is not one of the available choices.",
        ),
        ({"reason": "SPAM"}, "Select a valid choice. SPAM is not one of the available choices."),
    ],
    ids=["missing", "empty", "unknown", "wrong-case"],
)
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_a_report_with_a_bad_reason_is_a_400_with_a_message_and_writes_nothing(
    client_for, comment, data, message, headers
):
    response = client_for("other_reader").post(report_url(comment), data, **headers)

    assert response.status_code == 400
    assert is_fragment(response) == bool(headers)
    assert message in text_of(response)
    assert 'name="reason"' in response.text  # the form is shown again
    assert not Report.objects.exists()


def test_details_too_long_are_a_400_that_says_so(client_for, comment):
    response = client_for("other_reader").post(
        report_url(comment), {"reason": "spam", "text": "x" * 1001}, **HX
    )

    assert response.status_code == 400
    assert not Report.objects.exists()
    assert "Ensure this value has at most 1000 characters" in text_of(response)


# --- report: enough trusted reports hold the comment ----------------------------------------


def report_as(user, comment: Comment, reason: str = "spam"):
    client = Client()
    client.force_login(user)
    return client.post(report_url(comment), {"reason": reason})


def test_three_reports_from_trusted_readers_hold_the_comment_for_review(client, article, comment):
    reporters = [trusted_user(f"veteran{i}") for i in range(3)]
    assert comment_count(article) == 1

    for reporter in reporters[:2]:
        assert report_as(reporter, comment).status_code == 200
        assert status_of(comment) == CommentStatus.VISIBLE  # not yet: 2 < REPORTS_TO_HIDE
    assert report_as(reporters[2], comment).status_code == 200

    assert status_of(comment) == CommentStatus.HELD
    hold = ModerationAction.objects.get()
    assert hold.moderator is None  # the system acted
    assert (hold.action, hold.comment, hold.user) == (Action.HOLD, comment, comment.author)
    assert (hold.before, hold.after, hold.reason) == ("visible", "held", "3 reports")
    assert comment_count(article) == 0
    page = article_page(client, article)
    assert BODY not in page.text
    assert "0 comments" in page.text


def test_a_held_comment_with_replies_leaves_a_tombstone(client, article, comment, other_reader):
    CommentFactory(parent=comment, author=other_reader, body="I disagree, politely.")
    for i in range(3):
        report_as(trusted_user(f"veteran{i}"), comment)

    page = article_page(client, article)

    assert status_of(comment) == CommentStatus.HELD
    assert comment_bodies(page.text) == ["I disagree, politely."]
    assert "[awaiting a moderator’s review]" in page.text
    assert comment_count(article) == 1


def test_reports_from_brand_new_accounts_do_not_hold_the_comment(client, article, comment):
    for i in range(5):
        assert report_as(UserFactory(display_name=f"fresh{i}"), comment).status_code == 200

    assert Report.objects.count() == 5
    assert status_of(comment) == CommentStatus.VISIBLE
    assert not ModerationAction.objects.exists()
    assert comment_count(article) == 1
    assert comment_bodies(article_page(client, article).text) == [BODY]


def test_new_accounts_do_not_make_up_the_numbers_for_trusted_ones(comment):
    for i in range(2):
        report_as(trusted_user(f"veteran{i}"), comment)
    for i in range(3):
        report_as(UserFactory(display_name=f"fresh{i}"), comment)

    assert status_of(comment) == CommentStatus.VISIBLE


def test_a_new_staff_account_counts_as_trusted(comment, moderator):
    for i in range(2):
        report_as(trusted_user(f"veteran{i}"), comment)
    report_as(moderator, comment)  # joined a moment ago, but staff

    assert status_of(comment) == CommentStatus.HELD
    assert ModerationAction.objects.filter(action=Action.HOLD).count() == 1


# --- hide and restore: who may --------------------------------------------------------------

DENIED = ["reader", "other_reader", "unverified_user", "other_column_author"]
DENIED += ["staff_without_permission"]
ALLOWED = ["column_author", "moderator", "admin_user"]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("endpoint", [hide_url, restore_url], ids=["hide", "restore"])
def test_anonymous_moderation_is_sent_to_log_in(client, comment, endpoint, method):
    response = getattr(client, method)(endpoint(comment), {"reason": "x"})

    assert response.status_code == 302
    assert response.url == login_url(comment.get_absolute_url())
    assert status_of(comment) == CommentStatus.VISIBLE


def test_anonymous_htmx_moderation_is_a_204_that_redirects_to_log_in(client, comment):
    response = client.post(hide_url(comment), {"reason": "x"}, **HX)

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == login_url(comment.get_absolute_url())


@pytest.mark.parametrize("persona", DENIED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_only_moderators_and_the_column_author_may_hide(client_for, comment, persona, method):
    response = getattr(client_for(persona), method)(hide_url(comment), {"reason": "x"})

    assert response.status_code == 403
    assert NOT_ALLOWED in text_of(response)
    assert status_of(comment) == CommentStatus.VISIBLE
    assert not ModerationAction.objects.exists()
    assert not Notification.objects.filter(kind=Kind.MODERATED).exists()


@pytest.mark.parametrize("persona", DENIED)
def test_only_moderators_and_the_column_author_may_restore(client_for, comment, persona):
    CommentFactory(parent=comment, body="A reply keeps the tombstone.")
    _hide(comment)

    response = client_for(persona).post(restore_url(comment), {"reason": "x"})

    assert response.status_code == 403
    assert NOT_ALLOWED in text_of(response)
    assert status_of(comment) == CommentStatus.HIDDEN
    assert ModerationAction.objects.count() == 1  # only the hide


def _hide(comment: Comment, reason: str = "setup") -> None:
    services.hide_comment(
        comment=Comment.objects.get(pk=comment.pk),
        by=UserFactory(is_staff=True, is_superuser=True),
        reason=reason,
    )


@pytest.mark.parametrize("persona", ALLOWED)
def test_the_hide_page_asks_for_confirmation_and_an_optional_reason(client_for, comment, persona):
    response = client_for(persona).get(hide_url(comment))

    assert response.status_code == 200
    text = text_of(response)
    assert "Hide this comment?" in text
    assert BODY in text
    assert 'name="reason"' in text
    assert "Reason (optional, shown to the author)" in text
    assert status_of(comment) == CommentStatus.VISIBLE  # a GET changes nothing
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize("persona", ALLOWED)
def test_hiding_a_comment_records_it_and_tells_the_author_why(
    request, client_for, article, comment, persona
):
    actor = request.getfixturevalue(persona)

    response = client_for(persona).post(hide_url(comment), {"reason": "Personal attack"})

    assert response.status_code == 302
    assert response.url == comment.get_absolute_url()
    assert status_of(comment) == CommentStatus.HIDDEN
    audit = ModerationAction.objects.get()
    assert (audit.moderator, audit.action, audit.comment, audit.user) == (
        actor,
        Action.HIDE,
        comment,
        comment.author,
    )
    assert (audit.reason, audit.before, audit.after) == ("Personal attack", "visible", "hidden")
    told = Notification.objects.get(recipient=comment.author)
    assert (told.kind, told.actor, told.comment, told.reason) == (
        Kind.MODERATED,
        actor,
        comment,
        "Personal attack",
    )
    assert comment_count(article) == 0


def test_a_hidden_comment_vanishes_from_the_article_page(client_for, article, comment):
    client_for("moderator").post(hide_url(comment), {"reason": "spam"})

    for persona in ("anonymous", "other_reader", "reader"):
        page = article_page(client_for(persona), article)
        assert BODY not in page.text
        assert HIDDEN_LABEL not in page.text  # no replies: nothing left to show
        assert "0 comments" in page.text


def test_a_hidden_comment_with_replies_leaves_a_tombstone(client_for, article, comment):
    CommentFactory(parent=comment, author=UserFactory(), body="Still worth reading.")

    client_for("moderator").post(hide_url(comment), {"reason": "spam"})

    page = article_page(client_for("other_reader"), article)
    assert BODY not in page.text
    assert HIDDEN_LABEL in page.text
    assert comment_bodies(page.text) == ["Still worth reading."]
    assert "1 comment" in page.text


def test_a_hidden_reply_vanishes_and_the_parent_counts_one_reply_less(client_for, article, comment):
    reply = CommentFactory(parent=comment, author=UserFactory(), body="Buy cheap watches.")
    comment.refresh_from_db()
    assert comment.reply_count == 1

    client_for("moderator").post(hide_url(reply), {"reason": "spam"})

    comment.refresh_from_db()
    assert comment.reply_count == 0
    page = article_page(client_for("other_reader"), article)
    assert comment_bodies(page.text) == [BODY]
    assert HIDDEN_LABEL not in page.text


def test_an_htmx_hide_refreshes_the_page(client_for, comment):
    response = client_for("moderator").post(hide_url(comment), {"reason": ""}, **HX)

    assert response.status_code == 204
    assert response.headers["HX-Refresh"] == "true"
    assert status_of(comment) == CommentStatus.HIDDEN


def test_the_reason_is_optional(client_for, comment):
    response = client_for("moderator").post(hide_url(comment), {"reason": ""})

    assert response.status_code == 302
    assert status_of(comment) == CommentStatus.HIDDEN
    assert ModerationAction.objects.get().reason == ""


def test_a_post_without_any_field_hides_with_an_empty_reason(client_for, comment):
    response = client_for("moderator").post(hide_url(comment), **HX)

    assert response.status_code == 204
    assert status_of(comment) == CommentStatus.HIDDEN


def test_a_reason_too_long_is_a_400_and_changes_nothing(client_for, comment):
    response = client_for("moderator").post(hide_url(comment), {"reason": "x" * 501})

    assert response.status_code == 400
    assert "Ensure this value has at most 500 characters (it has 501)." in text_of(response)
    assert status_of(comment) == CommentStatus.VISIBLE
    assert not ModerationAction.objects.exists()
    assert not Notification.objects.filter(kind=Kind.MODERATED).exists()


@pytest.mark.parametrize("persona", ALLOWED)
def test_restoring_brings_a_hidden_comment_back(client_for, request, article, comment, persona):
    actor = request.getfixturevalue(persona)
    client = client_for(persona)
    client.post(hide_url(comment), {"reason": "spam"})
    confirm = client.get(restore_url(comment))
    assert confirm.status_code == 200
    assert "Restore this comment?" in text_of(confirm)

    response = client.post(restore_url(comment), {"reason": "On a second look, fine"})

    assert response.status_code == 302
    assert status_of(comment) == CommentStatus.VISIBLE
    restore = ModerationAction.objects.filter(action=Action.RESTORE).get()
    assert (restore.moderator, restore.comment, restore.user) == (actor, comment, comment.author)
    assert (restore.reason, restore.before, restore.after) == (
        "On a second look, fine",
        "hidden",
        "visible",
    )
    assert ModerationAction.objects.count() == 2  # the hide and the restore
    assert comment_count(article) == 1
    assert comment_bodies(article_page(client_for("other_reader"), article).text) == [BODY]


def test_restoring_a_comment_held_by_reports_approves_it(client_for, article, comment):
    for i in range(3):
        report_as(trusted_user(f"veteran{i}"), comment)
    assert status_of(comment) == CommentStatus.HELD

    response = client_for("moderator").post(restore_url(comment), {"reason": "Not spam"})

    assert response.status_code == 302
    assert status_of(comment) == CommentStatus.VISIBLE
    approve = ModerationAction.objects.first()  # newest first
    assert (approve.action, approve.before, approve.after) == (Action.APPROVE, "held", "visible")
    assert not Report.objects.filter(resolved_at__isnull=True).exists()
    assert comment_count(article) == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_hiding_a_comment_that_is_already_hidden_is_a_409(client_for, comment, method):
    client = client_for("moderator")
    client.post(hide_url(comment), {"reason": "spam"})

    response = getattr(client, method)(hide_url(comment), {"reason": "again"})

    assert response.status_code == 409
    assert WRONG_STATE in text_of(response)
    assert ModerationAction.objects.count() == 1
    assert Notification.objects.filter(kind=Kind.MODERATED).count() == 1


def test_restoring_a_visible_comment_is_a_409(client_for, comment):
    response = client_for("moderator").post(restore_url(comment), {"reason": "x"})

    assert response.status_code == 409
    assert WRONG_STATE in text_of(response)
    assert not ModerationAction.objects.exists()


def test_a_comment_its_author_deleted_cannot_be_hidden_or_restored(client_for, comment):
    reader_client = client_for("reader")
    reader_client.post(reverse("forum:comment-delete", args=[comment.pk]))
    assert status_of(comment) == CommentStatus.REMOVED
    moderator = client_for("moderator")

    assert moderator.post(hide_url(comment), {}).status_code == 409
    assert moderator.post(restore_url(comment), {}).status_code == 409
    assert status_of(comment) == CommentStatus.REMOVED
    assert not ModerationAction.objects.exists()


# --- the controls on the article page ------------------------------------------------------


def hide_link(comment: Comment) -> str:
    return f'href="{hide_url(comment)}"'


def report_link(comment: Comment) -> str:
    return f'href="{report_url(comment)}"'


def restore_link(comment: Comment) -> str:
    return f'href="{restore_url(comment)}"'


@pytest.mark.parametrize(
    ("persona", "sees_hide"),
    [
        ("anonymous", False),
        ("reader", False),
        ("other_reader", False),
        ("unverified_user", False),
        ("other_column_author", False),
        ("staff_without_permission", False),
        ("column_author", True),
        ("moderator", True),
        ("admin_user", True),
    ],
)
def test_the_hide_link_shows_for_moderators_and_the_column_author_only(
    client_for, article, comment, persona, sees_hide
):
    page = article_page(client_for(persona), article)

    assert (hide_link(comment) in page.text) is sees_hide


@pytest.mark.parametrize(
    ("persona", "sees_report"),
    [
        ("anonymous", False),
        ("unverified_user", False),
        ("reader", False),  # their own comment
        ("other_reader", True),
        ("column_author", True),
        ("moderator", True),
    ],
)
def test_the_report_link_shows_for_verified_readers_on_others_comments(
    client_for, article, comment, persona, sees_report
):
    page = article_page(client_for(persona), article)

    assert (report_link(comment) in page.text) is sees_report


def test_a_reader_sees_report_on_others_comments_but_not_on_their_own(
    reader_client, article, comment, other_reader
):
    theirs = CommentFactory(article=article, author=other_reader, body="Someone else's view.")

    page = article_page(reader_client, article)

    assert report_link(theirs) in page.text
    assert report_link(comment) not in page.text


@pytest.mark.parametrize(
    ("persona", "sees_restore"),
    [
        ("anonymous", False),
        ("other_reader", False),
        ("reader", False),
        ("column_author", True),
        ("moderator", True),
    ],
)
def test_the_restore_link_shows_on_a_hidden_tombstone_for_those_who_moderate(
    client_for, article, comment, persona, sees_restore
):
    CommentFactory(parent=comment, body="A reply keeps the tombstone.")
    _hide(comment)

    page = article_page(client_for(persona), article)

    assert HIDDEN_LABEL in page.text
    assert (restore_link(comment) in page.text) is sees_restore
    assert hide_link(comment) not in page.text  # hidden already


def test_the_page_changes_as_soon_as_a_comment_is_hidden(client_for, article, comment):
    """The discussion is cached per thread version: hiding must not leave a stale page."""
    other = client_for("other_reader")
    assert comment_bodies(article_page(other, article).text) == [BODY]

    client_for("column_author").post(hide_url(comment), {"reason": "off-topic"})

    assert BODY not in article_page(other, article).text
