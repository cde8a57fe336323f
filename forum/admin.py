from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Article, Column, Comment, CommentRevision, Like


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "created_at"]
    search_fields = ["title", "author__display_name"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["author"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "column",
        "position",
        "author",
        "is_published",
        "comment_count",
        "like_count",
    ]
    list_filter = ["is_published", "column"]
    search_fields = ["title", "column__title"]
    list_select_related = ["column", "author"]
    readonly_fields = [
        "like_count",
        "legacy_like_count",
        "comment_count",
        "last_commented_at",
        "legacy_key",
    ]
    autocomplete_fields = ["author", "column"]
    prepopulated_fields = {"slug": ["title"]}


class CommentRevisionInline(admin.TabularInline):
    """Earlier versions of an edited comment: history, so read-only."""

    model = CommentRevision
    extra = 0
    can_delete = False
    fields = ["body_md", "created_at", "replaced_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    inlines = [CommentRevisionInline]
    list_display = [
        "id",
        "excerpt",
        "author",
        "article",
        "status",
        "is_featured",
        "like_count",
        "created_at",
        "permalink",
    ]
    list_filter = [
        "status",
        "is_featured",
        ("legacy_key", admin.EmptyFieldListFilter),
        "created_at",
    ]
    search_fields = ["body_md", "author__display_name", "article__title"]
    list_select_related = ["author", "article"]
    raw_id_fields = ["author", "article", "parent"]
    readonly_fields = [
        "root",
        "depth",
        "path",
        "like_count",
        "reply_count",
        "legacy_like_count",
        "legacy_reply_count",
        "legacy_key",
        "legacy_position",
    ]
    date_hierarchy = "created_at"

    @admin.display(description=_("text"))
    def excerpt(self, obj):
        return obj.body_md[:80]

    @admin.display(description=_("permalink"))
    def permalink(self, obj):
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), _("view"))


@admin.register(Like)
class LikeAdmin(admin.ModelAdmin):
    list_display = ["user", "comment", "article", "created_at"]
    raw_id_fields = ["user", "comment", "article"]
    list_select_related = ["user"]
