"""Who hears about what, and how: every write to notifications goes through here.

The `notify_*` functions run inside the transaction of the action that caused them (a comment,
a feature, a moderation, a new chapter), so the notification rows and the outgoing email rows
commit or roll back with it. Sending happens after the commit, in Celery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from forum import caching
from forum.models import Follow
from forum.permissions import has_verified_email
from forum.rendering import plain_excerpt

from .enums import ACCOUNT_EMAIL, DEFAULT_DELIVERY, PRIORITY, Delivery, EmailState, Kind
from .models import Notification, OutgoingEmail, Preference

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
SEND_LEASE_SECONDS = 300
# How much of a comment (or chapter) an email quotes, in characters of its rendered text.
EXCERPT_CHARS = 280


# --- Deciding who is told ----------------------------------------------------------------


class Recipients:
    """Collects (user → kind), keeping for each person the most important kind only."""

    def __init__(self, actor_id: int | None):
        self.actor_id = actor_id
        self.kinds: dict[int, str] = {}

    def offer(self, user_id: int | None, kind: str) -> None:
        if user_id is None or user_id == self.actor_id:
            return  # nobody is notified of their own actions
        current = self.kinds.get(user_id)
        if current is None or PRIORITY.index(kind) < PRIORITY.index(current):
            self.kinds[user_id] = kind


def notify_comment_posted(*, comment, mentioned: set[int]) -> list[Notification]:
    article = comment.article
    recipients = Recipients(comment.author_id)
    if comment.parent_id:
        parent = comment.parent
        if comment.author_id == article.author_id:
            recipients.offer(parent.author_id, Kind.AUTHOR_REPLY)
            if parent.root_id != parent.pk:
                root_author = (
                    type(comment)
                    .objects.filter(pk=parent.root_id)
                    .values_list("author_id", flat=True)
                    .first()
                )
                recipients.offer(root_author, Kind.AUTHOR_REPLY)
        else:
            recipients.offer(parent.author_id, Kind.REPLY)
    elif article.column.notify_author_of_comments:
        recipients.offer(article.author_id, Kind.NEW_ROOT_COMMENT)
    for user_id in mentioned:
        recipients.offer(user_id, Kind.MENTION)
    for user_id in Follow.objects.filter(article=article).values_list("user_id", flat=True):
        recipients.offer(user_id, Kind.FOLLOWED_THREAD)
    return _notify(recipients, actor_id=comment.author_id, comment=comment, article=article)


def notify_comment_mentioned(*, comment, mentioned: set[int]) -> list[Notification]:
    """An edit mentioned these people: a mention each (nobody twice for one comment: the
    unique constraint keeps any notification they already had about it)."""
    recipients = Recipients(comment.author_id)
    for user_id in mentioned:
        recipients.offer(user_id, Kind.MENTION)
    return _notify(recipients, actor_id=comment.author_id, comment=comment, article=comment.article)


def notify_comment_featured(*, comment, by: User | None) -> list[Notification]:
    recipients = Recipients(by.pk if by else None)
    recipients.offer(comment.author_id, Kind.FEATURED)
    return _notify(
        recipients, actor_id=by.pk if by else None, comment=comment, article=comment.article
    )


def notify_comment_moderated(*, comment, by: User | None, reason: str) -> list[Notification]:
    recipients = Recipients(by.pk if by else None)
    recipients.offer(comment.author_id, Kind.MODERATED)
    return _notify(
        recipients,
        actor_id=by.pk if by else None,
        comment=comment,
        article=comment.article,
        reason=reason,
    )


def notify_comment_approved(*, comment, by: User | None) -> list[Notification]:
    """A held comment was approved: its author learns it is now shown (they saw it waiting)."""
    recipients = Recipients(by.pk if by else None)
    recipients.offer(comment.author_id, Kind.APPROVED)
    return _notify(
        recipients, actor_id=by.pk if by else None, comment=comment, article=comment.article
    )


def notify_new_chapter(*, article) -> list[Notification]:
    recipients = Recipients(article.author_id)
    for user_id in Follow.objects.filter(column_id=article.column_id).values_list(
        "user_id", flat=True
    ):
        recipients.offer(user_id, Kind.NEW_CHAPTER)
    return _notify(recipients, actor_id=article.author_id, comment=None, article=article)


def _notify(recipients: Recipients, *, actor_id, comment, article, reason: str = ""):
    if not recipients.kinds:
        return []
    active = set(
        User.objects.filter(pk__in=recipients.kinds, is_active=True).values_list("pk", flat=True)
    )
    rows = [
        Notification(
            recipient_id=user_id,
            kind=kind,
            actor_id=actor_id,
            comment=comment,
            article=article,
            reason=reason,
        )
        for user_id, kind in recipients.kinds.items()
        if user_id in active
    ]
    # The unique constraint makes a repeated action (feature, unfeature, feature) a no-op.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    forget_unread_counts([row.recipient_id for row in rows])
    created = list(
        Notification.objects.filter(
            recipient_id__in=[row.recipient_id for row in rows],
            kind__in={row.kind for row in rows},
            comment=comment,
            article=article,
            emailed_at__isnull=True,
            in_digest=False,
        ).select_related("recipient", "actor", "comment", "article__column")
    )
    queue_emails(created)
    return created


# --- Deciding how they are told ----------------------------------------------------------


def delivery_for(user: User, kind: str) -> str:
    preference = Preference.objects.filter(user=user, kind=kind).values_list("delivery", flat=True)
    return preference.first() or DEFAULT_DELIVERY[Kind(kind)]


def preferences_for(user: User) -> dict[str, str]:
    stored = dict(Preference.objects.filter(user=user).values_list("kind", "delivery"))
    return {kind: stored.get(kind, DEFAULT_DELIVERY[Kind(kind)]) for kind in Kind.values}


@transaction.atomic
def set_preferences(*, user: User, deliveries: dict[str, str]) -> None:
    for kind, delivery in deliveries.items():
        Preference.objects.update_or_create(user=user, kind=kind, defaults={"delivery": delivery})


def _recent_immediate_count(user: User) -> int:
    """Immediate notification emails of the last hour (digests and account emails aside)."""
    since = timezone.now() - timedelta(hours=1)
    return (
        OutgoingEmail.objects.filter(recipient=user, created_at__gte=since)
        .exclude(kind__in=["", ACCOUNT_EMAIL])
        .count()
    )


def queue_account_email(
    *, recipient: User | None, to: str, subject: str, body_text: str, body_html: str
) -> OutgoingEmail:
    """An account email (verification, password reset…), already rendered, into the outbox.

    `recipient` is None when the address belongs to nobody (a password reset asked for an
    unknown address is answered too)."""
    email = OutgoingEmail.objects.create(
        recipient=recipient,
        kind=ACCOUNT_EMAIL,
        to=to,
        subject=" ".join(subject.split())[:300],
        body_text=body_text,
        body_html=body_html,
    )
    transaction.on_commit(lambda: enqueue_emails([email.pk]))
    return email


def queue_emails(notifications: list[Notification]) -> list[OutgoingEmail]:
    """Immediate emails for those who want them (under the hourly cap); the digest for the rest."""
    emails, to_digest = [], []
    for notification in notifications:
        user = notification.recipient
        if not user.email or not has_verified_email(user):
            continue  # unverified, or a legacy account nobody has claimed: on the site only
        delivery = delivery_for(user, notification.kind)
        if delivery == Delivery.OFF:
            continue
        cap = settings.NOTIFICATION_EMAILS_PER_HOUR
        if delivery == Delivery.DIGEST or _recent_immediate_count(user) >= cap:
            to_digest.append(notification.pk)
            continue
        emails.append(_build_email(notification))
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
    if to_digest:
        Notification.objects.filter(pk__in=to_digest).update(in_digest=True)
    if emails:
        ids = [email.pk for email in emails]
        transaction.on_commit(lambda: enqueue_emails(ids))
    return emails


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_token(user: User, kind: str) -> str:
    return signing.dumps({"u": user.pk, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[User, str]:
    """The user and kind a token unsubscribes; signing.BadSignature if it was tampered with."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    kind = data.get("k")
    if kind not in Kind.values and kind != "digest":
        raise signing.BadSignature("unknown kind")
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None:
        raise signing.BadSignature("unknown user")
    return user, kind


