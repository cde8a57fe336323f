"""Injection: classic XSS payloads, posted as comments and worn as (legacy) display names, must
come out inert on every page that shows them.

"Inert" is checked on the parsed HTML, not on substrings: no `on*` attribute anywhere, no script
but our own (from /static/, which the CSP's 'self' allows; no nonce, so a cached page stays
valid), no javascript:/vbscript:/data:text/html
URL in any URL attribute (after the normalisation a browser does: whitespace and control
characters removed, case folded), no active or foreign-content elements (iframe, object, embed,
svg, math, style, …), no htmx attributes in user content, and no personalisation marker
(`<!--like:…-->`, `<!--act:…-->`) left over or forged. The Content-Security-Policy header is the
second line of defence and is checked too.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from selectolax.lexbor import LexborHTMLParser

from accounts.models import User
from forum.forms import COMMENT_MAX_LENGTH
from forum.models import Comment
from tests.factories import CommentFactory, UserFactory
from tests.security.xss_corpus import PAYLOADS

pytestmark = pytest.mark.django_db

ARTICLE_PATH = "/columns/deep-k8s/why-pods/"
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver{ARTICLE_PATH}"}

URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
    "srcset", "ping", "cite", "longdesc", "dynsrc", "lowsrc", "manifest", "codebase", "srcdoc",
}  # fmt: skip
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
FORBIDDEN_TAGS = [
    "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "style", "base",
    "template", "noscript", "portal",
]  # fmt: skip
# What the comment sanitizer lets through (forum/rendering.py): tags and their attributes.
USER_TAGS = {
    "p": set(), "br": set(), "code": {"class"}, "pre": set(), "blockquote": set(), "em": set(),
    "strong": set(), "del": set(), "a": {"href", "title", "class", "rel"},
}  # fmt: skip
USER_CONTENT = ".comment-body, .quoted-comment, .comment-preview"


def _normalised_url(value: str) -> str:
    return re.sub(r"[\s\x00-\x1f\x7f-\x9f]+", "", value).lower()


def _descendants(node):
    for child in node.iter(include_text=False):
        yield child
        yield from _descendants(child)


def assert_inert(html: str, where: str, *, fragment: bool = False, admin: bool = False) -> None:
    """The HTML carries nothing a browser would run; `where` names the page in failures.
    `admin`: a Django admin page, with the admin's own icons and scripts."""
    assert "<!--like:" not in html, f"{where}: leftover like marker"
    assert "<!--act:" not in html, f"{where}: leftover action marker"
    tree = LexborHTMLParser(html)
    nodes = tree.css("*")
    for node in nodes:
        for name, value in node.attributes.items():
            lowered = name.lower()
            assert not lowered.startswith("on"), f"{where}: <{node.tag} {name}={value!r}>"
            assert not lowered.startswith(("hx-on", "data-hx-on")), f"{where}: <{node.tag} {name}>"
            if lowered in URL_ATTRIBUTES and value:
                url = _normalised_url(value)
                assert not url.startswith(BAD_SCHEMES), f"{where}: <{node.tag} {name}={value!r}>"

    # The site's own icons are inline SVG (the bell; in the admin, the theme toggle's icons and
    # their sprite); any other <svg> came from user text.
    def own_icon(node) -> bool:
        parent = node.parent
        if admin:
            toggle = parent is not None and parent.attributes.get("class") == "theme-toggle"
            return toggle or node.attributes.get("class") == "base-svgs"
        return parent is not None and parent.tag == "a" and parent.attributes.get("id") == "bell"

    for tag in FORBIDDEN_TAGS:
        found = [node for node in tree.css(tag) if not (tag == "svg" and own_icon(node))]
        assert found == [], f"{where}: <{tag}> element"
    assert tree.css("meta[http-equiv]") == [], f"{where}: <meta http-equiv>"
    for script in tree.css("script"):
        src = script.attributes.get("src") or ""
        assert src.startswith("/static/") or (admin and src == "/admin/jsi18n/"), (
            f"{where}: script {script.html}"
        )
        assert not script.text().strip(), f"{where}: inline script {script.html}"
    if not (fragment or admin):
        assert len(tree.css("script")) == 2, f"{where}: expected exactly our two scripts"
    for container in tree.css(USER_CONTENT):
        for node in _descendants(container):
            allowed = USER_TAGS.get(node.tag)
            assert allowed is not None, f"{where}: <{node.tag}> in user content"
            extra = set(node.attributes) - allowed
            assert not extra, f"{where}: <{node.tag}> with {extra} in user content"
            if node.tag == "a" and "class" in node.attributes:
                assert node.attributes["class"] == "mention"
            if node.tag == "code" and "class" in node.attributes:
                assert re.fullmatch(r"language-[\w+#.-]{1,40}", node.attributes["class"])
    # Every like control belongs to a visible comment or to the article (no forged buttons).
    comments = tree.css("article.comment:not(.is-tombstone)")
    like_controls = tree.css(".comment-actions .like-form, .comment-actions a.like")
    assert len(like_controls) == len(comments), f"{where}: forged like control"
    for form in tree.css("form"):
        action = form.attributes.get("action") or ""
        same_page = admin and action == ""  # the admin's forms post back to their page
        assert action.startswith("/") or same_page, f"{where}: form posting to {action!r}"


