"""Keyset pagination for a person's history, newest first: a profile's comments, an inbox.

Such lists only grow, at the top, and can be long (thousands of comments, of notifications).
Page N with OFFSET makes the database walk past every row before it; a page here starts where
the last one ended instead: `?before=<cursor>`, the cursor being the (created_at, id) of the
last row shown, so every page costs what the first does (an index on (owner, -created_at) plus
a tie-break on id). What it gives up: "page 7 of 31" and jumping to a page; readers go older,
or back to the newest.

A cursor is `<microseconds since the epoch>-<id>`, parsed strictly: anything else is a
`BadCursor` (the views answer 400), never a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

_CURSOR = re.compile(r"(\d{1,17})-(\d{1,18})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadCursor(ValueError):
    """A `before` cursor we did not make."""


@dataclass(frozen=True)
class HistoryPage:
    items: list
    # The cursor of the next (older) page, or None on the last page.
    older: str | None
    # Whether this is the first (newest) page.
    is_newest: bool

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def cursor_for(row) -> str:
    micros = (row.created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{row.pk}"


def parse(cursor: str) -> tuple[datetime, int]:
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise BadCursor(cursor)
    try:
        when = _EPOCH + timedelta(microseconds=int(match.group(1)))
    except OverflowError as error:
        raise BadCursor(cursor) from error
    return when, int(match.group(2))


def newest_first(
    rows: QuerySet, *, before: str | None, per_page: int, build: Callable | None = None
) -> HistoryPage:
    """One page of `rows` (any filter, no ordering), newest first, starting after `before`.
    With `build`, each row the query returns (a values_list tuple, say) becomes build(row),
    which must have `created_at` and `pk`."""
    rows = rows.order_by("-created_at", "-pk")
    if before:
        when, pk = parse(before)
        rows = rows.filter(Q(created_at__lt=when) | Q(created_at=when, pk__lt=pk))
    found = list(rows[: per_page + 1])
    if build is not None:
        found = [build(row) for row in found]
    items = found[:per_page]
    older = cursor_for(items[-1]) if len(found) > per_page else None
    return HistoryPage(items=items, older=older, is_newest=not before)
