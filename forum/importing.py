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

import collections
import hashlib
import logging
import re
import secrets
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
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, UNUSABLE_PASSWORD_SUFFIX_LENGTH
from django.core.files.base import File
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from accounts.names import legacy_display_name, name_keys, name_skeleton, unique_display_name

from . import bulkwrite, caching, importpool
from .enums import CommentStatus, ImportStatus, ReplyRole
from .legacy import (
    LegacyChapter,
    LegacyComment,
    LegacyFormatError,
    LegacySource,
    chapter_key,
    iter_sources,
)
from .models import Article, Column, Comment, ImportJob, path_segment
from .rendering import render_article_markdown, render_legacy_text, sanitize_html
from .services import unique_slug

# progress(files done, files in all, the last file, rows so far: chapters and comments)
Progress = Callable[[int, int, str, int], None]

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

    @property
    def rows(self) -> int:
        """Chapters and comments gone through so far (written or found unchanged)."""
        return sum(
            tally.created + tally.updated + tally.unchanged
            for tally in (self.chapters, self.comments)
        )

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
    jobs: int = 1,
) -> ImportReport:
    """Import every source; a file that fails is reported and skipped, the others go in.

    Chapters go in by batches, each batch in one transaction with bulk queries (a few queries
    per batch instead of a dozen per chapter). If a batch fails, it is rolled back and redone
    one chapter per transaction, so the bad file is found and skipped and nothing is
    half-imported. A dry run does all the work inside one transaction and rolls it back.
    ``sources`` may be a lazy iterator (iter_sources); ``total`` is then what progress reports
    as the number of files (count them with ``iter_sources(paths, read=False)``). With
    ``jobs`` > 1, that many other processes parse and render the next batches while this one
    writes (forum.importpool); the rows are the same.
    """
    if total is None:
        total = len(sources) if isinstance(sources, Sized) else 0
    report = ImportReport()
    run = ImportRun(report, author=author)
    done = 0
    # Streamed: a batch of files (their bytes and parsed chapters) is in memory at a time, a
    # few with workers (forum.importpool.AHEAD).
    with transaction.atomic() if dry_run else nullcontext():
        batches = importpool.prepared_batches(
            sources, column=column, batch_size=batch_size, jobs=jobs
        )
        for batch in batches:
            parsed = []
            run.rendered = {}
            for item in batch:
                report.files += 1
                if item.error:
                    report.skip(item.source, *item.error)
                    continue
                parsed.append(item.chapter)
                run.rendered.update(item.html)
            if not run.apply(parsed):
                for chapter in parsed:  # find the culprit: one chapter per transaction
                    if not run.apply([chapter]):
                        report.skip(chapter.source, None, f"could not be saved: {run.error}")
            del parsed
            done += len(batch)
            if progress:
                progress(done, max(total, done), batch[-1].source, report.rows)
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


