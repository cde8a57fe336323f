"""A suspension or a ban takes away every power with the right to write: a suspended or banned
moderator or column author can't hide, restore or feature (and isn't shown the controls)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from forum import permissions
from forum.enums import CommentStatus
from forum.models import Comment
from moderation import services as moderation
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(article, other_reader):
    return CommentFactory(article=article, author=other_reader, body="A comment to act on")


def _restrict(user, how):
    if how == "suspended":
        User.objects.filter(pk=user.pk).update(
            suspended_until=timezone.now() + timedelta(days=3), suspension_reason="cooling off"
        )
    elif how == "banned":
        moderation.ban_user(user=user, by=UserFactory(is_staff=True, is_superuser=True))
    user.refresh_from_db()
    return user


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("how", ["suspended", "banned"])
@pytest.mark.parametrize("who", ["moderator", "column_author"])
def test_no_power_survives_a_suspension(request, article, target, who, how):
    user = _restrict(request.getfixturevalue(who), how)

    assert not permissions.can_moderate(user, target)
    assert not permissions.can_feature(user, article)
    assert not permissions.is_moderator(user)
    client = _client(user)
    for name, data in [
        ("moderation:hide", {"reason": "x"}),
        ("forum:comment-feature", {"featured": "1"}),
    ]:
        response = client.post(reverse(name, args=[target.pk]), data)
        assert response.status_code == 403, (name, response.status_code)
    Comment.objects.filter(pk=target.pk).update(status=CommentStatus.HIDDEN)
    response = client.post(reverse("moderation:restore", args=[target.pk]), {"reason": "x"})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.status == CommentStatus.HIDDEN
    assert not target.is_featured


@pytest.mark.parametrize("how", ["suspended", "banned"])
@pytest.mark.parametrize("who", ["moderator", "column_author"])
def test_the_page_shows_a_suspended_power_holder_no_controls(request, article, target, who, how):
    user = _restrict(request.getfixturevalue(who), how)

    page = _client(user).get(article.get_absolute_url()).text

    assert f'href="/c/{target.pk}/hide/"' not in page
    assert f'action="/c/{target.pk}/feature/"' not in page


@pytest.mark.parametrize("who", ["moderator", "column_author"])
def test_an_active_power_holder_still_acts(request, article, target, who):
    user = request.getfixturevalue(who)
    client = _client(user)

    page = client.get(article.get_absolute_url()).text
    assert f'href="/c/{target.pk}/hide/"' in page
    response = client.post(reverse("moderation:hide", args=[target.pk]), {"reason": "x"})

    assert response.status_code == 302
    target.refresh_from_db()
    assert target.status == CommentStatus.HIDDEN


@pytest.mark.parametrize("how", ["suspended", "banned"])
def test_a_suspended_account_cannot_change_its_public_profile(reader, how):
    # A name, a bio and an avatar are public text: a banned spammer doesn't move to the profile.
    _restrict(reader, how)
    client = _client(reader)

    page = client.get(reverse("accounts:settings"))
    response = client.post(
        reverse("accounts:settings"), {"display_name": "spam_shop", "bio": "cheap pills"}
    )

    assert page.status_code == 200
    assert "can’t be changed" in page.text
    assert 'name="bio"' not in page.text
    assert response.status_code == 403
    assert ("suspended until" if how == "suspended" else "banned") in response.text
    reader.refresh_from_db()
    assert (reader.display_name, reader.bio) == ("reader", "")


def test_the_profile_form_returns_when_the_suspension_is_lifted(reader):
    _restrict(reader, "suspended")
    moderation.lift_suspension(user=reader, by=UserFactory(is_staff=True, is_superuser=True))
    client = _client(reader)

    response = client.post(reverse("accounts:settings"), {"display_name": "reader", "bio": "back"})

    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.bio == "back"
