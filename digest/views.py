"""The public digest pages (the archive, each issue's public web page), the reader's own "view in
browser" copy of their digest, the vote links, the reader's "Your signals" page (their votes,
seeds, and a reset) and their "Your papers" page (every paper they were sent).

Nothing here ranks for a reader, so nothing here imports digest.ranking or digest.embeddings:
the web process never loads the sentence-transformers model.
"""

from __future__ import annotations

import datetime as dt

from csp.constants import NONCE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from digest.copies import CopyTokenError, ReaderCopy, copy_token_make, reader_copy_find
from digest.history import HISTORY_QUERY_MAX_CHARS, HistoryIssue, reader_history
from digest.models import IssueKind, VoteDirection
from digest.render import EmailParts, issue_frame_build
from digest.selectors import (
    SignalVote,
    VoteTarget,
    issue_find_published,
    issue_list_published,
    issue_public_picks,
    reader_signals,
    vote_target_find,
)
from digest.services import reader_personalization_reset, reader_vote_undo
from digest.tasks import profile_refresh_later
from digest.votes import (
    VOTE_DIRECTIONS,
    VOTE_LESS,
    VOTE_MORE,
    VoteTokenError,
    vote_record,
    vote_tokens_make,
    vote_undo,
)
from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, token_make
from subscriptions.views import by_token

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


# --- The reader's own copy ("view in browser" in their email) -------------------------------------


def _private(response: HttpResponse) -> HttpResponse:
    # The reader's own page, reached by a token: never indexed (never_cache keeps it out of caches).
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _vote_path(token: str, direction: str) -> str:
    return reverse("digest:vote", kwargs={"token": token, "direction": direction})


def _copy_vote_urls(found: ReaderCopy) -> dict[str, tuple[str, str]] | None:
    """Each paper's "More like this" and "Less like this" links, signed for this delivery."""
    if not settings.PAPERBOY_VOTE_LINKS:
        return None
    arxiv_ids = list(found.papers)
    tokens = vote_tokens_make(
        delivery_id=found.delivery.pk,
        arxiv_ids=arxiv_ids,
        address=found.delivery.subscriber.email,
    )
    return {
        arxiv_id: (_vote_path(token, VOTE_MORE), _vote_path(token, VOTE_LESS))
        for arxiv_id, token in zip(arxiv_ids, tokens, strict=True)
    }


def _reader_copy_assemble(found: ReaderCopy) -> EmailParts:
    """The reader's email as it was sent (their papers, in order), with their links and votes."""
    delivery, subscriber = found.delivery, found.delivery.subscriber

    def token(purpose: Purpose) -> str:
        return token_make(subscriber_id=subscriber.pk, address=subscriber.email, purpose=purpose)

    manage = token(Purpose.MANAGE)
    day = delivery.issue.date
    kind = "weekly digest" if delivery.issue.kind == IssueKind.WEEKLY else "digest"
    return issue_frame_build(issue=delivery.issue, papers=found.papers).assemble(
        picks=found.picks,
        fallback=False,
        has_interests=bool(subscriber.interests.strip()),
        manage_url=reverse("subscriptions:manage", kwargs={"token": manage}),
        unsubscribe_url=reverse(
            "subscriptions:unsubscribe", kwargs={"token": token(Purpose.UNSUBSCRIBE)}
        ),
        vote_urls=_copy_vote_urls(found),
        signals_url=reverse("digest:signals", kwargs={"token": manage}),
        history_url=reverse("digest:history", kwargs={"token": manage}),
        view_url="",  # this page is the browser's copy
        intro=f"Your {kind} of {day.day} {day:%B %Y}, as it was sent to you.",
    )


