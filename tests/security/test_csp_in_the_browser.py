"""Content Security Policy in headless Chromium: pages work under it, and it blocks what it must.

Chromium reports each blocked script, style sheet or image as a `securitypolicyviolation` event; an
init script (run by the browser itself, outside the page's policy) collects them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from subscriptions.tokens import Purpose, token_make
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(
    `${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`
  );
});
"""
BROWSER_ZONE = "Asia/Tokyo"
PASSWORD = "a long passphrase 42"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(timezone_id=BROWSER_ZONE, viewport={"width": 1280, "height": 900})
    context.add_init_script(COLLECT_VIOLATIONS)
    opened = context.new_page()
    yield opened
    context.close()


def _violations_on_visit(page: Any, url: str) -> list[str]:
    """Open a page, wait until it settles, and return the policy violations it raised."""
    response = page.goto(url, wait_until="networkidle")
    assert response is not None, url
    assert response.status < 400, (url, response.status)
    assert response.headers.get("content-security-policy"), url
    return page.evaluate("window.__violations")


def _computed_style(page: Any, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"(el) => getComputedStyle(el).{prop}")


def test_the_public_pages_work_under_the_policy_without_a_violation(
    page: Any, live_server: Any
) -> None:
    paper = PaperFactory.create(arxiv_id="2511.00042")
    subscriber = SubscriberFactory.create()
    manage = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )
    unsubscribe = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.UNSUBSCRIBE
    )
    urls = [
        "/",
        f"/papers/{paper.arxiv_id}/",
        "/search/?q=attention",
        "/papers/week/2025-W47/",
        "/subscribe/",
        f"/manage/{manage}/",
        f"/unsubscribe/{unsubscribe}/",
    ]

    for url in urls:
        assert _violations_on_visit(page, live_server.url + url) == [], url

    # The site's own style sheets and script did load and run under the policy.
    page.goto(live_server.url + "/subscribe/", wait_until="networkidle")
    assert _computed_style(page, "form.form", "display") == "grid"  # static/css/subscriptions.css
    assert _computed_style(page, ".site-header", "position") != ""  # static/css/site.css
    assert (
        page.eval_on_selector("select[name=timezone]", "(el) => el.value") == BROWSER_ZONE
    )  # js/subscribe.js
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "security-subscribe-under-csp.png"), full_page=True)


def test_the_admin_works_under_the_policy_without_a_violation(page: Any, live_server: Any) -> None:
    get_user_model().objects.create_superuser("editor", "editor@example.org", PASSWORD)
    subscriber = SubscriberFactory.create()
    PaperFactory.create(arxiv_id="2511.00042")

    assert _violations_on_visit(page, live_server.url + "/admin/login/") == []
    page.fill("input[name=username]", "editor")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(live_server.url + "/admin/")

    for url in (
        "/admin/",
        "/admin/subscriptions/subscriber/",
        f"/admin/subscriptions/subscriber/{subscriber.pk}/change/",
        "/admin/papers/paper/",
        "/admin/papers/paper/add/",
    ):
        assert _violations_on_visit(page, live_server.url + url) == [], url
    # The admin's scripts ran: the "select all" checkbox of the change list is wired up.
    page.goto(live_server.url + "/admin/subscriptions/subscriber/", wait_until="networkidle")
    page.check("#action-toggle")
    assert page.is_checked("input.action-select")


def test_the_policy_blocks_an_injected_inline_script_and_a_foreign_script(
    page: Any, live_server: Any
) -> None:
    """The negative control: what an XSS would try to run does not run."""
    page.goto(live_server.url + "/", wait_until="networkidle")

    page.evaluate(
        """() => {
          const inline = document.createElement("script");
          inline.textContent = "window.__inline_ran = true";
          document.body.appendChild(inline);
          const foreign = document.createElement("script");
          foreign.src = "https://evil.example/x.js";
          document.body.appendChild(foreign);
          const style = document.createElement("style");
          style.textContent = "body { display: none }";
          document.head.appendChild(style);
        }"""
    )
    page.wait_for_timeout(200)

    assert page.evaluate("window.__inline_ran") is None
    assert page.is_visible("main")  # the injected <style> was not applied either
    violations = page.evaluate("window.__violations")
    assert any(v.startswith("script-src-elem inline") for v in violations), violations
    assert any(v.startswith("script-src-elem https://evil.example/x.js") for v in violations), (
        violations
    )
    assert any(v.startswith("style-src-elem inline") for v in violations), violations
