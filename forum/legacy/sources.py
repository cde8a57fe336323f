"""Finding chapter files: files, column folders, folders of folders and .zip archives."""

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .model import LegacyFormatError, LegacySource
from .normalize import leading_number, split_column_prefix

# --- What an archive may unpack to -----------------------------------------------------------
# An upload is hostile until proven otherwise: a 2 MB zip can declare a gigabyte of members, and
# a zip can hold itself. Every archive's central directory is checked before any member is
# read; zipfile never returns more than a member's declared size, so the declared sizes bound
# the work. The budget is per walk (one iter_sources call), nested archives included. The whole
# real archive of 186 columns is 64 MB unpacked in 8,368 entries, far inside every limit.
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one chapter file (the largest real one is ~200 KB)
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # all members of all archives of one walk
MAX_ARCHIVE_MEMBERS = 50_000  # entries of all archives of one walk
MAX_RATIO = 100  # declared size / compressed size of a member over RATIO_FLOOR bytes
RATIO_FLOOR = 1024 * 1024
MAX_NESTING = 3  # a zip in a zip in a zip, no deeper
_MB = 1024 * 1024
_SKIPPED_NAMES = {"index.md", "readme.md"}

# --- mkdocs.yml (no PyYAML: the simple form the archive uses) --------------------------------


def _yaml_text(mkdocs_yml: bytes) -> str:
    try:
        return mkdocs_yml.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LegacyFormatError(f"mkdocs.yml is not UTF-8 text (offset {exc.start})") from None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def read_site_name(mkdocs_yml: bytes) -> str | None:
    """``site_name`` of an mkdocs.yml, or None."""
    match = re.search(r"^site_name:[ \t]*(.+?)[ \t]*$", _yaml_text(mkdocs_yml), re.M)
    if not match:
        return None
    return _unquote(match.group(1)) or None


def _nav_candidates(mkdocs_yml: bytes) -> list[tuple[str, ...]]:
    """For each ``.md`` entry of ``nav:`` in order: the file name, then fallbacks.

    Handles ``- file.md``, ``- "quoted.md"``, ``- Title: file.md`` and nested sections
    (``- Section:`` followed by deeper items). An unquoted ``Title: file.md`` is a mapping in
    YAML; the whole text is kept as a fallback in case it was a file name containing ": ".
    """
    lines = _yaml_text(mkdocs_yml).splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if re.match(r"nav:\s*$", line))
    except StopIteration:
        return []
    entries = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            break  # the next top-level key ends the nav block
        match = re.match(r"\s*-\s+(.*?)\s*$", line)
        if not match:
            continue
        item = match.group(1)
        quoted = _unquote(item)
        if quoted != item and quoted.lower().endswith(".md"):
            entries.append((quoted,))
            continue
        title, sep, value = item.partition(": ")
        if sep and _unquote(value).lower().endswith(".md"):
            entries.append((_unquote(value), item))
        elif item.lower().endswith(".md"):
            entries.append((item,))
    return entries


def read_nav(mkdocs_yml: bytes) -> list[str]:
    """Chapter file names from ``nav:`` in order, without the column pages (index.md and
    ``<site_name>.md``)."""
    column_pages = _column_pages(read_site_name(mkdocs_yml))
    return [c[0] for c in _nav_candidates(mkdocs_yml) if _nfc(c[0]).lower() not in column_pages]


def _column_pages(site_name: str | None) -> set[str]:
    pages = set(_SKIPPED_NAMES)
    if site_name:
        pages.add(_nfc(site_name + ".md").lower())
    return pages


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# --- walking files, folders and zip archives ---------------------------------------------------
# Nodes are pathlib.Path or zipfile.Path: both offer name, is_dir, is_file, iterdir,
# joinpath, exists and read_bytes, so one walker serves both.


def _natural_key(name: str) -> tuple:
    parts = re.split(r"([0-9]+)", _nfc(name))
    return (tuple((int(p) if i % 2 else p.casefold()) for i, p in enumerate(parts)), name)


def _children(node) -> list:
    return sorted(
        (c for c in node.iterdir() if not c.name.startswith(".") and c.name != "__MACOSX"),
        key=lambda c: _natural_key(c.name),
    )


