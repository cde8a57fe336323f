"""Classic XSS payloads in comments and in a display name never run in a real browser.

Three independent signals: payloads set `window.__xss` (or open a dialog), the `watch` fixture
fails the test on any dialog or Content-Security-Policy violation (an inline handler that got
through the sanitizer would be blocked by the CSP and reported), and the DOM of the comments
is checked for anything executable that survived.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from forum import services
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SET = "window.__xss=1"
PAYLOADS = [
    f"<script>{SET}</script>",
    f'<img src=x onerror="{SET}">',
    "<img src=x onerror=alert(document.domain)>",
    f'<svg onload="{SET}"><circle r=1></svg>',
    f"[a markdown link]({SET.replace('window.', 'javascript:window.')})",
    f"[an encoded link](&#106;avascript:{SET})",
    f"[mixed case](JaVaScRiPt:{SET})",
    f"<javascript:{SET}>",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    f'<a href="javascript:{SET}">an HTML link</a>',
    "[data URL](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9MTwvc2NyaXB0Pg==)",
    f'[title](/ "x\\" onmouseover=\\"{SET}")',
    f"</textarea><img src=x onerror={SET}>",
    f'<details open ontoggle="{SET}">toggle</details>',
    f'<a hx-get="/" hx-trigger="load" hx-on:htmx:after-request="{SET}">htmx</a>',
    f"<!--act:1:1:0:1--><!--like:1:1--><p onclick={SET}>marker forgery</p>",
    f"`<img src=x onerror={SET}>` and\n```html\n<script>{SET}</script>\n```",
]
# Not a valid display name (the form refuses it); set on the model, as an import could.
EVIL_NAME = '"><svg/onload=__xss=1>'  # <= 30 characters, the column's length
EVIL_AVATAR = f'https://evil.example/a.png" onerror="{SET}'


@pytest.fixture
def evil_user(db):
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(display_name=EVIL_NAME, avatar_url=EVIL_AVATAR)
    user.refresh_from_db()
    return user


@pytest.fixture
def poisoned(article, evil_user, other_reader):
    """Every payload as a comment by the evil user, and a thread deep enough for "replying to
    @<evil name>" (shown from depth 5)."""
    comments = [
        services.post_comment(article=article, author=evil_user, body=body) for body in PAYLOADS
    ]
    parent = comments[0]
    for depth in range(1, 6):
        author = evil_user if depth == 4 else other_reader
        parent = services.post_comment(
            article=article, author=author, body=f"depth {depth}", parent=parent
        )
    return comments


# Where user-controlled text (comment HTML, names) is shown; the rest is our own markup.
WHERE_USER_TEXT_SHOWS = (
    ".comment-head, .comment-body, .comment-preview, blockquote, .reply-to, .user-chip"
)
DANGEROUS_MARKUP = """(where) => {
    const tags = ["SCRIPT", "IFRAME", "SVG", "OBJECT", "EMBED", "DETAILS", "FORM", "STYLE"];
    const found = [];
    for (const el of document.querySelectorAll(where)) {
        for (const node of el.querySelectorAll("*")) {
            if (tags.includes(node.tagName.toUpperCase())) found.push(node.outerHTML);
            for (const attr of node.attributes) {
                const name = attr.name.toLowerCase();
                const value = attr.value.trim().toLowerCase();
                const risky =
                    name.startsWith("on") || name.startsWith("hx-")
                    || name.startsWith("data-hx") || name === "srcdoc"
                    || ((name === "href" || name === "src")
                        && /^(javascript|data|vbscript):/.test(value));
                if (risky) found.push(`${node.tagName} ${name}=${attr.value}`);
            }
        }
    }
    return found;
}"""


def _assert_clean(page):
    assert page.evaluate("() => typeof window.__xss") == "undefined", f"XSS ran on {page.url}"
    dangerous = page.evaluate(DANGEROUS_MARKUP, WHERE_USER_TEXT_SHOWS)
    assert not dangerous, f"executable markup survived on {page.url}: {dangerous}"


