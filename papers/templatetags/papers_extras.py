"""Template helpers for the papers pages: safe external links, short numbers, sparklines."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from django import template

from papers.models import PaperMetric

register = template.Library()

_SPARK_WIDTH = 240
_SPARK_HEIGHT = 48
_SPARK_PAD = 3


@register.filter
def external_url(value: str | None) -> str:
    """The URL if an absolute http(s) link to a host, else "" (no javascript:, data:, relative)."""
    if not value or not isinstance(value, str):
        return ""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return ""
    return value.strip()


@register.filter
def compact(value: int | None) -> str:
    """1234 -> "1.2k", 56789 -> "56.8k", 1500000 -> "1.5M"; small numbers unchanged."""
    if value is None:
        return ""
    number = int(value)
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(number) >= size:
            return f"{number / size:.1f}".rstrip("0").rstrip(".") + suffix
    return str(number)


@register.simple_tag
def sparkline_points(metrics: Sequence[PaperMetric]) -> str:
    """SVG polyline points for the upvotes over time, scaled to the sparkline box.

    The points are numbers this function computes, never text from a source, so they are
    safe to place in the SVG attribute (Django escapes the string anyway).
    """
    if len(metrics) < 2:
        return ""
    start = metrics[0].captured_at.timestamp()
    span = (metrics[-1].captured_at.timestamp() - start) or 1.0
    low = min(metric.upvotes for metric in metrics)
    high = max(metric.upvotes for metric in metrics)
    rise = (high - low) or 1
    inner_w = _SPARK_WIDTH - 2 * _SPARK_PAD
    inner_h = _SPARK_HEIGHT - 2 * _SPARK_PAD
    points = []
    for metric in metrics:
        x = _SPARK_PAD + inner_w * (metric.captured_at.timestamp() - start) / span
        y = _SPARK_PAD + inner_h * (1 - (metric.upvotes - low) / rise)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)
