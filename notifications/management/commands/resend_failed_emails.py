from __future__ import annotations

from django.core.management.base import BaseCommand

from notifications.services import retry_failed_emails


class Command(BaseCommand):
    help = "Put every failed email back in the queue (attempts reset) and send it again."

    def handle(self, *args, **options):
        ids = retry_failed_emails()
        self.stdout.write(f"Re-queued {len(ids)} failed email(s).")
