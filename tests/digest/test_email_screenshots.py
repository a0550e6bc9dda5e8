"""The digest email and its "view in browser" page in headless Chromium; PNGs in test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from digest.models import Issue
from digest.render import Pick, issue_frame_build
from papers.models import Paper
from tests.helpers import SHOTS, WIDTHS, issue_of_a_real_day

NOTE = (
    "Good morning! Two editors' picks on top today.\nReply to this email to tell us what you think."
)
REASONS = ["editor's pick", "matches: 3D human pose estimation", "matches: efficient LLM inference"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _issue_of_a_real_day(settings: Any) -> tuple[Issue, list[Paper]]:
    settings.PAPERBOY_POSTAL_ADDRESS = "Paperboy, 12 Example Street, 75001 Paris, France"
    return issue_of_a_real_day(status="sent", note=NOTE)


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _fits_width(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _new_page(browser: Any, device: str, scheme: str) -> tuple[Any, Any]:
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    # No network in tests: only the live server answers.
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    return context, context.new_page()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_email_reads_well_on_desktop_and_phone_in_light_and_dark(
    browser: Any, settings: Any, device: str, scheme: str
) -> None:
    issue, ranked = _issue_of_a_real_day(settings)
    chosen = ranked[:6]
    frame = issue_frame_build(issue=issue, papers={paper.arxiv_id: paper for paper in ranked})
    # A pinned editor's pick first, then papers that matched two of the reader's topics.
    picks = [Pick(chosen[0].arxiv_id, REASONS[0], pinned=True)]
    for n, paper in enumerate(chosen[1:]):
        reason = REASONS[1 + n % 2]
        picks.append(Pick(paper.arxiv_id, reason, reason.removeprefix("matches: ")))
    email = frame.assemble(
        picks=picks,
        fallback=False,
        has_interests=True,
        manage_url="https://paperboy.example/manage/token/",
        unsubscribe_url="https://paperboy.example/unsubscribe/token/",
        vote_urls={
            pick.arxiv_id: (
                f"https://paperboy.example/digest/vote/{'t' * 96}{n}/more/",
                f"https://paperboy.example/digest/vote/{'t' * 96}{n}/less/",
            )
            for n, pick in enumerate(picks)
        },
    )
    context, page = _new_page(browser, device, scheme)
    try:
        page.emulate_media(color_scheme=scheme)
        page.set_content(email.html)
        expect(page.get_by_role("link", name=" ".join(chosen[0].title.split()))).to_be_visible()
        expect(
            page.locator(".pb-note").get_by_text("Good morning! Two editors' picks on top today.")
        ).to_be_visible()
        expect(page.get_by_role("link", name="Unsubscribe")).to_be_visible()
        assert page.locator(".pb-title").count() == len(chosen)
        assert page.get_by_role("link", name="Less like this").count() == len(chosen)
        expect(page.get_by_role("link", name="More like this").first).to_be_visible()
        assert _fits_width(page)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(15, 17, 21)" if scheme == "dark" else "rgb(247, 247, 248)")
        card = page.locator(".pb-card").first.evaluate("element => getComputedStyle(element).width")
        assert float(card.removesuffix("px")) <= 600
        _shot(page, f"digest-email-{device}-{scheme}")
    finally:
        context.close()


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_view_in_browser_page_and_the_archive_look_right(
    browser: Any, live_server: Any, settings: Any, device: str
) -> None:
    issue, ranked = _issue_of_a_real_day(settings)
    context, page = _new_page(browser, device, "light")
    try:
        page.goto(f"{live_server.url}/digest/")
        expect(page.get_by_role("heading", name="Past digests", level=1)).to_be_visible()
        assert _fits_width(page)
        _shot(page, f"digest-archive-{device}")

        page.get_by_role("link", name=re.compile(r"Daily digest")).first.click()
        page.wait_for_url(f"**/digest/{issue.date:%Y-%m-%d}/")
        expect(page.get_by_role("link", name=" ".join(ranked[3].title.split()))).to_be_visible()
        expect(page.get_by_text("editor's pick").first).to_be_visible()
        expect(page.get_by_role("link", name="Get the digest by email")).to_be_visible()
        assert page.get_by_role("link", name="More like this").count() == 0
        assert _fits_width(page)
        # The email's <style> block (phones, dark mode) applies under the site's CSP.
        padding = page.locator(".pb-head").evaluate(
            "element => getComputedStyle(element).paddingLeft"
        )
        assert padding == ("18px" if device == "phone" else "28px")
        _shot(page, f"digest-page-{device}")
    finally:
        context.close()
