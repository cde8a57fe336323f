"""Parser for the old site's chapter pages (pure Python: no Django in this package).

Two input formats, described with measured facts in ``/work/shared/legacy/README.md``:

* **export** — Markdown article preview, then ``<div><strong>精选留言（N）</strong></div><ul>``
  and N one-line ``<li>`` comment items (likes, reply counts, dates);
* **page** — the old site's article page: article HTML with a ``<!-- [[[read_end]]] -->``
  marker, then comments in obfuscated-class markup (datetimes, author/editor replies).

Typical use::

    for source in iter_sources([path]):
        chapter = parse_source(source)  # or parse_chapter(source.data, source=..., ...)

Every problem with the input is a :class:`LegacyFormatError` whose ``str()`` is
``"{source}:{line}: {reason}"``. Text normalization rules live in :func:`normalize_text`.
"""

from .model import LegacyChapter, LegacyComment, LegacyFormatError, LegacyReply, LegacySource
from .normalize import chapter_key, chapter_title_from_filename, clean_markup, normalize_text
from .parser import detect_format, parse_chapter, parse_source
from .render import render_export_chapter
from .sources import check_archive, iter_sources, read_nav, read_site_name


def iter_chapters(paths):
    """Parsed chapters of iter_sources(paths) (stops at the first LegacyFormatError)."""
    for source in iter_sources(paths):
        yield parse_source(source)


__all__ = [
    "LegacyChapter",
    "LegacyComment",
    "LegacyFormatError",
    "LegacyReply",
    "LegacySource",
    "chapter_key",
    "check_archive",
    "chapter_title_from_filename",
    "clean_markup",
    "detect_format",
    "iter_chapters",
    "iter_sources",
    "normalize_text",
    "parse_chapter",
    "parse_source",
    "read_nav",
    "read_site_name",
    "render_export_chapter",
]
