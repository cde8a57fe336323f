from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("u/<int:pk>/", views.profile, name="profile"),
    path("settings/profile/", views.profile_settings, name="settings"),
]
