"""Look at the pages in headless Chromium, desktop and phone widths; PNGs go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from papers.ingest import papers_ingest, papers_search_index
from papers.models import Paper
from papers.sources.hf_api import parse
from tests.factories import PaperMetricFactory
from tests.helpers import SHOTS, WIDTHS, fixture_bytes

MONTH_PAGE = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _load_papers() -> None:
    """Real papers from a captured HF response, through the real ingest and search indexing."""
    papers_ingest(records=parse(fixture_bytes(MONTH_PAGE)).records, fetch_run=None)
    papers_search_index()


def _latest_day_items() -> tuple[str, list[dict[str, Any]]]:
    items = json.loads(fixture_bytes(MONTH_PAGE))
    latest = max(item["paper"]["submittedOnDailyAt"][:10] for item in items)
    on_day = [item for item in items if item["paper"]["submittedOnDailyAt"][:10] == latest]
    return latest, sorted(on_day, key=lambda item: (-item["paper"]["upvotes"], item["paper"]["id"]))


def _give_history(arxiv_id: str) -> None:
    """Snapshots over the last day (so the trending growth, hence the order, is unchanged)."""
    paper = Paper.objects.get(arxiv_id=arxiv_id)
    start = timezone.now() - dt.timedelta(hours=22)
    for step, share in enumerate([0.05, 0.2, 0.45, 0.6, 0.8, 0.9, 1.0]):
        PaperMetricFactory.create(
            paper=paper,
            upvotes=round(paper.upvotes * share),
            captured_at=start + dt.timedelta(hours=3 * step),
        )


def _title(item: dict[str, Any]) -> str:
    return " ".join(item["paper"]["title"].split())


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _fits_width(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("device", list(WIDTHS))
def test_it_looks_right_in_chromium(browser, live_server, device: str) -> None:
    _load_papers()
    latest, ranked = _latest_day_items()
    top = ranked[0]
    _give_history(top["paper"]["id"])
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height})
    # No network in tests: only the live server answers; thumbnails from HF's CDN fail quietly.
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        expect(page.get_by_role("heading", name="Daily papers", level=1)).to_be_visible()
        day = dt.date.fromisoformat(latest)
        expect(page.get_by_text(f"{day:%A}, {day:%B} {day.day}, {day.year}")).to_be_visible()
        first_card = page.locator(".cards > li").first
        expect(first_card.get_by_role("link", name=_title(top))).to_be_visible()
        assert page.locator(".cards > li").count() == len(ranked)
        expect(
            page.get_by_role("heading", name="Get trending papers in your email inbox")
        ).to_be_visible()
        expect(page.get_by_label("Email address")).to_be_visible()
        assert _fits_width(page)
        _shot(page, f"home-{device}")

        first_card.get_by_role("link", name=_title(top)).click()
        page.wait_for_url(f"**/papers/{top['paper']['id']}/")
        expect(page.get_by_role("heading", name=_title(top), level=1)).to_be_visible()
        expect(page.get_by_role("heading", name="Abstract")).to_be_visible()
        expect(
            page.get_by_role("img", name=re.compile(r"Upvotes went from \d+ to \d+"))
        ).to_be_visible()
        assert _fits_width(page)
        _shot(page, f"paper-{device}")

        page.goto(live_server.url + "/search/?q=" + _title(top).split()[0])
        expect(page.get_by_role("heading", name="Search papers", level=1)).to_be_visible()
        expect(page.get_by_role("status")).to_be_visible()
        expect(page.locator(".card__title").first).to_be_visible()
        assert _fits_width(page)
        _shot(page, f"search-{device}")

        page.goto(live_server.url + f"/papers/week/{day:%G-W%V}/")
        expect(page.get_by_role("heading", name="Weekly papers", level=1)).to_be_visible()
        assert _fits_width(page)
        _shot(page, f"week-{device}")
    finally:
        context.close()


def test_it_has_a_dark_mode_and_a_skip_link(browser, live_server) -> None:
    _load_papers()
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 17, 21)"
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_visible()
        assert skip.evaluate("element => element === document.activeElement")
        _shot(page, "home-phone-dark")
    finally:
        context.close()
