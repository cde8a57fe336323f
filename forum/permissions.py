"""Who may do what. `can_*` answer for templates; `check_*` raise for views.

Results that need a query (moderator group, verified email) are remembered on the user object
for the rest of the request.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from accounts.permissions import suspension_message

from .enums import CommentStatus
from .models import Article, Comment

MODERATORS_GROUP = "Moderators"
# What the group grants (moderation/migrations/0002 creates it with this list, frozen there).
MODERATOR_PERMISSIONS = [
    ("moderation", "moderate"),
    ("moderation", "view_report"),
    ("moderation", "view_moderationaction"),
    ("forum", "view_comment"),
    ("forum", "view_commentrevision"),
    ("forum", "view_article"),
    ("forum", "view_column"),
    ("accounts", "view_user"),
]
VERIFIED_CACHE_SECONDS = 3600


def has_powers(user) -> bool:
    """May this account use any power it holds (moderate, feature)? A suspension or ban takes
    every power away with the right to write: a banned moderator or column author can't hide,
    restore or feature any more than they can comment."""
    return user.is_authenticated and user.is_active and not user.is_suspended


def is_moderator(user) -> bool:
    """Superusers, and staff whose groups (the "Moderators" group) grant moderation.moderate;
    never while suspended or banned."""
    if not has_powers(user):
        return False
    if user.is_superuser:
        return True
    # Only staff can hold the permission: readers are answered without a query.
    return user.is_staff and user.has_perm("moderation.moderate")


def has_verified_email(user) -> bool:
    if not user.is_authenticated:
        return False
    if not hasattr(user, "_colloquy_verified"):
        # Once verified, an address stays verified (allauth won't remove the last one): the
        # answer is kept in the cache rather than asked of the database on every page.
        key = verified_cache_key(user.pk)
        verified = cache.get(key)
        if verified is None:
            verified = EmailAddress.objects.filter(user=user, verified=True).exists()
            if verified:
                cache.set(key, True, VERIFIED_CACHE_SECONDS)
        user._colloquy_verified = verified
    return user._colloquy_verified


def verified_cache_key(user_pk: int) -> str:
    return f"verified:{user_pk}"


def remember_verified(user, cached) -> None:
    """Take the cached answer fetched by the caller along with other keys (one round trip)."""
    if cached:
        user._colloquy_verified = True


def can_write(user) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and not user.is_suspended
        and has_verified_email(user)
    )


def can_moderate(user, comment: Comment) -> bool:
    """Moderators everywhere; a column's author in their own column (hide, restore, feature)."""
    return can_moderate_in(user, comment.article)


def can_moderate_in(user, article: Article) -> bool:
    return has_powers(user) and (is_moderator(user) or article.column.author_id == user.pk)


def can_edit_comment(user, comment: Comment) -> bool:
    return (
        user.is_authenticated
        and comment.author_id == user.pk
        and comment.status == CommentStatus.VISIBLE
        and can_write(user)
    )


can_delete_comment = can_edit_comment


def can_feature(user, article: Article) -> bool:
    return has_powers(user) and (article.author_id == user.pk or is_moderator(user))


def check_can_write(user) -> None:
    if user.is_authenticated and user.is_suspended:
        raise PermissionDenied(suspension_message(user))
    if not can_write(user):
        raise PermissionDenied(_("Verify your email address to take part in discussions."))


def check_can_moderate(user, comment: Comment) -> None:
    if not can_moderate(user, comment):
        raise PermissionDenied(_("Only moderators and the column's author can do this."))


def check_can_edit_comment(user, comment: Comment) -> None:
    if not can_edit_comment(user, comment):
        raise PermissionDenied(_("Only the comment's author can change it."))


def check_can_feature(user, article: Article) -> None:
    if not can_feature(user, article):
        raise PermissionDenied(_("Only the article's author or a moderator can feature comments."))


def check_can_reply_to(comment: Comment) -> None:
    if comment.status != CommentStatus.VISIBLE:
        raise PermissionDenied(_("This comment can no longer be replied to."))
