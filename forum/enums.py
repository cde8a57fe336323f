from django.db import models
from django.utils.translation import gettext_lazy as _


class CommentStatus(models.TextChoices):
    VISIBLE = "visible", _("Visible")
    HIDDEN = "hidden", _("Hidden")  # by a moderator; reversible
    REMOVED = "removed", _("Removed")  # deleted by its author or a moderator; tombstone


class CommentSort(models.TextChoices):
    TOP = "top", _("Top")
    NEWEST = "newest", _("Newest")
    OLDEST = "oldest", _("Oldest")
