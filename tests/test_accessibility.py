"""Accessibility, measured: axe-core in headless Chromium; sign-up and manage by the keyboard alone.

axe-core (bundled by axe-playwright-python) checks every public page, the subscription pages, the
development outbox, the admin's own pages and the emails, in light and dark mode, at desktop and
phone widths: no violation of impact "serious" or "critical" may remain (the others are printed
with a failure, not asserted). One browser context per (scheme, width) visits every page in turn.
The keyboard test signs up and manages preferences with page.keyboard alone, checking at every
stop that the focused element shows a visible focus ring.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from digest.copies import copy_token_make
from digest.models import Delivery, DeliveryStatus, Issue, IssueStatus, Vote
from digest.render import Pick, issue_frame_build
from digest.votes import vote_token_make
from papers.ingest import papers_search_index
from papers.models import Paper
from subscriptions.emails import email_build
from subscriptions.models import Seed, Subscriber
from subscriptions.outbox import outbox_list
from subscriptions.tokens import Purpose, token_make
from tests.factories import FetchRunFactory, SubscriberFactory
from tests.helpers import SHOTS, WIDTHS, issue_of_a_real_day

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMES = ["light", "dark"]
BLOCKING = {"serious", "critical"}
NOTE = "Good morning! Two editors' picks on top today."
INTERESTS = "3D human pose estimation, efficient LLM inference"
# axe looks inside frames only where it can run; the outbox's and the preview's frames are
# sandboxed email documents, checked on their own below (set_content), so frames are left out.
AXE_OPTIONS = {"resultTypes": ["violations"], "iframes": False}
# Django's own admin markup, not ours to change: these rules' findings on these elements only
# (selectors as axe reports their targets) are left out on admin pages.
DJANGO_OWNED = {
    # The breadcrumbs bar (admin/base.html, admin/css/base.css): white links in light-blue text on
    # a blue bar, told from the text by colour alone. Django's markup and colours in every admin
    # page; restyling the admin's chrome is not this project's business.
    "link-in-text-block": (".breadcrumbs > a",),
}


@dataclass(frozen=True)
class Target:
    """One page to check: a path on the live server, or an email's HTML set as the page."""

    name: str
    path: str = ""
    html: str = ""
    admin: bool = False
    debug: bool = False  # the development outbox answers only with DEBUG on
    # A state reached from the page: fill these fields (CSS selector, text), press this button.
    fill: tuple[tuple[str, str], ...] = ()
    press: str = ""
    shoot: bool = False  # a page our fixes changed: screenshot it at each width and scheme
    shows: str = field(kw_only=True)  # text on the page meant (not an error page in its place)


# --- The world the pages show ---------------------------------------------------------------------


def _digest_email_html(issue: Issue, ranked: list[Paper]) -> str:
    """A reader's digest email: an editor's pick, matched papers, vote links, as in the tests of
    the email's look."""
    frame = issue_frame_build(issue=issue, papers={paper.arxiv_id: paper for paper in ranked})
    chosen = ranked[:6]
    picks = [Pick(chosen[0].arxiv_id, "editor's pick", pinned=True)]
    topics = INTERESTS.split(", ")
    for n, paper in enumerate(chosen[1:]):
        picks.append(Pick(paper.arxiv_id, f"matches: {topics[n % 2]}", topics[n % 2]))
    site = "https://paperboy.example"
    email = frame.assemble(
        picks=picks,
        fallback=False,
        has_interests=True,
        manage_url=f"{site}/manage/token/",
        unsubscribe_url=f"{site}/unsubscribe/token/",
        signals_url=f"{site}/digest/signals/token/",
        vote_urls={
            pick.arxiv_id: (f"{site}/digest/vote/t{n}/more/", f"{site}/digest/vote/t{n}/less/")
            for n, pick in enumerate(picks)
        },
    )
    return email.html


