"""Every email checked against the caniemail.com data for the mail clients readers use, and weighed.

tests/email_clients/check.mjs runs the `caniemail` npm package (the caniemail.com data and a
checker of HTML and CSS against it, by its maintainers); `make test` installs it with
`npm ci --prefix tests/email_clients`. What the check found, feature by feature and client by
client, and the emails themselves, go to test-artifacts/emails/ for a look.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from digest.models import Issue, IssueKind
from digest.render import Pick, issue_frame_build
from subscriptions import services
from subscriptions.models import Subscriber
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers import ROOT, SHOTS, WIDTHS, issue_of_a_real_day

CHECKER = ROOT / "tests" / "email_clients"
ARTIFACTS = ROOT / "test-artifacts" / "emails"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Gmail clips a message whose HTML passes 102 KB behind "[Message clipped]", footer and all.
GMAIL_CLIP_BYTES = 102 * 1024
# Gmail drops a whole <style> block past 16 KB.
GMAIL_STYLE_BYTES = 16 * 1024

# Gmail (web, Android, iOS), Outlook (Windows, macOS, Outlook.com), Apple Mail, Yahoo.
CLIENTS = (
    "gmail.desktop-webmail",
    "gmail.android",
    "gmail.ios",
    "outlook.windows",
    "outlook.macos",
    "outlook.outlook-com",
    "apple-mail.macos",
    "apple-mail.ios",
    "yahoo.desktop-webmail",
    "yahoo.android",
    "yahoo.ios",
)
_NOT_APPLE_MAIL = tuple(client for client in CLIENTS if not client.startswith("apple-mail"))

# Features (caniemail's titles) whose absence in a client would break the layout, hide or garble
# content, or show what is meant hidden: none may be unsupported by a target client unless it is
# accepted below.
MATTERS = frozenset(
    {
        # Layout
        "display",
        "display:flex",
        "display:grid",
        "display:none",
        "flex-direction:column",
        "flex-wrap: wrap",
        "gap, column-gap, row-gap",
        "grid-template-* properties",
        "position",
        "float",
        "width property",
        "width attribute",
        "max-width",
        "padding",
        "margin",
        "border",
        "border-radius",
        "<table> element",
        "cellpadding attribute",
        "cellspacing attribute",
        "align attribute",
        "@media",
        "CSS calc() function",
        "CSS Variables (Custom Properties)",
        "clamp()",
        "rem unit",
        "vw unit",
        "vh unit",
        # Text and colour
        "<body> element",
        "<style> element",
        "Class selector",
        "Attribute selector",
        "!important keyword",
        "font-size",
        "font-weight",
        "line-height",
        "text-align",
        "text-decoration",
        "white-space",
        "background",
        "background-color",
        "background-image",
        "linear-gradient()",
        "system-ui, ui-serif, ui-sans-serif, ui-rounded, ui-monospace",
        "@font-face",
        "color-scheme CSS property",
        "color-scheme meta tag",
        "@media (prefers-color-scheme)",
        # What must stay hidden (the preheader)
        "max-height property",
        "opacity",
        "overflow",
        # Elements and images that need a fallback of their own
        "<h1> to <h6> elements",
        "<img> element",
        "Embedded <svg> image",
        "SVG image format",
        "webP image format",
        "AVIF image format",
        "<picture> element",
        "srcset and sizes attributes",
        '<button type="submit"> element',
        "<form> element",
        "<video> element",
    }
)

# Accepted: feature -> (the target clients that lack it, why that is fine). Each must still be
# reported (test_the_accepted_issues_are_all_still_real), so a fixed one leaves the list.
ACCEPTED: dict[str, tuple[tuple[str, ...], str]] = {
    "border-radius": (("outlook.windows",), "cosmetic: square corners on buttons and the card"),
    "system-ui, ui-serif, ui-sans-serif, ui-rounded, ui-monospace": (
        ("outlook.windows",),
        "fallback: an [if mso] style sets Segoe UI, Arial there",
    ),
    "@media": (
        ("outlook.windows",),
        "fallback: fluid tables in a 600px [if mso] table; no dark mode there",
    ),
    "Attribute selector": (
        ("outlook.windows",),
        "fallback: the [data-ogsc] rules are for Outlook.com's dark mode only",
    ),
    "color-scheme CSS property": (
        tuple(client for client in _NOT_APPLE_MAIL),
        "fallback: a hint only; without it a client shows the light design or darkens it itself",
    ),
    "color-scheme meta tag": (
        (*_NOT_APPLE_MAIL, "apple-mail.ios"),
        "fallback: a hint only; the prefers-color-scheme rules give the dark design",
    ),
    "max-height property": (("outlook.windows",), "fallback: mso-hide:all hides the preheader"),
    "opacity": (("outlook.windows",), "fallback: mso-hide:all hides the preheader"),
    "overflow": (("outlook.windows",), "fallback: mso-hide:all hides the preheader"),
    "white-space": (("outlook.windows",), "cosmetic: a link label may break across lines"),
    "<body> element": (
        ("outlook.macos", "yahoo.android", "yahoo.ios"),
        "fallback: the wrapper tables repeat the body's background, font and colour",
    ),
}

Report = dict[str, Any]


def _missing(reason: str) -> None:
    """Skip, or under CI=true fail: the check must run there."""
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def caniemail() -> Callable[[dict[str, str]], Report]:
    """Run tests/email_clients/check.mjs over emails (name -> HTML) for the target clients."""
    node = shutil.which("node")
    if node is None:
        _missing("needs Node.js 20+ (node) to run the caniemail check")
    if not (CHECKER / "node_modules" / "caniemail").is_dir():
        _missing(
            "needs the caniemail package: npm ci --prefix tests/email_clients (make test does)"
        )

    def check(emails: dict[str, str]) -> Report:
        ran = subprocess.run(
            [str(node), str(CHECKER / "check.mjs")],
            input=json.dumps({"clients": CLIENTS, "emails": emails}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)

    return check


def _sent_html(send: Callable[[], object]) -> str:
    """The HTML part of the one email that `send` sends."""
    mail.outbox.clear()
    send()
    (message,) = mail.outbox
    assert isinstance(message, mail.EmailMultiAlternatives)
    return str(message.alternatives[0][0])


def _subscription_emails() -> dict[str, str]:
    """Each email of the subscription's life, as its service sends it."""
    pending = SubscriberFactory.create(status=Subscriber.Status.PENDING, confirmed_at=None)
    reader = SubscriberFactory.create(
        interests="3D human pose estimation, efficient LLM inference",
        categories=["cs.CV", "cs.CL"],
        timezone="Europe/Paris",
        delivery_hour=9,
        pending_email="ada.new@example.org",
    )
    emails = {
        "confirm": _sent_html(
            lambda: services.subscriber_signup_email_send(subscriber_id=pending.pk)
        ),
        "manage_link": _sent_html(
            lambda: services.subscriber_signup_email_send(subscriber_id=reader.pk)
        ),
        "change_email": _sent_html(
            lambda: services.subscriber_email_change_send(subscriber_id=reader.pk)
        ),
        "welcome": _sent_html(lambda: services.subscriber_welcome_send(subscriber_id=reader.pk)),
    }
    return emails


