"""The public digest pages (the archive, each issue's "view in browser" page) and the vote links.

Nothing here ranks for a reader, so nothing here imports digest.ranking or digest.embeddings:
the web process never loads the sentence-transformers model.
"""

from __future__ import annotations

import datetime as dt

from csp.constants import NONCE
from csp.decorators import csp_update
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_http_methods, require_safe

from digest.models import IssueKind
from digest.render import issue_frame_build
from digest.selectors import (
    VoteTarget,
    issue_find_published,
    issue_list_published,
    issue_public_picks,
    vote_target_find,
)
from digest.votes import VOTE_DIRECTIONS, VoteTokenError, vote_record, vote_undo
from subscriptions.tokens import Purpose, token_make

ARCHIVE_PAGE_SIZE = 30
PUBLIC_PAPERS = 10
# Short enough that an editor's hide shows up quickly, long enough to absorb a burst.
_publicly_cached = cache_control(public=True, max_age=60)


@require_safe
@_publicly_cached
def archive(request: HttpRequest) -> HttpResponse:
    """Every published issue, newest first."""
    issues = issue_list_published()
    page = Paginator(issues, ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "digest/archive.html", {"page": page})


def _with_style_nonce(html: str, request: HttpRequest) -> str:
    """The email's own <style> blocks (dark mode, phones), let through the site's CSP by nonce."""
    lazy_nonce = getattr(request, "csp_nonce", None)  # set by django-csp's middleware
    if lazy_nonce is None:
        return html
    # str() makes the nonce (its truth value only says whether it was made yet); "<style " only
    # ever comes from our template, since scraped text in the email is escaped.
    return html.replace("<style ", f'<style nonce="{lazy_nonce!s}" ')


@require_safe
@_publicly_cached
# django-csp types its decorators for views that take only the request; the wrapper passes every
# argument on, so this view's `day` arrives.
@csp_update({"style-src": [NONCE]})  # type: ignore[arg-type]
def issue(request: HttpRequest, day: dt.date) -> HttpResponse:
    """The day's issue as the email, without anything personal ("view in browser")."""
    kind = request.GET.get("kind", IssueKind.DAILY)
    if kind not in IssueKind.values:
        raise Http404("No such kind of issue.")
    found = issue_find_published(date=day, kind=kind)
    if found is None:
        raise Http404("No such issue.")
    picks, papers = issue_public_picks(issue=found, limit=PUBLIC_PAPERS)
    email = issue_frame_build(issue=found, papers=papers).assemble_public(picks=picks)
    return HttpResponse(
        _with_style_nonce(email.html, request), content_type="text/html; charset=utf-8"
    )


# --- Votes from the email -------------------------------------------------------------------------


def _vote_page(
    request: HttpRequest, target: VoteTarget, *, direction: str, state: str, status: int = 200
) -> HttpResponse:
    """The vote page in one of its states: "ask" (the GET), "counted", "burst" or "undone"."""
    subscriber = target.delivery.subscriber
    manage_token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )
    context = {
        "title": target.title,
        "direction": direction,
        "state": state,
        "manage_path": reverse("subscriptions:manage", kwargs={"token": manage_token}),
    }
    response = render(request, "digest/vote.html", context, status=status)
    # The page is the reader's own: never indexed.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def vote(request: HttpRequest, token: str, direction: str) -> HttpResponse:
    """GET: a page whose script (or button) posts the vote. POST: record it, or undo it."""
    try:
        if direction not in VOTE_DIRECTIONS:
            raise VoteTokenError("This link is not valid.", status=404)
        target = vote_target_find(token=token)
    except VoteTokenError as error:
        context = {"reason": str(error), "expired": error.expired}
        response = render(request, "digest/vote_invalid.html", context, status=error.status)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
    # Mail scanners follow every link: a GET only shows the page, never stores anything.
    if request.method != "POST":
        return _vote_page(request, target, direction=direction, state="ask")
    subscriber_id = target.delivery.subscriber_id
    if request.POST.get("action") == "undo":
        vote_undo(subscriber_id=subscriber_id, arxiv_id=target.arxiv_id, direction=direction)
        return _vote_page(request, target, direction=direction, state="undone")
    counted = vote_record(delivery=target.delivery, arxiv_id=target.arxiv_id, direction=direction)
    if not counted:
        return _vote_page(request, target, direction=direction, state="burst", status=429)
    return _vote_page(request, target, direction=direction, state="counted")