def _confirmation_email(folder: Path, reader: Subscriber) -> str:
    """The confirmation email, sent to the outbox folder; its HTML part."""
    message = email_build(
        name="confirm",
        to=reader.email,
        context={"subscriber": reader, "confirm_url": _link(reader, Purpose.CONFIRM)},
        unsubscribe_url=_link(reader, Purpose.UNSUBSCRIBE),
    )
    message.send()
    html_part = message.alternatives[0][0]
    assert isinstance(html_part, str)
    return html_part


def _link(reader: Subscriber, purpose: Purpose, address: str = "") -> str:
    token = token_make(subscriber_id=reader.pk, address=address or reader.email, purpose=purpose)
    names = {
        Purpose.CONFIRM: "subscriptions:confirm",
        Purpose.MANAGE: "subscriptions:manage",
        Purpose.UNSUBSCRIBE: "subscriptions:unsubscribe",
        Purpose.CHANGE_EMAIL: "subscriptions:change-email",
    }
    return reverse(names[purpose], args=[token])


def _readers(issue: Issue, ranked: list[Paper]) -> tuple[Subscriber, Subscriber, Delivery]:
    """A pending reader, and an active one with seeds, a delivery of the issue and two votes."""
    pending = SubscriberFactory.create(
        email="pending@example.org", status=Subscriber.Status.PENDING, confirmed_at=None
    )
    ada = SubscriberFactory.create(
        email="ada@example.org", interests=INTERESTS, pending_email="ada@new.example.org"
    )
    Seed.objects.create(
        subscriber=ada,
        arxiv_id=ranked[0].arxiv_id,
        title=ranked[0].title,
        origin=Seed.Origin.ID,
        status=Seed.Status.READY,
    )
    Seed.objects.create(subscriber=ada, arxiv_id="2401.00001", origin=Seed.Origin.ID)
    Seed.objects.create(subscriber=ada, source="Ada Lovelace", origin=Seed.Origin.AUTHOR)
    delivery = Delivery.objects.create(
        issue=issue,
        subscriber=ada,
        status=DeliveryStatus.SENT,
        papers=[paper.arxiv_id for paper in ranked[:5]],
    )
    for paper, direction in zip(ranked[:2], ("more", "less"), strict=True):
        Vote.objects.create(
            subscriber=ada, delivery=delivery, arxiv_id=paper.arxiv_id, direction=direction
        )
    return pending, ada, delivery


def _scheduled_issue(issue: Issue) -> Issue:
    """The next day's issue over the same candidates, still editable (pins, hides, the note)."""
    day = dt.timedelta(days=1)
    return Issue.objects.create(
        date=issue.date + day,
        status=IssueStatus.SCHEDULED,
        note=NOTE,
        window_start=issue.window_start + day,
        window_end=issue.window_end + day,
        candidate_ids=issue.candidate_ids,
        new_papers=issue.new_papers,
    )


def _needs_a_person() -> None:
    """What the operations page lists: a paused issue of today with a stuck claim and a failed
    delivery (readers of their own), a failing fetch and a suppressed address."""
    today = timezone.localdate()
    start = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    paused = Issue.objects.create(
        date=today,
        status=IssueStatus.SENDING,
        window_start=start - dt.timedelta(days=1),
        window_end=start,
        paused_at=timezone.now(),
        pause_reason="12 of 20 digests failed in one batch: 550 mailbox unavailable",
    )
    stuck, failed = SubscriberFactory.create_batch(2)
    claimed = timezone.now() - dt.timedelta(hours=2)
    Delivery.objects.create(
        issue=paused, subscriber=stuck, status=DeliveryStatus.SENDING, claimed_at=claimed
    )
    Delivery.objects.create(
        issue=paused, subscriber=failed, status=DeliveryStatus.FAILED, error="550 5.1.1 unknown"
    )
    FetchRunFactory.create(
        source="arxiv", status="failed", failures=3, failure_kind="HTTP 503", error="HTTP 503"
    )
    SubscriberFactory.create(email="bounced@example.org", status=Subscriber.Status.BOUNCED)


