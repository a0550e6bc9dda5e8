"""The reader's whole journey once in headless Chromium, at desktop and phone widths.

Home page box, sign-up form (time zone prefilled by the browser), the confirmation email, a link
that shows a button, confirm, change preferences, unsubscribe; the screenshots (PNGs) go to
test-artifacts/. The email is sent by the Celery task queued with on_commit: with a live server
and real transactions it fires at the sign-up's commit, inside the request, and Celery runs
eagerly in tests, so it is in mail.outbox by the time the "check your inbox" page has loaded.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from subscriptions.models import Subscriber
from tests.helpers import SHOTS, WIDTHS, link_path

# Not the server's zone nor UTC: the prefilled value can only have come from the browser.
BROWSER_ZONE = "Asia/Tokyo"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _screenshot(page: Any, name: str, device: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"subscribe-{name}-{device}.png"), full_page=True)


def _fits_width(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _stored_subscriber() -> Subscriber:
    return Subscriber.objects.get(email="ada@example.org")


@pytest.mark.parametrize("device", list(WIDTHS))
def test_a_reader_signs_up_confirms_manages_and_unsubscribes_in_chromium(
    browser, live_server, device: str
) -> None:
    width, height = WIDTHS[device]
    context = browser.new_context(
        viewport={"width": width, "height": height}, timezone_id=BROWSER_ZONE
    )
    # No network in tests: only the live server answers.
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    try:
        # The home page box takes the address to the full form.
        page.goto(live_server.url + "/")
        box = page.locator("section.subscribe")
        box.get_by_label("Email address").fill("ada@example.org")
        box.get_by_role("button", name="Subscribe").click()
        page.wait_for_url("**/subscribe/?email=ada%40example.org")

        # The form: the address carried over, the time zone prefilled from the browser by
        # subscribe.js.
        expect(
            page.get_by_role("heading", name="Get trending papers in your inbox", level=1)
        ).to_be_visible()
        assert page.get_by_label("Email address").input_value() == "ada@example.org"
        assert page.get_by_label("Time zone").input_value() == BROWSER_ZONE
        page.get_by_label("Interests").fill("3D human pose estimation, efficient LLM inference")
        page.get_by_label("cs.CV — Computer Vision and Pattern Recognition").check()
        page.get_by_label("Weekly, on Monday").check()
        page.get_by_label("Papers per digest").fill("7")
        page.get_by_label("Delivery time").select_option("07:00")
        assert _fits_width(page)
        _screenshot(page, "1-form", device)
        page.get_by_role("button", name="Subscribe").click()

        page.wait_for_url("**/subscribe/check-your-inbox/")
        expect(page.get_by_role("heading", name="Check your inbox", level=1)).to_be_visible()
        _screenshot(page, "2-check-inbox", device)
        subscriber = _stored_subscriber()
        assert subscriber.status == Subscriber.Status.PENDING
        assert (subscriber.timezone, subscriber.delivery_hour, subscriber.digest_size) == (
            BROWSER_ZONE,
            7,
            7,
        )
        assert (subscriber.frequency, subscriber.categories) == ("weekly", ["cs.CV"])

        # The on-commit task ran during the request (a real commit, an eager Celery): the email is
        # there.
        [email] = mail.outbox
        assert email.to == ["ada@example.org"]
        assert email.subject == "Confirm your Paperboy subscription"
        confirm_path = link_path(email, "confirm")

        # Opening the link shows a button and changes nothing.
        page.goto(live_server.url + confirm_path)
        button = page.get_by_role("button", name="Confirm my subscription")
        expect(button).to_be_visible()
        assert _stored_subscriber().status == Subscriber.Status.PENDING
        _screenshot(page, "3-confirm", device)
        button.click()
        expect(page.get_by_role("heading", name="You're subscribed", level=1)).to_be_visible()
        assert _stored_subscriber().status == Subscriber.Status.ACTIVE
        expect(page.get_by_text("A welcome email with that link")).to_be_visible()
        assert [email.subject.split(":")[0] for email in mail.outbox] == [
            "Confirm your Paperboy subscription",
            "Welcome to Paperboy",
        ]
        _screenshot(page, "4-confirmed", device)

        # The manage page: new interests, another category, a bigger digest.
        page.get_by_role("link", name="Your preferences").click()
        expect(page.get_by_role("heading", name="Your preferences", level=1)).to_be_visible()
        assert (
            page.get_by_label("Interests").input_value()
            == "3D human pose estimation, efficient LLM inference"
        )
        page.get_by_label("Interests").fill("  diffusion   models,\nrobot learning ")
        page.get_by_label("cs.RO — Robotics").check()
        page.get_by_label("Papers per digest").fill("12")
        page.get_by_role("button", name="Save preferences").click()
        expect(
            page.get_by_role("status").filter(has_text="Your preferences are saved.")
        ).to_be_visible()
        assert page.get_by_label("Papers per digest").input_value() == "12"
        subscriber = _stored_subscriber()
        assert subscriber.interests == "diffusion models, robot learning"
        assert (subscriber.categories, subscriber.digest_size) == (["cs.CV", "cs.RO"], 12)
        assert _fits_width(page)
        _screenshot(page, "5-manage-saved", device)

        # Unsubscribe from the manage page's button: done at once, no confirmation step.
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("heading", name="You're unsubscribed", level=1)).to_be_visible()
        assert _stored_subscriber().status == Subscriber.Status.UNSUBSCRIBED
        _screenshot(page, "6-unsubscribed", device)
        assert len(mail.outbox) == 2  # saving and leaving send nothing
    finally:
        context.close()
