"""The admin in both languages: the site's name on it, one "Accounts" section, the queue's
own place in the sidebar, and the queue's sentences read right in Chinese."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from moderation.models import Report
from tests.factories import CommentFactory

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    ("headers", "header", "section"),
    [({}, "Colloquy administration", "Users"), (ZH, "Colloquy 管理后台", "用户")],
    ids=["en", "zh"],
)
def test_the_admin_wears_the_sites_name_and_one_accounts_section(
    admin_client, headers, header, section
):
    page = admin_client.get(reverse("admin:index"), **headers)

    tree = HTMLParser(page.text)
    assert tree.css_first("#site-name").text().strip() == header
    assert header in tree.css_first("title").text()
    assert "Django" not in tree.css_first("#header").text()
    sections = [c.text().strip() for c in tree.css("#content-main .module caption a")]
    assert len(sections) == len(set(sections)), sections
    assert section in sections


def test_the_sidebar_marks_no_model_current_on_the_queue(admin_client):
    page = admin_client.get(reverse("admin:moderation_queue"))

    assert page.status_code == 200
    assert page.request["PATH_INFO"] == "/admin/moderation/queue/"
    current = HTMLParser(page.text).css("#nav-sidebar .current-model")
    assert current == [], [c.text() for c in current]


@pytest.fixture
def reported(article, other_reader, reader):
    comment = CommentFactory(article=article, author=other_reader, body="Buy now")
    return Report.objects.create(comment=comment, reporter=reader, reason="spam")


@pytest.mark.parametrize(
    ("minutes", "headers", "sentence"),
    [
        (0, {}, "reported by reader just now"),
        (3, {}, "reported by reader 3\xa0minutes ago"),
        (0, ZH, "reader 刚刚举报"),
        (3, ZH, "reader 3\xa0分钟前举报"),
    ],
)
def test_the_queue_says_who_reported_and_when(admin_client, reported, minutes, headers, sentence):
    Report.objects.filter(pk=reported.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes, seconds=5)
    )

    page = admin_client.get(reverse("admin:moderation_queue"), **headers)

    reports = " ".join(li.text() for li in HTMLParser(page.text).css("li"))
    assert sentence in reports, reports


def test_every_registered_model_has_a_working_changelist_in_both_languages(admin_client):
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for headers in ({}, ZH):
            response = admin_client.get(url, **headers)
            assert response.status_code == 200, (url, headers, response.status_code)
            assert "Django" not in HTMLParser(response.text).css_first("#header").text()
