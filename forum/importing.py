"""Saving parsed legacy pages: parse → plan → apply, one chapter per transaction.

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
import io
import re
import time as clock
import zipfile
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.html import escape, linebreaks

from accounts.models import User

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
from .models import Article, Column, Comment, ImportJob, path_segment
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


def import_sources(
    sources: Iterable[LegacySource],
    *,
    author: str = "",
    column: str = "",
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every source; a file that fails is reported and skipped, the others go in.

    Each chapter is applied in its own transaction (savepoint), so nothing is half-imported.
    A dry run does all the work inside one transaction and rolls it back.
    """
    sources = list(sources)
    report = ImportReport()
    with transaction.atomic() if dry_run else nullcontext():
        for done, source in enumerate(sources, start=1):
            report.files += 1
            try:
                chapter = parse_legacy_chapter(
                    source.data,
                    source=source.source,
                    column=column or source.column,
                    position=source.position,
                )
                chapter_report = ImportReport(seen=report.seen)
                with transaction.atomic():
                    ChapterImport(chapter, author=author, report=chapter_report).apply()
            except LegacyFormatError as exc:
                report.skip(source.source, exc.line, exc.reason)
            except (DatabaseError, ValueError) as exc:
                report.skip(source.source, None, f"could not be saved: {exc}")
            else:
                report.merge(chapter_report)
            if progress:
                progress(done, len(sources), source.source)
        if dry_run:
            transaction.set_rollback(True)
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
    return (name.strip() or PLACEHOLDER_NAME)[:MAX_NAME]


class UserPool:
    """Legacy users by key, created in bulk with display names made unique."""

    def __init__(self, report: ImportReport):
        self.report = report
        self.by_key: dict[str, User] = {}

    def resolve(self, wanted: dict[str, tuple[str, str]]) -> None:
        """wanted: key → (name, avatar URL). Loads existing users, creates the missing ones."""
        missing = [key for key in wanted if key not in self.by_key]
        if not missing:
            return
        for user in User.objects.filter(legacy_key__in=missing):
            self.by_key[user.legacy_key] = user
            avatar = web_url(wanted[user.legacy_key][1])
            first = self.report.first_time(user.legacy_key)
            if user.avatar_url != avatar and avatar:
                user.avatar_url = avatar
                User.objects.filter(pk=user.pk).update(avatar_url=avatar)
                self.report.users.updated += first
            else:
                self.report.users.unchanged += first
        to_create = [key for key in missing if key not in self.by_key]
        if not to_create:
            return
        names = {key: _name_for(wanted[key][0]) for key in to_create}
        taken = self._taken_names(set(names.values()))
        new_users = []
        for key in to_create:
            display = self._unique(names[key], taken, anonymous=not wanted[key][0].strip())
            taken.add(display.lower())
            user = User(
                display_name=display,
                avatar_url=web_url(wanted[key][1]),
                is_legacy=True,
                legacy_key=key,
            )
            user.set_unusable_password()
            new_users.append(user)
        for user in User.objects.bulk_create(new_users):
            self.by_key[user.legacy_key] = user
            self.report.first_time(user.legacy_key)
        self.report.users.created += len(new_users)

    @staticmethod
    def _taken_names(names: set[str]) -> set[str]:
        lowered = {name.lower() for name in names}
        prefixes = Q()
        for name in lowered:
            prefixes |= Q(lower__startswith=name)
        return set(
            User.objects.annotate(lower=Lower("display_name"))
            .filter(prefixes)
            .values_list("lower", flat=True)
        )

    @staticmethod
    def _unique(name: str, taken: set[str], *, anonymous: bool) -> str:
        if not anonymous and name.lower() not in taken:
            return name
        n = 2
        while True:
            suffix = f"#{n}"
            candidate = name[: MAX_NAME - len(suffix)] + suffix
            if candidate.lower() not in taken:
                return candidate
            n += 1