def _targets(folder: Path) -> list[Target]:
    """Every page and email to check, over one real day of papers and a few readers."""
    issue, ranked = issue_of_a_real_day(status=IssueStatus.SENT, note=NOTE)
    papers_search_index()  # PostgreSQL: searchable, as after a fetch (nothing to do on SQLite)
    pending, ada, delivery = _readers(issue, ranked)
    scheduled = _scheduled_issue(issue)
    _needs_a_person()
    manage = _link(ada, Purpose.MANAGE)
    manage_token = manage.rstrip("/").rsplit("/", 1)[1]
    confirmation = _confirmation_email(folder, pending)
    [sent] = outbox_list(folder=folder)
    word = max(ranked[0].title.split(), key=len).strip(":,.")
    title = " ".join(ranked[0].title.split())[:40]
    vote = vote_token_make(delivery_id=delivery.pk, arxiv_id=ranked[2].arxiv_id, address=ada.email)
    copy = copy_token_make(delivery_id=delivery.pk, address=ada.email)
    search = reverse("papers:search")
    invalid = "This link is not valid"

    def admin(name: str, *args: object, query: str = "") -> str:
        return reverse(f"admin:{name}", args=args) + query

    preview_query = f"?interests={INTERESTS.replace(' ', '+')}&size=6"
    return [
        Target("home", "/", shows=title),
        Target("paper", reverse("papers:detail", args=[ranked[0].arxiv_id]), shows=title),
        Target("day", reverse("papers:day", args=[ranked[0].hf_date]), shows=title),
        Target("search", f"{search}?q={word}", shows=title),
        Target("search-nothing-found", f"{search}?q=qwxzv", shows="Search papers"),
        Target("archive", reverse("digest:archive"), shows="Past digests"),
        Target("issue", reverse("digest:issue", args=[issue.date]), shows=title),
        Target("reader-copy", reverse("digest:copy", args=[copy]), shows="as it was sent to you"),
        Target("reader-copy-invalid", reverse("digest:copy", args=["bad"]), shows=invalid),
        # Its script posts the vote at once: the page checked is the "counted" one.
        Target("vote", reverse("digest:vote", args=[vote, "more"]), shows="Thanks, noted"),
        Target("vote-invalid", reverse("digest:vote", args=["bad", "less"]), shows=invalid),
        Target("subscribe", reverse("subscriptions:subscribe"), shows="Get trending papers"),
        # The form sent empty: every error shown at once.
        Target(
            "subscribe-errors",
            reverse("subscriptions:subscribe"),
            press="Subscribe",
            shows="Please correct",
        ),
        Target("subscribe-sent", reverse("subscriptions:subscribe-sent"), shows="Check your inbox"),
        Target("confirm", _link(pending, Purpose.CONFIRM), shows="Confirm your subscription"),
        Target("manage", manage, shoot=True, shows="Your preferences"),
        Target(
            "manage-errors",
            manage,
            fill=(("#id_digest_size", "0"), ("#id_interests", "x" * 600)),
            press="Save preferences",
            shows="Please correct",
        ),
        Target(
            "manage-seed-errors",
            manage,
            fill=(("#id_ids", "no-such-id"),),
            press="Add these papers",
            shows="Not an arXiv id or link",
        ),
        Target("signals", reverse("digest:signals", args=[manage_token]), shows="Your votes"),
        Target(
            "signals-reset",
            reverse("digest:signals-reset", args=[manage_token]),
            shows="Reset your personalization?",
        ),
        Target(
            "history",
            reverse("digest:history", args=[manage_token]),
            shoot=True,
            shows="Your papers",
        ),
        Target("unsubscribe", _link(ada, Purpose.UNSUBSCRIBE), shows="Unsubscribe"),
        Target(
            "delete",
            reverse("subscriptions:manage-delete", args=[manage_token]),
            shows="Delete everything about you?",
        ),
        Target(
            "change-email",
            _link(ada, Purpose.CHANGE_EMAIL, address=ada.pending_email),
            shows="Confirm your new address",
        ),
        Target("link-invalid", reverse("subscriptions:manage", args=["bad"]), shows=invalid),
        Target("not-found", "/no-such-page/", shoot=True, shows="Page not found"),
        Target("outbox", reverse("subscriptions:outbox"), debug=True, shows=pending.email),
        Target(
            "outbox-message",
            reverse("subscriptions:outbox-message", args=[sent.key]),
            debug=True,
            shows="Confirm your Paperboy subscription",
        ),
        Target("admin-issue-list", admin("digest_issue_changelist"), admin=True, shows="Issues"),
        Target(
            "admin-issue",
            admin("digest_issue_change", scheduled.pk),
            admin=True,
            shoot=True,
            shows=title,
        ),
        Target("admin-issue-sent", admin("digest_issue_change", issue.pk), admin=True, shows=title),
        Target(
            "admin-preview",
            admin("digest_issue_preview", scheduled.pk, query=preview_query),
            admin=True,
            shows="Plain-text part",
        ),
        Target(
            "admin-send-now",
            admin("digest_issue_send_now", scheduled.pk),
            admin=True,
            shows="Send",
        ),
        Target("admin-pause", admin("digest_issue_pause", scheduled.pk), admin=True, shows="Pause"),
        Target(
            "admin-subscriber-list",
            admin("subscriptions_subscriber_changelist"),
            admin=True,
            shows=ada.email,
        ),
        Target(
            "admin-subscriber",
            admin("subscriptions_subscriber_change", ada.pk),
            admin=True,
            shows="Change subscriber",
        ),
        Target(
            "admin-channel-list", admin("digest_channel_changelist"), admin=True, shows="channel"
        ),
        Target(
            "admin-channel-add",
            admin("digest_channel_add"),
            admin=True,
            shoot=True,
            shows="Add papers like these",
        ),
        Target("admin-charts", admin("charts"), admin=True, shoot=True, shows="Votes per issue"),
        Target(
            "admin-operations",
            admin("operations"),
            admin=True,
            shoot=True,
            shows="Recover stuck claims now",
        ),
        Target("digest-email", html=_digest_email_html(issue, ranked), shows=title),
        Target("confirmation-email", html=confirmation, shows="Confirm my subscription"),
    ]


