"""Entry points: which format is this, and parse it into a LegacyChapter."""

import re

from .export import looks_like_export, parse_export_text
from .model import LegacyChapter, LegacyFormatError, LegacySource
from .normalize import (
    chapter_title_from_filename,
    decode_chapter_bytes,
    leading_number,
    split_column_prefix,
)
from .page import COMMENT_MARKUP, looks_like_page, parse_page_text

_HTML_DOCUMENT = re.compile(r"\s*<(?:!doctype|html|head|body|audio|video)\b", re.I)


def _format_of(text: str, source: str) -> str:
    if looks_like_page(text):
        return "page"
    if looks_like_export(text):
        return "export"
    if _HTML_DOCUMENT.match(text) or f'class="{COMMENT_MARKUP}"' in text:
        raise LegacyFormatError(
            "neither format: an HTML page without the <!-- [[[read_end]]] --> marker", source=source
        )
    return "export"  # a Markdown chapter whose comment section is absent (no comments)


def detect_format(data: bytes, *, source: str = "") -> str:
    """``"export"`` or ``"page"``; LegacyFormatError for binary, non-UTF-8, empty or other input.

    Page HTML has the read_end marker; export files have the 精选留言 header, or are plain
    Markdown without a comment section. An HTML document without the marker is neither.
    """
    return _format_of(decode_chapter_bytes(data, source=source), source)


def parse_chapter(
    data: bytes, *, source: str, column: str, position: int | None = None
) -> LegacyChapter:
    """Parse one chapter file of either format. Raises only LegacyFormatError on bad input.

    The title comes from the file name in ``source`` (chapter_title_from_filename, with the
    ``<column>__`` prefix removed); ``position`` defaults to the file name's leading number.
    """
    text = decode_chapter_bytes(data, source=source)
    kind = _format_of(text, source)
    fields = (
        parse_page_text(text, source=source)
        if kind == "page"
        else parse_export_text(text, source=source)
    )
    _, file_name = split_column_prefix(source, column)
    return LegacyChapter(
        title=chapter_title_from_filename(file_name),
        column=column,
        position=position if position is not None else leading_number(file_name),
        source=source,
        **fields,
    )


def parse_source(source: LegacySource) -> LegacyChapter:
    """parse_chapter for one item of iter_sources."""
    return parse_chapter(
        source.data, source=source.source, column=source.column, position=source.position
    )
