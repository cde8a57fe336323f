"""Saving parsed legacy pages: parse → plan → apply, by batches of chapters.

The parser (`forum.legacy`) turns bytes into dataclasses; this module matches them against what
is already here by stable legacy keys and writes only the difference, with bulk queries. The
CLI (`manage.py import_legacy`), the Celery task and the admin upload all call
`import_sources()` and follow it through the same progress callback.

Keys (stable across runs and across the two formats of the old site):
- column  `column:<name>`
- article `article:<column>:<chapter key>`  (the chapter key ignores " - " / " | " differences)
- comment `<article key>:<sha1 of name, date and whitespace-normalised text>`
- reply   `<comment key>:<author|editor>`
- user    `user:<sha1 of name and avatar URL>`; the column's author `author:<name>`
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import shutil
import tempfile
import time as clock
import zipfile
from collections.abc import Callable, Iterable, Sized
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

from celery import current_app
from django.core.files.base import File
from django.db import DatabaseError, transaction
from django.db.models import CharField, Count, F, Max, Q, Value
from django.db.models.functions import Cast, LPad
from django.utils import timezone
from django.utils.html import escape, linebreaks

from accounts.models import User
from accounts.names import legacy_display_name, name_keys, name_skeleton, unique_display_name

from . import caching
from .enums import CommentStatus, ImportStatus, ReplyRole
from .legacy import (
    LegacyChapter,
    LegacyComment,
    LegacyFormatError,
    LegacySource,
    chapter_key,
    iter_sources,
)
from .legacy import parse_chapter as parse_legacy_chapter
from .models import PATH_SEGMENT_WIDTH, Article, Column, Comment, ImportJob, path_segment
from .rendering import render_article_markdown, sanitize_html
from .services import unique_slug

Progress = Callable[[int, int, str], None]

PLACEHOLDER_NAME = "匿名用户"
EDITOR_NAME = "编辑"
MAX_NAME = 30


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: Tally) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class ImportReport:
    columns: Tally = field(default_factory=Tally)
    chapters: Tally = field(default_factory=Tally)
    comments: Tally = field(default_factory=Tally)
    users: Tally = field(default_factory=Tally)
    files: int = 0
    skipped: list[dict] = field(default_factory=list)
    # Keys of the users and columns already counted in this run: each counts once.
    seen: set[str] = field(default_factory=set, repr=False)

    def first_time(self, key: str) -> bool:
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def merge(self, other: ImportReport) -> None:
        for name in ("columns", "chapters", "comments", "users"):
            getattr(self, name).add(getattr(other, name))

    def skip(self, source: str, line: int | None, reason: str) -> None:
        self.skipped.append({"file": source, "line": line, "reason": reason})

    def as_dict(self) -> dict:
        data = asdict(self)
        del data["seen"]
        return data


BATCH_SIZE = 100


def import_sources(
    sources: Iterable[LegacySource],
    *,
    author: str = "",
    column: str = "",
    dry_run: bool = False,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    total: int | None = None,
) -> ImportReport:
    """Import every source; a file that fails is reported and skipped, the others go in.

    Chapters go in by batches, each batch in one transaction with bulk queries (a few queries
    per batch instead of a dozen per chapter). If a batch fails, it is rolled back and redone
    one chapter per transaction, so the bad file is found and skipped and nothing is
    half-imported. A dry run does all the work inside one transaction and rolls it back.
    ``sources`` may be a lazy iterator (iter_sources); ``total`` is then what progress reports
    as the number of files (count them with ``iter_sources(paths, read=False)``).
    """
    if total is None:
        total = len(sources) if isinstance(sources, Sized) else 0
    report = ImportReport()
    run = ImportRun(report, author=author)
    done = 0
    # Streamed: one batch of files (their bytes and parsed chapters) is in memory at a time.
    with transaction.atomic() if dry_run else nullcontext():
        for batch in itertools.batched(sources, batch_size):
            parsed = []
            for source in batch:
                report.files += 1
                try:
                    parsed.append(
                        parse_legacy_chapter(
                            source.data,
                            source=source.source,
                            column=column or source.column,
                            position=source.position,
                        )
                    )
                except LegacyFormatError as exc:
                    report.skip(source.source, exc.line, exc.reason)
            if not run.apply(parsed):
                for chapter in parsed:  # find the culprit: one chapter per transaction
                    if not run.apply([chapter]):
                        report.skip(chapter.source, None, f"could not be saved: {run.error}")
            del parsed
            done += len(batch)
            if progress:
                progress(done, max(total, done), batch[-1].source)
        if dry_run:
            transaction.set_rollback(True)
    if not dry_run:
        # Columns, chapters and people were written in bulk, past the models' signals.
        caching.bump(caching.CATALOGUE)
        caching.bump(caching.PEOPLE)
    return report


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x00".join(parts).encode(), usedforsecurity=False).hexdigest()[:24]


_SPACE = re.compile(r"\s+")


def comment_identity(comment: LegacyComment) -> str:
    """Name + date + text with all whitespace removed: the same comment in both formats.

    The export writes paragraphs with newlines, the page with <br>; spacing differs, words don't.
    """
    day = comment.created.date() if isinstance(comment.created, datetime) else comment.created
    return _digest(comment.name, day.isoformat(), _SPACE.sub("", comment.text))


def _aware(moment: date | datetime) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(0, 0))
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def web_url(url: str) -> str:
    """An imported URL that a page may load: https only (plain http is upgraded, as the site
    itself is https and its CSP allows https images), anything else dropped."""
    url = url.strip()
    if url.lower().startswith("http://"):
        url = "https://" + url[len("http://") :]
    return url[:500] if url.lower().startswith("https://") else ""


def _name_for(name: str) -> str:
    # The old site had no rules for names: what it allowed and ours doesn't is cleaned, and a
    # name with nothing usable left becomes the placeholder (accounts/names.py).
    return legacy_display_name(name.strip(), placeholder=PLACEHOLDER_NAME)


class ImportRun:
    """What one import run knows and keeps between batches: users, names, columns, chapters."""

    def __init__(self, report: ImportReport, *, author: str):
        self.report = report
        self.author_override = author
        self.error = ""
        self._reset()

    def _reset(self) -> None:
        # Forgotten after a failed batch: what it created was rolled back.
        self.users: dict[str, User] = {}
        self.taken_names: set[str] | None = None
        self.columns: dict[str, Column] = {}
        self.positions: dict[int, set[int]] = {}
        self.slugs: dict[int, set[str]] = {}

    def apply(self, chapters: list[LegacyChapter]) -> bool:
        """Apply chapters in one transaction; False (and rolled back) if the database refused."""
        if not chapters:
            return True
        batch = ImportReport(seen=set(self.report.seen))
        try:
            with transaction.atomic():
                BatchImport(self, chapters, batch).apply()
        except (DatabaseError, ValueError) as exc:
            self.error = str(exc)
            # Redone chapter by chapter by the caller: say why, since it costs a batch's work.
            logger.info("import batch of %d chapters refused: %s", len(chapters), exc)
            self._reset()
            return False
        self.report.merge(batch)
        self.report.seen |= batch.seen
        return True

    # --- users ----------------------------------------------------------------------------

    def resolve_users(self, wanted: dict[str, tuple[str, str]], report: ImportReport) -> None:
        """wanted: key → (name, avatar URL). Loads the known ones, creates the rest in bulk."""
        missing = [key for key in wanted if key not in self.users]
        for chunk in range(0, len(missing), 1000):
            for user in User.objects.filter(legacy_key__in=missing[chunk : chunk + 1000]):
                self.users[user.legacy_key] = user
                avatar = web_url(wanted[user.legacy_key][1])
                first = report.first_time(user.legacy_key)
                if avatar and user.avatar_url != avatar:
                    user.avatar_url = avatar
                    User.objects.filter(pk=user.pk).update(avatar_url=avatar)
                    report.users.updated += first
                else:
                    report.users.unchanged += first
        to_create = [key for key in missing if key not in self.users]
        if not to_create:
            return
        if self.taken_names is None:
            # Every name's keys, once per run: unique names are chosen without a query each.
            self.taken_names = set()
            for name in User.objects.values_list("display_name", flat=True):
                self.taken_names |= name_keys(name)
        new_users = []
        for key in to_create:
            name, avatar = wanted[key]
            display = unique_display_name(
                _name_for(name), self.taken_names, force_suffix=not name.strip()
            )
            skeleton = name_skeleton(display)
            self.taken_names |= name_keys(display)
            user = User(
                display_name=display,
                display_name_skeleton=skeleton,  # bulk_create skips User.save
                avatar_url=web_url(avatar),
                is_legacy=True,
                legacy_key=key,
            )
            user.set_unusable_password()
            new_users.append(user)
        for user in User.objects.bulk_create(new_users, batch_size=1000):
            self.users[user.legacy_key] = user
            report.first_time(user.legacy_key)
        report.users.created += len(new_users)

    def author_user(self, name: str, column: str, report: ImportReport) -> User:
        key = f"author:{name}" if name else f"author:?{column}"
        label = name or f"{column[:24]}·作者"
        self.resolve_users({key: (label, "")}, report)
        return self.users[key]

    # --- columns and chapters ---------------------------------------------------------------

    def column_siblings(self, column: Column) -> tuple[set[int], set[str]]:
        if column.pk not in self.positions:
            rows = Article.objects.filter(column=column).values_list("position", "slug")
            self.positions[column.pk] = {position for position, _ in rows}
            self.slugs[column.pk] = {slug for _, slug in rows}
        return self.positions[column.pk], self.slugs[column.pk]


class BatchImport:
    """One batch of chapters: plan against what exists, then write the difference in bulk."""

    def __init__(self, run: ImportRun, chapters: list[LegacyChapter], report: ImportReport):
        self.run = run
        self.chapters = chapters
        self.report = report
        self.touched: set[int] = set()  # articles whose comments changed: recount them
        self.author_moved: set[int] = set()  # columns whose placeholder author was replaced

    def apply(self) -> None:
        keys = [self._article_key(chapter) for chapter in self.chapters]
        existing = {a.legacy_key: a for a in Article.objects.filter(legacy_key__in=keys)}
        articles, new = [], []
        for chapter, key in zip(self.chapters, keys, strict=True):
            column = self._column(chapter)
            if column.pk in self.author_moved:
                # The column's author became known in this batch: _column moved what was
                # saved; the batch's unsaved chapters follow (else they would point at the
                # placeholder it deleted, and the whole batch would fail at its commit).
                for _, pending, of_column in articles:
                    if pending.pk is None and of_column.pk == column.pk:
                        pending.author = column.author
            article = self._article(chapter, key, column, existing.get(key))
            if article.pk is None:
                new.append(article)
            existing[key] = article
            articles.append((chapter, article, column))
        # New chapters go in together; their comments below need their ids.
        Article.objects.bulk_create(new, batch_size=500)
        self.touched.update(article.pk for article in new)
        self._comments(articles)
        self._refresh_counters()

    @staticmethod
    def _article_key(chapter: LegacyChapter) -> str:
        return f"article:{chapter.column}:{chapter_key(chapter.title)}"

    # --- column and author ------------------------------------------------------------------

    def _column(self, chapter: LegacyChapter) -> Column:
        run, report = self.run, self.report
        key = f"column:{chapter.column}"
        author_name = run.author_override or chapter.author_name or ""
        column = run.columns.get(key)
        if column is None:
            column = Column.objects.select_related("author").filter(legacy_key=key).first()
        if column is None:
            author = run.author_user(author_name, chapter.column, report)
            taken = set(Column.objects.values_list("slug", flat=True))
            column = Column.objects.create(
                title=chapter.column[:200],
                slug=unique_slug(title=chapter.column, taken=taken, fallback="column"),
                author=author,
                legacy_key=key,
            )
            report.columns.created += 1
            report.first_time(key)
        elif author_name and (column.author.legacy_key or "").startswith("author:?"):
            # The author's name became known: the placeholder's articles and replies are theirs.
            author = run.author_user(author_name, chapter.column, report)
            old = column.author_id
            Column.objects.filter(pk=column.pk).update(author=author)
            Article.objects.filter(column=column, author_id=old).update(author=author)
            Comment.objects.filter(article__column=column, author_id=old).update(author=author)
            User.objects.filter(pk=old, columns=None, articles=None, comments=None).delete()
            column.author = author
            self.author_moved.add(column.pk)
            report.columns.updated += report.first_time(key)
        else:
            report.columns.unchanged += report.first_time(key)
        run.columns[key] = column
        return column

    # --- article ----------------------------------------------------------------------------

    def _article(self, chapter, key: str, column: Column, article: Article | None) -> Article:
        if chapter.format == "page":
            body = {"body_md": "", "body_html": sanitize_html(chapter.article_html)}
        else:
            body = {
                "body_md": chapter.article_markdown,
                "body_html": render_article_markdown(chapter.article_markdown),
            }
        positions, slugs = self.run.column_siblings(column)
        if article is None:
            position = chapter.position
            if position is None or position in positions:
                position = max(positions, default=0) + 1
            slug = unique_slug(title=chapter.title, taken=slugs, fallback=f"chapter-{position}")
            article = Article(
                column=column,
                author=column.author,
                title=chapter.title[:300],
                slug=slug,
                position=position,
                legacy_key=key,
                published_at=timezone.now(),
                **body,
            )
            positions.add(position)
            slugs.add(slug)
            self.report.chapters.created += 1
            return article  # saved with the batch's other new chapters
        # The page HTML holds the full article; the export only a preview: never downgrade.
        has_full_text = article.body_md == "" and article.body_html != ""
        changes = {}
        if chapter.format == "page" or not has_full_text:
            changes = {k: v for k, v in body.items() if getattr(article, k) != v}
        # The export's title and nav position win, whichever format came first; the page's
        # title and file-name number only name an article the export hasn't.
        if chapter.format == "export":
            if article.title != chapter.title[:300]:
                changes["title"] = chapter.title[:300]
            if chapter.position is not None and article.position != chapter.position:
                if chapter.position in positions:
                    # Whoever holds it moves to the end (it gets its own position later).
                    last = max(positions) + 1
                    Article.objects.filter(column=column, position=chapter.position).exclude(
                        pk=article.pk
                    ).update(position=last)
                    positions.add(last)
                positions.discard(article.position)
                positions.add(chapter.position)
                changes["position"] = chapter.position
        if changes:
            Article.objects.filter(pk=article.pk).update(**changes)
            for name, value in changes.items():
                setattr(article, name, value)
            self.touched.add(article.pk)  # its cached pages go (the counters are recounted)
            self.report.chapters.updated += 1
        else:
            self.report.chapters.unchanged += 1
        return article

    # --- comments ---------------------------------------------------------------------------

    @staticmethod
    def _commenter_key(comment: LegacyComment, author: User) -> str:
        # The author's key holds their name as the old site wrote it (author_user).
        if comment.name and author.legacy_key == f"author:{comment.name}":
            return author.legacy_key  # the column's author commenting under their own name
        return f"user:{_digest(comment.name, comment.avatar_url)}"

    def _comments(self, articles) -> None:
        existing = {
            c.legacy_key: c
            for c in Comment.objects.filter(
                article__in=[article for _, article, _ in articles], legacy_key__isnull=False
            )
        }
        keyed = []  # (chapter, article, column, key, legacy)
        for chapter, article, column in articles:
            seen: set[str] = set()
            for legacy in chapter.comments:
                key = f"{article.legacy_key}:{comment_identity(legacy)}"
                if key in seen:  # the same person posting the same text twice on one day
                    key = f"{key}:{legacy.position}"
                seen.add(key)
                keyed.append((chapter, article, column, key, legacy))
        # Only new comments need their writer: a merged comment keeps the one it has (the
        # other format may know the same person under another avatar URL).
        for _, _, column, _, _ in keyed:
            self.run.users[column.author.legacy_key] = column.author
        self.run.resolve_users(
            {
                self._commenter_key(legacy, column.author): (legacy.name, legacy.avatar_url)
                for _, _, column, key, legacy in keyed
                if key not in existing
            },
            self.report,
        )
        new_roots, changed = [], []
        for chapter, article, column, key, legacy in keyed:
            current = existing.get(key)
            if current is None:
                author = self.run.users[self._commenter_key(legacy, column.author)]
                new_roots.append(
                    Comment(
                        article=article,
                        author=author,
                        depth=0,
                        body_md=legacy.text,
                        body_html=render_legacy_text(legacy.text),
                        created_at=_aware(legacy.created),
                        legacy_like_count=legacy.likes or 0,
                        legacy_reply_count=legacy.reply_count or 0,
                        legacy_key=key,
                        legacy_position=legacy.position,
                    )
                )
                self.touched.add(article.pk)
            elif _merge(current, legacy, chapter.format):
                changed.append(current)
                self.touched.add(article.pk)
            else:
                self.report.comments.unchanged += 1
        if new_roots:
            created = Comment.objects.bulk_create(new_roots, batch_size=1000)
            ids = [comment.pk for comment in created]
            for chunk in range(0, len(ids), 1000):
                # A root is its own thread: root = itself, path = its own id, in one UPDATE.
                Comment.objects.filter(pk__in=ids[chunk : chunk + 1000]).update(
                    root_id=F("pk"),
                    path=LPad(Cast("pk", CharField()), PATH_SEGMENT_WIDTH, Value("0")),
                )
            for comment in created:
                comment.root_id, comment.path = comment.pk, path_segment(comment.pk)
                existing[comment.legacy_key] = comment
            self.report.comments.created += len(created)
        if changed:
            Comment.objects.bulk_update(
                changed,
                [
                    "body_md",
                    "body_html",
                    "created_at",
                    "legacy_like_count",
                    "legacy_reply_count",
                    "legacy_position",
                ],
                batch_size=500,
            )
            self.report.comments.updated += len(changed)
        self._replies(keyed, existing)

    def _replies(self, keyed, comments: dict[str, Comment]) -> None:
        wanted = [
            (f"{key}:{reply.kind}", comments[key], reply, chapter, article, column)
            for chapter, article, column, key, legacy in keyed
            if chapter.format == "page"
            for reply in legacy.replies
        ]
        if not wanted:
            return
        editors = {
            f"editor:{chapter.column}": (f"{EDITOR_NAME}·{chapter.column}"[:MAX_NAME], "")
            for _, _, reply, chapter, _, _ in wanted
            if reply.kind == ReplyRole.EDITOR
        }
        self.run.resolve_users(editors, self.report)
        existing = {
            c.legacy_key: c
            for c in Comment.objects.filter(legacy_key__in=[key for key, *_ in wanted])
        }
        new, changed = [], []
        for key, parent, reply, chapter, article, column in wanted:
            current = existing.get(key)
            if current is None:
                writer = (
                    column.author
                    if reply.kind == ReplyRole.AUTHOR
                    else self.run.users[f"editor:{chapter.column}"]
                )
                new.append(
                    Comment(
                        article=article,
                        author=writer,
                        parent=parent,
                        root_id=parent.root_id,
                        depth=parent.depth + 1,
                        body_md=reply.text,
                        body_html=render_legacy_text(reply.text),
                        # The old page gave replies no time of their own.
                        created_at=parent.created_at + timedelta(seconds=1),
                        legacy_key=key,
                        legacy_role=reply.kind,
                    )
                )
                self.touched.add(article.pk)
            elif current.body_md != reply.text:
                current.body_md, current.body_html = reply.text, render_legacy_text(reply.text)
                changed.append(current)
                self.touched.add(article.pk)
            else:
                self.report.comments.unchanged += 1
        if new:
            created = Comment.objects.bulk_create(new, batch_size=1000)
            for comment in created:
                comment.path = comment.parent.path + path_segment(comment.pk)
            Comment.objects.bulk_update(created, ["path"], batch_size=500)
            self.report.comments.created += len(created)
        if changed:
            Comment.objects.bulk_update(changed, ["body_md", "body_html"], batch_size=500)
            self.report.comments.updated += len(changed)

    # --- counters ---------------------------------------------------------------------------

    def _refresh_counters(self) -> None:
        """Recount the articles whose discussion changed (nothing to do on a no-op re-import)."""
        if not self.touched:
            return
        visible = Q(status=CommentStatus.VISIBLE)
        stats = {
            row["article_id"]: row
            for row in Comment.objects.filter(article_id__in=self.touched)
            .values("article_id")
            .annotate(n=Count("pk", filter=visible), last=Max("created_at", filter=visible))
        }
        articles = list(Article.objects.filter(pk__in=self.touched).only("pk"))
        for article in articles:
            row = stats.get(article.pk, {})
            article.comment_count = row.get("n", 0)
            article.last_commented_at = row.get("last")
        Article.objects.bulk_update(articles, ["comment_count", "last_commented_at"])
        caching.discussions_changed(self.touched)
        counts = dict(
            Comment.objects.filter(
                article_id__in=self.touched, parent__isnull=False, status=CommentStatus.VISIBLE
            )
            .values_list("parent")
            .annotate(n=Count("pk"))
        )
        stale = [
            comment
            for comment in Comment.objects.filter(article_id__in=self.touched).only(
                "pk", "reply_count"
            )
            if comment.reply_count != counts.get(comment.pk, 0)
        ]
        for comment in stale:
            comment.reply_count = counts.get(comment.pk, 0)
        Comment.objects.bulk_update(stale, ["reply_count"], batch_size=500)


def _merge(current: Comment, legacy: LegacyComment, source_format: str) -> bool:
    """Each format updates what it knows best; returns whether anything changed."""
    before = (
        current.body_md,
        current.created_at,
        current.legacy_like_count,
        current.legacy_reply_count,
        current.legacy_position,
    )
    if source_format == "export":
        current.legacy_like_count = legacy.likes or 0
        current.legacy_reply_count = legacy.reply_count or 0
        current.legacy_position = legacy.position
        if _SPACE.sub("", current.body_md) != _SPACE.sub("", legacy.text):
            current.body_md = legacy.text
    else:
        # Times to the second and the text's own line breaks come from the page.
        current.created_at = _aware(legacy.created)
        current.body_md = legacy.text
    after = (
        current.body_md,
        current.created_at,
        current.legacy_like_count,
        current.legacy_reply_count,
        current.legacy_position,
    )
    if before == after:
        return False
    if before[0] != after[0]:
        current.body_html = render_legacy_text(current.body_md)
    return True


def render_legacy_text(text: str) -> str:
    """Imported comment text is plain text: shown as the reader wrote it, never as Markdown.

    Escaping every character of it is the whole treatment: the result holds no markup but the
    <p> and <br> that linebreaks adds (there is no HTML in it to sanitize).
    """
    return linebreaks(escape(text))


# --- Admin uploads, run by the Celery task -----------------------------------------------


def create_import_job(
    *, uploads: list, user: User, column: str = "", author: str = ""
) -> ImportJob:
    """Store the upload (several files are zipped into one) and enqueue the import."""
    with tempfile.TemporaryFile() as bundle:
        if len(uploads) == 1:
            content, name = uploads[0], uploads[0].name
        else:  # zipped through a temporary file, a chunk at a time (uploads may be large)
            with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
                for upload in uploads:
                    upload.seek(0)
                    with archive.open(upload.name, "w", force_zip64=True) as member:
                        shutil.copyfileobj(upload, member, IMPORT_COPY_CHUNK)
            bundle.seek(0)
            content, name = File(bundle), "upload.zip"
        with transaction.atomic():
            job = ImportJob(created_by=user, column=column, author=author)
            job.upload.save(name, content, save=False)
            job.save()
            # By name: the task module imports this one, not the other way round.
            transaction.on_commit(lambda: current_app.tasks["forum.import_legacy"].delay(job.pk))
    return job


# How long a worker holds a running import without showing progress. Progress is written
# (and the lease renewed) at least every few seconds while files are imported; a worker silent
# this long is gone, and the job goes to whoever claims it next. Importing is idempotent (a
# re-import changes nothing), so starting over loses no work that mattered.
IMPORT_LEASE = timedelta(minutes=2)


# A job whose worker died this many times is not resumed again: it is what kills its worker
# (memory, a parser bug), and resuming it forever would kill every worker in turn.
MAX_IMPORT_ATTEMPTS = 3

logger = logging.getLogger(__name__)


def claim_import_job(job_id: int) -> ImportJob | None:
    """Take the job for this worker, or None if someone holds it or it is finished.

    One conditional UPDATE decides: a pending job, or a running one whose lease ran out. Two
    deliveries of the same task (late acks, a worker killed mid-import, the sweeper) can't both
    win, and a redelivery no longer gives up on a job its dead first worker left "running".
    """
    now = timezone.now()
    claimable = Q(status=ImportStatus.PENDING) | Q(status=ImportStatus.RUNNING, lease_until__lt=now)
    claimed = ImportJob.objects.filter(
        claimable, pk=job_id, attempts__lt=MAX_IMPORT_ATTEMPTS
    ).update(
        status=ImportStatus.RUNNING,
        lease_until=now + IMPORT_LEASE,
        done=0,
        attempts=F("attempts") + 1,
    )
    return ImportJob.objects.get(pk=job_id) if claimed else None


def jobs_to_resume() -> list[int]:
    """Jobs no worker is on: pending for a minute (the broker was down when they were saved,
    or the task was lost) or running with an expired lease (their worker died). A job whose
    workers died MAX_IMPORT_ATTEMPTS times is failed instead."""
    now = timezone.now()
    lost = Q(status=ImportStatus.RUNNING, lease_until__lt=now)
    for job in ImportJob.objects.filter(lost, attempts__gte=MAX_IMPORT_ATTEMPTS):
        _finish(
            job,
            status=ImportStatus.FAILED,
            errors=[
                _error(
                    job,
                    f"the import stopped {job.attempts} times without finishing (its worker "
                    "was stopped, perhaps out of memory); it is not tried again",
                )
            ],
            only_if=lost,
        )
    return list(
        ImportJob.objects.filter(
            Q(status=ImportStatus.PENDING, created_at__lt=now - timedelta(minutes=1)) | lost
        ).values_list("pk", flat=True)
    )


def run_import_job(*, job_id: int) -> None:
    """Import an uploaded job, reporting progress on the job row as it goes.

    The upload is read through the storage (`job.upload.open()`, never `.path`), so a worker on
    another machine reads it as well as one beside the web process, given a storage they share.
    Files are read and imported one batch at a time (an archive's limits are checked before
    any member is read: forum.legacy.sources). However the job ends, it ends DONE or FAILED
    with its upload deleted; messages name files inside the upload, never a server path.
    """
    job = claim_import_job(job_id)
    if job is None:
        return  # finished, or another worker holds it
    with tempfile.TemporaryDirectory(prefix="colloquy-import-") as workdir:
        shown = _shown_names(workdir)
        try:
            report, total = _import_upload(job, Path(workdir), shown)
        except LegacyFormatError as exc:
            error = {"file": shown(exc.source) or _upload_name(job), "line": exc.line,
                     "reason": exc.reason}  # fmt: skip
            _finish(job, status=ImportStatus.FAILED, errors=[error])
            return
        except OSError:
            logger.exception("import job %s: the upload could not be read", job.pk)
            _finish(
                job,
                status=ImportStatus.FAILED,
                errors=[_error(job, "the upload could not be read")],
            )
            return
        except Exception:
            logger.exception("import job %s failed", job.pk)
            _finish(
                job,
                status=ImportStatus.FAILED,
                errors=[_error(job, "the import stopped on an unexpected error (it was logged)")],
            )
            raise
    _finish(
        job,
        status=ImportStatus.DONE,
        done=report.files,
        total=max(total, report.files),
        summary=report.as_dict(),
        errors=report.skipped,
    )


def _import_upload(
    job: ImportJob, workdir: Path, shown: Callable[[str], str]
) -> tuple[ImportReport, int]:
    local = workdir / _upload_name(job)
    with job.upload.open("rb") as stored, local.open("wb") as copy:
        shutil.copyfileobj(stored, copy, IMPORT_COPY_CHUNK)
    total = sum(1 for _ in iter_sources([local], read=False))
    _renew(job.pk, total=total)
    last_write = 0.0

    def progress(done: int, total: int, source: str) -> None:
        nonlocal last_write
        # A row update at most every quarter second: the progress bar polls once a second.
        if done == total or clock.monotonic() - last_write > 0.25:
            _renew(job.pk, done=done, total=total)
            last_write = clock.monotonic()

    sources = (replace(s, source=shown(s.source)) for s in iter_sources([local]))
    report = import_sources(
        sources, author=job.author, column=job.column, progress=progress, total=total
    )
    return report, total


def _shown_names(workdir: str) -> Callable[[str], str]:
    """What a source is called in messages: its path inside the upload, without the temporary
    folder the worker unpacked it in (no server path reaches the admin)."""
    prefix = str(Path(workdir)) + "/"

    def shown(source: str) -> str:
        return source.removeprefix(prefix) if source else source

    return shown


def _upload_name(job: ImportJob) -> str:
    return Path(job.upload.name).name


def _error(job: ImportJob, reason: str) -> dict:
    return {"file": _upload_name(job), "line": None, "reason": reason}


def _finish(job: ImportJob, *, status: str, only_if: Q | None = None, **fields) -> None:
    """End the job and delete its upload once that is committed (nothing needs it any more,
    and an upload kept is an upload someone may one day serve)."""
    with transaction.atomic():
        finished = ImportJob.objects.filter(only_if or Q(), pk=job.pk).update(
            status=status, finished_at=timezone.now(), lease_until=None, **fields
        )
        if finished and job.upload.name:
            storage, name = job.upload.storage, job.upload.name
            transaction.on_commit(lambda: storage.delete(name))


IMPORT_COPY_CHUNK = 1 << 20


def _renew(job_id: int, **progress) -> None:
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
        lease_until=timezone.now() + IMPORT_LEASE, **progress
    )