def assert_ok_and_inert(
    response, where: str, *, status: int = 200, fragment: bool = False, admin: bool = False
):
    assert response.status_code == status, f"{where}: status {response.status_code}"
    assert_inert(response.content.decode(), where, fragment=fragment, admin=admin)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def payload_id(payload: str) -> str:
    return re.sub(r"\s+", " ", payload)[:40]


# --- The check itself ------------------------------------------------------------------------

PAGE = (
    '<html><body><main>{}</main><script src="/static/js/app.js" nonce="n"></script>'
    '<script src="/static/x.js" nonce="n"></script></body></html>'
)


@pytest.mark.parametrize(
    "bad",
    [
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        '<script src="https://evil.example/x.js" nonce="n"></script>',
        '<a href=" JaVa&#x09;Script:alert(1)">x</a>',
        '<a href="data:text/html;base64,xx">x</a>',
        "<svg></svg>",
        "<iframe></iframe>",
        "<style></style>",
        "<math></math>",
        '<div class="comment-body"><img src=x></div>',
        '<div class="comment-body"><a href="/" hx-get="/c/1/delete/">x</a></div>',
        "<!--like:1:1-->",
        '<div hx-on:click="x"></div>',
    ],
)
@pytest.mark.parametrize("admin", [False, True], ids=["site", "admin"])
def test_the_inertness_check_catches_what_it_should(bad, admin):
    with pytest.raises(AssertionError):
        assert_inert(PAGE.format(bad), "self-test", admin=admin)


@pytest.mark.parametrize(
    "bad",
    [
        '<button class="theme-toggle"><svg></svg></button><p><svg></svg></p>',
        '<script src="/admin/jsi18n/x" nonce="n"></script>',
        '<form action="https://evil.example/"></form>',
    ],
)
def test_the_admin_allowances_are_exactly_the_admins_own(bad):
    with pytest.raises(AssertionError):
        assert_inert(PAGE.format(bad), "self-test", admin=True)


def test_the_inertness_check_accepts_a_clean_admin_page():
    own = (
        '<button class="theme-toggle"><svg class="theme-icon-when-auto"></svg></button>'
        '<form action=""></form><svg class="base-svgs"><symbol id="i"></symbol></svg>'
        '<script src="/admin/jsi18n/" nonce="n"></script>'
    )
    assert_inert(PAGE.format(own), "self-test", admin=True)


def test_the_inertness_check_accepts_a_clean_page():
    assert_inert(
        PAGE.format(
            '<div class="comment-body"><p><a href="/u/1/" class="mention">@a</a></p></div>'
        ),
        "self-test",
    )


# --- Payloads in comment bodies -------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS, ids=payload_id)
def test_payload_in_a_comment_is_inert_on_every_page_showing_it(
    payload, article, reader, other_reader, column_author
):
    author, replier, article_author = (
        logged_in(reader),
        logged_in(other_reader),
        logged_in(column_author),
    )
    create = reverse("forum:comment-create", args=[article.column.slug, article.slug])

    posted = author.post(create, {"body": payload})
    assert posted.status_code == 302
    comment = Comment.objects.get()
    assert comment.body_md == payload.strip()
    assert "<!--" not in comment.body_html

    # The same text twice in a row is refused as a duplicate; the second copy differs by a line.
    again = {"body": payload + "\n\n(again)"}
    assert_ok_and_inert(author.post(create, again, **HX), "htmx create", fragment=True)
    reply_url = reverse("forum:comment-reply", args=[comment.pk])
    assert_ok_and_inert(
        replier.post(reply_url, {"body": payload}, **HX), "htmx reply", fragment=True
    )
    replier.post(reply_url, {"body": payload + "\n\n(plain form)"})
    assert Comment.objects.count() == 4

    for who, client in [
        ("anonymous", Client()),
        ("author", author),
        ("article author", article_author),
    ]:
        assert_ok_and_inert(client.get(ARTICLE_PATH), f"article page as {who}")
    assert_ok_and_inert(Client().get(f"{ARTICLE_PATH}?c={comment.pk}"), "permalinked page")
    assert_ok_and_inert(Client().get(f"{ARTICLE_PATH}?sort=newest&author=0"), "newest page")
    assert_ok_and_inert(Client().get(reader.get_absolute_url()), "profile page")
    assert_ok_and_inert(replier.get(reply_url), "reply page")
    assert_ok_and_inert(replier.get(reply_url, **HX), "reply form", fragment=True)
    edit_url = reverse("forum:comment-edit", args=[comment.pk])
    assert_ok_and_inert(author.get(edit_url), "edit page")
    assert_ok_and_inert(author.get(edit_url, **HX), "edit form", fragment=True)
    assert_ok_and_inert(
        author.get(reverse("forum:comment-delete", args=[comment.pk])), "delete page"
    )
    preview = reverse("forum:comment-preview")
    chapter = {"column": article.column.slug, "article": article.slug}
    assert_ok_and_inert(author.post(preview, {"body": payload, **chapter}), "preview page")
    assert_ok_and_inert(author.post(preview, {"body": payload}, **HX), "preview", fragment=True)
    edited = author.post(edit_url, {"body": payload + "\n\n(edited)"}, **HX)
    assert_ok_and_inert(edited, "htmx edit", fragment=True)