def _click_same_host_links(page, url, live_server):
    """Click every link inside a comment body that stays on this host; come back each time."""
    links = page.locator(".comment-body a")
    hrefs = [links.nth(i).evaluate("a => a.href") for i in range(links.count())]
    for i, href in enumerate(hrefs):
        if href.startswith(("http://", "https://")) and not href.startswith(live_server.url):
            continue  # leaves the host (and the route guard would abort it anyway)
        if page.url != url:
            page.goto(url)
        link = page.locator(".comment-body a").nth(i)
        link.hover()
        link.click()
        page.wait_for_timeout(50)
        _assert_clean(page)


def test_payloads_in_comments_and_names_never_run(
    page, live_server, article, evil_user, poisoned, log_in, watch
):
    log_in(page, evil_user)  # the evil name is in the header too, and its own edit links show
    url = live_server.url + article.get_absolute_url()
    page.goto(url)
    expect(page.locator("ol#threads > li.thread")).to_have_count(len(PAYLOADS))
    # Names and payloads are shown as text, exactly as typed.
    expect(page.get_by_test_id("header-user")).to_contain_text(EVIL_NAME)
    expect(page.locator(".reply-to").first).to_contain_text("@" + EVIL_NAME)
    expect(page.locator("#threads")).to_contain_text("<script>window.__xss=1</script>")
    # The evil avatar URL stayed inside the src attribute and was kept off the network.
    expect(page.locator(".comment-author img.avatar").first).to_have_attribute("src", EVIL_AVATAR)
    page.wait_for_timeout(200)  # let the page's own requests (and any payload) run
    _assert_clean(page)
    assert any(url.startswith("https://evil.example/") for url in watch.blocked)

    _click_same_host_links(page, url, live_server)
    page.goto(url)
    for comment in page.locator(".comment-body").all():
        comment.hover()
    _assert_clean(page)


def test_payloads_swapped_in_by_htmx_never_run(
    page, live_server, article, evil_user, poisoned, log_in
):
    """Preview, a new comment, the edit form and a reply come back as htmx fragments
    (htmx runs <script> tags in fragments it swaps in)."""
    log_in(page, evil_user)
    page.goto(live_server.url + article.get_absolute_url())
    form = page.locator("#comment-form")
    everything = "\n\n".join(PAYLOADS)
    form.locator("textarea[name=body]").fill(everything)
    form.get_by_role("button", name="Preview").click()
    expect(page.locator("#comment-preview p").first).to_be_visible()
    page.wait_for_timeout(100)
    _assert_clean(page)

    page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    expect(page.locator("ol#threads > li.thread")).to_have_count(len(PAYLOADS) + 1)
    page.wait_for_timeout(100)
    _assert_clean(page)

    textarea_breaker = poisoned[PAYLOADS.index(f"</textarea><img src=x onerror={SET}>")]
    page.locator(f"#c-{textarea_breaker.pk}").get_by_role("link", name="Edit").click()
    textarea = page.locator(f"form#c-{textarea_breaker.pk} textarea[name=body]")
    expect(textarea).to_have_value(textarea_breaker.body_md)
    _assert_clean(page)

    target = poisoned[1]
    page.locator(f"#c-{target.pk}").get_by_role("link", name="Reply").click()
    slot = page.locator(f"#reply-{target.pk}")
    slot.locator("textarea[name=body]").fill(PAYLOADS[0] + "\n\n" + PAYLOADS[1])
    slot.get_by_role("button", name="Post reply").click()
    expect(page.locator(f"#new-replies-{target.pk} article.comment")).to_contain_text("<script>")
    page.wait_for_timeout(100)
    _assert_clean(page)


def test_payloads_on_other_pages_never_run(page, live_server, article, evil_user, poisoned, log_in):
    """The pages that quote a comment or show the name: reply, delete, profile."""
    log_in(page, evil_user)
    comment = poisoned[1]
    for path in (f"/c/{comment.pk}/reply/", f"/c/{comment.pk}/delete/", f"/u/{evil_user.pk}/"):
        page.goto(live_server.url + path)
        expect(page.locator("main")).to_be_visible()
        page.wait_for_timeout(50)
        _assert_clean(page)
    expect(page.locator("main")).to_contain_text(EVIL_NAME)
