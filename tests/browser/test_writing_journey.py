"""Writing comments: refused posts keep the page, the length counter, Cancel with a draft.

The refused-post journeys are the ones that once wiped the whole page under `make run` (DEBUG
on): scripts/test.sh runs this folder in that configuration too, and these tests check that the
site's header, the article and the form are all still there after every 400.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from forum import services
from forum.models import Comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reader_page(page, log_in, reader):
    log_in(page, reader)
    return page


@pytest.fixture
def theirs(article, other_reader):
    return services.post_comment(article=article, author=other_reader, body="Their comment")


@pytest.fixture
def mine(article, reader):
    return services.post_comment(article=article, author=reader, body="My first version")


def _open(page, live_server, article):
    page.goto(live_server.url + article.get_absolute_url())
    expect(page.locator("#article-title")).to_have_text(article.title)
    page.evaluate("() => { window.__noReload = 'still here'; }")


def _assert_page_intact(page, article):
    """The 400 was swapped in place: same document, header, article and styles still there."""
    assert page.evaluate("() => window.__noReload") == "still here", "the page was reloaded"
    expect(page.locator("header.site-header")).to_be_visible()
    expect(page.locator("#article-title")).to_have_text(article.title)
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)"), "the stylesheet is gone"


def _post(page, form, button, status=400):
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.get_by_role("button", name=button).click()
    assert answer.value.status == status


def test_refused_root_comments_keep_the_page(reader_page, live_server, article, mine):
    page = reader_page
    _open(page, live_server, article)
    form = page.locator("#comment-form")

    form.locator("textarea[name=body]").fill("   ")
    _post(page, form, "Post comment")
    expect(page.locator("#comment-form .error")).to_have_text(
        "Write something first: the comment is empty."
    )
    _assert_page_intact(page, article)

    # The same text again, right after posting it.
    page.locator("#comment-form textarea[name=body]").fill("My first version")
    _post(page, page.locator("#comment-form"), "Post comment")
    expect(page.locator("#comment-form .error")).to_contain_text("You just posted this")
    _assert_page_intact(page, article)


def test_an_empty_reply_and_an_emptied_edit_keep_the_page(
    reader_page, live_server, article, theirs, mine
):
    page = reader_page
    _open(page, live_server, article)

    page.locator(f"#c-{theirs.pk}").get_by_role("link", name="Reply").click()
    reply = page.locator(f"#reply-{theirs.pk} form.reply-form")
    reply.locator("textarea[name=body]").fill("  ")
    _post(page, reply, "Post reply")
    expect(page.locator(f"#reply-{theirs.pk} .error")).to_contain_text("the comment is empty")
    _assert_page_intact(page, article)

    page.locator(f"#c-{mine.pk}").get_by_role("link", name="Edit").click()
    edit = page.locator(f"form#c-{mine.pk}")
    edit.locator("textarea[name=body]").fill(" ")
    _post(page, edit, "Save")
    expect(page.locator(f"form#c-{mine.pk} .error")).to_contain_text("the comment is empty")
    _assert_page_intact(page, article)
    assert Comment.objects.get(pk=mine.pk).body_md == "My first version"


def test_the_counter_warns_near_and_over_the_limit_and_nothing_is_cut(
    reader_page, live_server, article
):
    page = reader_page
    _open(page, live_server, article)
    box = page.locator("#comment-form textarea[name=body]")
    counter = page.locator("#comment-form .char-count")

    box.fill("short")
    expect(counter).to_be_hidden()
    box.fill("a" * 8_500)
    expect(counter).to_be_visible()
    expect(counter).to_have_text("8,500 of 10,000 characters")
    expect(counter).not_to_have_class(re.compile("is-over"))

    pasted = "b" * 20_000
    box.fill(pasted)
    assert len(box.input_value()) == 20_000, "the browser cut the paste"
    expect(counter).to_have_text(
        "Too long: 20,000 of 10,000 characters. Shorten it before posting."
    )
    expect(counter).to_have_class(re.compile("is-over"))

    _post(page, page.locator("#comment-form"), "Post comment")
    expect(page.locator("#comment-form .error")).to_have_text(
        "A comment can be at most 10000 characters (it has 20000)."
    )
    # The refused form comes back with the text and its counter still saying why.
    expect(page.locator("#comment-form textarea[name=body]")).to_have_value(pasted)
    expect(page.locator("#comment-form .char-count")).to_be_visible()
    _assert_page_intact(page, article)
    assert Comment.objects.count() == 0


def test_cancel_with_a_draft_asks_first_and_closes_in_place(
    reader_page, live_server, article, theirs
):
    page = reader_page
    _open(page, live_server, article)
    slot = page.locator(f"#reply-{theirs.pk}")

    # Nothing typed: Cancel closes at once.
    page.locator(f"#c-{theirs.pk}").get_by_role("link", name="Reply").click()
    expect(slot.locator("form.reply-form")).to_be_visible()
    slot.get_by_role("link", name="Cancel").click()
    expect(slot.locator("form.reply-form")).to_have_count(0)

    # A draft: Cancel asks; "Keep writing" keeps it.
    page.locator(f"#c-{theirs.pk}").get_by_role("link", name="Reply").click()
    slot.locator("textarea[name=body]").fill("A reply worth keeping")
    slot.get_by_role("link", name="Cancel").click()
    ask = slot.locator(".discard-confirm")
    expect(ask).to_be_visible()
    expect(ask).to_contain_text("Discard your draft?")
    ask.get_by_role("button", name="Keep writing").click()
    expect(ask).to_be_hidden()
    expect(slot.locator("textarea[name=body]")).to_have_value("A reply worth keeping")

    # "Discard" closes the box, in place.
    slot.get_by_role("link", name="Cancel").click()
    slot.locator(".discard-confirm").get_by_role("button", name="Discard").click()
    expect(slot.locator("form.reply-form")).to_have_count(0)
    assert page.evaluate("() => window.__noReload") == "still here"
    assert Comment.objects.count() == 1


def test_cancel_on_an_edit_with_changes_puts_the_comment_back_unchanged(
    reader_page, live_server, article, mine
):
    page = reader_page
    _open(page, live_server, article)

    page.locator(f"#c-{mine.pk}").get_by_role("link", name="Edit").click()
    edit = page.locator(f"form#c-{mine.pk}")
    edit.locator("textarea[name=body]").fill("A second thought")
    edit.get_by_role("link", name="Cancel").click()
    edit.locator(".discard-confirm").get_by_role("button", name="Discard").click()

    shown = page.locator(f"article.comment#c-{mine.pk}")
    expect(shown.locator(".comment-body")).to_have_text("My first version")
    assert page.evaluate("() => window.__noReload") == "still here"
    assert Comment.objects.get(pk=mine.pk).body_md == "My first version"


def test_preview_without_javascript_carries_the_form(
    new_page, log_in, live_server, article, reader
):
    page = new_page(java_script_enabled=False)
    log_in(page, reader)
    page.goto(live_server.url + article.get_absolute_url())

    page.locator("#comment-form textarea[name=body]").fill("Is *this* right?")
    page.locator("#comment-form").get_by_role("button", name="Preview").click()
    expect(page.locator("main .comment-preview em")).to_have_text("this")
    form = page.locator("main form.comment-form")
    expect(form.locator("textarea[name=body]")).to_have_value("Is *this* right?")

    form.locator("textarea[name=body]").fill("Is *this* right? Yes.")
    form.get_by_role("button", name="Post comment").click()
    expect(page.locator(".comment-body").last).to_contain_text("Is this right? Yes.")
    assert Comment.objects.get().body_md == "Is *this* right? Yes."