def target_url(notification: Notification) -> str:
    if notification.comment_id:
        return notification.comment.get_absolute_url()
    return notification.article.get_absolute_url()


def _headers(user: User, kind: str) -> dict[str, str]:
    url = absolute(reverse("notifications:unsubscribe", args=[unsubscribe_token(user, kind)]))
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    }


def _build_email(notification: Notification) -> OutgoingEmail:
    user = notification.recipient
    context = {
        "notification": notification,
        "user": user,
        "link": absolute(target_url(notification)),
        "excerpt": _excerpt(notification),
        "settings_link": absolute(reverse("notifications:settings")),
        "site_url": settings.SITE_URL,
    }
    headers = _headers(user, notification.kind)
    context["unsubscribe_link"] = headers["List-Unsubscribe"][1:-1]
    context["language"] = user.language or settings.LANGUAGE_CODE
    with translation.override(context["language"]):
        # Plain text (names and titles as typed); the HTML body autoescapes it like any value.
        subject = render_to_string("notifications/email/subject.txt", context).strip()
        context["subject"] = subject
        text = render_to_string("notifications/email/notification.txt", context)
        html = render_to_string("notifications/email/notification.html", context)
    return OutgoingEmail.objects.create(
        recipient=user,
        kind=notification.kind,
        to=user.email,
        subject=" ".join(subject.split())[:300],
        body_text=text,
        body_html=html,
        headers=headers,
    )