def _open_zip(data_or_path, source: str):
    try:
        archive = zipfile.ZipFile(data_or_path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:  # ValueError: undecodable names
        raise LegacyFormatError(f"not a readable zip archive ({exc})", source=source) from None
    _fix_member_names(archive)
    root = zipfile.Path(archive)
    if isinstance(data_or_path, io.BytesIO):
        root.root.filename = source  # so members read "outer.zip/inner.zip/…"
    return root


def _fix_member_names(archive: zipfile.ZipFile) -> None:
    """Names stored without the UTF-8 flag are decoded as cp437 by zipfile; archives made on
    Chinese Windows use GBK there. Re-decode them as UTF-8, else GB18030."""
    for info in archive.infolist():
        if info.flag_bits & 0x800:
            continue
        try:
            raw = info.filename.encode("cp437")
        except UnicodeEncodeError:
            continue
        for encoding in ("utf-8", "gb18030"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            continue
        if name != info.filename:
            archive.NameToInfo.pop(info.filename, None)
            info.filename = name
            archive.NameToInfo[name] = info


class ArchiveBudget:
    """What the archives of one walk may still unpack to (see the limits at the top)."""

    def __init__(self) -> None:
        self.members = 0
        self.unpacked = 0

    def admit(self, archive: zipfile.ZipFile, source: str) -> None:
        """Refuse the archive, before reading any member, if it would exceed a limit."""
        for info in archive.infolist():
            self.members += 1
            self.unpacked += info.file_size
            if self.members > MAX_ARCHIVE_MEMBERS:
                raise LegacyFormatError(
                    f"the archive holds more than {MAX_ARCHIVE_MEMBERS} files", source=source
                )
            if info.file_size > MAX_MEMBER_BYTES:
                raise LegacyFormatError(
                    f"{info.filename} would unpack to {info.file_size // _MB} MB "
                    f"(at most {MAX_MEMBER_BYTES // _MB} MB a file)",
                    source=source,
                )
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise LegacyFormatError(
                    f"{info.filename} is compressed more than {MAX_RATIO} to 1 "
                    "(a zip bomb, not text)",
                    source=source,
                )
            if self.unpacked > MAX_UNPACKED_BYTES:
                raise LegacyFormatError(
                    f"the archive would unpack to more than {MAX_UNPACKED_BYTES // _MB} MB",
                    source=source,
                )


def check_archive(file, name: str) -> None:
    """Raise LegacyFormatError unless ``file`` (a path or a seekable binary file) is a zip
    within the limits. Reads the central directory only (nested archives are checked when
    the import opens them)."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise LegacyFormatError("not a readable zip archive", source=name) from None
    with archive:
        ArchiveBudget().admit(archive, name)


def _read(node, source: str) -> bytes:
    if isinstance(node, zipfile.Path):
        info = node.root.getinfo(node.at)
        if info.file_size > MAX_MEMBER_BYTES:
            raise LegacyFormatError(
                f"archive member too large ({info.file_size} bytes)", source=source
            )
    try:
        return node.read_bytes()
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        raise LegacyFormatError(f"cannot read ({exc})", source=source) from None


def _is_zip_name(name: str) -> bool:
    return name.lower().endswith(".zip")


def _is_chapter_name(name: str) -> bool:
    return name.lower().endswith(".md")


class _Walker:
    def __init__(self, *, read: bool = True) -> None:
        self.seen: set[str] = set()
        self.budget = ArchiveBudget()
        self.read = read  # False: find the files without reading them (to count them)
        self.nesting = 0

    def source(self, node, column: str, position: int | None) -> Iterator[LegacySource]:
        source = str(node)
        key = str(node.resolve()) if isinstance(node, Path) else source
        if key in self.seen:
            return
        self.seen.add(key)
        data = _read(node, source) if self.read else b""
        yield LegacySource(source=source, column=column, position=position, data=data)

    def path(self, node, *, explicit: bool) -> Iterator[LegacySource]:
        if node.is_dir():
            yield from self.folder(node)
        elif _is_zip_name(node.name):
            yield from self.zip(node)
        elif _is_chapter_name(node.name):
            yield from self.file(node)
        elif explicit:
            raise LegacyFormatError(
                "not a chapter file (.md), a folder or a .zip", source=str(node)
            )

    def zip(self, node) -> Iterator[LegacySource]:
        source = str(node)
        if self.nesting >= MAX_NESTING:
            raise LegacyFormatError(f"archives nested more than {MAX_NESTING} deep", source=source)
        if isinstance(node, Path):
            root = _open_zip(node, source)
        else:  # a zip inside a zip
            root = _open_zip(io.BytesIO(_read(node, source)), source)
        self.nesting += 1
        try:
            self.budget.admit(root.root, source)
            yield from self.folder(root)
        finally:
            self.nesting -= 1
            root.root.close()

    def file(self, node) -> Iterator[LegacySource]:
        """A chapter file given on its own: find its column and position from its context."""
        prefix, _ = split_column_prefix(node.name)
        parent = node.absolute().parent if isinstance(node, Path) else _zip_parent(node)
        if prefix is not None:
            yield from self.source(node, prefix, leading_number(node.name))
            return
        if parent is not None and parent.name == "docs":
            column_dir = parent.parent if isinstance(parent, Path) else _zip_parent(parent)
            if column_dir is not None and column_dir.joinpath("mkdocs.yml").is_file():
                site_name, order = self._export_context(column_dir)
                key = _nfc(node.name)
                yield from self.source(node, site_name, order.get(key))
                return
        column = parent.name if parent is not None and parent.name else "legacy"
        yield from self.source(node, _nfc(column), leading_number(node.name))

    def folder(self, node) -> Iterator[LegacySource]:
        if node.joinpath("mkdocs.yml").is_file():
            yield from self.export_column(node)
            return
        parent = node.absolute().parent if isinstance(node, Path) else _zip_parent(node)
        if node.name == "docs" and parent is not None and parent.joinpath("mkdocs.yml").is_file():
            yield from self.export_column(parent)  # the docs/ folder of an export column
            return
        folder_name = _nfc(re.sub(r"\.zip\Z", "", node.name, flags=re.I)) if node.name else ""
        for child in _children(node):
            if child.is_dir():
                yield from self.folder(child)
            elif _is_zip_name(child.name):
                yield from self.zip(child)
            elif _is_chapter_name(child.name):
                prefix, _ = split_column_prefix(child.name)
                column = prefix if prefix is not None else folder_name
                lowered = _nfc(child.name).lower()
                if lowered in _SKIPPED_NAMES or (column and lowered == f"{column}.md".lower()):
                    continue
                yield from self.source(child, column or "legacy", leading_number(child.name))

    def _export_context(self, column_dir) -> tuple[str, dict[str, int]]:
        yml = _read(column_dir.joinpath("mkdocs.yml"), str(column_dir.joinpath("mkdocs.yml")))
        site_name = read_site_name(yml) or _nfc(column_dir.name)
        column_pages = _column_pages(site_name)
        docs = column_dir.joinpath(_docs_dir(yml))
        order: dict[str, int] = {}
        for candidates in _nav_candidates(yml):
            if _nfc(candidates[0]).lower() in column_pages:
                continue
            found = next((c for c in candidates if docs.joinpath(c).is_file()), candidates[0])
            order.setdefault(_nfc(found), len(order) + 1)
        return site_name, order

    def export_column(self, column_dir) -> Iterator[LegacySource]:
        """mkdocs.yml + docs/: nav order first (position = 1-based nav index without the column
        pages), then chapter files missing from the nav (position None). Nav entries without a
        file are ignored."""
        site_name, order = self._export_context(column_dir)
        yml = _read(column_dir.joinpath("mkdocs.yml"), str(column_dir.joinpath("mkdocs.yml")))
        docs = column_dir.joinpath(_docs_dir(yml))
        if not docs.is_dir():
            raise LegacyFormatError(
                f"no {_docs_dir(yml)}/ folder next to mkdocs.yml", source=str(column_dir)
            )
        files = {
            _nfc(c.name): c for c in _children(docs) if c.is_file() and _is_chapter_name(c.name)
        }
        for name, position in order.items():
            node = files.pop(name, None)
            if node is None and docs.joinpath(name).is_file():  # a nav path into a subfolder
                node = docs.joinpath(name)
            if node is not None:
                yield from self.source(node, site_name, position)
        column_pages = _column_pages(site_name)
        for name, node in files.items():
            if name.lower() not in column_pages:
                yield from self.source(node, site_name, None)


def _docs_dir(mkdocs_yml: bytes) -> str:
    match = re.search(r"^docs_dir:[ \t]*(.+?)[ \t]*$", _yaml_text(mkdocs_yml), re.M)
    return _unquote(match.group(1)).strip("/") if match else "docs"


def _zip_parent(node: zipfile.Path):
    at = node.at.rstrip("/")
    if not at:
        return None
    parent = at.rpartition("/")[0]
    return zipfile.Path(node.root, parent + "/" if parent else "")


def iter_sources(paths: list[str | Path], *, read: bool = True) -> Iterator[LegacySource]:
    """One LegacySource per chapter file under ``paths``, in a deterministic order.

    Each path may be a chapter file, a folder (an export column: ``mkdocs.yml`` + ``docs/``;
    a page-HTML column folder; a folder of ``<column>__<chapter>.md`` files; or a folder of
    such folders) or a ``.zip`` of any of these (also inside folders). Columns: mkdocs
    ``site_name`` (else the folder name) for export columns, the ``<column>__`` prefix, else
    the folder name. Positions: the 1-based nav index (column pages skipped) for export
    columns, else a leading number of the file name, else None. Skipped: ``index.md``,
    ``README.md``, ``<column>.md`` column pages, ``mkdocs.yml``, hidden files, non-``.md``
    files inside folders. Folders are walked in natural name order (``2 …`` before ``10 …``);
    a file reached twice is yielded once.

    Files are read one at a time, as they are yielded (``read=False``: not at all, ``data`` is
    empty; to count them). Archives beyond the limits at the top of this module raise
    LegacyFormatError before any of their members is read.
    """
    walker = _Walker(read=read)
    for path in paths:
        node = Path(path)
        if not node.exists():
            raise LegacyFormatError("no such file or folder", source=str(path))
        yield from walker.path(node, explicit=True)
