"""Template helpers for the papers pages: safe links, short numbers, summaries, sparklines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlsplit

from django import template

from papers.models import Paper, PaperMetric
from papers.text import SUMMARY_MAX_CHARS, summary_text

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


_IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "bmp"}
_VIDEO_EXTENSIONS = {"mp4", "webm", "mov", "qt", "m4v", "ogv", "mkv"}
MEDIA_LINKS_SHOWN = 6


@register.filter
def media_links(urls: Sequence[str] | None) -> list[dict[str, str]]:
    """The paper's media as links labelled by kind ("Image", "Video 2"), never as embeds.

    Linked, not shown: an <img> of Hugging Face's CDN would tell it who reads which paper.
    """
    found = [(_media_kind(url), url) for url in map(external_url, (urls or [])[:MEDIA_LINKS_SHOWN])]
    found = [(kind, url) for kind, url in found if url]
    totals = Counter(kind for kind, _ in found)
    numbers: Counter[str] = Counter()
    links = []
    for kind, url in found:
        numbers[kind] += 1
        label = f"{kind} {numbers[kind]}" if totals[kind] > 1 else kind
        links.append({"label": label, "url": url})
    return links


def _media_kind(url: str) -> str:
    extension = urlsplit(url).path.rsplit(".", 1)[-1].lower() if url else ""
    if extension in _IMAGE_EXTENSIONS:
        return "Image"
    return "Video" if extension in _VIDEO_EXTENSIONS else "Media"


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


@register.filter
def summary(paper: Paper, max_chars: int = SUMMARY_MAX_CHARS) -> str:
    """The paper's summary as cards, pages and emails show it (papers.text.summary_text)."""
    return summary_text(paper=paper, max_chars=int(max_chars))


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
