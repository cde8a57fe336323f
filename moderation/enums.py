from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportReason(models.TextChoices):
    SPAM = "spam", _("Spam")
    ABUSE = "abuse", _("Abuse or harassment")
    OFF_TOPIC = "off_topic", _("Off-topic")
    OTHER = "other", _("Something else")


class Action(models.TextChoices):
    APPROVE = "approve", _("Approved")
    HIDE = "hide", _("Hidden")
    RESTORE = "restore", _("Restored")
    REMOVE = "remove", _("Removed")
    HOLD = "hold", _("Held for review")
    FEATURE = "feature", _("Featured")
    UNFEATURE = "unfeature", _("Unfeatured")
    SUSPEND = "suspend", _("Suspended")
    BAN = "ban", _("Banned")
    LIFT = "lift", _("Suspension lifted")
