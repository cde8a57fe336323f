from __future__ import annotations

from django.core.management.base import BaseCommand

from notifications.services import retry_failed_emails


class Command(BaseCommand):
    help = "Put every failed email back in the queue (attempts reset) and send it again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--unknown",
            action="store_true",
            help="Also the emails whose worker died while handing them to the mail server "
            "(the server may have sent them already).",
        )

    def handle(self, *args, **options):
        ids = retry_failed_emails(unknown=options["unknown"])
        self.stdout.write(f"Re-queued {len(ids)} failed email(s).")
