"""Behind a proxy every visitor is the proxy — unless the client's address is read from
X-Forwarded-For by one rule, for our rate limits and allauth's alike (found under load: with
allauth keyed on the proxy's address, 10 failed logins from 10 people locked everyone out)."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.ratelimit import client_ip
from tests.factories import PASSWORD
from tests.test_settings import run_manage

PROXY = "10.0.0.2"


@pytest.mark.parametrize(
    ("count", "forwarded", "seen"),
    [
        (0, "198.51.100.7", PROXY),  # not behind a proxy: the header is anyone's to forge
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own entry is not trusted
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.9", "203.0.113.5"),  # a CDN, then our proxy
        (2, "198.51.100.7", PROXY),  # fewer hops than proxies: it didn't come through them
        (1, "", PROXY),
        (1, " , ", PROXY),
    ],
)
def test_the_client_is_the_address_the_nearest_trusted_proxy_saw(settings, count, forwarded, seen):
    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == seen


def _login(address: str, email: str, password: str):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=address)
    return client, client.post(reverse("account_login"), {"login": email, "password": password})


@pytest.mark.django_db
def test_failed_logins_of_ten_people_do_not_lock_out_the_eleventh(settings, reader):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(10):
        _, response = _login(f"198.51.100.{n + 1}", f"someone{n}@example.com", "wrong")
        assert response.status_code == 400
        assert "not correct" in response.text

    client, response = _login("198.51.100.99", reader.email, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(reader.pk)


@pytest.mark.django_db
def test_one_address_that_fails_ten_times_is_still_limited(settings, reader):
    """The control: the limit is still there, per address (allauth: 10 a minute)."""
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(10):
        _, response = _login("198.51.100.1", f"someone{n}@example.com", "wrong")
        assert response.status_code == 400

    client, response = _login("198.51.100.1", reader.email, PASSWORD)

    assert response.status_code == 400
    assert "Too many failed login attempts" in response.text
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_forged_header_does_not_escape_the_limit(settings, reader):
    """A client that sends its own X-Forwarded-For gets the proxy's entry appended: it still
    counts as its real address, whatever it claims."""
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(10):
        _, response = _login(f"6.6.6.{n}, 198.51.100.1", f"someone{n}@example.com", "wrong")
        assert response.status_code == 400

    _, response = _login("6.6.6.99, 198.51.100.1", reader.email, PASSWORD)

    assert response.status_code == 400
    assert "Too many failed login attempts" in response.text


def test_settings_trust_one_proxy_when_behind_one(tmp_path):
    script = (
        "from django.conf import settings;"
        "print(settings.TRUSTED_PROXY_COUNT, settings.ALLAUTH_TRUSTED_PROXY_COUNT)"
    )
    for env, expected in [
        ({"DEBUG": "true"}, "0 0"),
        ({"DEBUG": "true", "BEHIND_PROXY": "true"}, "1 1"),
        ({"DEBUG": "true", "BEHIND_PROXY": "true", "TRUSTED_PROXY_COUNT": "2"}, "2 2"),
    ]:
        result = run_manage(["shell", "--no-imports", "-c", script], env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