def _aware(moment: date | datetime, zone=None) -> datetime:
    """The old site's times are local: in `zone`, by default the current time zone (looked up
    once per batch by the caller: it is a context-local read per call otherwise)."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(0, 0))
    return timezone.make_aware(moment, zone) if timezone.is_naive(moment) else moment


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
        # (kind, text) → HTML, for the batch being applied: rendered ahead by forum.importpool
        # workers (empty without them: rendered here, when needed, by the same functions).
        self.rendered: dict[tuple[str, str], str] = {}
        self._reset()

    def _reset(self) -> None:
        # Forgotten after a failed batch: what it created was rolled back.
        self.users: dict[str, int] | None = None  # legacy key → id: every legacy user, once
        self.avatars: dict[str, str] = {}  # legacy key → stored avatar URL
        self.resolved: set[str] = set()  # keys whose avatar this run has already compared
        self.taken_names: set[str] | None = None
        self.columns: dict[str, Column] = {}
        self.positions: dict[int, set[int]] = {}
        self.slugs: dict[int, set[str]] = {}

    def apply(self, chapters: list[LegacyChapter]) -> bool:
        """Apply chapters in one transaction; False (and rolled back) if the database refused.

        A chapter met twice in one batch (the export and the page of one chapter in one upload,
        or a folder uploaded twice) starts a new transaction: the second merges with the first
        as stored, as it would in a later run."""
        group: list[LegacyChapter] = []
        keys: set[str] = set()
        for chapter in chapters:
            key = article_key(chapter)
            if key in keys:
                if not self._apply(group):
                    return False
                group, keys = [], set()
            group.append(chapter)
            keys.add(key)
        return self._apply(group)

    def _apply(self, chapters: list[LegacyChapter]) -> bool:
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

    def html(self, kind: str, text: str) -> str:
        found = self.rendered.get((kind, text))
        return found if found is not None else RENDERERS[kind](text)

    def body(self, chapter: LegacyChapter) -> dict[str, str]:
        if chapter.format == "page":
            return {"body_md": "", "body_html": self.html("page", chapter.article_html)}
        return {
            "body_md": chapter.article_markdown,
            "body_html": self.html("article", chapter.article_markdown),
        }

    # --- users ----------------------------------------------------------------------------

    def known_users(self) -> dict[str, int]:
        if self.users is None:
            # One query per run: every user the old site's pages named (~40,000 in the archive).
            self.users = {}
            for key, pk, avatar in User.objects.filter(legacy_key__isnull=False).values_list(
                "legacy_key", "pk", "avatar_url"
            ):
                self.users[key] = pk
                self.avatars[key] = avatar
        return self.users

    def resolve_users(self, wanted: dict[str, tuple[str, str]], report: ImportReport) -> None:
        """wanted: key → (name, avatar URL). Known ones get a newer avatar; the rest are created."""
        users = self.known_users()
        to_create = []
        for key, (_, avatar) in wanted.items():
            if key not in users:
                to_create.append(key)
                continue
            if key in self.resolved:
                continue
            self.resolved.add(key)
            avatar, first = web_url(avatar), report.first_time(key)
            if avatar and self.avatars[key] != avatar:
                User.objects.filter(pk=users[key]).update(avatar_url=avatar)
                self.avatars[key] = avatar
                report.users.updated += first
            else:
                report.users.unchanged += first
        if not to_create:
            return
        if self.taken_names is None:
            # Every name's keys, once per run: unique names are chosen without a query each.
            self.taken_names = set()
            for name in User.objects.values_list("display_name", flat=True):
                self.taken_names |= name_keys(name)
        rows = []
        for key, pk in zip(to_create, bulkwrite.reserve_ids(User, len(to_create)), strict=True):
            name, avatar = wanted[key]
            display = unique_display_name(
                _name_for(name), self.taken_names, force_suffix=not name.strip()
            )
            self.taken_names |= name_keys(display)
            avatar = web_url(avatar)
            rows.append((pk, display, name_skeleton(display), avatar, True, key, _unusable()))
            users[key], self.avatars[key] = pk, avatar
            self.resolved.add(key)
            report.first_time(key)
        bulkwrite.insert(User, USER_FIELDS, rows)
        report.users.created += len(rows)

    def author_user(self, name: str, column: str, report: ImportReport) -> User:
        key = f"author:{name}" if name else f"author:?{column}"
        label = name or f"{column[:24]}·作者"
        self.resolve_users({key: (label, "")}, report)
        return User.objects.get(pk=self.users[key])

    # --- columns and chapters ---------------------------------------------------------------

    def column_siblings(self, column: Column) -> tuple[set[int], set[str]]:
        if column.pk not in self.positions:
            rows = Article.objects.filter(column=column).values_list("position", "slug")
            self.positions[column.pk] = {position for position, _ in rows}
            self.slugs[column.pk] = {slug for _, slug in rows}
        return self.positions[column.pk], self.slugs[column.pk]


USER_FIELDS = (
    "id",
    "display_name",
    "display_name_skeleton",
    "avatar_url",
    "is_legacy",
    "legacy_key",
    "password",
)
COMMENT_FIELDS = (
    "id",
    "article_id",
    "author_id",
    "parent_id",
    "root_id",
    "depth",
    "path",
    "body_md",
    "body_html",
    "created_at",
    "legacy_like_count",
    "legacy_reply_count",
    "legacy_key",
    "legacy_position",
    "legacy_role",
    "reply_count",
)
ARTICLE_FIELDS = (
    "id",
    "column_id",
    "author_id",
    "title",
    "slug",
    "position",
    "legacy_key",
    "published_at",
    "created_at",
    "body_md",
    "body_html",
    "comment_count",
    "last_commented_at",
)


def _unusable() -> str:
    # What User.set_unusable_password() stores (Django's prefix + 40 random characters),
    # without get_random_string's 40 secrets.choice() calls per user.
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(UNUSABLE_PASSWORD_SUFFIX_LENGTH // 2)


@dataclass(slots=True)
class StoredComment:
    """The columns of a stored comment that merging and replying need (no model instance)."""

    pk: int
    legacy_key: str
    article_id: int
    root_id: int
    depth: int
    path: str
    body_md: str
    created_at: datetime
    legacy_like_count: int
    legacy_reply_count: int
    legacy_position: int | None
    body_html: str | None = None  # set only when the text changed


STORED_FIELDS = [name for name in StoredComment.__slots__ if name != "body_html"]


class BatchImport:
    """One batch of chapters: plan against what exists, then write the difference in bulk.

    New rows are written once, complete: ids are reserved first (forum.bulkwrite), so roots,
    paths, replies and the counters of new articles are computed here before anything is
    written. Only articles that existed before the batch are recounted by the database.
    """

    def __init__(self, run: ImportRun, chapters: list[LegacyChapter], report: ImportReport):
        self.run = run
        self.chapters = chapters
        self.report = report
        self.touched: set[int] = set()  # existing articles whose comments changed: recount
        self.parents: set[int] = set()  # existing comments given new replies: recount
        self.author_moved: set[int] = set()  # columns whose placeholder author was replaced
        self.rows: list[tuple] = []  # new comments, as COMMENT_FIELDS
        self.new_ids: set[int] = set()  # their ids

    def _reserve(self, count: int) -> list[int]:
        ids = bulkwrite.reserve_ids(Comment, count)
        self.new_ids.update(ids)
        return ids

    def apply(self) -> None:
        keys = [article_key(chapter) for chapter in self.chapters]
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
            articles.append((chapter, article, column))
        for article, pk in zip(new, bulkwrite.reserve_ids(Article, len(new)), strict=True):
            article.pk = pk
            article._state.adding, article._state.db = False, "default"  # as if saved
        self._comments(articles, {article.pk for article in new})
        # The new chapters with their counters, then their comments: each row written once.
        bulkwrite.insert(
            Article,
            ARTICLE_FIELDS,
            [tuple(getattr(article, name) for name in ARTICLE_FIELDS) for article in new],
        )
        bulkwrite.insert(Comment, COMMENT_FIELDS, self.rows)
        self._refresh_counters(bool(new))

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
            if User.objects.filter(pk=old, columns=None, articles=None, comments=None).delete()[0]:
                run.users.pop(column.author.legacy_key, None)  # gone: made again if needed
            column.author = author
            self.author_moved.add(column.pk)
            report.columns.updated += report.first_time(key)
        else:
            report.columns.unchanged += report.first_time(key)
        run.columns[key] = column
        return column

    # --- article ----------------------------------------------------------------------------

    def _article(self, chapter, key: str, column: Column, article: Article | None) -> Article:
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
                **self.run.body(chapter),
            )
            positions.add(position)
            slugs.add(slug)
            self.report.chapters.created += 1
            return article  # saved with the batch's other new chapters
        # The page HTML holds the full article; the export only a preview: never downgrade.
        has_full_text = article.body_md == "" and article.body_html != ""
        changes = {}
        if chapter.format == "page" or (
            not has_full_text and article.body_md != chapter.article_markdown
        ):
            # (The same Markdown as stored isn't rendered again: a re-import renders nothing.)
            changes = {k: v for k, v in self.run.body(chapter).items() if getattr(article, k) != v}
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

    def _comments(self, articles, new_articles: set[int]) -> None:
        # Only chapters stored before this batch can have stored comments.
        old = [article.pk for _, article, _ in articles if article.pk not in new_articles]
        existing = {
            row[1]: StoredComment(*row)
            for row in Comment.objects.filter(
                article_id__in=old, legacy_key__isnull=False
            ).values_list(*STORED_FIELDS)
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
        users = self.run.known_users()
        for _, _, column, _, _ in keyed:
            users[column.author.legacy_key] = column.author.pk
            self.run.resolved.add(column.author.legacy_key)  # counted when the column was
        self.run.resolve_users(
            {
                self._commenter_key(legacy, column.author): (legacy.name, legacy.avatar_url)
                for _, _, column, key, legacy in keyed
                if key not in existing
            },
            self.report,
        )
        fresh = [item for item in keyed if item[3] not in existing]
        changed = []
        for chapter, _, _, key, legacy in keyed:
            current = existing.get(key)
            if current is None:
                continue
            if _merge(current, legacy, chapter.format):
                changed.append(current)
                self.touched.add(current.article_id)
            else:
                self.report.comments.unchanged += 1
        ids, zone = self._reserve(len(fresh)), timezone.get_current_timezone()
        for (_, article, column, key, legacy), pk in zip(fresh, ids, strict=True):
            path = path_segment(pk)
            created = _aware(legacy.created, zone)
            existing[key] = StoredComment(
                pk, key, article.pk, pk, 0, path, legacy.text, created, 0, 0, None
            )
            self.rows.append(
                (pk, article.pk, users[self._commenter_key(legacy, column.author)], None, pk, 0)
                + (path, legacy.text, self.run.html("text", legacy.text), created)
                + (legacy.likes or 0, legacy.reply_count or 0, key, legacy.position, "", 0)
            )
        self.report.comments.created += len(fresh)
        self._update(changed)
        self._replies(keyed, existing, new_articles)
        self._count_new(articles, new_articles)

    def _update(self, changed: list[StoredComment]) -> None:
        fields = [
            "created_at",
            "legacy_like_count",
            "legacy_reply_count",
            "legacy_position",
            "body_md",
        ]
        for with_text in (False, True):
            rows = [
                Comment(
                    pk=c.pk, body_html=c.body_html, **{name: getattr(c, name) for name in fields}
                )
                for c in changed
                if (c.body_html is not None) is with_text
            ]
            names = [*fields, "body_html"] if with_text else fields[:-1]
            Comment.objects.bulk_update(rows, names, batch_size=500)
        self.report.comments.updated += len(changed)

    def _replies(self, keyed, comments: dict[str, StoredComment], new_articles) -> None:
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
        old = [key for key, _, _, _, article, _ in wanted if article.pk not in new_articles]
        existing = dict(
            Comment.objects.filter(legacy_key__in=old).values_list("legacy_key", "body_md")
        )
        fresh, changed = [], []
        for key, parent, reply, chapter, article, column in wanted:
            if key not in existing:
                fresh.append((key, parent, reply, chapter, article, column))
                if article.pk not in new_articles:
                    self.touched.add(article.pk)
            elif existing[key] != reply.text:
                changed.append((key, reply.text))
                self.touched.add(article.pk)
            else:
                self.report.comments.unchanged += 1
        users = self.run.users
        ids = self._reserve(len(fresh))
        for (key, parent, reply, chapter, article, column), pk in zip(fresh, ids, strict=True):
            writer = (
                column.author.pk
                if reply.kind == ReplyRole.AUTHOR
                else users[f"editor:{chapter.column}"]
            )
            # The old page gave replies no time of their own.
            self.rows.append(
                (pk, article.pk, writer, parent.pk, parent.root_id, parent.depth + 1)
                + (parent.path + path_segment(pk), reply.text, self.run.html("text", reply.text))
                + (parent.created_at + timedelta(seconds=1), 0, 0, key, None, str(reply.kind), 0)
            )
            if parent.pk not in self.new_ids:
                self.parents.add(parent.pk)  # its reply_count is recounted
        self.report.comments.created += len(fresh)
        for key, text in changed:  # rare: a reply edited on the old site
            Comment.objects.filter(legacy_key=key).update(
                body_md=text, body_html=render_legacy_text(text)
            )
        self.report.comments.updated += len(changed)

    # --- counters ---------------------------------------------------------------------------

    def _count_new(self, articles, new_articles: set[int]) -> None:
        """The counters of new chapters and of comments written in this batch, from the rows."""
        counts = dict.fromkeys(new_articles, 0)
        latest: dict[int, datetime] = {}
        replies = collections.Counter(row[3] for row in self.rows if row[3] is not None)
        for i, row in enumerate(self.rows):
            pk, article_id, created = row[0], row[1], row[9]
            if row[3] is None and replies[pk]:
                self.rows[i] = row[:-1] + (replies[pk],)
            if article_id in counts:  # every imported comment is visible
                counts[article_id] += 1
                if article_id not in latest or created > latest[article_id]:
                    latest[article_id] = created
        for _, article, _ in articles:
            if article.pk in counts:
                article.comment_count = counts[article.pk]
                article.last_commented_at = latest.get(article.pk)

    def _refresh_counters(self, any_new: bool) -> None:
        """Recount what existed before the batch and changed (nothing on a no-op re-import)."""
        if self.touched:
            visible = Comment.objects.filter(status=CommentStatus.VISIBLE, article=OuterRef("pk"))
            per_article = visible.order_by().values("article")
            Article.objects.filter(pk__in=self.touched).update(
                comment_count=Coalesce(
                    Subquery(per_article.annotate(n=Count("pk")).values("n")), 0
                ),
                last_commented_at=Subquery(
                    per_article.annotate(last=Max("created_at")).values("last")
                ),
            )
        if self.parents:
            replies = (
                Comment.objects.filter(status=CommentStatus.VISIBLE, parent=OuterRef("pk"))
                .order_by()
                .values("parent")
                .annotate(n=Count("pk"))
                .values("n")
            )
            Comment.objects.filter(pk__in=self.parents).update(
                reply_count=Coalesce(Subquery(replies), 0)
            )
        if self.touched or any_new or self.rows:
            caching.discussions_changed(self.touched)


def article_key(chapter: LegacyChapter) -> str:
    return f"article:{chapter.column}:{chapter_key(chapter.title)}"


RENDERERS = {
    "article": render_article_markdown,
    "page": sanitize_html,
    "text": render_legacy_text,
}


def _merge(current: StoredComment, legacy: LegacyComment, source_format: str) -> bool:
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
        rows=0,
        started_at=now,
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
        rows=report.rows,
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

    def progress(done: int, total: int, source: str, rows: int) -> None:
        nonlocal last_write
        # A row update at most every quarter second: the progress bar polls once a second.
        if done == total or clock.monotonic() - last_write > 0.25:
            _renew(job.pk, done=done, total=total, rows=rows)
            last_write = clock.monotonic()

    sources = (replace(s, source=shown(s.source)) for s in iter_sources([local]))
    report = import_sources(
        sources,
        author=job.author,
        column=job.column,
        progress=progress,
        total=total,
        jobs=settings.IMPORT_JOBS,
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
