"""How people are told by email: the outbox row written with the action, the send after the
commit (eager Celery here), preferences, the digest, the hourly cap, retries and the sweeper.

Non-transactional tests run the on-commit callbacks with `django_capture_on_commit_callbacks`
(that is where the eager task sends); the rollback test uses a real transaction.
"""

from __future__ import annotations

import re
import smtplib
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends import locmem
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from forum import services as forum
from forum.enums import EventKind
from forum.models import Event
from notifications import services
from notifications.enums import Delivery, EmailState, Kind
from notifications.models import Notification, OutgoingEmail, Preference
from tests.events import dispatch_events
from tests.factories import CommentFactory, UserFactory
from tests.helpers import run_at_once

pytestmark = pytest.mark.django_db

LOCMEM_SEND = "django.core.mail.backends.locmem.EmailBackend.send_messages"


@pytest.fixture
def root(article, reader):
    """A root comment of `reader`'s, for others to reply to."""
    return CommentFactory(article=article, author=reader, body="Pods share a network namespace.")


def reply_to(parent, author, body="Not quite: they share more than that."):
    return forum.post_comment(article=parent.article, author=author, parent=parent, body=body)


def prefer(user, kind, delivery):
    Preference.objects.update_or_create(user=user, kind=kind, defaults={"delivery": delivery})


def emails_to(user):
    return [m for m in mail.outbox if m.to == [user.email]]


def unsubscribe_url(message) -> str:
    header = message.extra_headers["List-Unsubscribe"]
    match = re.fullmatch(r"<(.+)>", header)
    assert match, header
    return match.group(1)


# --- Immediately -------------------------------------------------------------------------------


