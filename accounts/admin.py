from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["-date_joined"]
    list_display = ["display_name", "email", "is_legacy", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_legacy", "is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["display_name", "email"]
    readonly_fields = ["date_joined", "last_login", "legacy_key"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Profile"), {"fields": ["display_name", "avatar", "avatar_url", "bio"]}),
        (_("Legacy"), {"fields": ["is_legacy", "legacy_key"]}),
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
