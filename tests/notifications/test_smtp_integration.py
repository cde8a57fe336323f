"""End to end with real services: a Celery worker on Redis (TEST_REDIS_URL) and a real SMTP
server (aiosmtpd on a free loopback port) that the site's SMTP mailer talks to.

Django 6.1 builds a new connection from settings.MAILERS on every `mailers[...]` access (no
cache), and the worker runs in a thread of this process, so overriding settings.MAILERS here
reaches the worker too.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email import message_from_bytes, policy
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.db import OperationalError as DatabaseError
from kombu.exceptions import OperationalError

from forum import services as forum
from notifications import services
from notifications.enums import EmailState, Kind
from notifications.models import OutgoingEmail
from tests.factories import CommentFactory
from tests.helpers import celery_broker, celery_worker, free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30


class Mailbox:
    """An aiosmtpd handler: refuses the first `refuse` messages with a temporary error (451),
    keeps the rest."""

    def __init__(self, refuse: int = 0):
        self.refuse = refuse
        self.refused = 0
        self.messages = []  # (envelope recipients, email.message.EmailMessage)

    async def handle_DATA(self, server, session, envelope):
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"


@pytest.fixture
def smtp_server(settings):
    """Start a real SMTP server and point the default mailer at it. Yields a factory:
    `smtp_server(refuse=N)` → the Mailbox."""
    controllers = []

    def start(refuse: int = 0) -> Mailbox:
        mailbox = Mailbox(refuse=refuse)
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port, "use_tls": False, "timeout": 5},
            }
        }
        return mailbox

    yield start
    for controller in controllers:
        controller.stop()


def wait_for(condition, *, timeout: float = TIMEOUT, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except DatabaseError:
            pass  # SQLite's shared in-memory test database, briefly locked by the worker
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def written_email(recipient) -> OutgoingEmail:
    """The worker writes the email row when it dispatches the comment's event, after the
    request's commit: wait for it."""
    rows = OutgoingEmail.objects.filter(recipient=recipient)
    wait_for(rows.exists, what="the worker to write the email")
    return rows.get()


def email_state(email_id: int) -> tuple[str, int]:
    email = OutgoingEmail.objects.get(pk=email_id)
    return email.state, email.attempts


def assert_is_the_reply_email(mailbox, reply, recipient):
    [(rcpt_tos, message)] = mailbox.messages
    assert rcpt_tos == [recipient.email]
    assert message["To"] == recipient.email
    assert message["Subject"] == "other_reader replied to your comment on “Why Pods?”"
    site = django_settings.SITE_URL.rstrip("/")
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{site}/notifications/unsubscribe/")
    assert unsubscribe.endswith("/>")
    token = unsubscribe[1:-2].rsplit("/", 1)[1]
    assert services.read_unsubscribe_token(token) == (recipient, Kind.REPLY)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    permalink = f"{site}/c/{reply.pk}/"
    assert permalink in text
    assert f'href="{permalink}"' in html


def test_a_reply_is_delivered_once_to_the_parent_authors_mailbox(
    celery_worker_on_redis, smtp_server, article, reader, other_reader
):
    mailbox = smtp_server()
    root = CommentFactory(article=article, author=reader)

    reply = forum.post_comment(article=article, author=other_reader, parent=root, body="Hi!")

    email = written_email(reader)
    wait_for(lambda: email_state(email.pk)[0] == EmailState.SENT, what="the email to be sent")
    assert email_state(email.pk) == (EmailState.SENT, 1)
    assert_is_the_reply_email(mailbox, reply, reader)
    # Nothing else arrives later (a second delivery would show within the sweeper's reach).
    time.sleep(1)
    assert len(mailbox.messages) == 1


