from django.contrib import admin

from .models import Notification, OutgoingEmail


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["kind", "recipient", "actor", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind", "in_digest"]
    raw_id_fields = ["recipient", "actor", "comment", "article"]
    list_select_related = ["recipient", "actor"]


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "to", "kind", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state", "kind"]
    search_fields = ["to", "subject"]
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields]

    def has_add_permission(self, request):
        return False
