"""Every admin page, in English and in Chinese, in a real browser: it answers 200, wears the
site's name, and logs no console error or CSP violation (the `watch` fixture fails the test)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.test import RequestFactory
from django.urls import reverse
from playwright.sync_api import expect

from forum import services as forum_services
from forum.enums import ImportStatus
from forum.models import ImportJob
from moderation import services as moderation
from notifications.models import Notification

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _admin_urls(admin_user) -> list[str]:
    urls = [reverse("admin:index"), reverse("admin:moderation_queue")]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"{name}_add"))
        for obj in model._default_manager.order_by("pk")[:2]:
            urls.append(reverse(f"{name}_change", args=[obj.pk]))
    return urls


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize(
    ("locale", "header"), [("en-US", "Colloquy administration"), ("zh-CN", "Colloquy 管理后台")]
)
def test_every_admin_page_in_both_languages(
    new_page, log_in, live_server, admin_user, article, reader, other_reader, locale, header
):
    comment = forum_services.post_comment(article=article, author=other_reader, body="Buy now")
    moderation.report_comment(comment=comment, reporter=reader, reason="spam")
    moderation.hide_comment(comment=comment, by=admin_user, reason="spam")
    for status in (ImportStatus.RUNNING, ImportStatus.DONE):  # the polling page, the summary
        job = ImportJob(created_by=admin_user, status=status, total=2, done=1)
        job.upload.save("chapter.md", ContentFile(b"# A chapter"), save=False)
        job.save()
    assert Notification.objects.exists()
    page = new_page(locale=locale)
    log_in(page, admin_user)

    urls = _admin_urls(admin_user)
    for url in urls:
        response = page.goto(live_server.url + url)
        assert response.status == 200, (url, response.status)
        expect(page.locator("#site-name")).to_have_text(header)
        assert "Django" not in page.locator("#header").inner_text(), url
    assert len(urls) > 20
