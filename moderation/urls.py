from django.urls import path

from . import views

app_name = "moderation"

urlpatterns = [
    path("c/<int:pk>/report/", views.report, name="report"),
    path("c/<int:pk>/hide/", views.hide, name="hide"),
    path("c/<int:pk>/restore/", views.restore, name="restore"),
]
