"""Editors' curation in headless Chromium, desktop and phone: build an issue, pin and hide beside
its candidates, the pin search, a "send now" that would reach nobody. PNGs in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from digest import services
from digest.models import Issue, IssueHide, IssuePin
from papers.ingest import papers_ingest
from papers.models import Paper
from papers.sources.hf_api import parse
from subscriptions.models import Subscriber
from tests.factories import reader_create
from tests.helpers import CANDIDATES, SHOTS, WIDTHS, fixture_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The real November 2025 month of HF papers: the issue of the 25th takes the 24th's papers, among
# them "SAM 3"; "SAM 3D" (the 21st) and "MedSAM3" (the 26th) are other papers.
DAY = dt.date(2025, 11, 25)
SAM_3 = "2511.16719"


def _real_month() -> None:
    papers_ingest(records=parse(fixture_bytes(CANDIDATES)).records, fetch_run=None)


def _editor_page(browser: Any, live_server: Any, device: str) -> tuple[Any, Any, list[str]]:
    """A page at the device's width, a superuser logged in by cookie, and the CSP complaints."""
    user = User.objects.create_superuser("editor", "editor@example.org", "pw")
    client = Client()
    client.force_login(user)
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    # No network in tests: only the live server answers.
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    complaints: list[str] = []
    page.on(
        "console",
        lambda message: (
            complaints.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return context, page, complaints


def _shot(page: Any, name: str, device: str) -> None:
    """The whole page at the device's width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{device}.png"), full_page=True)


def _fits(page: Any) -> bool:
    """Nothing wider than the viewport: no sideways scrolling on a phone."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_an_editor_builds_an_issue_from_the_list(
    browser: Any, live_server: Any, device: str
) -> None:
    _real_month()
    context, page, complaints = _editor_page(browser, live_server, device)
    try:
        page.goto(live_server.url + reverse("admin:digest_issue_changelist"))
        expect(page.locator(".issue-list-hint")).to_be_visible()
        _shot(page, "admin-issue-list-empty", device)
        page.get_by_role("link", name="Build issue…").click()
        page.get_by_label("Date").fill(f"{DAY:%Y-%m-%d}")
        page.get_by_role("button", name="Show its candidates").click()

        count = page.locator(".issue-build-count").inner_text()
        assert re.fullmatch(r"\d+ candidates", count), count
        expect(page.locator("ol.issue-build-titles li")).to_have_count(10)
        assert not Issue.objects.exists()
        _shot(page, "admin-issue-build", device)
        page.get_by_role("button", name="Build this issue").click()
        page.wait_for_url("**/change/")

        issue = Issue.objects.get()
        assert page.url.endswith(reverse("admin:digest_issue_change", args=[issue.pk]))
        page.wait_for_load_state("networkidle")
        assert f"Built {issue} with {count}" in page.locator(".messagelist .success").inner_text()
        assert not complaints, complaints
    finally:
        context.close()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_an_editor_pins_and_hides_beside_the_candidates(
    browser: Any, live_server: Any, device: str
) -> None:
    _real_month()
    issue = services.issue_build(date=DAY)
    first, second = Paper.objects.filter(arxiv_id__in=issue.candidate_ids[:2]).order_by("-upvotes")
    context, page, complaints = _editor_page(browser, live_server, device)
    try:
        page.goto(live_server.url + reverse("admin:digest_issue_change", args=[issue.pk]))
        page.locator(f"#candidate-{first.pk}").get_by_role("button", name="Pin").click()
        expect(
            page.locator(f"#candidate-{first.pk}").get_by_role("button", name="Unpin")
        ).to_be_visible()
        page.locator(f"#candidate-{second.pk}").get_by_role("button", name="Hide").click()
        expect(
            page.locator(f"#candidate-{second.pk}").get_by_role("button", name="Unhide")
        ).to_be_visible()

        assert list(IssuePin.objects.values_list("paper_id", flat=True)) == [first.pk]
        assert list(IssueHide.objects.values_list("paper_id", flat=True)) == [second.pk]
        pinned, hidden = (
            page.locator(f"#candidate-{first.pk}"),
            page.locator(f"#candidate-{second.pk}"),
        )
        expect(pinned.get_by_role("button", name="Unpin")).to_be_visible()
        assert "pinned" in pinned.inner_text()
        expect(hidden.get_by_role("button", name="Unhide")).to_be_visible()
        expect(page.get_by_text("Unhide it to undo.")).to_be_visible()
        # The pin stands in the pins' inline too, under the candidates' own buttons.
        assert page.locator("#pins-group .select2-container").count() == 1
        if device == "phone":
            assert _fits(page)
        assert not complaints, complaints
        # The candidates as the editor sees them after the click (the page opens at the row).
        pinned.evaluate("row => row.scrollIntoView({block: 'start'})")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"admin-issue-candidates-{device}.png"))
        page.evaluate("window.scrollTo(0, 0)")
        _shot(page, "admin-issue-pin-hide", device)
    finally:
        context.close()


