"""Import the old site's pages: files, folders or .zip archives, in either legacy format."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from forum.importing import ImportReport, import_sources
from forum.importpool import default_jobs
from forum.legacy import LegacyFormatError, iter_sources


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, not {value!r}")
    return int(value)


class Command(BaseCommand):
    help = "Import legacy pages (export Markdown or page HTML): files, folders or .zip archives."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="Chapter files, column folders or .zip files.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Do everything, then roll it all back."
        )
        parser.add_argument("--column", default="", help="Column name for every file.")
        parser.add_argument(
            "--jobs",
            type=_positive,
            default=default_jobs(),
            help="Processes that parse and render ahead while this one writes "
            "(default: the number of cores; 1: all in this process).",
        )
        parser.add_argument(
            "--author", default="", help="The column author's display name (owns the articles)."
        )

    def handle(self, *args, paths, dry_run, column, author, jobs, verbosity=1, **options):
        try:
            # Counted first without reading a file (for the progress bar), then read and
            # imported a batch at a time: an archive of any size fits in memory.
            total = sum(1 for _ in iter_sources(paths, read=False))
            if not total:
                raise CommandError("No legacy chapter files found in: " + ", ".join(paths))
            with tqdm(
                total=total, unit="file", disable=verbosity == 0, file=self.stderr._out
            ) as bar:

                def progress(done: int, total: int, source: str, rows: int) -> None:
                    bar.set_postfix_str(f"{rows:,} chapters and comments", refresh=False)
                    bar.update(done - bar.n)

                report = import_sources(
                    iter_sources(paths),
                    author=author,
                    column=column,
                    dry_run=dry_run,
                    progress=progress,
                    total=total,
                    jobs=jobs,
                )
        except (LegacyFormatError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.print_summary(report, dry_run=dry_run)

    def print_summary(self, report: ImportReport, *, dry_run: bool) -> None:
        rows = [
            ("", "created", "updated", "unchanged"),
            *(
                (name, str(t.created), str(t.updated), str(t.unchanged))
                for name, t in (
                    ("columns", report.columns),
                    ("chapters", report.chapters),
                    ("comments", report.comments),
                    ("users", report.users),
                )
            ),
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
            )
        self.stdout.write(f"files: {report.files}, skipped: {len(report.skipped)}")
        for skipped in report.skipped:
            where = f"{skipped['file']}:{skipped['line']}" if skipped["line"] else skipped["file"]
            self.stdout.write(self.style.WARNING(f"  skipped {where}: {skipped['reason']}"))
        if dry_run:
            self.stdout.write(self.style.NOTICE("Dry run: nothing was saved."))
