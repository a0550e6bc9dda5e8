"""The editors' issue page and preview in headless Chromium (desktop); PNGs in test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from digest.models import Delivery, Issue, IssueHide
from papers.models import Paper
from tests.factories import SubscriberFactory
from tests.helpers import SHOTS, WIDTHS, issue_of_a_real_day

NOTE = "Good morning! Two editors' picks on top today."
INTERESTS = "3D human pose estimation, efficient LLM inference"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _issue_of_a_real_day(status: str) -> tuple[Issue, list[Paper]]:
    """The real day's issue, with a hide as well."""
    issue, ranked = issue_of_a_real_day(status=status, note=NOTE)
    IssueHide.objects.create(issue=issue, paper=ranked[1])
    return issue, ranked


def _deliveries_create(issue: Issue) -> None:
    now = timezone.now()
    marks: list[dict[str, Any]] = [
        {"status": "sent", "delivered_at": now, "opened_at": now, "clicked_at": now},
        {"status": "sent", "delivered_at": now},
        {"status": "failed", "error": "550 5.1.1 mailbox unavailable"},
        {"status": "queued"},
    ]
    for fields in marks * 3:
        Delivery.objects.create(issue=issue, subscriber=SubscriberFactory.create(), **fields)


def _editor_page(
    browser: Any, live_server: Any, scheme: str = "light"
) -> tuple[Any, Any, list[str]]:
    """A desktop page, a superuser logged in by session cookie, and the browser's CSP complaints."""
    user = User.objects.create_superuser("editor", "editor@example.org", "pw")
    client = Client()
    client.force_login(user)
    width, height = WIDTHS["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
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


def _shot(page: Any, name: str) -> None:
    """The whole page: the viewport grown to it, as Chromium's full-page capture blanks iframes."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": height})
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.mark.parametrize("status", ["scheduled", "sending"])
def test_the_issue_page_looks_right(browser: Any, live_server: Any, status: str) -> None:
    issue, ranked = _issue_of_a_real_day(status)
    if status == "sending":
        _deliveries_create(issue)
    context, page, complaints = _editor_page(browser, live_server)
    try:
        page.goto(live_server.url + reverse("admin:digest_issue_change", args=[issue.pk]))
        page.wait_for_load_state("networkidle")
        expect(page.get_by_role("link", name="Preview & test")).to_be_visible()
        expect(page.get_by_role("table", name="Ledger")).to_be_visible()
        expect(page.get_by_role("table", name="Provider events")).to_be_visible()
        expect(
            page.get_by_role("link", name=" ".join(ranked[0].title.split())[:60], exact=False).first
        ).to_be_visible()
        if status == "scheduled":
            expect(page.get_by_role("button", name="Back to draft")).to_be_visible()
            assert page.locator("#id_note").input_value() == NOTE
            # The pins' paper fields are the autocomplete (select2) widgets, loaded from our static
            # files.
            assert page.locator("#pins-group .select2-container").count() == 2
        else:
            expect(page.locator(".issue-frozen")).to_be_visible()
            assert page.locator("#id_note").count() == 0
            assert page.locator("td[data-count='failed']").inner_text() == "3"
        assert not complaints, complaints
        _shot(page, f"admin-issue-{status}-desktop")
        if status == "sending":
            page.goto(live_server.url + reverse("admin:digest_issue_changelist"))
            row = page.locator("#result_list tbody tr").first
            assert row.locator("td.field-failed").inner_text() == "3"
            assert row.locator("td.field-delivered").inner_text() == "6"
            _shot(page, "admin-issue-list-desktop")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_preview_page_looks_right(browser: Any, live_server: Any, scheme: str) -> None:
    issue, ranked = _issue_of_a_real_day("scheduled")
    context, page, complaints = _editor_page(browser, live_server, scheme)
    try:
        page.goto(live_server.url + reverse("admin:digest_issue_preview", args=[issue.pk]))
        page.get_by_label("Interests").fill(INTERESTS)
        page.get_by_label("Papers").fill("6")
        page.get_by_role("button", name="Preview").click()
        page.wait_for_load_state("networkidle")

        picks = page.locator("table.preview-picks tbody tr")
        assert picks.count() == 6
        expect(picks.nth(0).get_by_text("editor's pick")).to_be_visible()
        assert page.get_by_role("button", name="Send a test to me").is_enabled()
        frame = page.frame_locator("iframe.preview-email")
        pinned = " ".join(ranked[3].title.split())
        expect(frame.get_by_role("link", name=pinned)).to_be_visible()
        # The email's own <style> block (dark mode) applies inside the frame: its nonce got through
        # the CSP.
        background = frame.locator("body").evaluate(
            "element => getComputedStyle(element).backgroundColor"
        )
        assert background == ("rgb(15, 17, 21)" if scheme == "dark" else "rgb(247, 247, 248)")
        assert pinned in page.locator("pre.preview-text").inner_text()
        assert not complaints, complaints
        _shot(page, f"admin-issue-preview-desktop-{scheme}")
    finally:
        context.close()
