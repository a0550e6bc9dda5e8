"""Series drawn as small, accessible SVG charts for the admin: no script, no external asset.

A chart is an inline <svg role="img"> named by its <title> and <desc>, followed by the same
figures in a table inside <details>, so a screen reader or a text browser reads the numbers,
not the drawing. Colours and strokes are classes (static/css/charts.css): the CSP allows style
sheets only from our own files. Everything shown is escaped (names come from the database).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# The drawing's own coordinates; the CSS scales it to the page's width.
WIDTH, HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 12, 34
_TICKS = 4  # horizontal grid lines above zero
_X_LABELS_MAX = 10  # category labels written under the axis; the table has them all
TONES = 6  # chart-tone-0 … chart-tone-5 in charts.css; more series reuse them in turn


@dataclass(frozen=True)
class Series:
    """One named row of figures, a value per label of its chart."""

    name: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Chart:
    """What to draw: labels along the x axis, one or more series, bars or lines."""

    key: str  # unique on the page: the ids of its title and description start with it
    title: str
    description: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    axis: str  # what the labels are ("Day", "Issue"): the table's first column
    kind: Literal["bars", "lines"] = "bars"
    empty: str = "Nothing to show yet."  # says what will appear here, when there is nothing

    @property
    def is_empty(self) -> bool:
        return not self.labels or not any(any(s.values) for s in self.series)


def chart_render(*, chart: Chart) -> SafeString:
    """The chart as a <figure>: caption, SVG, legend and the figures' table (or its empty state)."""
    _check(chart)
    caption = format_html('<figcaption class="chart-caption">{}</figcaption>', chart.title)
    if chart.is_empty:
        body = format_html('<p class="chart-empty">{}</p>', chart.empty)
    else:
        body = SafeString(chart_svg(chart=chart) + _legend(chart) + _table(chart))
    return format_html('<figure class="chart" id="{}">{}{}</figure>', chart.key, caption, body)


def chart_svg(*, chart: Chart) -> SafeString:
    """The drawing alone: axes, grid, bars or lines, and a <title> on every mark for hovering."""
    _check(chart)
    top = nice_ceiling(max((max(s.values, default=0) for s in chart.series), default=0))
    plot = _Plot(len(chart.labels), top)
    marks = _bars(chart, plot) if chart.kind == "bars" else _lines(chart, plot)
    return format_html(
        '<svg class="chart-svg chart-{kind}" xmlns="http://www.w3.org/2000/svg" '
        'viewBox="0 0 {w} {h}" role="img" aria-labelledby="{key}-title {key}-desc">'
        '<title id="{key}-title">{title}</title><desc id="{key}-desc">{desc}</desc>'
        "{grid}{x_labels}{marks}</svg>",
        kind=chart.kind,
        w=WIDTH,
        h=HEIGHT,
        key=chart.key,
        title=chart.title,
        desc=chart.description,
        grid=_grid(plot),
        x_labels=_x_labels(chart, plot),
        marks=marks,
    )


def nice_ceiling(value: int) -> int:
    """The axis' top: _TICKS steps of a round whole number (1, 2, 2.5 … 8 × 10ⁿ), ≥ `value`."""
    step_min = max(value, 1) / _TICKS
    magnitude = 10 ** math.floor(math.log10(step_min))
    for nice in (1, 2, 2.5, 3, 4, 5, 6, 8, 10):
        step = nice * magnitude
        if step >= step_min and step == int(step) and step >= 1:
            return int(step) * _TICKS
    return math.ceil(step_min) * _TICKS  # a step under 1: one a tick


@dataclass(frozen=True)
class _Plot:
    """Where a label's slot and a value fall inside the drawing."""

    slots: int
    top: int

    @property
    def width(self) -> float:
        return WIDTH - _LEFT - _RIGHT

    @property
    def height(self) -> float:
        return HEIGHT - _TOP - _BOTTOM

    @property
    def slot(self) -> float:
        return self.width / max(self.slots, 1)

    def x(self, index: int) -> float:
        """The middle of the label's slot."""
        return _LEFT + self.slot * (index + 0.5)

    def y(self, value: int) -> float:
        return _TOP + self.height * (1 - value / self.top)


def _check(chart: Chart) -> None:
    for series in chart.series:
        if len(series.values) != len(chart.labels):
            raise ValueError(
                f"{chart.key}: series {series.name!r} has {len(series.values)} values "
                f"for {len(chart.labels)} labels"
            )
        if any(value < 0 for value in series.values):
            raise ValueError(f"{chart.key}: series {series.name!r} has a negative value")


