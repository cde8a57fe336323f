from __future__ import annotations

from django.shortcuts import get_object_or_404, redirect, render

from . import selectors
from .models import Comment


def home(request):
    return render(
        request,
        "forum/home.html",
        {
            "columns": selectors.list_columns(),
            "recent_articles": selectors.list_recently_discussed_articles(),
        },
    )


def column_detail(request, slug: str):
    return render(request, "forum/column_detail.html", {"column": selectors.get_column(slug=slug)})


def article_detail(request, column_slug: str, slug: str):
    article = selectors.get_article(column_slug=column_slug, slug=slug)
    return render(request, "forum/article_detail.html", {"article": article})


def comment_permalink(request, pk: int):
    comment = get_object_or_404(Comment.objects.select_related("article__column"), pk=pk)
    return redirect(f"{comment.article.get_absolute_url()}#c-{comment.pk}")
