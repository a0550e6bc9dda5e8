"""Thumbnails: fetched by the worker with care, stored, and served by the site itself.

No network: HTTP is stubbed with `responses`, and name lookups (the SSRF guard resolves every
host) with a fake getaddrinfo that knows a few hosts.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket
import struct
import zlib
from io import StringIO
from typing import Any

import pytest
import requests
import responses
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.utils import timezone

from papers import thumbnails
from papers.models import Paper, PaperThumbnail
from papers.selectors import paper_list_thumbnail_due
from papers.services import papers_load_file
from papers.thumbnails import THUMBNAIL_MAX_BYTES, thumbnail_fetch, thumbnails_fetch_due
from tests.factories import PaperFactory
from tests.helpers import SHOTS, WIDTHS

pytestmark = pytest.mark.django_db

CDN = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers"
ADDRESSES = {
    "cdn-thumbnails.huggingface.co": "18.239.50.80",
    "images.example.org": "93.184.215.14",
    "intranet.example.org": "10.0.0.7",
    "metadata.example.org": "169.254.169.254",
    "sneaky.example.org": "::ffff:127.0.0.1",
}


def png(width: int = 32, height: int = 18, rgb: tuple[int, int, int] = (37, 99, 235)) -> bytes:
    """A real PNG of one colour (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
GIF = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 32


@pytest.fixture(autouse=True)
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Resolve the known hosts to their addresses; any other name fails, as offline."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        asked.append(host)
        address = ADDRESSES.get(host)
        if address is None:
            try:  # a literal address resolves to itself, network or not
                return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
            except OSError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, 443))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def paper_with(url: str, **fields: object) -> Paper:
    return PaperFactory.create(thumbnail=url, **fields)


# --- Fetching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(png(), "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (GIF, "image/gif")],
    ids=["png", "jpeg", "webp", "gif"],
)
@responses.activate
def test_it_stores_an_image_with_the_type_its_bytes_show(body: bytes, content_type: str) -> None:
    paper = paper_with(f"{CDN}/2511.10001.png")
    # The server's word is not taken: the bytes decide.
    responses.get(paper.thumbnail, body=body, content_type="application/octet-stream")

    stored = thumbnail_fetch(paper=paper)

    assert (stored.content_type, bytes(stored.data), stored.error) == (content_type, body, "")
    assert stored.source_url == paper.thumbnail


@responses.activate
def test_it_refuses_a_body_over_the_size_cap_and_stops_reading() -> None:
    paper = paper_with(f"{CDN}/2511.10002.png")
    responses.get(paper.thumbnail, body=png() + b"\x00" * THUMBNAIL_MAX_BYTES)

    stored = thumbnail_fetch(paper=paper)

    assert stored.content_type == ""
    assert bytes(stored.data) == b""
    assert stored.error == f"body larger than {THUMBNAIL_MAX_BYTES} bytes"


@pytest.mark.parametrize(
    "body",
    [b"<html><script>alert(1)</script></html>", b'<svg xmlns="http://www.w3.org/2000/svg"/>', b""],
    ids=["html", "svg", "empty"],
)
@responses.activate
def test_it_refuses_what_is_not_a_png_jpeg_webp_or_gif_whatever_it_is_called(body: bytes) -> None:
    paper = paper_with(f"{CDN}/2511.10003.png")
    responses.get(paper.thumbnail, body=body, content_type="image/png")

    stored = thumbnail_fetch(paper=paper)

    assert (stored.content_type, bytes(stored.data)) == ("", b"")
    assert stored.error == "not an image (PNG, JPEG, WebP or GIF)"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://images.example.org/a.png", "not a plain https URL"),
        ("https://user:pw@images.example.org/a.png", "not a plain https URL"),
        ("file:///etc/passwd", "not a plain https URL"),
        ("https://images.example.org:99999/a.png", "not a plain https URL"),
        ("https://127.0.0.1/a.png", "is not a public address (127.0.0.1)"),
        ("https://[::1]/a.png", "is not a public address (::1)"),
        ("https://intranet.example.org/a.png", "is not a public address (10.0.0.7)"),
        ("https://metadata.example.org/latest", "is not a public address (169.254.169.254)"),
        ("https://sneaky.example.org/a.png", "is not a public address (127.0.0.1)"),
    ],
    ids=[
        "http",
        "credentials",
        "file",
        "bad-port",
        "loopback",
        "ipv6-loopback",
        "private",
        "metadata",
        "v4-in-v6",
    ],
)
def test_it_never_requests_a_url_that_is_not_https_on_a_public_host(url: str, reason: str) -> None:
    paper = paper_with(url)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        stored = thumbnail_fetch(paper=paper)
        assert len(mock.calls) == 0  # refused before any request

    assert (stored.content_type, bytes(stored.data)) == ("", b"")
    assert reason in stored.error
    assert not stored.error.startswith("temporary")  # never asked again