def test_a_server_that_refuses_twice_gets_the_email_once_after_retries(
    celery_worker_on_redis, smtp_server, article, reader, other_reader, monkeypatch
):
    monkeypatch.setattr(services, "RETRY_BASE_SECONDS", 1)
    mailbox = smtp_server(refuse=2)
    root = CommentFactory(article=article, author=reader)

    reply = forum.post_comment(article=article, author=other_reader, parent=root, body="Hi!")

    email = written_email(reader)
    wait_for(lambda: mailbox.messages, what="the third attempt to be accepted")
    wait_for(lambda: email_state(email.pk)[0] == EmailState.SENT, what="the row to be sent")
    assert mailbox.refused == 2
    assert email_state(email.pk) == (EmailState.SENT, 3)
    row = OutgoingEmail.objects.get(pk=email.pk)
    assert "451" in row.last_error
    assert_is_the_reply_email(mailbox, reply, reader)
    time.sleep(1)
    assert len(mailbox.messages) == 1


def test_an_email_queued_while_the_broker_was_down_is_delivered_by_the_sweeper(
    celery_worker_on_redis, smtp_server, article, reader, other_reader
):
    mailbox = smtp_server()
    root = CommentFactory(article=article, author=reader)
    refused = OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    # The worker hands the email to the broker while it dispatches the comment's event, so the
    # broker stays down until that attempt has been made.
    with mock.patch("notifications.tasks.send_email.delay", side_effect=refused) as delay:
        reply = forum.post_comment(article=article, author=other_reader, parent=root, body="Hi!")
        email = written_email(reader)
        wait_for(lambda: delay.called, what="the worker to try the broker")

    time.sleep(0.5)
    assert mailbox.messages == []
    assert email_state(email.pk) == (EmailState.PENDING, 0)

    # The broker is back: the periodic sweeper finds the row and sends it through the worker.
    assert services.sweep_pending_emails(older_than=timedelta(0)) == [email.pk]

    wait_for(lambda: email_state(email.pk)[0] == EmailState.SENT, what="the swept email")
    assert_is_the_reply_email(mailbox, reply, reader)
    # Sweeping again sends nothing more.
    assert services.sweep_pending_emails(older_than=timedelta(0)) == []
    time.sleep(1)
    assert len(mailbox.messages) == 1


def test_the_sweeper_task_itself_runs_on_the_worker(
    celery_worker_on_redis, smtp_server, article, reader, other_reader
):
    from notifications.tasks import sweep_pending_emails

    mailbox = smtp_server()
    root = CommentFactory(article=article, author=reader)
    down = OperationalError("down")
    with mock.patch("notifications.tasks.send_email.delay", side_effect=down) as delay:
        forum.post_comment(article=article, author=other_reader, parent=root, body="Hi!")
        email = written_email(reader)
        wait_for(lambda: delay.called, what="the worker to try the broker")
    OutgoingEmail.objects.filter(pk=email.pk).update(
        created_at=email.created_at - timedelta(minutes=2)
    )

    sweep_pending_emails.delay()

    wait_for(lambda: email_state(email.pk)[0] == EmailState.SENT, what="the swept email")
    assert len(mailbox.messages) == 1


def test_a_sign_up_with_the_broker_down_succeeds_and_its_email_arrives_when_it_is_back(
    smtp_server, client
):
    mailbox = smtp_server()
    nobody_listens = f"redis://127.0.0.1:{free_port()}/0"

    with celery_broker(nobody_listens):
        response = client.post(
            "/accounts/signup/",
            {
                "email": "new@example.com",
                "display_name": "newcomer",
                "password1": "a-long-passphrase-42",
                "password2": "a-long-passphrase-42",
            },
        )

    assert response.status_code == 302
    email = OutgoingEmail.objects.get(to="new@example.com")
    assert email_state(email.pk) == (EmailState.PENDING, 0)
    assert mailbox.messages == []

    with celery_worker():
        # The broker is back: the periodic sweeper hands the row to the worker.
        assert services.sweep_pending_emails(older_than=timedelta(0)) == [email.pk]
        wait_for(lambda: email_state(email.pk)[0] == EmailState.SENT, what="the swept email")

    [(rcpt_tos, message)] = mailbox.messages
    assert rcpt_tos == ["new@example.com"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert re.search(r"/accounts/confirm-email/[^/\s]+/", text)
    assert "Hello from Colloquy!" in text
