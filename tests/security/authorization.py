"""The world the authorization matrix runs in, and how one request's outcome is read.

Every persona acts on the same objects: a column by `author` with one article, a comment by
`reader` (with a reply, a like and a report on it), a comment hidden by the moderator, a
notification for `reader`, and one row of every model the admin shows. Each persona's request
runs in a savepoint that is rolled back, so a permitted write by one persona is never seen by
the next.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.sites.models import Site
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import BANNED_YEAR, User
from forum import pagecache, services
from forum.models import Article, Column, Comment, ImportJob, Like
from moderation import services as moderation_services
from moderation.models import ModerationAction
from notifications import services as notification_services
from notifications.models import Notification, OutgoingEmail
from tests.events import dispatch_events
from tests.factories import ArticleFactory, ColumnFactory, UserFactory, moderators_group

PERSONAS = (
    "anonymous",
    "unverified",
    "reader",  # wrote the comment the comment URLs act on; the notification is theirs
    "other_reader",
    "suspended",
    "banned",
    "author",  # of the column the comment is in
    "other_author",  # of another column
    "moderator",  # staff in the Moderators group
    "staff",  # staff without any permission
    "superuser",
)

# Outcomes, as the table writes them.
LOGIN = "L"  # a redirect to a login page (the site's or the admin's)
REDIRECT = "302"  # a redirect anywhere else
DENIED = {LOGIN, "400", "403", "404", "405", "429"}


@dataclass
class World:
    users: dict[str, User | None]
    objects: SimpleNamespace
    admin_objects: dict[tuple[str, str], object] = field(default_factory=dict)


def build_world() -> World:
    now = timezone.now()
    users: dict[str, User | None] = {"anonymous": None}
    users["unverified"] = UserFactory(display_name="unverified", verified=False)
    users["reader"] = UserFactory(display_name="reader")
    users["other_reader"] = UserFactory(display_name="other_reader")
    users["suspended"] = UserFactory(
        display_name="suspended",
        suspended_until=now + datetime.timedelta(days=7),
        suspension_reason="cooling off",
    )
    users["banned"] = UserFactory(
        display_name="banned",
        suspended_until=timezone.make_aware(datetime.datetime(BANNED_YEAR, 12, 31)),
    )
    users["author"] = UserFactory(display_name="author")
    users["other_author"] = UserFactory(display_name="other_author")
    users["moderator"] = UserFactory(display_name="moderator", is_staff=True)
    users["moderator"].groups.add(moderators_group())
    users["staff"] = UserFactory(display_name="staff", is_staff=True)
    users["superuser"] = UserFactory(display_name="superuser", is_staff=True, is_superuser=True)

    column = ColumnFactory(author=users["author"], title="Deep Kubernetes", slug="deep-k8s")
    article = ArticleFactory(column=column, title="Why Pods?", slug="why-pods", position=1)
    other_column = ColumnFactory(author=users["other_author"], title="Other", slug="other")
    other_article = ArticleFactory(column=other_column, title="Else", slug="else", position=1)
    comment = services.post_comment(article=article, author=users["reader"], body="The comment")
    reply = services.post_comment(
        article=article, author=users["other_reader"], body="A reply", parent=comment
    )
    hidden = services.post_comment(article=article, author=users["other_reader"], body="Hidden")
    moderation_services.hide_comment(comment=hidden, by=users["moderator"], reason="rude")
    services.toggle_like(user=users["other_reader"], comment=comment)
    report = moderation_services.report_comment(
        comment=comment, reporter=users["other_reader"], reason="spam"
    )
    # The reply notified the comment's author (once the worker has had the events).
    dispatch_events()
    notification = Notification.objects.get(recipient=users["reader"], comment=reply)
    job = ImportJob.objects.create(upload="imports/matrix.zip", created_by=users["superuser"])
    email = OutgoingEmail.objects.create(
        recipient=users["reader"], subject="Hello", body_text="Hello"
    )
    objects = SimpleNamespace(
        column=column,
        article=article,
        other_article=other_article,
        comment=comment,
        reply=reply,
        hidden=hidden,
        notification=notification,
        unsubscribe_token=notification_services.unsubscribe_token(users["reader"], "reply"),
    )
    admin_objects = {
        ("auth", "group"): Group.objects.get(),
        ("sites", "site"): Site.objects.get_current(),
        ("account", "emailaddress"): EmailAddress.objects.get(user=users["reader"]),
        ("moderation", "moderationaction"): ModerationAction.objects.first(),
        ("moderation", "report"): report,
        ("accounts", "user"): users["reader"],
        ("forum", "column"): column,
        ("forum", "article"): article,
        ("forum", "comment"): comment,
        ("forum", "like"): Like.objects.get(),
        ("forum", "importjob"): job,
        ("notifications", "notification"): notification,
        ("notifications", "outgoingemail"): email,
    }
    return World(users=users, objects=objects, admin_objects=admin_objects)


def outcome(response) -> str:
    if response.status_code in (301, 302, 303):
        path = urlsplit(response["Location"]).path
        return LOGIN if path in ("/accounts/login/", "/admin/login/") else REDIRECT
    return str(response.status_code)


def snapshot() -> tuple:
    """What a request could have changed: every table's row count, and the fields a permitted
    action changes in place (statuses, counters, featured flags, names, suspensions, reads)."""
    counts = tuple(
        (model._meta.label, model._default_manager.count())
        for model in apps.get_models()
        if model._meta.label not in ("sessions.Session",)
    )
    comments = tuple(
        Comment.objects.order_by("pk").values_list(
            "pk", "status", "is_featured", "body_md", "like_count", "reply_count"
        )
    )
    users = tuple(
        User.objects.order_by("pk").values_list(
            "pk", "display_name", "bio", "suspended_until", "is_active", "language"
        )
    )
    reads = tuple(Notification.objects.order_by("pk").values_list("pk", "read_at"))
    articles = tuple(Article.objects.order_by("pk").values_list("pk", "like_count", "title"))
    columns = tuple(Column.objects.order_by("pk").values_list("pk", "title"))
    return counts, comments, users, reads, articles, columns


class _Rollback(Exception):
    pass


def act(world: World, persona: str, method: str, url: str, data: dict) -> tuple[str, bool]:
    """One persona's request in a savepoint that is rolled back: (outcome, whether it wrote)."""

    def send(client):
        return client.get(url) if method == "GET" else client.post(url, data)

    response, wrote = send_as(world, persona, send)
    return outcome(response), wrote


