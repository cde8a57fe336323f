"""The export format: a Markdown article preview, then a comment list of fixed item syntax.

Items are read by an anchored regular-expression scanner, not a DOM: each item must start
exactly where the previous one ended, the comment text runs to ``</div>YYYY-MM-DD</li>`` that
is followed by the next item or by ``</ul>`` (so a text containing ``</div>`` cannot end an
item early), and the number of items must equal the declared 精选留言（N）.
"""

import datetime
import html
import re

from .model import LegacyComment, LegacyFormatError
from .normalize import (
    author_from_opening,
    clean_attribute,
    clean_markup,
    first_text_line,
    line_of,
    normalize_text,
)

HEADER_LINE = "<div><strong>精选留言（{count}）</strong></div><ul>"
_HEADER = re.compile(
    r"^<div><strong>精选留言[（(]([0-9]{1,9})[）)]</strong></div><ul>[ \t\r]*$", re.M
)
_HEADER_LOOSE = re.compile(r"^[ \t]*<div><strong>\s*精选留言", re.M)
_ITEM_START = '<li><img src="'
_ITEM = re.compile(
    r"\s*<li><img src=\"(?P<avatar>[^\"]*)\"[^>]*>"
    r"<span>(?P<name>(?:(?!</span>).)*)</span>[ \t]*"  # one candidate end: no backtracking
    r"👍[（(](?P<likes>-?[0-9]{1,18})[）)][ \t]*"
    r"💬[（(](?P<replies>-?[0-9]{1,18})[）)][ \t]*"
    r"<div>(?P<text>.*?)</div>[ \t]*(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[ \t]*</li>(?:<br/?>)?"
    r"(?=\s*(?:<li><img src=\"|</ul>))",
    re.S,
)


def looks_like_export(text: str) -> bool:
    return _HEADER_LOOSE.search(text) is not None


def parse_export_text(text: str, *, source: str) -> dict:
    """Fields of a LegacyChapter (except title/column/position/source) from export text."""
    headers = list(_HEADER.finditer(text))
    if not headers:
        loose = _HEADER_LOOSE.search(text)
        if loose:
            raise LegacyFormatError(
                "malformed comment section header"
                " (expected <div><strong>精选留言（N）</strong></div><ul>)",
                source=source,
                line=line_of(text, loose.start()),
            )
        if _ITEM_START in text and "👍" in text and "💬" in text:
            stray = text.index(_ITEM_START)
            raise LegacyFormatError(
                "comment items without a 精选留言（N） header",
                source=source,
                line=line_of(text, stray),
            )
        article, comments, declared = text, (), None
    else:
        header = headers[-1]  # the comment list ends the file, so the last header is the real one
        article = text[: header.start()]
        declared = int(header.group(1))
        comments = _parse_items(text, header, declared, source)
    article_markdown = clean_markup(article)
    return {
        "format": "export",
        "article_markdown": article_markdown,
        "article_html": "",
        "comments": comments,
        "declared_count": declared,
        "author_name": author_from_opening(first_text_line(article_markdown)),
    }


def _parse_items(text: str, header: re.Match, declared: int, source: str) -> tuple:
    comments = []
    pos = header.end()
    while True:
        item = _ITEM.match(text, pos)
        if item is None:
            break
        raw_text = item.group("text")
        if _ITEM_START in raw_text:  # the text swallowed the next item: this one is malformed
            raise LegacyFormatError(
                f"malformed comment item #{len(comments) + 1}",
                source=source,
                line=line_of(text, text.index("<li", item.start())),
            )
        try:
            created = datetime.date.fromisoformat(item.group("date"))
        except ValueError:
            raise LegacyFormatError(
                f"invalid date {item.group('date')!r} in comment #{len(comments) + 1}",
                source=source,
                line=line_of(text, item.start("date")),
            ) from None
        comments.append(
            LegacyComment(
                name=normalize_text(item.group("name")),
                avatar_url=clean_attribute(html.unescape(item.group("avatar"))),
                text=normalize_text(raw_text),
                created=created,
                likes=int(item.group("likes")),
                reply_count=int(item.group("replies")),
                position=len(comments),
            )
        )
        pos = item.end()
    rest = text[pos:]
    body = rest.lstrip()
    at = line_of(text, pos + len(rest) - len(body))
    if not body.startswith("</ul>"):
        if "</ul>" not in body:
            reason = "comment list not closed (missing </ul>)"
        elif body.startswith("<li"):
            reason = (
                f"malformed comment item #{len(comments) + 1} (expected "
                '<li><img src="…"><span>NAME</span> 👍（N） 💬（N）<div>TEXT</div>YYYY-MM-DD</li>)'
            )
        else:
            reason = "unexpected text inside the comment list"
        raise LegacyFormatError(reason, source=source, line=at)
    if body[len("</ul>") :].strip():
        raise LegacyFormatError("unexpected text after the comment list", source=source, line=at)
    if len(comments) != declared:
        raise LegacyFormatError(
            f"declared {declared} comments (精选留言（{declared}）) but found {len(comments)}",
            source=source,
            line=line_of(text, header.start()),
        )
    return tuple(comments)
