"""Text rules shared by both formats: THE place where legacy text gets normalized."""

import html
import re
import unicodedata

from .model import LegacyFormatError

# Characters dropped from names, comment texts and reply texts (see normalize_text):
# C0 controls except TAB and LF (CR is turned into LF before this runs), DEL, C1 controls,
# U+FEFF (BOM / zero-width no-break space), U+200B (zero-width space), U+2060 (word joiner),
# and lone surrogates (they cannot be stored or encoded).
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u200b\u2060\ud800-\udfff]")
# Article bodies (Markdown / HTML) keep their invisible characters; only controls go.
_DROPPED_IN_MARKUP = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?")


def normalize_text(text: str, *, decode_entities: bool = True) -> str:
    """Normalize a legacy name, comment text or reply text. The rules, in this order:

    1. Decode HTML entities exactly ONCE (``html.unescape``): ``&#47;`` → ``/``, ``&quot;`` →
       ``"``, ``&#xff0c;`` → ``，``, and the double-escaped ``&amp;#34;`` → the literal
       ``&#34;`` the reader saw. Pass ``decode_entities=False`` for text that an HTML parser
       already decoded (page-HTML DOM text), which must not be decoded a second time. Because
       of this rule the function is deliberately NOT idempotent on entity-like text.
    2. Line endings: CRLF and lone CR become LF (after rule 1, so ``&#13;`` is covered).
    3. Drop invisible junk: C0 control characters except TAB and LF (NUL, backspace, ESC, …),
       DEL (U+007F), C1 controls (U+0080–U+009F), U+FEFF (BOM / zero-width no-break space),
       U+200B (zero-width space), U+2060 (word joiner) and lone surrogates.
       Kept on purpose: U+200C/U+200D (ZWNJ/ZWJ: emoji sequences such as 👨‍🏫 and scripts
       need them), bidi marks, private-use characters.
    4. Trim outer whitespace (``str.strip``: spaces, tabs, newlines, U+3000 ideographic space,
       NBSP, …); a name made only of U+3000 or DEL characters becomes ``""``.
    5. Keep everything else as written: inner tabs and spaces, blank lines between paragraphs,
       U+FFFD, emoji, Markdown-looking text (fences, ``#``) — it stays plain text.

    Page-HTML ``<br>`` → LF happens in the page parser, before the DOM text reaches here.
    """
    if decode_entities:
        text = html.unescape(text)
    text = _NEWLINES.sub("\n", text)
    text = _DROPPED.sub("", text)
    return text.strip()


def clean_markup(text: str) -> str:
    """Article bodies (Markdown or raw HTML): LF line endings and no control characters.

    No entity decoding (it is markup), no trimming of inner whitespace; leading blank lines
    and trailing whitespace are removed.
    """
    text = _DROPPED_IN_MARKUP.sub("", _NEWLINES.sub("\n", text))
    return re.sub(r"\A(?:[ \t\u3000]*\n)+", "", text).rstrip()


def clean_attribute(value: str) -> str:
    """An attribute value such as an avatar URL: as written, minus controls and outer blanks."""
    return _DROPPED.sub("", value).strip()


# --- bytes → text ----------------------------------------------------------------------------

