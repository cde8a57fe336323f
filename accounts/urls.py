from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("language/<str:code>/", views.switch_language, name="language"),
    path("settings/profile/", views.profile_settings, name="settings"),
]