@responses.activate
def test_it_does_not_follow_a_redirect_whose_target_was_never_checked() -> None:
    paper = paper_with(f"{CDN}/2511.10004.png")
    responses.get(paper.thumbnail, status=302, headers={"Location": "http://10.0.0.7/secret"})

    stored = thumbnail_fetch(paper=paper)

    assert len(responses.calls) == 1
    assert stored.content_type == ""
    assert "HTTP 302" in stored.error


@pytest.mark.parametrize(
    ("answer", "temporary"),
    [
        ({"status": 503}, True),
        ({"body": requests.ConnectTimeout("timed out")}, True),
        ({"status": 404}, False),
    ],
    ids=["503", "timeout", "404"],
)
@responses.activate
def test_only_a_temporary_failure_is_tried_again_an_hour_later(
    answer: dict, temporary: bool, time_machine
) -> None:
    time_machine.move_to(dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC))
    paper = paper_with(f"{CDN}/2511.10005.png")
    responses.get(paper.thumbnail, **answer)

    stored = thumbnail_fetch(paper=paper)
    soon = paper_list_thumbnail_due(now=timezone.now() + dt.timedelta(minutes=59), limit=10)
    later = paper_list_thumbnail_due(now=timezone.now() + dt.timedelta(minutes=61), limit=10)

    assert stored.error.startswith("temporary: ") is temporary
    assert soon == []
    assert later == ([paper] if temporary else [])


@responses.activate
def test_a_paper_whose_thumbnail_url_changed_is_due_again() -> None:
    paper = paper_with(f"{CDN}/2511.10006.png")
    responses.get(paper.thumbnail, body=png())
    thumbnail_fetch(paper=paper)
    assert paper_list_thumbnail_due(now=timezone.now(), limit=10) == []

    Paper.objects.filter(pk=paper.pk).update(thumbnail=f"{CDN}/2511.10006-v2.png")

    assert paper_list_thumbnail_due(now=timezone.now(), limit=10) == [paper]


def test_offline_every_thumbnail_fails_once_quickly_in_one_log_line(
    lookups: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    # The sample's thumbnails, with no network: the CDN's name does not resolve.
    papers = [paper_with(f"https://offline-cdn.example.org/{n}.png") for n in range(30)]
    paper_with("")  # no thumbnail: nothing to do

    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
        caplog.at_level(logging.DEBUG, logger="papers"),
    ):
        counts = thumbnails_fetch_due()
        assert len(mock.calls) == 0

    assert (counts.stored, dict(counts.failed)) == (0, {"temporary": 30})
    assert lookups.count("offline-cdn.example.org") == 1  # one lookup, not thirty
    rows = PaperThumbnail.objects.filter(paper__in=papers)
    assert rows.count() == 30
    assert {row.error for row in rows} == {"temporary: cannot connect (DNS lookup failed)"}
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "thumbnails: 0 stored, failed: 30 temporary")
    ]
    assert caplog.records[0].exc_info is None


