"""The moderation desk in the admin: who reaches what, the queue's decisions and their audit rows,
suspensions from the User admin, the read-only audit log and reports, and the dashboard."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import User
from forum import services as forum_services
from forum.enums import CommentStatus
from forum.models import Comment
from moderation import dashboard, services
from moderation.enums import Action, ReportReason
from moderation.models import ModerationAction, Report
from notifications.models import Notification
from tests.factories import CommentFactory, UserFactory, moderators_group

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "reader", "column_author", "plain_staff", "moderator", "admin_user"]
# What each persona gets on a page of the desk: non-staff are sent to the admin's login, staff
# without the moderation permissions are refused, moderators and superusers see it.
EXPECTED = {
    "anonymous": 302,
    "reader": 302,
    "column_author": 302,
    "plain_staff": 403,
    "moderator": 200,
    "admin_user": 200,
}


@pytest.fixture(autouse=True)
def _moderators_group(db):
    moderators_group()


@pytest.fixture
def plain_staff(db):
    """Staff without any permission (e.g. someone who only imports legacy pages)."""
    return UserFactory(display_name="plain_staff", is_staff=True)


@pytest.fixture
def writer(db):
    """A comment author with some history."""
    return UserFactory(display_name="writer", date_joined=timezone.now() - timedelta(days=400))


@pytest.fixture
def reported(article, writer, other_reader):
    comment = CommentFactory(article=article, author=writer, body="Buy cheap watches here")
    services.report_comment(
        comment=comment, reporter=other_reader, reason=ReportReason.SPAM, text="an advert"
    )
    return comment


@pytest.fixture
def held(article, writer):
    comment = CommentFactory(article=article, author=writer, body="Held for a look")
    forum_services.set_comment_status(comment, CommentStatus.HELD)
    ModerationAction.objects.create(
        action=Action.HOLD, comment=comment, user=writer, reason="new account, link in comment"
    )
    return comment


def client_for(persona: str, request) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    return client


def assert_status(response, persona: str, expected: int | None = None) -> None:
    expected = expected or EXPECTED[persona]
    assert response.status_code == expected, (persona, response.status_code)
    if expected == 302 and EXPECTED[persona] == 302:
        assert response.url.startswith(reverse("admin:login"))


def queue_url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("admin:moderation_queue") + (f"?{query}" if query else "")


def act_url(comment, action: str) -> str:
    return reverse("admin:moderation_queue_act", args=[comment.pk, action])


def rows() -> list[ModerationAction]:
    """Audit rows written by people (the automatic HOLD rows of the fixtures left out)."""
    return list(ModerationAction.objects.exclude(moderator=None).order_by("id"))


# --- Who reaches what ----------------------------------------------------------------------


PAGES = {
    "queue": lambda c: queue_url(),
    "queue-held": lambda c: queue_url(kind="held"),
    "audit log": lambda c: reverse("admin:moderation_moderationaction_changelist"),
    "audit row": lambda c: reverse(
        "admin:moderation_moderationaction_change",
        args=[ModerationAction.objects.filter(comment=c).first().pk],
    ),
    "reports": lambda c: reverse("admin:moderation_report_changelist"),
    "report": lambda c: reverse("admin:moderation_report_change", args=[c.reports.get().pk]),
    "comments": lambda c: reverse("admin:forum_comment_changelist"),
    "comment": lambda c: reverse("admin:forum_comment_change", args=[c.pk]),
    "users": lambda c: reverse("admin:accounts_user_changelist"),
    "user": lambda c: reverse("admin:accounts_user_change", args=[c.author_id]),
}


@pytest.mark.parametrize("persona", PERSONAS)
# (Not called "page": that is pytest-playwright's fixture, and would make these browser tests.)
@pytest.mark.parametrize("desk_page", PAGES)
def test_permission_matrix_of_the_desk_pages(request, reported, persona, desk_page):
    ModerationAction.objects.create(action=Action.HOLD, comment=reported, user=reported.author)
    url = PAGES[desk_page](reported)

    response = client_for(persona, request).get(url)

    assert_status(response, persona)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", ["approve", "hide", "remove", "ban"])
def test_permission_matrix_of_the_queue_actions(request, reported, persona, action):
    response = client_for(persona, request).post(act_url(reported, action), {"reason": "r"})

    allowed = persona in ("moderator", "admin_user")
    assert_status(response, persona, 302 if allowed else None)
    if allowed:
        assert response.url == queue_url()
    assert len(rows()) == ({"ban": 2}.get(action, 1) if allowed else 0)


@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_matrix_of_the_bulk_endpoint(request, reported, persona):
    response = client_for(persona, request).post(
        queue_url(), {"bulk_action": "hide", "selected": [reported.pk]}
    )

    allowed = persona in ("moderator", "admin_user")
    assert_status(response, persona, 302 if allowed else None)
    assert Comment.objects.get(pk=reported.pk).status == (
        CommentStatus.HIDDEN if allowed else CommentStatus.VISIBLE
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_dashboard_shows_to_moderators_and_superusers_only(request, reported, persona):
    response = client_for(persona, request).get(reverse("admin:index"))

    if persona in ("anonymous", "reader", "column_author"):
        assert_status(response, persona)
        return
    assert response.status_code == 200
    shown = 'data-testid="queue-size"' in response.text
    assert shown == (persona in ("moderator", "admin_user"))


def test_queue_endpoints_refuse_get_and_need_csrf(reported, moderator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(moderator)

    assert client.get(act_url(reported, "hide")).status_code == 405
    assert client.post(act_url(reported, "hide"), {"reason": "x"}).status_code == 403
    assert (
        client.post(queue_url(), {"bulk_action": "hide", "selected": reported.pk}).status_code
        == 403
    )
    assert rows() == []
    page = client.get(queue_url())
    assert 'name="csrfmiddlewaretoken"' in page.text


def test_unknown_queue_action_is_404(client, reported, moderator):
    client.force_login(moderator)
    assert client.post(act_url(reported, "delete"), {}).status_code == 404


# --- Moderators cannot escalate ----------------------------------------------------------------


def test_moderator_sees_a_superuser_read_only(client, moderator, admin_user):
    client.force_login(moderator)

    response = client.get(reverse("admin:accounts_user_change", args=[admin_user.pk]))

    assert response.status_code == 200
    assert "View user" in response.text
    assert 'name="is_superuser"' not in response.text
    assert 'name="email"' not in response.text
    assert "_save" not in response.text
    # No password row (its link would only lead to a 403).
    assert "/password/" not in response.text


@pytest.mark.parametrize("target", ["reader", "admin_user", "moderator"])
def test_moderator_cannot_post_changes_to_users(client, request, moderator, target):
    user = request.getfixturevalue(target)
    before = (user.is_staff, user.is_superuser, list(user.groups.all()), user.email)
    client.force_login(moderator)
    everything = Permission.objects.values_list("pk", flat=True)

    response = client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        {
            "email": "taken-over@example.com",
            "display_name": user.display_name,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [Group.objects.get_or_create(name="Moderators")[0].pk],
            "user_permissions": list(everything),
            "date_joined_0": "2020-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == 403
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser, list(user.groups.all()), user.email) == before
    assert not user.user_permissions.exists()


@pytest.mark.parametrize("target", ["reader", "admin_user", "moderator"])
def test_moderator_cannot_reach_the_password_form(client, request, moderator, target):
    user = request.getfixturevalue(target)
    hashed = user.password
    client.force_login(moderator)
    url = reverse("admin:auth_user_password_change", args=[user.pk])

    assert client.get(url).status_code == 403
    response = client.post(url, {"password1": "n3w-Secret-pass!", "password2": "n3w-Secret-pass!"})

    assert response.status_code == 403
    user.refresh_from_db()
    assert user.password == hashed


@pytest.mark.parametrize(
    "url",
    [
        "admin:accounts_user_add",
        "admin:auth_group_changelist",
        "admin:auth_group_add",
        "admin:forum_importjob_changelist",
        "admin:forum_comment_add",
        "admin:sites_site_changelist",
    ],
)
def test_moderator_is_refused_everything_else(client, moderator, url):
    client.force_login(moderator)
    assert client.get(reverse(url)).status_code == 403


def test_moderator_cannot_edit_or_delete_comments_or_users(client, moderator, reported, reader):
    client.force_login(moderator)

    delete_user = reverse("admin:accounts_user_delete", args=[reader.pk])
    delete_comment = reverse("admin:forum_comment_delete", args=[reported.pk])
    assert client.post(delete_user, {"post": "yes"}).status_code == 403
    assert client.post(delete_comment, {"post": "yes"}).status_code == 403
    response = client.post(
        reverse("admin:forum_comment_change", args=[reported.pk]), {"status": "hidden"}
    )
    assert response.status_code == 403
    assert User.objects.filter(pk=reader.pk).exists()
    assert Comment.objects.get(pk=reported.pk).status == CommentStatus.VISIBLE


def test_moderators_have_exactly_the_desk_permissions(moderator):
    assert moderator.get_all_permissions() == {
        "moderation.moderate",
        "moderation.view_report",
        "moderation.view_moderationaction",
        "forum.view_comment",
        "forum.view_commentrevision",
        "forum.view_article",
        "forum.view_column",
        "accounts.view_user",
    }


# --- Queue decisions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "after", "recorded"),
    [
        ("approve", CommentStatus.VISIBLE, Action.APPROVE),
        ("hide", CommentStatus.HIDDEN, Action.HIDE),
        ("remove", CommentStatus.REMOVED, Action.REMOVE),
    ],
)
def test_each_queue_decision_writes_one_audit_row(
    client, moderator, reported, action, after, recorded
):
    client.force_login(moderator)

    response = client.post(
        act_url(reported, action), {f"reason-{reported.pk}": "Advertising", "next": queue_url()}
    )

    assert response.status_code == 302
    (row,) = rows()
    assert (row.moderator, row.action, row.reason) == (moderator, recorded, "Advertising")
    assert (row.comment_id, row.user_id) == (reported.pk, reported.author_id)
    assert (row.before, row.after) == (CommentStatus.VISIBLE, after)
    assert Comment.objects.get(pk=reported.pk).status == after
    assert not Report.objects.filter(resolved_at__isnull=True).exists()
    assert client.get(queue_url()).context["page"].paginator.count == 0


def test_hide_tells_the_author_why(client, moderator, reported):
    client.force_login(moderator)

    client.post(act_url(reported, "hide"), {f"reason-{reported.pk}": "No ads, please"})

    notification = Notification.objects.get(recipient=reported.author, kind="moderated")
    assert notification.reason == "No ads, please"
    assert notification.comment_id == reported.pk


def test_approving_a_held_comment_shows_it(client, moderator, held):
    client.force_login(moderator)

    client.post(act_url(held, "approve"), {"reason": ""})

    (row,) = rows()
    assert (row.action, row.before, row.after) == (Action.APPROVE, "held", "visible")
    assert Comment.objects.get(pk=held.pk).status == CommentStatus.VISIBLE


def test_ban_author_hides_the_comment_and_bans_its_author(client, moderator, reported):
    client.force_login(moderator)

    client.post(act_url(reported, "ban"), {f"reason-{reported.pk}": "Spammer"})

    hide, ban = rows()
    assert (hide.action, hide.comment_id, hide.before, hide.after) == (
        Action.HIDE,
        reported.pk,
        "visible",
        "hidden",
    )
    assert (ban.action, ban.user_id, ban.reason, ban.moderator) == (
        Action.BAN,
        reported.author_id,
        "Spammer",
        moderator,
    )
    author = User.objects.get(pk=reported.author_id)
    assert author.is_banned and author.suspension_reason == "Spammer"


def test_a_moderator_cannot_ban_staff_from_the_queue(client, moderator, article, plain_staff):
    comment = CommentFactory(article=article, author=plain_staff)
    services.report_comment(comment=comment, reporter=moderator, reason=ReportReason.ABUSE)
    client.force_login(moderator)

    response = client.post(act_url(comment, "ban"), {"reason": "x"}, follow=True)

    assert "only a superuser can suspend or ban staff" in response.text
    assert rows() == []
    assert not User.objects.get(pk=plain_staff.pk).is_suspended


def test_a_decision_on_a_comment_no_longer_in_the_queue_changes_nothing(
    client, moderator, reported
):
    services.hide_comment(comment=reported, by=moderator, reason="first")
    client.force_login(moderator)

    response = client.post(act_url(reported, "remove"), {"reason": "second"}, follow=True)

    assert "no longer in the queue" in response.text
    assert [row.reason for row in rows()] == ["first"]
    assert Comment.objects.get(pk=reported.pk).status == CommentStatus.HIDDEN


def test_a_decision_the_service_declines_is_not_claimed_done(
    client, moderator, reported, monkeypatch
):
    """E.g. another moderator decided between the check and the service's conditional update:
    the service writes no audit row, and the queue says so instead of "hidden"."""
    monkeypatch.setattr(services, "hide_comment", lambda *, comment, by, reason="": comment)
    client.force_login(moderator)

    response = client.post(act_url(reported, "ban"), {"reason": "x"}, follow=True)

    assert "no longer in the queue" in response.text
    assert rows() == []
    assert not User.objects.get(pk=reported.author_id).is_suspended


def test_comments_hidden_with_a_suspension_leave_the_queue(client, moderator, reported):
    services.suspend_user(
        user=reported.author,
        by=moderator,
        until=timezone.now() + timedelta(days=1),
        reason="cool off",
        hide_comments=True,
    )
    client.force_login(moderator)

    response = client.get(queue_url())

    assert Comment.objects.get(pk=reported.pk).status == CommentStatus.HIDDEN
    assert response.context["page"].paginator.count == 0


def test_a_too_long_reason_is_refused(client, moderator, reported):
    client.force_login(moderator)

    response = client.post(act_url(reported, "hide"), {"reason": "x" * 501}, follow=True)

    assert response.status_code == 200
    assert rows() == []
    assert "at most 500 characters" in response.text


def test_bulk_hide_of_three_comments_writes_three_rows(client, moderator, article, other_reader):
    comments = [CommentFactory(article=article, body=f"Spam {n}") for n in range(4)]
    for comment in comments:
        services.report_comment(comment=comment, reporter=other_reader, reason="spam")
    client.force_login(moderator)

    response = client.post(
        queue_url(),
        {
            "bulk_action": "hide",
            "bulk_reason": "Spam wave",
            "selected": [c.pk for c in comments[:3]],
            "next": queue_url(kind="reported"),
        },
        follow=True,
    )

    assert response.redirect_chain[-1][0] == queue_url(kind="reported")
    assert "Hide: 3 comments." in response.text
    written = rows()
    assert len(written) == 3
    assert {r.comment_id for r in written} == {c.pk for c in comments[:3]}
    assert {(r.action, r.reason, r.moderator_id) for r in written} == {
        (Action.HIDE, "Spam wave", moderator.pk)
    }
    assert [
        c.status for c in Comment.objects.filter(pk__in=[c.pk for c in comments]).order_by("pk")
    ] == [
        "hidden",
        "hidden",
        "hidden",
        "visible",
    ]


def test_bulk_ban_bans_each_author_once(client, moderator, article, writer, other_reader):
    comments = [CommentFactory(article=article, author=writer) for _ in range(2)]
    for comment in comments:
        services.report_comment(comment=comment, reporter=other_reader, reason="abuse")
    client.force_login(moderator)

    client.post(queue_url(), {"bulk_action": "ban", "selected": [c.pk for c in comments]})

    assert sorted(r.action for r in rows()) == [Action.BAN, Action.HIDE, Action.HIDE]


def test_bulk_without_selection_or_action_changes_nothing(client, moderator, reported):
    client.force_login(moderator)

    nothing = client.post(queue_url(), {"bulk_action": "hide"}, follow=True)
    no_action = client.post(queue_url(), {"selected": [reported.pk]}, follow=True)

    assert "Select comments in the queue first" in nothing.text
    assert "Choose what to do" in no_action.text
    assert rows() == []


def test_unsafe_next_is_ignored(client, moderator, reported):
    client.force_login(moderator)
    response = client.post(act_url(reported, "hide"), {"next": "https://evil.example/"})
    assert response.url == queue_url()


# --- The queue page -------------------------------------------------------------------------


def test_queue_lists_reported_and_held_comments_oldest_first_with_context(
    client, moderator, article, writer, other_reader, reader
):
    now = timezone.now()
    parent = forum_services.post_comment(
        article=article, author=reader, body="What about sidecars?", created_at=now - timedelta(2)
    )
    reply = forum_services.post_comment(
        article=article, author=writer, parent=parent, body="Visit spam.example"
    )
    Report.objects.create(
        comment=reply,
        reporter=other_reader,
        reason=ReportReason.SPAM,
        text="link farm",
        created_at=now - timedelta(hours=5),
    )
    held = forum_services.post_comment(
        article=article, author=writer, body="A held one", created_at=now - timedelta(hours=2)
    )
    forum_services.set_comment_status(held, CommentStatus.HELD)
    ModerationAction.objects.create(
        action=Action.HOLD, comment=held, user=writer, reason="new account, link in comment"
    )
    services.hide_comment(comment=CommentFactory(article=article, author=writer), by=moderator)
    CommentFactory(article=article, body="Fine and unreported")
    client.force_login(moderator)

    response = client.get(queue_url())

    assert response.status_code == 200
    items = list(response.context["page"].object_list)
    assert [c.pk for c in items] == [reply.pk, held.pk]
    text = response.text
    assert "What about sidecars?" in text  # the parent, for context
    assert "Why Pods?" in text and "Deep Kubernetes" in text
    assert "link farm" in text and "Spam" in text
    assert "new account, link in comment" in text
    first = items[0]
    assert first.author_comments == 3 and first.author_sanctions == 1
    assert f'href="{reply.get_absolute_url()}"' in text
    assert [c.pk for c in client.get(queue_url(kind="held")).context["page"]] == [held.pk]
    assert [c.pk for c in client.get(queue_url(kind="reported")).context["page"]] == [reply.pk]


def test_queue_shows_comment_text_escaped(client, moderator, article, other_reader):
    comment = CommentFactory(article=article, body="<img src=x onerror=alert(1)> hello")
    services.report_comment(comment=comment, reporter=other_reader, reason="abuse")
    client.force_login(moderator)

    text = client.get(queue_url()).text

    assert "&lt;img src=x onerror=alert(1)&gt; hello" in text
    assert "<img src=x" not in text


def _queue_with(count, article, reporter):
    for n in range(count):
        comment = CommentFactory(
            article=article, author=UserFactory(), parent=None, body=f"Bad {n}"
        )
        if n:
            comment = CommentFactory(article=article, parent=comment, body=f"Reply {n}")
        services.report_comment(comment=comment, reporter=reporter, reason="spam")
        services.report_comment(comment=comment, reporter=UserFactory(), reason="abuse")


@pytest.mark.parametrize("count", [3, 30])
def test_queue_queries_are_bounded(
    client, moderator, article, other_reader, count, django_assert_max_num_queries
):
    _queue_with(count, article, other_reader)
    client.force_login(moderator)
    client.get(queue_url())  # session, permissions cache

    # user, permissions (2), the tab counts (3), the page, its reports: 8, whatever the size.
    with django_assert_max_num_queries(8):
        response = client.get(queue_url())

    assert len(response.context["page"].object_list) == count
    assert response.text.count('data-testid="queue-item"') == count


def test_queue_query_count_does_not_grow(client, moderator, article, other_reader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(moderator)

    def measure() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(queue_url())
        return len(captured)

    _queue_with(3, article, other_reader)
    few = measure()
    _queue_with(27, article, other_reader)
    many = measure()
    assert few == many


def test_empty_queue_says_so(client, moderator):
    client.force_login(moderator)
    response = client.get(queue_url())
    assert "Nothing is waiting for a moderator." in response.text


def test_desk_pages_have_no_inline_styles_or_scripts(client, moderator, reported, writer):
    client.force_login(moderator)
    pages = [
        client.get(queue_url()),
        client.get(reverse("admin:index")),
        client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "suspend_users", "_selected_action": [writer.pk], "index": 0},
        ),
    ]
    for response in pages:
        assert response.status_code == 200
        assert not re.search(r"\sstyle=", response.text)
        assert not re.search(r"\son[a-z]+=", response.text)
        assert not re.search(r"<script(?![^>]*\ssrc=)", response.text)


# --- Audit log and reports are read-only ------------------------------------------------------


@pytest.mark.parametrize("persona", ["moderator", "admin_user"])
def test_audit_log_refuses_add_change_delete(client, request, reported, persona):
    services.hide_comment(comment=reported, by=request.getfixturevalue("moderator"))
    row = ModerationAction.objects.get(comment=reported, action=Action.HIDE)
    client.force_login(request.getfixturevalue(persona))
    change = reverse("admin:moderation_moderationaction_change", args=[row.pk])
    delete = reverse("admin:moderation_moderationaction_delete", args=[row.pk])

    assert client.get(reverse("admin:moderation_moderationaction_add")).status_code == 403
    assert client.post(reverse("admin:moderation_moderationaction_add"), {}).status_code == 403
    view = client.get(change)
    assert view.status_code == 200 and "_save" not in view.text
    assert client.post(change, {"reason": "rewritten", "action": "approve"}).status_code == 403
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    bulk_delete = client.post(
        reverse("admin:moderation_moderationaction_changelist"),
        {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
    )
    assert bulk_delete.status_code in (200, 302)
    row.refresh_from_db()
    assert (row.action, row.reason) == (Action.HIDE, "")


def test_audit_log_lists_filters_and_searches(client, moderator, admin_user, reported, writer):
    services.approve_comment(comment=reported, by=moderator, reason="fine after all")
    services.suspend_user(
        user=writer, by=admin_user, until=timezone.now() + timedelta(days=1), reason="cool off"
    )
    client.force_login(moderator)
    url = reverse("admin:moderation_moderationaction_changelist")

    everything = client.get(url)
    assert everything.status_code == 200
    assert "fine after all" in everything.text and "cool off" in everything.text
    assert "Moderation queue" in everything.text
    assert client.get(url, {"action__exact": "suspend"}).context["cl"].result_count == 1
    assert client.get(url, {"moderator__id__exact": admin_user.pk}).context["cl"].result_count == 1
    assert client.get(url, {"q": "cool"}).context["cl"].result_count == 1
    assert client.get(url, {"q": "writer"}).context["cl"].result_count == 2
    assert client.get(url, {"q": str(reported.pk)}).context["cl"].result_count >= 1
    assert client.get(url, {"user__id__exact": writer.pk}).context["cl"].result_count == 2
    since = str(dashboard.local_midnight(timezone.localdate()))
    assert client.get(url, {"created_at__gte": since}).context["cl"].result_count == 2


def test_reports_admin_is_read_only_and_filters_open_ones(
    client, admin_user, moderator, reported, article, other_reader
):
    resolved = CommentFactory(article=article)
    services.report_comment(comment=resolved, reporter=other_reader, reason="off_topic")
    services.approve_comment(comment=resolved, by=moderator)
    client.force_login(admin_user)
    url = reverse("admin:moderation_report_changelist")

    assert client.get(url, {"state": "open"}).context["cl"].result_count == 1
    assert client.get(url, {"state": "resolved"}).context["cl"].result_count == 1
    assert client.get(url, {"comment__id__exact": reported.pk}).context["cl"].result_count == 1
    report = reported.reports.get()
    assert client.get(reverse("admin:moderation_report_add")).status_code == 403
    change = reverse("admin:moderation_report_change", args=[report.pk])
    assert client.post(change, {"reason": "other"}).status_code == 403
    delete = reverse("admin:moderation_report_delete", args=[report.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Report.objects.count() == 2


# --- Comment admin ---------------------------------------------------------------------------


def test_comment_admin_filters_search_permalink_and_history(
    client, moderator, reported, article, reader
):
    other = CommentFactory(article=article, author=reader, body="Unrelated words")
    forum_services.edit_comment(comment=other, body="Unrelated words, edited")
    client.force_login(moderator)
    url = reverse("admin:forum_comment_changelist")

    def ids(**params):
        return {c.pk for c in client.get(url, params).context["cl"].result_list}

    assert ids(reported="open") == {reported.pk}
    assert ids(reported="never") == {other.pk}
    assert ids(q="cheap watches") == {reported.pk}
    assert ids(q="reader") == {other.pk}
    assert ids(q="Why Pods") == {reported.pk, other.pk}
    assert ids(status__exact="visible") == {reported.pk, other.pk}
    assert ids(**{"legacy_key__isempty": "1"}) == {reported.pk, other.pk}
    page = client.get(reverse("admin:forum_comment_change", args=[other.pk]))
    assert page.status_code == 200
    assert f'href="{other.get_absolute_url()}"' in page.text
    assert "Unrelated words</" in page.text or "Unrelated words\n" in page.text  # the revision
    assert "comment revisions" in page.text.lower()


def test_superuser_cannot_add_or_change_comment_state_in_the_comment_admin(
    client, admin_user, reported
):
    client.force_login(admin_user)

    assert client.get(reverse("admin:forum_comment_add")).status_code == 403
    client.post(
        reverse("admin:forum_comment_change", args=[reported.pk]),
        {"status": "hidden", "body_md": "rewritten", "is_featured": "on"},
    )

    comment = Comment.objects.get(pk=reported.pk)
    assert (comment.status, comment.body_md) == ("visible", "Buy cheap watches here")


# --- Users: suspend, ban, lift -----------------------------------------------------------------


def users_url() -> str:
    return reverse("admin:accounts_user_changelist")


def test_moderator_suspends_a_reader_from_the_user_list(client, moderator, writer, article):
    CommentFactory(article=article, author=writer, body="still here")
    client.force_login(moderator)
    selection = {"action": "suspend_users", "_selected_action": [writer.pk]}

    confirm = client.post(users_url(), {**selection, "index": 0})
    assert confirm.status_code == 200
    assert "Suspend users" in confirm.text and 'name="days"' in confirm.text
    response = client.post(
        users_url(),
        {**selection, "confirm": "yes", "days": 7, "reason": "Heated", "hide_comments": "on"},
    )

    assert response.status_code == 302
    writer.refresh_from_db()
    assert writer.is_suspended and not writer.is_banned
    assert abs(writer.suspended_until - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert writer.suspension_reason == "Heated"
    (row,) = rows()
    assert (row.action, row.user_id, row.moderator, row.reason) == (
        Action.SUSPEND,
        writer.pk,
        moderator,
        "Heated",
    )
    assert not Comment.objects.filter(author=writer, status=CommentStatus.VISIBLE).exists()


def test_suspension_needs_a_reason(client, moderator, writer):
    client.force_login(moderator)

    response = client.post(
        users_url(),
        {"action": "suspend_users", "_selected_action": [writer.pk], "confirm": "yes", "days": 3},
    )

    assert response.status_code == 400
    assert rows() == []
    writer.refresh_from_db()
    assert writer.suspended_until is None


def test_moderator_bans_and_lifts_from_the_user_page(client, moderator, writer):
    client.force_login(moderator)
    url = reverse("admin:accounts_user_change", args=[writer.pk])
    page = client.get(url)
    assert 'name="CHANGE_FORM-action"' in page.text
    assert "Ban…" in page.text and "Suspend…" in page.text
    selection = {"CHANGE_FORM-action": "ban_users", "_selected_action": writer.pk}

    confirm = client.post(url, selection)
    assert confirm.status_code == 200 and "Ban users" in confirm.text
    client.post(url, {**selection, "confirm": "yes", "reason": "Repeated abuse"})
    writer.refresh_from_db()
    assert writer.is_banned

    lift = {"CHANGE_FORM-action": "lift_suspensions", "_selected_action": writer.pk}
    client.post(url, {**lift, "confirm": "yes", "reason": "Appeal accepted"})

    writer.refresh_from_db()
    assert writer.suspended_until is None
    assert [(r.action, r.reason) for r in rows()] == [
        (Action.BAN, "Repeated abuse"),
        (Action.LIFT, "Appeal accepted"),
    ]
    history = client.get(url).text
    assert "Repeated abuse" in history and "Appeal accepted" in history


@pytest.mark.parametrize("target", ["plain_staff", "admin_user", "moderator"])
def test_moderator_cannot_suspend_staff_superusers_or_themselves(
    client, request, moderator, target
):
    user = request.getfixturevalue(target)
    client.force_login(moderator)

    response = client.post(
        users_url(),
        {
            "action": "ban_users",
            "_selected_action": [user.pk],
            "confirm": "yes",
            "reason": "coup",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert rows() == []
    user.refresh_from_db()
    assert user.suspended_until is None
    assert "errornote" not in response.text
    assert re.search(r"superuser|your own account", response.text)


def test_mixed_selection_acts_on_readers_and_says_who_was_left_out(
    client, moderator, writer, plain_staff
):
    client.force_login(moderator)
    selection = {"action": "suspend_users", "_selected_action": [writer.pk, plain_staff.pk]}

    confirm = client.post(users_url(), {**selection, "index": 0})
    assert "Left out" in confirm.text and "plain_staff is staff" in confirm.text
    client.post(users_url(), {**selection, "confirm": "yes", "days": 1, "reason": "r"})

    assert [r.user_id for r in rows()] == [writer.pk]


def test_lift_refuses_users_who_are_not_suspended(client, moderator, writer):
    client.force_login(moderator)
    response = client.post(
        users_url(),
        {"action": "lift_suspensions", "_selected_action": [writer.pk], "index": 0},
        follow=True,
    )
    assert "Writer is not suspended" in response.text  # the admin capitalises messages
    assert rows() == []


def test_superuser_may_suspend_staff_but_not_superusers(client, admin_user, plain_staff):
    other_admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)

    client.post(
        users_url(),
        {
            "action": "suspend_users",
            "_selected_action": [plain_staff.pk, other_admin.pk],
            "confirm": "yes",
            "days": 1,
            "reason": "r",
        },
    )

    assert [r.user_id for r in rows()] == [plain_staff.pk]


def test_plain_staff_with_change_user_cannot_run_moderation_actions(client, reader):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_user"))
    client.force_login(staff)

    response = client.post(
        users_url(),
        {"action": "ban_users", "_selected_action": [reader.pk], "confirm": "yes", "reason": "r"},
    )

    assert response.status_code in (200, 302)
    reader.refresh_from_db()
    assert reader.suspended_until is None
    assert rows() == []


def test_suspension_fields_are_read_only_even_for_superusers(client, admin_user, writer):
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_change", args=[writer.pk])

    page = client.get(url)

    assert page.status_code == 200
    assert 'name="suspended_until' not in page.text
    assert 'name="suspension_reason"' not in page.text


def test_user_list_shows_and_filters_suspensions(client, moderator, writer, reader):
    services.ban_user(user=writer, by=moderator, reason="r")
    services.suspend_user(
        user=reader, by=moderator, until=timezone.now() + timedelta(days=2), reason="r"
    )
    client.force_login(moderator)

    def names(value):
        cl = client.get(users_url(), {"suspension": value}).context["cl"]
        return {u.display_name for u in cl.result_list}

    assert names("banned") == {"writer"}
    assert names("suspended") == {"reader"}
    assert "writer" not in names("none") and "moderator" in names("none")


# --- Dashboard -------------------------------------------------------------------------------


def test_dashboard_numbers_for_seeded_data(client, moderator, article, writer, other_reader):
    today = timezone.localdate()
    three_days_ago = today - timedelta(days=3)
    at_noon = dashboard.local_midnight(three_days_ago) + timedelta(hours=12)
    for n in range(4):
        forum_services.post_comment(
            article=article, author=writer, body=f"Old {n}", created_at=at_noon
        )
    UserFactory(date_joined=at_noon)
    now_comments = [CommentFactory(article=article, author=writer) for _ in range(3)]
    for comment in now_comments[:2]:
        services.report_comment(comment=comment, reporter=other_reader, reason="spam")
    Report.objects.create(
        comment=now_comments[2],
        reporter=other_reader,
        reason="spam",
        created_at=dashboard.local_midnight(today) - timedelta(minutes=5),
    )
    client.force_login(moderator)

    response = client.get(reverse("admin:index"))

    text = response.text
    assert re.search(r'data-testid="queue-size">\s*<span class="md-number">3<', text)
    assert re.search(r'data-testid="reports-today">\s*<span class="md-number">2<', text)
    day = date_format(three_days_ago, "DATE_FORMAT")
    assert f"<title>{day}: 4 comments</title>" in text
    assert f"<title>{day}: 1 new user</title>" in text
    assert f"<title>{date_format(today, 'DATE_FORMAT')}: 3 comments</title>" in text
    assert "7 comments in the last 30 days" in text
    # The table fallback has the same numbers.
    assert re.search(rf"<td>{re.escape(day)}</td><td>4</td>", text)


def test_dashboard_series_are_one_query_each(django_assert_num_queries, article):
    CommentFactory(article=article)
    with django_assert_num_queries(4):  # queue size, reports today, comments, users
        board = dashboard.build()
    comments = board.charts[0]
    assert len(comments.bars) == 30
    assert comments.bars[-1].day == timezone.localdate()
    assert comments.total == 1 and comments.scale_top == 1
    assert all(bar.height >= 0 and bar.y <= comments.baseline for bar in comments.bars)


def test_dashboard_counts_days_in_local_time(settings, article):
    settings.TIME_ZONE = "Asia/Shanghai"
    today = timezone.localdate()
    # 00:30 local today is still yesterday in UTC.
    just_after_midnight = dashboard.local_midnight(today) + timedelta(minutes=30)
    forum_services.post_comment(
        article=article, author=UserFactory(), body="early", created_at=just_after_midnight
    )
    counts = dashboard.per_day(
        Comment.objects.all(), "created_at", first_day=today - timedelta(days=1), days=2
    )
    assert counts == {today - timedelta(days=1): 0, today: 1}
