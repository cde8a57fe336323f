import re

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from accounts.models import User
from notifications.enums import EmailState
from notifications.models import OutgoingEmail
from tests.factories import PASSWORD

# Transactional: the mails leave through on_commit callbacks, which need real commits.
pytestmark = pytest.mark.django_db(transaction=True)

SIGNUP = {
    "email": "new@example.com",
    "display_name": "新读者",
    "password1": "a-long-enough-passphrase",
    "password2": "a-long-enough-passphrase",
}


def test_signup_sends_one_verification_email_through_the_outbox(client, mailoutbox):
    response = client.post(reverse("account_signup"), SIGNUP)

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get(email="new@example.com")
    assert user.display_name == "新读者"
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new@example.com"]
    assert re.search(r"/accounts/confirm-email/[^/\s]+/", mailoutbox[0].body)
    # The site has a name and a domain (the Site row was "example.com", and unnamed in mails).
    assert mailoutbox[0].body.startswith("Hello from Colloquy!")
    assert "register an account on 127.0.0.1:8000." in mailoutbox[0].body
    assert OutgoingEmail.objects.get(to="new@example.com").state == EmailState.SENT


def test_user_cannot_log_in_before_verifying_and_can_after(client, mailoutbox):
    client.post(reverse("account_signup"), SIGNUP)
    client.logout()

    response = client.post(
        reverse("account_login"),
        {"login": "new@example.com", "password": SIGNUP["password1"]},
    )
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session

    link = re.search(r"(/accounts/confirm-email/[^/\s]+/)", mailoutbox[-1].body).group(1)
    assert client.get(link).status_code == 200
    client.post(link)
    assert EmailAddress.objects.get(email="new@example.com").verified

    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "NEW@example.com", "password": SIGNUP["password1"]}
    )
    assert response.status_code == 302
    page = client.get("/")
    assert "新读者" in page.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", "x", "at least 2 characters"),
        ("display_name", "has space", "no spaces"),
        ("display_name", "a" * 31, "at most 30 characters"),
        ("display_name", "<script>", "no spaces"),
        ("email", "not-an-email", "valid email"),
    ],
)
def test_signup_with_bad_input_shows_an_error_and_creates_nothing(client, field, value, message):
    response = client.post(reverse("account_signup"), {**SIGNUP, field: value})

    assert response.status_code == 400  # the form again, with the error
    assert message in response.text
    assert not User.objects.exists()


def test_display_names_are_unique_ignoring_case(client, reader):
    response = client.post(reverse("account_signup"), {**SIGNUP, "display_name": "READER"})

    assert "This display name is taken, or looks like one that is." in response.text
    assert User.objects.count() == 1


def test_email_is_unique_ignoring_case(client, reader, mailoutbox):
    client.post(reverse("account_signup"), {**SIGNUP, "email": reader.email.upper()})

    assert User.objects.filter(email__iexact=reader.email).count() == 1


def test_failed_logins_are_rate_limited(client, reader):
    # ACCOUNT_RATE_LIMITS["login_failed"]: five wrong passwords for one address in 5 minutes.
    login = reverse("account_login")
    for _ in range(5):
        response = client.post(login, {"login": reader.email, "password": "wrong"})
        assert response.status_code == 400
        assert "not correct" in response.text
    response = client.post(login, {"login": reader.email, "password": PASSWORD})

    assert response.status_code == 400  # even the right password, until the window passes
    assert "Too many failed login attempts" in response.text
    assert "_auth_user_id" not in client.session


def test_password_reset_mail_goes_out_for_a_known_address(client, reader, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": reader.email})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/password/reset/key/" in mailoutbox[0].body
