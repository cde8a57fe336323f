"""An email is sent at most once, even when the worker dies mid-send (issue: 2 of 113 emails
were sent again ~5.5 min after a worker was killed while the SMTP server accepted them).

The fault as found, reproduced with a real SMTP server (aiosmtpd on loopback) and a real
SIGKILL: a `manage.py` process delivering one email is killed while the server holds the
message; when the lease runs out the sweeper must not send it again. A kill before anything
reached the server still gets the email sent (once). In-process variants pin the same rules on
both databases.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from email import message_from_bytes, policy
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from notifications import services
from notifications.enums import EmailState
from notifications.models import OutgoingEmail
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


class WorkerDied(BaseException):
    """Stands for the process dying at that line: nothing after it runs, no except catches it."""


def pending_email(**fields) -> OutgoingEmail:
    return OutgoingEmail.objects.create(
        to="ada@example.com", subject="SmokeBo replied", body_text="hello", **fields
    )


def expire_leases() -> None:
    OutgoingEmail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db
def test_a_worker_dying_after_the_server_accepted_leaves_it_unknown_and_it_is_not_sent_again():
    email = pending_email()
    with (
        mock.patch.object(services, "_record_sent", side_effect=WorkerDied),
        pytest.raises(WorkerDied),
    ):
        services.deliver_email(email_id=email.pk)
    assert len(mail.outbox) == 1  # the server has it
    email.refresh_from_db()
    assert email.state == EmailState.HANDING

    services.sweep_pending_emails(older_than=timedelta(0))  # lease still running: untouched
    email.refresh_from_db()
    assert email.state == EmailState.HANDING

    expire_leases()
    services.sweep_pending_emails(older_than=timedelta(0))
    email.refresh_from_db()
    assert email.state == EmailState.UNKNOWN
    assert "died while handing" in email.last_error
    assert len(mail.outbox) == 1  # not sent again
    services.sweep_pending_emails(older_than=timedelta(0))
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_worker_dying_before_the_hand_over_gets_the_email_sent_once_after_the_lease():
    email = pending_email()
    with (
        mock.patch("django.core.mail.backends.locmem.EmailBackend.open", side_effect=WorkerDied),
        pytest.raises(WorkerDied),
    ):
        services.deliver_email(email_id=email.pk)
    email.refresh_from_db()
    assert (email.state, len(mail.outbox)) == (EmailState.SENDING, 0)

    expire_leases()
    services.sweep_pending_emails(older_than=timedelta(0))  # eager here: sends at once
    email.refresh_from_db()
    assert (email.state, len(mail.outbox)) == (EmailState.SENT, 1)


@pytest.mark.django_db
def test_a_refused_hand_over_is_retried_and_a_failing_quit_does_not_undo_the_send():
    email = pending_email()
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=OSError("connection reset"),
    ):
        result = services.deliver_email(email_id=email.pk)
    email.refresh_from_db()
    assert (email.state, result.retry_in) == (EmailState.PENDING, services.RETRY_BASE_SECONDS)

    OutgoingEmail.objects.update(next_attempt_at=None)
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.close", side_effect=OSError("QUIT failed")
    ):
        assert services.deliver_email(email_id=email.pk).sent
    email.refresh_from_db()
    assert (email.state, len(mail.outbox)) == (EmailState.SENT, 1)


@pytest.mark.django_db
def test_an_unknown_email_is_sent_again_only_on_purpose_with_the_same_message_id(
    django_capture_on_commit_callbacks,
):
    email = pending_email(state=EmailState.UNKNOWN, attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resend_failed_emails", stdout=StringIO())  # failed ones only
    assert len(mail.outbox) == 0
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resend_failed_emails", "--unknown", stdout=out)
    assert "Re-queued 1" in out.getvalue()
    email.refresh_from_db()
    assert email.state == EmailState.SENT
    assert mail.outbox[0].extra_headers["Message-ID"] == services.message_id(email)
    assert services.message_id(email).startswith(f"<email-{email.pk}.")


# --- The fault as found: a real SMTP server, a real SIGKILL ---------------------------------


class HoldingMailbox:
    """Keeps every message; with `hold` set, receives the message in full and then waits to
    answer 250 until released, so the client can be killed while the server has accepted."""

    def __init__(self, *, hold_data: bool = False, hold_ehlo: bool = False):
        self.hold_data = hold_data
        self.hold_ehlo = hold_ehlo
        self.messages = []
        self.received = threading.Event()
        self.greeted = threading.Event()
        self.release = threading.Event()

    async def _wait_release(self):
        while not self.release.is_set():
            await asyncio.sleep(0.02)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.greeted.set()
        if self.hold_ehlo:
            self.hold_ehlo = False
            await self._wait_release()
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        self.received.set()
        if self.hold_data:
            self.hold_data = False
            await self._wait_release()
        return "250 2.0.0 OK"


def manage(env, *args, wait=True):
    command = [sys.executable, str(ROOT / "manage.py"), *args]
    if not wait:
        return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def site(tmp_path):
    """A migrated SQLite site whose mailer is a real SMTP server on loopback; yields
    (env, database path, start_server(mailbox))."""
    hidden = {"PYTEST_VERSION", "REDIS_URL", "TEST_REDIS_URL", "CELERY_BROKER_URL", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    db = tmp_path / "db.sqlite3"
    port = free_port()
    env.update(
        DEBUG="false",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{db}",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        EMAIL_USE_TLS="false",
        EMAIL_TIMEOUT="10",
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    controllers = []

    def start(mailbox: HoldingMailbox) -> None:
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)

    yield env, db, start
    for controller in controllers:
        controller.stop()


def rows(db: Path):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT state, attempts FROM notifications_outgoingemail").fetchall()


def create_email(env) -> None:
    manage(
        env,
        "shell",
        "-c",
        "from notifications.models import OutgoingEmail; OutgoingEmail.objects.create("
        "to='ada@example.com', subject='SmokeBo replied', body_text='hello')",
    )


def kill_delivering_process(env, until: threading.Event) -> None:
    process = manage(
        env,
        "shell",
        "-c",
        "from notifications.models import OutgoingEmail; from notifications import services; "
        "services.deliver_email(email_id=OutgoingEmail.objects.get().pk)",
        wait=False,
    )
    assert until.wait(30), "the SMTP conversation never got that far"
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL


def sweep_after_the_lease(env, db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE notifications_outgoingemail SET next_attempt_at='2000-01-01 00:00:00'")
    # No broker in this site: the sweeper's sends run in its own process, at once.
    manage(
        env,
        "shell",
        "-c",
        "from datetime import timedelta; from notifications import services; "
        "services.sweep_pending_emails(older_than=timedelta(0))",
    )


@pytest.mark.integration
def test_killed_while_the_server_accepts_the_email_is_not_sent_again(site):
    env, db, start = site
    mailbox = HoldingMailbox(hold_data=True)
    start(mailbox)
    create_email(env)

    kill_delivering_process(env, mailbox.received)
    mailbox.release.set()  # the server answers 250 to nobody and keeps the message
    assert rows(db) == [("handing", 1)]

    sweep_after_the_lease(env, db)
    assert rows(db) == [("unknown", 1)]
    time.sleep(0.5)  # a second copy would be on its way by now
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["Subject"] == "SmokeBo replied"


@pytest.mark.integration
def test_killed_before_the_hand_over_the_email_is_sent_once_after_the_lease(site):
    env, db, start = site
    mailbox = HoldingMailbox(hold_ehlo=True)
    start(mailbox)
    create_email(env)

    kill_delivering_process(env, mailbox.greeted)
    mailbox.release.set()
    assert rows(db) == [("sending", 1)]
    assert mailbox.messages == []

    sweep_after_the_lease(env, db)
    assert rows(db) == [("sent", 2)]
    assert len(mailbox.messages) == 1
