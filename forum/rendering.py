"""Markdown → HTML → sanitized HTML. Every piece of user or imported HTML goes through here.

Two Markdown profiles: articles (headings, lists, tables, images, code blocks) written by column
authors, and comments (a small subset: paragraphs, line breaks, inline code, code blocks, links,
quotes, emphasis) written by readers. Whatever the Markdown renderer produces, nh3 has the last
word: only the tags and attributes listed here survive, and links get rel="nofollow ugc noopener".
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_LINK_REL = "nofollow ugc noopener"
_URL_SCHEMES = {"http", "https", "mailto"}

_COMMENT_TAGS = {"p", "br", "code", "pre", "a", "blockquote", "em", "strong", "del"}
_ARTICLE_TAGS = _COMMENT_TAGS | {
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "img", "hr", "table", "thead",
    "tbody", "tr", "th", "td", "sup", "sub", "span", "figure", "figcaption", "div",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
_LANGUAGE_CLASS = re.compile(r"^language-[\w+#.-]{1,40}$")


def _keep_language_class(tag: str, attr: str, value: str) -> str | None:
    # Code blocks keep "language-xxx" (for highlighting); every other class is dropped.
    if tag == "code" and attr == "class":
        return value if _LANGUAGE_CLASS.match(value) else None
    return value


@lru_cache(maxsize=1)
def _article_md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


@lru_cache(maxsize=1)
def _comment_md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True})
    md.disable(["heading", "lheading", "image", "table", "list", "hr", "html_block", "html_inline"], ignoreInvalid=True)
    md.enable("strikethrough")
    return md


def sanitize_html(html: str, *, tags: set[str] | None = None) -> str:
    """The one sanitizer: anything that reaches a page as HTML has passed through this."""
    return nh3.clean(
        html,
        tags=tags or _ARTICLE_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_keep_language_class,
        url_schemes=_URL_SCHEMES,
        link_rel=_LINK_REL,
        strip_comments=True,
    )


def render_article_markdown(source: str) -> str:
    return sanitize_html(_article_md().render(source), tags=_ARTICLE_TAGS)


def render_comment_markdown(source: str) -> str:
    return sanitize_html(_comment_md().render(source), tags=_COMMENT_TAGS)
