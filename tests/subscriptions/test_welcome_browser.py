"""In headless Chromium: the live interests counter, the "asked again" answer, the welcome email.

Screenshots at desktop and phone widths go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from playwright.sync_api import expect

from subscriptions import services
from tests.factories import SubscriberFactory
from tests.helpers import SHOTS, WIDTHS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page(browser: Any, device: str) -> Any:
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height})
    # No network in tests: only the live server answers.
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    return context.new_page()


def _screenshot(page: Any, name: str, device: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"welcome-{name}-{device}.png"), full_page=True)


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_counter_counts_as_the_reader_types_and_a_second_ask_is_answered_honestly(
    browser, live_server, device: str
) -> None:
    page = _page(browser, device)
    try:
        page.goto(live_server.url + "/subscribe/")
        interests = page.get_by_label("Interests")
        counter = page.locator("#id_interests_counter")
        assert counter.text_content() == "0 / 500"
        described = interests.get_attribute("aria-describedby") or ""
        assert described.split() == ["id_interests_helptext", "id_interests_counter"]

        interests.fill("x" * 510)
        assert counter.text_content() == "510 / 500: 10 too many"
        assert "counter--over" in (counter.get_attribute("class") or "")
        assert len(interests.input_value()) == 510  # nothing cut
        status = page.locator("p[aria-live=polite]")
        status.filter(has_text="10 characters too many: at most 500").wait_for()
        _screenshot(page, "1-counter-over", device)

        page.get_by_label("Email address").fill("ada@example.org")
        page.get_by_role("button", name="Subscribe").click()
        page.get_by_text("Please keep your interests to 500 characters or fewer").wait_for()
        assert counter.text_content() == "510 / 500: 10 too many"

        interests.fill("3D human pose estimation, efficient LLM inference")
        assert counter.text_content() == "49 / 500"
        assert "counter--over" not in (counter.get_attribute("class") or "")
        page.get_by_role("button", name="Subscribe").click()
        page.wait_for_url("**/subscribe/check-your-inbox/")
        _screenshot(page, "2-sent", device)

        # The reader asks again at once: told an email went out, and from when to ask again.
        page.goto(live_server.url + "/subscribe/")
        page.get_by_label("Email address").fill("ada@example.org")
        page.get_by_role("button", name="Subscribe").click()
        page.get_by_role("alert").filter(has_text="We sent an email to this address at").wait_for()
        _screenshot(page, "3-asked-again", device)
        assert len(mail.outbox) == 1
    finally:
        page.context.close()


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_welcome_email_reads_well_in_a_browser(browser, device: str) -> None:
    reader = SubscriberFactory.create(
        email="ada@example.org",
        interests="3D human pose estimation, efficient LLM inference",
        categories=["cs.CL", "cs.CV"],
        frequency="weekdays",
        digest_size=7,
        delivery_hour=9,
        timezone="Europe/Paris",
    )
    with time_machine.travel("2026-03-02T06:00Z", tick=False):  # Monday, 07:00 in Paris
        services.subscriber_welcome_send(subscriber_id=reader.pk)
    [welcome] = mail.outbox
    assert isinstance(welcome, EmailMultiAlternatives)
    html = welcome.alternatives[0][0]
    assert isinstance(html, str)
    page = _page(browser, device)
    try:
        page.set_content(html)
        body = page.locator("p", has_text="Your first digest comes today at about 09:00")
        expect(body).to_be_visible()
        # The inbox's preview line, hidden in the message itself.
        preheader = page.get_by_text("Your first digest comes today at about 09:00; your")
        assert preheader.count() == 1
        expect(preheader).to_be_hidden()
        expect(page.get_by_role("link", name="Change my preferences")).to_be_visible()
        _screenshot(page, "4-email", device)
    finally:
        page.context.close()
