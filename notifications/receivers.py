"""What notifications does when the forum announces something (forum.events).

These run in the worker, inside the transaction that marks the event dispatched: the
notifications and email rows they write commit with that mark, or not at all (and the event is
dispatched again). Running again after a failed attempt can't notify anyone twice: a
notification is unique per recipient, kind and comment.
"""

from __future__ import annotations

from django.dispatch import receiver

from forum import events

from . import services


@receiver(events.comment_posted, dispatch_uid="notifications-comment-posted")
def _comment_posted(sender, event, **kwargs):
    services.notify_comment_posted(comment=event.comment, mentioned=set(event.mentioned))


@receiver(events.comment_mentioned, dispatch_uid="notifications-comment-mentioned")
def _comment_mentioned(sender, event, **kwargs):
    services.notify_comment_mentioned(comment=event.comment, mentioned=set(event.mentioned))


@receiver(events.comment_featured, dispatch_uid="notifications-comment-featured")
def _comment_featured(sender, event, **kwargs):
    services.notify_comment_featured(comment=event.comment, by=event.actor)


@receiver(events.article_published, dispatch_uid="notifications-article-published")
def _article_published(sender, event, **kwargs):
    services.notify_new_chapter(article=event.article)