def test_the_pin_search_offers_the_issues_candidates_first_and_sam_3_first(
    browser: Any, live_server: Any
) -> None:
    # Imported here, as the browser fixture does: playwright is optional.

    _real_month()
    issue = services.issue_build(date=DAY)
    assert SAM_3 in issue.candidate_ids
    context, page, complaints = _editor_page(browser, live_server, "desktop")
    try:
        page.goto(live_server.url + reverse("admin:digest_issue_change", args=[issue.pk]))
        page.locator("#pins-group .add-row a").click()
        page.locator("#pins-group .select2-selection").last.click()
        page.locator(".select2-search__field").fill("SAM 3")
        options = page.locator(".select2-results__options--nested .select2-results__option")
        # Opening the field lists every candidate and more: wait for the answer to "SAM 3".
        expect(options).to_have_count(3)

        groups = page.locator(".select2-results__group").all_inner_texts()
        assert groups[0] == "Candidates of this issue"
        assert options.first.inner_text().startswith(f"{SAM_3} SAM 3: Segment Anything")
        assert [text.split(" ", 1)[0] for text in options.all_inner_texts()] == [
            SAM_3,
            "2511.16624",  # SAM 3D, a candidate too
            "2511.19046",  # MedSAM3, another day's paper
        ]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "admin-issue-pin-search-desktop.png"))
        options.first.click()
        page.get_by_role("button", name="Save and continue editing").click()

        assert list(IssuePin.objects.values_list("paper__arxiv_id", flat=True)) == [SAM_3]
        assert not complaints, complaints
    finally:
        context.close()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_send_now_to_nobody_says_why_without_a_button(
    browser: Any, live_server: Any, device: str
) -> None:
    _real_month()
    issue = services.issue_build(date=DAY)
    reader_create(frequency=Subscriber.Frequency.WEEKLY)
    reader_create(status=Subscriber.Status.PAUSED)
    reader_create(status=Subscriber.Status.PENDING, confirmed_at=None)
    context, page, complaints = _editor_page(browser, live_server, device)
    try:
        page.goto(live_server.url + reverse("admin:digest_issue_change", args=[issue.pk]))
        page.get_by_role("link", name="Send now…").click()

        expect(page.locator(".send-now-nobody")).to_be_visible()  # waits for the navigation
        assert page.locator(".send-now-left-out li").count() == 3
        assert page.get_by_role("button", name="Yes, send it now").count() == 0
        expect(page.get_by_role("link", name="build the weekly issue of this date")).to_be_visible()
        if device == "phone":
            assert _fits(page)
        assert not complaints, complaints
        _shot(page, "admin-issue-send-now-nobody", device)
        issue.refresh_from_db()
        assert issue.status == Issue.Status.SCHEDULED
    finally:
        context.close()
