"""The page-HTML format: the old site's own article page, comments in obfuscated-class markup.

Layout: an optional ``<audio …></audio>`` first line, the article HTML with exactly one
``<!-- [[[read_end]]] -->`` marker (the end of the free preview, NOT of the article: the
article goes on after it), then — only when there are comments — ``<style>…</style><ul>``
with one ``<li>`` per comment. Without comments there is no ``<style>`` and everything after
the marker (a trailing ``</ul>`` included) is article.
Only the comment block goes through the HTML parser (selectolax/lexbor), once per page.
"""

import datetime
import html
import re

from selectolax.lexbor import LexborHTMLParser

from .model import LegacyComment, LegacyFormatError, LegacyReply
from .normalize import author_from_opening, clean_attribute, clean_markup, line_of, normalize_text

READ_END = "<!-- [[[read_end]]] -->"
_AUDIO = re.compile(r"\s*<audio\b([^>]*)>.*?</audio>[ \t]*\n?", re.S | re.I)
_SRC_ATTR = re.compile(r"""\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_COMMENT_BLOCK = re.compile(r"<style>.*?</style>\s*(?=<ul>)", re.S)
_BR = re.compile(r"<br\s*/?>", re.I)
_WRAPPER = re.compile(r"<div\s+class=\"_2sjJGcOH_0\"")
_REPLY_PREFIX = re.compile(r"\s*(作者|编辑)回复\s*[:：]\s*")
_REPLY_KINDS = {"作者": "author", "编辑": "editor"}
_TAG = re.compile(r"<[^>]*>")
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
COMMENT_MARKUP = "_2sjJGcOH_0"


def looks_like_page(text: str) -> bool:
    return READ_END in text


def parse_page_text(text: str, *, source: str) -> dict:
    """Fields of a LegacyChapter (except title/column/position/source) from page HTML."""
    count = text.count(READ_END)
    if count != 1:
        second = text.find(READ_END, text.find(READ_END) + 1)
        raise LegacyFormatError(
            f"expected exactly one {READ_END} marker, found {count}",
            source=source,
            line=line_of(text, second) if second >= 0 else None,
        )
    marker = text.index(READ_END)
    head, tail = text[:marker], text[marker + len(READ_END) :]
    audio_url = ""
    audio = _AUDIO.match(head)
    if audio:
        src = _SRC_ATTR.search(audio.group(1))
        audio_url = html.unescape(next(g for g in src.groups() if g is not None)) if src else ""
        head = head[audio.end() :]
    block = _find_comment_block(tail)
    if block is None:
        if COMMENT_MARKUP in tail and f'class="{COMMENT_MARKUP}"' in tail:
            raise LegacyFormatError(
                "comment markup without its <style>…</style><ul> block",
                source=source,
                line=line_of(text, marker + len(READ_END) + tail.index(COMMENT_MARKUP)),
            )
        article_tail, comments = tail, ()
    else:
        article_tail = tail[: block.start()]
        offset = marker + len(READ_END) + block.end()  # where the <ul> starts in `text`
        comments = _parse_comments(text, offset, source)
    preview = clean_markup(head)
    return {
        "format": "page",
        "article_markdown": "",
        "article_html": clean_markup(head + article_tail),
        "article_preview_html": preview,
        "audio_url": clean_attribute(audio_url),
        "comments": comments,
        "declared_count": None,
        "author_name": author_from_opening(_first_text_line(preview)),
    }


def _find_comment_block(tail: str) -> re.Match | None:
    """The last ``<style>…</style>`` directly followed by ``<ul>``: the comment section."""
    start = tail.rfind("<style>")
    for _ in range(10):  # bounded: a page has one such block, at the end
        if start < 0:
            break
        match = _COMMENT_BLOCK.match(tail, start)
        if match:
            return match
        start = tail.rfind("<style>", 0, start)
    return None


def _first_text_line(article_html: str) -> str:
    text = html.unescape(_TAG.sub("\n", article_html[:4000]))
    return next((line for line in text.split("\n") if line.strip()), "")


def _parse_comments(text: str, offset: int, source: str) -> tuple:
    block = text[offset:]
    starts = [m.start() for m in _WRAPPER.finditer(block)]

    def line(index: int) -> int:
        return (
            line_of(text, offset + starts[index]) if index < len(starts) else line_of(text, offset)
        )

    # <br> becomes a real newline before parsing, so DOM text keeps the line breaks; literal
    # "<br>" typed by a reader is escaped (&lt;br&gt;) and is not touched.
    tree = LexborHTMLParser(_BR.sub("\n", block))
    wrappers = tree.css(f"div.{COMMENT_MARKUP}")
    if len(wrappers) != len(starts):
        raise LegacyFormatError(
            f"found {len(starts)} comment wrappers in the markup but {len(wrappers)} in the DOM",
            source=source,
            line=line_of(text, offset),
        )
    items = tree.css("ul > li")
    if len(items) != len(wrappers):
        raise LegacyFormatError(
            f"comment list has {len(items)} <li> items but {len(wrappers)} comments",
            source=source,
            line=line_of(text, offset),
        )
    comments = []
    for index, wrapper in enumerate(wrappers):

        def part(selector: str, what: str, index: int = index, wrapper=wrapper):
            node = wrapper.css_first(selector)
            if node is None:
                raise LegacyFormatError(
                    f"comment #{index + 1} has no {what}", source=source, line=line(index)
                )
            return node

        avatar = wrapper.css_first("img._3FLYR4bF_0")
        name = part("div._2zFoi7sd_0 > span", "name (._2zFoi7sd_0 > span)")
        body = part("div._2_QraFYR_0", "text (._2_QraFYR_0)")
        when = part("div._3Hkula0k_0", "time (._3Hkula0k_0)").text(deep=True).strip()
        try:
            created = datetime.datetime(*map(int, _TIME.fullmatch(when).groups()))
        except (AttributeError, ValueError):
            raise LegacyFormatError(
                f"comment #{index + 1}: invalid time {when!r} (expected YYYY-MM-DD HH:MM:SS)",
                source=source,
                line=line(index),
            ) from None
        replies = []
        for node in wrapper.css("p._3KxQPN3V_0"):
            raw = node.text(deep=True)
            prefix = _REPLY_PREFIX.match(raw)
            if prefix is None:
                raise LegacyFormatError(
                    f"comment #{index + 1}: reply without 作者回复/编辑回复 prefix: {raw[:30]!r}",
                    source=source,
                    line=line(index),
                )
            replies.append(
                LegacyReply(
                    text=normalize_text(raw[prefix.end() :], decode_entities=False),
                    kind=_REPLY_KINDS[prefix.group(1)],
                )
            )
        comments.append(
            LegacyComment(
                name=normalize_text(name.text(deep=True), decode_entities=False),
                avatar_url=clean_attribute((avatar.attributes.get("src") or "") if avatar else ""),
                text=normalize_text(body.text(deep=True), decode_entities=False),
                created=created,
                likes=None,
                reply_count=None,
                replies=tuple(replies),
                position=index,
            )
        )
    return tuple(comments)
