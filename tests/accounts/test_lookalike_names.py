"""Names that pass for someone else's: invisible fillers, full-width forms, mixed alphabets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from tests.accounts.test_signup import SIGNUP

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

    assert response.status_code == 200  # allauth re-renders the form with the error
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
