"""django-allauth's pages render inside the site's layout with the site's form markup.

The overrides live in templates/allauth/ (layouts and elements) and static/css/forms.css.
Besides the look, these tests hold the accessibility and CSP promises: every visible control has
a label, aria-describedby points at elements that exist, and no inline style or event handler
attribute reaches the page (the Content-Security-Policy would block them).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

INLINE_STYLE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)

ANONYMOUS_PAGES = {
    "login": ("account_login", ()),
    "signup": ("account_signup", ()),
    "password reset": ("account_reset_password", ()),
    "password reset done": ("account_reset_password_done", ()),
    "verification sent": ("account_email_verification_sent", ()),
    "confirm email, unknown key": ("account_confirm_email", ("no-such-key",)),
    "reset from key, bad token": ("account_reset_password_from_key", ("1", "bad-token")),
    "account inactive": ("account_inactive", ()),
}
ANONYMOUS_FORM_PAGES = {"login", "signup", "password reset"}

MEMBER_PAGES = {
    "email": ("account_email", ()),
    "password change": ("account_change_password", ()),
    "logout confirm": ("account_logout", ()),
}
MEMBER_FORM_PAGES = {"email", "password change"}


class PageParser(HTMLParser):
    """Collects what the assertions need: controls, labels, ids, headings, describedby."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.headings: list[int] = []
        self.describedby: list[str] = []
        self.meta: dict[str, str] = {}
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if tag in {"input", "select", "textarea"} and a.get("type") != "hidden":
            self.controls.append(a)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if a.get("aria-describedby"):
            self.describedby.extend(a["aria-describedby"].split())
        if tag == "meta" and a.get("name"):
            self.meta[a["name"]] = a.get("content") or ""
        if tag == "link" and a.get("rel") == "stylesheet":
            self.stylesheets.append(a.get("href") or "")


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def assert_styled_page(response, *, has_form: bool, status: int = 200) -> PageParser:
    assert response.status_code == status
    html = response.content.decode()
    page = parse(html)

    # Our layout: the site header and both stylesheets, and the marker that makes <main> the card.
    assert 'class="site-header"' in html
    assert any(href.endswith("css/app.css") for href in page.stylesheets)
    assert any(href.endswith("css/forms.css") for href in page.stylesheets)
    assert "auth" in page.meta.get("colloquy-layout", "").split()
    # Not allauth's bare default layout.
    assert "Menu:" not in html

    # CSP: no inline style attributes, no inline event handlers.
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html).group(0)
    assert not INLINE_HANDLER.search(html), INLINE_HANDLER.search(html).group(0)

    # One h1, and headings never skip a level.
    assert page.headings.count(1) == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, page.headings

    # Every visible control of the page (footer and header included) has a label.
    for control in page.controls:
        assert control.get("id") in page.label_for or control.get("aria-label"), control
    for target in page.describedby:
        assert target in page.ids, target

    if has_form:
        assert 'class="field' in html
        assert '<form class="form' in html
        assert 'class="form-actions"' in html
        assert 'class="button' in html
    return page


@pytest.fixture
def member(client):
    user = User.objects.create_user(
        email="r@example.com", password="pw-123456789", display_name="reader1"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client.force_login(user)
    return user


@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_anonymous_allauth_page_uses_site_layout(client, name):
    url_name, args = ANONYMOUS_PAGES[name]
    response = client.get(reverse(url_name, args=args))
    assert_styled_page(response, has_form=name in ANONYMOUS_FORM_PAGES)


@pytest.mark.parametrize("name", MEMBER_PAGES)
def test_member_allauth_page_uses_site_layout(client, member, name):
    url_name, args = MEMBER_PAGES[name]
    response = client.get(reverse(url_name, args=args))
    assert_styled_page(response, has_form=name in MEMBER_FORM_PAGES)


def test_logout_confirm_has_a_site_button(client, member):
    html = client.get(reverse("account_logout")).content.decode()
    assert re.search(r'<button class="button"[^>]*type="submit"', html)


def test_login_fields_are_labelled_and_keep_their_widget_attributes(client):
    html = client.get(reverse("account_login")).content.decode()
    assert '<label for="id_login">' in html
    assert '<label for="id_password">' in html
    assert 'autocomplete="current-password"' in html
    # The "Forgot your password?" help is tied to the password input.
    assert 'aria-describedby="id_password_helptext"' in html
    assert 'class="help" id="id_password_helptext"' in html
    assert reverse("account_reset_password") in html
    # "Remember me" is a checkbox with its label beside it.
    assert 'class="field field-choice"' in html


def test_signup_shows_display_name_field(client):
    html = client.get(reverse("account_signup")).content.decode()
    assert '<label for="id_display_name">' in html
    assert 'name="display_name"' in html
    assert 'id="id_display_name_helptext"' in html


def test_signup_errors_are_marked_and_linked_to_their_fields(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "not-an-email", "display_name": "", "password1": "x", "password2": "y"},
    )
    page = assert_styled_page(response, has_form=True, status=400)
    html = response.content.decode()
    assert "field-invalid" in html
    for field in ("id_email", "id_display_name"):
        assert f'class="error" id="{field}_error"' in html
        assert f"{field}_error" in page.describedby
    invalid = [c for c in page.controls if c.get("aria-invalid") == "true"]
    assert {c["id"] for c in invalid} >= {"id_email", "id_display_name"}


def test_failed_login_shows_form_errors_block(client, member):
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "r@example.com", "password": "wrong-password"}
    )
    assert_styled_page(response, has_form=True, status=400)
    assert 'class="form-errors" role="alert"' in response.content.decode()


def test_email_page_renders_site_fields_for_change_form(client, member):
    html = client.get(reverse("account_email")).content.decode()
    # ACCOUNT_CHANGE_EMAIL: allauth builds these fields with the "field" element.
    assert '<label for="current_email">' in html
    assert '<label for="id_email">' in html
    assert 'id="id_email" name="email"' in html


def test_allauth_pages_render_in_chinese(client):
    response = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = assert_styled_page(response, has_form=True)
    assert '<html lang="zh-hans">' in response.content.decode()
    assert page.label_for >= {"id_login", "id_password"}
