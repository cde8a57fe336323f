"""Markdown → HTML → sanitized HTML. Every piece of user or imported HTML goes through here.

Two Markdown profiles: articles (headings, lists, tables, images, code blocks) written by column
authors, and comments (a small subset: paragraphs, line breaks, inline code, code blocks, links,
quotes, emphasis) written by readers. Whatever the Markdown renderer produces, nh3 has the last
word: only the tags and attributes listed here survive, and links get rel="nofollow ugc noopener".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import nh3
from django.utils.html import escape, linebreaks
from django.utils.text import Truncator
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from selectolax.lexbor import LexborHTMLParser

_LINK_REL = "nofollow ugc noopener"
_URL_SCHEMES = {"http", "https", "mailto"}

_COMMENT_TAGS = {"p", "br", "code", "pre", "a", "blockquote", "em", "strong", "del"}
_ARTICLE_TAGS = _COMMENT_TAGS | {
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "img", "hr", "table", "thead",
    "tbody", "tr", "th", "td", "sup", "sub", "span", "figure", "figcaption", "div",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
_LANGUAGE_CLASS = re.compile(r"^language-[\w+#.-]{1,40}$")


def _keep_language_class(tag: str, attr: str, value: str) -> str | None:
    # Code blocks keep "language-xxx" (for highlighting); every other class is dropped.
    if attr == "class":
        if tag == "code":
            return value if _LANGUAGE_CLASS.match(value) else None
        return value if tag == "a" and value == "mention" else None
    return value


@lru_cache(maxsize=1)
def _article_md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


@lru_cache(maxsize=1)
def _comment_md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True})
    md.disable(
        ["heading", "lheading", "image", "table", "list", "hr", "html_block", "html_inline"],
        ignoreInvalid=True,
    )
    md.enable("strikethrough")
    md.core.ruler.push("mentions", _link_mentions)
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


# "@name" where name is a display name (letters of any script, digits, _ - . ·).
MENTION = re.compile(r"(?<![\w@/])@([\w.\-·]{2,30})")


# One comment links (and notifies) at most this many people; further @names stay plain text.
# A comment naming 150 people once sent 150 emails.
MAX_MENTIONS = 10


def render_legacy_text(text: str) -> str:
    """Imported comment text is plain text: shown as the reader wrote it, never as Markdown.

    Escaping every character of it is the whole treatment: the result holds no markup but the
    <p> and <br> that linebreaks adds (there is no HTML in it to sanitize).
    """
    return linebreaks(escape(text))


def find_mentions(source: str) -> list[str]:
    """The first MAX_MENTIONS distinct display names the text mentions, in order (before
    knowing whether they exist); names differing only in case count once."""
    names: dict[str, str] = {}
    for found in MENTION.findall(source):
        name = found.rstrip(".-")
        names.setdefault(name.lower(), name)
        if len(names) == MAX_MENTIONS:
            break
    return list(names.values())


def _link_mentions(state: StateCore) -> None:
    resolve: Callable[[str], str | None] | None = state.env.get("resolve_mention")
    if resolve is None:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
            elif token.type == "link_close":
                in_link -= 1
            if token.type != "text" or in_link or "@" not in token.content:
                children.append(token)
                continue
            pos = 0
            for match in MENTION.finditer(token.content):
                name = match.group(1).rstrip(".-")
                url = resolve(name)
                if url is None:
                    continue
                start, end = match.start(), match.start() + 1 + len(name)
                if start > pos:
                    children.append(_text(token.content[pos:start]))
                link = Token("link_open", "a", 1)
                link.attrs = {"href": url, "class": "mention"}
                children += [link, _text("@" + name), Token("link_close", "a", -1)]
                pos = end
            if pos < len(token.content):
                children.append(_text(token.content[pos:]))
        block.children = children


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def render_comment_markdown(
    source: str, *, resolve_mention: Callable[[str], str | None] | None = None
) -> str:
    """Render a comment; `resolve_mention(name)` gives a profile URL for "@name" or None."""
    html = _comment_md().render(source, {"resolve_mention": resolve_mention})
    return sanitize_html(html, tags=_COMMENT_TAGS)


def plain_excerpt(html: str, limit: int) -> str:
    """The words of rendered (sanitized) HTML as one line of plain text, at most `limit` chars.

    For notification lists and emails: what a reader sees on the page, not its Markdown source
    (no `**`, fences or backticks), whitespace collapsed, cut on a word boundary with "…".
    The result is plain text: templates escape it like any other string.
    """
    if not html:
        return ""
    # Blocks end in a space, inline tags don't ("**Not quite**:" reads "Not quite:").
    root = LexborHTMLParser(_BLOCK_END.sub(r" \g<0>", html)).body
    text = " ".join((root.text(separator="") if root is not None else "").split())
    # Truncator counts characters one by one (combining marks don't count); a text no longer
    # than the limit in code points is within it either way.
    return text if len(text) <= limit else Truncator(text).chars(limit)


_BLOCK_END = re.compile(
    r"</(?:p|pre|blockquote|li|h[1-6]|td|th|tr|figcaption|div)>|<br\s*/?>|<hr\s*/?>", re.I
)