class ChapterImport:
    def __init__(self, chapter: LegacyChapter, *, author: str, report: ImportReport):
        self.chapter = chapter
        self.author_name = author or chapter.author_name or ""
        self.report = report
        self.users = UserPool(report)

    # --- column and author --------------------------------------------------------------

    def apply(self) -> None:
        column = self._column()
        article = self._article(column)
        self._comments(article, column.author)
        self._refresh_counters(article)

    def _author(self, name: str) -> User:
        key = f"author:{name}" if name else f"author:?{self.chapter.column}"
        label = name or f"{self.chapter.column[:24]}·作者"
        self.users.resolve({key: (label, "")})
        return self.users.by_key[key]

    def _column(self) -> Column:
        key = f"column:{self.chapter.column}"
        column = Column.objects.select_related("author").filter(legacy_key=key).first()
        if column is None:
            author = self._author(self.author_name)
            taken = set(Column.objects.values_list("slug", flat=True))
            column = Column.objects.create(
                title=self.chapter.column[:200],
                slug=unique_slug(title=self.chapter.column, taken=taken, fallback="column"),
                author=author,
                legacy_key=key,
            )
            self.report.columns.created += 1
            self.report.first_time(key)
            return column
        placeholder = (
            column.author.legacy_key.startswith("author:?") if column.author.legacy_key else False
        )
        if self.author_name and placeholder:
            # The author's name became known: the placeholder's articles and replies are theirs.
            author = self._author(self.author_name)
            old = column.author_id
            Column.objects.filter(pk=column.pk).update(author=author)
            Article.objects.filter(column=column, author_id=old).update(author=author)
            Comment.objects.filter(article__column=column, author_id=old).update(author=author)
            User.objects.filter(pk=old, columns=None, articles=None, comments=None).delete()
            column.author = author
            self.report.columns.updated += self.report.first_time(key)
        else:
            self.report.columns.unchanged += self.report.first_time(key)
        return column

    # --- article ------------------------------------------------------------------------

    def _article(self, column: Column) -> Article:
        chapter = self.chapter
        key = f"article:{chapter.column}:{chapter_key(chapter.title)}"
        article = Article.objects.filter(legacy_key=key).first()
        if chapter.format == "page":
            body = {"body_md": "", "body_html": sanitize_html(chapter.article_html)}
        else:
            body = {
                "body_md": chapter.article_markdown,
                "body_html": render_article_markdown(chapter.article_markdown),
            }
        if article is None:
            siblings = Article.objects.filter(column=column)
            position = chapter.position
            if position is None or siblings.filter(position=position).exists():
                position = (siblings.aggregate(m=Max("position"))["m"] or 0) + 1
            article = Article.objects.create(
                column=column,
                author=column.author,
                title=chapter.title[:300],
                slug=unique_slug(
                    title=chapter.title,
                    taken=set(siblings.values_list("slug", flat=True)),
                    fallback=f"chapter-{position}",
                ),
                position=position,
                legacy_key=key,
                published_at=timezone.now(),
                **body,
            )
            self.report.chapters.created += 1
            return article
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
                self._free_position(column, chapter.position, keep=article.pk)
                changes["position"] = chapter.position
        if changes:
            Article.objects.filter(pk=article.pk).update(**changes)
            for name, value in changes.items():
                setattr(article, name, value)
            self.report.chapters.updated += 1
        else:
            self.report.chapters.unchanged += 1
        return article

    @staticmethod
    def _free_position(column: Column, position: int, *, keep: int) -> None:
        """Move whichever other chapter holds `position` to the end (it gets its own later)."""
        last = Article.objects.filter(column=column).aggregate(m=Max("position"))["m"] or 0
        Article.objects.filter(column=column, position=position).exclude(pk=keep).update(
            position=last + 1
        )

    # --- comments -----------------------------------------------------------------------

    def _commenter_key(self, comment: LegacyComment, author: User) -> str:
        if comment.name and comment.name == author.display_name:
            return author.legacy_key  # the column's author commenting under their own name
        return f"user:{_digest(comment.name, comment.avatar_url)}"

    def _comments(self, article: Article, author: User) -> None:
        chapter = self.chapter
        existing = {
            c.legacy_key: c
            for c in Comment.objects.filter(article=article, legacy_key__isnull=False)
        }
        keyed = []
        seen: set[str] = set()
        for legacy in chapter.comments:
            key = f"{article.legacy_key}:{comment_identity(legacy)}"
            if key in seen:  # the same person posting the same text twice on one day
                key = f"{key}:{legacy.position}"
            seen.add(key)
            keyed.append((key, legacy))

        # Only new comments need their writer: a merged comment keeps the one it has (the
        # other format may know the same person under another avatar URL).
        wanted = {
            self._commenter_key(legacy, author): (legacy.name, legacy.avatar_url)
            for key, legacy in keyed
            if key not in existing
        }
        self.users.by_key[author.legacy_key] = author
        self.users.resolve(wanted)

        new_roots, changed = [], []
        for key, legacy in keyed:
            current = existing.get(key)
            if current is None:
                new_roots.append(self._new_root(article, key, legacy, author))
            elif self._merge(current, legacy):
                changed.append(current)
            else:
                self.report.comments.unchanged += 1
        if new_roots:
            created = Comment.objects.bulk_create(new_roots)
            for comment in created:
                comment.root_id = comment.pk
                comment.path = path_segment(comment.pk)
            Comment.objects.bulk_update(created, ["root", "path"])
            self.report.comments.created += len(created)
            existing.update({c.legacy_key: c for c in created})
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
            )
            self.report.comments.updated += len(changed)
        self._replies(article, keyed, existing, author)

    def _new_root(self, article: Article, key: str, legacy: LegacyComment, author: User) -> Comment:
        return Comment(
            article=article,
            author=self.users.by_key[self._commenter_key(legacy, author)],
            depth=0,
            body_md=legacy.text,
            body_html=render_legacy_text(legacy.text),
            created_at=_aware(legacy.created),
            legacy_like_count=legacy.likes or 0,
            legacy_reply_count=legacy.reply_count or 0,
            legacy_key=key,
            legacy_position=legacy.position,
        )

    def _merge(self, current: Comment, legacy: LegacyComment) -> bool:
        """Each format updates what it knows best; returns whether anything changed."""
        before = (
            current.body_md,
            current.created_at,
            current.legacy_like_count,
            current.legacy_reply_count,
            current.legacy_position,
        )
        if self.chapter.format == "export":
            current.legacy_like_count = legacy.likes or 0
            current.legacy_reply_count = legacy.reply_count or 0
            current.legacy_position = legacy.position
            if current.body_md != legacy.text and _SPACE.sub("", current.body_md) != _SPACE.sub(
                "", legacy.text
            ):
                current.body_md = legacy.text
        else:
            # Times to the second and the text's own line breaks come from the page.
            current.created_at = _aware(legacy.created)
            current.body_md = legacy.text
        current.body_html = render_legacy_text(current.body_md)
        after = (
            current.body_md,
            current.created_at,
            current.legacy_like_count,
            current.legacy_reply_count,
            current.legacy_position,
        )
        return before != after

    def _replies(self, article: Article, keyed, comments: dict[str, Comment], author: User) -> None:
        if self.chapter.format != "page":
            return
        wanted, editor_key = [], f"editor:{self.chapter.column}"
        for key, legacy in keyed:
            for reply in legacy.replies:
                wanted.append((f"{key}:{reply.kind}", comments[key], reply))
        if not wanted:
            return
        if any(reply.kind == ReplyRole.EDITOR for _, _, reply in wanted):
            self.users.resolve(
                {editor_key: (f"{EDITOR_NAME}·{self.chapter.column}"[:MAX_NAME], "")}
            )
        existing = {
            c.legacy_key: c
            for c in Comment.objects.filter(legacy_key__in=[key for key, _, _ in wanted])
        }
        new, changed = [], []
        for key, parent, reply in wanted:
            html = render_legacy_text(reply.text)
            current = existing.get(key)
            if current is None:
                new.append(
                    Comment(
                        article=article,
                        author=author
                        if reply.kind == ReplyRole.AUTHOR
                        else self.users.by_key[editor_key],
                        parent=parent,
                        root_id=parent.root_id,
                        depth=parent.depth + 1,
                        body_md=reply.text,
                        body_html=html,
                        # The old page gave replies no time of their own.
                        created_at=parent.created_at + timedelta(seconds=1),
                        legacy_key=key,
                        legacy_role=reply.kind,
                    )
                )
            elif current.body_md != reply.text:
                current.body_md, current.body_html = reply.text, html
                changed.append(current)
            else:
                self.report.comments.unchanged += 1
        if new:
            created = Comment.objects.bulk_create(new)
            for comment in created:
                comment.path = comment.parent.path + path_segment(comment.pk)
            Comment.objects.bulk_update(created, ["path"])
            self.report.comments.created += len(created)
        if changed:
            Comment.objects.bulk_update(changed, ["body_md", "body_html"])
            self.report.comments.updated += len(changed)

    # --- counters -----------------------------------------------------------------------

    def _refresh_counters(self, article: Article) -> None:
        visible = Q(status=CommentStatus.VISIBLE)
        stats = Comment.objects.filter(article=article).aggregate(
            n=Count("pk", filter=visible), last=Max("created_at", filter=visible)
        )
        Article.objects.filter(pk=article.pk).update(
            comment_count=stats["n"],
            last_commented_at=stats["last"],
            thread_version=F("thread_version") + 1,
        )
        # Direct replies of the article's comments, recounted (imported replies add to them).
        counts = dict(
            Comment.objects.filter(
                article=article, parent__isnull=False, status=CommentStatus.VISIBLE
            )
            .values_list("parent")
            .annotate(n=Count("pk"))
        )
        stale = [
            c
            for c in Comment.objects.filter(article=article).only("pk", "reply_count")
            if c.reply_count != counts.get(c.pk, 0)
        ]
        for comment in stale:
            comment.reply_count = counts.get(comment.pk, 0)
        Comment.objects.bulk_update(stale, ["reply_count"])


