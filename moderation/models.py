"""Reports from readers and the audit trail of every moderation action."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .enums import Action, ReportReason


class Report(models.Model):
    comment = models.ForeignKey("forum.Comment", on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made"
    )
    reason = models.CharField(_("reason"), max_length=20, choices=ReportReason.choices)
    text = models.TextField(_("details"), blank=True, max_length=1000)
    created_at = models.DateTimeField(_("reported at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["comment", "reporter"], name="report_once_per_comment")
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(resolved_at__isnull=True), name="report_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on #{self.comment_id}"


class ModerationAction(models.Model):
    """One row per moderation action, written by the service that performs it. Never edited."""

    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the system acted (e.g. enough reports hid a comment)."),
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    comment = models.ForeignKey(
        "forum.Comment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="moderation_history",
        help_text=_("The user acted on (a comment's author, or a suspended user)."),
    )
    reason = models.TextField(_("reason"), blank=True)
    before = models.CharField(_("before"), max_length=40, blank=True)
    after = models.CharField(_("after"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("moderation action")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        permissions = [("moderate", _("Can moderate comments and users"))]
        indexes = [models.Index(fields=["user", "-created_at"], name="moderation_user_history")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.comment_id or self.user_id}"