@override_settings(PAPERBOY_THUMBNAILS_ON_CHANGE=True)
def test_new_papers_get_their_thumbnails_fetched_after_the_ingest(tmp_path) -> None:
    raw = (
        b'[{"paper": {"id": "2511.20001", "title": "Sparse attention at scale", '
        b'"authors": [{"name": "Ada Lovelace"}], "summary": "We study it.", '
        b'"publishedAt": "2025-11-19T12:00:00.000Z", "upvotes": 3}, '
        b'"publishedAt": "2025-11-20T08:00:00.000Z", "title": "Sparse attention at scale", '
        b'"thumbnail": "' + CDN.encode() + b'/2511.20001.png", "numComments": 0}]'
    )
    path = tmp_path / "day.json"
    path.write_bytes(raw)

    with responses.RequestsMock() as mock:
        mock.get(f"{CDN}/2511.20001.png", body=png())
        run = papers_load_file(path=path)  # the worker runs the task eagerly in tests

    assert run.status == "succeeded"
    stored = PaperThumbnail.objects.get(paper__arxiv_id="2511.20001")
    assert (stored.content_type, bytes(stored.data)) == ("image/png", png())


# --- Serving --------------------------------------------------------------------------------


def stored_thumbnail(paper: Paper, data: bytes = b"", content_type: str = "image/png") -> None:
    PaperThumbnail.objects.create(
        paper=paper,
        source_url=paper.thumbnail,
        content_type=content_type,
        data=data or png(),
        fetched_at=dt.datetime(2026, 11, 30, 9, 30, 15, tzinfo=dt.UTC),
    )


def test_it_serves_the_stored_image_with_its_type_validators_and_a_long_cache(
    client: Client,
) -> None:
    paper = paper_with(f"{CDN}/2511.10007.png", arxiv_id="2511.10007")
    stored_thumbnail(paper)
    version = int(dt.datetime(2026, 11, 30, 9, 30, 15, tzinfo=dt.UTC).timestamp())

    response = client.get(f"/papers/2511.10007/thumbnail?v={version}")
    unversioned = client.get("/papers/2511.10007/thumbnail")
    again = client.get(
        f"/papers/2511.10007/thumbnail?v={version}", HTTP_IF_NONE_MATCH=response["ETag"]
    )
    since = client.get(
        "/papers/2511.10007/thumbnail", HTTP_IF_MODIFIED_SINCE=response["Last-Modified"]
    )

    assert response.status_code == 200
    assert response.content == png()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Last-Modified"] == "Mon, 30 Nov 2026 09:30:15 GMT"
    assert response["ETag"] == f'"{paper.pk}-{version}"'
    assert set(response["Cache-Control"].split(", ")) == {
        "public",
        "max-age=31536000",
        "immutable",
    }
    # Without the version the URL may later show another image: a day, not a year.
    assert set(unversioned["Cache-Control"].split(", ")) == {"public", "max-age=86400"}
    assert (again.status_code, again.content) == (304, b"")
    assert since.status_code == 304


def test_it_answers_404_without_a_stored_image(client: Client) -> None:
    never = paper_with(f"{CDN}/a.png", arxiv_id="2511.10008")
    failed = paper_with(f"{CDN}/b.png", arxiv_id="2511.10009")
    PaperThumbnail.objects.create(
        paper=failed, source_url=failed.thumbnail, error="HTTP 404", fetched_at=timezone.now()
    )
    hidden = paper_with(f"{CDN}/c.png", arxiv_id="2511.10010", hidden=True)
    stored_thumbnail(hidden)

    for paper in (never, failed, hidden):
        assert client.get(f"/papers/{paper.arxiv_id}/thumbnail").status_code == 404
    assert client.get("/papers/2511.99999/thumbnail").status_code == 404
    assert client.post("/papers/2511.10010/thumbnail").status_code == 405


def test_the_pages_show_our_copy_and_never_the_cdn(client: Client) -> None:
    shown = paper_with(f"{CDN}/2511.10011.png", arxiv_id="2511.10011", upvotes=50)
    stored_thumbnail(shown)
    failed = paper_with(f"{CDN}/2511.10012.png", arxiv_id="2511.10012", upvotes=40)
    PaperThumbnail.objects.create(
        paper=failed, source_url=failed.thumbnail, error="HTTP 404", fetched_at=timezone.now()
    )
    paper_with(f"{CDN}/2511.10013.png", arxiv_id="2511.10013", upvotes=30)  # not fetched yet
    version = int(dt.datetime(2026, 11, 30, 9, 30, 15, tzinfo=dt.UTC).timestamp())
    ours = f'src="/papers/2511.10011/thumbnail?v={version}"'

    listing = client.get("/papers/date/2025-11-20/").content.decode()
    shown_page = client.get("/papers/2511.10011/").content.decode()
    other_pages = [
        client.get(f"/papers/{n}/").content.decode() for n in ("2511.10012", "2511.10013")
    ]

    assert listing.count(ours) == 1
    assert listing.count('class="card__thumb"') == 1
    assert shown_page.count(ours) == 1
    assert 'class="paper__thumb"' in shown_page
    for html in (listing, shown_page, *other_pages):
        assert "cdn-thumbnails" not in html
    for html in other_pages:
        assert "paper__thumb" not in html
        assert "/thumbnail" not in html


