from django.urls import path

from . import views

app_name = "forum"

urlpatterns = [
    path("", views.home, name="home"),
    path("u/<int:pk>/", views.profile, name="profile"),
    path("c/<int:pk>/", views.comment_permalink, name="comment-permalink"),
    path("c/<int:pk>/reply/", views.comment_reply, name="comment-reply"),
    path("c/<int:pk>/edit/", views.comment_edit, name="comment-edit"),
    path("c/<int:pk>/delete/", views.comment_delete, name="comment-delete"),
    path("c/<int:pk>/like/", views.comment_like, name="comment-like"),
    path("c/<int:pk>/feature/", views.comment_feature, name="comment-feature"),
    path("c/<int:pk>/replies/", views.comment_replies, name="comment-replies"),
    path("comments/preview/", views.comment_preview, name="comment-preview"),
    path("columns/<str:slug>/", views.column_detail, name="column-detail"),
    path("columns/<str:column_slug>/<str:slug>/", views.article_detail, name="article-detail"),
    path(
        "columns/<str:column_slug>/<str:slug>/comments/",
        views.comment_create,
        name="comment-create",
    ),
    path("columns/<str:column_slug>/<str:slug>/like/", views.article_like, name="article-like"),
]
