"""A reader's life in headless Chromium: sign up, confirm from the outbox, manage, read, leave.

One journey, as a developer would click through it with DEBUG on: the emails are written by
Django's file backend to a temporary outbox and opened from the site's /outbox/ page, never
read straight out of Python. The digest is built and sent in-process from real Hugging Face
papers (a captured month), with a fast stand-in for the embedding model. Every page is
screenshotted at desktop and phone widths into test-artifacts/screenshots/walkthrough-*.png.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from digest import ledger, sending, services, vectors
from digest.models import Delivery, DeliveryStatus, Issue
from papers.ingest import papers_ingest
from papers.models import Paper
from papers.sources.hf_api import parse
from subscriptions.models import Subscriber
from subscriptions.outbox import outbox_list
from tests.factories import SubscriberFactory
from tests.fakes import fake_embed
from tests.helpers import SHOTS, WIDTHS, fixture_bytes, matched

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MONTH = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
ADA = "ada@example.org"
BOB = "bob@example.org"  # leaves through his mail client's one-click button (RFC 8058)
CY = "cy@example.org"  # stays: the proof that the next issue does go out
ZONE = "Europe/Paris"  # the browser's: Ada's 07:00 is 06:00 UTC in November
SIGNUP_INTERESTS = "3D human pose estimation, efficient LLM inference"
NEW_INTERESTS = "3D assets from images, physics olympiads, video reasoning"
# Issues of a Wednesday and a Thursday, each over the papers Hugging Face listed the day before.
FIRST_DAY, NEXT_DAY = dt.date(2025, 11, 19), dt.date(2025, 11, 20)
SIX_UTC = dt.time(6, tzinfo=dt.UTC)
ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def outbox(
    settings: Any, tmp_path: Path, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """DEBUG on, mail to a fresh folder that /outbox/ reads, email links to the live server."""
    folder = tmp_path / "outbox"
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = folder
    settings.SITE_URL = live_server.url
    settings.PAPERBOY_POSTAL_ADDRESS = "Paperboy, 12 Example Street, 75001 Paris, France"
    # Rate limits count in the cache: an empty one of this test's own, never a real Redis.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex,
        }
    }
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)
    return folder


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop-sized tab in the browser's time zone ZONE; only the live server answers."""
    width, height = WIDTHS["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height}, timezone_id=ZONE)
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    try:
        yield context.new_page()
    finally:
        context.close()


# --- Helpers --------------------------------------------------------------------------------------


def _shoot(page: Any, name: str) -> None:
    """Screenshot the page at every width in WIDTHS; at each, nothing may stick out sideways."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for device, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"walkthrough-{name}-{device}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than the {device} screen"
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"], strict=True)))


def _mail_to(folder: Path, address: str) -> list[Any]:
    """The outbox's messages to one address (what /outbox/ lists), newest first."""
    return [message for message in outbox_list(folder=folder) if message.to == address]


def _open_from_outbox(page: Any, base: str, *, to: str, subject: str) -> None:
    """Open /outbox/ and the newest message to `to` whose subject starts with `subject`."""
    page.goto(base + "/outbox/")
    row = page.locator("tbody tr").filter(has=page.get_by_role("cell", name=to, exact=True))
    row.get_by_role("link", name=re.compile("^" + re.escape(subject))).first.click()
    expect(
        page.get_by_role("heading", name=re.compile("^" + re.escape(subject)), level=1)
    ).to_be_visible()


def _text_link(page: Any, path: str) -> Any:
    """A link in the email's text part (the outbox urlizes it) to a URL containing `path`."""
    return page.locator("pre").get_by_role(
        "link", name=path
    )  # a string name matches as a substring


def _html_part(page: Any) -> Any:
    return page.frame_locator("iframe[title='HTML part of the email']")


def _outbox_header(page: Any, name: str) -> str:
    """A header's value, as the outbox message page shows it in its Headers panel."""
    page.locator("details", has_text="Headers").evaluate("panel => { panel.open = true; }")
    return page.locator(f"dt:text-is('{name}') + dd").inner_text().strip()


def _subscriber(email: str) -> Subscriber:
    return Subscriber.objects.get(email=email)


def _send_due(issue: Issue, *, at: dt.datetime) -> None:
    """Make whoever's hour has come due, then send batches until none is left (the hourly tick)."""
    ledger.deliveries_create_due(now=at)
    while sending.deliveries_send_batch(issue_id=issue.pk, now=at).claimed:
        pass


# --- The steps ------------------------------------------------------------------------------------


def _signs_up(page: Any, base: str) -> None:
    page.goto(base + "/")
    box = page.locator("section.subscribe")
    expect(
        box.get_by_role("heading", name="Get trending papers in your email inbox")
    ).to_be_visible()
    box.get_by_label("Email address").fill(ADA)
    _shoot(page, "01-home")
    box.get_by_role("button", name="Subscribe").click()

    page.wait_for_url("**/subscribe/?email=ada%40example.org")
    assert page.get_by_label("Email address").input_value() == ADA
    assert page.get_by_label("Time zone").input_value() == ZONE  # prefilled from the browser
    page.get_by_label("Interests").fill(SIGNUP_INTERESTS)
    page.get_by_label("Every weekday").check()
    _shoot(page, "02-subscribe-form")
    page.get_by_role("button", name="Subscribe").click()

    page.wait_for_url("**/subscribe/check-your-inbox/")
    expect(page.get_by_role("heading", name="Check your inbox", level=1)).to_be_visible()
    _shoot(page, "03-check-your-inbox")
    ada = _subscriber(ADA)
    assert (ada.status, ada.interests, ada.timezone) == (
        Subscriber.Status.PENDING,
        SIGNUP_INTERESTS,
        ZONE,
    )


def _confirms_from_the_outbox(page: Any, base: str, folder: Path) -> None:
    page.goto(base + "/outbox/")
    expect(page.get_by_role("heading", name="Outbox", level=1)).to_be_visible()
    _shoot(page, "04-outbox")
    _open_from_outbox(page, base, to=ADA, subject="Confirm your Paperboy subscription")
    [email] = _mail_to(folder, ADA)
    confirm_url = matched(r"https?://\S+/confirm/\S+/", email.text).group(0)
    assert confirm_url.startswith(base + "/confirm/")
    button = _html_part(page).get_by_role("link", name="Confirm my subscription")
    assert (
        button.get_attribute("href") == confirm_url
    )  # the HTML part's button goes to the same place
    _shoot(page, "05-confirmation-email")

    _text_link(page, "/confirm/").click()
    page.wait_for_url(confirm_url)
    button = page.get_by_role("button", name="Confirm my subscription")
    expect(button).to_be_visible()
    assert _subscriber(ADA).status == Subscriber.Status.PENDING  # opening the link changed nothing
    _shoot(page, "06-confirm")
    button.click()

    expect(page.get_by_role("heading", name="You're subscribed", level=1)).to_be_visible()
    ada = _subscriber(ADA)
    assert ada.status == Subscriber.Status.ACTIVE
    assert ada.confirmed_at is not None
    _shoot(page, "07-confirmed")


def _changes_preferences(page: Any) -> None:
    page.get_by_role("link", name="Your preferences").click()
    expect(page.get_by_role("heading", name="Your preferences", level=1)).to_be_visible()
    assert page.get_by_label("Interests").input_value() == SIGNUP_INTERESTS
    page.get_by_label("Interests").fill(NEW_INTERESTS)
    page.get_by_label("Papers per digest").fill("5")
    page.get_by_label("Delivery time").select_option("07:00")
    page.get_by_role("button", name="Save preferences").click()

    expect(
        page.get_by_role("status").filter(has_text="Your preferences are saved.")
    ).to_be_visible()
    assert page.get_by_label("Interests").input_value() == NEW_INTERESTS
    assert page.get_by_label("Papers per digest").input_value() == "5"
    assert page.get_by_label("Delivery time").input_value() == "7"
    ada = _subscriber(ADA)
    assert (ada.interests, ada.digest_size, ada.delivery_hour, ada.timezone) == (
        NEW_INTERESTS,
        5,
        7,
        ZONE,
    )
    _shoot(page, "08-preferences-saved")


def _gets_the_first_digest(folder: Path) -> Issue:
    """Two more readers, the Wednesday issue, and the tick at Ada's hour: one email each."""
    for email in (BOB, CY):
        SubscriberFactory.create(
            email=email,
            interests="video generation",
            timezone="UTC",
            delivery_hour=6,
            digest_size=3,
        )
    issue = services.issue_build(date=FIRST_DAY)
    # An hour before 07:00 in Paris she is not due yet: her new delivery time counts.
    ledger.deliveries_create_due(now=dt.datetime.combine(FIRST_DAY, dt.time(5, tzinfo=dt.UTC)))
    assert not Delivery.objects.filter(subscriber__email=ADA).exists()
    _send_due(issue, at=dt.datetime.combine(FIRST_DAY, SIX_UTC))

    delivery = Delivery.objects.get(issue=issue, subscriber__email=ADA)
    assert delivery.status == DeliveryStatus.SENT
    assert len(delivery.papers) == 5
    # Ada: her confirmation, her welcome and the digest.
    assert [len(_mail_to(folder, address)) for address in (ADA, BOB, CY)] == [3, 1, 1]
    return issue


def _reads_the_digest(page: Any, base: str, folder: Path, issue: Issue) -> str:
    """Open Ada's digest in the outbox, check papers, reasons and links; return the view URL."""
    picked = Delivery.objects.get(issue=issue, subscriber__email=ADA).papers
    titles = dict(Paper.objects.filter(arxiv_id__in=picked).values_list("arxiv_id", "title"))
    page.goto(base + "/outbox/")
    _shoot(page, "09-outbox-with-digest")
    _open_from_outbox(page, base, to=ADA, subject="Paperboy · 19 Nov 2025")

    email = _html_part(page)
    shown = [" ".join(title.split()) for title in email.locator("h2.pb-title").all_inner_texts()]
    # Her papers, in her order.
    assert shown == [" ".join(titles[arxiv_id].split()) for arxiv_id in picked]
    reasons = email.locator("p.pb-reason").all_inner_texts()
    assert len(reasons) == 5, reasons
    assert all(reasons), reasons
    # Her own opening line: a reader with interests never gets the line for a reader without any.
    # (Whether a pick is called a match is the real model's business, tested with it elsewhere.)
    intro = email.locator("p.pb-intro").inner_text()
    assert intro, "no opening line"
    assert not intro.startswith("Today's top papers"), intro
    # .strip(): the subject header is folded before its first word, and the outbox keeps the fold's
    # space.
    [digest] = [
        message
        for message in _mail_to(folder, ADA)
        if message.subject.strip().startswith("Paperboy")
    ]
    for title, reason in zip(shown, reasons, strict=True):
        assert title in " ".join(digest.text.split())
        assert reason in digest.text
    # "View in browser" opens her own copy, signed for her (with her vote links).
    view_url = email.get_by_role("link", name="View in browser").get_attribute("href")
    assert view_url.startswith(f"{base}/digest/copy/"), view_url
    assert f"View in browser: {view_url}" in digest.text
    _shoot(page, "10-digest-in-outbox")

    # The email alone, as a mail client shows it, at both widths.
    html = page.locator("iframe[title='HTML part of the email']").get_attribute("srcdoc")
    alone = page.context.new_page()
    alone.set_content(html)
    assert (
        alone.get_by_role("link", name="Unsubscribe")
        .get_attribute("href")
        .startswith(base + "/unsubscribe/")
    )
    _shoot(alone, "11-digest-email")
    alone.close()
    return view_url


def _views_it_in_the_browser(page: Any, view_url: str, issue: Issue, base: str) -> None:
    _text_link(page, view_url).click()
    page.wait_for_url(view_url)
    # Her copy: her papers as sent, each with her own vote links.
    expect(page.get_by_text("as it was sent to you")).to_be_visible()
    assert page.get_by_role("link", name="More like this").count() > 0
    _shoot(page, "12-view-in-browser")
    # The issue's public page has nothing about Ada.
    page.goto(f"{base}/digest/{FIRST_DAY}/")
    expect(page.get_by_role("link", name="Past issues").first).to_be_visible()
    expect(page.get_by_text("Daily digest · Wednesday, 19 November 2025")).to_be_visible()
    top = Paper.objects.get(arxiv_id=issue.candidate_ids[0])  # the day's most upvoted paper
    expect(page.get_by_role("link", name=" ".join(top.title.split()))).to_be_visible()
    reasons = page.locator("p.pb-reason").all_inner_texts()
    assert reasons, reasons
    assert all(reason.startswith("trending: ") for reason in reasons), reasons
    for personal in ("View in browser", "Manage your preferences", "Unsubscribe", "More like this"):
        assert page.get_by_role("link", name=personal).count() == 0
    _shoot(page, "12b-public-issue-page")


def _leaves_in_one_click(page: Any, base: str) -> None:
    _open_from_outbox(page, base, to=ADA, subject="Paperboy · 19 Nov 2025")
    unsubscribe_url = _text_link(page, "/unsubscribe/").get_attribute("href")
    assert (
        _outbox_header(page, "List-Unsubscribe") == f"<{unsubscribe_url}>"
    )  # the footer's link is the header's
    assert _outbox_header(page, "List-Unsubscribe-Post") == ONE_CLICK
    _text_link(page, "/unsubscribe/").click()

    page.wait_for_url(unsubscribe_url)
    button = page.get_by_role("button", name="Unsubscribe")
    expect(button).to_be_visible()
    assert _subscriber(ADA).status == Subscriber.Status.ACTIVE  # opening the link changed nothing
    _shoot(page, "13-unsubscribe")
    button.click()

    expect(page.get_by_role("heading", name="You're unsubscribed", level=1)).to_be_visible()
    assert _subscriber(ADA).status == Subscriber.Status.UNSUBSCRIBED
    _shoot(page, "14-unsubscribed")


def _bob_leaves_from_his_mail_client(page: Any, base: str) -> None:
    """RFC 8058: POST "List-Unsubscribe=One-Click" to the header's URL; no cookie, no CSRF token."""
    _open_from_outbox(page, base, to=BOB, subject="Paperboy · 19 Nov 2025")
    found = re.fullmatch(
        r"<(https?://[^>]+/unsubscribe/[^>]+/)>", _outbox_header(page, "List-Unsubscribe")
    )
    assert found
    assert found.group(1).startswith(base)
    client = page.context.browser.new_context()  # a fresh cookie jar, as a mail provider has
    try:
        response = client.request.post(
            found.group(1),
            data=ONE_CLICK,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            max_redirects=0,
        )
        assert response.status == 200, response.status  # answered directly, never a redirect
        assert "You're unsubscribed" in response.text()
    finally:
        client.close()
    assert _subscriber(BOB).status == Subscriber.Status.UNSUBSCRIBED


def _gets_no_more_mail(page: Any, base: str, folder: Path) -> None:
    before = {address: len(_mail_to(folder, address)) for address in (ADA, BOB, CY)}
    issue = services.issue_build(date=NEXT_DAY)
    _send_due(issue, at=dt.datetime.combine(NEXT_DAY, SIX_UTC))

    after = {address: len(_mail_to(folder, address)) for address in (ADA, BOB, CY)}
    assert after == {**before, CY: before[CY] + 1}  # Cy still gets it; the two who left get nothing
    sent = Delivery.objects.filter(issue=issue).exclude(status=DeliveryStatus.SKIPPED)
    assert list(sent.values_list("subscriber__email", "status")) == [(CY, DeliveryStatus.SENT)]
    page.goto(base + "/outbox/")
    assert (
        page.locator("tbody tr").filter(has=page.get_by_role("cell", name=ADA, exact=True)).count()
        == 3
    )
    _shoot(page, "15-outbox-after-leaving")


def test_a_reader_signs_up_confirms_reads_a_digest_and_leaves_in_one_click(
    page: Any, live_server: Any, outbox: Path
) -> None:
    base = live_server.url
    papers_ingest(records=parse(fixture_bytes(MONTH)).records, fetch_run=None)
    _signs_up(page, base)
    _confirms_from_the_outbox(page, base, outbox)
    _changes_preferences(page)
    issue = _gets_the_first_digest(outbox)
    view_url = _reads_the_digest(page, base, outbox, issue)
    _views_it_in_the_browser(page, view_url, issue, base)
    _leaves_in_one_click(page, base)
    _bob_leaves_from_his_mail_client(page, base)
    _gets_no_more_mail(page, base, outbox)
