"""The moderation desk in the admin: the queue, the audit log, reports, and moderation of users.

Who: moderators (staff whose "Moderators" group grants moderation.moderate, see
forum.permissions.is_moderator) and superusers. Every decision goes through moderation.services
with `by=request.user`, so each writes its own audit row; nothing here writes moderation state
directly, and the audit log and reports are read-only for everyone.

- The queue is a custom view of the audit log admin, served at /admin/moderation/queue/ by
  config/admin.py (one-click decisions POST to queue/<comment id>/<action>/, bulk ones to queue/).
- `UserModerationMixin` gives the User admin its "Suspend…", "Ban…" and "Lift suspension"
  actions (changelist and change form), each through a confirmation page.
- `ReportedFilter` is the Comment admin's "reported" filter.
- The User admin lives here: what an admin does to a user beyond its profile is moderation.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import ActionLocation, helpers
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import BANNED_YEAR, User
from forum import admin as forum_admin
from forum.models import Comment
from forum.permissions import is_moderator

from . import selectors, services
from .forms import ReasonForm
from .models import ModerationAction, Report

QUEUE_PER_PAGE = 50
BOTH_LOCATIONS = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]


def check_moderator(request) -> None:
    """403 for staff who cannot moderate (admin_view has already sent the others to log in)."""
    if not is_moderator(request.user):
        raise PermissionDenied


def can_act_on(actor, target) -> tuple[bool, str]:
    """May `actor` suspend or ban `target`? Moderators act on readers only; superusers also on
    staff, but nobody on a superuser or on themselves."""
    if target.pk == actor.pk:
        return False, _("You can’t act on your own account.")
    if target.is_superuser:
        return False, _("%(user)s is a superuser.") % {"user": target}
    if target.is_staff and not actor.is_superuser:
        return False, _("%(user)s is staff: only a superuser can suspend or ban staff.") % {
            "user": target
        }
    return True, ""


def _admin_link(viewname: str, pk, text) -> str:
    return format_html('<a href="{}">{}</a>', reverse(viewname, args=[pk]), text)


# --- The queue -----------------------------------------------------------------------------


QUEUE_ACTIONS = {
    "approve": gettext_lazy("Approve"),
    "hide": gettext_lazy("Hide"),
    "remove": gettext_lazy("Remove"),
    "ban": gettext_lazy("Ban author"),
}


class QueueActionError(Exception):
    """A decision that does not apply (any more) to a comment; the message says why."""


def decide(*, comment: Comment, action: str, by, reason: str, banned: set[int]) -> str:
    """Apply one queue decision to one comment through the services; return what was done.

    "ban" hides the comment (one audit row for the comment) and bans its author (one row for
    the user) unless the author is already banned, or was banned earlier in the same bulk
    decision (`banned` collects their ids). A service that finds the comment already decided
    (by someone else, a moment ago) writes no audit row: that is reported, not claimed done.
    """
    if not selectors.pending_comments().filter(pk=comment.pk).exists():
        raise QueueActionError(_already_decided(comment))
    if action == "ban":
        allowed, why = can_act_on(by, comment.author)
        if not allowed:
            raise QueueActionError(why)
    service = {
        "approve": services.approve_comment,
        "hide": services.hide_comment,
        "remove": services.remove_comment,
        "ban": services.hide_comment,
    }.get(action)
    if service is None:
        raise Http404
    with transaction.atomic():
        last = ModerationAction.objects.order_by("-pk").values_list("pk", flat=True).first()
        service(comment=comment, by=by, reason=reason)
        audited = ModerationAction.objects.filter(
            pk__gt=last or 0, comment_id=comment.pk, moderator=by
        ).exists()
        if not audited:
            raise QueueActionError(_already_decided(comment))
        if action == "ban" and comment.author_id not in banned and not comment.author.is_banned:
            services.ban_user(user=comment.author, by=by, reason=reason)
    done = {
        "approve": _("Comment #%(id)s approved."),
        "hide": _("Comment #%(id)s hidden."),
        "remove": _("Comment #%(id)s removed."),
        "ban": _("Comment #%(id)s hidden and %(user)s banned."),
    }[action]
    if action == "ban":
        banned.add(comment.author_id)
    return done % {"id": comment.pk, "user": comment.author}


def _already_decided(comment: Comment) -> str:
    return _("Comment #%(id)s is no longer in the queue: someone has already decided.") % {
        "id": comment.pk
    }


# --- Audit log -----------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services only: nobody adds, changes or deletes them here."""

    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "moderator_name", "target", "reason_excerpt", "change"]
    list_display_links = ["created_at"]
    list_filter = [
        "action",
        ("moderator", admin.RelatedOnlyFieldListFilter),
        "created_at",
    ]
    search_fields = ["reason", "user__display_name", "user__email", "=comment__id"]
    search_help_text = gettext_lazy(
        "Reason, the user acted on (name or email), or a comment’s number."
    )
    list_select_related = ["moderator", "user", "comment"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "action",
        "moderator_name",
        "target",
        "reason",
        "before",
        "after",
    ]
    readonly_fields = fields
    # Links from the queue and the user page open the history of one user or one comment.
    allowed_lookups = {"user__id__exact", "comment__id__exact"}

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in self.allowed_lookups or super().lookup_allowed(lookup, value, request)

    @admin.display(description=gettext_lazy("moderator"), ordering="moderator__display_name")
    def moderator_name(self, obj):
        return obj.moderator or _("(automatic)")

    @admin.display(description=gettext_lazy("target"))
    def target(self, obj):
        parts = []
        if obj.comment_id:
            parts.append(
                _admin_link(
                    "admin:forum_comment_change",
                    obj.comment_id,
                    _("Comment #%(id)s") % {"id": obj.comment_id},
                )
            )
        if obj.user_id:
            parts.append(_admin_link("admin:accounts_user_change", obj.user_id, obj.user))
        return format_html_join(" · ", "{}", ((part,) for part in parts)) if parts else "—"

    @admin.display(description=gettext_lazy("reason"))
    def reason_excerpt(self, obj):
        return Truncator(obj.reason).chars(80) or "—"

    @admin.display(description=gettext_lazy("before → after"))
    def change(self, obj):
        if not (obj.before or obj.after):
            return "—"
        return f"{obj.before or '—'} → {obj.after or '—'}"

    # The queue's views live here; config/admin.py serves them at /admin/moderation/queue/.

    def changelist_view(self, request, extra_context=None):
        extra = {"can_moderate": is_moderator(request.user), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def queue_view(self, request):
        check_moderator(request)
        if request.method == "POST":
            return self._bulk_decision(request)
        kind = request.GET.get("kind")
        kind = kind if kind in selectors.KINDS else None
        tabs = [
            (None, _("All"), selectors.pending_comments().count()),
            (selectors.REPORTED, _("Reported"), selectors.pending_comments("reported").count()),
            (selectors.HELD, _("Held for review"), selectors.pending_comments("held").count()),
        ]
        paginator = Paginator(selectors.queue(kind), QUEUE_PER_PAGE)
        paginator.count = next(count for key, _label, count in tabs if key == kind)  # no recount
        page = paginator.get_page(request.GET.get("p"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Moderation queue"),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "page": page,
            "kind": kind,
            "tabs": tabs,
            "actions": QUEUE_ACTIONS.items(),
            "reason_max_length": ReasonForm.base_fields["reason"].max_length,
        }
        return TemplateResponse(request, "admin/moderation/queue.html", context)

    def queue_action_view(self, request, pk: int, action: str):
        check_moderator(request)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action not in QUEUE_ACTIONS:
            raise Http404
        comment = Comment.objects.select_related("author", "article").filter(pk=pk).first()
        if comment is None:
            raise Http404
        # The queue page names each comment's reason field after it; a plain "reason" is fine.
        reason = self._reason(request, request.POST.get(f"reason-{pk}", request.POST.get("reason")))
        if reason is not None:
            try:
                done = decide(
                    comment=comment, action=action, by=request.user, reason=reason, banned=set()
                )
            except QueueActionError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, done, messages.SUCCESS)
        return redirect(self._next(request))

    def _bulk_decision(self, request):
        action = request.POST.get("bulk_action", "")
        ids = [int(v) for v in request.POST.getlist("selected") if v.isdigit()]
        if action not in QUEUE_ACTIONS:
            self.message_user(request, _("Choose what to do with the selection."), messages.WARNING)
            return redirect(self._next(request))
        if not ids:
            self.message_user(
                request,
                _("Select comments in the queue first. Nothing was changed."),
                messages.WARNING,
            )
            return redirect(self._next(request))
        reason = self._reason(request, request.POST.get("bulk_reason"))
        if reason is None:
            return redirect(self._next(request))
        done, banned = 0, set()
        comments = Comment.objects.select_related("author", "article").filter(pk__in=ids)
        for comment in comments.order_by("pk"):
            try:
                decide(
                    comment=comment, action=action, by=request.user, reason=reason, banned=banned
                )
            except QueueActionError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                done += 1
        if done:
            message = ngettext(
                "%(action)s: %(n)s comment.", "%(action)s: %(n)s comments.", done
            ) % {"action": QUEUE_ACTIONS[action], "n": done}
            self.message_user(request, message, messages.SUCCESS)
        return redirect(self._next(request))

    def _reason(self, request, value) -> str | None:
        form = ReasonForm({"reason": value or ""})
        if form.is_valid():
            return form.cleaned_data["reason"]
        self.message_user(request, " ".join(form.errors["reason"]), messages.ERROR)
        return None

    def _next(self, request) -> str:
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return reverse("admin:moderation_queue")


# --- Reports -------------------------------------------------------------------------------


class ReportStateFilter(admin.SimpleListFilter):
    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Open")), ("resolved", _("Resolved"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "comment_link", "reason", "reporter", "details", "state"]
    list_display_links = ["created_at"]
    list_filter = [ReportStateFilter, "reason", "created_at"]
    search_fields = ["text", "reporter__display_name", "=comment__id"]
    list_select_related = ["reporter", "comment"]
    date_hierarchy = "created_at"
    fields = ["created_at", "comment_link", "reason", "reporter", "text", "resolved_at"]
    readonly_fields = fields
    allowed_lookups = {"comment__id__exact"}

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in self.allowed_lookups or super().lookup_allowed(lookup, value, request)

    def changelist_view(self, request, extra_context=None):
        extra = {"can_moderate": is_moderator(request.user), **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.display(description=gettext_lazy("comment"), ordering="comment_id")
    def comment_link(self, obj):
        return _admin_link(
            "admin:forum_comment_change",
            obj.comment_id,
            _("Comment #%(id)s") % {"id": obj.comment_id},
        )

    @admin.display(description=gettext_lazy("details"))
    def details(self, obj):
        return Truncator(obj.text).chars(80) or "—"

    @admin.display(description=gettext_lazy("state"), ordering="resolved_at")
    def state(self, obj):
        return _("Resolved") if obj.resolved_at else _("Open")


# --- Comments ------------------------------------------------------------------------------


class ReportedFilter(admin.SimpleListFilter):
    """For the Comment admin: comments with open reports, reported ever, or never."""

    title = gettext_lazy("reported")
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return [
            ("open", _("Open reports")),
            ("any", _("Reported at any time")),
            ("never", _("Never reported")),
        ]

    def queryset(self, request, queryset):
        reports = Report.objects.all()
        if self.value() == "open":
            return queryset.filter(
                pk__in=reports.filter(resolved_at__isnull=True).values("comment_id")
            )
        if self.value() == "any":
            return queryset.filter(pk__in=reports.values("comment_id"))
        if self.value() == "never":
            return queryset.exclude(pk__in=reports.values("comment_id"))
        return queryset


# The forum's Comment admin, with the filter only moderation can offer (the forum doesn't know
# about reports): registered again here, above it in the apps' order.
admin.site.unregister(Comment)


@admin.register(Comment)
class CommentAdmin(forum_admin.CommentAdmin):
    list_filter = [*forum_admin.CommentAdmin.list_filter[:2], ReportedFilter]
    list_filter += forum_admin.CommentAdmin.list_filter[2:]


# --- Users ---------------------------------------------------------------------------------


class SuspensionFilter(admin.SimpleListFilter):
    title = gettext_lazy("suspension")
    parameter_name = "suspension"

    def lookups(self, request, model_admin):
        return [("suspended", _("Suspended")), ("banned", _("Banned")), ("none", _("None"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        banned = Q(suspended_until__year__gte=BANNED_YEAR)
        if self.value() == "suspended":
            return queryset.filter(suspended_until__gt=now).exclude(banned)
        if self.value() == "banned":
            return queryset.filter(banned)
        if self.value() == "none":
            return queryset.filter(Q(suspended_until__isnull=True) | Q(suspended_until__lte=now))
        return queryset


class BanForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (shown to the user)"),
        max_length=500,
        widget=forms.TextInput(attrs={"maxlength": 500, "size": 60}),
    )
    hide_comments = forms.BooleanField(
        label=gettext_lazy("Also hide their comments"), required=False
    )


class SuspendForm(BanForm):
    days = forms.TypedChoiceField(
        label=gettext_lazy("For"),
        choices=[
            (1, gettext_lazy("1 day")),
            (3, gettext_lazy("3 days")),
            (7, gettext_lazy("7 days")),
            (30, gettext_lazy("30 days")),
        ],
        coerce=int,
        initial=1,
        widget=forms.RadioSelect,
    )
    field_order = ["days", "reason", "hide_comments"]


class LiftForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional, for the audit log)"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"maxlength": 500, "size": 60}),
    )


USER_ACTIONS = {
    "suspend": (SuspendForm, gettext_lazy("Suspend users"), gettext_lazy("Suspend")),
    "ban": (BanForm, gettext_lazy("Ban users"), gettext_lazy("Ban")),
    "lift": (LiftForm, gettext_lazy("Lift suspensions"), gettext_lazy("Lift suspension")),
}


class UserModerationMixin:
    """Suspend, ban and lift from the User admin (list and user page), for moderators."""

    actions = ["suspend_users", "ban_users", "lift_suspensions"]

    class Media:
        css = {"all": ["css/moderation-admin.css"]}

    def has_moderate_permission(self, request) -> bool:
        return is_moderator(request.user)

    @admin.action(
        permissions=["moderate"],
        description=gettext_lazy("Suspend…"),
        description_plural=gettext_lazy("Suspend selected users…"),
        location=BOTH_LOCATIONS,
    )
    def suspend_users(self, request, queryset):
        return self._moderate_users(request, queryset, "suspend", "suspend_users")

    @admin.action(
        permissions=["moderate"],
        description=gettext_lazy("Ban…"),
        description_plural=gettext_lazy("Ban selected users…"),
        location=BOTH_LOCATIONS,
    )
    def ban_users(self, request, queryset):
        return self._moderate_users(request, queryset, "ban", "ban_users")

    @admin.action(
        permissions=["moderate"],
        description=gettext_lazy("Lift suspension…"),
        description_plural=gettext_lazy("Lift the suspension of selected users…"),
        location=BOTH_LOCATIONS,
    )
    def lift_suspensions(self, request, queryset):
        return self._moderate_users(request, queryset, "lift", "lift_suspensions")

    def _moderate_users(self, request, queryset, kind: str, action_name: str):
        form_class, title, verb = USER_ACTIONS[kind]
        users, refused = [], []
        for user in queryset.order_by("display_name"):
            allowed, why = can_act_on(request.user, user)
            if allowed and kind == "lift" and user.suspended_until is None:
                allowed, why = False, _("%(user)s is not suspended.") % {"user": user}
            (users if allowed else refused).append((user, why))
        if not users:
            for _user, why in refused:
                self.message_user(request, why, messages.ERROR)
            return None
        confirmed = request.POST.get("confirm") == "yes"
        form = form_class(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            for user, _why in users:
                self._apply(request, kind, user, form.cleaned_data)
            for _user, why in refused:
                self.message_user(request, why, messages.WARNING)
            names = ", ".join(str(user) for user, _why in users)
            done = {
                "suspend": _("Suspended: %(names)s."),
                "ban": _("Banned: %(names)s."),
                "lift": _("Suspension lifted: %(names)s."),
            }[kind]
            self.message_user(request, done % {"names": names}, messages.SUCCESS)
            return None
        # The confirmation page posts back to where the action came from (list or user page).
        from_change_form = f"{ActionLocation.CHANGE_FORM.value}-action" in request.POST
        action_field = (
            f"{ActionLocation.CHANGE_FORM.value}-action" if from_change_form else "action"
        )
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "kind": kind,
            "verb": verb,
            "form": form,
            # Laid out by the admin's own fieldset template, like any change form.
            "adminform": helpers.AdminForm(
                form, [(None, {"fields": list(form.fields)})], {}, model_admin=self
            ),
            "users": [user for user, _why in users],
            "refused": refused,
            "action_field": action_field,
            "action_name": action_name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
            "back_url": request.get_full_path(),
        }
        status = 400 if confirmed else 200
        return TemplateResponse(
            request, "admin/moderation/user_action.html", context, status=status
        )

    def _apply(self, request, kind: str, user, data) -> None:
        if kind == "suspend":
            services.suspend_user(
                user=user,
                by=request.user,
                until=timezone.now() + timedelta(days=data["days"]),
                reason=data["reason"],
                hide_comments=data["hide_comments"],
            )
        elif kind == "ban":
            services.ban_user(
                user=user,
                by=request.user,
                reason=data["reason"],
                hide_comments=data["hide_comments"],
            )
        else:
            services.lift_suspension(user=user, by=request.user, reason=data["reason"])

    @admin.display(description=gettext_lazy("suspension"))
    def suspension(self, obj):
        if obj.is_banned:
            return _("Banned")
        if obj.is_suspended:
            return _("Until %(until)s") % {
                "until": timezone.localtime(obj.suspended_until).strftime("%Y-%m-%d %H:%M")
            }
        return "—"

    @admin.display(description=gettext_lazy("moderation history"))
    def moderation_history(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        rows = list(ModerationAction.objects.filter(user=obj).select_related("moderator")[:10])
        if not rows:
            return _("No moderation actions.")
        items = format_html_join(
            "",
            "<li>{} — {} ({}){}</li>",
            (
                (
                    timezone.localtime(row.created_at).strftime("%Y-%m-%d %H:%M"),
                    row.get_action_display(),
                    row.moderator or _("automatic"),
                    f": {Truncator(row.reason).chars(80)}" if row.reason else "",
                )
                for row in rows
            ),
        )
        url = reverse("admin:moderation_moderationaction_changelist")
        return format_html(
            '<ul class="moderation-history">{}</ul><a href="{}?user__id__exact={}">{}</a>',
            items,
            url,
            obj.pk,
            _("The whole history in the audit log"),
        )

    def get_fieldsets(self, request, obj=None):
        """No password row for those who may only look (its link leads to a 403 anyway)."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "password"]})
            for name, options in fieldsets
        ]


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
        (gettext_lazy("Profile"), {"fields": ["display_name", "avatar", "avatar_url", "bio"]}),
        (gettext_lazy("Legacy"), {"fields": ["is_legacy", "legacy_key"]}),
        (
            gettext_lazy("Moderation"),
            {"fields": ["suspended_until", "suspension_reason", "moderation_history"]},
        ),
        (
            gettext_lazy("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (gettext_lazy("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "display_name", "password1", "password2"]},
        ),
    ]