def _digest_email(settings: Any) -> str:
    """A reader's digest of a real day: five papers, an editor's pick, a note, votes, footer."""
    settings.PAPERBOY_POSTAL_ADDRESS = "Paperboy, 12 Example Street, 75001 Paris, France"
    note = "Good morning! Two editors' picks on top today.\nReply to tell us what you think."
    issue, ranked = issue_of_a_real_day(status="sent", note=note)
    frame = issue_frame_build(issue=issue, papers={paper.arxiv_id: paper for paper in ranked})
    picks = [
        Pick(ranked[3].arxiv_id, "editor's pick", pinned=True),
        Pick(ranked[0].arxiv_id, "matches: 3D human pose estimation", "3D human pose estimation"),
        Pick(ranked[1].arxiv_id, "matches: efficient LLM inference", "efficient LLM inference"),
        Pick(ranked[2].arxiv_id, "because you liked ‘Sparse attention at scale’", example="x"),
        Pick(ranked[5].arxiv_id, "trending: 212 upvotes"),
    ]
    return _reader_copy(frame, picks)


def _reader_copy(frame: Any, picks: list[Pick]) -> str:
    """The reader's HTML with their links as long as the real signed ones."""
    token = "t" * 110
    return frame.assemble(
        picks=picks,
        fallback=False,
        has_interests=True,
        manage_url=f"https://paperboy.example/manage/{token}/",
        unsubscribe_url=f"https://paperboy.example/unsubscribe/{token}/",
        vote_urls={
            pick.arxiv_id: (
                f"https://paperboy.example/digest/vote/{token}{n}/more/",
                f"https://paperboy.example/digest/vote/{token}{n}/less/",
            )
            for n, pick in enumerate(picks)
        },
        signals_url=f"https://paperboy.example/digest/signals/{token}/",
        view_url=f"https://paperboy.example/digest/2025-11-20/r/{token}/",
    ).html