# --- axe ------------------------------------------------------------------------------------------


def axe_violations(page: Any, *, admin: bool = False) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every impact), less Django's own on admin
    pages."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    found = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]
    if not admin:
        return found
    kept = []
    for violation in found:
        owned = DJANGO_OWNED.get(violation["id"], ())
        nodes = [n for n in violation["nodes"] if not " ".join(n["target"]).startswith(owned)]
        if nodes:
            kept.append({**violation, "nodes": nodes})
    return kept


def _described(name: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{name}: {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']!r}"[:400])
    return "\n".join(lines)


# --- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def outbox(settings: Any, tmp_path: Path, live_server: Any) -> Path:
    """Mail to a fresh folder that /outbox/ reads; a cache of the test's own for the rate limits."""
    folder = tmp_path / "outbox"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = folder
    settings.SITE_URL = live_server.url
    settings.PAPERBOY_POSTAL_ADDRESS = "Paperboy, 12 Example Street, 75001 Paris, France"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex,
        }
    }
    return folder


def _context(browser: Any, live_server: Any, *, device: str, scheme: str) -> Any:
    """A tab's context at this width and colour scheme; only the live server answers."""
    width, height = WIDTHS[device]
    context = browser.new_context(
        viewport={"width": width, "height": height}, color_scheme=scheme, timezone_id="UTC"
    )
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    return context


def _log_in_editor(context: Any, live_server: Any) -> None:
    user = User.objects.create_superuser("editor", "editor@example.org", "pw")
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])


def _reach_state(page: Any, target: Target) -> None:
    """Fill the target's fields and press its button; wait for the page that answers."""
    for selector, text in target.fill:
        page.locator(selector).fill(text)
    if target.press:
        with page.expect_navigation():
            page.get_by_role("button", name=target.press).first.click()