def render_legacy_text(text: str) -> str:
    """Imported comment text is plain text: shown as the reader wrote it, never as Markdown."""
    return sanitize_html(linebreaks(escape(text)), tags={"p", "br"})


# --- Admin uploads, run by the Celery task -----------------------------------------------


def create_import_job(
    *, uploads: list, user: User, column: str = "", author: str = ""
) -> ImportJob:
    """Store the upload (several files are zipped into one) and enqueue the import."""
    from .tasks import import_legacy  # the task module imports this one

    if len(uploads) == 1:
        content, name = uploads[0], uploads[0].name
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for upload in uploads:
                archive.writestr(upload.name, upload.read())
        content, name = ContentFile(buffer.getvalue()), "upload.zip"
    with transaction.atomic():
        job = ImportJob(created_by=user, column=column, author=author)
        job.upload.save(name, content, save=False)
        job.save()
        transaction.on_commit(lambda: import_legacy.delay(job.pk))
    return job


def run_import_job(*, job_id: int) -> None:
    """Import an uploaded job, reporting progress on the job row as it goes."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status in (ImportStatus.RUNNING, ImportStatus.DONE):
        return  # a redelivered task: the first delivery owns the job
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
    try:
        sources = list(iter_sources([job.upload.path]))
    except (LegacyFormatError, OSError) as exc:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED,
            errors=[{"file": job.upload.name, "line": None, "reason": str(exc)}],
            finished_at=timezone.now(),
        )
        return
    ImportJob.objects.filter(pk=job.pk).update(total=len(sources))
    last_write = 0.0

    def progress(done: int, total: int, source: str) -> None:
        nonlocal last_write
        # A row update at most every quarter second: the progress bar polls once a second.
        if done == total or clock.monotonic() - last_write > 0.25:
            ImportJob.objects.filter(pk=job.pk).update(done=done, total=total)
            last_write = clock.monotonic()

    report = import_sources(sources, author=job.author, column=job.column, progress=progress)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.DONE,
        done=len(sources),
        summary=report.as_dict(),
        errors=report.skipped,
        finished_at=timezone.now(),
    )
