from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.inbox, name="inbox"),
    path("notifications/bell/", views.bell, name="bell"),
    path("notifications/read-all/", views.mark_all_read, name="read-all"),
    path("notifications/settings/", views.preferences, name="settings"),
    path("notifications/<int:pk>/", views.open_notification, name="open"),
    path("notifications/<int:pk>/read/", views.mark_read, name="read"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("follow/column/<str:slug>/", views.follow_column, name="follow-column"),
    path(
        "follow/article/<str:column_slug>/<str:slug>/", views.follow_article, name="follow-article"
    ),
]