def _wait_for_text(page: Any, target: Target) -> None:
    """Wait until the page shows the target's text (a page's script may still be posting)."""
    try:
        page.get_by_text(target.shows).first.wait_for(timeout=10_000)
    except PlaywrightTimeoutError:
        pytest.fail(f"{target.name} is not the page meant: no {target.shows!r} on {page.url}")


# --- axe on every page ----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("device", list(WIDTHS))
def test_it_finds_no_serious_or_critical_violation_on_any_page(
    browser: Any, live_server: Any, outbox: Path, settings: Any, device: str, scheme: str
) -> None:
    targets = _targets(outbox)
    context = _context(browser, live_server, device=device, scheme=scheme)
    _log_in_editor(context, live_server)
    page = context.new_page()
    blocking, others = [], []
    try:
        for target in targets:
            settings.DEBUG = target.debug
            if target.html:
                page.set_content(target.html)
            else:
                response = page.goto(live_server.url + target.path)
                assert response is not None, target.name
                assert response.status < 500, f"{target.name}: {response.status}"
            _reach_state(page, target)
            _wait_for_text(page, target)
            found = axe_violations(page, admin=target.admin)
            if target.shoot:
                SHOTS.mkdir(parents=True, exist_ok=True)
                shot = SHOTS / f"a11y-{target.name}-{device}-{scheme}.png"
                page.screenshot(path=str(shot), full_page=True)
            blocking += [_described(target.name, [v]) for v in found if v["impact"] in BLOCKING]
            others += [_described(target.name, [v]) for v in found if v["impact"] not in BLOCKING]
    finally:
        context.close()
    checked = f"{len(targets)} pages and emails, {scheme}, {device}"
    assert not blocking, "\n".join([checked, *blocking, "Less severe:", *others])


# --- The keyboard alone ---------------------------------------------------------------------------

# The focused element, and whether it shows a focus ring: an outline of 2px or more in a colour
# that is not transparent, or a box shadow; and whether it takes up room on the screen.
FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
    && !style.outlineColor.endsWith(", 0)") && style.outlineColor !== "transparent";
  const rect = el.getBoundingClientRect();
  return {
    html: el.outerHTML.slice(0, 160),
    ring: outline || style.boxShadow !== "none",
    shown: rect.width > 0 && rect.height > 0,
  };
}"""
MAX_TABS = 120


def _focus(page: Any) -> dict[str, Any]:
    """The focused element as FOCUS_JS sees it; the body (nothing focused) fails."""
    found = page.evaluate(FOCUS_JS)
    assert found is not None, "nothing has the focus"
    return found


def _tab_to(page: Any, target: Any, *, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the focus is on the target (a CSS selector or a locator);
    every stop on the way shows its focus."""
    locator = page.locator(target) if isinstance(target, str) else target
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        focused = _focus(page)
        assert focused["ring"], f"no visible focus on {focused['html']}"
        assert focused["shown"], f"the focus is on something not shown: {focused['html']}"
        if locator.evaluate_all("found => found.includes(document.activeElement)"):
            return
    raise AssertionError(f"{MAX_TABS} presses of {key} never reached {target}")


def _skip_link_works(page: Any, device: str) -> None:
    """The first Tab lands on a visible "Skip to content" link; Enter moves the focus to main."""
    page.keyboard.press("Tab")
    focused = _focus(page)
    assert "skip-link" in focused["html"], focused
    assert focused["ring"], focused
    assert focused["shown"], focused
    assert page.locator(".skip-link").inner_text() == "Skip to content"
    _shot(page, f"keyboard-skip-link-{device}")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def _press_to_load(page: Any, key: str) -> None:
    """Press a key that follows a link or sends a form, and wait for the page that answers."""
    with page.expect_navigation():
        page.keyboard.press(key)