def test_the_reply_commits_with_its_event_and_is_emailed_after_the_commit(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reply = reply_to(root, other_reader)
        # Still inside the transaction: the event is there; nobody has been told anything.
        event = Event.objects.get(comment=reply)
        assert (event.kind, event.actor, event.dispatched_at) == (
            EventKind.COMMENT_POSTED,
            other_reader,
            None,
        )
        assert not Notification.objects.filter(comment=reply).exists()
        assert not OutgoingEmail.objects.exists()

    # After it: the listings' version moved, and the event's task (which queued the email's)
    # ran, once each.
    assert len(callbacks) == 3
    [message] = mailoutbox
    assert message.to == [reader.email]
    email = OutgoingEmail.objects.get(recipient=reader)
    assert (email.state, email.kind, email.attempts) == (EmailState.SENT, Kind.REPLY, 1)
    assert email.sent_at is not None
    notification = Notification.objects.get(recipient=reader, comment=reply)
    assert notification.emailed_at is not None
    assert not notification.in_digest
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_the_email_names_the_article_links_to_the_comment_and_offers_one_click_unsubscribe(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_to(root, other_reader)

    [message] = mailoutbox
    assert message.to == [reader.email]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert "Why Pods?" in message.subject
    assert "other_reader" in message.subject
    assert "\n" not in message.subject
    permalink = f"{settings.SITE_URL.rstrip('/')}/c/{reply.pk}/"
    assert permalink in message.body
    assert "they share more than that" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f'href="{permalink}"' in html
    # RFC 8058 one-click unsubscribe, with a token for this person and this kind.
    url = unsubscribe_url(message)
    assert url.startswith(f"{settings.SITE_URL.rstrip('/')}/notifications/unsubscribe/")
    assert url.endswith("/")
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert services.read_unsubscribe_token(token) == (reader, Kind.REPLY)
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert url in message.body
    # The headers survive into the MIME message that goes on the wire.
    mime = message.message()
    assert mime["List-Unsubscribe"] == f"<{url}>"
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_html_email_escapes_what_commenters_wrote(
    root, reader, mailoutbox, django_capture_on_commit_callbacks
):
    mallory = UserFactory(display_name="mallory")
    with django_capture_on_commit_callbacks(execute=True):
        reply_to(root, mallory, body='<img src=x onerror="alert(1)"> hi')

    [(html, _mimetype)] = mailoutbox[0].alternatives
    assert "<img src=x" not in html
    assert "&lt;img" in html


MARKDOWN_REPLY = (
    "**Not quite**: they share `localhost`.\n\n```\ncurl   localhost:8080\n```\n\n"
    "> quoted   words\n\nSee [the docs](https://example.com/docs)."
)


def test_the_email_quotes_the_reply_as_read_not_its_markdown(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply_to(root, other_reader, body=MARKDOWN_REPLY)

    [message] = mailoutbox
    quoted = "Not quite: they share localhost. curl localhost:8080 quoted words See the docs."
    assert f"> {quoted}" in message.body
    [(html, _mimetype)] = message.alternatives
    assert quoted in html
    for source in ("**", "```", "`localhost`", "[the docs]"):
        assert source not in message.body
        assert source not in html


def test_a_long_reply_is_quoted_up_to_a_word_with_an_ellipsis(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply_to(root, other_reader, body="**word** " * 100)

    [message] = mailoutbox
    [line] = [line for line in message.body.splitlines() if line.startswith("> ")]
    assert line.endswith("…")
    assert len(line) <= 2 + services.EXCERPT_CHARS
    assert "**" not in line


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_action_leaves_no_notification_no_email_row_and_sends_nothing(
    article, reader, other_reader, mailoutbox
):
    root = CommentFactory(article=article, author=reader)

    with pytest.raises(RuntimeError), transaction.atomic():
        reply = reply_to(root, other_reader)
        assert Event.objects.filter(comment=reply).count() == 1  # the worker's part waits
        raise RuntimeError("something after the comment failed")

    assert not Event.objects.filter(kind=EventKind.COMMENT_POSTED, comment__parent=root).exists()
    assert dispatch_events() == 0  # the reply's event went with it: nothing to announce
    assert Notification.objects.filter(recipient=reader).count() == 0
    assert OutgoingEmail.objects.filter(recipient=reader).count() == 0
    assert emails_to(reader) == []


@pytest.mark.django_db(transaction=True)
def test_with_real_commits_the_reply_is_emailed_once(article, reader, other_reader, mailoutbox):
    root = CommentFactory(article=article, author=reader)

    reply_to(root, other_reader)

    assert len(emails_to(reader)) == 1
    assert OutgoingEmail.objects.get(recipient=reader).state == EmailState.SENT


def test_a_reader_who_chose_chinese_gets_the_email_in_chinese(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    reader.language = "zh-hans"
    reader.save(update_fields=["language"])
    root.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        reply_to(root, other_reader)

    [message] = mailoutbox
    assert "replied to your comment" not in message.subject
    assert re.search(r"[\u4e00-\u9fff]", message.subject)
    assert "Read it here" not in message.body
    assert re.search(r"[\u4e00-\u9fff]", message.body)
    # The article title and the link are there whatever the language.
    assert "Why Pods?" in message.subject
    assert "/c/" in message.body
    # Rendering in Chinese did not leak into the rest of the request.
    from django.utils import translation

    assert translation.get_language() in ("en", "en-us", None)


def test_the_html_email_declares_the_recipients_language(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    reader.language = "zh-hans"
    reader.save(update_fields=["language"])
    root.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        reply_to(root, other_reader)

    [(html, _mimetype)] = mailoutbox[0].alternatives
    assert '<html lang="zh-hans">' in html


def test_an_unverified_address_gets_no_email_only_the_notification_on_the_site(
    article, unverified_user, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        comment = CommentFactory(
            article=article, author=other_reader, body="What do you say, @unverified?"
        )

    assert Notification.objects.filter(recipient=unverified_user, comment=comment).exists()
    assert emails_to(unverified_user) == []
    assert OutgoingEmail.objects.filter(recipient=unverified_user).count() == 0


# --- Preferences: digest and off ---------------------------------------------------------------


def test_digest_preference_sends_nothing_now_and_one_digest_later(
    article, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    prefer(reader, Kind.REPLY, Delivery.DIGEST)
    first = CommentFactory(article=article, author=reader, body="First thought")
    second = CommentFactory(article=article, author=reader, body="Second thought")
    third_person = UserFactory(display_name="third")

    with django_capture_on_commit_callbacks(execute=True):
        a = reply_to(first, other_reader, body="Answer to the first")
        b = reply_to(second, third_person, body="Answer to the second")

    assert emails_to(reader) == []
    assert OutgoingEmail.objects.filter(recipient=reader).count() == 0
    pending = Notification.objects.filter(recipient=reader)
    assert {n.comment_id: (n.in_digest, n.emailed_at) for n in pending} == {
        a.pk: (True, None),
        b.pk: (True, None),
    }

    with django_capture_on_commit_callbacks(execute=True):
        services.send_digests()

    [digest] = emails_to(reader)
    assert "2 notifications" in digest.subject
    site = settings.SITE_URL.rstrip("/")
    assert f"{site}/c/{a.pk}/" in digest.body
    assert f"{site}/c/{b.pk}/" in digest.body
    assert "Answer to the first" in digest.body and "Answer to the second" in digest.body
    assert digest.alternatives[0][1] == "text/html"
    token = unsubscribe_url(digest).rstrip("/").rsplit("/", 1)[1]
    assert services.read_unsubscribe_token(token) == (reader, "digest")
    assert all(n.emailed_at is not None for n in Notification.objects.filter(recipient=reader))
    row = OutgoingEmail.objects.get(recipient=reader)
    assert (row.kind, row.state) == ("", EmailState.SENT)

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_digests() == []
    assert mail.outbox == []
    assert OutgoingEmail.objects.filter(recipient=reader).count() == 1


def test_each_person_gets_their_own_digest(
    article, reader, other_reader, column_author, mailoutbox, django_capture_on_commit_callbacks
):
    """New root comments go to the column author's digest by default."""
    prefer(reader, Kind.REPLY, Delivery.DIGEST)
    with django_capture_on_commit_callbacks(execute=True):
        root = CommentFactory(article=article, author=reader)
        reply_to(root, other_reader)
    with django_capture_on_commit_callbacks(execute=True):
        services.send_digests()

    assert len(emails_to(reader)) == 1
    assert len(emails_to(column_author)) == 1
    assert "1 notification" in emails_to(column_author)[0].subject
    assert emails_to(other_reader) == []


def test_off_sends_no_email_but_the_notification_is_on_the_site(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    prefer(reader, Kind.REPLY, Delivery.OFF)

    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_to(root, other_reader)
        services.send_digests()

    assert emails_to(reader) == []
    assert OutgoingEmail.objects.filter(recipient=reader).count() == 0
    notification = Notification.objects.get(recipient=reader, comment=reply)
    assert notification.kind == Kind.REPLY
    assert not notification.in_digest


def test_a_preference_for_one_kind_leaves_the_others_alone(
    root, reader, other_reader, column_author, mailoutbox, django_capture_on_commit_callbacks
):
    prefer(reader, Kind.MENTION, Delivery.OFF)

    with django_capture_on_commit_callbacks(execute=True):
        reply_to(root, other_reader)

    assert len(emails_to(reader)) == 1


# --- The hourly cap ----------------------------------------------------------------------------


def test_beyond_ten_immediate_emails_an_hour_the_rest_waits_for_the_digest(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    assert settings.NOTIFICATION_EMAILS_PER_HOUR == 10

    with django_capture_on_commit_callbacks(execute=True):
        replies = [reply_to(root, other_reader, body=f"Reply {n}") for n in range(11)]

    assert len(emails_to(reader)) == 10
    assert OutgoingEmail.objects.filter(recipient=reader).count() == 10
    eleventh = Notification.objects.get(comment=replies[-1])
    assert eleventh.in_digest and eleventh.emailed_at is None
    assert Notification.objects.filter(recipient=reader, in_digest=True).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.send_digests()
    assert len(emails_to(reader)) == 11
    assert "Reply 10" in emails_to(reader)[-1].body


def test_the_hourly_cap_forgets_emails_older_than_an_hour(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(10):
            reply_to(root, other_reader, body=f"Reply {n}")
    OutgoingEmail.objects.filter(recipient=reader).update(
        created_at=timezone.now() - timedelta(minutes=61)
    )

    with django_capture_on_commit_callbacks(execute=True):
        late = reply_to(root, other_reader, body="An hour later")

    assert not Notification.objects.get(comment=late).in_digest
    assert len(emails_to(reader)) == 11


def test_the_cap_is_per_person(
    article, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    third = UserFactory(display_name="third")
    mine = CommentFactory(article=article, author=reader)
    theirs = CommentFactory(article=article, author=third)

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(10):
            reply_to(mine, other_reader, body=f"Reply {n}")
        reply_to(theirs, other_reader)

    assert len(emails_to(third)) == 1


# --- Sending exactly once ----------------------------------------------------------------------


def test_delivering_the_same_row_twice_sends_once(root, reader, other_reader, mailoutbox):
    reply_to(root, other_reader)
    dispatch_events()  # the worker's part; the send, queued for the commit, waits
    email = OutgoingEmail.objects.get(recipient=reader)

    first = services.deliver_email(email_id=email.pk)
    second = services.deliver_email(email_id=email.pk)

    assert (first.sent, second.sent) == (True, False)
    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert (email.state, email.attempts) == (EmailState.SENT, 1)


def test_delivering_a_row_that_no_longer_exists_does_nothing(mailoutbox):
    assert services.deliver_email(email_id=987654) == services.Delivered(sent=False)
    assert mailoutbox == []


# --- Failures, retries, giving up --------------------------------------------------------------


def _failing_send(*args, **kwargs):
    raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def _due_now(email):
    """Pretend the retry's time has come."""
    OutgoingEmail.objects.filter(pk=email.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_an_smtp_failure_is_recorded_and_retried_later_with_exponential_backoff(
    root, reader, other_reader, mailoutbox
):
    reply_to(root, other_reader)
    dispatch_events()  # the worker's part; the send, queued for the commit, waits
    email = OutgoingEmail.objects.get(recipient=reader)

    delays = []
    with mock.patch(LOCMEM_SEND, side_effect=_failing_send):
        for attempt in range(1, 4):
            before = timezone.now()
            result = services.deliver_email(email_id=email.pk)
            email.refresh_from_db()
            assert result.sent is False
            assert email.state == EmailState.PENDING
            assert email.attempts == attempt
            assert "SMTPServerDisconnected" in email.last_error
            assert email.next_attempt_at > timezone.now()
            assert result.retry_in == pytest.approx(
                (email.next_attempt_at - before).total_seconds(), abs=2
            )
            delays.append(result.retry_in)
            # Too early: a second delivery before the retry time neither sends nor counts.
            assert services.deliver_email(email_id=email.pk) == services.Delivered(sent=False)
            email.refresh_from_db()
            assert email.attempts == attempt
            _due_now(email)

    assert delays == [
        services.RETRY_BASE_SECONDS,
        services.RETRY_BASE_SECONDS * 2,
        services.RETRY_BASE_SECONDS * 4,
    ]
    assert mailoutbox == []

    # The server is back: the next attempt goes out.
    assert services.deliver_email(email_id=email.pk).sent is True
    email.refresh_from_db()
    assert (email.state, email.attempts) == (EmailState.SENT, 4)
    assert len(mailoutbox) == 1


def test_the_backoff_never_exceeds_the_maximum(root, reader, other_reader, monkeypatch):
    monkeypatch.setattr(services, "MAX_ATTEMPTS", 20)
    reply_to(root, other_reader)
    dispatch_events()  # the worker's part; the send, queued for the commit, waits
    email = OutgoingEmail.objects.get(recipient=reader)

    with mock.patch(LOCMEM_SEND, side_effect=_failing_send):
        delays = []
        for _ in range(10):
            delays.append(services.deliver_email(email_id=email.pk).retry_in)
            _due_now(email)

    assert delays == sorted(delays)
    assert max(delays) == services.RETRY_MAX_SECONDS


def test_after_the_last_attempt_the_email_is_failed_and_left_alone(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    reply_to(root, other_reader)
    dispatch_events()  # the worker's part; the send, queued for the commit, waits
    email = OutgoingEmail.objects.get(recipient=reader)

    with mock.patch(LOCMEM_SEND, side_effect=_failing_send):
        for _ in range(services.MAX_ATTEMPTS):
            services.deliver_email(email_id=email.pk)
            _due_now(email)

    email.refresh_from_db()
    assert email.state == EmailState.FAILED
    assert email.attempts == services.MAX_ATTEMPTS
    assert "SMTPServerDisconnected" in email.last_error
    # The sweeper does not pick failed emails up, and delivering them does nothing.
    OutgoingEmail.objects.filter(pk=email.pk).update(created_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep_pending_emails() == []
    assert services.deliver_email(email_id=email.pk).sent is False
    assert mailoutbox == []


def test_resend_failed_emails_puts_failed_emails_back_and_sends_them(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    reply_to(root, other_reader)
    dispatch_events()  # the worker's part; the send, queued for the commit, waits
    failed = OutgoingEmail.objects.get(recipient=reader)
    OutgoingEmail.objects.filter(pk=failed.pk).update(
        state=EmailState.FAILED, attempts=services.MAX_ATTEMPTS, last_error="SMTPDataError: 554"
    )
    sent = OutgoingEmail.objects.create(
        recipient=reader, kind=Kind.REPLY, to=reader.email, subject="old", body_text="old",
        state=EmailState.SENT,
    )  # fmt: skip
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("resend_failed_emails", stdout=out)

    assert "1" in out.getvalue()
    failed.refresh_from_db()
    assert failed.state == EmailState.SENT
    assert failed.attempts == 1
    assert [m.to for m in mailoutbox] == [[reader.email]]
    sent.refresh_from_db()
    assert sent.state == EmailState.SENT


# --- The sweeper and a broker that is down -----------------------------------------------------


def test_the_sweeper_resends_what_is_still_pending_after_a_minute_but_not_what_waits_to_retry(
    article, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    old, fresh, retrying = (CommentFactory(article=article, author=reader) for _ in range(3))
    for parent in (old, fresh, retrying):
        reply_to(parent, other_reader)
    dispatch_events()  # the worker's part; the sends, queued for the commit, wait
    rows = list(OutgoingEmail.objects.filter(recipient=reader).order_by("pk"))
    assert len(rows) == 3
    two_minutes_ago = timezone.now() - timedelta(minutes=2)
    OutgoingEmail.objects.filter(pk__in=[rows[0].pk, rows[2].pk]).update(created_at=two_minutes_ago)
    OutgoingEmail.objects.filter(pk=rows[2].pk).update(
        attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    with django_capture_on_commit_callbacks(execute=True):
        swept = services.sweep_pending_emails()

    assert swept == [rows[0].pk]
    assert len(mailoutbox) == 1
    states = dict(OutgoingEmail.objects.values_list("pk", "state"))
    assert states[rows[0].pk] == EmailState.SENT
    assert states[rows[1].pk] == EmailState.PENDING
    assert states[rows[2].pk] == EmailState.PENDING


def test_the_sweeper_picks_up_a_retry_whose_time_has_come(
    root, reader, other_reader, mailoutbox, django_capture_on_commit_callbacks
):
    reply_to(root, other_reader)
    dispatch_events()  # the worker's part; the send, queued for the commit, waits
    email = OutgoingEmail.objects.get(recipient=reader)
    with mock.patch(LOCMEM_SEND, side_effect=_failing_send):
        services.deliver_email(email_id=email.pk)
    OutgoingEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(minutes=5),
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )

    from notifications.tasks import sweep_pending_emails

    sweep_pending_emails.delay()

    email.refresh_from_db()
    assert (email.state, email.attempts) == (EmailState.SENT, 2)
    assert len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_is_down_loses_nothing_and_the_sweeper_sends_later(
    article, reader, other_reader, mailoutbox
):
    root = CommentFactory(article=article, author=reader)
    refused = OperationalError("[Errno 111] Connection refused")

    with mock.patch("notifications.tasks.send_email.delay", side_effect=refused) as delay:
        reply = reply_to(root, other_reader)  # does not raise

    assert delay.call_count == 1
    assert Notification.objects.filter(comment=reply, recipient=reader).exists()
    email = OutgoingEmail.objects.get(recipient=reader)
    assert email.state == EmailState.PENDING
    assert emails_to(reader) == []

    OutgoingEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    assert services.sweep_pending_emails() == [email.pk]

    email.refresh_from_db()
    assert email.state == EmailState.SENT
    assert len(emails_to(reader)) == 1
    # A second sweep finds nothing left to do.
    assert services.sweep_pending_emails(older_than=timedelta(0)) == []
    assert len(emails_to(reader)) == 1


# --- At once (PostgreSQL: real row locks) ------------------------------------------------------


@pytest.fixture
def _needs_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://… (make test does)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_needs_postgresql")
def test_two_workers_delivering_the_same_row_at_once_send_it_once(
    article, reader, other_reader, mailoutbox
):
    import time

    root = CommentFactory(article=article, author=reader)
    with mock.patch("notifications.tasks.send_email.delay"):  # leave the row pending
        reply_to(root, other_reader)
    email = OutgoingEmail.objects.get(recipient=reader)
    real_send = locmem.EmailBackend.send_messages

    def slow_send(self, messages):
        time.sleep(0.3)  # the other worker arrives while this one holds the row
        return real_send(self, messages)

    with mock.patch(LOCMEM_SEND, slow_send):
        results = run_at_once([lambda: services.deliver_email(email_id=email.pk)] * 4)

    assert sorted(r.sent for r in results) == [False, False, False, True]
    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert (email.state, email.attempts) == (EmailState.SENT, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_needs_postgresql")
def test_two_digest_runs_at_once_send_each_person_one_digest(
    article, reader, other_reader, mailoutbox
):
    prefer(reader, Kind.REPLY, Delivery.DIGEST)
    root = CommentFactory(article=article, author=reader)
    for n in range(3):
        reply_to(root, other_reader, body=f"Reply {n}")

    run_at_once([services.send_digests] * 2)

    assert OutgoingEmail.objects.filter(recipient=reader, kind="").count() == 1
    assert len(emails_to(reader)) == 1
