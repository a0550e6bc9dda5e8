"""A newcomer's first screens in headless Chromium: the home page on a phone and a desktop, the
subscribe bar without JavaScript, and the admin at 1280 px. PNGs go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import expect

from papers.ingest import papers_ingest
from papers.models import Paper, PaperMetric
from papers.services import papers_load_file
from papers.sources.hf_api import parse
from tests.factories import PaperMetricFactory
from tests.helpers import FIXTURES, SHOTS, WIDTHS, fixture_bytes

MONTH_PAGE = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _load_papers() -> None:
    """A month of real papers from a captured HF response, through the real ingest."""
    papers_ingest(records=parse(fixture_bytes(MONTH_PAGE)).records, fetch_run=None)


def _page(browser: Any, live_server: Any, device: str, **options: Any) -> tuple[Any, Any]:
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    # No network in tests: only the live server answers.
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    return context, context.new_page()


def _editor_page(browser: Any, live_server: Any, device: str) -> tuple[Any, Any]:
    """A page with a superuser logged in by session cookie."""
    user = User.objects.create_superuser("editor", "editor@example.org", "pw")
    client = Client()
    client.force_login(user)
    context, page = _page(browser, live_server, device)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return context, page


def _shot(page: Any, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _fits_width(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_first_paper_is_on_the_first_screen_beside_a_subscribe_box(
    browser: Any, live_server: Any, device: str
) -> None:
    _load_papers()
    context, page = _page(browser, live_server, device)
    try:
        page.goto(live_server.url + "/")
        _shot(page, f"newcomer-home-{device}")

        screen_height = WIDTHS[device][1]
        first = page.locator(".cards > li").first
        for part in (".card__title", ".card__summary"):
            box = first.locator(part).bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= screen_height, f"{part} is below the first screen"
        bar = page.locator("section.subscribe")
        expect(
            bar.get_by_role("heading", name="Get trending papers in your email inbox")
        ).to_be_visible()
        email = bar.get_by_label("Email address")
        button = bar.get_by_role("button", name="Subscribe")
        expect(email).to_be_visible()
        expect(button).to_be_visible()
        email_box, button_box = email.bounding_box(), button.bounding_box()
        if device == "phone":
            bar_box = bar.bounding_box()
            assert bar_box["height"] <= 120  # a title and one row, not the 290 px sidebar box
            assert abs(email_box["y"] - button_box["y"]) < 8  # address and button on one line
            assert bar_box["y"] < first.bounding_box()["y"]
        else:
            assert button_box["y"] > email_box["y"]  # the sidebar's box: the button below
            expect(bar.get_by_text("A short digest of the papers")).to_be_visible()
        assert _fits_width(page)
    finally:
        context.close()


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_paper_page_dates_each_snapshot_when_it_was_taken(
    browser: Any, live_server: Any, device: str
) -> None:
    # As `make demo` does: the saved response loaded as a file, which snapshots every paper now.
    papers_load_file(path=FIXTURES / MONTH_PAGE)
    paper = Paper.objects.order_by("-upvotes").first()
    assert paper is not None
    start = dt.datetime(2025, 11, 20, 0, 5, tzinfo=dt.UTC)
    for step, share in enumerate([0.1, 0.4, 0.7]):
        PaperMetricFactory.create(
            paper=paper,
            upvotes=round(paper.upvotes * share),
            captured_at=start + dt.timedelta(hours=6 * step),
        )
    context, page = _page(browser, live_server, device)
    try:
        page.goto(live_server.url + f"/papers/{paper.arxiv_id}/")
        history = page.locator("section.history")
        history.scroll_into_view_if_needed()
        _shot(page, f"newcomer-paper-{device}", full_page=True)

        rows = history.locator("tbody tr td:first-child").all_inner_texts()
        assert rows[1:] == ["Nov 20, 2025 12:05", "Nov 20, 2025 06:05", "Nov 20, 2025 00:05"]
        loaded_at = PaperMetric.objects.filter(paper=paper).latest("captured_at").captured_at
        assert rows[0] == f"{loaded_at:%b %-d, %Y %H:%M} (loaded from a saved file)"
        assert history.locator("tbody time").last.get_attribute("datetime") == (
            "2025-11-20T00:05:00+00:00"
        )
        assert _fits_width(page)
    finally:
        context.close()


def test_the_subscribe_bar_works_on_a_phone_without_javascript(browser: Any, live_server: Any):
    _load_papers()
    context, page = _page(browser, live_server, "phone", java_script_enabled=False)
    try:
        page.goto(live_server.url + "/")
        bar = page.locator("section.subscribe")
        bar.get_by_label("Email address").fill("ada@example.org")
        bar.get_by_role("button", name="Subscribe").click()

        page.wait_for_url("**/subscribe/?email=ada%40example.org")
        assert page.get_by_label("Email address").input_value() == "ada@example.org"
    finally:
        context.close()


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_admin_is_paperboys_and_its_paper_list_fits_the_screen(
    browser: Any, live_server: Any, device: str
) -> None:
    _load_papers()
    # The widest row there can be: a long title, featured and hidden at once.
    longest = max(Paper.objects.all(), key=lambda paper: len(paper.title))
    Paper.objects.filter(pk=longest.pk).update(
        featured=True, hidden=True, hf_date=dt.date(2025, 11, 30)
    )
    context, page = _editor_page(browser, live_server, device)
    try:
        page.goto(live_server.url + "/admin/")
        assert page.locator("#site-name").inner_text() == "Paperboy administration"
        expect(page.get_by_role("heading", name="Paperboy", exact=True)).to_be_visible()
        assert "Django" not in page.title()
        _shot(page, f"newcomer-admin-index-{device}")

        page.goto(live_server.url + "/admin/papers/paper/")
        assert page.title() == "Select paper to change | Paperboy administration"
        row = page.locator("#result_list tbody tr").first
        assert row.locator("td.field-state").inner_text() == "featured, hidden"
        _shot(page, f"newcomer-admin-papers-{device}")
        if device == "desktop":
            results = page.evaluate(
                "(() => { const r = document.querySelector('#changelist-form .results');"
                " return [r.scrollWidth, r.clientWidth]; })()"
            )
            assert results[0] <= results[1], f"the paper list scrolls sideways: {results}"
            expect(row.locator("td.field-state")).to_be_visible()
            assert _fits_width(page)
    finally:
        context.close()
