"""Issue "discussion": a verified reader reads a chapter and takes part in its discussion.

htmx interactions are checked to happen without a full page load: a marker set on `window`
before the interaction must still be there after it (a navigation would have dropped it).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from forum import services
from forum.models import Comment, Like
from tests.browser.conftest import PHONE
from tests.factories import CommentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTICLE_BODY = "Pods **group containers** that share a network namespace."


@pytest.fixture
def chapter(article):
    """The article of tests/conftest.py, with a body worth reading."""
    article.body_md = ARTICLE_BODY
    article.body_html = (
        "<p>Pods <strong>group containers</strong> that share a network namespace.</p>"
    )
    article.save(update_fields=["body_md", "body_html"])
    return article


@pytest.fixture
def discussion(chapter, other_reader):
    """Three roots by another reader, the oldest first; the newest has one reply."""
    start = timezone.now() - timedelta(hours=3)
    roots = [
        services.post_comment(
            article=chapter,
            author=other_reader,
            body=f"Root comment {n}",
            created_at=start + timedelta(minutes=n),
        )
        for n in range(3)
    ]
    CommentFactory(parent=roots[2], author=other_reader, body="A first reply")
    return roots


@pytest.fixture
def reader_page(page, log_in, reader):
    log_in(page, reader)
    return page


def _open(page, live_server, article):
    page.goto(live_server.url + article.get_absolute_url())
    expect(page.locator("#article-title")).to_have_text(article.title)


def _mark_window(page):
    """Set a marker that only survives if the page is not reloaded."""
    page.evaluate("() => { window.__noReload = 'still here'; }")


def _assert_no_reload(page):
    assert page.evaluate("() => window.__noReload") == "still here", "the page was reloaded"


def test_reader_reads_previews_and_posts_a_comment_in_place(
    reader_page, live_server, chapter, discussion, reader
):
    page = reader_page
    _open(page, live_server, chapter)
    expect(page.locator(".article-body strong")).to_have_text("group containers")
    expect(page.locator(".article-body")).to_contain_text("share a network namespace")
    expect(page.locator("#discussion-title")).to_have_text("4 comments")
    expect(page.locator("ol#threads > li.thread")).to_have_count(3)
    _mark_window(page)

    form = page.locator("#comment-form")
    form.locator("textarea[name=body]").fill("I *really* like `kubectl explain`.")
    form.get_by_role("button", name="Preview").click()
    preview = page.locator("#comment-preview")
    expect(preview.locator("em")).to_have_text("really")
    expect(preview.locator("code")).to_have_text("kubectl explain")
    assert Comment.objects.filter(author=reader).count() == 0  # a preview posts nothing

    page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    first = page.locator("ol#threads > li.thread").first
    expect(first.locator(".comment-body em")).to_have_text("really")
    expect(first.locator(".comment-author .name")).to_have_text(reader.display_name)
    expect(page.locator("ol#threads > li.thread")).to_have_count(4)
    # The form came back empty, ready for the next comment, and the page never reloaded.
    expect(page.locator("#comment-form textarea[name=body]")).to_have_value("")
    expect(page.locator("#comment-preview")).to_be_empty()
    _assert_no_reload(page)
    comment = Comment.objects.get(author=reader)
    expect(first.locator("article.comment")).to_have_id(f"c-{comment.pk}")

    # It is really stored: after a reload it is still there.
    page.reload()
    expect(page.locator(f"#c-{comment.pk} .comment-body")).to_contain_text("I really like")


def test_preview_follows_typing(reader_page, live_server, chapter):
    page = reader_page
    _open(page, live_server, chapter)
    _mark_window(page)
    textarea = page.locator("#comment-form textarea[name=body]")
    textarea.press_sequentially("A **live** preview")
    expect(page.locator("#comment-preview strong")).to_have_text("live")
    textarea.press_sequentially(", with `code`")
    expect(page.locator("#comment-preview code")).to_have_text("code")
    _assert_no_reload(page)
    assert not Comment.objects.exists()


def test_invalid_comment_shows_the_error_in_place(reader_page, live_server, chapter):
    page = reader_page
    _open(page, live_server, chapter)
    _mark_window(page)
    # Whitespace passes the browser's `required` check; the server strips it and refuses.
    page.locator("#comment-form textarea[name=body]").fill("   ")
    with page.expect_response(re.compile(r"/comments/$")) as answer:
        page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    # The server does its part: a 400 with the form and the error message...
    assert answer.value.status == 400
    assert "the comment is empty" in answer.value.text()
    # ...which the reader should see next to the form, without a reload.
    expect(page.locator("#comment-form .error")).to_contain_text(
        "the comment is empty", timeout=1_000
    )
    expect(page.locator("#comment-form textarea[name=body]")).to_have_attribute(
        "aria-invalid", "true"
    )
    _assert_no_reload(page)


def test_first_comment_removes_the_no_comments_yet_note(reader_page, live_server, chapter):
    page = reader_page
    _open(page, live_server, chapter)
    expect(page.locator("#threads li.empty")).to_have_text("No comments yet. Be the first.")
    page.locator("#comment-form textarea[name=body]").fill("The very first comment")
    page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    expect(page.locator("ol#threads > li.thread")).to_have_count(1)
    expect(page.locator("#threads li.empty")).to_be_hidden(timeout=1_000)


def test_comment_count_heading_follows_a_comment_posted_in_place(
    reader_page, live_server, chapter, discussion
):
    page = reader_page
    _open(page, live_server, chapter)
    expect(page.locator("#discussion-title")).to_have_text("4 comments")
    page.locator("#comment-form textarea[name=body]").fill("One more")
    page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    expect(page.locator("ol#threads > li.thread")).to_have_count(4)
    expect(page.locator("#discussion-title")).to_have_text("5 comments", timeout=1_000)


def test_reply_form_opens_in_place_and_the_reply_appears(
    reader_page, live_server, chapter, discussion, reader
):
    page = reader_page
    parent = discussion[0]
    _open(page, live_server, chapter)
    _mark_window(page)

    page.locator(f"#c-{parent.pk}").get_by_role("link", name="Reply").click()
    slot = page.locator(f"#reply-{parent.pk}")
    textarea = slot.locator("form.reply-form textarea[name=body]")
    expect(textarea).to_be_visible()
    textarea.fill("Replying **in place**.")
    slot.get_by_role("button", name="Post reply").click()

    # The reply form closes and the reply shows right under the comment it answers.
    posted = page.locator(f"#new-replies-{parent.pk}")
    expect(posted.locator("article.comment .comment-body strong")).to_have_text("in place")
    reply = Comment.objects.get(author=reader)
    assert reply.parent_id == parent.pk
    expect(posted.locator("article.comment")).to_have_id(f"c-{reply.pk}")
    expect(posted.locator("article.comment .name")).to_have_text(reader.display_name)
    expect(slot.locator("form.reply-form")).to_have_count(0)
    _assert_no_reload(page)

    page.reload()
    expect(page.locator(f"#t-{parent.pk} ol.replies #c-{reply.pk}")).to_contain_text(
        "Replying in place."
    )


def test_a_second_reply_to_the_same_comment_keeps_the_first_on_screen(
    reader_page, live_server, chapter, discussion
):
    page = reader_page
    parent = discussion[0]
    _open(page, live_server, chapter)
    reply_link = page.locator(f"#c-{parent.pk} > footer").get_by_role("link", name="Reply")
    slot = page.locator(f"#reply-{parent.pk}")

    reply_link.click()
    slot.locator("textarea[name=body]").fill("First reply of mine")
    slot.get_by_role("button", name="Post reply").click()
    posted = page.locator(f"#new-replies-{parent.pk}")
    expect(posted.locator("article.comment")).to_contain_text("First reply of mine")

    reply_link.click()
    expect(slot.locator("form.reply-form textarea[name=body]")).to_be_visible()
    expect(page.get_by_text("First reply of mine")).to_be_visible(timeout=1_000)


def test_like_and_unlike_a_comment(reader_page, live_server, chapter, discussion, reader):
    page = reader_page
    comment = discussion[1]
    _open(page, live_server, chapter)
    _mark_window(page)
    like = page.locator(f"#c-{comment.pk} button.like")
    expect(like).to_have_attribute("aria-pressed", "false")
    expect(like.locator(".like-count")).to_have_text("0")

    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(like.locator(".like-count")).to_have_text("1")
    assert Like.objects.filter(user=reader, comment=comment).exists()

    like.click()
    expect(like).to_have_attribute("aria-pressed", "false")
    expect(like.locator(".like-count")).to_have_text("0")
    assert not Like.objects.filter(user=reader, comment=comment).exists()
    _assert_no_reload(page)

    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    page.reload()  # the cached thread shows the reader's own like after a reload too
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(like.locator(".like-count")).to_have_text("1")


def test_load_more_comments_brings_the_next_threads(
    reader_page, live_server, chapter, other_reader
):
    page = reader_page
    start = timezone.now() - timedelta(days=1)
    for n in range(23):
        services.post_comment(
            article=chapter,
            author=other_reader,
            body=f"Thread number {n}",
            created_at=start + timedelta(minutes=n),
        )
    _open(page, live_server, chapter)
    threads = page.locator("ol#threads > li.thread")
    expect(threads).to_have_count(20)
    _mark_window(page)

    page.locator("li.load-more a").click()
    expect(threads).to_have_count(23)
    expect(page.locator("li.load-more")).to_have_count(0)
    _assert_no_reload(page)
    shown = page.locator("ol#threads .comment-body").all_text_contents()
    assert sorted(text.strip() for text in shown) == sorted(f"Thread number {n}" for n in range(23))
    # The threads that came later are personalised like the first page: the reader can like.
    expect(threads.last.locator("button.like")).to_have_attribute("aria-pressed", "false")


def test_edit_own_comment_in_place(reader_page, live_server, chapter, discussion, reader):
    page = reader_page
    mine = CommentFactory(article=chapter, author=reader, body="Fisrt version")
    _open(page, live_server, chapter)
    # Only one's own comments can be edited.
    expect(page.locator(f"#c-{discussion[0].pk}").get_by_role("link", name="Edit")).to_have_count(0)
    _mark_window(page)

    page.locator(f"#c-{mine.pk}").get_by_role("link", name="Edit").click()
    textarea = page.locator(f"form#c-{mine.pk} textarea[name=body]")
    expect(textarea).to_have_value("Fisrt version")
    textarea.fill("First version, **fixed**")
    page.locator(f"form#c-{mine.pk}").get_by_role("button", name="Save").click()

    edited = page.locator(f"article.comment#c-{mine.pk}")
    expect(edited.locator(".comment-body")).to_have_text("First version, fixed")
    expect(edited.locator(".comment-body strong")).to_have_text("fixed")
    expect(edited.locator(".edited")).to_have_text("edited")
    _assert_no_reload(page)
    page.reload()
    expect(page.locator(f"#c-{mine.pk} .edited")).to_have_text("edited")


def test_delete_own_comment_through_the_confirm_page(
    reader_page, live_server, chapter, discussion, reader
):
    page = reader_page
    mine = CommentFactory(article=chapter, author=reader, body="Regrettable remark")
    _open(page, live_server, chapter)
    expect(page.locator(f"#c-{mine.pk}")).to_be_visible()

    page.locator(f"#c-{mine.pk}").get_by_role("link", name="Delete").click()
    expect(page).to_have_url(re.compile(rf"/c/{mine.pk}/delete/$"))
    expect(page.locator("h1")).to_have_text("Delete this comment?")
    expect(page.locator("blockquote")).to_contain_text("Regrettable remark")
    page.locator("main").get_by_role("button", name="Delete").click()

    expect(page).to_have_url(re.compile(re.escape(chapter.get_absolute_url()) + "#discussion$"))
    expect(page.locator("ol#threads > li.thread")).to_have_count(3)
    expect(page.locator(f"#c-{mine.pk}")).to_have_count(0)
    expect(page.locator("#threads")).not_to_contain_text("Regrettable remark")
    expect(page.locator("#discussion-title")).to_have_text("4 comments")
    expect(page.locator(".messages")).to_have_text("Your comment was deleted.")


def test_author_replies_carry_the_badge(
    reader_page, live_server, chapter, discussion, column_author
):
    page = reader_page
    answer = CommentFactory(parent=discussion[0], author=column_author, body="Author here.")
    own_root = CommentFactory(article=chapter, author=column_author, body="Errata thread.")
    _open(page, live_server, chapter)
    expect(page.locator(f"#c-{answer.pk} .badge-author")).to_have_text("Author reply")
    expect(page.locator(f"#c-{own_root.pk} .badge-author")).to_have_text("Author")
    expect(page.locator(f"#t-{discussion[0].pk} .thread-note")).to_have_text("1 author reply")
    # Readers' comments have no badge.
    expect(page.locator(f"#c-{discussion[1].pk} .badge-author")).to_have_count(0)

    # The filter keeps only the threads where the author replied.
    page.get_by_role("link", name="With author replies").click()
    expect(page.locator("ol#threads > li.thread")).to_have_count(1)
    expect(page.locator("ol#threads > li.thread")).to_have_id(f"t-{discussion[0].pk}")


def test_without_javascript_posting_and_liking_work_with_plain_forms(
    new_page, log_in, live_server, chapter, discussion, reader
):
    page = new_page(java_script_enabled=False)
    log_in(page, reader)
    _open(page, live_server, chapter)

    page.locator("#comment-form textarea[name=body]").fill("Posted **without** JavaScript.")
    page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    comment = Comment.objects.get(author=reader)
    # The permalink redirect lands on the article, scrolled to the new comment.
    expect(page).to_have_url(re.compile(rf"\?c={comment.pk}#c-{comment.pk}$"))
    expect(page.locator(f"#c-{comment.pk} .comment-body strong")).to_have_text("without")

    target = discussion[0]
    like = page.locator(f"#c-{target.pk} button.like")
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()
    expect(page).to_have_url(re.compile(rf"#c-{target.pk}$"))
    like = page.locator(f"#c-{target.pk} button.like")
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(like.locator(".like-count")).to_have_text("1")
    assert Like.objects.filter(user=reader, comment=target).exists()

    # The preview button falls back to a page of its own.
    page.goto(live_server.url + chapter.get_absolute_url())
    page.locator("#comment-form textarea[name=body]").fill("Is *this* right?")
    page.locator("#comment-form").get_by_role("button", name="Preview").click()
    expect(page.locator("main .comment-preview em")).to_have_text("this")


def test_article_page_screenshots(
    reader_page,
    new_page,
    log_in,
    live_server,
    chapter,
    discussion,
    reader,
    column_author,
    artifacts,
):
    """The article with threads, a liked comment, an author reply and deep replies."""
    CommentFactory(parent=discussion[2], author=column_author, body="Thanks, **fixed** in v2.")
    deep = discussion[0]
    for n in range(6):
        deep = CommentFactory(
            parent=deep,
            author=reader if n % 2 else column_author,
            body=(
                f"Level {n + 1}: a longer answer that wraps on a phone, with `inline code` and "
                "a link to https://kubernetes.io/docs/concepts/workloads/pods/ for reference."
            ),
        )
    services.toggle_like(user=reader, comment=discussion[1])

    page = reader_page
    _open(page, live_server, chapter)
    page.screenshot(path=artifacts / "article-desktop.png", full_page=True)

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    log_in(phone, reader)
    _open(phone, live_server, chapter)
    widths = phone.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    phone.screenshot(path=artifacts / "article-phone.png", full_page=True)
    assert widths[0] <= widths[1], f"the article page scrolls sideways on a phone: {widths}"
