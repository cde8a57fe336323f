"""Legacy accounts (made by the importer) have no password; an admin-linked email claims them."""

import re

import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def legacy_user(db):
    user = User(display_name="老读者", is_legacy=True, avatar_url="https://img.example/a.jpg")
    user.set_unusable_password()
    user.save()
    return user


def test_legacy_account_cannot_log_in_and_has_no_email(client, legacy_user):
    assert not legacy_user.has_usable_password()
    assert legacy_user.email is None
    assert legacy_user.avatar_src == "https://img.example/a.jpg"


def test_admin_links_an_email_and_the_person_claims_the_account(
    client, admin_user, legacy_user, mailoutbox
):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_user_change", args=[legacy_user.pk]),
        {
            "email": "old.reader@example.com",
            "display_name": legacy_user.display_name,
            "avatar_url": legacy_user.avatar_url,
            "bio": "",
            "is_legacy": "on",
            "is_active": "on",
            "date_joined_0": "2019-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    client.logout()

    client.post(reverse("account_reset_password"), {"email": "old.reader@example.com"})
    assert len(mailoutbox) == 1
    link = re.search(r"(/accounts/password/reset/key/\S+/)", mailoutbox[0].body).group(1)
    form_url = client.get(link).url
    client.post(
        form_url, {"password1": "my-new-long-password", "password2": "my-new-long-password"}
    )

    response = client.post(
        reverse("account_login"),
        {"login": "old.reader@example.com", "password": "my-new-long-password"},
    )
    assert response.status_code == 302
    assert response.url == "/"
    legacy_user.refresh_from_db()
    assert legacy_user.has_usable_password()
    assert client.get("/").text.count("老读者") >= 1
