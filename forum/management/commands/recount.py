"""Recompute every denormalized counter from the rows it counts, and report any drift.

`like_count` = Like rows; `reply_count` = visible direct replies; `comment_count` = visible
comments of the article. Legacy counts are history and are not recomputed.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from forum.services import recount_counters


class Command(BaseCommand):
    help = "Recount likes, replies and comments; fix drift (or only report it with --check)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Change nothing; exit 1 if any counter is off."
        )

    def handle(self, *args, check: bool = False, **options):
        drift = recount_counters(fix=not check)
        for row in drift:
            self.stdout.write(
                f"{row.model} #{row.pk} {row.field}: stored {row.stored}, counted {row.counted}"
            )
        if not drift:
            self.stdout.write(self.style.SUCCESS("All counters are right."))
        elif check:
            raise CommandError(f"{len(drift)} counter(s) drifted.")
        else:
            self.stdout.write(self.style.WARNING(f"Fixed {len(drift)} counter(s)."))
