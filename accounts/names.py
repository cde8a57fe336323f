"""Display names that cannot pass for someone else's.

Invariants:
- A valid name matches ``display_name_validator`` and ``validate_display_name_characters``: no
  invisible characters, unchanged by NFKC, Latin not mixed with Cyrillic or Greek.
- No two users hold names with the same ``name_skeleton`` (a unique column,
  ``User.display_name_skeleton``, written by ``User.save``). The skeleton is Unicode TR39's
  (ICU's SpoofChecker, so it follows the ICU the system has), taken once more after folding
  case: "раураl" (all Cyrillic) and "paypal" share one, as do "user1", "userl" and "UserI".
- The legacy importer gives every name it writes through ``legacy_display_name`` (valid, never
  the raw text when the raw text is invalid) and ``unique_display_name`` (a "-2", "-3"…
  suffix when the skeleton is taken).
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter

import icu
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

MIN_LENGTH = 2
MAX_LENGTH = 30

# Letters of any script (Chinese included), digits, "_", "-", "." and "·"; no spaces or "@",
# so that "@name" in a comment is unambiguous.
display_name_validator = RegexValidator(
    r"^[\w.\-·]{2,30}\Z",
    _("2 to 30 characters: letters (Chinese too), digits, “_”, “-”, “.” or “·”; no spaces."),
)

# Characters a name may not hold although \w matches them: they render as nothing (Hangul and
# Braille fillers, format characters such as zero-width joiners), so "alice" + U+3164 would show
# as "alice".
_INVISIBLE = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u17b4", "\u17b5"}
# Scripts whose letters copy Latin ones ("аdmin" with a Cyrillic а): a name may use one of them.
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_PUNCTUATION = "_.-·"


def _invisible(c: str) -> bool:
    return c in _INVISIBLE or unicodedata.category(c) in {"Cf", "Me"}


def _lookalike_script(c: str) -> str | None:
    if not c.isalpha():
        return None
    name = unicodedata.name(c, "")
    return next((s for s in _LOOKALIKE_SCRIPTS if name.startswith(s + " ")), None)


def validate_display_name_characters(name: str) -> None:
    """Refuse names that look like another: invisible characters, compatibility forms (NFKC
    changes them: fullwidth "ＡＤＭＩＮ", ligatures) and Latin mixed with Cyrillic or Greek.
    A name of one script copying another name whole is caught by the skeleton (below)."""
    if any(_invisible(c) for c in name):
        raise ValidationError(_("The name holds an invisible character."), code="invisible")
    if unicodedata.normalize("NFKC", name) != name:
        raise ValidationError(
            _("Use plain letters: the name holds full-width or compatibility characters."),
            code="compatibility",
        )
    if len({s for c in name if (s := _lookalike_script(c))}) > 1:
        raise ValidationError(
            _("Use one alphabet: the name mixes Latin, Cyrillic or Greek letters."),
            code="mixed_script",
        )


@functools.cache
def _checker() -> icu.SpoofChecker:
    # getSkeleton is const in ICU: one checker serves every thread.
    return icu.SpoofChecker()


def name_skeleton(name: str) -> str:
    """TR39 skeleton of NFKC(name), case folded and skeletonized again: uppercase lookalikes
    ("I" → "l") map before case folding could turn them into something else ("i")."""
    skeleton = _checker().getSkeleton(0, unicodedata.normalize("NFKC", name))
    return _checker().getSkeleton(0, skeleton.casefold())


def is_valid(name: str) -> bool:
    try:
        display_name_validator(name)
        validate_display_name_characters(name)
    except ValidationError:
        return False
    return True


def legacy_display_name(raw: str, *, placeholder: str) -> str:
    """A valid display name for a name from the old site, which had no rules: compatibility
    forms folded (NFKC), spaces become "_", emoji and other symbols dropped, letters of a
    second lookalike script dropped. "" when nothing usable is left (the caller's placeholder
    then), and a name of one character gets a "-1" so it reaches the minimum length."""
    if is_valid(raw):
        return raw
    text = unicodedata.normalize("NFKC", raw)
    kept = []
    for c in text:
        if c.isspace():
            kept.append("_")
        elif (c.isalnum() or c in _PUNCTUATION or c == "_") and not _invisible(c):
            kept.append(c)
    scripts = Counter(s for c in kept if (s := _lookalike_script(c)))
    if len(scripts) > 1:
        main = scripts.most_common(1)[0][0]
        kept = [c for c in kept if _lookalike_script(c) in (None, main)]
    name = "_".join(part for part in "".join(kept).split("_") if part)  # no runs of "_"
    name = name.strip(_PUNCTUATION)[:MAX_LENGTH].strip(_PUNCTUATION)
    if not name:
        name = placeholder
    if len(name) < MIN_LENGTH:
        name += "-1"
    return name if is_valid(name) else placeholder


def name_keys(name: str) -> set[str]:
    """What a display name may share with no other: its skeleton, and its lowercase form.

    The database's unique index is on lower(display_name), which the skeleton alone does not
    cover: "IVAN" and "ivan" have different skeletons (the uppercase "I" is read as an "l"
    first), yet one lowercase form."""
    return {name_skeleton(name), "lower\x00" + name.lower()}


def unique_display_name(name: str, taken: set[str], *, force_suffix: bool = False) -> str:
    """``name``, or ``name-2``, ``name-3``… : the first none of whose ``name_keys`` is in
    ``taken`` (which the caller extends with the result's keys)."""
    if not force_suffix and not name_keys(name) & taken:
        return name
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = name[: MAX_LENGTH - len(suffix)] + suffix
        if not name_keys(candidate) & taken:
            return candidate
        n += 1