_BINARY_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"%PDF", b"GIF8", b"\x7fELF")
_BINARY_CHARS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def decode_chapter_bytes(data: bytes, *, source: str = "") -> str:
    """UTF-8 text of a chapter file (a leading BOM is dropped), or LegacyFormatError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"chapter data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data.startswith(_BINARY_MAGIC):
        raise LegacyFormatError(
            "binary data (an archive or document), not a chapter", source=source
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise LegacyFormatError(
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})",
            source=source,
            line=line,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise LegacyFormatError("empty file", source=source)
    sample = text[:8192]
    if _BINARY_CHARS.search(sample) and len(_BINARY_CHARS.findall(sample)) * 20 > len(
        sample
    ):  # over 5 % control characters
        raise LegacyFormatError("binary data (control characters), not a chapter", source=source)
    return text


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


# --- file names, titles, keys ----------------------------------------------------------------

_MD_SUFFIX = re.compile(r"\.md\Z", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"[0-9]+")


def basename(source: str) -> str:
    """Last component of a path or archive member name ("/" or "\\" separated)."""
    return re.split(r"[/\\]", source)[-1]


def split_column_prefix(name: str, column: str | None = None) -> tuple[str | None, str]:
    """``"<column>__<chapter>.md"`` → (column, chapter file name); no prefix → (None, name).

    The given ``column`` is tried first; otherwise the text before the first ``__`` is the
    column when it looks like one: not empty, and no space on either side of the ``__``
    (``01 - __init__ 详解.md`` has no prefix).
    """
    name = unicodedata.normalize("NFC", basename(name))
    if column:
        prefix = unicodedata.normalize("NFC", column) + "__"
        if name.startswith(prefix) and len(name) > len(prefix):
            return column, name[len(prefix) :]
    head, sep, tail = name.partition("__")
    # "01 - __init__ 详解.md" has no column prefix: a column name neither ends nor is followed
    # by a space
    stem = _MD_SUFFIX.sub("", tail)
    if sep and head and head.strip() == head and stem and stem.strip() == stem:
        return head, tail
    return None, name


def chapter_title_from_filename(name: str, column: str | None = None) -> str:
    """Chapter title from a file name (directories are ignored).

    Strips ``.md``; drops a ``<column>__`` prefix (edge-case files); the page-HTML spelling of
    ``|`` as `` _ `` becomes `` | `` (``13 _ 为什么我们需要Pod？`` → ``13 | 为什么我们需要Pod？``).
    Export names (``13 - 为什么我们需要Pod？``) and ``｜`` are kept as written; use chapter_key
    to match titles across formats. Unicode is NFC-normalized (macOS file names are NFD).
    """
    _, name = split_column_prefix(name, column)
    title = _MD_SUFFIX.sub("", name).replace(" _ ", " | ")
    return title.strip()


def chapter_key(title: str) -> str:
    """Key matching one chapter's titles across formats and spellings.

    ``13 - 为什么我们需要Pod？``, ``13 | 为什么我们需要Pod？``, ``13｜为什么我们需要Pod?``,
    ``13 _ …`` and ``13-…`` all give ``"13:为什么我们需要pod"``: NFKC (full-width → ASCII),
    case-folded, every space, punctuation mark and symbol removed; a leading chapter number
    is kept apart (``1 - 1x`` ≠ ``11 - x``) and loses its zeros (``01`` = ``1``).
    A ``.md`` suffix is ignored, so file names work too.
    """
    text = unicodedata.normalize("NFKC", _MD_SUFFIX.sub("", title)).casefold().strip()
    number = ""
    match = re.match(r"([0-9]+)(?![0-9])", text)
    if match:
        number = f"{int(match.group(1))}:"
        text = text[match.end() :]
    return number + "".join(ch for ch in text if unicodedata.category(ch)[0] in "LNM")


def leading_number(name: str) -> int | None:
    """The number a chapter file name starts with (after any ``<column>__`` prefix)."""
    match = _LEADING_NUMBER.match(chapter_title_from_filename(name))
    return int(match.group()) if match and len(match.group()) <= 9 else None


# --- author --------------------------------------------------------------------------------

_OPENING = re.compile(
    r"(?:你好|您好|大家好)\s*[，,]\s*我是\s*([^，,。！!？?；;：:（(）)\n]{1,20}?)\s*(?=[，,。！!？?；;：:（(\n]|\Z)"
)
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_EMPTY_LINK = re.compile(r"\[\s*\]\([^)\n]*\)")


def first_text_line(markdown: str) -> str:
    """The first line of a Markdown text that has words (images and empty links skipped)."""
    for line in markdown.split("\n"):
        line = _EMPTY_LINK.sub("", _MARKDOWN_IMAGE.sub("", line))
        if line.strip():
            return line
    return ""


def author_from_opening(first_line: str) -> str | None:
    """``"你好，我是张磊。今天…"`` → ``"张磊"``; None when the line is not such a greeting."""
    line = first_line.strip().lstrip("#>*_ \t\u3000").strip()
    match = _OPENING.match(line)
    if not match:
        return None
    name = normalize_text(match.group(1), decode_entities=False).strip("*_ .")
    return name or None