def _choose_radio(page: Any, name: str, value: str) -> None:
    """On a focused radio group, arrow down until `value` is the checked one."""
    for _ in range(10):
        if page.evaluate("document.activeElement.value") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no {value!r} among the {name} radios")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _signs_up_by_keyboard(page: Any, base: str, device: str) -> None:
    page.goto(base + "/")
    _skip_link_works(page, device)
    _tab_to(page, "#subscribe-email")
    page.keyboard.type("kai@example.org")
    page.keyboard.press("Enter")
    page.wait_for_url("**/subscribe/?email=kai%40example.org")

    _tab_to(page, "#id_interests")
    page.keyboard.type(INTERESTS)
    _tab_to(page, "input[name=categories][value='cs.CV']")
    page.keyboard.press("Space")
    _tab_to(page, "input[name=frequency]")
    _choose_radio(page, "frequency", "weekly")
    _shot(page, f"keyboard-signup-{device}")
    _tab_to(page, page.get_by_role("button", name="Subscribe", exact=True))
    page.keyboard.press("Enter")
    page.wait_for_url("**/subscribe/check-your-inbox/")
    kai = Subscriber.objects.get(email="kai@example.org")
    assert (kai.status, kai.interests, kai.categories, kai.frequency) == (
        Subscriber.Status.PENDING,
        INTERESTS,
        ["cs.CV"],
        Subscriber.Frequency.WEEKLY,
    )


def _confirms_by_keyboard(page: Any, base: str) -> None:
    kai = Subscriber.objects.get(email="kai@example.org")
    page.goto(base + _link(kai, Purpose.CONFIRM))
    _tab_to(page, page.get_by_role("button", name="Confirm my subscription"))
    _press_to_load(page, "Enter")
    assert Subscriber.objects.get(pk=kai.pk).status == Subscriber.Status.ACTIVE
    _tab_to(page, page.get_by_role("link", name="Your preferences"))
    page.keyboard.press("Enter")
    page.wait_for_url("**/manage/*/")


def _manages_by_keyboard(page: Any, device: str) -> None:
    kai = Subscriber.objects.get(email="kai@example.org")
    _tab_to(page, "#id_digest_size")
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    # Back up to the frequency radios: Shift+Tab works the other way round.
    _tab_to(page, "input[name=frequency]", backwards=True)
    _choose_radio(page, "frequency", "weekdays")
    _tab_to(page, page.get_by_role("button", name="Save preferences"))
    _press_to_load(page, "Enter")
    expect(
        page.get_by_role("status").filter(has_text="Your preferences are saved.")
    ).to_be_visible()
    kai.refresh_from_db()
    assert (kai.digest_size, kai.frequency) == (5, Subscriber.Frequency.WEEKDAYS)
    blocking = [v["id"] for v in axe_violations(page) if v["impact"] in BLOCKING]
    assert not blocking, blocking

    _tab_to(page, page.get_by_role("button", name="Pause my digests"))
    _press_to_load(page, "Space")
    assert Subscriber.objects.get(pk=kai.pk).status == Subscriber.Status.PAUSED
    _tab_to(page, page.get_by_role("button", name="Resume my digests"))
    _shot(page, f"keyboard-manage-{device}")
    _press_to_load(page, "Enter")
    assert Subscriber.objects.get(pk=kai.pk).status == Subscriber.Status.ACTIVE


@pytest.mark.browser
@pytest.mark.parametrize("device", list(WIDTHS))
def test_it_signs_up_and_manages_with_the_keyboard_alone(
    browser: Any, live_server: Any, outbox: Path, device: str
) -> None:
    context = _context(browser, live_server, device=device, scheme="light")
    page = context.new_page()
    try:
        _signs_up_by_keyboard(page, live_server.url, device)
        _confirms_by_keyboard(page, live_server.url)
        _manages_by_keyboard(page, device)
    finally:
        context.close()


def test_it_answers_an_unknown_address_with_the_sites_own_not_found_page(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    # The site's frame: the skip link, the navigation and a main landmark with its heading.
    assert 'href="#main">Skip to content</a>' in html
    assert '<nav class="site-nav" aria-label="Main">' in html
    assert '<main id="main"' in html
    assert '<h1 id="page-title">Page not found</h1>' in html
    assert f'href="{reverse("papers:search")}"' in html
