"""The development outbox in headless Chromium: a link clicked in an email's HTML preview opens
the site in a new tab (the site refuses to be framed, so inside the frame it would be an error)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.mail import get_connection
from playwright.sync_api import expect

from subscriptions.emails import email_build
from tests.helpers import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_link_in_the_preview_opens_the_site_in_a_new_tab(
    browser: Any, live_server: Any, settings: Any, tmp_path: Path
) -> None:
    settings.DEBUG = True
    settings.EMAIL_FILE_PATH = tmp_path
    confirm_url = f"{live_server.url}/confirm/not-a-real-token/"
    message = email_build(
        name="confirm", to="ada@example.org", context={"confirm_url": confirm_url}
    )
    get_connection(
        "django.core.mail.backends.filebased.EmailBackend", file_path=str(tmp_path)
    ).send_messages([message])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # No network in tests: only the live server answers.
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(live_server.url + "/outbox/")
        page.get_by_role("link", name="Confirm your Paperboy subscription").click()
        frame = page.frame_locator('iframe[title="HTML part of the email"]')
        link = frame.get_by_role("link", name=re.compile("Confirm", re.I)).first
        with context.expect_page(timeout=10_000) as opened:
            link.click()
        tab = opened.value
        tab.wait_for_load_state()

        assert tab.url == confirm_url
        # The site's own page (its link is not valid), not Chromium's error page.
        expect(tab.get_by_role("heading", name="This link is not valid", level=1)).to_be_visible()
        assert page.url.startswith(live_server.url + "/outbox/")  # the outbox stays where it was
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / "outbox-link-new-tab-desktop.png"))
    finally:
        context.close()
