"""A refused form answers 400 everywhere, including the views we don't write (allauth's, the
admin's): config.middleware.RefusedFormMiddleware. An accepted one still redirects."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from forum.models import Column
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

COLUMN = {
    "title": "A column",
    "slug": "a-column",
    "description": "",
    "created_at_0": "2026-12-01",
    "created_at_1": "08:00:00",
}


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_form_with_errors_answers_400_and_writes_nothing(admin_user, column_author):
    client = _admin(admin_user)
    data = {**COLUMN, "title": "", "author": column_author.pk}

    response = client.post(reverse("admin:forum_column_add"), data)

    assert response.status_code == 400
    assert "This field is required." in response.text
    assert not Column.objects.exists()


def test_an_accepted_admin_form_still_redirects(admin_user, column_author):
    client = _admin(admin_user)
    data = {**COLUMN, "author": column_author.pk}

    response = client.post(reverse("admin:forum_column_add"), data)

    assert response.status_code == 302
    assert Column.objects.get().title == "A column"


def test_a_signup_with_errors_answers_400_and_an_accepted_one_redirects(client):
    signup = reverse("account_signup")
    data = {
        "email": "new@example.com",
        "display_name": "newbie",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }

    refused = client.post(signup, {**data, "email": "not-an-email"})
    assert refused.status_code == 400
    assert "valid email" in refused.text
    assert not User.objects.exists()

    accepted = client.post(signup, data)
    assert accepted.status_code == 302
    assert User.objects.get().display_name == "newbie"


def test_a_wrong_password_answers_400_and_the_right_one_signs_in(client, reader):
    login = reverse("account_login")

    refused = client.post(login, {"login": reader.email, "password": "wrong"})
    assert refused.status_code == 400
    assert "not correct" in refused.text
    assert "_auth_user_id" not in client.session

    accepted = client.post(login, {"login": reader.email, "password": PASSWORD})
    assert accepted.status_code == 302
    assert client.session["_auth_user_id"] == str(reader.pk)


def test_form_pages_answer_200_when_asked_for(client, admin_user):
    assert client.get(reverse("account_login")).status_code == 200
    assert _admin(admin_user).get(reverse("admin:forum_column_add")).status_code == 200