@pytest.mark.parametrize("payload", PAYLOADS[:12], ids=payload_id)
def test_payload_in_a_rejected_comment_is_inert_in_the_error_page(payload, article, reader):
    create = reverse("forum:comment-create", args=[article.column.slug, article.slug])
    too_long = payload + " " + "x" * COMMENT_MAX_LENGTH

    plain = logged_in(reader).post(create, {"body": too_long})
    htmx = logged_in(reader).post(create, {"body": too_long}, **HX)

    assert_ok_and_inert(plain, "400 page", status=400)
    assert_ok_and_inert(htmx, "400 form", status=400, fragment=True)
    assert Comment.objects.count() == 0


def test_many_payloads_in_one_thread_are_inert_together(article, reader):
    for n, payload in enumerate(PAYLOADS):
        CommentFactory(article=article, author=reader if n % 2 else UserFactory(), body=payload)

    response = logged_in(reader).get(ARTICLE_PATH)

    assert_ok_and_inert(response, "article page with every payload")
    tree = LexborHTMLParser(response.text)
    assert len(tree.css("article.comment")) == 20  # one page of roots


# --- Payloads as display names ---------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS, ids=payload_id)
def test_payload_as_a_legacy_display_name_is_inert_wherever_the_name_shows(
    payload, article, other_reader, column_author
):
    # Imported legacy names bypass the validator: set the name directly on the row.
    person = UserFactory()
    User.objects.filter(pk=person.pk).update(display_name=payload[:30])
    person.refresh_from_db()
    client = logged_in(person)
    create = reverse("forum:comment-create", args=[article.column.slug, article.slug])

    assert client.post(create, {"body": f"Hello from @{person.display_name}"}).status_code == 302
    root = Comment.objects.get()
    # A chain deep enough that the last reply says "replying to @<name>".
    parent = root
    for depth in range(1, 6):
        parent = CommentFactory(parent=parent, author=other_reader if depth % 2 else person)
    assert parent.depth == 5 and parent.parent.author == person
    reply_url = reverse("forum:comment-reply", args=[root.pk])
    reply = logged_in(other_reader).post(reply_url, {"body": "hi"}, **HX)
    assert_ok_and_inert(reply, "htmx reply", fragment=True)
    assert_ok_and_inert(client.post(create, {"body": "again"}, **HX), "htmx create", fragment=True)

    for who, viewer in [
        ("anonymous", Client()),
        ("the person", client),
        ("article author", logged_in(column_author)),
    ]:
        response = viewer.get(ARTICLE_PATH)
        assert_ok_and_inert(response, f"article page as {who}")
        assert "replying to" in response.text
    assert_ok_and_inert(Client().get(f"{ARTICLE_PATH}?c={parent.pk}"), "permalinked page")
    assert_ok_and_inert(Client().get(person.get_absolute_url()), "profile page")
    assert_ok_and_inert(client.get(person.get_absolute_url()), "own profile page")
    assert_ok_and_inert(logged_in(other_reader).get(reply_url), "reply page")
    assert_ok_and_inert(logged_in(other_reader).get(reply_url, **HX), "reply form", fragment=True)
    assert_ok_and_inert(client.get(reverse("forum:comment-edit", args=[root.pk])), "edit page")
    assert_ok_and_inert(client.get("/"), "home page")


