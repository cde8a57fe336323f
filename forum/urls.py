from django.urls import path

from . import views

app_name = "forum"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<int:pk>/", views.comment_permalink, name="comment-permalink"),
    path("columns/<str:slug>/", views.column_detail, name="column-detail"),
    path("columns/<str:column_slug>/<str:slug>/", views.article_detail, name="article-detail"),
]
