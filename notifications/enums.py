from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    """What happened. When one action concerns someone in several ways, the first kind in this
    order wins and they get one notification."""

    AUTHOR_REPLY = "author_reply", _("The author replied in your thread")
    REPLY = "reply", _("Reply to your comment")
    MENTION = "mention", _("You were mentioned")
    FEATURED = "featured", _("Your comment was featured")
    MODERATED = "moderated", _("A moderator acted on your comment")
    APPROVED = "approved", _("Your comment was approved")
    NEW_ROOT_COMMENT = "new_root_comment", _("New comment on your article")
    FOLLOWED_THREAD = "followed_thread", _("New comment in a thread you follow")
    NEW_CHAPTER = "new_chapter", _("New chapter in a column you follow")


PRIORITY = list(Kind.values)


class Delivery(models.TextChoices):
    IMMEDIATE = "immediate", _("Email me immediately")
    DIGEST = "digest", _("Daily digest")
    OFF = "off", _("Off (on the site only)")


DEFAULT_DELIVERY = {
    Kind.AUTHOR_REPLY: Delivery.IMMEDIATE,
    Kind.REPLY: Delivery.IMMEDIATE,
    Kind.MENTION: Delivery.IMMEDIATE,
    Kind.FEATURED: Delivery.IMMEDIATE,
    Kind.MODERATED: Delivery.IMMEDIATE,
    Kind.APPROVED: Delivery.IMMEDIATE,
    Kind.NEW_ROOT_COMMENT: Delivery.DIGEST,
    Kind.FOLLOWED_THREAD: Delivery.DIGEST,
    Kind.NEW_CHAPTER: Delivery.DIGEST,
}


# OutgoingEmail.kind of an account email (verification, password reset); "" is a digest.
ACCOUNT_EMAIL = "account"
EMAIL_KINDS = [*Kind.choices, (ACCOUNT_EMAIL, _("Account email")), ("", _("Daily digest"))]


class EmailState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")  # claimed by a worker until next_attempt_at (a lease)
    # Connected to the mail server and handing the message over: from here a worker that dies
    # leaves an email the server may have accepted, so it is never sent again automatically.
    HANDING = "handing", _("Handing to the mail server")
    SENT = "sent", _("Sent")
    # The worker died while handing it over: the server may or may not have it (not resent).
    UNKNOWN = "unknown", _("Unknown (worker died while handing it over)")
    FAILED = "failed", _("Failed")
