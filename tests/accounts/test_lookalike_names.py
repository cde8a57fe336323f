"""Names that pass for someone else's: invisible fillers, full-width forms, mixed alphabets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from tests.accounts.test_signup import SIGNUP
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    ("alice\u3164", "invisible character"),  # Hangul filler: renders as "alice"
    ("ali\u200dce", "invisible character"),  # zero-width joiner
    ("\u115fadmin", "invisible character"),
    ("bob\u2800", "invisible character"),  # Braille blank
    ("ＡＤＭＩＮ", "full-width or compatibility characters"),
    ("\u0430dmin", "mixes Latin, Cyrillic or Greek"),  # Cyrillic а + Latin
    ("pay\u03c1al", "mixes Latin, Cyrillic or Greek"),  # Greek rho
]


@pytest.mark.parametrize(("name", "message"), HOSTILE)
def test_signup_refuses_a_lookalike_name(client, name, message):
    response = client.post(reverse("account_signup"), {**SIGNUP, "display_name": name})

    assert response.status_code == 400  # the form again, with the error
    assert message in response.text
    assert not User.objects.exists()


@pytest.mark.parametrize(("name", "message"), HOSTILE)
def test_settings_refuse_a_lookalike_name(reader_client, reader, name, message):
    response = reader_client.post(reverse("accounts:settings"), {"display_name": name, "bio": ""})

    assert response.status_code == 400
    assert message in response.text
    reader.refresh_from_db()
    assert reader.display_name == "reader"


@pytest.mark.parametrize("name", ["新读者", "Алёна", "Σωκράτης", "user_1.x", "张三·李四", "Ünal"])
def test_names_of_one_alphabet_are_welcome(client, name):
    response = client.post(reverse("account_signup"), {**SIGNUP, "display_name": name})

    assert response.status_code == 302
    assert User.objects.get().display_name == name


# --- the confusable skeleton (Unicode TR39) ------------------------------------------------------

LOOKALIKES = [
    ("epox", "\u0435\u0440\u043e\u0445"),  # "ерох", all Cyrillic
    ("user1", "userl"),
    ("userl", "userI"),  # capital i
    ("bob", "B0B"),  # zero for O
    ("modern", "rnodern"),  # "rn" reads as "m"
]


@pytest.mark.parametrize(("existing", "name"), LOOKALIKES)
def test_signup_refuses_a_name_that_looks_like_an_existing_one(client, existing, name):
    UserFactory(display_name=existing)

    response = client.post(reverse("account_signup"), {**SIGNUP, "display_name": name})

    assert response.status_code == 400
    assert "looks like one that is" in response.text
    assert list(User.objects.values_list("display_name", flat=True)) == [existing]


@pytest.mark.parametrize(("existing", "name"), LOOKALIKES)
def test_settings_refuse_a_name_that_looks_like_another_one(reader_client, reader, existing, name):
    UserFactory(display_name=existing)

    response = reader_client.post(reverse("accounts:settings"), {"display_name": name, "bio": ""})

    assert response.status_code == 400
    assert "looks like one that is" in response.text
    reader.refresh_from_db()
    assert reader.display_name == "reader"


def test_keeping_ones_own_name_is_not_a_collision(reader_client, reader):
    response = reader_client.post(
        reverse("accounts:settings"), {"display_name": "reader", "bio": "hello"}
    )

    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.bio == "hello"


def test_the_admin_refuses_a_lookalike_name_with_a_message(admin_client):
    UserFactory(display_name="epox")
    victim = UserFactory(display_name="someone")
    url = reverse("admin:accounts_user_change", args=[victim.pk])
    data = {
        "email": victim.email,
        "display_name": "\u0435\u0440\u043e\u0445",
        "avatar_url": "",
        "bio": "",
        "legacy_key": "",
        "suspension_reason": "",
        "is_active": "on",
    }
    response = admin_client.post(url, data)

    assert response.status_code == 400
    assert "looks like one that is" in response.text
    victim.refresh_from_db()
    assert victim.display_name == "someone"


def test_the_database_refuses_a_lookalike_written_around_the_forms():
    from django.db import IntegrityError, transaction

    UserFactory(display_name="epox")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="x@example.com", display_name="\u0435\u0440\u043e\u0445")


def test_existing_lookalikes_keep_their_names_when_the_column_arrives():
    """The data migration: the older account holds the skeleton, the younger keeps its name
    with none (NULLs don't collide) and must pick a distinct one when it next renames."""
    import importlib

    from django.apps import apps

    first = UserFactory(display_name="user1")
    second = UserFactory(display_name="other")
    User.objects.filter(pk=second.pk).update(display_name="userl")
    User.objects.update(display_name_skeleton=None)

    migration = importlib.import_module("accounts.migrations.0006_display_name_skeleton")
    migration.fill_skeletons(apps, None)

    assert dict(User.objects.values_list("pk", "display_name_skeleton")) == {
        first.pk: "userl",
        second.pk: None,
    }
