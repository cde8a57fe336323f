"""What moderation does when the forum announces something (forum.events)."""

from __future__ import annotations

from django.dispatch import receiver

from forum import events

from .enums import Action
from .models import ModerationAction


@receiver(events.comment_held, dispatch_uid="moderation-comment-held")
def _comment_held(sender, event, **kwargs):
    """The audit log says why a comment waits for review (the queue shows it)."""
    comment = event.comment
    ModerationAction.objects.get_or_create(
        action=Action.HOLD,
        comment=comment,
        defaults={
            "user_id": comment.author_id,
            "reason": "new account, link in comment",
            "before": "",
            "after": "held",
        },
    )
