from django.db import models
from django.utils.translation import gettext_lazy as _


class CommentStatus(models.TextChoices):
    VISIBLE = "visible", _("Visible")
    HIDDEN = "hidden", _("Hidden")  # by a moderator; reversible
    REMOVED = "removed", _("Removed")  # deleted by its author or a moderator; tombstone
    HELD = "held", _("Held for review")  # new account's link, or reported enough; not shown


class CommentSort(models.TextChoices):
    TOP = "top", _("Top")
    NEWEST = "newest", _("Newest")
    OLDEST = "oldest", _("Oldest")
    ORIGINAL = "original", _("Original order")  # the order of the imported old page


class ReplyRole(models.TextChoices):
    """Who answered on the old site, for imported replies."""

    NONE = "", _("Reader")
    AUTHOR = "author", _("Author reply")  # 作者回复
    EDITOR = "editor", _("Editor reply")  # 编辑回复


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class EventKind(models.TextChoices):
    """What the forum announces once it has happened (forum.events)."""

    COMMENT_POSTED = "comment_posted", _("Comment posted")  # or approved: shown for the first time
    COMMENT_MENTIONED = "comment_mentioned", _("Comment edited to mention people")
    COMMENT_FEATURED = "comment_featured", _("Comment featured")
    COMMENT_HELD = "comment_held", _("Comment held for review")
    ARTICLE_PUBLISHED = "article_published", _("Article published")
