"""The figures at the top of the admin index, and the geometry of their server-drawn charts.

Each series is one aggregate query (rows grouped by local day with TruncDate); days without rows
are filled with zeros here. The chart is plain data for the template, which draws an inline
<svg> with presentation attributes and classes only (the CSP forbids style attributes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from forum.models import Comment

from . import selectors
from .models import Report

DAYS = 30

# Chart geometry, in SVG user units (the SVG scales to its box).
WIDTH = 600
HEIGHT = 150
PLOT_TOP = 12
PLOT_BOTTOM = 128  # the baseline; day labels below it
LEFT = 28  # room for the axis labels
BAR_GAP = 2


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    key: str
    heading: str
    total: int
    peak: int
    peak_day: date | None
    scale_top: int
    bars: list[Bar]
    ticks: list[Tick]
    summary: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = PLOT_TOP
    baseline: int = PLOT_BOTTOM
    plot_height: int = PLOT_BOTTOM - PLOT_TOP
    label_y: int = PLOT_BOTTOM + 16


@dataclass(frozen=True)
class Dashboard:
    queue_size: int
    reports_today: int
    days: int
    charts: list[Chart]
    # The reports changelist filtered to today (the parameters of its date filter).
    reports_today_query: str


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def per_day(queryset: QuerySet, field: str, *, first_day: date, days: int) -> dict[date, int]:
    """One aggregate query: rows per local day from `first_day` for `days` days."""
    start = local_midnight(first_day)
    end = local_midnight(first_day + timedelta(days=days))
    rows = (
        queryset.filter(**{f"{field}__gte": start, f"{field}__lt": end})
        .annotate(day=TruncDate(field, tzinfo=timezone.get_current_timezone()))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    counts = dict.fromkeys((first_day + timedelta(days=i) for i in range(days)), 0)
    for day, n in rows:
        if day in counts:
            counts[day] += n
    return counts


def _nice_ceiling(value: int) -> int:
    """The top of the scale: 1, 2, 5, 10, 20, 50… at or above `value`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _comments(n: int) -> str:
    return ngettext("%(n)s comment", "%(n)s comments", n) % {"n": n}


def _new_users(n: int) -> str:
    return ngettext("%(n)s new user", "%(n)s new users", n) % {"n": n}


def build_chart(key: str, heading: str, counts: dict[date, int], describe) -> Chart:
    """Bars for `counts` (day → n); `describe(n)` words a number ("3 comments")."""
    days = sorted(counts)
    top = _nice_ceiling(max(counts.values(), default=0) or 1)
    slot = (WIDTH - LEFT) / max(len(days), 1)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    bars = []
    for i, day in enumerate(days):
        n = counts[day]
        height = round(plot_height * n / top, 1)
        bars.append(
            Bar(
                day=day,
                count=n,
                x=round(LEFT + i * slot + BAR_GAP / 2, 1),
                y=round(PLOT_BOTTOM - height, 1),
                width=round(slot - BAR_GAP, 1),
                height=height,
                title=f"{date_format(day, 'DATE_FORMAT')}: {describe(n)}",
            )
        )
    # A label every week, ending on the last day.
    ticks = [
        Tick(x=round(LEFT + (i + 0.5) * slot, 1), label=date_format(day, "M j"))
        for i, day in enumerate(days)
        if (len(days) - 1 - i) % 7 == 0
    ]
    total = sum(counts.values())
    peak_day = max(days, key=lambda d: (counts[d], d)) if total else None
    peak = counts[peak_day] if peak_day else 0
    if total:
        summary = _(
            "%(total)s in the last %(days)s days; the busiest day was %(day)s (%(peak)s)."
        ) % {
            "total": describe(total),
            "days": len(days),
            "day": date_format(peak_day, "DATE_FORMAT"),
            "peak": peak,
        }
    else:
        summary = _("None in the last %(days)s days.") % {"days": len(days)}
    return Chart(
        key=key,
        heading=heading,
        total=total,
        peak=peak,
        peak_day=peak_day,
        scale_top=top,
        bars=bars,
        ticks=ticks,
        summary=summary,
    )


def build(days: int = DAYS) -> Dashboard:
    today = timezone.localdate()
    since = local_midnight(today)
    first_day = today - timedelta(days=days - 1)
    comments = per_day(Comment.objects.all(), "created_at", first_day=first_day, days=days)
    users = per_day(User.objects.all(), "date_joined", first_day=first_day, days=days)
    return Dashboard(
        queue_size=selectors.queue_size(),
        reports_today=Report.objects.filter(created_at__gte=since).count(),
        reports_today_query=urlencode(
            {
                "created_at__gte": str(since),
                "created_at__lt": str(local_midnight(today + timedelta(days=1))),
            }
        ),
        days=days,
        charts=[
            build_chart("comments", _("Comments per day"), comments, _comments),
            build_chart("users", _("New users per day"), users, _new_users),
        ],
    )