def test_a_legacy_name_is_shown_as_text_not_markup(article):
    person = UserFactory()
    User.objects.filter(pk=person.pk).update(display_name="<b>bold</b>&amp;")
    CommentFactory(article=article, author=person)

    response = Client().get(ARTICLE_PATH)

    name = LexborHTMLParser(response.text).css_first("article.comment .name")
    assert name.text() == "<b>bold</b>&amp;"
    assert name.css("b") == []


def test_a_script_payload_is_shown_to_readers_as_text(article, reader):
    CommentFactory(article=article, author=reader, body="<script>alert(1)</script>")

    response = Client().get(ARTICLE_PATH)

    body = LexborHTMLParser(response.text).css_first(".comment-body")
    assert body.text(strip=True) == "<script>alert(1)</script>"


def test_a_forged_marker_does_not_become_someone_elses_controls(article, reader, other_reader):
    victim = CommentFactory(article=article, author=other_reader, body="victim")
    forged = (
        f"<!--act:{victim.pk}:1:0:{reader.pk}--> <!--like:{victim.pk}:999-->\n\n"
        f'[x](https://example.com "<!--act:{victim.pk}:1:0:{reader.pk}-->")'
    )
    forger = CommentFactory(article=article, author=reader, body=forged)

    response = logged_in(reader).get(ARTICLE_PATH)

    assert_ok_and_inert(response, "article page with forged markers")
    tree = LexborHTMLParser(response.text)
    assert [n.text() for n in tree.css(".like-count")] == ["0", "0", "0"]  # article + 2 comments
    assert "<!--like:" in tree.css_first(f"#c-{forger.pk} .comment-body").text()  # as text
    assert f'href="/c/{victim.pk}/edit/"' not in response.text


# --- Payloads reflected from the URL --------------------------------------------------------

REFLECTED = [
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "<!--like:1:1-->",
]


@pytest.mark.parametrize("payload", REFLECTED, ids=payload_id)
@pytest.mark.parametrize(
    ("param", "status"),
    [("sort", 400), ("cursor", 400), ("c", 200), ("author", 200), ("utm_source", 200)],
)
def test_payloads_in_the_article_query_string_are_not_reflected_as_markup(
    client, article, reader, param, status, payload
):
    CommentFactory(article=article, author=reader)
    client.force_login(reader)

    response = client.get(ARTICLE_PATH, {param: payload})

    assert_ok_and_inert(response, f"?{param}=", status=status)


@pytest.mark.parametrize("payload", REFLECTED, ids=payload_id)
def test_payloads_in_next_and_404_urls_are_not_reflected_as_markup(client, article, payload):
    login = client.get("/accounts/login/", {"next": payload})
    missing = client.get(f"/columns/deep-k8s/{payload}/")

    assert_ok_and_inert(login, "login page")
    assert_ok_and_inert(missing, "404 page", status=404)


# --- Content-Security-Policy ---------------------------------------------------------------


def _csp_directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize(
    "path", [ARTICLE_PATH, "/", "/accounts/login/"], ids=["article", "home", "login"]
)
def test_pages_carry_a_strict_csp_and_no_unsafe_inline(client, article, path):
    response = client.get(path)

    assert response.status_code == 200
    header = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header
    directives = _csp_directives(response)
    # Our scripts are files of our own, which 'self' allows: no page needs a nonce, so Django
    # leaves it out of the policy, and the page is the same for every request (cacheable).
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    scripts = LexborHTMLParser(response.text).css("script")
    assert [s.attributes["src"] for s in scripts] == [
        "/static/django_htmx/htmx-2.min.js",
        "/static/js/app.js",
    ]
    assert all("nonce" not in s.attributes for s in scripts)


def test_an_admin_page_that_uses_the_nonce_gets_a_fresh_one_each_time(admin_client):
    # The import page's script carries {{ csp_nonce }}: its policy names that nonce.
    first = admin_client.get(reverse("admin:forum_importjob_add"))
    second = admin_client.get(reverse("admin:forum_importjob_add"))

    nonces = [
        [v for v in _csp_directives(r)["script-src"] if v.startswith("'nonce-")]
        for r in (first, second)
    ]
    assert len(nonces[0]) == len(nonces[1]) == 1
    assert nonces[0] != nonces[1]
    nonce = nonces[0][0].removeprefix("'nonce-").removesuffix("'")
    assert f'nonce="{nonce}"' in first.text


def test_htmx_fragments_are_covered_by_the_csp_too(reader_client, article):
    create = reverse("forum:comment-create", args=[article.column.slug, article.slug])

    response = reader_client.post(create, {"body": "hi"}, **HX)

    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