def test_the_listing_learns_of_every_thumbnail_in_one_query(
    client: Client, django_assert_max_num_queries
) -> None:
    for n in range(20):
        stored_thumbnail(paper_with(f"{CDN}/{n}.png", arxiv_id=f"2511.{20100 + n}"))
    client.get("/papers/date/2025-11-20/")  # warm up (sessions, content types)

    with django_assert_max_num_queries(6):
        html = client.get("/papers/date/2025-11-20/").content.decode()

    assert html.count('class="card__thumb"') == 20


def test_the_module_caps_thumbnails_at_512_kb() -> None:
    assert thumbnails.THUMBNAIL_MAX_BYTES == 512 * 1024


# --- In a browser ---------------------------------------------------------------------------

COLOURS = [(37, 99, 235), (220, 38, 38), (22, 163, 74), (202, 138, 4), (147, 51, 234)]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("device", list(WIDTHS))
def test_a_reader_s_browser_loads_thumbnails_from_the_site_only(
    browser, live_server, device: str
) -> None:
    papers = [
        paper_with(f"{CDN}/2511.{30000 + n}.png", arxiv_id=f"2511.{30000 + n}", upvotes=90 - n)
        for n in range(5)
    ]
    for paper, rgb in zip(papers, COLOURS, strict=True):
        stored_thumbnail(paper, data=png(320, 180, rgb))
    elsewhere: list[str] = []
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height})

    def refuse(route: Any) -> None:
        elsewhere.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), refuse)
    page = context.new_page()
    try:
        for path, name in (("/papers/date/2025-11-20/", "day"), ("/papers/2511.30000/", "paper")):
            page.goto(live_server.url + path)
            page.wait_for_load_state("networkidle")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"thumbnails-{name}-{device}.png"), full_page=True)
            images = page.locator("img.card__thumb, img.paper__thumb")
            assert images.count() == (5 if name == "day" else 1)
            # Cards hide their thumbnail on a phone (CSS): only those displayed load (lazily).
            shown = images.evaluate_all(
                "els => els.filter(el => el.getClientRects().length)"
                ".map(el => [el.complete, el.naturalWidth])"
            )
            assert shown == [[True, 320]] * len(shown)
            assert len(shown) == (0 if (name, device) == ("day", "phone") else images.count())
    finally:
        context.close()

    assert elsewhere == []  # no third party was asked for anything


# --- The command ----------------------------------------------------------------------------


@responses.activate
def test_the_command_fetches_the_due_thumbnails_or_given_papers_again() -> None:
    first = paper_with(f"{CDN}/2511.40001.png", arxiv_id="2511.40001")
    responses.get(first.thumbnail, body=png())
    out = StringIO()

    call_command("fetch_thumbnails", stdout=out)
    call_command("fetch_thumbnails", stdout=out)  # nothing due any more
    responses.replace(responses.GET, first.thumbnail, body=JPEG)
    call_command("fetch_thumbnails", "2511.40001", stdout=out)

    assert out.getvalue().splitlines() == ["1 stored", "0 stored", "1 stored"]
    assert PaperThumbnail.objects.get(paper=first).content_type == "image/jpeg"


def test_the_command_refuses_unknown_papers_and_fetches_nothing() -> None:
    paper_with(f"{CDN}/2511.40002.png", arxiv_id="2511.40002")

    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
        pytest.raises(CommandError, match=r"no such paper: 2511\.99999 \(nothing was fetched\)"),
    ):
        call_command("fetch_thumbnails", "2511.40002", "2511.99999")
    assert len(mock.calls) == 0
    assert not PaperThumbnail.objects.exists()
