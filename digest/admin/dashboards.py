"""The admin's Charts and Operations pages: pictures of the service, and what needs a person.

Two views of the stock admin site, added to its URLs (admin.site.get_urls is wrapped: there is
no model behind them) and linked from the admin's index. Staff only, through admin_view, and
only staff who may view issues; the one change made here, recovering stuck claims, is a POST
through digest.ledger, for staff who may change issues.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from digest.charts import Chart, Series, chart_render
from digest.figures import (
    ISSUE_FIGURES,
    DaySeries,
    IssueFigures,
    fetch_health_by_day,
    issue_figures_latest,
    readers_by_day,
)
from digest.ledger import deliveries_recover_stuck
from digest.operations import RECENT_DAYS, operations_list

READER_DAYS = 30
FETCH_DAYS = 14
ISSUES_SHOWN = 20
VIEW_PERMISSION = "digest.view_issue"
CHANGE_PERMISSION = "digest.change_issue"


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _page(request: HttpRequest, template: str, title: str, **context: object) -> HttpResponse:
    return TemplateResponse(
        request, template, {**admin.site.each_context(request), "title": title, **context}
    )


# --- Charts ---------------------------------------------------------------------------------------


def charts_view(request: HttpRequest) -> HttpResponse:
    """Readers over time, sign-ups and departures, each issue's figures and votes, fetch health."""
    _require(request, VIEW_PERMISSION)
    today = timezone.localdate()
    states, flow = readers_by_day(today=today, days=READER_DAYS)
    issues = issue_figures_latest(limit=ISSUES_SHOWN)
    fetches = fetch_health_by_day(today=today, days=FETCH_DAYS)
    charts = [
        _day_chart(
            "chart-readers",
            f"Readers by status, last {READER_DAYS} days",
            states,
            kind="lines",
            empty="No readers yet: their number by status will appear here, day by day.",
            note="Paused and suppressed readers are dated by their last change; "
            "team channels are not counted.",
        ),
        _day_chart(
            "chart-flow",
            f"Sign-ups, unsubscribes and deletions per day, last {READER_DAYS} days",
            flow,
            empty="No sign-ups or departures in these days.",
            note="Sign-ups count the readers still here; a deleted reader leaves only "
            "the count of deletions.",
        ),
        *_issue_charts(issues),
        _day_chart(
            "chart-fetches",
            f"Fetch health, last {FETCH_DAYS} days",
            fetches,
            empty="No fetch in these days: each day's successful runs and failed attempts "
            "will appear here.",
            note="A source failing again the same way counts each attempt on one run.",
        ),
    ]
    return _page(
        request,
        "admin/digest/charts.html",
        "Charts",
        charts=[chart_render(chart=chart) for chart in charts],
        time_zone=timezone.get_current_timezone_name(),
    )


def _day_label(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def _day_chart(
    key: str, title: str, figures: DaySeries, *, empty: str, note: str, kind: str = "bars"
) -> Chart:
    series = tuple(Series(name, tuple(values)) for name, values in figures.series.items())
    first, last = figures.days[0], figures.days[-1]
    totals = "; ".join(f"{s.name}: {sum(s.values):,}" for s in series)
    if kind == "lines":
        totals = "; ".join(f"{s.name}: {s.values[-1]:,}" for s in series)
        totals = f"On {last:%Y-%m-%d}, {totals}"
    description = f"From {first:%Y-%m-%d} to {last:%Y-%m-%d}. {totals}. {note}"
    return Chart(
        key=key,
        title=title,
        description=description,
        axis="Day",
        labels=tuple(_day_label(day) for day in figures.days),
        series=series,
        kind="lines" if kind == "lines" else "bars",
        empty=empty,
    )


def _issue_charts(figures: IssueFigures) -> list[Chart]:
    labels = tuple(
        f"{issue.date:%m-%d}" + ("" if issue.kind == "daily" else " weekly")
        for issue in figures.issues
    )
    shown = f"the last {len(figures.issues)} issues sent, oldest first"
    counts = tuple(
        Series(name, tuple(figures.counts[issue.pk][key] for issue in figures.issues))
        for key, name in ISSUE_FIGURES.items()
    )
    votes = (
        Series("More like this", tuple(figures.votes.get(i.pk, (0, 0))[0] for i in figures.issues)),
        Series("Less like this", tuple(figures.votes.get(i.pk, (0, 0))[1] for i in figures.issues)),
    )
    return [
        Chart(
            key="chart-issues",
            title="Deliveries per issue",
            description=f"Sent, delivered, opened, clicked, bounced and complained, for {shown}.",
            axis="Issue",
            labels=labels,
            series=counts,
            empty="No issue has gone out yet: each one's sent, delivered, opened, clicked, "
            "bounced and complained figures will appear here.",
        ),
        Chart(
            key="chart-votes",
            title="Votes per issue",
            description=f"Readers' “more” and “less like this” votes cast from {shown}.",
            axis="Issue",
            labels=labels,
            series=votes,
            empty="No votes yet: the “more” and “less like this” votes cast from each issue "
            "will appear here.",
        ),
    ]


# --- Operations -----------------------------------------------------------------------------------


def operations_view(request: HttpRequest) -> HttpResponse:
    """Paused issues, stuck claims, failed deliveries, failing fetches, suppressed addresses."""
    _require(request, VIEW_PERMISSION)
    return _page(
        request,
        "admin/digest/operations.html",
        "Operations",
        ops=operations_list(now=timezone.now()),
        recent_days=RECENT_DAYS,
        can_change=request.user.has_perm(CHANGE_PERMISSION),
    )


def recover_stuck_view(request: HttpRequest) -> HttpResponseRedirect:
    """Requeue the stuck claims now, as the hourly tick would (failed after too many attempts)."""
    _require(request, CHANGE_PERMISSION)
    requeued, failed = deliveries_recover_stuck(now=timezone.now())
    if requeued or failed:
        message = f"Recovered stuck claims: {requeued} requeued, {failed} failed (out of attempts)."
        messages.success(request, message)
    else:
        messages.info(request, "No claim was stuck any more.")
    return HttpResponseRedirect(reverse("admin:operations"))


# --- URLs -----------------------------------------------------------------------------------------


def _urls_with_dashboards(
    site_urls: Callable[[], list[URLResolver | URLPattern]],
) -> Callable[[], list[URLResolver | URLPattern]]:
    def get_urls() -> list[URLResolver | URLPattern]:
        def view(
            function: Callable[[HttpRequest], HttpResponseBase], route: str, name: str
        ) -> URLPattern:
            return path(route, admin.site.admin_view(function), name=name)

        return [
            view(charts_view, "charts/", "charts"),
            view(operations_view, "operations/", "operations"),
            view(require_POST(recover_stuck_view), "operations/recover-stuck/", "recover_stuck"),
            *site_urls(),
        ]

    return get_urls


# Before the catch-all app_list pattern; admin.site.urls reads get_urls when the URLconf loads.
admin.site.get_urls = _urls_with_dashboards(admin.site.get_urls)  # type: ignore[method-assign]