def send_as(world: World, persona: str, send) -> tuple:
    """`send(client)` with a client signed in as the persona, in a savepoint that is rolled
    back: (the response, whether the request changed the database)."""
    cache.clear()  # rate limits and cached fragments: no persona inherits another's
    pagecache.clear()
    client = Client()
    user = world.users[persona]
    if user is not None:
        client.force_login(user)
    result: list = []
    try:
        with transaction.atomic():
            before = snapshot()
            response = send(client)
            result = [response, snapshot() != before]
            raise _Rollback
    except _Rollback:
        pass
    return result[0], result[1]


def url_for(key: str, world: World) -> str:
    """The URL of a pattern (an "app:name" or a route) that acts on the world's objects."""
    o, users, admin = world.objects, world.users, world.admin_objects
    article = {"column_slug": o.column.slug, "slug": o.article.slug}
    literal = {
        "^media/(?P<path>.*)$": "/media/nothing-here.png",
        "admin/(?P<url>.*)$": "/admin/nothing-here/",
    }
    if key in literal:
        return literal[key]
    if key.startswith("admin/") and key.endswith("/<path:object_id>/"):
        app, model = key.split("/")[1:3]
        return f"/admin/{app}/{model}/{admin[(app, model)].pk}/"
    kwargs = {
        "forum:column-detail": {"slug": o.column.slug},
        "forum:article-detail": article,
        "forum:comment-create": article,
        "forum:comment-preview": {},
        "forum:article-like": article,
        "notifications:follow-article": article,
        "notifications:follow-column": {"slug": o.column.slug},
        "forum:comment-restore": {"pk": o.hidden.pk},
        "moderation:restore": {"pk": o.hidden.pk},
        "forum:profile": {"pk": users["reader"].pk},
        "accounts:language": {"code": "zh-hans"},
        "notifications:open": {"pk": o.notification.pk},
        "notifications:read": {"pk": o.notification.pk},
        "notifications:unsubscribe": {"token": o.unsubscribe_token},
        "account_confirm_email": {"key": "not-a-real-key"},
        "account_reset_password_from_key": {"uidb36": "2", "key": "not-a-real-key"},
        "admin:moderation_queue_act": {"pk": o.comment.pk, "action": "hide"},
        "admin:forum_importjob_progress": {"pk": admin[("forum", "importjob")].pk},
        "admin:auth_user_password_change": {"id": users["reader"].pk},
        "admin:view_on_site": {
            "content_type_id": ContentType.objects.get_for_model(o.article).pk,
            "object_id": o.article.pk,
        },
        "admin:app_list": {"app_label": "forum"},
    }.get(key)
    if kwargs is None and key.startswith(("forum:comment-", "moderation:")):
        kwargs = {"pk": o.comment.pk}
    if kwargs is None and key.startswith("admin:"):
        name = key.removeprefix("admin:")
        for (app, model), obj in admin.items():
            if name.startswith(f"{app}_{model}_") and name.endswith(
                ("_change", "_delete", "_history")
            ):
                kwargs = {"object_id": obj.pk}
    return reverse(key, kwargs=kwargs)