@pytest.fixture
def emails(settings: Any, db: None) -> dict[str, str]:
    """Every email a reader gets, rendered as sent; also written to test-artifacts/emails/."""
    rendered = {"digest": _digest_email(settings), **_subscription_emails()}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, body in rendered.items():
        (ARTIFACTS / f"{name}.html").write_text(body)
    return rendered


def _unsupported(report: Report) -> dict[tuple[str, str], set[str]]:
    """(feature, client) -> the emails where the client lacks the feature."""
    found: dict[tuple[str, str], set[str]] = {}
    for name, clients in report["emails"].items():
        for client, issues in clients.items():
            for issue in issues["unsupported"]:
                found.setdefault((issue["feature"], client), set()).add(name)
    return found


def _write_summary(report: Report) -> None:
    """Per email and client, what caniemail says is missing or partial, for people to read."""
    lines = [f"caniemail data of {report['data']}"]
    for name, clients in report["emails"].items():
        lines.append(f"\n{name}")
        for client, issues in clients.items():
            for level in ("unsupported", "partial"):
                features = sorted({issue["feature"] for issue in issues[level]})
                lines.append(f"  {client:<22} {level:<11} {', '.join(features) or '-'}")
    (ARTIFACTS / "caniemail.txt").write_text("\n".join(lines) + "\n")


def test_no_target_client_lacks_a_feature_that_matters(
    emails: dict[str, str], caniemail: Callable[[dict[str, str]], Report]
) -> None:
    report = caniemail(emails)
    _write_summary(report)

    assert set(report["emails"]) == set(emails)
    unaccepted = {
        f"{feature} in {client} ({', '.join(sorted(names))})"
        for (feature, client), names in _unsupported(report).items()
        if feature in MATTERS and client not in ACCEPTED.get(feature, ((), ""))[0]
    }
    assert not unaccepted, sorted(unaccepted)


def test_the_accepted_issues_are_all_still_real(
    emails: dict[str, str], caniemail: Callable[[dict[str, str]], Report]
) -> None:
    report = caniemail(emails)
    found = _unsupported(report)
    known = set(report["features"])

    # A misspelt title would match nothing and so accept or demand nothing.
    assert not MATTERS - known, sorted(MATTERS - known)
    assert set(ACCEPTED) <= MATTERS
    stale = [
        f"{feature} in {client}"
        for feature, (clients, _reason) in ACCEPTED.items()
        for client in clients
        if (feature, client) not in found
    ]
    assert not stale, f"no longer an issue, take it off ACCEPTED: {stale}"


def test_the_checker_catches_what_a_client_lacks(
    caniemail: Callable[[dict[str, str]], Report],
) -> None:
    flex = '<!doctype html><html><body><div style="display:flex">a</div></body></html>'

    report = caniemail({"flex": flex})

    outlook = report["emails"]["flex"]["outlook.windows"]["unsupported"]
    assert "display:flex" in {issue["feature"] for issue in outlook}
    assert ("display:flex", "outlook.windows") in _unsupported(report)


def _preheader(body: str) -> tuple[str, str]:
    """The style and the visible words of the first element in <body>."""
    found = re.search(r"<body[^>]*>\s*<div([^>]*)>(.*?)</div>", body, flags=re.DOTALL)
    assert found, "no <div> opens the <body>"
    style = re.search(r'style="([^"]*)"', found.group(1))
    words = html.unescape(found.group(2)).translate({0x34F: None, 0x200C: None, 0xA0: " "})
    return (style.group(1) if style else ""), " ".join(words.split())


def test_every_email_opens_with_a_preheader_hidden_in_every_client(
    emails: dict[str, str],
) -> None:
    for name, body in emails.items():
        style, words = _preheader(body)
        rules = {rule.replace(" ", "") for rule in style.split(";")}

        assert len(words) > 40, (name, words)
        assert "<" not in words, name
        # display:none for most clients, mso-hide for Outlook on Windows, the rest for the few
        # that ignore display:none on a <div>.
        for rule in ("display:none", "mso-hide:all", "max-height:0", "overflow:hidden"):
            assert rule in rules, (name, rule)


