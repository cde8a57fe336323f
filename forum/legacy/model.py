"""Value types produced by the legacy parser (plain dataclasses, no Django)."""

import datetime
from dataclasses import dataclass


class LegacyFormatError(ValueError):
    """The input is not a chapter of a known legacy format (or is broken).

    ``str(error)`` reads ``"{source}:{line}: {reason}"``; an empty source or a missing line is
    left out together with its colon, so the message is never padded with empty parts.
    """

    def __init__(self, reason: str, *, source: str = "", line: int | None = None):
        self.reason = reason
        self.source = source
        self.line = line
        super().__init__(reason)

    def __str__(self) -> str:
        prefix = ":".join(
            part for part in (self.source, "" if self.line is None else str(self.line)) if part
        )
        return f"{prefix}: {self.reason}" if prefix else self.reason

    def __reduce__(self):  # keyword-only arguments: keep the error picklable (multiprocessing)
        return (_rebuild_error, (self.reason, self.source, self.line))


def _rebuild_error(reason: str, source: str, line: int | None) -> LegacyFormatError:
    return LegacyFormatError(reason, source=source, line=line)


@dataclass(frozen=True)
class LegacyReply:
    """A reply shown under a comment on the old site's page (page-HTML format only)."""

    text: str
    kind: str  # "author" (作者回复) or "editor" (编辑回复)


@dataclass(frozen=True)
class LegacyComment:
    name: str  # normalized (normalize_text); "" when empty or made only of whitespace/controls
    avatar_url: str  # "" for src=""; otherwise the URL as written (attribute value)
    text: str  # normalized plain text, never Markdown-rendered; <br> became "\n"
    created: datetime.date | datetime.datetime  # export: date; page HTML: naive datetime
    likes: int | None  # export 👍（N）; None in page HTML
    reply_count: int | None  # export 💬（N）, kept as written (can be -1); None in page HTML
    replies: tuple[LegacyReply, ...] = ()
    position: int = 0  # 0-based order on the old page


@dataclass(frozen=True)
class LegacyChapter:
    format: str  # "export" or "page"
    title: str  # from the file name (chapter_title_from_filename)
    column: str
    position: int | None  # order in the column: mkdocs nav, else a leading number, else None
    article_markdown: str  # export: the Markdown article part (may be ""); page: ""
    # page: the article HTML (raw, unsanitized), marker and leading <audio> removed; export: "".
    # NOTE: the whole article, not only the part before <!-- [[[read_end]]] -->: in the real
    # pages that marker ends the free PREVIEW (~800 characters in) and the article goes on
    # after it until the comment section. The preview alone is article_preview_html.
    article_html: str
    comments: tuple[LegacyComment, ...]
    declared_count: int | None  # export: N of 精选留言（N） (None without a comment section)
    author_name: str | None  # "X" from an opening line "你好，我是X"
    source: str
    # Additions beyond the agreed API (all defaulted):
    article_preview_html: str = ""  # page: the article HTML before the read_end marker
    audio_url: str = ""  # page: src of the leading <audio> element, if any


@dataclass(frozen=True)
class LegacySource:
    """One chapter file found by iter_sources, not parsed yet."""

    source: str
    column: str
    position: int | None
    data: bytes
