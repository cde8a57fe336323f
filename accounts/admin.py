from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from moderation.admin import SuspensionFilter, UserModerationMixin

from .models import User


@admin.register(User)
class UserAdmin(UserModerationMixin, BaseUserAdmin):
    """Moderators (view_user only) see users read-only and may suspend, ban or lift (the
    mixin's actions, through moderation.services); changing a user takes change_user."""

    ordering = ["-date_joined"]
    list_display = [
        "display_name",
        "email",
        "is_legacy",
        "is_staff",
        "is_active",
        "suspension",
        "date_joined",
    ]
    list_filter = ["is_legacy", "is_staff", "is_superuser", "is_active", SuspensionFilter, "groups"]
    search_fields = ["display_name", "email"]
    # Suspensions change only through the moderation actions, which write the audit log.
    readonly_fields = [
        "date_joined",
        "last_login",
        "legacy_key",
        "suspended_until",
        "suspension_reason",
        "moderation_history",
    ]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Profile"), {"fields": ["display_name", "avatar", "avatar_url", "bio"]}),
        (_("Legacy"), {"fields": ["is_legacy", "legacy_key"]}),
        (
            _("Moderation"),
            {"fields": ["suspended_until", "suspension_reason", "moderation_history"]},
        ),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "display_name", "password1", "password2"]},
        ),
    ]
