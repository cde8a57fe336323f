"""Columns, articles, the comment tree and likes.

The comment tree: every comment stores `root` (its thread's top comment, itself for a root),
`depth` and `path`, the ids of its ancestors and itself as fixed-width zero-padded numbers
joined by "/". Ids only grow, so ordering a thread by `path` gives reading order (each reply
right after its parent, siblings chronological), and "all the threads of this page of roots"
is one indexed query: `root_id IN (...) ORDER BY root_id, path`. No recursive CTE, no
re-numbering on insert; the price is one extra UPDATE per new comment to write its own id
into its path.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import models
from django.db.models import Q
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.translation import gettext_lazy as _

from .enums import CommentStatus, EventKind, ImportStatus, ReplyRole

PATH_SEGMENT_WIDTH = 10
# The deepest a reply goes (a root is depth 0). A reply to a comment at this depth becomes its
# sibling, under the same parent, and names the person it answers with an @mention
# (forum.services.post_comment). The path then holds at most MAX_DEPTH + 1 segments: 1,010
# characters of its 2,000 (PostgreSQL refused the 200th level when depth was unlimited).
MAX_DEPTH = 100


def path_segment(pk: int) -> str:
    return f"{pk:0{PATH_SEGMENT_WIDTH}d}"


class Column(models.Model):
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True, allow_unicode=True)
    description = models.TextField(_("description"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # A column outlives nothing without its author's say: deleting a user must not
        # silently delete their course.
        on_delete=models.PROTECT,
        related_name="columns",
        verbose_name=_("author"),
    )
    cover = models.ImageField(_("cover"), upload_to="covers/", blank=True)
    notify_author_of_comments = models.BooleanField(
        _("notify the author of new comments"),
        default=True,
        help_text=_("The author hears about every new top-level comment on the column's chapters."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    legacy_key = models.CharField(
        max_length=200, null=True, blank=True, unique=True, editable=False
    )

    class Meta:
        verbose_name = _("column")
        verbose_name_plural = _("columns")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("forum:column-detail", args=[self.slug])


class Article(models.Model):
    column = models.ForeignKey(
        Column, on_delete=models.CASCADE, related_name="articles", verbose_name=_("column")
    )
    title = models.CharField(_("title"), max_length=300)
    slug = models.SlugField(_("slug"), max_length=200, allow_unicode=True)
    position = models.PositiveIntegerField(_("position"), help_text=_("Order within the column."))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="articles",
        verbose_name=_("author"),
    )
    body_md = models.TextField(_("body (Markdown)"), blank=True)
    body_html = models.TextField(_("body (rendered, sanitized)"), blank=True, editable=False)
    is_published = models.BooleanField(_("published"), default=True)
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    like_count = models.PositiveIntegerField(_("likes"), default=0)
    legacy_like_count = models.PositiveIntegerField(_("legacy likes"), default=0)
    comment_count = models.PositiveIntegerField(_("comments"), default=0)
    last_commented_at = models.DateTimeField(_("last comment at"), null=True, blank=True)
    # Bumped by every write to the discussion: the key of its cached rendering.
    thread_version = models.PositiveIntegerField(default=0, editable=False)
    # Bumped by every like or unlike in the article (its own or a comment's): the key of the
    # like counts filled into its cached rendering, which a like therefore does not retire.
    like_version = models.PositiveIntegerField(default=0, editable=False)
    legacy_key = models.CharField(
        max_length=200, null=True, blank=True, unique=True, editable=False
    )

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["column", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["column", "slug"], name="article_slug_unique_in_column"
            ),
            models.UniqueConstraint(
                fields=["column", "position"], name="article_position_unique_in_column"
            ),
        ]
        indexes = [
            models.Index(fields=["-last_commented_at"], name="article_recent_discussion"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("forum:article-detail", args=[self.column.slug, self.slug])

    @property
    def total_like_count(self) -> int:
        return self.like_count + self.legacy_like_count


class Comment(models.Model):
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="comments", verbose_name=_("article")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # Users who wrote are deactivated, not deleted: deleting must not erase a discussion.
        on_delete=models.PROTECT,
        related_name="comments",
        verbose_name=_("author"),
    )
    # Replies go with their parent when an admin deletes a row outright; authors "delete" by
    # leaving a tombstone (status=removed), which keeps the replies.
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="replies",
        verbose_name=_("parent"),
    )
    root = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="thread",
        editable=False,
    )
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    path = models.CharField(max_length=2000, blank=True, editable=False)
    body_md = models.TextField(_("text"))
    body_html = models.TextField(editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=CommentStatus.choices, default=CommentStatus.VISIBLE
    )
    is_featured = models.BooleanField(_("featured"), default=False)
    like_count = models.PositiveIntegerField(_("likes"), default=0)
    reply_count = models.PositiveIntegerField(_("replies"), default=0)
    legacy_like_count = models.IntegerField(_("legacy likes"), default=0)
    legacy_reply_count = models.IntegerField(_("legacy replies"), default=0)
    legacy_key = models.CharField(
        max_length=200, null=True, blank=True, unique=True, editable=False
    )
    legacy_position = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Imported replies of the old site were by the column's author or by an editor.
    legacy_role = models.CharField(
        max_length=10, choices=ReplyRole.choices, default=ReplyRole.NONE, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        constraints = [
            models.CheckConstraint(
                condition=Q(parent__isnull=True, depth=0) | Q(parent__isnull=False, depth__gt=0),
                name="comment_depth_matches_parent",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CommentStatus.values), name="comment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(is_featured=False) | Q(parent__isnull=True),
                name="comment_only_roots_featured",
            ),
        ]
        indexes = [
            # Root comments of an article, in the page's orders.
            models.Index(
                fields=["article", "-is_featured", "-like_count", "-id"],
                condition=Q(parent__isnull=True),
                name="comment_roots_top",
            ),
            models.Index(
                fields=["article", "-is_featured", "-id"],
                condition=Q(parent__isnull=True),
                name="comment_roots_time",
            ),
            # Whole threads in reading order.
            models.Index(fields=["root", "path"], name="comment_thread_order"),
            # A user's recent comments (profile page).
            models.Index(fields=["author", "-created_at"], name="comment_author_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} by {self.author_id} on {self.article_id}"

    def get_absolute_url(self) -> str:
        return reverse("forum:comment-permalink", args=[self.pk])

    @property
    def total_like_count(self) -> int:
        return self.like_count + max(self.legacy_like_count, 0)

    @property
    def is_visible(self) -> bool:
        return self.status == CommentStatus.VISIBLE

    @property
    def is_root(self) -> bool:
        return self.parent_id is None


class CommentRevision(models.Model):
    """A comment's text before an edit, kept for moderators."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    body_md = models.TextField(_("text"))
    created_at = models.DateTimeField(_("written at"))
    replaced_at = models.DateTimeField(_("replaced at"), default=timezone.now)

    class Meta:
        verbose_name = _("comment revision")
        verbose_name_plural = _("comment revisions")
        ordering = ["comment", "-replaced_at"]

    def __str__(self) -> str:
        return f"#{self.comment_id} @ {self.replaced_at:%Y-%m-%d %H:%M}"


