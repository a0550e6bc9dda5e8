"""Paper thumbnails: the worker fetches them and stores them, and the site serves its own copy.

Hot-linking the sources' CDN would break offline and have every reader's browser call a third
party. A thumbnail URL comes from a source, so it is fetched with care: https only, never a
private or loopback address (papers.sources.http.public_https_url_check), no redirects, a size
cap and a timeout, and the body must be a PNG, JPEG, WebP or GIF by its magic bytes (whatever
the server calls it). Every outcome is stored; a temporary failure (network, 429, 5xx) starts
with THUMBNAIL_TEMPORARY and is tried again after THUMBNAIL_RETRY_AFTER, any other failure is
final for that URL. A batch logs one line, not one per paper.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.utils import timezone

from papers.models import Paper, PaperThumbnail
from papers.selectors import THUMBNAIL_TEMPORARY, paper_list_thumbnail_due
from papers.sources.http import (
    FetchError,
    HttpClient,
    TransientFetchError,
    public_https_url_check,
)

logger = logging.getLogger(__name__)

THUMBNAIL_MAX_BYTES = 512 * 1024
THUMBNAIL_TIMEOUT = 10.0  # seconds, per request
THUMBNAIL_BATCH = 200  # thumbnails per task run; the next fetch of papers takes the rest
_MAX_ERROR = 200  # PaperThumbnail.error's length


@dataclass
class ThumbnailCounts:
    """What a batch did: thumbnails stored, and failures by kind."""

    stored: int = 0
    failed: Counter[str] = field(default_factory=Counter)


def image_content_type(data: bytes) -> str:
    """The image type the bytes start with (PNG, JPEG, WebP or GIF), "" for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return ""


def thumbnail_fetch(*, paper: Paper, client: HttpClient | None = None) -> PaperThumbnail:
    """Fetch the paper's thumbnail URL and store the image, or why there is none."""
    url = paper.thumbnail
    client = client or HttpClient(timeout=THUMBNAIL_TIMEOUT, retries=1)
    content_type, data, error = "", b"", ""
    try:
        data = _thumbnail_download(client, url)
        content_type = image_content_type(data)
        if not content_type:
            error = "not an image (PNG, JPEG, WebP or GIF)"
    except TransientFetchError as exc:
        error = THUMBNAIL_TEMPORARY + _reason(exc, url)
    except FetchError as exc:
        error = _reason(exc, url)
    thumbnail, _ = PaperThumbnail.objects.update_or_create(
        paper=paper,
        defaults={
            "source_url": url,
            "content_type": content_type,
            "data": data if content_type else b"",
            "error": error[:_MAX_ERROR],
            "fetched_at": timezone.now(),
        },
    )
    return thumbnail


def _thumbnail_download(client: HttpClient, url: str) -> bytes:
    public_https_url_check(url)
    # Not conditional (we keep the bytes, not the validators), and no redirect: its target
    # would not have been checked.
    fetched = client.get(url, conditional=False, max_bytes=THUMBNAIL_MAX_BYTES, redirects=False)
    if fetched is None or fetched.status != 200:
        status = fetched.status if fetched else 304
        raise FetchError(f"{url}: HTTP {status} (a thumbnail is only taken from a 200)")
    return fetched.content


def _reason(exc: FetchError, url: str) -> str:
    """The error without the URL it starts with (the row holds the URL), on one line."""
    message = " ".join(str(exc).split())
    return message.removeprefix(f"{url}: ")


def thumbnails_fetch_due(*, limit: int = THUMBNAIL_BATCH) -> ThumbnailCounts:
    """Fetch the thumbnails of papers that have none yet (or a temporary failure an hour old).

    When a host fails to answer, the other papers on it are not asked in this batch: they get
    the same temporary failure at once (offline, every thumbnail fails once, quickly).
    """
    counts = ThumbnailCounts()
    client = HttpClient(timeout=THUMBNAIL_TIMEOUT, retries=1)
    down: dict[str, str] = {}  # host -> its temporary failure
    for paper in paper_list_thumbnail_due(now=timezone.now(), limit=limit):
        host = urlsplit(paper.thumbnail).hostname or ""
        if host in down:
            thumbnail = _thumbnail_fail(paper=paper, error=down[host])
        else:
            thumbnail = thumbnail_fetch(paper=paper, client=client)
            if thumbnail.error.startswith(THUMBNAIL_TEMPORARY):
                down[host] = thumbnail.error
        _count(counts, thumbnail)
    _thumbnails_log(counts)
    return counts


def _thumbnail_fail(*, paper: Paper, error: str) -> PaperThumbnail:
    thumbnail, _ = PaperThumbnail.objects.update_or_create(
        paper=paper,
        defaults={
            "source_url": paper.thumbnail,
            "content_type": "",
            "data": b"",
            "error": error[:_MAX_ERROR],
            "fetched_at": timezone.now(),
        },
    )
    return thumbnail


def _count(counts: ThumbnailCounts, thumbnail: PaperThumbnail) -> None:
    """Add one outcome: stored, or failed by kind (temporary or final)."""
    if thumbnail.content_type:
        counts.stored += 1
    else:
        counts.failed[_error_kind(thumbnail.error)] += 1


def _error_kind(error: str) -> str:
    return "temporary" if error.startswith(THUMBNAIL_TEMPORARY) else "final"


def _thumbnails_log(counts: ThumbnailCounts) -> None:
    """One line per batch: a warning when some failed, as a fetch failure is."""
    if not counts.stored and not counts.failed:
        return
    failed = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.failed.items()))
    extra = {"stored": counts.stored, "failed": sum(counts.failed.values())}
    if failed:
        logger.warning("thumbnails: %s stored, failed: %s", counts.stored, failed, extra=extra)
    else:
        logger.info("thumbnails: %s stored", counts.stored, extra=extra)


def thumbnails_refetch(*, papers: list[Paper]) -> ThumbnailCounts:
    """Fetch these papers' thumbnails again now, whatever was stored (an editor's action)."""
    counts = ThumbnailCounts()
    client = HttpClient(timeout=THUMBNAIL_TIMEOUT, retries=1)
    for paper in papers:
        if not paper.thumbnail:
            continue
        _count(counts, thumbnail_fetch(paper=paper, client=client))
    _thumbnails_log(counts)
    return counts
