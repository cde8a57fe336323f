from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import services
from .importing import create_import_job
from .legacy import LegacyFormatError, check_archive
from .legacy.sources import MAX_UNPACKED_BYTES
from .models import Article, Column, Comment, CommentRevision, ImportJob, Like


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

    def save_model(self, request, obj, form, change):
        was_published = bool(form.initial.get("is_published")) if change else False
        services.save_article(article=obj, was_published=was_published)


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
    """Comments are looked at here and changed only through the services (the site, or the
    moderation queue), so every change of state has its audit row: the page is read-only."""

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
    search_fields = [
        "body_md",
        "author__display_name",
        "author__email",
        "article__title",
        "article__column__title",
    ]
    search_help_text = _("Text, author (name or email), article or column title.")
    list_select_related = ["author", "article"]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "permalink",
                    "article",
                    "author",
                    "parent",
                    "body_md",
                    "status",
                    "is_featured",
                    "moderation",
                    "created_at",
                    "edited_at",
                ]
            },
        ),
        (
            _("Counters, thread and legacy"),
            {
                "classes": ["collapse"],
                "fields": [
                    "like_count",
                    "reply_count",
                    "root",
                    "depth",
                    "legacy_like_count",
                    "legacy_reply_count",
                    "legacy_key",
                    "legacy_position",
                ],
            },
        ),
    ]
    readonly_fields = [field for _name, options in fieldsets for field in options["fields"]]

    def has_add_permission(self, request):
        # A comment is posted on the site (post_comment renders it and places it in its thread).
        return False

    @admin.display(description=_("text"))
    def excerpt(self, obj):
        return obj.body_md[:80]

    @admin.display(description=_("permalink"))
    def permalink(self, obj):
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), _("view"))

    @admin.display(description=_("moderation"))
    def moderation(self, obj):
        reports = reverse("admin:moderation_report_changelist")
        audit = reverse("admin:moderation_moderationaction_changelist")
        return format_html(
            '<a href="{}?comment__id__exact={}">{}</a> · <a href="{}?comment__id__exact={}">{}</a>'
            ' · <a href="{}">{}</a>',
            reports,
            obj.pk,
            _("Reports"),
            audit,
            obj.pk,
            _("Audit log"),
            reverse("admin:moderation_queue"),
            _("Moderation queue"),
        )


@admin.register(Like)
class LikeAdmin(admin.ModelAdmin):
    list_display = ["user", "comment", "article", "created_at"]
    raw_id_fields = ["user", "comment", "article"]
    list_select_related = ["user"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (the pattern from Django's file upload docs)."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple) and data:
            return [single(item, initial) for item in data]
        # No file at all arrives as []: the single-file clean says it is required.
        return [single(data or None, initial)]


class ImportUploadForm(forms.Form):
    files = MultipleFileField(
        label=_("Legacy pages"),
        help_text=_("Chapter files (.md, either legacy format) or a .zip of column folders."),
    )
    column = forms.CharField(
        label=_("Column name"),
        required=False,
        help_text=_("Leave empty to take it from the files."),
    )
    author = forms.CharField(
        label=_("Column author"),
        required=False,
        help_text=_("The author's display name, when the pages don't say it."),
    )

    def clean(self):
        if not settings.CELERY_BROKER_URL and not settings.IMPORT_IN_WEB_PROCESS:
            # Without a broker the task would run inside this request, and a big upload
            # outlives gunicorn's timeout: the worker is killed and the job left half done.
            raise forms.ValidationError(
                _(
                    "Imports run on a Celery worker, and this site has none "
                    "(CELERY_BROKER_URL is not set). Import on the server with "
                    "“manage.py import_legacy”, or configure a broker and start a worker."
                ),
                code="no_worker",
            )
        return super().clean()

    def clean_files(self):
        files = self.cleaned_data["files"]
        if sum(upload.size for upload in files) > MAX_UNPACKED_BYTES:
            raise forms.ValidationError(
                _("The files come to more than %(mb)s MB; import them in several uploads.")
                % {"mb": MAX_UNPACKED_BYTES // (1024 * 1024)}
            )
        for upload in files:
            if not upload.name.lower().endswith((".md", ".zip")):
                raise forms.ValidationError(
                    _("%(name)s is not a .md or .zip file.") % {"name": upload.name}
                )
            if upload.name.lower().endswith(".zip"):
                # The central directory only: a bomb is refused before anything is stored.
                try:
                    check_archive(upload, upload.name)
                except LegacyFormatError as exc:
                    raise forms.ValidationError(
                        _("%(name)s can't be imported: %(reason)s.")
                        % {"name": upload.name, "reason": exc.reason}
                    ) from None
                finally:
                    upload.seek(0)
        return files


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """ "Import legacy pages": upload → a job → the Celery task → a live progress bar."""

    list_display = ["__str__", "status", "progress", "created_by", "created_at", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [
        "upload_name", "created_by", "created_at", "column", "author", "status", "done", "total",
        "rows", "started_at",
        "summary", "errors", "finished_at",
    ]  # fmt: skip
    change_form_template = "admin/forum/importjob/change_form.html"
    add_form_template = "admin/forum/importjob/upload.html"

    def has_module_permission(self, request):
        return request.user.has_perm("forum.import_legacy")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("forum.import_legacy")

    def has_add_permission(self, request):
        return request.user.has_perm("forum.import_legacy")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description=_("file"))
    def upload_name(self, obj):
        # A name, not a link: the upload is private and deleted once the job ends.
        return obj.upload.name.rpartition("/")[2]

    @admin.display(description=_("progress"))
    def progress(self, obj):
        return f"{obj.done}/{obj.total}" if obj.total else "—"

    def get_urls(self):
        return [
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="forum_importjob_progress",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            job = create_import_job(
                uploads=form.cleaned_data["files"],
                user=request.user,
                column=form.cleaned_data["column"],
                author=form.cleaned_data["author"],
            )
            return redirect("admin:forum_importjob_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import legacy pages"),
            "form": form,
            "opts": self.model._meta,
            "has_view_permission": True,
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, self.add_form_template, context, status=status)

    def progress_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(ImportJob, pk=pk)
        return TemplateResponse(
            request, "admin/forum/importjob/change_form.html#progress", {"job": job}
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = get_object_or_404(ImportJob, pk=object_id)
        return super().change_view(
            request, object_id, form_url, {"job": job, **(extra_context or {})}
        )
