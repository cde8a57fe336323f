"""Writing a chapter back in the export format: the inverse of export parsing (for tests)."""

import datetime

from .export import HEADER_LINE
from .model import LegacyChapter

# What the original exporter escaped in comment texts. Decoding once (normalize_text) gives
# the text back; raw newlines and tabs are fine inside an item.
_TEXT_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "/": "&#47;"}
)
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;"})


def _date(value: datetime.date | datetime.datetime) -> str:
    return (value.date() if isinstance(value, datetime.datetime) else value).isoformat()


def render_export_chapter(chapter: LegacyChapter) -> bytes:
    """UTF-8 bytes of ``chapter`` in the export format.

    ``parse_chapter(render_export_chapter(c), …)`` gives back the comments of ``c`` (name,
    avatar, text, date, likes, reply count, order) when ``c``'s texts are normalized as the
    parser leaves them, and the article when it is ``clean_markup``-ed. Missing likes / reply
    counts (page HTML) are written as 0; datetimes lose their time; replies are not part of
    the format. No comments → no comment section, as in the archive.
    """
    parts = [chapter.article_markdown, "\n"]
    if chapter.comments:
        parts.append(HEADER_LINE.format(count=len(chapter.comments)) + "\n")
        for comment in chapter.comments:
            parts.append(
                f'<li><img src="{comment.avatar_url.translate(_ATTRIBUTE_ESCAPES)}" width="30px">'
                f"<span>{comment.name.translate(_TEXT_ESCAPES)}</span>"
                f" 👍（{comment.likes or 0}） 💬（{comment.reply_count or 0}）"
                f"<div>{comment.text.translate(_TEXT_ESCAPES)}</div>{_date(comment.created)}</li><br/>"
            )
        parts.append("\n</ul>")
    return "".join(parts).encode("utf-8")