def test_outlook_on_windows_gets_fonts_it_has_and_padded_buttons(emails: dict[str, str]) -> None:
    for name, body in emails.items():
        # The fallback that ACCEPTED counts on for system-ui.
        mso = re.findall(r"<!--\[if mso\]>(.*?)<!\[endif\]-->", body, flags=re.DOTALL)
        assert any("font-family: 'Segoe UI', Arial" in block for block in mso), name
        # Outlook pads only table cells: a padded link sits in a cell with its colour and padding.
        for cell, link in re.findall(r"(<td[^>]*>)\s*(<a [^>]*padding[^>]*>)", body):
            assert "bgcolor=" in cell, (name, cell, link)
            assert "mso-padding-alt" in cell, (name, cell, link)
        padded_links = re.findall(r"<a [^>]*style=\"[^\"]*padding", body)
        assert len(padded_links) == len(re.findall(r"mso-padding-alt", body)), name


def test_every_style_block_fits_gmails_16_kb(emails: dict[str, str]) -> None:
    for name, body in emails.items():
        for css in re.findall(r"<style[^>]*>(.*?)</style>", body, flags=re.DOTALL):
            assert len(css.encode()) < GMAIL_STYLE_BYTES, name


def _longest_paper(n: int) -> Any:
    """A paper with every field as long as real ones get: title, authors, summary, five links."""
    return PaperFactory.build(
        arxiv_id=f"2511.{30000 + n}",
        title=(
            "Towards Unified Multimodal Reasoning: Scaling Sparse Mixture-of-Experts "
            "Vision-Language-Action Models with Long-Context Memory, Self-Verification and "
            f"Reinforcement Learning from Verifiable Rewards for Embodied Agents, part {n}"
        ),
        ai_summary="We propose a unified multimodal reasoning framework. " * 10,
        authors=[f"Maximilian Alexander von Wittelsbach-Hohenzollern {i}" for i in range(40)],
        upvotes=1200 + n,
        num_comments=87,
        github_repo=f"https://github.com/some-research-organisation/unified-multimodal-{n}",
        project_page=f"https://some-research-organisation.github.io/projects/unified-mm-{n}/",
    )


def _largest_digest(settings: Any) -> str:
    """The largest digest a reader can get: 20 papers, each and the note as long as they get."""
    settings.PAPERBOY_POSTAL_ADDRESS = "Paperboy Ltd\n12 Example Street\n75001 Paris\nFrance"
    papers = {paper.arxiv_id: paper for paper in (_longest_paper(n) for n in range(20))}
    start = dt.datetime(2025, 11, 24, tzinfo=dt.UTC)
    issue = Issue(
        date=dt.date(2025, 11, 25),
        kind=IssueKind.WEEKLY,
        note=("A long note from the editors, as long as the admin lets it be. " * 16)[:1000],
        window_start=start,
        window_end=start + dt.timedelta(days=7),
        candidate_ids=list(papers),
        new_papers=len(papers),
    )
    frame = issue_frame_build(issue=issue, papers=papers)
    liked = "Scaling Sparse Mixture-of-Experts Vision-Language-Action…"
    picks = [Pick(arxiv_id, f"because you liked ‘{liked}’", example=liked) for arxiv_id in papers]
    return _reader_copy(frame, picks)


def test_every_email_stays_under_gmails_102_kb_clipping_even_the_largest_digest(
    emails: dict[str, str], settings: Any
) -> None:
    largest = _largest_digest(settings)
    sizes = {name: len(body.encode()) for name, body in {**emails, "largest": largest}.items()}
    (ARTIFACTS / "largest_digest.html").write_text(largest)
    (ARTIFACTS / "sizes.json").write_text(json.dumps(sizes, indent=2))

    assert largest.count('class="pb-title"') == 20
    assert max(sizes.values()) < GMAIL_CLIP_BYTES, sizes


@pytest.mark.browser
@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_sign_up_emails_buttons_are_whole_buttons_on_desktop_and_phone(
    browser: Any, emails: dict[str, str], device: str
) -> None:
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height})
    # No network in tests.
    context.route(re.compile(r"^https?://"), lambda route: route.abort())
    page = context.new_page()
    try:
        for name, label in [
            ("confirm", "Confirm my subscription"),
            ("welcome", "Change my preferences"),
        ]:
            page.set_content(emails[name])
            button = page.get_by_role("link", name=label)
            box = button.bounding_box()

            expect(button).to_be_visible()
            # The link carries the padding: the whole coloured box is the link.
            assert box is not None
            assert box["height"] >= 38, box
            assert page.locator("body > div").first.is_hidden()  # the preheader
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"email-{name}-{device}.png"), full_page=True)
    finally:
        context.close()