@never_cache
@require_safe
@csp_update({"style-src": [NONCE]})  # type: ignore[arg-type]  # see `issue` above
def reader_copy(request: HttpRequest, token: str) -> HttpResponse:
    """One reader's digest of one issue as a web page: their papers in order, their vote links."""
    try:
        found = reader_copy_find(token=token)
    except CopyTokenError as error:
        context = {"reason": str(error), "expired": error.expired}
        return _private(render(request, "digest/copy_invalid.html", context, status=error.status))
    # Showing only: nothing here writes, and the page runs no script (a vote is the vote page's).
    email = _reader_copy_assemble(found)
    return _private(
        HttpResponse(
            _with_style_nonce(email.html, request), content_type="text/html; charset=utf-8"
        )
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
        "signals_path": reverse("digest:signals", kwargs={"token": manage_token}),
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
        if vote_undo(subscriber_id=subscriber_id, arxiv_id=target.arxiv_id, direction=direction):
            profile_refresh_later(subscriber_id=subscriber_id)
        return _vote_page(request, target, direction=direction, state="undone")
    counted = vote_record(delivery=target.delivery, arxiv_id=target.arxiv_id, direction=direction)
    # Whatever stands after this request (a burst deletes its votes), the profile is refit from it.
    profile_refresh_later(subscriber_id=target.delivery.subscriber_id)
    if not counted:
        return _vote_page(request, target, direction=direction, state="burst", status=429)
    return _vote_page(request, target, direction=direction, state="counted")


# --- The reader's signals: what they taught their digest, with undo and reset ---------------------
# Reached with the reader's manage link's token, from every digest, the manage page and the vote
# page. by_token answers a bad, expired or stale link with a page saying so, and keeps each of
# these pages out of caches and search engines.

# The largest id a vote row can have (a bigint primary key): anything past it names no vote.
_VOTE_ID_MAX = 2**63 - 1


def _paper_path(vote: SignalVote) -> str:
    """The voted paper's page on the site, or "" when it is not stored (or its id has no page)."""
    if not vote.stored:
        return ""
    try:
        return reverse("papers:detail", kwargs={"arxiv_id": vote.arxiv_id})
    except NoReverseMatch:
        return ""


def _signals_page(
    request: HttpRequest,
    subscriber: Subscriber,
    *,
    token: str,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    found = reader_signals(subscriber=subscriber)
    context = {
        "subscriber": subscriber,
        "signals": found,
        "votes": [(vote, _paper_path(vote)) for vote in found.votes],
        "manage_path": reverse("subscriptions:manage", kwargs={"token": token}),
        "token": token,
        "error": error,
        "MORE": VoteDirection.MORE,
    }
    return render(request, "digest/signals.html", context, status=status)


@require_safe
@by_token(Purpose.MANAGE)
def signals(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """The reader's interests, seeds and votes, each vote with an undo, and a reset."""
    return _signals_page(request, subscriber, token=token)


def _vote_id(raw: str) -> int | None:
    """The vote id a form posted, or None if it is not one."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(_VOTE_ID_MAX)):
        return None
    value = int(raw)
    return value if 0 < value <= _VOTE_ID_MAX else None


@require_POST
@by_token(Purpose.MANAGE)
def signals_undo(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Undo one of the reader's votes (by its id, among their own only), then back to the page."""
    vote_id = _vote_id(request.POST.get("vote", ""))
    if vote_id is None:
        error = "That form did not name a vote. Nothing was changed."
        return _signals_page(request, subscriber, token=token, error=error, status=400)
    if not reader_vote_undo(subscriber=subscriber, vote_id=vote_id):
        error = "That vote is already gone (undone or reset). Nothing was changed."
        return _signals_page(request, subscriber, token=token, error=error, status=404)
    profile_refresh_later(subscriber_id=subscriber.pk)
    messages.success(request, "Vote undone: it no longer shapes your digest.")
    return _see_signals(token)


@require_http_methods(["GET", "HEAD", "POST"])
@by_token(Purpose.MANAGE)
def signals_reset(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """GET: say what a reset deletes and ask to be sure. POST: reset the personalization."""
    signals_path = reverse("digest:signals", kwargs={"token": token})
    if request.method != "POST":
        context = {
            "subscriber": subscriber,
            "signals": reader_signals(subscriber=subscriber),
            "signals_path": signals_path,
        }
        return render(request, "digest/signals_reset.html", context)
    reader_personalization_reset(subscriber=subscriber)
    profile_refresh_later(subscriber_id=subscriber.pk)
    messages.success(
        request,
        "Your personalization is reset: your votes, clicks and example papers are deleted. "
        "Your interests stay.",
    )
    return _see_signals(token)


def _see_signals(token: str) -> HttpResponse:
    # 303 See Other: reloading the page after it never posts the form again.
    response = redirect("digest:signals", token=token)
    response.status_code = 303
    return response


# --- The reader's papers: every paper their digests sent them, by issue, with a search ------------
# Reached with the manage link's token too (by_token: a bad, expired or stale link gets a page that
# says so, never cached or indexed).


def _detail_path(arxiv_id: str) -> str:
    """The paper's page on the site, or "" when its id has none."""
    try:
        return reverse("papers:detail", kwargs={"arxiv_id": arxiv_id})
    except NoReverseMatch:
        return ""


def _history_issue_links(issue: HistoryIssue, subscriber: Subscriber) -> dict[str, object]:
    """An issue of the page with its public page, the reader's own copy and its papers' pages."""
    public = reverse("digest:issue", kwargs={"day": issue.date})
    if issue.kind != IssueKind.DAILY:
        public += f"?kind={issue.kind}"
    copy = copy_token_make(delivery_id=issue.delivery_id, address=subscriber.email)
    return {
        "issue": issue,
        "issue_path": public,
        "copy_path": reverse("digest:copy", kwargs={"token": copy}),
        "papers": [
            (paper, _detail_path(paper.arxiv_id) if paper.listed else "") for paper in issue.papers
        ],
    }


@require_safe
@by_token(Purpose.MANAGE)
def history(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Every paper the reader was sent, by issue, newest first, with a search over them."""
    # A team channel is managed by the editors, never through a reader's link.
    if subscriber.via == Subscriber.Via.CHANNEL:
        raise Http404("No such reader.")
    found = reader_history(
        subscriber=subscriber, query=request.GET.get("q", ""), page=request.GET.get("page")
    )
    context = {
        "subscriber": subscriber,
        "history": found,
        "page": found.page,
        "issues": [_history_issue_links(issue, subscriber) for issue in found.page.object_list],
        "query": found.query,
        "max_chars": HISTORY_QUERY_MAX_CHARS,
        "manage_path": reverse("subscriptions:manage", kwargs={"token": token}),
        "signals_path": reverse("digest:signals", kwargs={"token": token}),
        "MORE": VoteDirection.MORE,
    }
    return render(request, "digest/history.html", context)