def _n(value: float) -> str:
    """A coordinate, short: one decimal at most."""
    return f"{value:.1f}".removesuffix(".0")


def _grid(plot: _Plot) -> SafeString:
    values = [plot.top * tick // _TICKS for tick in range(_TICKS + 1)]
    lines = format_html_join(
        "",
        '<line class="chart-{}" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="chart-tick" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">'
        "{}</text>",
        (
            (
                "grid" if value else "axis",
                _LEFT,
                WIDTH - _RIGHT,
                _n(plot.y(value)),
                _n(plot.y(value)),
                _LEFT - 6,
                _n(plot.y(value)),
                f"{value:,}",
            )
            for value in values
        ),
    )
    return format_html('<g aria-hidden="true">{}</g>', lines)


def _x_labels(chart: Chart, plot: _Plot) -> SafeString:
    every = math.ceil(len(chart.labels) / _X_LABELS_MAX)
    shown = [(i, label) for i, label in enumerate(chart.labels) if i % every == 0]
    # Of many labels, every other one is "minor": a phone, where the drawing is half as wide,
    # leaves those out.
    minor = len(shown) > _X_LABELS_MAX // 2
    return format_html(
        '<g aria-hidden="true">{}</g>',
        format_html_join(
            "",
            '<text class="chart-tick{}" x="{}" y="{}" text-anchor="middle" '
            'dominant-baseline="hanging">{}</text>',
            (
                (
                    " chart-tick-minor" if minor and n % 2 else "",
                    _n(plot.x(i)),
                    HEIGHT - _BOTTOM + 8,
                    label,
                )
                for n, (i, label) in enumerate(shown)
            ),
        ),
    )


def _bars(chart: Chart, plot: _Plot) -> SafeString:
    group = plot.slot * 0.8
    width = group / len(chart.series)
    groups = []
    for n, series in enumerate(chart.series):
        rects = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}"><title>{}, {}: {}</title></rect>',
            (
                (
                    _n(plot.x(i) - group / 2 + n * width),
                    _n(plot.y(value)),
                    _n(max(width - 1, 1)),
                    _n(plot.y(0) - plot.y(value)),
                    series.name,
                    chart.labels[i],
                    f"{value:,}",
                )
                for i, value in enumerate(series.values)
                if value
            ),
        )
        groups.append(format_html('<g class="chart-tone-{}">{}</g>', n % TONES, rects))
    return SafeString("".join(groups))


def _lines(chart: Chart, plot: _Plot) -> SafeString:
    groups = []
    for n, series in enumerate(chart.series):
        points = " ".join(f"{_n(plot.x(i))},{_n(plot.y(v))}" for i, v in enumerate(series.values))
        dots = format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="2.5"><title>{}, {}: {}</title></circle>',
            (
                (_n(plot.x(i)), _n(plot.y(v)), series.name, chart.labels[i], f"{v:,}")
                for i, v in enumerate(series.values)
            ),
        )
        groups.append(
            format_html(
                '<g class="chart-tone-{}"><polyline class="chart-line" points="{}"/>{}</g>',
                n % TONES,
                points,
                dots,
            )
        )
    return SafeString("".join(groups))


def _legend(chart: Chart) -> SafeString:
    # The key's swatch is decoration: the series' name is the text next to it.
    return format_html(
        '<ul class="chart-legend">{}</ul>',
        format_html_join(
            "",
            '<li><span class="chart-key chart-tone-{}" aria-hidden="true"></span>{}</li>',
            ((n % TONES, series.name) for n, series in enumerate(chart.series)),
        ),
    )


def _table(chart: Chart) -> SafeString:
    head = format_html_join("", '<th scope="col">{}</th>', ((s.name,) for s in chart.series))
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th>{}</tr>',
        (
            (label, _cells(s.values[i] for s in chart.series))
            for i, label in enumerate(chart.labels)
        ),
    )
    return format_html(
        '<details class="chart-figures"><summary>The figures of “{}”</summary>'
        '<table><thead><tr><th scope="col">{}</th>{}</tr></thead><tbody>{}</tbody></table>'
        "</details>",
        chart.title,
        chart.axis,
        head,
        rows,
    )


def _cells(values: Iterable[int]) -> SafeString:
    return format_html_join("", '<td class="chart-num">{}</td>', ((f"{v:,}",) for v in values))
