from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("settings/profile/", views.profile_settings, name="settings"),
]