def _excerpt(notification: Notification) -> str:
    if notification.comment_id:
        if notification.comment.status != "visible":
            return ""  # taken down since: its words are not repeated anywhere
        return plain_excerpt(notification.comment.body_html, EXCERPT_CHARS)
    article = notification.article
    return plain_excerpt(article.body_html, EXCERPT_CHARS) or article.title


# --- Sending -----------------------------------------------------------------------------


def enqueue_emails(ids: list[int]) -> None:
    """Hand the emails to Celery. If the broker is down nothing is lost: the rows stay
    pending and the sweeper enqueues them again."""
    # By name: the task module imports this one, not the other way round.
    send_email = current_app.tasks["notifications.send_email"]
    for email_id in ids:
        try:
            send_email.delay(email_id)
        except Exception:  # noqa: BLE001 - any broker failure; the sweeper retries
            log.warning(
                "could not enqueue email %s; the sweeper will retry", email_id, exc_info=True
            )


@dataclass
class Delivered:
    sent: bool
    retry_in: int | None = None


def deliver_email(*, email_id: int) -> Delivered:
    """Send one pending email, at most once.

    1. Claim the row (pending → sending, with a lease) in its own short statement: two workers
       can't both claim it, and the SMTP conversation holds no database lock.
    2. Connect to the mail server (greeting, EHLO, TLS, AUTH). A worker that dies up to here
       leaves a "sending" row whose lease the sweeper turns back into "pending": nothing
       reached the server, so sending it again is safe.
    3. Mark it "handing" and hand the message over (MAIL, RCPT, DATA). The moment the server
       accepts, the row becomes "sent" — before the QUIT and anything else that could fail.
       A worker that dies between the two marks leaves "handing": the server may have the
       message, so the sweeper marks it "unknown" and never sends it again (the admin lists it;
       `resend_failed_emails --unknown` sends such emails again on purpose).

    The one duplicate that remains is SMTP's own (RFC 1047): the server accepts but the
    connection drops before its reply reaches us; that is an error like any other and is
    retried. Every email carries a Message-ID fixed per row, so a duplicate is recognisable.
    """
    now = timezone.now()
    claimed = OutgoingEmail.objects.filter(pk=email_id, state=EmailState.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    if not claimed.update(
        state=EmailState.SENDING,
        next_attempt_at=now + timedelta(seconds=SEND_LEASE_SECONDS),
        attempts=F("attempts") + 1,
    ):
        return Delivered(sent=False)  # sent already, claimed by another worker, or not yet due
    email = OutgoingEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(
        email.subject,
        email.body_text,
        settings.DEFAULT_FROM_EMAIL,
        [email.to],
        headers={"Message-ID": message_id(email), **email.headers},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    mailer = mailers.default
    try:
        mailer.open()
        _greet(mailer)
        try:
            OutgoingEmail.objects.filter(pk=email.pk).update(state=EmailState.HANDING)
            mailer.send_messages([message])
            _record_sent(email.pk)
        finally:
            _close_quietly(mailer)
    except Exception as exc:  # noqa: BLE001 - smtplib errors, refused, timeouts: all retried
        return _failed_attempt(email, exc)
    return Delivered(sent=True)


def _greet(mailer) -> None:
    # smtplib says EHLO lazily, inside sendmail; saying it here moves it before the hand-over
    # mark, so a worker dying while the server greets leaves a row that is safely retried.
    smtp = getattr(mailer, "connection", None)
    if hasattr(smtp, "ehlo_or_helo_if_needed"):
        smtp.ehlo_or_helo_if_needed()


def _record_sent(email_id: int) -> None:
    OutgoingEmail.objects.filter(pk=email_id).update(
        state=EmailState.SENT, sent_at=timezone.now(), next_attempt_at=None
    )


def _close_quietly(mailer) -> None:
    # After the server accepted, a failing QUIT changes nothing: the email is sent.
    try:
        mailer.close()
    except Exception:  # noqa: BLE001
        log.warning("closing the mail connection failed", exc_info=True)


def _failed_attempt(email: OutgoingEmail, exc: Exception) -> Delivered:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    still_ours = OutgoingEmail.objects.filter(
        pk=email.pk, state__in=[EmailState.SENDING, EmailState.HANDING]
    )
    if email.attempts >= MAX_ATTEMPTS:
        still_ours.update(state=EmailState.FAILED, last_error=error, next_attempt_at=None)
        return Delivered(sent=False)
    delay = min(RETRY_BASE_SECONDS * 2 ** (email.attempts - 1), RETRY_MAX_SECONDS)
    still_ours.update(
        state=EmailState.PENDING,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    return Delivered(sent=False, retry_in=delay)


def message_id(email: OutgoingEmail) -> str:
    """The same Message-ID on every attempt of one row (RFC 5322 §3.6.4)."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "localhost"
    return f"<email-{email.pk}.{int(email.created_at.timestamp())}@{domain}>"


def sweep_pending_emails(*, older_than: timedelta = timedelta(minutes=1)) -> list[int]:
    """Enqueue again what is still pending a while after it should have gone."""
    now = timezone.now()
    # A lease that ran out: the worker sending it died. Before the hand-over nothing reached
    # the mail server: back to pending. During it the server may have the email: unknown,
    # never sent again automatically (see deliver_email).
    OutgoingEmail.objects.filter(state=EmailState.SENDING, next_attempt_at__lte=now).update(
        state=EmailState.PENDING, next_attempt_at=None
    )
    lost = OutgoingEmail.objects.filter(state=EmailState.HANDING, next_attempt_at__lte=now).update(
        state=EmailState.UNKNOWN,
        next_attempt_at=None,
        last_error="the worker died while handing it to the mail server; not sent again",
    )
    if lost:
        log.error("%d email(s) in an unknown state: a worker died while handing them over", lost)
    ids = list(
        OutgoingEmail.objects.filter(state=EmailState.PENDING, created_at__lte=now - older_than)
        .exclude(next_attempt_at__gt=now)
        .values_list("pk", flat=True)[:1000]
    )
    enqueue_emails(ids)
    return ids


@transaction.atomic
def retry_failed_emails(*, unknown: bool = False) -> list[int]:
    """Send failed emails again; with `unknown`, also those whose worker died while handing
    them over (the reader may then get one twice — an operator's decision)."""
    states = [EmailState.FAILED, EmailState.UNKNOWN] if unknown else [EmailState.FAILED]
    ids = list(OutgoingEmail.objects.filter(state__in=states).values_list("pk", flat=True))
    OutgoingEmail.objects.filter(pk__in=ids).update(
        state=EmailState.PENDING, attempts=0, next_attempt_at=None
    )
    transaction.on_commit(lambda: enqueue_emails(ids))
    return ids


@transaction.atomic
def send_digests() -> list[int]:
    """One email per person with everything waiting for their digest."""
    pending = Notification.objects.filter(in_digest=True, emailed_at__isnull=True)
    recipients = User.objects.filter(
        pk__in=list(pending.values_list("recipient_id", flat=True).distinct())
    ).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        # Two digest runs at once (a redelivered task, a manual run) take disjoint people: a
        # person's digest is built by whichever run locked them first, from what is still due.
        recipients = recipients.select_for_update(skip_locked=True)
    due = (
        pending.filter(recipient__in=[user.pk for user in recipients])
        .select_related("recipient", "actor", "comment", "article__column")
        .order_by("recipient_id", "created_at")
    )
    by_user: dict[int, list[Notification]] = {}
    for notification in due:
        by_user.setdefault(notification.recipient_id, []).append(notification)
    ids = []
    for items in by_user.values():
        user = items[0].recipient
        if not user.email or not user.is_active:
            continue
        context = {
            "user": user,
            "items": [
                {"notification": n, "link": absolute(target_url(n)), "excerpt": _excerpt(n)}
                for n in items
            ],
            "settings_link": absolute(reverse("notifications:settings")),
            "site_url": settings.SITE_URL,
        }
        headers = _headers(user, "digest")
        context["unsubscribe_link"] = headers["List-Unsubscribe"][1:-1]
        context["language"] = user.language or settings.LANGUAGE_CODE
        with translation.override(context["language"]):
            for item in context["items"]:  # plain text; digest.html autoescapes it
                item["subject"] = render_to_string(
                    "notifications/email/subject.txt", {"notification": item["notification"]}
                ).strip()
            subject = render_to_string("notifications/email/digest_subject.txt", context).strip()
            context["subject"] = subject
            text = render_to_string("notifications/email/digest.txt", context)
            html = render_to_string("notifications/email/digest.html", context)
        email = OutgoingEmail.objects.create(
            recipient=user,
            kind="",
            to=user.email,
            subject=" ".join(subject.split())[:300],
            body_text=text,
            body_html=html,
            headers=headers,
        )
        ids.append(email.pk)
    Notification.objects.filter(pk__in=[n.pk for items in by_user.values() for n in items]).update(
        emailed_at=timezone.now()
    )
    transaction.on_commit(lambda: enqueue_emails(ids))
    return ids


# --- The reader's side -------------------------------------------------------------------


@transaction.atomic
def unsubscribe(*, user: User, kind: str) -> None:
    kinds = Kind.values if kind == "digest" else [kind]
    if kind == "digest":
        # "No more digests": whatever went to the digest stays on the site only.
        kinds = [k for k, d in preferences_for(user).items() if d == Delivery.DIGEST]
    set_preferences(user=user, deliveries=dict.fromkeys(kinds, Delivery.OFF))


def mark_read(*, user: User, notification_id: int | None = None) -> int:
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    marked = unread.update(read_at=timezone.now())
    forget_unread_counts([user.pk])
    return marked


def unread_count(user: User, *, cached: int | None = None) -> int:
    """The bell's number, kept in the cache until a notification arrives or is read (and a
    minute at most: a page rendered while the change was being committed may cache the old).

    `cached`: the cache's value, when the caller fetched it along with other keys."""
    key = unread_cache_key(user.pk)
    count = cache.get(key) if cached is None else cached
    if count is None:
        with caching.filling():
            count = Notification.objects.filter(recipient=user, read_at__isnull=True).count()
        cache.set(key, count, 60)
    return count


def unread_cache_key(user_pk: int) -> str:
    return f"unread:{user_pk}"


def forget_unread_counts(user_ids) -> None:
    cache.delete_many([unread_cache_key(pk) for pk in user_ids])


@transaction.atomic
def toggle_follow(*, user: User, column=None, article=None) -> bool:
    lookup = {"column": column} if column is not None else {"article": article}
    deleted, _ = Follow.objects.filter(user=user, **lookup).delete()
    if deleted:
        return False
    Follow.objects.get_or_create(user=user, **lookup)
    return True