class Like(models.Model):
    """One 👍 by one user on one comment or one article."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes"
    )
    comment = models.ForeignKey(
        Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="likes"
    )
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, null=True, blank=True, related_name="likes"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("like")
        verbose_name_plural = _("likes")
        constraints = [
            models.CheckConstraint(
                condition=Q(comment__isnull=False, article__isnull=True)
                | Q(comment__isnull=True, article__isnull=False),
                name="like_exactly_one_target",
            ),
            models.UniqueConstraint(
                fields=["user", "comment"],
                condition=Q(comment__isnull=False),
                name="like_once_per_comment",
            ),
            models.UniqueConstraint(
                fields=["user", "article"],
                condition=Q(article__isnull=False),
                name="like_once_per_article",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} 👍 {self.comment_id or self.article_id}"


def import_upload_path(job: ImportJob, filename: str) -> str:
    return f"imports/{timezone.now():%Y/%m}/{filename}"


class Follow(models.Model):
    """A reader following a column (new chapters) or an article's discussion (new comments)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    column = models.ForeignKey(
        Column, on_delete=models.CASCADE, null=True, blank=True, related_name="follows"
    )
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, null=True, blank=True, related_name="follows"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Made by the notifications app, which owned follows before the forum did.
        db_table = "notifications_follow"
        constraints = [
            models.CheckConstraint(
                condition=Q(column__isnull=False, article__isnull=True)
                | Q(column__isnull=True, article__isnull=False),
                name="follow_exactly_one_target",
            ),
            models.UniqueConstraint(
                fields=["user", "column"],
                condition=Q(column__isnull=False),
                name="follow_column_once",
            ),
            models.UniqueConstraint(
                fields=["user", "article"],
                condition=Q(article__isnull=False),
                name="follow_article_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.column_id or self.article_id}"


class Event(models.Model):
    """The outbox: something that happened in the forum, written in the transaction that made
    it happen and announced to the other apps after it commits (forum.events)."""

    kind = models.CharField(max_length=32, choices=EventKind.choices)
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, null=True, related_name="+")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, null=True, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Ids of the people a comment's text mentions (comment_posted, comment_mentioned).
    mentioned = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(dispatched_at__isnull=True),
                name="event_undispatched",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class _ImportStorage(LazyObject):
    # Resolved at first use, not when the model class is built: settings (and tests) decide.
    def _setup(self):
        self._wrapped = storages["imports"]


_import_storage = _ImportStorage()


@receiver(setting_changed)
def _storages_changed(*, setting, **kwargs):  # as Django does for default_storage
    if setting == "STORAGES":
        _import_storage._wrapped = empty


def import_storage():
    """Uploads of legacy pages: their own storage (STORAGES["imports"]), outside MEDIA_ROOT
    and without a URL, so no web server that serves /media/ serves them; deleted once the job
    ends (forum.importing._finish)."""
    return _import_storage


class ImportJob(models.Model):
    """One upload of legacy pages through the admin, imported by a Celery task."""

    upload = models.FileField(_("file"), upload_to=import_upload_path, storage=import_storage)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    column = models.CharField(_("column name"), max_length=200, blank=True)
    author = models.CharField(_("column author"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    done = models.PositiveIntegerField(_("files done"), default=0)
    total = models.PositiveIntegerField(_("files in all"), default=0)
    rows = models.PositiveIntegerField(_("chapters and comments"), default=0)
    # When the worker now importing it claimed it (a resumed job starts over from there).
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # While RUNNING, the worker holds the job until then and renews it as it makes progress; a
    # RUNNING job whose lease ran out lost its worker (killed, its machine gone) and may be
    # claimed again (forum.importing.run_import_job, swept by forum.tasks.sweep_import_jobs).
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Claims so far; after MAX_IMPORT_ATTEMPTS the job is failed, not resumed again.
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("legacy import")
        verbose_name_plural = _("legacy imports")
        ordering = ["-created_at"]
        permissions = [("import_legacy", _("Can import legacy pages"))]

    def __str__(self) -> str:
        return f"{self.upload.name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def seconds_left(self) -> int | None:
        """While running: the time the files left would take at the pace so far, or None
        until the first batch is in."""
        if self.status != ImportStatus.RUNNING or not self.started_at or not 0 < self.done:
            return None
        elapsed = (timezone.now() - self.started_at).total_seconds()
        return max(0, round(elapsed * (self.total - self.done) / self.done))
